//! Every offline case of the sigstore-conformance suite, through the library, with
//! the reason each failing case must be refused for (the CLI run is
//! e2e/sigstore-conformance.sh).

use std::path::{Path, PathBuf};

use attestor_core::keys::PublicKey;
use attestor_sigstore::{
    Artifact, IdentityRule, Matcher, Policy, SigstoreError, TrustedRoot, verify_bundle,
};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn key(path: &Path) -> Option<PublicKey> {
    let text = String::from_utf8(read(path)).unwrap();
    let blocks = attestor_core::pem::parse_pem(&text).ok()?;
    PublicKey::from_spki_der(&blocks[0].der).ok()
}

/// Runs one case; `Ok` when it verified.
fn run(name: &str) -> Result<(), SigstoreError> {
    let dir = data().join("cases").join(name);
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        data().join("trusted_root.public-good.json")
    };
    let root = TrustedRoot::from_json(&read(&root_path))?;
    let artifact = if dir.join("artifact").exists() {
        read(&dir.join("artifact"))
    } else {
        read(&data().join("cases/a.txt"))
    };
    let text = |f: &str, default: &str| {
        std::fs::read_to_string(dir.join(f)).unwrap_or_else(|_| default.to_string())
    };
    let (identities, key) = if dir.join("key.pub").exists() {
        match key(&dir.join("key.pub")) {
            Some(k) => (vec![], Some(k)),
            // The wrong-key case's key is not even valid base64: refused as input.
            None => return Err(SigstoreError::KeyMismatch("unreadable key".into())),
        }
    } else {
        let rule = IdentityRule {
            issuer: Matcher::Exact(text("issuer", ISSUER)),
            subject: Matcher::Exact(text("identity", IDENTITY)),
            extensions: Vec::new(),
        };
        (vec![rule], None)
    };
    let policy = Policy {
        identities,
        key,
        artifact: Artifact::Bytes(artifact),
        predicate_type: None,
    };
    verify_bundle(&read(&dir.join("bundle.sigstore.json")), &root, &policy).map(|_| ())
}

/// The reason each failing case is refused for.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    ("bundle-empty-certificate-chain_fail", "BundleInvalid"),
    ("bundle-from-wrong-instance_fail", "TlogEntryInvalid"),
    ("bundle-invalid-base64-signature_fail", "BundleMalformed"),
    ("bundle-malformed-json_fail", "BundleMalformed"),
    ("bundle-negative-log-index_fail", "TlogEntryInvalid"),
    ("bundle-unknown-version_fail", "BundleVersionUnsupported"),
    // Its chain's root is ignored (only the leaf is used, as in sigstore-go); the signature
    // verifies with the key's scheme, and its inclusion proof then has no checkpoint.
    ("bundle-with-root-cert_fail", "CheckpointInvalid"),
    ("checkpoint-bad-keyhint_fail", "CheckpointInvalid"),
    ("checkpoint-wrong-roothash_fail", "CheckpointInvalid"),
    ("dsse-invalid-sig_fail", "SignatureInvalid"),
    ("dsse-mismatch-envelope_fail", "TlogEntryInvalid"),
    ("dsse-mismatch-sig_fail", "TlogEntryInvalid"),
    (
        "inclusion-proof-corrupted-hash_fail",
        "InclusionProofInvalid",
    ),
    ("incorrect-public-key_fail", "TlogEntryInvalid"),
    ("integrated-time-in-future_fail", "CertificateChainInvalid"),
    ("intoto-expired-certificate_fail", "CertificateChainInvalid"),
    ("intoto-log-entry-mismatch_fail", "TlogEntryInvalid"),
    (
        "intoto-missing-inclusion-proof_fail",
        "InclusionProofInvalid",
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "CertificateChainInvalid",
    ),
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "CertificateChainInvalid",
    ),
    ("invalid-checkpoint-signature_fail", "CheckpointInvalid"),
    ("invalid-ct-key_fail", "SctInvalid"),
    ("invalid-inclusion-proof_fail", "InclusionProofInvalid"),
    ("managed-key-no-key_fail", "KeyMismatch"),
    ("managed-key-wrong-key_fail", "KeyMismatch"),
    ("message-digest-mismatch_fail", "ArtifactDigestMismatch"),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        "CheckpointInvalid",
    ),
    ("rekor2-checkpoint-missing-origin_fail", "CheckpointInvalid"),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        "CheckpointInvalid",
    ),
    ("rekor2-checkpoint-missing-size_fail", "CheckpointInvalid"),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        "CheckpointInvalid",
    ),
    ("rekor2-dsse-invalid-sig_fail", "SignatureInvalid"),
    ("rekor2-dsse-mismatch-envelope_fail", "TlogEntryInvalid"),
    ("rekor2-dsse-mismatch-sig_fail", "TlogEntryInvalid"),
    ("rekor2-no-inclusion-proof_fail", "InclusionProofInvalid"),
    ("rekor2-no-timestamp_fail", "SigningTimeNotVerified"),
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "TimestampInvalid",
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        "TimestampInvalid",
    ),
    ("rekor2-timestamp-payload-mismatch_fail", "TimestampInvalid"),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "TimestampInvalid",
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        "TimestampInvalid",
    ),
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        "CertificateChainInvalid",
    ),
    ("set-invalid-signature_fail", "SignedEntryTimestampInvalid"),
    ("signature-mismatch_fail", "SignatureInvalid"),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "TrustedRootInvalid",
    ),
    ("wrong-hashedrekord-artifact_fail", "TlogEntryInvalid"),
    ("wrong-hashedrekord-cert-and-sig_fail", "TlogEntryInvalid"),
    ("wrong-hashedrekord-entry_fail", "TlogEntryInvalid"),
    ("wrong-material_fail", "ArtifactDigestMismatch"),
];

#[test]
fn every_conformance_case_gets_its_verdict_and_reason() {
    let mut names: Vec<String> = std::fs::read_dir(data().join("cases"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 70, "the kept suite has 70 cases");
    let mut wrong = Vec::new();
    for name in &names {
        let result = run(name);
        match (name.ends_with("_fail"), &result) {
            (false, Ok(())) => {}
            (false, Err(e)) => wrong.push(format!("{name}: expected to verify: {e}")),
            (true, Ok(())) => wrong.push(format!("{name}: verified but must fail")),
            (true, Err(e)) => {
                let want = EXPECTED_FAILURES
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, r)| *r)
                    .unwrap_or_else(|| panic!("no expected reason for {name}"));
                if e.reason() != want {
                    wrong.push(format!(
                        "{name}: reason {} ({e}), expected {want}",
                        e.reason()
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn identity_policies_exact_and_unanchored_regex_as_in_cosign() {
    let dir = data().join("cases/happy-path-v0.3");
    let root =
        TrustedRoot::from_json(&read(&data().join("trusted_root.public-good.json"))).unwrap();
    let bundle = read(&dir.join("bundle.sigstore.json"));
    let artifact = read(&data().join("cases/a.txt"));
    let policy = |identity: Matcher, issuer: Matcher| Policy {
        identities: vec![IdentityRule {
            issuer,
            subject: identity,
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::Bytes(artifact.clone()),
        predicate_type: None,
    };
    let ok = verify_bundle(
        &bundle,
        &root,
        &policy(
            Matcher::regex(r"https://github\.com/sigstore-conformance/.*@refs/heads/main").unwrap(),
            Matcher::Exact(ISSUER.into()),
        ),
    )
    .unwrap();
    assert_eq!(ok.identity.as_deref(), Some(IDENTITY));
    assert_eq!(ok.issuer.as_deref(), Some(ISSUER));
    assert_eq!(ok.bundle_version, "0.3");
    // RE2 semantics, as cosign and policy-controller match: a pattern matches anywhere in the
    // value unless it anchors itself, so a prefix pattern matches and an anchored one that
    // names only the prefix does not.
    let prefix = policy(
        Matcher::regex("https://github.com/sigstore-conformance").unwrap(),
        Matcher::Exact(ISSUER.into()),
    );
    verify_bundle(&bundle, &root, &prefix).unwrap();
    let middle = policy(
        Matcher::regex("extremely-dangerous-oidc-beacon").unwrap(),
        Matcher::regex(r"actions\.githubusercontent").unwrap(),
    );
    verify_bundle(&bundle, &root, &middle).unwrap();
    for anchored in [
        r"^https://github\.com/sigstore-conformance$",
        r"^github\.com/sigstore-conformance/.*$",
        r"\Ahttps://github\.com/sigstore-conformance\z",
    ] {
        let e = verify_bundle(
            &bundle,
            &root,
            &policy(
                Matcher::regex(anchored).unwrap(),
                Matcher::Exact(ISSUER.into()),
            ),
        )
        .unwrap_err();
        assert_eq!(e.reason(), "IdentityMismatch", "{anchored}");
    }
    let e = verify_bundle(
        &bundle,
        &root,
        &policy(
            Matcher::Exact(IDENTITY.into()),
            Matcher::Exact("https://accounts.google.com".into()),
        ),
    )
    .unwrap_err();
    assert_eq!(e.reason(), "IdentityMismatch", "{e}");
    // Plain values, as a reader compares them (no `Some("…")`, no Rust quoting).
    assert_eq!(
        e.to_string(),
        format!(
            "the signing identity does not match the policy: the certificate names {IDENTITY} \
             from OIDC issuer {ISSUER}, expected {IDENTITY} from issuer https://accounts.google.com"
        )
    );
    // The digest alone verifies a message signature too (prehashed P-256).
    let digest = attestor_sigstore::cert::sha256(&artifact);
    let mut p = policy(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
    );
    p.artifact = Artifact::sha256(digest);
    verify_bundle(&bundle, &root, &p).unwrap();
    p.artifact = Artifact::sha256([0; 32]);
    assert_eq!(
        verify_bundle(&bundle, &root, &p).unwrap_err().reason(),
        "ArtifactDigestMismatch"
    );
}

#[test]
fn any_of_several_identity_rules_may_match() {
    let dir = data().join("cases/happy-path-v0.3");
    let root =
        TrustedRoot::from_json(&read(&data().join("trusted_root.public-good.json"))).unwrap();
    let rule = |issuer: &str, subject: &str| IdentityRule {
        issuer: Matcher::Exact(issuer.into()),
        subject: Matcher::Exact(subject.into()),
        extensions: Vec::new(),
    };
    let mut p = Policy {
        identities: vec![
            rule("https://accounts.google.com", IDENTITY),
            rule(ISSUER, "https://github.com/other/repo"),
        ],
        key: None,
        artifact: Artifact::Bytes(read(&data().join("cases/a.txt"))),
        predicate_type: None,
    };
    let bundle = read(&dir.join("bundle.sigstore.json"));
    // Neither rule holds as a whole, though each half matches one of them.
    let e = verify_bundle(&bundle, &root, &p).unwrap_err();
    assert_eq!(e.reason(), "IdentityMismatch");
    assert!(e.to_string().contains(" or "), "{e}");
    p.identities.push(rule(ISSUER, IDENTITY));
    verify_bundle(&bundle, &root, &p).unwrap();
}

#[test]
fn dsse_statements_must_name_the_artifact_and_may_require_a_predicate_type() {
    let dir = data().join("cases/happy-path-intoto-in-dsse-v3");
    let root =
        TrustedRoot::from_json(&read(&data().join("trusted_root.public-good.json"))).unwrap();
    let bundle = read(&dir.join("bundle.sigstore.json"));
    let mut p = Policy {
        identities: vec![IdentityRule {
            issuer: Matcher::regex(".*").unwrap(),
            subject: Matcher::regex(".*").unwrap(),
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::Bytes(read(&data().join("cases/a.txt"))),
        predicate_type: Some("https://slsa.dev/provenance/v1".into()),
    };
    let v = verify_bundle(&bundle, &root, &p).unwrap();
    assert_eq!(
        v.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    assert_eq!(v.content, "dsse");
    p.predicate_type = Some("https://spdx.dev/Document".into());
    assert_eq!(
        verify_bundle(&bundle, &root, &p).unwrap_err().reason(),
        "StatementMismatch"
    );
    p.predicate_type = None;
    p.artifact = Artifact::Bytes(b"another artifact".to_vec());
    assert_eq!(
        verify_bundle(&bundle, &root, &p).unwrap_err().reason(),
        "ArtifactDigestMismatch"
    );
}

#[test]
fn oversized_and_hostile_inputs_are_refused_before_parsing() {
    let root =
        TrustedRoot::from_json(&read(&data().join("trusted_root.public-good.json"))).unwrap();
    let p = Policy {
        identities: vec![IdentityRule {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(IDENTITY.into()),
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::sha256([0; 32]),
        predicate_type: None,
    };
    let big = vec![b' '; attestor_sigstore::verify::MAX_BUNDLE_LEN + 1];
    assert_eq!(
        verify_bundle(&big, &root, &p).unwrap_err().reason(),
        "BundleMalformed"
    );
    for junk in [&b"{}"[..], b"[]", b"{\"mediaType\": 1}", b"\xff\xfe"] {
        assert!(verify_bundle(junk, &root, &p).unwrap_err().is_input_error());
    }
    assert_eq!(
        TrustedRoot::from_json(b"{\"mediaType\":\"x\"}")
            .unwrap_err()
            .reason(),
        "TrustedRootInvalid"
    );
}

/// npm's publish attestation: a key-signed v0.1 bundle from the npm registry, whose
/// in-toto subject names the package tarball by sha512.
#[test]
fn real_npm_publish_attestation_verifies_with_the_npm_registry_key() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real");
    let root =
        TrustedRoot::from_json(&read(&data().join("trusted_root.public-good.json"))).unwrap();
    let bundle = read(&real.join("npm-publish-sigstore-1.3.0.sigstore.json"));
    let npm_key = key(&real.join("npm-registry-attestation-key.pem")).unwrap();
    let publish = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";
    let mut p = Policy {
        identities: vec![],
        key: Some(npm_key),
        artifact: Artifact::None,
        predicate_type: Some(publish.into()),
    };
    let v = verify_bundle(&bundle, &root, &p).unwrap();
    assert_eq!(v.bundle_version, "0.1");
    assert_eq!(v.signing_times[0].as_second(), 1681839916);
    assert_eq!(
        v.tlog_entries,
        vec![("https://rekor.sigstore.dev".to_string(), 18300940)]
    );
    // Another key, or no key, is refused.
    p.key = key(&data().join("cases/managed-key-happy-path/key.pub"));
    assert_eq!(
        verify_bundle(&bundle, &root, &p).unwrap_err().reason(),
        "SignatureInvalid"
    );
    p.key = None;
    p.identities = vec![IdentityRule {
        issuer: Matcher::Exact(ISSUER.into()),
        subject: Matcher::Exact(IDENTITY.into()),
        extensions: Vec::new(),
    }];
    assert_eq!(
        verify_bundle(&bundle, &root, &p).unwrap_err().reason(),
        "KeyMismatch"
    );
}

/// A Rekor v2 entry has no integrated time: its log key must have been valid at the
/// RFC 3161 time, like a v1 key at the integrated time.
#[test]
fn rekor_v2_log_key_windows_are_checked_at_the_timestamp() {
    let dir = data().join("cases/rekor2-happy-path");
    let mut root: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("trusted_root.json"))).unwrap();
    let bundle = read(&dir.join("bundle.sigstore.json"));
    let p = Policy {
        identities: vec![IdentityRule {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(IDENTITY.into()),
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::Bytes(read(&data().join("cases/a.txt"))),
        predicate_type: None,
    };
    let parse = |v: &serde_json::Value| TrustedRoot::from_json(v.to_string().as_bytes()).unwrap();
    verify_bundle(&bundle, &parse(&root), &p).unwrap();
    let log = root["tlogs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["baseUrl"].as_str().unwrap().contains("log2025"))
        .unwrap();
    // The timestamp is 2025-06-12T12:02:20Z.
    log["publicKey"]["validFor"]["end"] = "2025-06-01T00:00:00Z".into();
    let e = verify_bundle(&bundle, &parse(&root), &p).unwrap_err();
    assert_eq!(e.reason(), "TlogEntryInvalid", "{e}");
    assert!(e.to_string().contains("validFor"), "{e}");
}

/// The protobuf-specs: a root certificate in the bundle's chain is ignored, never trusted. A
/// valid bundle with the Fulcio chain (intermediate and root) appended still verifies: the
/// path is built from the trusted root alone.
#[test]
fn certificates_after_the_leaf_are_ignored_not_trusted() {
    let dir = data().join("cases/happy-path-v0.1");
    let root_json = read(&data().join("trusted_root.public-good.json"));
    let root = TrustedRoot::from_json(&root_json).unwrap();
    let root_doc: serde_json::Value = serde_json::from_slice(&root_json).unwrap();
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("bundle.sigstore.json"))).unwrap();
    let chain = &mut bundle["verificationMaterial"]["x509CertificateChain"]["certificates"];
    for ca in root_doc["certificateAuthorities"].as_array().unwrap() {
        for cert in ca["certChain"]["certificates"].as_array().unwrap() {
            chain
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"rawBytes": cert["rawBytes"]}));
        }
    }
    assert!(chain.as_array().unwrap().len() > 2);
    let policy = Policy {
        identities: vec![IdentityRule {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(IDENTITY.into()),
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::Bytes(read(&data().join("cases/a.txt"))),
        predicate_type: None,
    };
    let bytes = serde_json::to_vec(&bundle).unwrap();
    verify_bundle(&bytes, &root, &policy).expect("the appended chain is ignored");
}
