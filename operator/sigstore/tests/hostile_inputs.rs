//! Hostile input never panics: random bytes into every parser, and byte-level
//! mutations of a real bundle, timestamp and certificate.

use std::path::Path;

use attestor_sigstore::cert::Cert;
use attestor_sigstore::tsa::Token;
use attestor_sigstore::{
    Artifact, IdentityRule, Matcher, Policy, TrustedRoot, der, sct, verify_bundle,
};
use base64::Engine as _;
use proptest::prelude::*;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/sigstore-conformance")
            .join(rel),
    )
    .unwrap()
}

fn tsa_token() -> Vec<u8> {
    let bundle: serde_json::Value =
        serde_json::from_slice(&data("cases/rekor2-happy-path/bundle.sigstore.json")).unwrap();
    let b64 = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
        ["signedTimestamp"]
        .as_str()
        .unwrap()
        .replace('\n', "");
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn leaf_der() -> Vec<u8> {
    let bundle: serde_json::Value =
        serde_json::from_slice(&data("cases/happy-path-v0.3/bundle.sigstore.json")).unwrap();
    let b64 = bundle["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn policy() -> Policy {
    Policy {
        identities: vec![IdentityRule {
            issuer: Matcher::regex(".*").unwrap(),
            subject: Matcher::regex(".*").unwrap(),
            extensions: Vec::new(),
        }],
        key: None,
        artifact: Artifact::Bytes(data("cases/a.txt")),
        predicate_type: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = der::read(&bytes);
        let _ = der::children(&bytes);
        let _ = der::oid_string(&bytes);
        let _ = der::generalized_time(&bytes);
        let _ = Token::parse(&bytes);
        let _ = Cert::from_der(&bytes);
        let _ = sct::parse_list(&bytes);
        let _ = sct::precert_tbs(&bytes);
        let _ = TrustedRoot::from_json(&bytes);
    }

    #[test]
    fn mutated_timestamps_and_certificates_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut token = tsa_token();
        let i = pos.index(token.len());
        token[i] = byte;
        if let Ok(t) = Token::parse(&token) {
            let _ = t.verify(b"sig", &[]);
        }
        let mut cert = leaf_der();
        let i = pos.index(cert.len());
        cert[i] = byte;
        if let Ok(c) = Cert::from_der(&cert) {
            if let Some(list) = &c.sct_list {
                let _ = sct::parse_list(list);
            }
            let _ = sct::precert_tbs(&c.tbs);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_bundles_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let root = TrustedRoot::from_json(&data("trusted_root.public-good.json")).unwrap();
        let mut bundle = data("cases/happy-path-v0.3/bundle.sigstore.json");
        let i = pos.index(bundle.len());
        bundle[i] = byte;
        let _ = verify_bundle(&bundle, &root, &policy());
    }
}
