//! Signature verification for the key types a Sigstore trusted root names:
//! ECDSA P-256/P-384 with SHA-256/384 and Ed25519 through ring, RSA PKCS#1 v1.5
//! (some TSAs and CT logs), and a prehashed ECDSA P-256 path for artifacts given
//! only by digest. The product's own keys stay P-256/Ed25519 (attestor-core);
//! the Fulcio and TSA roots are P-384, so this crate carries its own wider set.

use ring::signature::{self as rs, UnparsedPublicKey};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn from_oid(oid: &str) -> Option<Self> {
        match oid {
            "2.16.840.1.101.3.4.2.1" => Some(HashAlg::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(HashAlg::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// `SHA-256`, `SHA-384`, `SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// The hash of a certificate or CMS signature algorithm OID, and whether it is ECDSA
/// (true), RSA PKCS#1 (false). Ed25519 has no separate hash and is handled apart.
pub fn signature_algorithm(oid: &str) -> Option<(HashAlg, bool)> {
    match oid {
        "1.2.840.10045.4.3.2" => Some((HashAlg::Sha256, true)),
        "1.2.840.10045.4.3.3" => Some((HashAlg::Sha384, true)),
        "1.2.840.10045.4.3.4" => Some((HashAlg::Sha512, true)),
        "1.2.840.113549.1.1.11" => Some((HashAlg::Sha256, false)),
        "1.2.840.113549.1.1.12" => Some((HashAlg::Sha384, false)),
        "1.2.840.113549.1.1.13" => Some((HashAlg::Sha512, false)),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("public key is malformed: {0}")]
    BadKey(String),
    #[error("{0} is not supported")]
    Unsupported(String),
    #[error("signature does not verify")]
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

/// A parsed SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kind: KeyKind,
    /// What ring wants: the EC point, the Ed25519 key, or the RSAPublicKey DER.
    raw: Vec<u8>,
    pub spki_der: Vec<u8>,
}

impl Key {
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| CryptoError::BadKey(format!("not a SubjectPublicKeyInfo: {e}")))?;
        if !rest.is_empty() {
            return Err(CryptoError::BadKey("trailing bytes after the key".into()));
        }
        let alg = spki.algorithm.algorithm.to_id_string();
        let raw = spki.subject_public_key.data.to_vec();
        let kind = match alg.as_str() {
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some(OID_P256) if raw.len() == 65 && raw[0] == 4 => KeyKind::P256,
                    Some(OID_P384) if raw.len() == 97 && raw[0] == 4 => KeyKind::P384,
                    Some(OID_P256 | OID_P384) => {
                        return Err(CryptoError::BadKey("EC point is not uncompressed".into()));
                    }
                    other => {
                        return Err(CryptoError::Unsupported(format!("ECDSA curve {other:?}")));
                    }
                }
            }
            OID_ED25519 if raw.len() == 32 => KeyKind::Ed25519,
            OID_RSA => KeyKind::Rsa,
            other => return Err(CryptoError::Unsupported(format!("key algorithm {other}"))),
        };
        Ok(Self {
            kind,
            raw,
            spki_der: der.to_vec(),
        })
    }

    /// Verifies `sig` over `message`, hashing with `hash` (ignored for Ed25519).
    pub fn verify(&self, hash: HashAlg, message: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let alg: &dyn rs::VerificationAlgorithm = match (self.kind, hash) {
            (KeyKind::Ed25519, _) => &rs::ED25519,
            (KeyKind::P256, HashAlg::Sha256) => &rs::ECDSA_P256_SHA256_ASN1,
            (KeyKind::P256, HashAlg::Sha384) => &rs::ECDSA_P256_SHA384_ASN1,
            (KeyKind::P384, HashAlg::Sha256) => &rs::ECDSA_P384_SHA256_ASN1,
            (KeyKind::P384, HashAlg::Sha384) => &rs::ECDSA_P384_SHA384_ASN1,
            (KeyKind::Rsa, HashAlg::Sha256) => &rs::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, HashAlg::Sha384) => &rs::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, HashAlg::Sha512) => &rs::RSA_PKCS1_2048_8192_SHA512,
            (kind, hash) => {
                return Err(CryptoError::Unsupported(format!("{kind:?} with {hash:?}")));
            }
        };
        UnparsedPublicKey::new(alg, &self.raw)
            .verify(message, sig)
            .map_err(|_| CryptoError::Invalid)
    }

    /// The default hash of a key for Sigstore message signatures.
    pub fn default_hash(&self) -> HashAlg {
        match self.kind {
            KeyKind::P384 => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// Verifies an ECDSA P-256 DER signature over a SHA-256 digest computed elsewhere
    /// (an artifact given only as `sha256:<hex>`).
    pub fn verify_prehashed_sha256(
        &self,
        digest: &[u8; 32],
        sig: &[u8],
    ) -> Result<(), CryptoError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        if self.kind != KeyKind::P256 {
            return Err(CryptoError::Unsupported(format!(
                "verifying a {:?} signature from the artifact digest alone (give the artifact file)",
                self.kind
            )));
        }
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.raw)
            .map_err(|_| CryptoError::BadKey("not a P-256 point".into()))?;
        let sig = p256::ecdsa::Signature::from_der(sig).map_err(|_| CryptoError::Invalid)?;
        vk.verify_prehash(digest, &sig)
            .map_err(|_| CryptoError::Invalid)
    }
}
