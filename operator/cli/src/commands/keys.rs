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
    let der = match algorithm {
        KeyAlgorithm::P256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng),
        KeyAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
    }
    .map_err(|_| CliError::Usage("the system random number generator failed".into()))?;
    Ok(to_pem("PRIVATE KEY", der.as_ref()))
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
    println!("key id:      {} ({})", public.key_id(), public.algorithm());
    Ok(())
}
