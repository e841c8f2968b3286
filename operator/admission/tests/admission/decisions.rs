//! The decision table: one test per rule and reason, in enforce and warn.

use attestor_admission::{
    BREAK_GLASS_ANNOTATION, Config, Decision, Digest, ImageOutcome, Index, IssuerFacts, Mode,
    NamespaceFacts, Reason, VerificationFacts, Verified, review_response,
};

use crate::fixtures::*;

fn decide_in(index: &Index, builder: ReviewBuilder) -> Decision {
    decide_with(&builder, index, &config())
}

fn assert_denied(decision: &Decision, reason: Reason, needle: &str) {
    assert!(!decision.allowed, "{decision:#?}");
    assert_eq!(decision.reason, reason, "{decision:#?}");
    assert_eq!(decision.status_code(), Some(403));
    assert!(
        message(decision).contains(needle),
        "message {:?} lacks {needle:?}",
        message(decision)
    );
}

fn assert_warned(decision: &Decision, reason: Reason, needle: &str) {
    assert!(decision.allowed, "{decision:#?}");
    assert_eq!(decision.reason, reason);
    assert_eq!(decision.mode, Some(Mode::Warn));
    assert!(decision.message.is_none());
    assert!(
        decision.warnings.iter().any(|w| w.contains(needle)),
        "warnings {:?} lack {needle:?}",
        decision.warnings
    );
    assert!(decision.warnings.iter().all(|w| w.len() <= 256));
}

#[test]
fn every_image_with_a_usable_proof_is_allowed() {
    let decision = decide_in(
        &cluster(),
        review("Deployment")
            .container("cart", &pinned("cart", 1))
            .container("db", &pinned("db", 2))
            .init_container("proxy", &pinned("proxy", 3)),
    );
    assert!(decision.allowed);
    assert_eq!(decision.reason, Reason::Allowed);
    assert_eq!(decision.mode, Some(Mode::Enforce));
    assert!(decision.warnings.is_empty() && decision.message.is_none());
    assert!(decision.is_final());
    assert_eq!(decision.images.len(), 3);
    assert!(decision.images.iter().all(|v| v.outcome.is_verified()));
}

#[test]
fn a_namespace_without_the_label_is_not_gated() {
    for namespace in ["plain", "never-seen-but-exempt-elsewhere"] {
        let mut index = cluster();
        index.apply_namespace(NamespaceFacts::new(namespace, None));
        let decision = decide_in(
            &index,
            review("Pod")
                .namespace(namespace)
                .container("cart", "nginx:latest"),
        );
        assert!(decision.allowed);
        assert_eq!(decision.reason, Reason::NotGated);
        assert!(decision.warnings.is_empty() && decision.images.is_empty());
    }
}

#[test]
fn an_invalid_label_value_is_not_gated_but_warned() {
    let mut index = cluster();
    index.apply_namespace(NamespaceFacts::new("typo", Some("Enforce")));
    let decision = decide_in(
        &index,
        review("Pod").namespace("typo").container("cart", "nginx"),
    );
    assert!(decision.allowed);
    assert_eq!(decision.reason, Reason::EnforcementLabelInvalid);
    assert_eq!(
        decision.warnings,
        [
            "attestor: namespace typo has attestor.stellaops.io/enforcement=\"Enforce\", which is neither enforce nor warn: images are not checked"
        ]
    );
}

#[test]
fn exempt_namespaces_are_never_checked_even_when_labelled() {
    let mut index = cluster();
    let config = config().exempt_namespace("monitoring");
    for namespace in [
        "kube-system",
        "kube-public",
        "kube-node-lease",
        OPERATOR_NAMESPACE,
        "monitoring",
    ] {
        index.apply_namespace(NamespaceFacts::new(namespace, Some("enforce")));
        let builder = review("DaemonSet")
            .namespace(namespace)
            .container("x", "nginx");
        let decision = decide_with(&builder, &index, &config);
        assert!(decision.allowed, "{namespace}");
        assert_eq!(decision.reason, Reason::Exempt, "{namespace}");
    }
}

#[test]
fn an_image_not_pinned_by_digest_is_denied_with_the_advice() {
    let decision = decide_in(
        &cluster(),
        review("Deployment").container("cart", "registry.example/shop/cart:1.4.2"),
    );
    assert_denied(
        &decision,
        Reason::NotPinned,
        "container \"cart\" (registry.example/shop/cart:1.4.2): not pinned by digest: use registry.example/shop/cart@sha256:…",
    );
    assert!(decision.is_final());
}

#[test]
fn a_malformed_digest_is_not_a_pin() {
    let upper = format!("{REGISTRY}/cart@sha256:{}", "A".repeat(64));
    let decision = decide_in(&cluster(), review("Pod").container("cart", &upper));
    assert_denied(
        &decision,
        Reason::NotPinned,
        "is not sha256: and 64 lowercase",
    );
    let sha512 = format!("{REGISTRY}/cart@sha512:{}", "a".repeat(128));
    let decision = decide_in(&cluster(), review("Pod").container("cart", &sha512));
    assert_denied(&decision, Reason::NotPinned, "only sha256 is supported");
}

#[test]
fn not_pinned_in_warn_mode_is_allowed_with_a_warning() {
    let decision = decide_in(
        &cluster(),
        review("Deployment")
            .namespace("shop-dev")
            .container("cart", "registry.example/shop/cart:1.4.2"),
    );
    assert_warned(
        &decision,
        Reason::NotPinned,
        "attestor (warn): container \"cart\" (registry.example/shop/cart:1.4.2): not pinned by digest: use registry.example/shop/cart@sha256:…",
    );
    assert!(decision.is_final());
}

#[test]
fn a_digest_without_a_proof_is_denied_naming_where_it_was_looked_for() {
    let decision = decide_in(
        &cluster(),
        review("Pod").container("cart", &pinned("cart", 9)),
    );
    assert_denied(
        &decision,
        Reason::ProofMissing,
        &format!(
            "no ProofVerification for {} in namespace(s) shop: create one",
            digest(9)
        ),
    );
    let warned = decide_in(
        &cluster(),
        review("Pod")
            .namespace("shop-dev")
            .container("cart", &pinned("cart", 9)),
    );
    assert_warned(
        &warned,
        Reason::ProofMissing,
        "in namespace(s) shop-dev: create one",
    );
}

#[test]
fn a_failed_proof_quotes_its_reason_and_the_describe_command() {
    let mut index = cluster();
    let mut failed = verification("shop", "cart", 1);
    failed.verified = Verified::False;
    failed.reason = "SignatureInvalid".into();
    failed.message = "the DSSE signature does not verify\nwith any key".into();
    index.apply_verification(failed);
    let decision = decide_in(
        &index,
        review("Deployment").container("cart", &pinned("cart", 1)),
    );
    assert_denied(
        &decision,
        Reason::ProofFailed,
        "ProofVerification shop/cart failed: SignatureInvalid: the DSSE signature does not verify with any key; see kubectl describe proofverification -n shop cart",
    );
    // A line break in the proof's message must not start a line of its own.
    assert_eq!(message(&decision).lines().count(), 2);
}

#[test]
fn a_proof_whose_issuer_is_gone_is_denied() {
    let mut index = cluster();
    index.delete_issuer("ci");
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_denied(
        &decision,
        Reason::IssuerNotFound,
        "issuer ci of ProofVerification shop/cart does not exist",
    );
}

#[test]
fn a_proof_whose_issuer_is_no_longer_trusted_is_denied() {
    let mut index = cluster();
    index.apply_issuer(IssuerFacts {
        trusted: false,
        reason: "ApprovalMissing".into(),
        ..issuer("ci", &["registry.example/shop/*"])
    });
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_denied(
        &decision,
        Reason::IssuerNotTrusted,
        "issuer ci is not trusted (ApprovalMissing); see kubectl describe proofverification -n shop cart",
    );
    let warned = decide_in(
        &index,
        review("Pod")
            .namespace("shop-dev")
            .container("cart", &pinned("cart", 1)),
    );
    assert_warned(
        &warned,
        Reason::IssuerNotTrusted,
        "issuer ci is not trusted (ApprovalMissing)",
    );
}

#[test]
fn an_image_outside_the_issuers_scope_is_denied() {
    // Same digest, pulled under another name: the content is the same, but the issuer never
    // vouched for this name.
    let image = format!("evil.example/shop/cart@{}", digest(1));
    let decision = decide_in(&cluster(), review("Pod").container("cart", &image));
    assert_denied(
        &decision,
        Reason::OutOfScope,
        "issuer ci's scope (registry.example/shop/*) does not cover image evil.example/shop/cart",
    );
}

#[test]
fn an_expired_proof_is_denied_with_the_time_in_rfc3339() {
    let mut index = cluster();
    index.apply_verification(VerificationFactsExt::expiring(NOW - 60));
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_denied(
        &decision,
        Reason::ProofExpired,
        "proof expired at 2026-09-21T14:12:20Z: re-verify or re-sign; see kubectl describe proofverification -n shop cart",
    );
    // Exactly at valid_until the proof is expired already.
    index.apply_verification(VerificationFactsExt::expiring(NOW));
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_eq!(decision.reason, Reason::ProofExpired);
    // No valid_until: nothing bounds the proof.
    let mut unbounded = verification("shop", "cart", 1);
    unbounded.valid_until = None;
    index.apply_verification(unbounded);
    assert!(decide_in(&index, review("Pod").container("cart", &pinned("cart", 1))).allowed);
}

struct VerificationFactsExt;
impl VerificationFactsExt {
    fn expiring(valid_until: i64) -> attestor_admission::VerificationFacts {
        let mut facts = verification("shop", "cart", 1);
        facts.valid_until = Some(valid_until);
        facts
    }
}

#[test]
fn a_proof_still_being_verified_is_pending_and_says_what_to_wait_for() {
    let mut index = cluster();
    let mut pending = verification("shop", "new", 7);
    pending.verified = Verified::Unknown;
    index.apply_verification(pending);
    let request = review("Deployment")
        .container("cart", &pinned("cart", 1))
        .container("new", &pinned("new", 7));
    let decision = decide_with(&request, &index, &config());
    assert_denied(
        &decision,
        Reason::Pending,
        &format!(
            "ProofVerification shop/new for {} is still being verified: retry shortly",
            digest(7)
        ),
    );
    assert!(!decision.is_final());
    assert_eq!(
        decision.pending_digests(),
        [Digest::parse(&digest(7)).unwrap()]
    );
    let waiting = decision.waiting_on.as_ref().unwrap();
    assert!(waiting.namespace.is_none());
    // Only the pending image is reported as pending.
    let pending_images: Vec<_> = decision
        .images
        .iter()
        .filter(|v| v.outcome.reason() == Reason::Pending)
        .map(|v| v.container.name.as_str())
        .collect();
    assert_eq!(pending_images, ["new"]);

    // The verification concludes; deciding again admits.
    let before = index.revision();
    index.apply_verification(verification("shop", "new", 7));
    assert!(index.revision() > before);
    let decision = decide_with(&request, &index, &config());
    assert!(decision.allowed && decision.is_final());
}

#[test]
fn a_status_older_than_the_spec_is_pending() {
    let mut index = cluster();
    let mut stale = verification("shop", "cart", 1);
    stale.status_is_current = false;
    index.apply_verification(stale);
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_denied(
        &decision,
        Reason::Pending,
        "(its status predates its latest spec)",
    );
    assert_eq!(decision.pending_digests().len(), 1);
}

#[test]
fn pending_next_to_another_failure_does_not_wait() {
    let mut index = cluster();
    let mut pending = verification("shop", "new", 7);
    pending.verified = Verified::Unknown;
    index.apply_verification(pending);
    let decision = decide_in(
        &index,
        review("Deployment")
            .container("new", &pinned("new", 7))
            .container("cart", "registry.example/shop/cart:1"),
    );
    assert_denied(&decision, Reason::NotPinned, "still being verified");
    assert!(decision.is_final(), "waiting cannot fix the unpinned image");
}

#[test]
fn pending_in_warn_mode_is_allowed_without_waiting() {
    let mut index = cluster();
    let mut pending = verification("shop-dev", "new", 7);
    pending.verified = Verified::Unknown;
    index.apply_verification(pending);
    let decision = decide_in(
        &index,
        review("Pod")
            .namespace("shop-dev")
            .container("new", &pinned("new", 7)),
    );
    assert_warned(&decision, Reason::Pending, "is still being verified");
    assert!(decision.is_final());
}

#[test]
fn one_usable_proof_among_several_suffices() {
    let mut index = cluster();
    let mut failed = verification("shop", "cart-old", 1);
    failed.verified = Verified::False;
    failed.reason = "SignatureInvalid".into();
    index.apply_verification(failed);
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert!(decision.allowed);
    assert!(matches!(
        &decision.images[0].outcome,
        ImageOutcome::Verified { proof } if proof.name == "cart"
    ));
}

#[test]
fn without_a_usable_proof_the_most_informative_failure_is_reported() {
    let mut index = cluster();
    // "a-failed" sorts first, but "b-expired" got further: only its expiry stands between the
    // image and admission.
    let mut failed = verification("shop", "a-failed", 1);
    failed.verified = Verified::False;
    failed.reason = "SignatureInvalid".into();
    index.apply_verification(failed);
    let mut expired = verification("shop", "b-expired", 1);
    expired.valid_until = Some(NOW - 1);
    index.apply_verification(expired);
    index.delete_verification("shop", "cart");
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_denied(
        &decision,
        Reason::ProofExpired,
        "kubectl describe proofverification -n shop b-expired",
    );
    assert!(!message(&decision).contains("a-failed"));

    // A pending proof beats them all: it may still turn usable.
    let mut pending = verification("shop", "c-pending", 1);
    pending.verified = Verified::Unknown;
    index.apply_verification(pending);
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 1)));
    assert_eq!(decision.reason, Reason::Pending);
    assert!(!decision.is_final());
}

#[test]
fn proofs_count_in_the_own_namespace_and_shared_ones_only() {
    let mut index = cluster();
    index.apply_namespace(NamespaceFacts::new("team", Some("enforce")));
    index.apply_verification(verification("platform", "base", 40));
    index.apply_verification(verification("elsewhere", "other", 41));
    let builder = review("Pod")
        .namespace("team")
        .container("base", &pinned("base", 40))
        .container("other", &pinned("other", 41));

    let unshared = decide_with(&builder, &index, &config());
    assert_denied(
        &unshared,
        Reason::ProofMissing,
        "in namespace(s) team: create one",
    );

    let shared = config().share_proofs_from("platform");
    let decision = decide_with(&builder, &index, &shared);
    assert_denied(
        &decision,
        Reason::ProofMissing,
        &format!(
            "no ProofVerification for {} in namespace(s) team, platform",
            digest(41)
        ),
    );
    assert!(
        decision.images[0].outcome.is_verified(),
        "the shared proof counts"
    );
    assert!(!message(&decision).contains("\"base\""));
}

#[test]
fn break_glass_allowed_admits_with_a_warning_and_a_recorded_use() {
    let builder = review("Deployment")
        .container("cart", "registry.example/shop/cart:1")
        .template_annotation(BREAK_GLASS_ANNOTATION, "  INC-4711: registry outage  ");
    let decision = decide_in(&cluster(), builder);
    assert!(decision.allowed);
    assert_eq!(decision.reason, Reason::BreakGlass);
    let used = decision.break_glass.as_ref().unwrap();
    assert_eq!(used.reason, "INC-4711: registry outage");
    assert_eq!(used.overridden, Reason::NotPinned);
    assert!(used.record);
    assert_eq!(
        decision.warnings[0],
        "attestor (break-glass): 1 image(s) admitted without a usable proof because attestor.stellaops.io/break-glass says: INC-4711: registry outage"
    );
    assert!(decision.warnings[1].starts_with("attestor (break-glass): container \"cart\""));
    let body: serde_json::Value =
        serde_json::from_slice(&review_response("uid-1", &decision)).unwrap();
    assert_eq!(
        body["response"]["auditAnnotations"]["break-glass"],
        "INC-4711: registry outage"
    );
}

#[test]
fn break_glass_in_a_dry_run_records_nothing() {
    let builder = review("Deployment")
        .dry_run()
        .container("cart", "registry.example/shop/cart:1")
        .template_annotation(BREAK_GLASS_ANNOTATION, "INC-4711");
    let decision = decide_in(&cluster(), builder);
    assert!(decision.allowed);
    assert!(!decision.break_glass.unwrap().record);
}

#[test]
fn break_glass_disallowed_by_configuration_denies_and_says_so() {
    let builder = review("Deployment")
        .container("cart", "registry.example/shop/cart:1")
        .template_annotation(BREAK_GLASS_ANNOTATION, "INC-4711");
    let decision = decide_with(&builder, &cluster(), &Config::new(OPERATOR_NAMESPACE));
    assert_denied(
        &decision,
        Reason::NotPinned,
        "break-glass is disabled in this cluster: the attestor.stellaops.io/break-glass annotation has no effect",
    );
    assert!(decision.break_glass.is_none());
}

#[test]
fn break_glass_needs_a_reason_and_the_pod_template() {
    let empty = review("Deployment")
        .container("cart", "registry.example/shop/cart:1")
        .template_annotation(BREAK_GLASS_ANNOTATION, "  ");
    assert_denied(
        &decide_in(&cluster(), empty),
        Reason::NotPinned,
        "annotation is empty: its value must say why",
    );
    let on_workload = review("Deployment")
        .container("cart", "registry.example/shop/cart:1")
        .object_annotation(BREAK_GLASS_ANNOTATION, "INC-4711");
    assert_denied(
        &decide_in(&cluster(), on_workload),
        Reason::NotPinned,
        "must be on the Pod template (spec.template.metadata.annotations), which every Pod carries, not on the Deployment itself",
    );
    // On a Pod its own metadata is the place.
    let pod = review("Pod")
        .container("cart", "registry.example/shop/cart:1")
        .object_annotation(BREAK_GLASS_ANNOTATION, "INC-4711");
    assert_eq!(decide_in(&cluster(), pod).reason, Reason::BreakGlass);
}

#[test]
fn break_glass_changes_nothing_in_warn_mode_or_when_not_needed() {
    let warn = review("Pod")
        .namespace("shop-dev")
        .container("cart", "registry.example/shop/cart:1")
        .template_annotation(BREAK_GLASS_ANNOTATION, "INC-4711");
    let decision = decide_in(&cluster(), warn);
    assert_eq!(decision.reason, Reason::NotPinned);
    assert!(decision.allowed && decision.break_glass.is_none());

    let unneeded = review("Pod")
        .container("cart", &pinned("cart", 1))
        .template_annotation(BREAK_GLASS_ANNOTATION, "INC-4711");
    let decision = decide_in(&cluster(), unneeded);
    assert_eq!(decision.reason, Reason::Allowed);
    assert!(decision.break_glass.is_none());
    assert!(decision.warnings[0].contains("annotation is not needed: remove it"));
}

#[test]
fn break_glass_waits_for_pending_proofs_before_it_is_used() {
    let mut index = cluster();
    let mut pending = verification("shop", "new", 7);
    pending.verified = Verified::Unknown;
    index.apply_verification(pending);
    let decision = decide_in(
        &index,
        review("Pod")
            .container("new", &pinned("new", 7))
            .template_annotation(BREAK_GLASS_ANNOTATION, "INC-4711"),
    );
    assert_eq!(decision.reason, Reason::BreakGlass);
    assert!(
        !decision.is_final(),
        "the proof may conclude and make break-glass unneeded"
    );
}

#[test]
fn every_workload_kind_is_checked_at_its_pod_template() {
    for kind in [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
    ] {
        let good = decide_in(
            &cluster(),
            review(kind).container("cart", &pinned("cart", 1)),
        );
        assert_eq!(good.reason, Reason::Allowed, "{kind}");
        let bad = decide_in(&cluster(), review(kind).container("cart", "nginx"));
        assert_denied(
            &bad,
            Reason::NotPinned,
            &format!("{kind} shop/cart: 1 of 1 image(s)"),
        );
    }
}

#[test]
fn init_and_ephemeral_containers_are_checked_too() {
    let decision = decide_in(
        &cluster(),
        review("Pod")
            .container("cart", &pinned("cart", 1))
            .init_container("migrate", "registry.example/shop/migrate:1")
            .ephemeral_container("debugger", "busybox"),
    );
    assert_denied(&decision, Reason::NotPinned, "init container \"migrate\"");
    assert!(message(&decision).contains("ephemeral container \"debugger\" (busybox)"));
}

#[test]
fn the_ephemeral_containers_subresource_is_checked_other_subresources_are_not() {
    let debug = review("Pod")
        .operation("UPDATE")
        .sub_resource("ephemeralcontainers")
        .container("cart", &pinned("cart", 1))
        .ephemeral_container("debugger", "busybox:1.36");
    assert_denied(
        &decide_in(&cluster(), debug),
        Reason::NotPinned,
        "ephemeral container \"debugger\" (busybox:1.36): not pinned by digest: use busybox@sha256:…",
    );
    for sub_resource in ["status", "binding", "eviction"] {
        let other = review("Pod")
            .operation("UPDATE")
            .sub_resource(sub_resource)
            .container("cart", "nginx");
        assert_eq!(
            decide_in(&cluster(), other).reason,
            Reason::NotApplicable,
            "{sub_resource}"
        );
    }
    let scale = review("Deployment")
        .operation("UPDATE")
        .sub_resource("scale")
        .container("cart", "nginx");
    assert_eq!(decide_in(&cluster(), scale).reason, Reason::NotApplicable);
}

#[test]
fn delete_connect_and_other_kinds_are_allowed_untouched() {
    for operation in ["DELETE", "CONNECT"] {
        let decision = decide_in(&cluster(), review("Pod").operation(operation));
        assert!(decision.allowed, "{operation}");
        assert_eq!(decision.reason, Reason::NotApplicable);
    }
    let service = review("Service").container("cart", "nginx");
    assert_eq!(decide_in(&cluster(), service).reason, Reason::NotApplicable);
}

#[test]
fn an_update_is_judged_on_the_new_object() {
    let update = review("Deployment")
        .operation("UPDATE")
        .container("cart", "registry.example/shop/cart:2.0");
    assert_denied(
        &decide_in(&cluster(), update),
        Reason::NotPinned,
        "cart:2.0",
    );
    let update = review("Deployment")
        .operation("UPDATE")
        .container("cart", &pinned("cart", 1));
    assert!(decide_in(&cluster(), update).allowed);
}

#[test]
fn a_namespace_the_index_has_not_seen_waits_and_is_treated_as_enforcing() {
    let decision = decide_in(
        &cluster(),
        review("Pod")
            .namespace("brand-new")
            .container("cart", "nginx"),
    );
    assert_denied(
        &decision,
        Reason::NotPinned,
        "namespace brand-new is not known to the attestor yet and is treated as enforcing",
    );
    assert_eq!(
        decision.waiting_on.as_ref().unwrap().namespace.as_deref(),
        Some("brand-new")
    );
    // Verified images need no waiting: every mode admits them.
    let mut index = cluster();
    index.apply_verification(verification("brand-new", "cart", 1));
    let decision = decide_in(
        &index,
        review("Pod")
            .namespace("brand-new")
            .container("cart", &pinned("cart", 1)),
    );
    assert!(decision.allowed && decision.is_final());
}

#[test]
fn the_decision_is_named_after_the_first_failing_rule() {
    let mut index = cluster();
    let mut failed = verification("shop", "db", 2);
    failed.verified = Verified::False;
    failed.reason = "NodeIdMismatch".into();
    index.apply_verification(failed);
    let decision = decide_in(
        &index,
        review("Deployment")
            .container("db", &pinned("db", 2))
            .container("web", &pinned("web", 99))
            .container("cart", &pinned("cart", 1)),
    );
    assert_denied(
        &decision,
        Reason::ProofMissing,
        "2 of 3 image(s) have no usable proof",
    );
    let message = message(&decision);
    // Sorted by container name: db before web; cart is fine and not listed.
    let db = message.find("container \"db\"").unwrap();
    let web = message.find("container \"web\"").unwrap();
    assert!(db < web);
    assert!(!message.contains("container \"cart\""));
}

#[test]
fn messages_and_warnings_stay_bounded() {
    let mut builder = review("Pod");
    let long = format!("{}/{}:tag", REGISTRY, "x".repeat(3000));
    for i in 0..200 {
        builder = builder.container(&format!("c{i:03}"), &long);
    }
    let decision = decide_in(&cluster(), builder);
    let message = message(&decision);
    assert!(message.len() <= 4096, "{}", message.len());
    assert!(message.contains("more image(s)"));
    assert!(message.lines().all(|line| line.len() <= 512));

    let mut warned = review("Pod").namespace("shop-dev");
    for i in 0..200 {
        warned = warned.container(&format!("c{i:03}"), &long);
    }
    let decision = decide_in(&cluster(), warned);
    assert_eq!(decision.warnings.len(), 16);
    assert!(decision.warnings.iter().all(|w| w.len() <= 256));
    assert!(decision.warnings[15].contains("185 more image(s)"));
}

#[test]
fn reasons_have_stable_names() {
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "Allowed",
            "NotApplicable",
            "Exempt",
            "NotGated",
            "EnforcementLabelInvalid",
            "NotPinned",
            "ProofMissing",
            "ProofFailed",
            "IssuerNotFound",
            "IssuerNotTrusted",
            "OutOfScope",
            "ProofExpired",
            "Pending",
            "BreakGlass",
            "Malformed"
        ]
    );
}

#[test]
fn responses_have_the_admission_review_shape() {
    let denied = decide_in(&cluster(), review("Pod").container("cart", "nginx"));
    let body: serde_json::Value =
        serde_json::from_slice(&review_response("uid-7", &denied)).unwrap();
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(body["kind"], "AdmissionReview");
    assert_eq!(body["response"]["uid"], "uid-7");
    assert_eq!(body["response"]["allowed"], false);
    assert_eq!(body["response"]["status"]["code"], 403);
    assert_eq!(body["response"]["status"]["reason"], "Forbidden");
    assert_eq!(
        body["response"]["status"]["message"],
        denied.message.clone().unwrap()
    );
    assert_eq!(body["response"]["auditAnnotations"]["reason"], "NotPinned");
    assert!(body["response"].get("warnings").is_none());

    let warned = decide_in(
        &cluster(),
        review("Pod")
            .namespace("shop-dev")
            .container("cart", "nginx"),
    );
    let body: serde_json::Value =
        serde_json::from_slice(&review_response("uid-8", &warned)).unwrap();
    assert_eq!(body["response"]["allowed"], true);
    assert!(body["response"].get("status").is_none());
    assert_eq!(body["response"]["warnings"][0], warned.warnings[0].as_str());
}

#[test]
fn the_denial_lists_every_offending_image_in_a_stable_form() {
    let mut index = cluster();
    let mut failed = verification("shop", "db", 2);
    failed.verified = Verified::False;
    failed.reason = "SignatureInvalid".into();
    failed.message = "no key verifies the signature".into();
    index.apply_verification(failed);
    let builder = review("Deployment")
        .container("web", &pinned("web", 99))
        .container("x", &format!("evil.example/x@{}", digest(1)))
        .container("db", &pinned("db", 2))
        .init_container("cart", "registry.example/shop/cart:1")
        .template_annotation(BREAK_GLASS_ANNOTATION, "INC-1");
    let decision = decide_with(&builder, &index, &Config::new(OPERATOR_NAMESPACE));
    let (d1, d2, d99) = (digest(1), digest(2), digest(99));
    assert_eq!(
        message(&decision),
        format!(
            "Deployment shop/cart: 4 of 4 image(s) have no usable proof, and namespace shop enforces verified images (attestor.stellaops.io/enforcement=enforce):
- init container \"cart\" (registry.example/shop/cart:1): not pinned by digest: use registry.example/shop/cart@sha256:…
- container \"db\" (registry.example/shop/db:1.0@{d2}): ProofVerification shop/db failed: SignatureInvalid: no key verifies the signature; see kubectl describe proofverification -n shop db
- container \"web\" (registry.example/shop/web:1.0@{d99}): no ProofVerification for {d99} in namespace(s) shop: create one
- container \"x\" (evil.example/x@{d1}): issuer ci's scope (registry.example/shop/*) does not cover image evil.example/x; see kubectl describe proofverification -n shop cart
break-glass is disabled in this cluster: the attestor.stellaops.io/break-glass annotation has no effect"
        )
    );
}

#[test]
fn a_digest_without_a_proof_is_handed_to_a_discovering_issuer_then_its_proof_waited_for() {
    let mut index = cluster();
    index.apply_issuer(IssuerFacts {
        discovers: true,
        ..issuer("ci-discovers", &["registry.example/shop/*"])
    });
    let decision = decide_in(
        &index,
        review("Deployment").container("cart", &pinned("cart", 9)),
    );
    let name = attestor_admission::discovered_proof_name(&digest(9).parse().unwrap());
    assert_eq!(name.len(), "discovered-".len() + 32);
    assert_denied(
        &decision,
        Reason::ProofMissing,
        &format!("ProofVerification shop/{name} is being created by discovery"),
    );
    assert!(message(&decision).contains("(TrustedIssuer ci-discovers): retry in a few seconds"));
    assert!(message(&decision).contains(&format!(
        "; see kubectl describe proofverification -n shop {name}"
    )));
    // Answered at once: the request that starts discovery does not wait for it.
    assert!(decision.is_final());
    let found: Vec<_> = decision.discoveries().collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.issuer, "ci-discovers");
    assert_eq!(found[0].1.proof.name, name);
    assert_eq!(found[0].0.container.image, pinned("cart", 9));

    // The proof appears, pending: still waited for; then verified: allowed.
    let mut pending = verification("shop", &name, 9);
    pending.issuer = "ci-discovers".into();
    pending.verified = Verified::Unknown;
    index.apply_verification(pending.clone());
    let decision = decide_in(
        &index,
        review("Deployment").container("cart", &pinned("cart", 9)),
    );
    assert_eq!(decision.reason, Reason::Pending);
    assert!(!decision.is_final());
    index.apply_verification(VerificationFacts {
        verified: Verified::True,
        ..pending
    });
    let decision = decide_in(
        &index,
        review("Deployment").container("cart", &pinned("cart", 9)),
    );
    assert!(decision.allowed, "{decision:#?}");
    assert_eq!(decision.discoveries().count(), 0);
}

#[test]
fn discovery_needs_a_trusted_issuer_whose_scope_covers_the_image() {
    for facts in [
        IssuerFacts {
            discovers: true,
            trusted: false,
            ..issuer("untrusted", &["registry.example/shop/*"])
        },
        IssuerFacts {
            discovers: true,
            ..issuer("elsewhere", &["registry.example/other/*"])
        },
        issuer("no-discovery", &["registry.example/shop/*"]),
    ] {
        let mut index = cluster();
        index.apply_issuer(facts.clone());
        let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 9)));
        assert_denied(&decision, Reason::ProofMissing, "create one");
        assert_eq!(decision.discoveries().count(), 0, "{}", facts.name);
        assert!(decision.is_final(), "nothing to wait for: {}", facts.name);
    }
    // Two discovering issuers: every replica picks the same, the first by name.
    let mut index = cluster();
    for name in ["b-ci", "a-ci"] {
        index.apply_issuer(IssuerFacts {
            discovers: true,
            ..issuer(name, &["registry.example/shop/*"])
        });
    }
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 9)));
    assert_eq!(decision.discoveries().next().unwrap().1.issuer, "a-ci");
}

#[test]
fn a_warn_namespace_hands_digests_to_discovery_too() {
    let mut index = cluster();
    index.apply_namespace(NamespaceFacts::new("shop", Some("warn")));
    index.apply_issuer(IssuerFacts {
        discovers: true,
        ..issuer("ci-discovers", &["registry.example/shop/*"])
    });
    let decision = decide_in(&index, review("Pod").container("cart", &pinned("cart", 9)));
    assert_warned(&decision, Reason::ProofMissing, "is being created");
    assert_eq!(decision.discoveries().count(), 1);
    assert!(decision.is_final(), "warn mode never waits");
}
