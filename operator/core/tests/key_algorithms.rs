//! Every signature scheme of the key model against an independent producer:
//! openssl generates each key and signs, attestor-core verifies, and refuses a
//! flipped bit, the wrong hash and the wrong key. openssl must be on PATH (as
//! for `make test`).

use std::path::PathBuf;
use std::process::Command;

use attestor_core::keys::{HashAlg, KeyType, PublicKey, SignatureError, SignatureScheme};

const MESSAGE: &[u8] = b"an artifact signed by openssl\n";

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (needed by make test)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "attestor-key-algorithms-{tag}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("message"), MESSAGE).unwrap();
        Dir(dir)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Generates a key with `genpkey` options; returns (private key path, public key).
fn generate(dir: &Dir, name: &str, options: &[&str]) -> (String, PublicKey) {
    let private = dir.path(name);
    let mut args = vec!["genpkey", "-out", private.as_str()];
    args.extend_from_slice(options);
    openssl(&args);
    let public = openssl(&["pkey", "-in", &private, "-pubout"]);
    let key = PublicKey::from_pem(std::str::from_utf8(&public).unwrap()).unwrap();
    (private, key)
}

/// Signs the message with `dgst` and extra options (PSS padding, ...).
fn sign(dir: &Dir, private: &str, hash: &str, extra: &[&str]) -> Vec<u8> {
    let message = dir.path("message");
    let mut args = vec!["dgst", hash, "-sign", private];
    args.extend_from_slice(extra);
    args.push(&message);
    openssl(&args)
}

fn flipped(sig: &[u8]) -> Vec<u8> {
    let mut bad = sig.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    bad
}

fn other_hash(h: HashAlg) -> HashAlg {
    match h {
        HashAlg::Sha256 => HashAlg::Sha384,
        _ => HashAlg::Sha256,
    }
}

/// The same scheme over another hash.
fn with_hash(scheme: SignatureScheme, h: HashAlg) -> SignatureScheme {
    match scheme {
        SignatureScheme::Ecdsa(_) => SignatureScheme::Ecdsa(h),
        SignatureScheme::RsaPkcs1v15(_) => SignatureScheme::RsaPkcs1v15(h),
        SignatureScheme::RsaPss(_) => SignatureScheme::RsaPss(h),
        other => other,
    }
}

#[test]
fn every_scheme_verifies_and_refuses_what_it_must() {
    let dir = Dir::new("table");
    let pss = [
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:digest",
    ];
    let ec = |curve: &'static str| vec!["-algorithm", "EC", "-pkeyopt", curve];
    let rsa = |bits: &'static str| vec!["-algorithm", "RSA", "-pkeyopt", bits];
    // (key name, genpkey options, key type)
    let keys = [
        ("p256", ec("ec_paramgen_curve:P-256"), KeyType::EcdsaP256),
        ("p384", ec("ec_paramgen_curve:P-384"), KeyType::EcdsaP384),
        ("p521", ec("ec_paramgen_curve:P-521"), KeyType::EcdsaP521),
        ("rsa2048", rsa("rsa_keygen_bits:2048"), KeyType::Rsa),
        ("rsa3072", rsa("rsa_keygen_bits:3072"), KeyType::Rsa),
    ];
    // Each key and another key of the same type, to be the wrong key.
    let mut generated = Vec::new();
    for (name, options, key_type) in &keys {
        let (private, key) = generate(&dir, name, options);
        let (_, wrong) = generate(&dir, &format!("{name}-wrong"), options);
        assert_eq!(key.key_type(), *key_type, "{name}");
        generated.push((*name, private, key, wrong));
    }

    use HashAlg::*;
    // (key, dgst hash, extra options, scheme)
    let table: &[(&str, &str, &[&str], SignatureScheme)] = &[
        ("p256", "-sha256", &[], SignatureScheme::Ecdsa(Sha256)),
        ("p256", "-sha384", &[], SignatureScheme::Ecdsa(Sha384)),
        ("p256", "-sha512", &[], SignatureScheme::Ecdsa(Sha512)),
        ("p384", "-sha384", &[], SignatureScheme::Ecdsa(Sha384)),
        ("p384", "-sha256", &[], SignatureScheme::Ecdsa(Sha256)),
        ("p384", "-sha512", &[], SignatureScheme::Ecdsa(Sha512)),
        ("p521", "-sha512", &[], SignatureScheme::Ecdsa(Sha512)),
        ("p521", "-sha256", &[], SignatureScheme::Ecdsa(Sha256)),
        ("p521", "-sha384", &[], SignatureScheme::Ecdsa(Sha384)),
        (
            "rsa2048",
            "-sha256",
            &[],
            SignatureScheme::RsaPkcs1v15(Sha256),
        ),
        (
            "rsa2048",
            "-sha384",
            &[],
            SignatureScheme::RsaPkcs1v15(Sha384),
        ),
        (
            "rsa2048",
            "-sha512",
            &[],
            SignatureScheme::RsaPkcs1v15(Sha512),
        ),
        (
            "rsa3072",
            "-sha256",
            &[],
            SignatureScheme::RsaPkcs1v15(Sha256),
        ),
        ("rsa2048", "-sha256", &pss, SignatureScheme::RsaPss(Sha256)),
        ("rsa2048", "-sha512", &pss, SignatureScheme::RsaPss(Sha512)),
        ("rsa3072", "-sha256", &pss, SignatureScheme::RsaPss(Sha256)),
    ];
    for (name, hash, extra, scheme) in table {
        let what = format!("{name} {hash} {scheme}");
        let (_, private, key, wrong) = generated.iter().find(|(n, ..)| n == name).unwrap();
        let sig = sign(&dir, private, hash, extra);
        key.verify_signature(*scheme, MESSAGE, &sig)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let invalid = Err(SignatureError::Invalid);
        assert_eq!(
            key.verify_signature(*scheme, MESSAGE, &flipped(&sig)),
            invalid,
            "{what}: flipped bit"
        );
        assert_eq!(
            key.verify_signature(*scheme, b"another message", &sig),
            invalid,
            "{what}: another message"
        );
        let h = scheme.hash().unwrap();
        assert_eq!(
            key.verify_signature(with_hash(*scheme, other_hash(h)), MESSAGE, &sig),
            invalid,
            "{what}: wrong hash"
        );
        assert_eq!(
            wrong.verify_signature(*scheme, MESSAGE, &sig),
            invalid,
            "{what}: wrong key"
        );
        // PKCS#1 and PSS are not interchangeable.
        if let SignatureScheme::RsaPss(h) = scheme {
            assert_eq!(
                key.verify_signature(SignatureScheme::RsaPkcs1v15(*h), MESSAGE, &sig),
                invalid,
                "{what}: as PKCS#1"
            );
        }
        // ECDSA: the digest alone verifies the same signature.
        if let SignatureScheme::Ecdsa(h) = scheme {
            key.verify_prehashed(*scheme, &h.digest(MESSAGE), &sig)
                .unwrap_or_else(|e| panic!("{what} prehashed: {e}"));
            assert_eq!(
                key.verify_prehashed(*scheme, &h.digest(b"other"), &sig),
                invalid,
                "{what}: prehashed other digest"
            );
        }
    }
}

#[test]
fn ed25519_from_openssl() {
    let dir = Dir::new("ed25519");
    let (private, key) = generate(&dir, "ed", &["-algorithm", "ED25519"]);
    assert_eq!(key.key_type(), KeyType::Ed25519);
    let message = dir.path("message");
    let sig = openssl(&[
        "pkeyutl", "-sign", "-rawin", "-inkey", &private, "-in", &message,
    ]);
    key.verify_signature(SignatureScheme::Ed25519, MESSAGE, &sig)
        .unwrap();
    key.verify(MESSAGE, &sig).unwrap();
    assert_eq!(
        key.verify_signature(SignatureScheme::Ed25519, MESSAGE, &flipped(&sig)),
        Err(SignatureError::Invalid)
    );
    assert_eq!(
        key.verify_signature(SignatureScheme::Ed25519ph, MESSAGE, &sig),
        Err(SignatureError::Invalid)
    );
    let (_, other) = generate(&dir, "other", &["-algorithm", "ED25519"]);
    assert_eq!(
        other.verify_signature(SignatureScheme::Ed25519, MESSAGE, &sig),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn openssl_spki_is_canonical_and_ids_match_what_go_computes() {
    // openssl and Go's MarshalPKIXPublicKey write the same DER; the key id is
    // SHA-256 of it, for every key type.
    let dir = Dir::new("ids");
    for (name, options) in [
        (
            "p384",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
        (
            "p521",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        ),
        (
            "rsa",
            vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
        ("ed", vec!["-algorithm", "ED25519"]),
    ] {
        let (private, key) = generate(&dir, name, &options);
        let der = openssl(&["pkey", "-in", &private, "-pubout", "-outform", "DER"]);
        assert_eq!(key.spki_der(), der.as_slice(), "{name}");
        assert_eq!(
            key.key_id(),
            attestor_core::digest::Sha256Digest::of(&der),
            "{name}"
        );
        // A compressed EC point is the same key, with the same id.
        if name.starts_with('p') {
            let compressed = openssl(&[
                "pkey",
                "-in",
                &private,
                "-pubout",
                "-outform",
                "DER",
                "-ec_conv_form",
                "compressed",
            ]);
            assert_ne!(compressed, der);
            let again = PublicKey::from_spki_der(&compressed).unwrap();
            assert_eq!(again.key_id(), key.key_id(), "{name} compressed");
        }
    }
}
