use super::*;
use crate::keys::test_keys::*;

const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SUMDB_NOTE: &str = include_str!("../../tests/data/checkpoints/sumdb-15067302.note");
const SUMDB_COSIGNED: &str =
    include_str!("../../tests/data/checkpoints/sumdb-15081221-cosigned.note");
const REKOR_NOTE: &str = include_str!("../../tests/data/checkpoints/rekor-75408393.note");
/// Rekor v1 production log key (public-good trusted root).
const REKOR_SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==";

fn sumdb() -> NoteVerifier {
    NoteVerifier::from_vkey(SUMDB_VKEY).unwrap()
}

fn rekor() -> NoteVerifier {
    NoteVerifier::from_spki_der(
        "rekor.sigstore.dev",
        &STANDARD.decode(REKOR_SPKI_B64).unwrap(),
    )
    .unwrap()
}

#[test]
fn real_sum_golang_org_checkpoints_verify_and_unknown_witnesses_are_ignored() {
    let policy = CheckpointPolicy {
        log: vec![sumdb()],
        witnesses: vec![],
        threshold: 0,
    };
    let cp = verify_checkpoint(SUMDB_NOTE, &policy).unwrap();
    assert_eq!(cp.body.origin, "go.sum database tree");
    assert_eq!(cp.body.tree_size, 15067302);
    assert_eq!(cp.log_signer.key_id, 0x033de0ae);
    let cp = verify_checkpoint(SUMDB_COSIGNED, &policy).unwrap();
    assert_eq!(cp.body.tree_size, 15081221);
    assert!(cp.witnesses.is_empty());
}

#[test]
fn real_rekor_checkpoint_verifies_with_the_spki_key_id() {
    let v = rekor();
    // Rekor's key id is the first four bytes of its log id, SHA-256 of the SPKI.
    assert_eq!(v.key_id.to_be_bytes(), [0xc0, 0xd2, 0x3d, 0x6a]);
    let cp = verify_checkpoint(
        REKOR_NOTE,
        &CheckpointPolicy {
            log: vec![v],
            witnesses: vec![],
            threshold: 0,
        },
    )
    .unwrap();
    assert_eq!(cp.body.origin, "rekor.sigstore.dev - 2605736670972794746");
    assert_eq!(cp.body.tree_size, 75408393);
}

#[test]
fn a_changed_text_or_signature_is_refused_with_its_reason() {
    let policy = CheckpointPolicy {
        log: vec![sumdb()],
        witnesses: vec![],
        threshold: 0,
    };
    let altered = SUMDB_NOTE.replace("15067302", "15067303");
    let e = verify_checkpoint(&altered, &policy).unwrap_err();
    assert_eq!(e.reason(), "CheckpointSignatureInvalid", "{e}");
    // The Rekor key does not know this note's signer: nothing trusted signed it.
    let e = verify_checkpoint(
        SUMDB_NOTE,
        &CheckpointPolicy {
            log: vec![rekor()],
            witnesses: vec![],
            threshold: 0,
        },
    )
    .unwrap_err();
    assert_eq!(e.reason(), "LogKeyNotTrusted", "{e}");
    assert!(e.to_string().contains("sum.golang.org (033de0ae)"), "{e}");
    // Same name, other key id: an unknown key, ignored, so nothing trusted signed.
    let other = NoteVerifier::ed25519("sum.golang.org", [7; 32]).unwrap();
    let e = SignedNote::parse(SUMDB_NOTE)
        .unwrap()
        .verify(&[other])
        .unwrap_err();
    assert_eq!(e.reason(), "LogKeyNotTrusted");
}

#[test]
fn malformed_notes_are_refused() {
    let cases = [
        ("no trailing newline", SUMDB_NOTE.trim_end().to_string()),
        ("no blank line", SUMDB_NOTE.replace("\n\n", "\n")),
        ("ascii dash", SUMDB_NOTE.replace('\u{2014}', "-")),
        ("bad base64", SUMDB_NOTE.replace("Az3grp", "Az3gr!")),
        ("control char", SUMDB_NOTE.replace("go.sum", "go\tsum")),
        ("no signatures", "a\n1\nAAAA\n\n".to_string()),
        ("short signature", "a\n\n\u{2014} k AAAA\n".to_string()),
    ];
    for (what, note) in cases {
        let e = SignedNote::parse(&note).expect_err(what);
        assert_eq!(e.reason(), "CheckpointMalformed", "{what}: {e}");
    }
    let big = "a".repeat(MAX_NOTE_LEN + 1);
    assert!(matches!(
        SignedNote::parse(&big),
        Err(NoteError::TooLarge(_))
    ));
    let many: String = (0..=MAX_SIGNATURES)
        .map(|i| format!("\u{2014} k{i} AAAAAAA=\n"))
        .collect();
    assert_eq!(
        SignedNote::parse(&format!("a\n\n{many}")),
        Err(NoteError::TooManySignatures)
    );
}

#[test]
fn checkpoint_bodies_are_strict() {
    let root = STANDARD.encode([1u8; 32]);
    let ok = CheckpointBody::parse(&format!("o\n5\n{root}\next\n")).unwrap();
    assert_eq!(ok.extensions, vec!["ext".to_string()]);
    for bad in [
        format!("\n5\n{root}\n"),
        format!("o\n05\n{root}\n"),
        format!("o\n-5\n{root}\n"),
        format!("o\n99999999999999999999999\n{root}\n"),
        "o\n5\nAAAA\n".to_string(),
        "o\n5\n".to_string(),
        format!("o\n5\n{root}\n\n"),
    ] {
        let e = CheckpointBody::parse(&bad).expect_err(&bad);
        assert_eq!(e.reason(), "CheckpointMalformed");
    }
}

#[test]
fn vkeys_must_match_their_key_id() {
    let wrong = SUMDB_VKEY.replace("033de0ae", "033de0af");
    assert_eq!(
        NoteVerifier::from_vkey(&wrong).unwrap_err().reason(),
        "KeyMalformed"
    );
    for bad in [
        "sum.golang.org",
        "a+zz+AAAA",
        "a+00000000+!!!",
        "a b+00000000+AQ==",
    ] {
        assert!(NoteVerifier::from_vkey(bad).is_err(), "{bad}");
    }
}

fn ed25519_pair() -> (ring::signature::Ed25519KeyPair, [u8; 32]) {
    use ring::signature::KeyPair as _;
    let SigningKey::Ed25519(k) = SigningKey::from_pem(ED25519_PKCS8).unwrap() else {
        unreachable!()
    };
    let public = k.public_key().as_ref().try_into().unwrap();
    (k, public)
}

fn cosign(text: &str, name: &str, key: &ring::signature::Ed25519KeyPair, ts: u64) -> String {
    use ring::signature::KeyPair as _;
    let public: [u8; 32] = key.public_key().as_ref().try_into().unwrap();
    let id = NoteVerifier::cosignature_v1(name, public).unwrap().key_id;
    let msg = format!("cosignature/v1\ntime {ts}\n{text}");
    let mut raw = id.to_be_bytes().to_vec();
    raw.extend_from_slice(&ts.to_be_bytes());
    raw.extend_from_slice(key.sign(msg.as_bytes()).as_ref());
    format!("\u{2014} {name} {}\n", STANDARD.encode(raw))
}

#[test]
fn own_log_notes_with_witness_cosignatures_meet_a_threshold() {
    let log_key = SigningKey::from_pem(P256_PKCS8).unwrap();
    let (w, w_pub) = ed25519_pair();
    let text = format!("example.org/log\n7\n{}\n", STANDARD.encode([9u8; 32]));
    let mut note = sign(&text, "example.org/log", &log_key).unwrap();
    note.push_str(&cosign(&text, "witness.example/w1", &w, 1_700_000_000));
    let log = NoteVerifier::from_public_key("example.org/log", &log_key.public_key()).unwrap();
    let w1 = NoteVerifier::cosignature_v1("witness.example/w1", w_pub).unwrap();
    let w2 = NoteVerifier::cosignature_v1("witness.example/w2", [3; 32]).unwrap();
    let policy = |threshold| CheckpointPolicy {
        log: vec![log.clone()],
        witnesses: vec![w1.clone(), w2.clone()],
        threshold,
    };
    let cp = verify_checkpoint(&note, &policy(1)).unwrap();
    assert_eq!(cp.witnesses[0].cosigned_at, Some(1_700_000_000));
    assert_eq!(cp.body.tree_size, 7);
    let e = verify_checkpoint(&note, &policy(2)).unwrap_err();
    assert_eq!(e.reason(), "WitnessThresholdNotMet", "{e}");

    // A cosignature over another text from a configured witness rejects the note.
    let mut forged = sign(&text, "example.org/log", &log_key).unwrap();
    forged.push_str(&cosign("other\n", "witness.example/w1", &w, 1));
    let e = verify_checkpoint(&forged, &policy(0)).unwrap_err();
    assert_eq!(e.reason(), "CheckpointSignatureInvalid", "{e}");

    // Witnesses alone never stand in for the log.
    let mut witness_only = text.clone();
    witness_only.push('\n');
    witness_only.push_str(&cosign(&text, "witness.example/w1", &w, 1));
    let e = verify_checkpoint(&witness_only, &policy(0)).unwrap_err();
    assert_eq!(e.reason(), "LogKeyNotTrusted", "{e}");

    // The same key twice is refused rather than counted twice.
    let mut twice = note.clone();
    twice.push_str(&cosign(&text, "witness.example/w1", &w, 1_700_000_001));
    let e = verify_checkpoint(&twice, &policy(1)).unwrap_err();
    assert!(matches!(e, NoteError::DuplicateSignature { .. }), "{e}");
}

#[test]
fn ed25519_log_keys_use_the_typed_key_id() {
    let key = SigningKey::from_pem(ED25519_PKCS8).unwrap();
    let text = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let note = sign(text, "o", &key).unwrap();
    let v = NoteVerifier::from_public_key("o", &key.public_key()).unwrap();
    let (_, public) = ed25519_pair();
    assert_eq!(v, NoteVerifier::ed25519("o", public).unwrap());
    SignedNote::parse(&note).unwrap().verify(&[v]).unwrap();
    assert!(sign("no newline", "o", &key).is_err());
    assert!(sign(text, "bad name", &key).is_err());
}

#[test]
fn real_rekor_v2_ed25519_checkpoint_verifies_and_its_witnesses_count_only_when_known() {
    let note =
        include_str!("../../tests/data/checkpoints/rekor-v2-log2025-alpha1-736-cosigned.note");
    let spki = STANDARD
        .decode("MCowBQYDK2VwAyEAPn+AREHoBaZ7wgS1zBqpxmLSGnyhxXj4lFxSdWVB8o8=")
        .unwrap();
    let log = NoteVerifier::from_spki_der("log2025-alpha1.rekor.sigstage.dev", &spki).unwrap();
    // The log id in the trusted root starts with the typed Ed25519 key id.
    let log_id = STANDARD
        .decode("8w1amZ2S5mJIQkQmPxdMuOrL/oJkvFg9MnQXmeOCXck=")
        .unwrap();
    assert_eq!(log.key_id.to_be_bytes(), log_id[..4]);
    let policy = |threshold| CheckpointPolicy {
        log: vec![log.clone()],
        witnesses: vec![],
        threshold,
    };
    let cp = verify_checkpoint(note, &policy(0)).unwrap();
    assert_eq!(cp.body.tree_size, 736);
    assert!(cp.witnesses.is_empty(), "unknown witnesses are ignored");
    assert_eq!(
        verify_checkpoint(note, &policy(1)).unwrap_err().reason(),
        "WitnessThresholdNotMet"
    );
    assert_eq!(SignedNote::parse(note).unwrap().signatures.len(), 3);
}

/// A note line for an ECDSA key: its SPKI key id and `sig`.
fn ecdsa_line(name: &str, key: &PublicKey, sig: &[u8]) -> String {
    let mut raw = key.key_id().as_bytes()[..4].to_vec();
    raw.extend_from_slice(sig);
    format!("\u{2014} {name} {}\n", STANDARD.encode(raw))
}

#[test]
fn ecdsa_notes_are_signed_over_sha256_on_every_curve() {
    use p384::ecdsa::signature::Signer as _;
    use p384::ecdsa::signature::hazmat::PrehashSigner as _;
    let sk = p384::ecdsa::SigningKey::from_slice(&[0x42; 48]).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let mut spki = hex::decode("3076301006072a8648ce3d020106052b81040022036200").unwrap();
    spki.extend_from_slice(point.as_bytes());
    let key = PublicKey::from_spki_der(&spki).unwrap();
    let name = "p384.example/log";
    let text = format!("{name}\n3\n{}\n", STANDARD.encode([1u8; 32]));
    let v = NoteVerifier::from_spki_der(name, &spki).unwrap();
    assert_eq!(v.key_id.to_be_bytes(), key.key_id().as_bytes()[..4]);
    let policy = CheckpointPolicy {
        log: vec![v],
        witnesses: vec![],
        threshold: 0,
    };

    // Over SHA-256, as Rekor and transparency-dev sign: verifies.
    let over_256: p384::ecdsa::Signature =
        sk.sign_prehash(&Sha256::digest(text.as_bytes())).unwrap();
    let note = format!(
        "{text}\n{}",
        ecdsa_line(name, &key, over_256.to_der().as_bytes())
    );
    let cp = verify_checkpoint(&note, &policy).unwrap();
    assert_eq!(cp.body.tree_size, 3);

    // Over SHA-384, the curve's usual hash: does not.
    let over_384: p384::ecdsa::Signature = sk.sign(text.as_bytes());
    let note = format!(
        "{text}\n{}",
        ecdsa_line(name, &key, over_384.to_der().as_bytes())
    );
    let e = verify_checkpoint(&note, &policy).unwrap_err();
    assert!(matches!(e, NoteError::SignatureInvalid { .. }), "{e}");
}

#[test]
fn an_ecdsa_note_signature_must_be_der() {
    let sk = SigningKey::from_pem(P256_PKCS8).unwrap();
    let key = sk.public_key();
    let name = "example.org/log";
    let text = format!("{name}\n7\n{}\n", STANDARD.encode([9u8; 32]));
    let der = sk.sign(text.as_bytes());
    let policy = CheckpointPolicy {
        log: vec![NoteVerifier::from_public_key(name, &key).unwrap()],
        witnesses: vec![],
        threshold: 0,
    };
    verify_checkpoint(
        &format!("{text}\n{}", ecdsa_line(name, &key, &der)),
        &policy,
    )
    .unwrap();
    // The same signature as r||s: refused, and the reason says why.
    let fixed = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
    let note = format!("{text}\n{}", ecdsa_line(name, &key, &fixed));
    let e = verify_checkpoint(&note, &policy).unwrap_err();
    assert!(
        matches!(e, NoteError::EcdsaSignatureNotDer { len: 64, .. }),
        "{e}"
    );
    assert_eq!(e.reason(), "CheckpointSignatureInvalid");
    assert!(e.to_string().contains("r||s"), "{e}");
}

#[test]
fn rsa_keys_do_not_sign_notes() {
    let rsa = STANDARD
        .decode(concat!(
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA8sRpO5cnoX+M6isGyrr2",
            "QnXV2kxHebrrbASsVxtxGP/gKG2cIAlsd+i7bY8xDJP3iiLmhJA+NdzjD34K4DcR",
            "RAcK7CWyJ5UVhIYc9U8Y+XcTWyHXrD0PvJ7V0TqYq6q0HpcV9QhasgTn9w/cKafq",
            "FbrX7i9d7+fAHjH3NyvmIEzI2R8hscjF6F9foOlic3kMqOAdwSpWx2owizsiHWS8",
            "LYXkWnWKU5ba0CSRkE0bk31JGKF7sD0UTWHOB+utNNAKZ9XZU/rrZoCrFP7MMpXW",
            "FPmRVOCGax9L24ZMHCLr5H8cH97/ntgaYMqAQWt/ZBpF2lbk+q7+HBvW7Uo3v5R3",
            "uwIDAQAB"
        ))
        .unwrap();
    let e = NoteVerifier::from_spki_der("rsa.example", &rsa).unwrap_err();
    assert!(e.to_string().contains("RSA keys do not sign notes"), "{e}");
}
