//! `attestor keys generate`.

use std::path::{Path, PathBuf};

use attestor_core::keys::SigningKey;
use attestor_core::pem::to_pem;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair};

use crate::CliError;
use crate::cli::{KeyAlgorithm, KeysGenerateArgs};
use crate::error::write_file;

/// `key.pem` -> `key.pub.pem`; `key` -> `key.pub`.
pub fn public_path(private: &Path) -> PathBuf {
    match private.extension().and_then(|e| e.to_str()) {
        Some(ext) => private.with_extension(format!("pub.{ext}")),
        None => private.with_extension("pub"),
    }
}

/// Generates a PKCS#8 private key in PEM form.
pub fn generate_pem(algorithm: KeyAlgorithm) -> Result<String, CliError> {
    let rng = SystemRandom::new();
    let rng_failed = |_| CliError::Usage("the system random number generator failed".into());
    let der = match algorithm {
        KeyAlgorithm::P256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(rng_failed)?
            .as_ref()
            .to_vec(),
        KeyAlgorithm::Ed25519 => ed25519_pkcs8_v1(
            Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(rng_failed)?
                .as_ref(),
        )?,
    };
    Ok(to_pem("PRIVATE KEY", &der))
}

/// ring writes Ed25519 keys as PKCS#8 v2 (RFC 5958, public key embedded),
/// which OpenSSL 3.0 cannot read; users sign with both tools, so keys are
/// written in the v1 form every tool reads: the fixed RFC 8410 prefix and
/// the 32-byte seed.
pub fn ed25519_pkcs8_v1(v2: &[u8]) -> Result<Vec<u8>, CliError> {
    const V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    const SEED_OFFSET: usize = 16;
    let seed = v2
        .get(SEED_OFFSET..SEED_OFFSET + 32)
        .filter(|_| v2.get(9..12) == Some(&[0x2b, 0x65, 0x70]))
        .ok_or_else(|| {
            CliError::Usage("unexpected Ed25519 PKCS#8 layout from the key generator".into())
        })?;
    let mut v1 = V1_PREFIX.to_vec();
    v1.extend_from_slice(seed);
    Ok(v1)
}

pub fn run(args: &KeysGenerateArgs) -> Result<(), CliError> {
    if args.out.exists() {
        return Err(CliError::input(
            &args.out,
            "already exists; refusing to overwrite a private key",
        ));
    }
    let private = generate_pem(args.algorithm)?;
    let key = SigningKey::from_pem(&private)
        .map_err(|e| CliError::Usage(format!("generated key unreadable: {e}")))?;
    let public = key.public_key();
    write_file(&args.out, private.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&args.out, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| CliError::Io {
                path: args.out.clone(),
                action: "restrict its permissions",
                source,
            },
        )?;
    }
    let pub_path = public_path(&args.out);
    write_file(&pub_path, public.to_pem().as_bytes())?;
    println!("private key: {}", args.out.display());
    println!("public key:  {}", pub_path.display());
    println!("key id:      {} ({})", public.key_id(), key.algorithm());
    Ok(())
}
