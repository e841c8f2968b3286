//! Signature schemes: how a signature is made with a key. One table for the
//! Sigstore algorithm registry (protobuf-specs `PublicKeyDetails`) and for the
//! signature-algorithm OIDs of X.509 certificates and CMS SignerInfos.
//!
//! A scheme names the hash and the padding; the curve or modulus comes from
//! the key, so ECDSA over SHA-256 is one scheme whatever the curve, and
//! [`SignatureScheme::fits`] says which key types can use it.

use std::fmt;

use x509_parser::prelude::FromDer;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::AlgorithmIdentifier;

use super::KeyType;

/// A hash a signature scheme or a message digest uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// From a hash AlgorithmIdentifier OID (NIST `id-sha256` and siblings).
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

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
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

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a signature is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// ECDSA over the hash of the message, on the key's curve.
    Ecdsa(HashAlg),
    /// Pure Ed25519 (RFC 8032).
    Ed25519,
    /// Ed25519ph: Ed25519 over the SHA-512 of the message (RFC 8032 section 5.1, no context).
    Ed25519ph,
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1v15(HashAlg),
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash, the only PSS
    /// parameters Sigstore and the Web PKI use.
    RsaPss(HashAlg),
}

impl SignatureScheme {
    /// Whether a key of `key_type` can make signatures of this scheme.
    pub fn fits(self, key_type: KeyType) -> bool {
        match self {
            SignatureScheme::Ecdsa(_) => key_type.is_ecdsa(),
            SignatureScheme::Ed25519 | SignatureScheme::Ed25519ph => key_type == KeyType::Ed25519,
            SignatureScheme::RsaPkcs1v15(_) | SignatureScheme::RsaPss(_) => {
                key_type == KeyType::Rsa
            }
        }
    }

    /// The hash the signature is made over, if the scheme hashes at all.
    pub fn hash(self) -> Option<HashAlg> {
        match self {
            SignatureScheme::Ecdsa(h)
            | SignatureScheme::RsaPkcs1v15(h)
            | SignatureScheme::RsaPss(h) => Some(h),
            SignatureScheme::Ed25519ph => Some(HashAlg::Sha512),
            SignatureScheme::Ed25519 => None,
        }
    }

    /// The scheme of a signature-algorithm OID that takes no parameters:
    /// ecdsa-with-SHA256/384/512, sha256/384/512WithRSAEncryption, Ed25519.
    /// RSASSA-PSS needs its parameters: see [`Self::from_algorithm_identifier`].
    pub fn from_x509_oid(oid: &str) -> Option<Self> {
        use HashAlg::*;
        Some(match oid {
            OID_ECDSA_SHA256 => SignatureScheme::Ecdsa(Sha256),
            OID_ECDSA_SHA384 => SignatureScheme::Ecdsa(Sha384),
            OID_ECDSA_SHA512 => SignatureScheme::Ecdsa(Sha512),
            OID_RSA_SHA256 => SignatureScheme::RsaPkcs1v15(Sha256),
            OID_RSA_SHA384 => SignatureScheme::RsaPkcs1v15(Sha384),
            OID_RSA_SHA512 => SignatureScheme::RsaPkcs1v15(Sha512),
            OID_ED25519 => SignatureScheme::Ed25519,
            _ => return None,
        })
    }

    /// The scheme of an X.509 or CMS signature AlgorithmIdentifier, parameters
    /// included. `cms_digest` is the SignerInfo's digestAlgorithm: CMS lets a
    /// signer name only the key algorithm (rsaEncryption, id-ecPublicKey) and
    /// take the hash from there (RFC 5652 section 5.3, RFC 5754).
    pub fn from_algorithm_identifier(
        alg: &AlgorithmIdentifier<'_>,
        cms_digest: Option<HashAlg>,
    ) -> Result<Self, SchemeError> {
        let oid = alg.algorithm.to_id_string();
        let params = alg.parameters.as_ref();
        let is_null =
            params.is_some_and(|p| p.tag() == x509_parser::der_parser::asn1_rs::Tag::Null);
        match oid.as_str() {
            // RFC 4055 section 5: NULL parameters (or, as many producers write, none).
            OID_RSA_SHA256 | OID_RSA_SHA384 | OID_RSA_SHA512 | OID_RSA_ENCRYPTION
                if params.is_some() && !is_null =>
            {
                Err(SchemeError::BadParameters(format!(
                    "{} must carry NULL parameters",
                    describe(&oid)
                )))
            }
            // RFC 5758 section 3.2 and RFC 8410 section 3: no parameters at all.
            OID_ECDSA_SHA256 | OID_ECDSA_SHA384 | OID_ECDSA_SHA512 | OID_ED25519
                if params.is_some() =>
            {
                Err(SchemeError::BadParameters(format!(
                    "{} must not carry parameters",
                    describe(&oid)
                )))
            }
            OID_RSA_PSS => {
                let params = params.ok_or_else(|| {
                    SchemeError::BadParameters("RSASSA-PSS without its parameters".into())
                })?;
                let pss = RsaSsaPssParams::try_from(params).map_err(|e| {
                    SchemeError::BadParameters(format!("RSASSA-PSS parameters: {e}"))
                })?;
                pss_scheme(&pss)
            }
            OID_RSA_ENCRYPTION | OID_EC_PUBLIC_KEY => {
                let hash = cms_digest.ok_or_else(|| SchemeError::Unsupported(describe(&oid)))?;
                Ok(if oid == OID_RSA_ENCRYPTION {
                    SignatureScheme::RsaPkcs1v15(hash)
                } else {
                    SignatureScheme::Ecdsa(hash)
                })
            }
            _ => Self::from_x509_oid(&oid).ok_or_else(|| SchemeError::Unsupported(describe(&oid))),
        }
    }

    /// [`Self::from_algorithm_identifier`] from the AlgorithmIdentifier's DER.
    pub fn from_algorithm_identifier_der(
        der: &[u8],
        cms_digest: Option<HashAlg>,
    ) -> Result<Self, SchemeError> {
        let (rest, alg) = AlgorithmIdentifier::from_der(der).map_err(|e| {
            SchemeError::BadParameters(format!("not a DER AlgorithmIdentifier: {e}"))
        })?;
        if !rest.is_empty() {
            return Err(SchemeError::BadParameters(
                "bytes after the AlgorithmIdentifier".into(),
            ));
        }
        Self::from_algorithm_identifier(&alg, cms_digest)
    }
}

fn pss_scheme(pss: &RsaSsaPssParams<'_>) -> Result<SignatureScheme, SchemeError> {
    let bad = |why: String| Err(SchemeError::BadParameters(format!("RSASSA-PSS {why}")));
    let hash_oid = pss.hash_algorithm_oid().to_id_string();
    let Some(hash) = HashAlg::from_oid(&hash_oid) else {
        return bad(format!(
            "hash {hash_oid} is not supported (SHA-256, SHA-384, SHA-512)"
        ));
    };
    let mgf = pss
        .mask_gen_algorithm()
        .map_err(|e| SchemeError::BadParameters(format!("RSASSA-PSS mask generation: {e}")))?;
    if mgf.mgf.to_id_string() != OID_MGF1 {
        return bad(format!("mask generation {} is not MGF1", mgf.mgf));
    }
    if mgf.hash.to_id_string() != hash_oid {
        return bad(format!(
            "MGF1 hash {} differs from the signature hash {hash}",
            mgf.hash
        ));
    }
    if pss.salt_length() as usize != hash.output_len() {
        return bad(format!(
            "salt length {} is not the hash length {}",
            pss.salt_length(),
            hash.output_len()
        ));
    }
    if pss.trailer_field() != 1 {
        return bad(format!("trailer field {} is not 1", pss.trailer_field()));
    }
    Ok(SignatureScheme::RsaPss(hash))
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureScheme::Ecdsa(h) => write!(f, "ECDSA with {h}"),
            SignatureScheme::Ed25519 => f.write_str("Ed25519"),
            SignatureScheme::Ed25519ph => f.write_str("Ed25519ph"),
            SignatureScheme::RsaPkcs1v15(h) => write!(f, "RSA PKCS#1 v1.5 with {h}"),
            SignatureScheme::RsaPss(h) => write!(f, "RSA-PSS with {h}"),
        }
    }
}

/// Why a signature algorithm cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("signature algorithm {0} is not supported")]
    Unsupported(String),
    #[error("signature algorithm is malformed: {0}")]
    BadParameters(String),
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
const OID_ED25519: &str = "1.3.101.112";

/// "sha256WithRSAEncryption (1.2.840.113549.1.1.11)", or the dotted OID alone.
fn describe(oid: &str) -> String {
    let name = match oid {
        OID_ECDSA_SHA256 => "ecdsa-with-SHA256",
        OID_ECDSA_SHA384 => "ecdsa-with-SHA384",
        OID_ECDSA_SHA512 => "ecdsa-with-SHA512",
        OID_RSA_SHA256 => "sha256WithRSAEncryption",
        OID_RSA_SHA384 => "sha384WithRSAEncryption",
        OID_RSA_SHA512 => "sha512WithRSAEncryption",
        OID_RSA_PSS => "RSASSA-PSS",
        OID_RSA_ENCRYPTION => "rsaEncryption",
        OID_EC_PUBLIC_KEY => "id-ecPublicKey",
        OID_ED25519 => "Ed25519",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        _ => return oid.to_string(),
    };
    format!("{name} ({oid})")
}

/// One entry of the Sigstore algorithm registry (protobuf-specs
/// `PublicKeyDetails`, docs/algorithm-registry.md there): a key type, for RSA
/// its exact size, and the scheme its signatures use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDetails {
    pub name: &'static str,
    pub key_type: KeyType,
    pub rsa_bits: Option<u32>,
    pub scheme: SignatureScheme,
    /// Kept for old signatures; new material should not use it.
    pub deprecated: bool,
}

const fn details(
    name: &'static str,
    key_type: KeyType,
    rsa_bits: Option<u32>,
    scheme: SignatureScheme,
    deprecated: bool,
) -> KeyDetails {
    KeyDetails {
        name,
        key_type,
        rsa_bits,
        scheme,
        deprecated,
    }
}

/// The registry entries this verifier implements.
pub const KEY_DETAILS: &[KeyDetails] = {
    use HashAlg::*;
    use KeyType::*;
    use SignatureScheme::*;
    &[
        details(
            "PKIX_ECDSA_P256_SHA_256",
            EcdsaP256,
            None,
            Ecdsa(Sha256),
            false,
        ),
        details(
            "PKIX_ECDSA_P384_SHA_384",
            EcdsaP384,
            None,
            Ecdsa(Sha384),
            false,
        ),
        details(
            "PKIX_ECDSA_P521_SHA_512",
            EcdsaP521,
            None,
            Ecdsa(Sha512),
            false,
        ),
        details(
            "PKIX_ECDSA_P384_SHA_256",
            EcdsaP384,
            None,
            Ecdsa(Sha256),
            true,
        ),
        details(
            "PKIX_ECDSA_P521_SHA_256",
            EcdsaP521,
            None,
            Ecdsa(Sha256),
            true,
        ),
        details(
            "PKIX_ED25519",
            KeyType::Ed25519,
            None,
            SignatureScheme::Ed25519,
            false,
        ),
        details("PKIX_ED25519_PH", KeyType::Ed25519, None, Ed25519ph, false),
        details(
            "PKIX_RSA_PKCS1V15_2048_SHA256",
            Rsa,
            Some(2048),
            RsaPkcs1v15(Sha256),
            false,
        ),
        details(
            "PKIX_RSA_PKCS1V15_3072_SHA256",
            Rsa,
            Some(3072),
            RsaPkcs1v15(Sha256),
            false,
        ),
        details(
            "PKIX_RSA_PKCS1V15_4096_SHA256",
            Rsa,
            Some(4096),
            RsaPkcs1v15(Sha256),
            false,
        ),
        details(
            "PKIX_RSA_PSS_2048_SHA256",
            Rsa,
            Some(2048),
            RsaPss(Sha256),
            false,
        ),
        details(
            "PKIX_RSA_PSS_3072_SHA256",
            Rsa,
            Some(3072),
            RsaPss(Sha256),
            false,
        ),
        details(
            "PKIX_RSA_PSS_4096_SHA256",
            Rsa,
            Some(4096),
            RsaPss(Sha256),
            false,
        ),
    ]
};

impl KeyDetails {
    /// The registry entry named `name` (`PKIX_ECDSA_P256_SHA_256`, ...).
    pub fn lookup(name: &str) -> Option<&'static KeyDetails> {
        KEY_DETAILS.iter().find(|d| d.name == name)
    }

    /// The key type a registry name speaks of, read from its words, for names
    /// this table does not implement (`PKIX_ECDSA_P256_HMAC_SHA_256`,
    /// `PKCS1_RSA_PKCS1V5`, ...): enough to tell whether it contradicts a key.
    pub fn key_family(name: &str) -> Option<KeyFamily> {
        let words: Vec<&str> = name.split('_').collect();
        let has = |w: &str| words.contains(&w);
        if has("ECDSA") {
            Some(KeyFamily::Ecdsa(if has("P256") {
                Some(KeyType::EcdsaP256)
            } else if has("P384") {
                Some(KeyType::EcdsaP384)
            } else if has("P521") {
                Some(KeyType::EcdsaP521)
            } else {
                None
            }))
        } else if has("ED25519") {
            Some(KeyFamily::Ed25519)
        } else if has("RSA") {
            Some(KeyFamily::Rsa)
        } else {
            None
        }
    }
}

/// The kind of key a registry name is about; the curve when it names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Ecdsa(Option<KeyType>),
    Ed25519,
    Rsa,
}

impl KeyFamily {
    pub fn admits(self, key_type: KeyType) -> bool {
        match self {
            KeyFamily::Ecdsa(None) => key_type.is_ecdsa(),
            KeyFamily::Ecdsa(Some(curve)) => key_type == curve,
            KeyFamily::Ed25519 => key_type == KeyType::Ed25519,
            KeyFamily::Rsa => key_type == KeyType::Rsa,
        }
    }
}
