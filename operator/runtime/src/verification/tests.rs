use super::*;
use attestor_api::common::{DataKeyRef, ObjectRef};
use attestor_api::proof_verification::{ProofChecks, ProofSource};
use attestor_core::verify::{CheckOutcome, SignerSummary};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn spec() -> ProofVerificationSpec {
    ProofVerificationSpec {
        artifact_digest: format!("sha256:{}", "ab".repeat(32)),
        image: Some("registry.example/shop/cart:1".into()),
        source: ProofSource {
            config_map_key_ref: Some(DataKeyRef {
                name: "bundles".into(),
                key: "valid.zip".into(),
            }),
            ..ProofSource::default()
        },
        issuer_ref: ObjectRef {
            name: "example-ci".into(),
        },
        checks: ProofChecks::default(),
        reverify_interval: "24h".into(),
    }
}

fn timing() -> Timing {
    Timing {
        reverify: Duration::from_secs(24 * 3600),
        source_failures: 1,
    }
}

fn check(name: CheckName, status: CheckStatus, reason: &str) -> CheckOutcome {
    CheckOutcome {
        name,
        status,
        reason: reason.into(),
        message: format!("{reason} message"),
        evidence: Vec::new(),
    }
}

fn report(verified: bool, reason: &str, valid_until: Option<&str>) -> Outcome {
    let mut checks: Vec<CheckOutcome> = CheckName::ALL
        .into_iter()
        .map(|c| check(c, CheckStatus::Pass, "Ok"))
        .collect();
    if !verified {
        checks[0] = check(CheckName::SignatureValid, CheckStatus::Fail, reason);
    }
    checks[3] = check(CheckName::RekorInclusion, CheckStatus::Skipped, "Offline");
    Outcome::Checked {
        report: Box::new(VerificationReport {
            verified,
            reason: reason.into(),
            message: format!("signatureValid: {reason} happened"),
            artifact_digest: spec().artifact_digest,
            manifest_id: format!("sha256:{}", "11".repeat(32)),
            proof_root_hash: format!("sha256:{}", "22".repeat(32)),
            signer: verified.then(|| SignerSummary {
                key_id: format!("sha256:{}", "33".repeat(32)),
                algorithm: "ecdsa-p256-sha256".into(),
                anchor: "example-ci-signing-2026".into(),
                certificate_path: Vec::new(),
            }),
            verified_at: at("2026-06-01T00:00:00Z"),
            valid_until: valid_until.map(at),
            checks,
        }),
        issuer: "example-ci".into(),
        size: 1234,
        digest: format!("sha256:{}", "44".repeat(32)),
        keyless: None,
        found: None,
    }
}

fn cond<'a>(
    s: &'a ProofVerificationStatus,
    t: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions::find(&s.conditions, t).unwrap_or_else(|| panic!("no {t} condition"))
}

#[test]
fn a_verified_report_sets_every_condition_and_requeues_at_expiry() {
    let now = at("2026-06-01T00:00:00Z");
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(3),
        report(true, "Verified", Some("2026-06-01T02:00:00Z")),
        now,
        timing(),
    );
    assert_eq!(d.status.conditions.len(), 7);
    assert_eq!(cond(&d.status, "Verified").status, "True");
    assert_eq!(cond(&d.status, "SourceAvailable").reason, "Fetched");
    assert_eq!(cond(&d.status, "SignatureValid").status, "True");
    assert_eq!(cond(&d.status, "RekorInclusion").status, "Unknown");
    assert_eq!(d.status.observed_generation, Some(3));
    assert_eq!(d.status.bundle_size, Some(1234));
    assert!(d.status.signer_key_id.is_some());
    assert_eq!(d.requeue_after, Duration::from_secs(2 * 3600 + 1));
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].reason, "Verified");
    assert!(!d.events[0].warning);
    assert_eq!(d.metric.as_ref().unwrap().0, VerificationResult::Verified);

    // The same verdict again: no new Event, transition time kept.
    let later = at("2026-06-01T01:00:00Z");
    let again = decide(
        &spec(),
        &d.status,
        Some(3),
        report(true, "Verified", Some("2026-06-01T02:00:00Z")),
        later,
        timing(),
    );
    assert!(again.events.is_empty());
    assert_eq!(cond(&again.status, "Verified").last_transition_time.0, now);
}

#[test]
fn a_source_outage_does_not_overturn_a_verdict_by_itself() {
    let now = at("2026-06-01T00:00:00Z");
    let verified = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        report(true, "Verified", Some("2026-07-01T00:00:00Z")),
        now,
        timing(),
    )
    .status;
    let outage = || Outcome::SourceFailed {
        reason: "SourceUnavailable".into(),
        message: "connection refused".into(),
        transient: true,
    };
    let d = decide(&spec(), &verified, Some(1), outage(), now, timing());
    assert_eq!(cond(&d.status, "Verified").status, "True");
    assert!(
        cond(&d.status, "Verified")
            .message
            .contains("last verdict stands")
    );
    assert_eq!(cond(&d.status, "SourceAvailable").status, "False");
    assert_eq!(d.status.proof_root_hash, verified.proof_root_hash);
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].reason, "SourceUnavailable");
    assert_eq!(
        d.metric.as_ref().unwrap().0,
        VerificationResult::Unavailable
    );
    assert_eq!(d.requeue_after, MIN_BACKOFF);

    // A changed spec, or a verdict past its validity, is not kept.
    let d = decide(&spec(), &verified, Some(2), outage(), now, timing());
    assert_eq!(cond(&d.status, "Verified").reason, "SourceUnavailable");
    assert_eq!(d.events[0].reason, "VerificationFailed");
    let d = decide(
        &spec(),
        &verified,
        Some(1),
        outage(),
        at("2026-08-01T00:00:00Z"),
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").status, "False");
    assert_eq!(cond(&d.status, "SignatureValid").reason, "NotRun");
    assert!(d.status.proof_root_hash.is_none());
}

#[test]
fn failures_name_the_next_step_and_fire_one_event() {
    let now = at("2026-06-01T00:00:00Z");
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        report(false, "TrustAnchorNotFound", None),
        now,
        timing(),
    );
    let v = cond(&d.status, "Verified");
    assert_eq!(v.status, "False");
    assert_eq!(v.reason, "TrustAnchorNotFound");
    assert!(
        v.message
            .contains("Next: list that TrustAnchor in TrustedIssuer example-ci"),
        "{}",
        v.message
    );
    assert_eq!(cond(&d.status, "SignatureValid").status, "False");
    assert_eq!(d.events.len(), 1);
    assert!(d.events[0].warning);
    assert!(d.events[0].note.starts_with("TrustAnchorNotFound: "));
    assert_eq!(d.requeue_after, FAILED_RECHECK);
    let again = decide(
        &spec(),
        &d.status,
        Some(1),
        report(false, "TrustAnchorNotFound", None),
        now,
        timing(),
    );
    assert!(again.events.is_empty());
}

#[test]
fn issuer_problems_are_reported_without_running_checks() {
    let now = at("2026-06-01T00:00:00Z");
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        Outcome::IssuerNotTrusted {
            issuer: "vendor".into(),
            reason: "ApprovalMissing".into(),
            message: "no approval".into(),
        },
        now,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").reason, "IssuerNotTrusted");
    assert!(
        cond(&d.status, "Verified")
            .message
            .contains("kubectl describe trustedissuer vendor")
    );
    assert_eq!(cond(&d.status, "SourceAvailable").status, "Unknown");
    for c in CheckName::ALL {
        assert_eq!(cond(&d.status, c.condition_type()).reason, "NotRun");
    }
    assert!(d.metric.is_none());
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        Outcome::IssuerNotFound {
            issuer: "nope".into(),
        },
        now,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").reason, "IssuerNotFound");
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        Outcome::ImageNotInScope {
            image: "evil.example/x".into(),
            issuer: "example-ci".into(),
            scope: "registry.example/shop/*".into(),
        },
        now,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").reason, "ImageNotInScope");
}

#[test]
fn unreadable_input_and_backoff() {
    let now = at("2026-06-01T00:00:00Z");
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        Outcome::Unreadable {
            message: "not a readable proof bundle: truncated".into(),
            size: Some(10),
            digest: Some(format!("sha256:{}", "55".repeat(32))),
        },
        now,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").reason, "InputUnreadable");
    assert_eq!(cond(&d.status, "SourceAvailable").status, "True");
    assert_eq!(d.status.bundle_size, Some(10));
    assert_eq!(backoff(1), Duration::from_secs(5));
    assert_eq!(backoff(2), Duration::from_secs(10));
    assert_eq!(backoff(30), MAX_BACKOFF);
    assert_eq!(backoff(0), MIN_BACKOFF);
}

fn registry_spec(grace: &str) -> ProofVerificationSpec {
    ProofVerificationSpec {
        source: ProofSource {
            registry: Some(attestor_api::proof_verification::RegistrySource {
                repository: None,
                kinds: vec![],
                pull_secrets: vec![],
                stale_grace_period: grace.into(),
            }),
            ..ProofSource::default()
        },
        ..spec()
    }
}

fn found(reasons: &[&str]) -> registry::Found {
    registry::Found {
        candidates: reasons
            .iter()
            .enumerate()
            .map(|(i, r)| attestor_api::proof_verification::CandidateStatus {
                digest: format!("sha256:{}", format!("{i:02}").repeat(32)),
                kind: "SigstoreBundle".into(),
                found_via: "referrers".into(),
                reason: r.to_string(),
                signer: None,
            })
            .collect(),
        total: reasons.len(),
        via: "referrers",
        requests: 4,
        truncated: false,
    }
}

fn with_found(outcome: Outcome, f: registry::Found) -> Outcome {
    match outcome {
        Outcome::Checked {
            report,
            issuer,
            size,
            digest,
            keyless,
            ..
        } => Outcome::Checked {
            report,
            issuer,
            size,
            digest,
            keyless,
            found: Some(f),
        },
        other => other,
    }
}

#[test]
fn a_registry_outage_keeps_a_verdict_stale_for_the_grace_period_only() {
    let rspec = registry_spec("1h");
    let now = at("2026-06-01T00:00:00Z");
    let verified = decide(
        &rspec,
        &ProofVerificationStatus::default(),
        Some(1),
        with_found(
            report(true, "Verified", None),
            found(&["Verified", "SignatureInvalid"]),
        ),
        now,
        timing(),
    )
    .status;
    assert_eq!(verified.candidates.len(), 2);
    assert_eq!(verified.candidates_found, Some(2));
    assert!(verified.stale_since.is_none());
    assert!(
        cond(&verified, "SourceAvailable")
            .message
            .contains("2 candidate(s)")
    );
    let outage = || Outcome::SourceFailed {
        reason: "RegistryUnavailable".into(),
        message: "registry.example: unavailable: connection refused".into(),
        transient: true,
    };
    // Within the grace period: still Verified, stale since the first failure, list kept.
    let t1 = at("2026-06-01T00:10:00Z");
    let d = decide(&rspec, &verified, Some(1), outage(), t1, timing());
    assert_eq!(cond(&d.status, "Verified").status, "True");
    assert!(
        cond(&d.status, "Verified")
            .message
            .contains("stale since 2026-06-01T00:10:00Z"),
        "{}",
        cond(&d.status, "Verified").message
    );
    assert!(
        cond(&d.status, "Verified")
            .message
            .contains("until 2026-06-01T01:10:00Z")
    );
    assert_eq!(
        cond(&d.status, "SourceAvailable").reason,
        "RegistryUnavailable"
    );
    assert_eq!(d.status.stale_since.as_ref().map(|t| t.0), Some(t1));
    assert_eq!(d.status.candidates.len(), 2);
    let t2 = at("2026-06-01T01:00:00Z");
    let d = decide(&rspec, &d.status, Some(1), outage(), t2, timing());
    assert_eq!(cond(&d.status, "Verified").status, "True");
    assert_eq!(
        d.status.stale_since.as_ref().map(|t| t.0),
        Some(t1),
        "measured from the first failure"
    );
    // Past it: False with the registry's own reason.
    let t3 = at("2026-06-01T01:10:01Z");
    let d = decide(&rspec, &d.status, Some(1), outage(), t3, timing());
    let v = cond(&d.status, "Verified");
    assert_eq!(
        (v.status.as_str(), v.reason.as_str()),
        ("False", "RegistryUnavailable")
    );
    assert!(v.message.contains("staleGracePeriod"), "{}", v.message);
    assert!(d.status.stale_since.is_none());
    assert_eq!(d.events[0].reason, "VerificationFailed");
    // Recovery clears the mark.
    let d = decide(
        &rspec,
        &d.status,
        Some(1),
        with_found(report(true, "Verified", None), found(&["Verified"])),
        t3,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").status, "True");
    assert!(d.status.stale_since.is_none());
    assert_eq!(d.status.candidates.len(), 1);

    // A digest never verified is denied with the registry's reason at once.
    let d = decide(
        &rspec,
        &ProofVerificationStatus::default(),
        Some(1),
        outage(),
        t1,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").reason, "RegistryUnavailable");
    // Other sources keep the one summary reason.
    let d = decide(
        &spec(),
        &ProofVerificationStatus::default(),
        Some(1),
        outage(),
        t1,
        timing(),
    );
    assert_eq!(cond(&d.status, "Verified").reason, "SourceUnavailable");
}

#[test]
fn nothing_in_the_registry_is_no_signatures_found_and_is_looked_at_again_soon() {
    let spec = registry_spec("24h");
    let now = at("2026-06-01T00:00:00Z");
    let d = decide(
        &spec,
        &ProofVerificationStatus::default(),
        Some(1),
        Outcome::NothingFound {
            message: "the registry holds no signature. Next: sign it".into(),
            found: found(&["CandidateUnsupported"]),
        },
        now,
        timing(),
    );
    let v = cond(&d.status, "Verified");
    assert_eq!(
        (v.status.as_str(), v.reason.as_str()),
        ("False", "NoSignaturesFound")
    );
    assert_eq!(cond(&d.status, "SourceAvailable").status, "True");
    assert_eq!(cond(&d.status, "SignatureValid").reason, "NotRun");
    assert_eq!(d.status.candidates[0].reason, "CandidateUnsupported");
    assert_eq!(d.requeue_after, NOTHING_FOUND_RECHECK);
    // Still nothing after an hour: looked at every 10 minutes; after 4 minutes, every minute.
    let again = |at_: &str| {
        decide(
            &spec,
            &d.status,
            Some(1),
            Outcome::NothingFound {
                message: "nothing. Next: sign it".into(),
                found: found(&[]),
            },
            at(at_),
            timing(),
        )
        .requeue_after
    };
    assert_eq!(again("2026-06-01T00:04:00Z"), Duration::from_secs(60));
    assert_eq!(again("2026-06-01T01:00:00Z"), NOTHING_FOUND_MAX_RECHECK);
    assert_eq!(d.metric.as_ref().unwrap().1, "NoSignaturesFound");
    assert_eq!(d.events[0].reason, "VerificationFailed");
}
