//! A DSSE envelope whose payload is not an in-toto statement (a cosign simple-signing
//! payload, a plain text): its signature is verified against the artifact-free policy given,
//! and the result says what was not read. Signed with the P-256 test key.

use attestor_core::keys::PublicKey;
use attestor_core::keys::SigningKey;
use attestor_sigstore::{
    Artifact, Options, Policy, SigstoreError, TlogPolicy, TrustedRoot, verify_bundle_with,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

fn key() -> SigningKey {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/keys/test-only-signing.pem"),
    )
    .unwrap();
    SigningKey::from_pem(&pem).unwrap()
}

fn bundle(payload_type: &str, payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let sig = key.sign(&attestor_core::dsse::pae(payload_type, payload));
    serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "k"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": STANDARD.encode(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": STANDARD.encode(sig), "keyid": ""}],
        },
    }))
    .unwrap()
}

fn policy(artifact: Artifact, predicate_type: Option<&str>) -> Policy {
    Policy {
        identities: vec![],
        key: Some(PublicKey::from_spki_der(key().public_key().spki_der()).unwrap()),
        artifact,
        predicate_type: predicate_type.map(str::to_string),
    }
}

fn options() -> Options<'static> {
    Options {
        tlog: TlogPolicy::IfPresent,
        ..Options::default()
    }
}

#[test]
fn a_non_in_toto_payload_verifies_alone_and_says_it_was_not_read() {
    let root = TrustedRoot::empty();
    let simple = br#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}"#;
    let b = bundle(
        "application/vnd.dev.cosign.simplesigning.v1+json",
        simple,
        &key(),
    );
    let v = verify_bundle_with(&b, &root, &policy(Artifact::None, None), &options()).unwrap();
    assert_eq!(v.content, "dsse");
    assert_eq!(
        v.payload_type.as_deref(),
        Some("application/vnd.dev.cosign.simplesigning.v1+json")
    );
    assert_eq!(v.unchecked.len(), 1, "{:?}", v.unchecked);
    assert!(v.unchecked[0].contains("not an in-toto statement, so nothing in it was read"));

    // Anything that would need the payload read is refused rather than assumed.
    let e = verify_bundle_with(
        &b,
        &root,
        &policy(Artifact::sha256([0; 32]), None),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::StatementMismatch(_)), "{e}");
    let e = verify_bundle_with(
        &b,
        &root,
        &policy(Artifact::None, Some("https://slsa.dev/provenance/v1")),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::StatementMismatch(_)), "{e}");

    // The signature still decides: another payload under the same signature fails.
    let mut tampered: serde_json::Value = serde_json::from_slice(&b).unwrap();
    tampered["dsseEnvelope"]["payload"] = STANDARD.encode(b"other").into();
    let e = verify_bundle_with(
        &serde_json::to_vec(&tampered).unwrap(),
        &root,
        &policy(Artifact::None, None),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::SignatureInvalid(_)), "{e}");
}

#[test]
fn an_in_toto_statement_without_an_artifact_is_not_bound_to_one() {
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha384": "ab".repeat(48)}}],
        "predicateType": "https://example.com/p",
        "predicate": {},
    });
    let payload = serde_json::to_vec(&statement).unwrap();
    let b = bundle("application/vnd.in-toto+json", &payload, &key());
    let root = TrustedRoot::empty();
    let v = verify_bundle_with(&b, &root, &policy(Artifact::None, None), &options()).unwrap();
    assert!(
        v.unchecked[0].contains("not bound to any artifact"),
        "{:?}",
        v.unchecked
    );
    // A sha384 subject is matched by a sha384 digest, and by no other.
    let sha384 = Artifact::parse_digest(&format!("sha384:{}", "ab".repeat(48))).unwrap();
    let v = verify_bundle_with(&b, &root, &policy(sha384, None), &options()).unwrap();
    assert!(v.unchecked.is_empty());
    let e = verify_bundle_with(
        &b,
        &root,
        &policy(Artifact::sha256([0xab; 32]), None),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::ArtifactMismatch(_)), "{e}");
}
