//! The controllers against the real API server, with the operator running in this process.
//! Each test makes its own cluster-scoped anchors and issuer (unique names) and its own
//! namespace, so the tests run in parallel and never see each other's objects.

mod cluster;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use cluster::{
    apply, condition, delete, get, read_example, scrape_metrics, setup, unique, wait_condition,
};
use kube::Client;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

fn pem(path: &str) -> String {
    String::from_utf8(read_example(path)).unwrap()
}

/// The artifact the example bundles are about.
fn artifact() -> String {
    let text = String::from_utf8(read_example("30-proofverifications.yaml")).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("artifactDigest: "))
        .expect("an artifactDigest in the examples")
        .to_string()
}

fn anchor(name: &str, key: &str, purpose: &str, window: Option<(&str, &str)>) -> Value {
    let mut spec = json!({"publicKey": pem(key), "purposes": [purpose]});
    if let Some((nb, ex)) = window {
        spec["notBefore"] = json!(nb);
        spec["expires"] = json!(ex);
    }
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "TrustAnchor",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn issuer(name: &str, anchors: &[String], approved: bool) -> Value {
    let mut spec = json!({
        "issuer": format!("https://ci.example/{name}"),
        "anchors": anchors,
        "scope": {"images": ["registry.example/shop/*"]},
    });
    if approved {
        spec["approval"] = json!({"approvedBy": "runtime-tests", "reason": "test fixture"});
    }
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "TrustedIssuer",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn verification(ns: &str, name: &str, issuer: &str, source: Value) -> Value {
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "artifactDigest": artifact(),
            "image": "registry.example/shop/cart:1.4.2",
            "source": source,
            "issuerRef": {"name": issuer},
        },
    })
}

fn from_config_map(key: &str) -> Value {
    json!({"configMapKeyRef": {"name": "bundles", "key": key}})
}

/// A namespace with a ConfigMap of example bundles, and an approved issuer whose anchors are the
/// example signing key, the Ed25519 key and the log key.
struct Fixture {
    client: Client,
    ns: String,
    issuer: Value,
    anchors: Vec<Value>,
}

impl Fixture {
    async fn new(client: Client, prefix: &str) -> Self {
        let ns = unique(prefix);
        apply(
            &client,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
        let b64 = |p: &str| base64::engine::general_purpose::STANDARD.encode(read_example(p));
        apply(
            &client,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "bundles", "namespace": ns},
                "binaryData": {
                    "valid.zip": b64("bundles/valid.zip"),
                    "tampered-signature.zip": b64("bundles/tampered-signature.zip"),
                    "expired-key.zip": b64("bundles/expired-key.zip"),
                    "garbage.zip": base64::engine::general_purpose::STANDARD.encode(b"PK\x03\x04 not really a zip"),
                },
            }),
        )
        .await;
        let anchors = vec![
            anchor(
                &format!("{ns}-signing"),
                "keys/test-only-signing.pub.pem",
                "AttestationSigning",
                None,
            ),
            anchor(
                &format!("{ns}-ed25519"),
                "keys/test-only-signing-ed25519.pub.pem",
                "AttestationSigning",
                None,
            ),
            anchor(
                &format!("{ns}-log"),
                "keys/test-only-log.pub.pem",
                "TransparencyLog",
                None,
            ),
        ];
        for a in &anchors {
            apply(&client, a.clone()).await;
        }
        let names: Vec<String> = anchors
            .iter()
            .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        let issuer = issuer(&ns, &names, true);
        apply(&client, issuer.clone()).await;
        Fixture {
            client,
            ns,
            issuer,
            anchors,
        }
    }

    fn issuer_name(&self) -> &str {
        self.issuer["metadata"]["name"].as_str().unwrap()
    }

    async fn cleanup(self) {
        for a in &self.anchors {
            delete(&self.client, a).await;
        }
        delete(&self.client, &self.issuer).await;
        delete(
            &self.client,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}}),
        )
        .await;
    }
}

#[tokio::test]
async fn the_examples_reach_their_documented_conditions() {
    let Some(client) = setup().await else { return };
    for file in [
        "00-namespace.yaml",
        "10-trustanchors.yaml",
        "20-trustedissuers.yaml",
        "30-proofverifications.yaml",
    ] {
        cluster::apply_file(&client, &cluster::example(file)).await;
    }
    let anchor = |n: &str| json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor", "metadata": {"name": n}});
    let issuer = |n: &str| json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer", "metadata": {"name": n}});
    let pv = |n: &str| json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "ProofVerification", "metadata": {"name": n, "namespace": "shop"}});

    let ready = wait_condition(
        &client,
        &anchor("example-ci-signing-2026"),
        "Ready",
        "True",
        Some("Valid"),
        WAIT,
    )
    .await;
    assert!(
        ready.message.contains("until 2027-12-31"),
        "{}",
        ready.message
    );
    wait_condition(
        &client,
        &anchor("example-ci-signing-2026"),
        "ExpiringSoon",
        "False",
        Some("NotExpiringSoon"),
        WAIT,
    )
    .await;
    let expired = wait_condition(
        &client,
        &anchor("example-ci-signing-2024"),
        "Ready",
        "False",
        Some("Expired"),
        WAIT,
    )
    .await;
    assert!(
        expired.message.contains("add its successor"),
        "{}",
        expired.message
    );
    wait_condition(
        &client,
        &anchor("example-root-ca"),
        "Ready",
        "True",
        None,
        WAIT,
    )
    .await;
    let ca = get(&client, &anchor("example-root-ca")).await;
    assert!(
        ca.data["status"]["fingerprint"]
            .as_str()
            .is_some_and(|f| f.starts_with("sha256:"))
    );
    wait_condition(
        &client,
        &issuer("example-ci"),
        "Trusted",
        "True",
        Some("Approved"),
        WAIT,
    )
    .await;
    let unapproved = wait_condition(
        &client,
        &issuer("example-vendor-unapproved"),
        "Trusted",
        "False",
        Some("ApprovalMissing"),
        WAIT,
    )
    .await;
    assert!(
        unapproved.message.contains("spec.approval"),
        "{}",
        unapproved.message
    );

    let verified = wait_condition(
        &client,
        &pv("cart"),
        "Verified",
        "True",
        Some("Verified"),
        WAIT,
    )
    .await;
    assert!(
        verified.message.contains("signed by key sha256:"),
        "{}",
        verified.message
    );
    let cart = get(&client, &pv("cart")).await;
    let status = &cart.data["status"];
    for field in [
        "manifestId",
        "proofRootHash",
        "signerKeyId",
        "verifiedAt",
        "bundleDigest",
    ] {
        assert!(
            status[field].is_string(),
            "status.{field} missing: {status}"
        );
    }
    assert!(status["bundleSize"].as_i64().unwrap() > 0);
    assert_eq!(
        status["observedGeneration"],
        cart.metadata.generation.unwrap()
    );
    for check in [
        "SignatureValid",
        "IdRecomputed",
        "MerklePathValid",
        "RekorInclusion",
        "TimestampValid",
    ] {
        assert_eq!(condition(&cart, check).unwrap().status, "True", "{check}");
    }

    let tampered = wait_condition(
        &client,
        &pv("cart-tampered-signature"),
        "Verified",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    assert!(tampered.message.contains("Next: "), "{}", tampered.message);
    let expired_key = wait_condition(
        &client,
        &pv("cart-expired-key"),
        "Verified",
        "False",
        Some("KeyExpired"),
        WAIT,
    )
    .await;
    assert!(
        expired_key.message.contains("2025-03-31"),
        "{}",
        expired_key.message
    );
    wait_condition(
        &client,
        &pv("cart-inline-envelope"),
        "Verified",
        "True",
        None,
        WAIT,
    )
    .await;
    // Its host, bundles.example, is reserved for documentation: refused without a DNS query.
    wait_condition(
        &client,
        &pv("cart-from-url"),
        "SourceAvailable",
        "False",
        Some("SourceHostReserved"),
        WAIT,
    )
    .await;
    wait_condition(
        &client,
        &pv("cart-from-url"),
        "Verified",
        "False",
        Some("SourceUnavailable"),
        WAIT,
    )
    .await;

    // Events tell the story in kubectl describe.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(client.clone(), "shop");
    cluster::wait_until(
        WAIT,
        "a VerificationFailed Event for cart-tampered-signature",
        || async {
            events.list(&Default::default()).await.is_ok_and(|l| {
                l.items.iter().any(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref())
                        == Some("cart-tampered-signature")
                        && e.reason.as_deref() == Some("VerificationFailed")
                        && e.type_.as_deref() == Some("Warning")
                        && e.note
                            .as_deref()
                            .is_some_and(|n| n.starts_with("SignatureInvalid"))
                })
            })
        },
    )
    .await;

    let metrics = scrape_metrics().await;
    for name in [
        "proof_verification_total{",
        "proof_verification_failures_total{",
        "proof_verification_success_rate",
        "proof_verification_duration_seconds_bucket",
        "proof_bundle_size_bytes_bucket",
        "attestor_reconcile_total{",
        "trust_anchor_expiry_timestamp_seconds{anchor=\"example-ci-signing-2026\"}",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
}

#[tokio::test]
async fn a_deleted_anchor_fails_verification_until_it_is_added_again() {
    let Some(client) = setup().await else { return };
    let f = Fixture::new(client.clone(), "anchor-deleted").await;
    let pv = verification(&f.ns, "cart", f.issuer_name(), from_config_map("valid.zip"));
    apply(&client, pv.clone()).await;
    wait_condition(&client, &pv, "Verified", "True", None, WAIT).await;

    // The issuer keeps its Ed25519 key, so it stays trusted; the proof's key is gone.
    delete(&client, &f.anchors[0]).await;
    let failed = wait_condition(
        &client,
        &pv,
        "Verified",
        "False",
        Some("TrustAnchorNotFound"),
        WAIT,
    )
    .await;
    assert!(
        failed.message.contains("add it with a TrustAnchor"),
        "{}",
        failed.message
    );
    assert!(
        failed
            .message
            .contains(&format!("TrustedIssuer {}", f.issuer_name())),
        "{}",
        failed.message
    );
    wait_condition(&client, &f.issuer, "Trusted", "True", None, WAIT).await;

    apply(&client, f.anchors[0].clone()).await;
    wait_condition(&client, &pv, "Verified", "True", None, WAIT).await;
    f.cleanup().await;
}

#[tokio::test]
async fn an_issuer_without_approval_is_not_trusted_until_approved() {
    let Some(client) = setup().await else { return };
    let f = Fixture::new(client.clone(), "unapproved").await;
    let names: Vec<String> = f
        .anchors
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let unapproved = issuer(&format!("{}-unapproved", f.ns), &names, false);
    apply(&client, unapproved.clone()).await;
    let name = unapproved["metadata"]["name"].as_str().unwrap();
    let pv = verification(&f.ns, "cart", name, from_config_map("valid.zip"));
    apply(&client, pv.clone()).await;

    let trusted = wait_condition(
        &client,
        &unapproved,
        "Trusted",
        "False",
        Some("ApprovalMissing"),
        WAIT,
    )
    .await;
    assert!(
        trusted.message.contains("never trusted"),
        "{}",
        trusted.message
    );
    let v = wait_condition(
        &client,
        &pv,
        "Verified",
        "False",
        Some("IssuerNotTrusted"),
        WAIT,
    )
    .await;
    assert!(
        v.message
            .contains(&format!("kubectl describe trustedissuer {name}")),
        "{}",
        v.message
    );
    assert_eq!(
        condition(&get(&client, &pv).await, "SignatureValid")
            .unwrap()
            .reason,
        "NotRun"
    );

    // Approving it is a change of the issuer: the verification follows without being touched.
    apply(&client, issuer(name, &names, true)).await;
    wait_condition(
        &client,
        &unapproved,
        "Trusted",
        "True",
        Some("Approved"),
        WAIT,
    )
    .await;
    wait_condition(&client, &pv, "Verified", "True", None, WAIT).await;

    delete(&client, &unapproved).await;
    f.cleanup().await;
}

#[tokio::test]
async fn tampered_and_unreadable_bundles_fail_with_their_reasons() {
    let Some(client) = setup().await else { return };
    let f = Fixture::new(client.clone(), "tampered").await;
    let tampered = verification(
        &f.ns,
        "tampered",
        f.issuer_name(),
        from_config_map("tampered-signature.zip"),
    );
    let garbage = verification(
        &f.ns,
        "garbage",
        f.issuer_name(),
        from_config_map("garbage.zip"),
    );
    let missing_key = verification(
        &f.ns,
        "missing-key",
        f.issuer_name(),
        from_config_map("nope.zip"),
    );
    let other_image = {
        let mut pv = verification(
            &f.ns,
            "other-image",
            f.issuer_name(),
            from_config_map("valid.zip"),
        );
        pv["spec"]["image"] = json!("evil.example/cart:1");
        pv
    };
    for pv in [&tampered, &garbage, &missing_key, &other_image] {
        apply(&client, pv.clone()).await;
    }
    wait_condition(
        &client,
        &tampered,
        "Verified",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    wait_condition(
        &client,
        &tampered,
        "SignatureValid",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    wait_condition(
        &client,
        &garbage,
        "Verified",
        "False",
        Some("InputUnreadable"),
        WAIT,
    )
    .await;
    let key = wait_condition(
        &client,
        &missing_key,
        "SourceAvailable",
        "False",
        Some("KeyNotFound"),
        WAIT,
    )
    .await;
    assert!(
        key.message.contains("valid.zip"),
        "lists the keys it has: {}",
        key.message
    );
    wait_condition(
        &client,
        &other_image,
        "Verified",
        "False",
        Some("ImageNotInScope"),
        WAIT,
    )
    .await;
    f.cleanup().await;
}

#[tokio::test]
async fn key_rotation_overlap_flips_nothing_and_the_old_key_expires_on_time() {
    let Some(client) = setup().await else { return };
    let f = Fixture::new(client.clone(), "rotation").await;
    // The retired key signed expired-key.zip; it is trusted for a few more seconds.
    // Whole seconds: status times (metav1.Time) carry no fractions.
    let expires = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 20).unwrap();
    let old = anchor(
        &format!("{}-old", f.ns),
        "keys/test-only-retired.pub.pem",
        "AttestationSigning",
        Some(("2024-01-01T00:00:00Z", &expires.to_string())),
    );
    apply(&client, old.clone()).await;
    let mut names: Vec<String> = f
        .anchors
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    names.push(old["metadata"]["name"].as_str().unwrap().to_string());
    apply(&client, issuer(f.issuer_name(), &names, true)).await;

    let current = verification(
        &f.ns,
        "current",
        f.issuer_name(),
        from_config_map("valid.zip"),
    );
    let retired = verification(
        &f.ns,
        "retired",
        f.issuer_name(),
        from_config_map("expired-key.zip"),
    );
    apply(&client, current.clone()).await;
    apply(&client, retired.clone()).await;
    let before = wait_condition(&client, &current, "Verified", "True", None, WAIT).await;
    wait_condition(&client, &retired, "Verified", "True", None, WAIT).await;
    let until = get(&client, &retired).await.data["status"]["validUntil"].clone();
    assert_eq!(
        until
            .as_str()
            .map(|t| t.parse::<jiff::Timestamp>().unwrap()),
        Some(expires)
    );
    wait_condition(
        &client,
        &old,
        "ExpiringSoon",
        "True",
        Some("ExpiresSoon"),
        WAIT,
    )
    .await;

    // At the expiry instant: the anchor, and the proof signed with it, flip by themselves.
    wait_condition(&client, &old, "Ready", "False", Some("Expired"), WAIT).await;
    wait_condition(
        &client,
        &retired,
        "Verified",
        "False",
        Some("KeyExpired"),
        WAIT,
    )
    .await;
    // The overlap did its job: the issuer and the proof signed with the new key never flipped.
    wait_condition(&client, &f.issuer, "Trusted", "True", None, WAIT).await;
    let after = condition(&get(&client, &current).await, "Verified").unwrap();
    assert_eq!(after.status, "True");
    assert_eq!(after.last_transition_time, before.last_transition_time);

    delete(&client, &old).await;
    f.cleanup().await;
}

#[tokio::test]
async fn a_bundle_server_outage_is_a_condition_not_a_verdict() {
    let Some(client) = setup().await else { return };
    let f = Fixture::new(client.clone(), "outage").await;
    let up = Arc::new(AtomicBool::new(true));
    let bundle = read_example("bundles/valid.zip");
    let server = {
        let up = up.clone();
        support::TestServer::http(move |_| {
            if up.load(Ordering::SeqCst) {
                support::Reply::ok(bundle.clone())
            } else {
                support::Reply::status(503)
            }
        })
        .await
    };
    let mut pv = verification(
        &f.ns,
        "from-url",
        f.issuer_name(),
        json!({"url": {"url": server.url("/valid.zip")}}),
    );
    pv["spec"]["reverifyInterval"] = json!("2s");
    apply(&client, pv.clone()).await;
    wait_condition(&client, &pv, "Verified", "True", None, WAIT).await;

    up.store(false, Ordering::SeqCst);
    let down = wait_condition(
        &client,
        &pv,
        "SourceAvailable",
        "False",
        Some("SourceUnavailable"),
        WAIT,
    )
    .await;
    assert!(down.message.contains("503"), "{}", down.message);
    let kept = condition(&get(&client, &pv).await, "Verified").unwrap();
    assert_eq!(
        kept.status, "True",
        "an outage must not flip a verified proof: {}",
        kept.message
    );
    assert!(
        kept.message.contains("last verdict stands"),
        "{}",
        kept.message
    );

    // A verification that starts during the outage is not verified, and recovers with the source.
    let late = verification(
        &f.ns,
        "late",
        f.issuer_name(),
        json!({"url": {"url": server.url("/valid.zip")}}),
    );
    apply(&client, late.clone()).await;
    wait_condition(
        &client,
        &late,
        "Verified",
        "False",
        Some("SourceUnavailable"),
        WAIT,
    )
    .await;

    up.store(true, Ordering::SeqCst);
    wait_condition(
        &client,
        &pv,
        "SourceAvailable",
        "True",
        Some("Fetched"),
        WAIT,
    )
    .await;
    wait_condition(&client, &late, "Verified", "True", None, WAIT).await;
    f.cleanup().await;
}

/// The conformance suite's SLSA provenance v1 bundle over `a.txt`, signed keylessly by a GitHub
/// Actions workflow and logged in Rekor; its certificate expired long ago, but the log's
/// integrated time proves it was valid at signing.
const SIGSTORE_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sigstore/tests/data/sigstore-conformance"
);
const SIGSTORE_ARTIFACT: &str =
    "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
const SIGSTORE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn sigstore_verification(ns: &str, name: &str, issuer: &str, digest: &str, pt: &str) -> Value {
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "artifactDigest": digest,
            "source": {
                "configMapKeyRef": {"name": "sigstore", "key": "bundle.sigstore.json"},
                "format": "SigstoreBundle",
            },
            "issuerRef": {"name": issuer},
            "checks": {"predicateType": pt},
        },
    })
}

#[tokio::test]
async fn sigstore_bundles_verify_keyless_and_fail_with_their_reasons() {
    let Some(client) = setup().await else { return };
    let ns = unique("sigstore");
    apply(
        &client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let bundle = std::fs::read_to_string(format!(
        "{SIGSTORE_DATA}/cases/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"
    ))
    .unwrap();
    apply(
        &client,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "sigstore", "namespace": ns},
            "data": {"bundle.sigstore.json": bundle},
        }),
    )
    .await;
    let root =
        std::fs::read_to_string(format!("{SIGSTORE_DATA}/trusted_root.public-good.json")).unwrap();
    let anchor = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "TrustAnchor",
        "metadata": {"name": format!("{ns}-public-good")},
        "spec": {"sigstoreTrustedRoot": root},
    });
    apply(&client, anchor.clone()).await;
    let ready = wait_condition(&client, &anchor, "Ready", "True", Some("Valid"), WAIT).await;
    assert!(
        ready.message.contains("Sigstore trusted root"),
        "{}",
        ready.message
    );
    let status = get(&client, &anchor).await;
    assert!(
        status.data["status"]["sigstore"]["certificateAuthorities"]
            .as_i64()
            .unwrap()
            >= 1,
        "{status:?}"
    );

    let keyless_issuer = |name: &str, subject: Value| {
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "TrustedIssuer",
            "metadata": {"name": name},
            "spec": {
                "issuer": "https://github.com/sigstore-conformance",
                "anchors": [format!("{ns}-public-good")],
                "identities": [subject],
                "approval": {"approvedBy": "runtime-tests", "reason": "test fixture"},
                "scope": {"images": ["*"]},
            },
        })
    };
    let good = keyless_issuer(
        &format!("{ns}-beacon"),
        json!({"issuer": GITHUB_ISSUER, "subject": SIGSTORE_IDENTITY}),
    );
    let other = keyless_issuer(
        &format!("{ns}-other"),
        json!({"issuer": GITHUB_ISSUER, "subjectRegExp": r"https://github\.com/org/repo/.*"}),
    );
    let broken = keyless_issuer(
        &format!("{ns}-broken"),
        json!({"issuer": GITHUB_ISSUER, "subjectRegExp": "https://github.com/(unclosed"}),
    );
    for i in [&good, &other, &broken] {
        apply(&client, i.clone()).await;
    }
    let invalid = wait_condition(
        &client,
        &broken,
        "Trusted",
        "False",
        Some("IdentityInvalid"),
        WAIT,
    )
    .await;
    assert!(
        invalid.message.contains("subjectRegExp"),
        "{}",
        invalid.message
    );

    let slsa = "https://slsa.dev/provenance/v1";
    let good_name = good["metadata"]["name"].as_str().unwrap();
    let verified = sigstore_verification(&ns, "verified", good_name, SIGSTORE_ARTIFACT, slsa);
    let wrong_identity = sigstore_verification(
        &ns,
        "wrong-identity",
        other["metadata"]["name"].as_str().unwrap(),
        SIGSTORE_ARTIFACT,
        slsa,
    );
    let wrong_digest = sigstore_verification(
        &ns,
        "wrong-digest",
        good_name,
        &format!("sha256:{}", "0".repeat(64)),
        slsa,
    );
    let wrong_predicate = sigstore_verification(
        &ns,
        "wrong-predicate",
        good_name,
        SIGSTORE_ARTIFACT,
        "https://spdx.dev/Document",
    );
    for pv in [&verified, &wrong_identity, &wrong_digest, &wrong_predicate] {
        apply(&client, pv.clone()).await;
    }

    wait_condition(
        &client,
        &verified,
        "Verified",
        "True",
        Some("Verified"),
        WAIT,
    )
    .await;
    let status = get(&client, &verified).await;
    assert_eq!(status.data["status"]["signerIdentity"], SIGSTORE_IDENTITY);
    assert_eq!(status.data["status"]["signerOidcIssuer"], GITHUB_ISSUER);
    for check in [
        "SignatureValid",
        "IdRecomputed",
        "RekorInclusion",
        "TimestampValid",
    ] {
        assert_eq!(
            condition(&status, check).unwrap().status,
            "True",
            "{check}: {status:?}"
        );
    }

    let v = wait_condition(
        &client,
        &wrong_identity,
        "Verified",
        "False",
        Some("IdentityMismatch"),
        WAIT,
    )
    .await;
    assert!(v.message.contains("Next:"), "{}", v.message);
    wait_condition(
        &client,
        &wrong_digest,
        "Verified",
        "False",
        Some("ArtifactDigestMismatch"),
        WAIT,
    )
    .await;
    let v = wait_condition(
        &client,
        &wrong_predicate,
        "Verified",
        "False",
        Some("StatementMismatch"),
        WAIT,
    )
    .await;
    assert!(v.message.contains("predicateType"), "{}", v.message);
    assert_eq!(
        condition(&get(&client, &wrong_predicate).await, "IdRecomputed")
            .unwrap()
            .status,
        "False"
    );

    for i in [&good, &other, &broken] {
        delete(&client, i).await;
    }
    delete(&client, &anchor).await;
    delete(
        &client,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
}
