//! Which signature schemes Sigstore material is verified with. Keys, schemes
//! and the algorithm registry are attestor-core's ([`attestor_core::keys`]);
//! this module holds Sigstore's rules for choosing among them:
//!
//! - a bundle's signature (DSSE or message signature) is tried with the key's
//!   default scheme, and for bundles 0.1 to 0.3 also with SHA-256 on P-384 and
//!   P-521, as old clients signed (sigstore-go `compatSignatureVerifier`);
//!   an Ed25519 message signature is Ed25519ph (hashedrekord logs only a
//!   digest), a DSSE one pure Ed25519;
//! - a log key's scheme is the trusted root's `keyDetails` when it names one,
//!   else the key's default.

use attestor_core::keys::{
    HashAlg, KeyDetails, KeyType, PublicKey, SignatureError, SignatureScheme,
};

/// What a bundle's signature signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// The PAE of a DSSE envelope.
    Dsse,
    /// The artifact itself (a `messageSignature`).
    MessageSignature,
}

/// The schemes a bundle signature by `key` is tried with, the default first
/// (sigstore-go `getSignatureVerifier` and sigstore/sigstore
/// `LoadDefaultVerifier`): P-256 with SHA-256, P-384 with SHA-384, P-521 with
/// SHA-512, RSA PKCS#1 v1.5 with SHA-256, Ed25519 pure for DSSE and Ed25519ph
/// for message signatures; and for bundle versions 1 to 3 (0.1 to 0.3, every
/// version there is) P-384 and P-521 over SHA-256 too.
pub fn content_schemes(
    key: &PublicKey,
    content: Content,
    bundle_version: u8,
) -> Vec<SignatureScheme> {
    let default = match (key.key_type(), content) {
        (KeyType::Ed25519, Content::MessageSignature) => SignatureScheme::Ed25519ph,
        _ => key.default_scheme(),
    };
    let mut schemes = vec![default];
    let compat = (1..=3).contains(&bundle_version);
    if compat && matches!(key.key_type(), KeyType::EcdsaP384 | KeyType::EcdsaP521) {
        schemes.push(SignatureScheme::Ecdsa(HashAlg::Sha256));
    }
    schemes
}

/// Verifies a bundle's signature over `message` with the first of
/// [`content_schemes`] that verifies; returns that scheme.
pub fn verify_content(
    key: &PublicKey,
    content: Content,
    bundle_version: u8,
    message: &[u8],
    sig: &[u8],
) -> Result<SignatureScheme, SignatureError> {
    let mut last = SignatureError::Invalid;
    for scheme in content_schemes(key, content, bundle_version) {
        match key.verify_signature(scheme, message, sig) {
            Ok(()) => return Ok(scheme),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Verifies a message signature from the artifact's `hash` digest alone,
/// with the [`content_schemes`] over that hash (ECDSA only: Ed25519ph and RSA
/// need the artifact, as in sigstore-go).
pub fn verify_content_prehashed(
    key: &PublicKey,
    bundle_version: u8,
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> Result<SignatureScheme, SignatureError> {
    let schemes = content_schemes(key, Content::MessageSignature, bundle_version);
    let mut last = SignatureError::Unsupported(
        "the signature is not over the digest given: give the artifact file",
    );
    for scheme in schemes.into_iter().filter(|s| s.hash() == Some(hash)) {
        match key.verify_prehashed(scheme, digest, sig) {
            Ok(()) => return Ok(scheme),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The scheme the trusted root declares for a log key in `keyDetails`:
/// `None` when it declares nothing usable (absent, unspecified, or a
/// registry name this verifier does not implement that fits the key), an
/// error when the declaration contradicts the key.
pub fn declared_scheme(
    key: &PublicKey,
    key_details: &str,
) -> Result<Option<SignatureScheme>, String> {
    if key_details.is_empty() || key_details == "PUBLIC_KEY_DETAILS_UNSPECIFIED" {
        return Ok(None);
    }
    let contradicts = || {
        format!(
            "keyDetails {key_details} does not fit its {} key",
            describe(key)
        )
    };
    match KeyDetails::lookup(key_details) {
        Some(d) => {
            if d.key_type != key.key_type() || d.rsa_bits.is_some_and(|b| Some(b) != key.rsa_bits())
            {
                return Err(contradicts());
            }
            Ok(Some(d.scheme))
        }
        None => match KeyDetails::key_family(key_details) {
            Some(family) if !family.admits(key.key_type()) => Err(contradicts()),
            _ => Ok(None),
        },
    }
}

fn describe(key: &PublicKey) -> String {
    match key.rsa_bits() {
        Some(bits) => format!("RSA-{bits}"),
        None => key.key_type().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pem_file: &str) -> PublicKey {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/keys")
            .join(pem_file);
        PublicKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn content_schemes_follow_sigstore_go() {
        use HashAlg::*;
        use SignatureScheme::*;
        let p256 = key("test-only-signing.pub.pem");
        let p384 = key("test-only-p384.pub.pem");
        let ed = key("test-only-signing-ed25519.pub.pem");
        assert_eq!(content_schemes(&p256, Content::Dsse, 3), [Ecdsa(Sha256)]);
        for content in [Content::Dsse, Content::MessageSignature] {
            assert_eq!(
                content_schemes(&p384, content, 1),
                [Ecdsa(Sha384), Ecdsa(Sha256)]
            );
            // A later bundle version would not get the compatibility scheme.
            assert_eq!(content_schemes(&p384, content, 4), [Ecdsa(Sha384)]);
        }
        assert_eq!(content_schemes(&ed, Content::Dsse, 3), [Ed25519]);
        assert_eq!(
            content_schemes(&ed, Content::MessageSignature, 3),
            [Ed25519ph]
        );
    }

    #[test]
    fn key_details_select_or_contradict() {
        let p256 = key("test-only-signing.pub.pem");
        let p384 = key("test-only-p384.pub.pem");
        assert_eq!(
            declared_scheme(&p384, "PKIX_ECDSA_P384_SHA_384"),
            Ok(Some(SignatureScheme::Ecdsa(HashAlg::Sha384)))
        );
        assert_eq!(
            declared_scheme(&p384, "PKIX_ECDSA_P384_SHA_256"),
            Ok(Some(SignatureScheme::Ecdsa(HashAlg::Sha256)))
        );
        assert_eq!(declared_scheme(&p256, ""), Ok(None));
        // Unknown to this verifier but about the same key type: the default.
        assert_eq!(
            declared_scheme(&p256, "PKIX_ECDSA_P256_HMAC_SHA_256"),
            Ok(None)
        );
        assert_eq!(declared_scheme(&p256, "ML_DSA_65"), Ok(None));
        // Known or not, a declaration of another key type is an error.
        for wrong in [
            "PKIX_ECDSA_P384_SHA_384",
            "PKIX_ED25519",
            "PKIX_RSA_PKCS1V15_2048_SHA256",
            "PKCS1_RSA_PKCS1V5",
            "PKIX_ECDSA_P521_HMAC_SHA_512",
        ] {
            let e = declared_scheme(&p256, wrong).unwrap_err();
            assert!(e.contains("ECDSA P-256"), "{wrong}: {e}");
        }
    }
}
