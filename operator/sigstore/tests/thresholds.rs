//! How much evidence a bundle must carry, counted as sigstore-go counts it
//! (`WithTransparencyLog(n)`, `WithSignedTimestamps(n)`, `WithSignedCertificateTimestamps(n)`):
//! on real conformance bundles, re-shaped the way real producers shape them (GitHub's
//! instance for private repositories logs nothing and timestamps only).

use std::path::{Path, PathBuf};

use attestor_sigstore::{
    Artifact, IdentityRule, Matcher, Options, Policy, Thresholds, TrustedRoot, verify_bundle,
    verify_bundle_with,
};
use serde_json::Value;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance")
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn case(name: &str) -> Value {
    json(&data().join("cases").join(name).join("bundle.sigstore.json"))
}

fn root_of(value: &Value) -> TrustedRoot {
    TrustedRoot::from_json(&serde_json::to_vec(value).unwrap()).unwrap()
}

fn public_good() -> Value {
    json(&data().join("trusted_root.public-good.json"))
}

fn rekor2_root() -> Value {
    json(&data().join("cases/rekor2-timestamp-with-embedded-cert/trusted_root.json"))
}

fn policy() -> Policy {
    Policy {
        identities: vec![IdentityRule {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(IDENTITY.into()),
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::Bytes(std::fs::read(data().join("cases/a.txt")).unwrap()),
        predicate_type: None,
    }
}

fn verify(bundle: &Value, root: &Value, thresholds: Option<Thresholds>) -> Result<(), String> {
    let root = root_of(root);
    let bytes = serde_json::to_vec(bundle).unwrap();
    let result = match thresholds {
        None => verify_bundle(&bytes, &root, &policy()),
        Some(thresholds) => verify_bundle_with(
            &bytes,
            &root,
            &policy(),
            &Options {
                thresholds,
                ..Options::for_root(&root)
            },
        ),
    };
    result
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", e.reason()))
}

fn reason(r: Result<(), String>) -> String {
    r.err()
        .map(|e| e.split(':').next().unwrap().to_string())
        .unwrap_or("Verified".into())
}

/// A trusted root like GitHub's: certificate and timestamp authorities, no transparency log.
fn without_logs(mut root: Value) -> Value {
    root["tlogs"] = Value::Array(vec![]);
    root
}

#[test]
fn a_timestamp_only_bundle_verifies_against_a_root_without_logs() {
    // The Rekor v2 bundle with its log entry removed: what GitHub's instance makes.
    let mut bundle = case("rekor2-timestamp-with-embedded-cert");
    bundle["verificationMaterial"]["tlogEntries"] = Value::Array(vec![]);
    let root = without_logs(rekor2_root());
    assert_eq!(reason(verify(&bundle, &root, None)), "Verified");
    // Against the root with logs, an entry is required.
    assert_eq!(
        reason(verify(&bundle, &rekor2_root(), None)),
        "TlogEntryInvalid"
    );
    // ... unless the policy says none is (sigstore-go with WithSignedTimestamps(1) only).
    let timestamps_only = Thresholds {
        tlog_entries: Some(0),
        signed_timestamps: Some(1),
        scts: None,
    };
    assert_eq!(
        reason(verify(&bundle, &rekor2_root(), Some(timestamps_only))),
        "Verified"
    );
    // Two timestamps required, one authority: not met.
    let two = Thresholds {
        signed_timestamps: Some(2),
        ..timestamps_only
    };
    assert_eq!(
        reason(verify(&bundle, &root, Some(two))),
        "TimestampInvalid"
    );
    // The same timestamp twice counts once.
    let mut doubled = bundle.clone();
    let ts = doubled["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
        .clone();
    doubled["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array_mut()
        .unwrap()
        .push(ts);
    let e = verify(&doubled, &root, Some(two)).unwrap_err();
    assert!(e.contains("same authority"), "{e}");
    // No timestamp at all: nothing says when the certificate was used.
    let mut bare = bundle.clone();
    bare["verificationMaterial"]["timestampVerificationData"] = serde_json::json!({});
    assert_eq!(reason(verify(&bare, &root, None)), "TimestampInvalid");
}

#[test]
fn an_entry_of_a_log_the_root_does_not_know_is_not_counted() {
    // The root without logs: the bundle's Rekor v2 entry is skipped, the timestamp decides.
    let bundle = case("rekor2-timestamp-with-embedded-cert");
    assert_eq!(
        reason(verify(&bundle, &without_logs(rekor2_root()), None)),
        "Verified"
    );
    // Required anyway: the skipped entry is the reason given.
    let one = Thresholds {
        tlog_entries: Some(1),
        ..Thresholds::default()
    };
    let e = verify(&bundle, &without_logs(rekor2_root()), Some(one)).unwrap_err();
    assert!(
        e.starts_with("TlogEntryInvalid") && e.contains("not in the trusted root"),
        "{e}"
    );
}

#[test]
fn a_timestamp_over_something_else_is_not_counted_but_does_not_fail_a_logged_bundle() {
    // happy-path-v0.3 has a Rekor v1 entry with a signed entry timestamp; give it a
    // timestamp that covers another signature (the Rekor v2 case's).
    let mut bundle = case("happy-path-v0.3");
    let foreign = case("rekor2-timestamp-with-embedded-cert")["verificationMaterial"]
        ["timestampVerificationData"]
        .clone();
    bundle["verificationMaterial"]["timestampVerificationData"] = foreign;
    // As sigstore-go with WithTransparencyLog(1) and WithObserverTimestamps(1): the entry's
    // integrated time is the signing time, the foreign timestamp is ignored.
    assert_eq!(reason(verify(&bundle, &public_good(), None)), "Verified");
    // Where a signed timestamp is required, it is the reason.
    let needs = Thresholds {
        signed_timestamps: Some(1),
        ..Thresholds::default()
    };
    let e = verify(&bundle, &public_good(), Some(needs)).unwrap_err();
    assert!(e.starts_with("TimestampInvalid"), "{e}");
}

#[test]
fn entry_and_sct_thresholds() {
    let bundle = case("happy-path-v0.3");
    assert_eq!(reason(verify(&bundle, &public_good(), None)), "Verified");
    let two = Thresholds {
        tlog_entries: Some(2),
        ..Thresholds::default()
    };
    let e = verify(&bundle, &public_good(), Some(two)).unwrap_err();
    assert!(
        e.contains("1 verified transparency log entries, 2 required"),
        "{e}"
    );
    // A duplicated entry cannot be counted twice: refused outright, as sigstore-go does.
    let mut doubled = bundle.clone();
    let entry = doubled["verificationMaterial"]["tlogEntries"][0].clone();
    doubled["verificationMaterial"]["tlogEntries"]
        .as_array_mut()
        .unwrap()
        .push(entry);
    let e = verify(&doubled, &public_good(), Some(two)).unwrap_err();
    assert!(
        e.starts_with("TlogEntryInvalid") && e.contains("twice"),
        "{e}"
    );
    // SCTs: the invalid-ct-key case fails on its SCT, and passes when none is required
    // (sigstore-go without WithSignedCertificateTimestamps).
    let dir = data().join("cases/invalid-ct-key_fail");
    let bundle = json(&dir.join("bundle.sigstore.json"));
    let root = json(&dir.join("trusted_root.json"));
    assert_eq!(reason(verify(&bundle, &root, None)), "SctInvalid");
    let no_sct = Thresholds {
        scts: Some(0),
        ..Thresholds::default()
    };
    assert_eq!(reason(verify(&bundle, &root, Some(no_sct))), "Verified");
}
