//! Public and private keys, key ids and signature verification: the one key
//! model of the product, of signed notes and of Sigstore material.
//!
//! [`PublicKey`] holds any key this code can verify with: ECDSA P-256, P-384
//! and P-521, Ed25519, and RSA of 2048 to 8192 bits. Keys are parsed and
//! checked once (the curve crates validate the point; RSA moduli and
//! exponents are checked), and stored in one canonical SubjectPublicKeyInfo,
//! so that a key has one id whichever encoding it arrived in.
//!
//! Which keys are *accepted* is a separate question, answered where the key
//! is used. The product's own material (proof bundles, TrustAnchors, the
//! product's certificate chains) accepts ECDSA P-256 with SHA-256 and Ed25519
//! only: [`PublicKey::require_product_algorithm`] is that boundary. Sigstore
//! material accepts the registry in [`scheme`].
//!
//! Verification goes through `ring` wherever ring has the algorithm (it is
//! about five times faster than the RustCrypto crates on the P-256 hot path);
//! P-521, ECDSA over SHA-512 and prehashed ECDSA go through p256/p384/p521,
//! and Ed25519ph through ed25519-dalek.

use std::fmt;

use ring::signature::{self as ring_sig, UnparsedPublicKey};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::digest::Sha256Digest;
use crate::pem::{PemError, parse_pem, to_pem};

pub mod scheme;

pub use scheme::{HashAlg, KeyDetails, KeyFamily, SchemeError, SignatureScheme};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// DER of the AlgorithmIdentifier of each key type, as the canonical SPKI carries it.
const ALG_P256: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
const ALG_P384: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];
const ALG_P521: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x23,
];
const ALG_ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
/// rsaEncryption with NULL parameters (RFC 3279 section 2.3.1), as Go and OpenSSL write it.
const ALG_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// RSA moduli accepted: ring's range, and the Sigstore registry's sizes within it.
pub const RSA_MIN_BITS: u32 = 2048;
pub const RSA_MAX_BITS: u32 = 8192;

/// What the product accepts for its own keys, for messages.
pub const PRODUCT_ALGORITHMS: &str = "ECDSA P-256 with SHA-256, Ed25519";
/// Every key type [`PublicKey`] parses, for messages.
pub const ALL_KEY_TYPES: &str = "ECDSA P-256, P-384, P-521, Ed25519, RSA of 2048 to 8192 bits";

/// A signature algorithm this product accepts for its own material (proof
/// bundles, TrustAnchors, its certificate chains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    #[serde(rename = "ecdsa-p256-sha256")]
    EcdsaP256Sha256,
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The key type that signs with this algorithm.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::EcdsaP256Sha256 => KeyType::EcdsaP256,
            Algorithm::Ed25519 => KeyType::Ed25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a [`PublicKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Ed25519,
    Rsa,
}

impl KeyType {
    pub fn is_ecdsa(self) -> bool {
        matches!(
            self,
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521
        )
    }

    /// The largest DER INTEGER of an ECDSA signature on this curve: the
    /// scalar size plus a leading zero byte.
    fn ecdsa_max_int_len(self) -> usize {
        match self {
            KeyType::EcdsaP384 => 49,
            KeyType::EcdsaP521 => 67,
            _ => 33,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::EcdsaP384 => "ECDSA P-384",
            KeyType::EcdsaP521 => "ECDSA P-521",
            KeyType::Ed25519 => "Ed25519",
            KeyType::Rsa => "RSA",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A well-formed key of a type refused where it is used: `supported` says
    /// what that place accepts ([`PRODUCT_ALGORITHMS`] or [`ALL_KEY_TYPES`]).
    #[error("algorithm not supported: {algorithm} (supported: {supported})")]
    AlgorithmNotSupported {
        algorithm: String,
        supported: &'static str,
    },
    #[error("malformed public key: {0}")]
    Malformed(String),
    #[error("malformed private key: {0}")]
    MalformedPrivate(String),
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("expected a \"{expected}\" PEM block, found \"{found}\" (line {line})")]
    UnexpectedPemLabel {
        expected: &'static str,
        found: String,
        line: usize,
    },
    #[error("the PEM text holds {0} keys; give one key per file")]
    MoreThanOneKey(usize),
}

impl KeyError {
    /// True when the key was well-formed but of an algorithm we refuse.
    pub fn is_algorithm_not_supported(&self) -> bool {
        matches!(self, KeyError::AlgorithmNotSupported { .. })
    }
}

/// Why a signature did not verify. `Invalid` is kept coarse on purpose: the
/// caller knows which key and which document were involved and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature does not verify")]
    Invalid,
    #[error("{scheme} signatures cannot be made with an {key_type} key")]
    SchemeMismatch {
        scheme: SignatureScheme,
        key_type: KeyType,
    },
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Names an algorithm OID for error messages.
pub(crate) fn describe_algorithm_oid(oid: &str, curve: Option<&str>) -> String {
    let name = match oid {
        OID_RSA => "RSA",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        OID_ED25519 => "Ed25519",
        OID_EC_PUBLIC_KEY => match curve {
            Some(OID_P256) => "ECDSA P-256",
            Some(OID_P384) => "ECDSA P-384",
            Some(OID_P521) => "ECDSA P-521",
            Some("1.3.132.0.10") => "ECDSA secp256k1",
            Some("1.3.36.3.3.2.8.1.1.7") => "ECDSA brainpoolP256r1",
            _ => "ECDSA on an unsupported curve",
        },
        _ => "unknown key algorithm",
    };
    match curve {
        Some(c) => format!("{name} ({oid}, curve {c})"),
        None => format!("{name} ({oid})"),
    }
}

/// A validated public key in canonical form.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_type: KeyType,
    /// What `ring` wants: the uncompressed SEC1 point, the 32 raw Ed25519
    /// bytes, or the RSAPublicKey DER (minimal integers).
    raw: Vec<u8>,
    /// The modulus size of an RSA key.
    rsa_bits: Option<u32>,
    /// Canonical SubjectPublicKeyInfo DER (named curve, uncompressed point,
    /// rsaEncryption with NULL, minimal integers), as Go's
    /// `x509.MarshalPKIXPublicKey` writes it.
    spki_der: Vec<u8>,
    key_id: Sha256Digest,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rsa_bits {
            Some(bits) => write!(f, "PublicKey(RSA-{bits} {})", self.key_id),
            None => write!(f, "PublicKey({} {})", self.key_type, self.key_id),
        }
    }
}

/// DER of one element with a one-byte tag.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER from big-endian magnitude bytes: minimal, non-negative.
fn der_uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = match magnitude.iter().position(|&b| b != 0) {
        Some(i) => &magnitude[i..],
        None => &[0],
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    der(0x02, &content)
}

impl PublicKey {
    fn from_parts(key_type: KeyType, raw: Vec<u8>, rsa_bits: Option<u32>) -> Self {
        let alg = match key_type {
            KeyType::EcdsaP256 => ALG_P256,
            KeyType::EcdsaP384 => ALG_P384,
            KeyType::EcdsaP521 => ALG_P521,
            KeyType::Ed25519 => ALG_ED25519,
            KeyType::Rsa => ALG_RSA,
        };
        let mut bits = vec![0u8];
        bits.extend_from_slice(&raw);
        let mut body = alg.to_vec();
        body.extend(der(0x03, &bits));
        let spki_der = der(0x30, &body);
        let key_id = Sha256Digest::of(&spki_der);
        Self {
            key_type,
            raw,
            rsa_bits,
            spki_der,
            key_id,
        }
    }

    /// Parses a DER SubjectPublicKeyInfo of any supported type ([`ALL_KEY_TYPES`]).
    /// Where only the product's own algorithms are accepted, follow with
    /// [`Self::require_product_algorithm`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| KeyError::Malformed(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
        if !rest.is_empty() {
            return Err(KeyError::Malformed(format!(
                "{} unexpected bytes after the SubjectPublicKeyInfo",
                rest.len()
            )));
        }
        Self::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, KeyError> {
        let oid = spki.algorithm.algorithm.to_id_string();
        let key_bits: &[u8] = &spki.subject_public_key.data;
        if spki.subject_public_key.unused_bits != 0 {
            return Err(KeyError::Malformed(
                "the public key BIT STRING has unused bits".into(),
            ));
        }
        match oid.as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| x509_parser::der_parser::oid::Oid::try_from(p).ok())
                    .map(|o| o.to_id_string());
                use p256::elliptic_curve::sec1::ToEncodedPoint as _;
                // The curve crates check that the point is on the curve; the
                // canonical form is the uncompressed point.
                let (key_type, point) = match curve.as_deref() {
                    Some(OID_P256) => (
                        KeyType::EcdsaP256,
                        p256::PublicKey::from_sec1_bytes(key_bits)
                            .map(|p| p.to_encoded_point(false).as_bytes().to_vec()),
                    ),
                    Some(OID_P384) => (
                        KeyType::EcdsaP384,
                        p384::PublicKey::from_sec1_bytes(key_bits)
                            .map(|p| p.to_encoded_point(false).as_bytes().to_vec()),
                    ),
                    Some(OID_P521) => (
                        KeyType::EcdsaP521,
                        p521::PublicKey::from_sec1_bytes(key_bits)
                            .map(|p| p.to_encoded_point(false).as_bytes().to_vec()),
                    ),
                    other => {
                        return Err(KeyError::AlgorithmNotSupported {
                            algorithm: describe_algorithm_oid(&oid, other),
                            supported: ALL_KEY_TYPES,
                        });
                    }
                };
                let point = point.map_err(|_| {
                    KeyError::Malformed(format!(
                        "{} public key is not a valid curve point",
                        &key_type.name()["ECDSA ".len()..]
                    ))
                })?;
                Ok(Self::from_parts(key_type, point, None))
            }
            OID_ED25519 => {
                if spki.algorithm.parameters.is_some() {
                    return Err(KeyError::Malformed(
                        "Ed25519 key must not carry algorithm parameters".into(),
                    ));
                }
                if key_bits.len() != 32 {
                    return Err(KeyError::Malformed(format!(
                        "Ed25519 public key must be 32 bytes, found {}",
                        key_bits.len()
                    )));
                }
                Ok(Self::from_parts(KeyType::Ed25519, key_bits.to_vec(), None))
            }
            OID_RSA => Self::from_rsa(spki, key_bits),
            _ => Err(KeyError::AlgorithmNotSupported {
                algorithm: describe_algorithm_oid(&oid, None),
                supported: ALL_KEY_TYPES,
            }),
        }
    }

    /// An RSAPublicKey (RFC 8017 A.1.1): a modulus of 2048 to 8192 bits and
    /// an odd public exponent of at least 3 and below 2^33, ring's bounds.
    fn from_rsa(spki: &SubjectPublicKeyInfo<'_>, key_bits: &[u8]) -> Result<Self, KeyError> {
        let bad = |why: String| Err(KeyError::Malformed(format!("RSA public key: {why}")));
        if let Some(p) = &spki.algorithm.parameters
            && p.tag() != x509_parser::der_parser::asn1_rs::Tag::Null
        {
            return bad("rsaEncryption parameters must be NULL".into());
        }
        let (rest, key) = match RSAPublicKey::from_der(key_bits) {
            Ok(parsed) => parsed,
            Err(_) => return bad("not a DER RSAPublicKey".into()),
        };
        if !rest.is_empty() {
            return bad("bytes after the RSAPublicKey".into());
        }
        let positive = |int: &[u8]| int.first().is_some_and(|b| b & 0x80 == 0);
        if !positive(key.modulus) || !positive(key.exponent) {
            return bad("the modulus and the exponent must be positive".into());
        }
        let modulus: &[u8] = match key.modulus.iter().position(|&b| b != 0) {
            Some(i) => &key.modulus[i..],
            None => return bad("the modulus is zero".into()),
        };
        let bits = (modulus.len() * 8) as u32 - modulus[0].leading_zeros();
        if bits < RSA_MIN_BITS {
            return Err(KeyError::AlgorithmNotSupported {
                algorithm: format!(
                    "RSA with a {bits}-bit modulus ({OID_RSA}; at least {RSA_MIN_BITS} bits are required)"
                ),
                supported: ALL_KEY_TYPES,
            });
        }
        if bits > RSA_MAX_BITS {
            return Err(KeyError::AlgorithmNotSupported {
                algorithm: format!(
                    "RSA with a {bits}-bit modulus ({OID_RSA}; at most {RSA_MAX_BITS} bits)"
                ),
                supported: ALL_KEY_TYPES,
            });
        }
        let exponent = match key.try_exponent() {
            Ok(e) => e,
            Err(_) => return bad("the public exponent is larger than 64 bits".into()),
        };
        if exponent < 3 || exponent % 2 == 0 || exponent >= 1 << 33 {
            return bad(format!(
                "public exponent {exponent} is not an odd number from 3 to 2^33"
            ));
        }
        let mut body = der_uint(modulus);
        body.extend(der_uint(&exponent.to_be_bytes()));
        Ok(Self::from_parts(KeyType::Rsa, der(0x30, &body), Some(bits)))
    }

    /// Parses exactly one `PUBLIC KEY` PEM block (any supported type).
    /// An Ed25519 key from its 32 raw bytes (TUF and signed-note key formats carry it bare).
    pub fn from_ed25519_bytes(raw: &[u8]) -> Result<Self, KeyError> {
        if raw.len() != 32 {
            return Err(KeyError::Malformed(format!(
                "Ed25519 public key must be 32 bytes, found {}",
                raw.len()
            )));
        }
        Ok(Self::from_parts(KeyType::Ed25519, raw.to_vec(), None))
    }

    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let blocks = parse_pem(text)?;
        if blocks.len() != 1 {
            return Err(KeyError::MoreThanOneKey(blocks.len()));
        }
        let block = &blocks[0];
        if block.label != "PUBLIC KEY" {
            return Err(KeyError::UnexpectedPemLabel {
                expected: "PUBLIC KEY",
                found: block.label.clone(),
                line: block.line,
            });
        }
        Self::from_spki_der(&block.der)
    }

    /// The product's algorithm for this key, or `AlgorithmNotSupported`
    /// naming the key when the product does not accept it for its own
    /// material (proof bundles, TrustAnchors, its certificate chains).
    pub fn product_algorithm(&self) -> Result<Algorithm, KeyError> {
        match self.key_type {
            KeyType::EcdsaP256 => Ok(Algorithm::EcdsaP256Sha256),
            KeyType::Ed25519 => Ok(Algorithm::Ed25519),
            other => Err(KeyError::AlgorithmNotSupported {
                algorithm: match other {
                    KeyType::EcdsaP384 => describe_algorithm_oid(OID_EC_PUBLIC_KEY, Some(OID_P384)),
                    KeyType::EcdsaP521 => describe_algorithm_oid(OID_EC_PUBLIC_KEY, Some(OID_P521)),
                    _ => describe_algorithm_oid(OID_RSA, None),
                },
                supported: PRODUCT_ALGORITHMS,
            }),
        }
    }

    /// This key when the product accepts it for its own material; see
    /// [`Self::product_algorithm`].
    pub fn require_product_algorithm(self) -> Result<Self, KeyError> {
        self.product_algorithm().map(|_| self)
    }

    /// Parses a key for the product's own material: [`Self::from_spki_der`]
    /// then [`Self::require_product_algorithm`]. A well-formed key of any
    /// other type is `AlgorithmNotSupported`, named.
    pub fn from_spki_der_product(der: &[u8]) -> Result<Self, KeyError> {
        Self::product_only(Self::from_spki_der(der))
    }

    /// [`Self::from_spki_der_product`] for a parsed SubjectPublicKeyInfo.
    pub(crate) fn from_spki_product(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self, KeyError> {
        Self::product_only(Self::from_spki(spki))
    }

    fn product_only(parsed: Result<Self, KeyError>) -> Result<Self, KeyError> {
        match parsed {
            Ok(key) => key.require_product_algorithm(),
            Err(KeyError::AlgorithmNotSupported { algorithm, .. }) => {
                Err(KeyError::AlgorithmNotSupported {
                    algorithm,
                    supported: PRODUCT_ALGORITHMS,
                })
            }
            Err(e) => Err(e),
        }
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The modulus size of an RSA key.
    pub fn rsa_bits(&self) -> Option<u32> {
        self.rsa_bits
    }

    /// `sha256:` + hex SHA-256 of the canonical DER SubjectPublicKeyInfo.
    pub fn key_id(&self) -> Sha256Digest {
        self.key_id
    }

    /// The canonical DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The raw key: the uncompressed SEC1 point of an ECDSA key, the 32
    /// bytes of an Ed25519 key, the RSAPublicKey DER of an RSA key.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn to_pem(&self) -> String {
        to_pem("PUBLIC KEY", &self.spki_der)
    }

    /// The scheme a signature by this key uses when nothing says otherwise:
    /// P-256 with SHA-256, P-384 with SHA-384, P-521 with SHA-512, pure
    /// Ed25519, RSA PKCS#1 v1.5 with SHA-256 (sigstore/sigstore's
    /// `LoadDefaultVerifier`).
    pub fn default_scheme(&self) -> SignatureScheme {
        match self.key_type {
            KeyType::EcdsaP256 => SignatureScheme::Ecdsa(HashAlg::Sha256),
            KeyType::EcdsaP384 => SignatureScheme::Ecdsa(HashAlg::Sha384),
            KeyType::EcdsaP521 => SignatureScheme::Ecdsa(HashAlg::Sha512),
            KeyType::Ed25519 => SignatureScheme::Ed25519,
            KeyType::Rsa => SignatureScheme::RsaPkcs1v15(HashAlg::Sha256),
        }
    }

    /// Verifies a DSSE or checkpoint signature of the product's own material
    /// with the key's default scheme. P-256 signatures may be ASN.1 DER or the
    /// fixed r||s form; both are common in DSSE producers.
    ///
    /// DER must be the one strict encoding ([`is_strict_ecdsa_der`]): no
    /// long-form or indefinite lengths, minimal positive integers, nothing
    /// after the sequence. High-S values (`s > n/2`) are accepted, because
    /// OpenSSL and Go's crypto/ecdsa produce them about half the time;
    /// docs/proof-bundle-format.md section 8 says what that means for
    /// signature bytes as identifiers.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        let ok = match self.key_type {
            // The hot path, kept to two ring calls.
            KeyType::EcdsaP256 => {
                // A 64-byte value is almost always r||s, but a DER signature can
                // also be 64 bytes long, so fall back to DER when it looks like one.
                let fixed = sig.len() == 64
                    && UnparsedPublicKey::new(&ring_sig::ECDSA_P256_SHA256_FIXED, &self.raw)
                        .verify(message, sig)
                        .is_ok();
                fixed
                    || (is_strict_p256_der(sig)
                        && UnparsedPublicKey::new(&ring_sig::ECDSA_P256_SHA256_ASN1, &self.raw)
                            .verify(message, sig)
                            .is_ok())
            }
            _ => return self.verify_signature(self.default_scheme(), message, sig),
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }

    fn check_fits(&self, scheme: SignatureScheme) -> Result<(), SignatureError> {
        if scheme.fits(self.key_type) {
            Ok(())
        } else {
            Err(SignatureError::SchemeMismatch {
                scheme,
                key_type: self.key_type,
            })
        }
    }

    /// Verifies `sig` over `message` with `scheme`. ECDSA signatures are ASN.1
    /// DER in the strict encoding (X.509, CMS, Sigstore and signed notes all
    /// carry DER); high-S values are accepted, as Go accepts them.
    pub fn verify_signature(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        use HashAlg::*;
        use SignatureScheme as S;
        self.check_fits(scheme)?;
        let ring_alg: &dyn ring_sig::VerificationAlgorithm = match (self.key_type, scheme) {
            (KeyType::EcdsaP256, S::Ecdsa(Sha256)) => &ring_sig::ECDSA_P256_SHA256_ASN1,
            (KeyType::EcdsaP256, S::Ecdsa(Sha384)) => &ring_sig::ECDSA_P256_SHA384_ASN1,
            (KeyType::EcdsaP384, S::Ecdsa(Sha256)) => &ring_sig::ECDSA_P384_SHA256_ASN1,
            (KeyType::EcdsaP384, S::Ecdsa(Sha384)) => &ring_sig::ECDSA_P384_SHA384_ASN1,
            // What ring lacks: P-521, and ECDSA over SHA-512.
            (_, S::Ecdsa(hash)) => {
                return self.verify_prehashed(scheme, &hash.digest(message), sig);
            }
            (_, S::Ed25519) => &ring_sig::ED25519,
            (_, S::Ed25519ph) => return self.verify_ed25519ph(message, sig),
            (_, S::RsaPkcs1v15(Sha256)) => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
            (_, S::RsaPkcs1v15(Sha384)) => &ring_sig::RSA_PKCS1_2048_8192_SHA384,
            (_, S::RsaPkcs1v15(Sha512)) => &ring_sig::RSA_PKCS1_2048_8192_SHA512,
            (_, S::RsaPss(Sha256)) => &ring_sig::RSA_PSS_2048_8192_SHA256,
            (_, S::RsaPss(Sha384)) => &ring_sig::RSA_PSS_2048_8192_SHA384,
            (_, S::RsaPss(Sha512)) => &ring_sig::RSA_PSS_2048_8192_SHA512,
        };
        if self.key_type.is_ecdsa() && !is_strict_ecdsa_der(sig, self.key_type) {
            return Err(SignatureError::Invalid);
        }
        UnparsedPublicKey::new(ring_alg, &self.raw)
            .verify(message, sig)
            .map_err(|_| SignatureError::Invalid)
    }

    /// Verifies an ECDSA signature (strict DER) over a digest computed
    /// elsewhere: an artifact known only by its digest. `digest` must be as
    /// long as the scheme's hash. Ed25519ph and RSA need the message.
    pub fn verify_prehashed(
        &self,
        scheme: SignatureScheme,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        self.check_fits(scheme)?;
        let SignatureScheme::Ecdsa(hash) = scheme else {
            return Err(SignatureError::Unsupported(
                "only ECDSA signatures can be verified from a digest alone; give the message",
            ));
        };
        if digest.len() != hash.output_len() {
            return Err(SignatureError::Invalid);
        }
        if !is_strict_ecdsa_der(sig, self.key_type) {
            return Err(SignatureError::Invalid);
        }
        // The points were validated when the key was parsed, so these
        // conversions cannot fail; a failure is reported as a bad signature.
        let ok = match self.key_type {
            KeyType::EcdsaP256 => {
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.raw);
                let sig = p256::ecdsa::Signature::from_der(sig);
                matches!((vk, sig), (Ok(vk), Ok(sig)) if vk.verify_prehash(digest, &sig).is_ok())
            }
            KeyType::EcdsaP384 => {
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&self.raw);
                let sig = p384::ecdsa::Signature::from_der(sig);
                matches!((vk, sig), (Ok(vk), Ok(sig)) if vk.verify_prehash(digest, &sig).is_ok())
            }
            KeyType::EcdsaP521 => {
                // ecdsa refuses a digest shorter than half the 66-byte field;
                // Go reads a short digest as the same integer, left-padded.
                let mut padded = [0u8; 66];
                padded[66 - digest.len()..].copy_from_slice(digest);
                let vk = p521::ecdsa::VerifyingKey::from_sec1_bytes(&self.raw);
                let sig = p521::ecdsa::Signature::from_der(sig);
                matches!((vk, sig), (Ok(vk), Ok(sig)) if vk.verify_prehash(&padded, &sig).is_ok())
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }

    fn verify_ed25519ph(&self, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        use sha2::Digest as _;
        let raw: [u8; 32] = self
            .raw
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::Invalid)?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| SignatureError::Invalid)?;
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| SignatureError::Invalid)?;
        let prehashed = sha2::Sha512::new().chain_update(message);
        vk.verify_prehashed_strict(prehashed, None, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| SignatureError::Invalid)
    }
}

/// [`is_strict_ecdsa_der`] for P-256.
pub fn is_strict_p256_der(sig: &[u8]) -> bool {
    is_strict_ecdsa_der(sig, KeyType::EcdsaP256)
}

/// Whether `sig` is an ECDSA `Ecdsa-Sig-Value` in strict DER for a key of
/// `key_type`: `SEQUENCE { INTEGER r, INTEGER s }` with lengths in their
/// shortest form that match exactly, each integer positive, no longer than
/// the curve's scalar plus one byte, and minimal (a leading zero byte only
/// where the next byte has its high bit set), and no bytes after the
/// sequence. The check is ours rather than left to the cryptography library,
/// so that which encodings verify is fixed here and tested, whatever a
/// library upgrade changes.
pub fn is_strict_ecdsa_der(sig: &[u8], key_type: KeyType) -> bool {
    let max = key_type.ecdsa_max_int_len();
    let Some((&0x30, rest)) = sig.split_first() else {
        return false;
    };
    // The sequence length: short form, or 0x81 and a byte of at least 0x80 (P-521).
    let (len, mut rest) = match rest {
        [l, tail @ ..] if *l < 0x80 => (usize::from(*l), tail),
        [0x81, l, tail @ ..] if *l >= 0x80 => (usize::from(*l), tail),
        _ => return false,
    };
    if len != rest.len() {
        return false;
    }
    for _ in 0..2 {
        let [0x02, len, tail @ ..] = rest else {
            return false;
        };
        let len = usize::from(*len);
        let tail: &[u8] = tail;
        if len == 0 || len >= 0x80 || len > max || tail.len() < len {
            return false;
        }
        let (int, after) = tail.split_at(len);
        let negative = int[0] & 0x80 != 0;
        let padded = len > 1 && int[0] == 0 && int[1] & 0x80 == 0;
        if negative || padded || (len == max && int[0] != 0) {
            return false;
        }
        rest = after;
    }
    rest.is_empty()
}

/// A private key that signs DSSE envelopes and checkpoints.
pub enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ring_sig::Ed25519KeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({} {})",
            self.algorithm(),
            self.public_key().key_id()
        )
    }
}

impl SigningKey {
    /// Reads a PKCS#8 `PRIVATE KEY` (P-256 or Ed25519) or a SEC1 `EC PRIVATE KEY` (P-256).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        use p256::pkcs8::DecodePrivateKey as _;
        let blocks = parse_pem(text)?;
        if blocks.len() != 1 {
            return Err(KeyError::MoreThanOneKey(blocks.len()));
        }
        let block = &blocks[0];
        match block.label.as_str() {
            "EC PRIVATE KEY" => {
                let secret = p256::SecretKey::from_sec1_der(&block.der).map_err(|_| {
                    KeyError::MalformedPrivate(
                        "\"EC PRIVATE KEY\" is not a P-256 SEC1 private key".into(),
                    )
                })?;
                Ok(SigningKey::P256(secret.into()))
            }
            "PRIVATE KEY" => {
                let info =
                    p256::pkcs8::PrivateKeyInfo::try_from(block.der.as_slice()).map_err(|e| {
                        KeyError::MalformedPrivate(format!("not a PKCS#8 private key: {e}"))
                    })?;
                let oid = info.algorithm.oid.to_string();
                match oid.as_str() {
                    OID_EC_PUBLIC_KEY => {
                        let curve = info.algorithm.parameters_oid().ok().map(|c| c.to_string());
                        if curve.as_deref() != Some(OID_P256) {
                            return Err(KeyError::AlgorithmNotSupported {
                                algorithm: describe_algorithm_oid(&oid, curve.as_deref()),
                                supported: PRODUCT_ALGORITHMS,
                            });
                        }
                        let key =
                            p256::ecdsa::SigningKey::from_pkcs8_der(&block.der).map_err(|e| {
                                KeyError::MalformedPrivate(format!("P-256 PKCS#8 key: {e}"))
                            })?;
                        Ok(SigningKey::P256(key))
                    }
                    OID_ED25519 => ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&block.der)
                        .map(SigningKey::Ed25519)
                        .map_err(|e| {
                            KeyError::MalformedPrivate(format!("Ed25519 PKCS#8 key: {e}"))
                        }),
                    _ => Err(KeyError::AlgorithmNotSupported {
                        algorithm: describe_algorithm_oid(&oid, None),
                        supported: PRODUCT_ALGORITHMS,
                    }),
                }
            }
            other => Err(KeyError::UnexpectedPemLabel {
                expected: "PRIVATE KEY",
                found: other.to_string(),
                line: block.line,
            }),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::P256(_) => Algorithm::EcdsaP256Sha256,
            SigningKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::P256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                PublicKey::from_parts(KeyType::EcdsaP256, point.as_bytes().to_vec(), None)
            }
            SigningKey::Ed25519(k) => {
                use ring_sig::KeyPair as _;
                PublicKey::from_parts(KeyType::Ed25519, k.public_key().as_ref().to_vec(), None)
            }
        }
    }

    /// Signs `message`. P-256 signatures are deterministic (RFC 6979) and
    /// DER-encoded; Ed25519 is deterministic by construction. Determinism
    /// keeps `bundle create` reproducible byte for byte.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::P256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            SigningKey::Ed25519(k) => k.sign(message).as_ref().to_vec(),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! Fixed test-only keys, so unit tests need no key generation.
    pub const P256_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9UP3aRNcWOQ8CqVH
NsUzgDw0yZ7YTfTMQSRaK8pTSbGhRANCAAQEq/0INesNF+rNfBomyKuYeTKe8UHq
7PplbErNqGoyEOzaQx83dHaO+vIWLWfvxvJCDANBeAabLktqC7B5qrlo
-----END PRIVATE KEY-----
";
    pub const ED25519_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINDvMSPJkOkP7xBXPshJ8geYVRxokV/Qj1paRTeDiT15
-----END PRIVATE KEY-----
";
}

#[cfg(test)]
mod tests;
