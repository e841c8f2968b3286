use std::sync::Arc;

use attestor_sigstore::cosign::TrustedKey;
use attestor_sigstore::{Matcher, TlogPolicy, TrustedRoot};

use super::*;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sigstore/tests/data/sigstore-conformance"
);
/// The conformance suite's in-toto (SLSA provenance v1) bundle over `a.txt`.
const ARTIFACT: &str = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SLSA: &str = "https://slsa.dev/provenance/v1";

fn bundle() -> Vec<u8> {
    std::fs::read(format!(
        "{DATA}/cases/happy-path-intoto-in-dsse-v3/bundle.sigstore.json"
    ))
    .unwrap()
}

fn roots() -> Vec<UsableRoot> {
    let json = std::fs::read(format!("{DATA}/trusted_root.public-good.json")).unwrap();
    vec![UsableRoot {
        anchor: "sigstore-public-good".into(),
        root: Arc::new(TrustedRoot::from_json(&json).unwrap()),
        not_after: Some("2030-01-01T00:00:00Z".parse().unwrap()),
    }]
}

fn identity(subject: Matcher) -> Vec<IdentityRule> {
    vec![IdentityRule {
        issuer: Matcher::Exact(ISSUER.into()),
        subject,
        extensions: Vec::new(),
    }]
}

fn request<'a>(digest: &'a str, predicate_type: Option<&'a str>) -> Request<'a> {
    Request {
        artifact_digest: digest,
        predicate_type,
        max_age: None,
        now: "2026-12-01T00:00:00Z".parse().unwrap(),
        tlog: TlogPolicy::Required,
    }
}

fn status_of(report: &VerificationReport, name: CheckName) -> CheckStatus {
    report.check(name).unwrap().status
}

#[test]
fn a_conformance_bundle_verifies_with_its_identity_long_after_the_certificate_expired() {
    let checked = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(IDENTITY.into())),
        &[],
        &request(ARTIFACT, Some(SLSA)),
    )
    .unwrap();
    let r = &checked.report;
    assert!(r.verified, "{r:?}");
    assert_eq!(r.reason, "Verified");
    assert_eq!(
        checked.keyless,
        Some((IDENTITY.to_string(), ISSUER.to_string()))
    );
    assert_eq!(r.checks.len(), 5);
    assert!(
        r.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{r:?}"
    );
    assert!(
        r.check(CheckName::IdRecomputed)
            .unwrap()
            .message
            .contains(SLSA)
    );
    assert_eq!(r.valid_until, Some("2030-01-01T00:00:00Z".parse().unwrap()));
}

#[test]
fn a_subject_pattern_matches_the_workflow() {
    let pattern = Matcher::regex(
        r"https://github\.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/\.github/workflows/.*@refs/heads/main",
    )
    .unwrap();
    let checked = check(
        &bundle(),
        &roots(),
        &identity(pattern),
        &[],
        &request(ARTIFACT, None),
    )
    .unwrap();
    assert!(checked.report.verified, "{:?}", checked.report);
}

#[test]
fn another_identity_fails_the_signature_check() {
    let other = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3";
    let checked = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(other.into())),
        &[],
        &request(ARTIFACT, Some(SLSA)),
    )
    .unwrap();
    let r = &checked.report;
    assert!(!r.verified);
    assert_eq!(r.reason, "IdentityMismatch");
    assert_eq!(checked.keyless, None);
    assert_eq!(status_of(r, CheckName::SignatureValid), CheckStatus::Fail);
    assert_eq!(status_of(r, CheckName::IdRecomputed), CheckStatus::Skipped);
    assert!(r.message.contains("sigstore-public-good"), "{}", r.message);
}

#[test]
fn another_artifact_fails_the_subject_check() {
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let checked = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(IDENTITY.into())),
        &[],
        &request(other, None),
    )
    .unwrap();
    assert!(!checked.report.verified);
    assert_eq!(checked.report.reason, "ArtifactDigestMismatch");
    assert_eq!(
        status_of(&checked.report, CheckName::IdRecomputed),
        CheckStatus::Fail
    );
}

#[test]
fn another_predicate_type_fails_the_statement_check() {
    let checked = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(IDENTITY.into())),
        &[],
        &request(ARTIFACT, Some("https://spdx.dev/Document")),
    )
    .unwrap();
    assert!(!checked.report.verified);
    assert_eq!(checked.report.reason, "StatementMismatch");
    assert_eq!(
        status_of(&checked.report, CheckName::IdRecomputed),
        CheckStatus::Fail
    );
}

#[test]
fn a_signature_older_than_max_age_is_too_old() {
    let mut req = request(ARTIFACT, None);
    req.max_age = Some(SignedDuration::from_hours(24 * 30));
    let checked = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(IDENTITY.into())),
        &[],
        &req,
    )
    .unwrap();
    assert_eq!(checked.report.reason, "TimestampTooOld");
    assert_eq!(
        status_of(&checked.report, CheckName::TimestampValid),
        CheckStatus::Fail
    );
}

#[test]
fn without_roots_or_identities_nothing_verifies() {
    let ids = identity(Matcher::Exact(IDENTITY.into()));
    let r = check(&bundle(), &[], &ids, &[], &request(ARTIFACT, None)).unwrap();
    assert_eq!(r.report.reason, "TrustedRootMissing");
    let r = check(&bundle(), &roots(), &[], &[], &request(ARTIFACT, None)).unwrap();
    assert_eq!(r.report.reason, "IdentitiesMissing");
}

#[test]
fn a_tampered_log_entry_fails_rekor_inclusion_and_junk_is_unreadable() {
    let tampered = std::fs::read(format!(
        "{DATA}/cases/intoto-log-entry-mismatch_fail/bundle.sigstore.json"
    ))
    .unwrap();
    let ids = identity(Matcher::Exact(IDENTITY.into()));
    let r = check(&tampered, &roots(), &ids, &[], &request(ARTIFACT, None)).unwrap();
    assert!(!r.report.verified);
    assert_eq!(check_of_reason(&r.report), r.report.reason);

    let junk = check(b"{not json", &roots(), &ids, &[], &request(ARTIFACT, None)).unwrap_err();
    assert!(junk.contains("unreadable"), "{junk}");
}

/// The reason on the failed check is the report's reason: one failure, one place.
fn check_of_reason(report: &VerificationReport) -> String {
    report
        .checks
        .iter()
        .find(|c| c.status == CheckStatus::Fail)
        .map(|c| c.reason.clone())
        .unwrap()
}

#[test]
fn every_verifier_error_maps_to_a_check() {
    let e = SigstoreError::InclusionProofInvalid("x".into());
    assert_eq!(check_of(&e), CheckName::MerklePathValid);
    let e = SigstoreError::SetInvalid("x".into());
    assert_eq!(check_of(&e), CheckName::RekorInclusion);
    let e = SigstoreError::NoSigningTime("x".into());
    assert_eq!(check_of(&e), CheckName::TimestampValid);
    let e = SigstoreError::StatementMismatch("x".into());
    assert_eq!(check_of(&e), CheckName::IdRecomputed);
    let e = SigstoreError::SctInvalid("x".into());
    assert_eq!(check_of(&e), CheckName::SignatureValid);
}

/// `spec.artifactDigest` in another algorithm than the statement's subjects: refused with the
/// digest compared, never passed on a prefix or another algorithm's value.
#[test]
fn sha384_and_sha512_artifact_digests_are_compared_in_their_algorithm() {
    let sha512 = format!("sha512:{}", "d2".repeat(64));
    let checked = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(IDENTITY.into())),
        &[],
        &request(&sha512, Some(SLSA)),
    )
    .unwrap();
    assert!(!checked.report.verified);
    assert_eq!(checked.report.reason, "ArtifactDigestMismatch");
    assert!(
        checked.report.message.contains("sha512"),
        "{}",
        checked.report.message
    );
    let malformed = check(
        &bundle(),
        &roots(),
        &identity(Matcher::Exact(IDENTITY.into())),
        &[],
        &request("sha384:abc", Some(SLSA)),
    )
    .unwrap();
    assert_eq!(malformed.report.reason, "ArtifactDigestMismatch");
    assert!(
        malformed.report.message.contains("96 lower-case hex"),
        "{}",
        malformed.report.message
    );
}

fn managed_key() -> SigningKey {
    let pem =
        std::fs::read_to_string(format!("{DATA}/cases/managed-key-happy-path/key.pub")).unwrap();
    SigningKey {
        key: TrustedKey::from_pem("ci-key", &pem).unwrap(),
        expires: Some("2031-01-01T00:00:00Z".parse().unwrap()),
    }
}

/// `cosign sign-blob --key --bundle`: a key-signed bundle verifies with the issuer's key, its
/// Rekor entry against the issuer's trusted root, and holds until the key's anchor expires.
#[test]
fn key_signed_bundles_verify_with_the_issuers_keys() {
    let bundle = std::fs::read(format!(
        "{DATA}/cases/managed-key-happy-path/bundle.sigstore.json"
    ))
    .unwrap();
    let key = managed_key();
    let checked = check(
        &bundle,
        &roots(),
        &[],
        std::slice::from_ref(&key),
        &request(ARTIFACT, None),
    )
    .unwrap();
    let r = &checked.report;
    assert!(r.verified, "{r:?}");
    assert_eq!(checked.keyless, None);
    assert!(
        r.message.contains("key sha256:") && r.message.contains("(ci-key)"),
        "{}",
        r.message
    );
    assert_eq!(r.valid_until, key.expires);
    assert!(
        r.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{r:?}"
    );

    // No key: said, with what to add.
    let r = check(&bundle, &roots(), &[], &[], &request(ARTIFACT, None))
        .unwrap()
        .report;
    assert_eq!(r.reason, "KeyMismatch");
    assert!(r.message.contains("AttestationSigning"), "{}", r.message);
    // Another key: the signature does not verify.
    let other = SigningKey {
        key: TrustedKey::from_pem(
            "other",
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/keys/test-only-signing.pub.pem"
            ))
            .unwrap(),
        )
        .unwrap(),
        expires: None,
    };
    let r = check(
        &bundle,
        &roots(),
        &[],
        std::slice::from_ref(&other),
        &request(ARTIFACT, None),
    )
    .unwrap()
    .report;
    assert_eq!(r.reason, "SignatureInvalid", "{r:?}");
    // Among several keys, the one that signed decides.
    let r = check(
        &bundle,
        &roots(),
        &[],
        &[other, key.clone()],
        &request(ARTIFACT, None),
    )
    .unwrap()
    .report;
    assert!(r.verified, "{r:?}");
    // Its log entry needs a root that lists the log, when the log is required.
    let r = check(
        &bundle,
        &[],
        &[],
        std::slice::from_ref(&key),
        &request(ARTIFACT, None),
    )
    .unwrap()
    .report;
    assert_eq!(r.reason, "TlogEntryInvalid", "{r:?}");
    // Another artifact: refused on the artifact, not on the key.
    let other_digest = format!("sha256:{}", "0".repeat(64));
    let r = check(
        &bundle,
        &roots(),
        &[],
        std::slice::from_ref(&key),
        &request(&other_digest, None),
    )
    .unwrap()
    .report;
    assert_eq!(r.reason, "ArtifactDigestMismatch", "{r:?}");
}
