//! Fuzz-style robustness: random, truncated and mutated envelopes, PEM text
//! and log entries never panic, and truncations are always refused.

use attestor_core::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use attestor_core::keys::{PublicKey, SigningKey};
use attestor_core::pem::parse_pem;
use attestor_core::tlog::{LocalLog, TlogEntry};
use attestor_core::trust::TrustAnchor;
use proptest::prelude::*;

const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9UP3aRNcWOQ8CqVH
NsUzgDw0yZ7YTfTMQSRaK8pTSbGhRANCAAQEq/0INesNF+rNfBomyKuYeTKe8UHq
7PplbErNqGoyEOzaQx83dHaO+vIWLWfvxvJCDANBeAabLktqC7B5qrlo
-----END PRIVATE KEY-----
";

fn key() -> SigningKey {
    SigningKey::from_pem(P256).unwrap()
}

fn envelope_json() -> Vec<u8> {
    Envelope::sign(
        PAYLOAD_TYPE_IN_TOTO,
        br#"{"_type":"x"}"#.to_vec(),
        &[&key()],
    )
    .to_json_pretty()
}

fn entry_json() -> String {
    let mut log = LocalLog::new("fuzz.example/log");
    for i in 0..9u8 {
        log.append(&[i]);
    }
    serde_json::to_string(&log.entry(4, &key()).unwrap()).unwrap()
}

#[test]
fn every_truncated_envelope_is_refused() {
    let json = envelope_json();
    Envelope::from_json(&json).unwrap();
    for len in 0..json.len() - 1 {
        // The pretty form ends in "}\n": dropping only the newline is still valid JSON.
        assert!(
            Envelope::from_json(&json[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
}

#[test]
fn every_truncated_pem_is_refused_or_different() {
    let public = key().public_key().to_pem();
    for text in [P256.to_string(), public.clone()] {
        // Dropping only the final newline leaves a complete PEM block.
        for len in 0..text.trim_end().len() {
            let prefix = &text[..len];
            let _ = parse_pem(prefix);
            let _ = TrustAnchor::from_pem("fuzz", prefix);
            assert!(
                SigningKey::from_pem(prefix).is_err(),
                "private key prefix {len} accepted"
            );
            assert!(
                PublicKey::from_pem(prefix).is_err(),
                "public key prefix {len} accepted"
            );
        }
    }
}

#[test]
fn every_truncated_log_entry_is_refused() {
    let json = entry_json();
    serde_json::from_str::<TlogEntry>(&json).unwrap();
    // Byte prefixes: a signed-note checkpoint holds multi-byte em dashes.
    for len in 0..json.len() {
        assert!(serde_json::from_slice::<TlogEntry>(&json.as_bytes()[..len]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Envelope::from_json(&bytes);
        let _ = PublicKey::from_spki_der(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = parse_pem(text);
            let _ = SigningKey::from_pem(text);
            let _ = PublicKey::from_pem(text);
            let _ = TrustAnchor::from_pem("fuzz", text);
            let _ = serde_json::from_str::<TlogEntry>(text);
        }
    }

    #[test]
    fn mutated_envelopes_never_panic_and_never_verify_with_changed_content(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)
    ) {
        let original = envelope_json();
        let mut json = original.clone();
        for (i, b) in &flips {
            let at = i.index(json.len());
            json[at] = *b;
        }
        if let Ok(env) = Envelope::from_json(&json) {
            let orig = Envelope::from_json(&original).unwrap();
            let verifies = key().public_key().verify(&env.pae(), &env.signatures[0].sig).is_ok();
            if env.payload != orig.payload || env.payload_type != orig.payload_type {
                prop_assert!(!verifies, "changed content still verifies");
            }
        }
    }

    #[test]
    fn mutated_pem_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..6)
    ) {
        let mut chars: Vec<char> = key().public_key().to_pem().chars().collect();
        for (i, c) in &flips {
            let at = i.index(chars.len());
            chars[at] = *c;
        }
        let text: String = chars.into_iter().collect();
        let _ = PublicKey::from_pem(&text);
        let _ = TrustAnchor::from_pem("fuzz", &text);
    }
}
