//! Message signatures by a P-384 key over SHA-256 and over SHA-384, as real bundles carry both:
//! the signature is tried with the key's schemes (SHA-384, and SHA-256 for bundles 0.1 to 0.3,
//! as sigstore-go), and the declared `messageDigest` must be the artifact's.
//! Signed by openssl (the independent producer), from examples/keys/test-only-p384.pem.

use std::path::{Path, PathBuf};
use std::process::Command;

use attestor_core::keys::PublicKey;
use attestor_sigstore::{
    Artifact, Options, Policy, SigstoreError, TlogPolicy, TrustedRoot, verify_bundle_with,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn openssl_sign(digest: &str, data: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["dgst", &format!("-{digest}"), "-sign"])
        .arg(repo().join("examples/keys/test-only-p384.pem"))
        .arg(data)
        .output()
        .expect("openssl (needed by make test)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn bundle(algorithm: &str, digest: &[u8], signature: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "p384"}, "tlogEntries": []},
        "messageSignature": {
            "messageDigest": {"algorithm": algorithm, "digest": STANDARD.encode(digest)},
            "signature": STANDARD.encode(signature),
        },
    }))
    .unwrap()
}

#[test]
fn a_p384_key_verifies_over_sha384_and_sha256() {
    use sha2::Digest as _;
    let dir = std::env::temp_dir().join(format!("attestor-p384-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let artifact = dir.join("artifact.txt");
    let data = b"an artifact signed by a P-384 key\n";
    std::fs::write(&artifact, data).unwrap();
    let pem = std::fs::read_to_string(repo().join("examples/keys/test-only-p384.pub.pem")).unwrap();
    let key =
        PublicKey::from_spki_der(&attestor_core::pem::parse_pem(&pem).unwrap()[0].der).unwrap();
    let root = TrustedRoot::from_json(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/sigstore-conformance/trusted_root.public-good.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let policy = Policy {
        identities: vec![],
        key: Some(key),
        artifact: Artifact::Bytes(data.to_vec()),
        predicate_type: None,
    };
    let options = Options {
        tlog: TlogPolicy::Skip,
        ..Options::default()
    };
    let sha256 = sha2::Sha256::digest(data).to_vec();
    let sha384 = sha2::Sha384::digest(data).to_vec();
    let over_256 = openssl_sign("sha256", &artifact);
    let over_384 = openssl_sign("sha384", &artifact);
    verify_bundle_with(
        &bundle("SHA2_256", &sha256, &over_256),
        &root,
        &policy,
        &options,
    )
    .expect("P-384 over SHA-256");
    verify_bundle_with(
        &bundle("SHA2_384", &sha384, &over_384),
        &root,
        &policy,
        &options,
    )
    .expect("P-384 over SHA-384");
    // The signature is tried with the key's schemes, not the declared digest's hash (as
    // sigstore-go): P-384 over SHA-384, and over SHA-256 for the old clients that signed so.
    verify_bundle_with(
        &bundle("SHA2_384", &sha384, &over_256),
        &root,
        &policy,
        &options,
    )
    .expect("P-384 over SHA-256, whatever digest is declared");
    // Over SHA-512 is neither, declared or not.
    let over_512 = openssl_sign("sha512", &artifact);
    let sha512 = sha2::Sha512::digest(data).to_vec();
    assert!(matches!(
        verify_bundle_with(
            &bundle("SHA2_512", &sha512, &over_512),
            &root,
            &policy,
            &options
        ),
        Err(SigstoreError::SignatureInvalid(_))
    ));
    // A declared digest that is not the artifact's.
    assert!(matches!(
        verify_bundle_with(
            &bundle("SHA2_384", &sha256, &over_384),
            &root,
            &policy,
            &options
        ),
        Err(SigstoreError::ArtifactMismatch(_))
    ));
    // Only the artifact's SHA-256 given: a SHA-384 signature needs the file.
    let by_digest = Policy {
        artifact: Artifact::sha256(sha256.clone().try_into().unwrap()),
        ..policy.clone()
    };
    let e = verify_bundle_with(
        &bundle("SHA2_384", &sha384, &over_384),
        &root,
        &by_digest,
        &options,
    )
    .unwrap_err();
    assert!(e.to_string().contains("give the artifact file"), "{e}");
    // From the SHA-256 alone, the P-384 signature over SHA-256 verifies (prehashed); the one
    // over SHA-384 cannot be checked from it.
    verify_bundle_with(
        &bundle("SHA2_256", &sha256, &over_256),
        &root,
        &by_digest,
        &options,
    )
    .expect("P-384 over SHA-256 from the digest");
    let e = verify_bundle_with(
        &bundle("SHA2_256", &sha256, &over_384),
        &root,
        &by_digest,
        &options,
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::SignatureInvalid(_)), "{e}");
    // An algorithm the specs do not name.
    assert!(
        verify_bundle_with(&bundle("MD5", &sha256, &over_256), &root, &policy, &options).is_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
