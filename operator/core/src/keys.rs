//! Public and private keys, key ids and raw signature verification.
//!
//! Two algorithms are accepted, everywhere: ECDSA P-256 with SHA-256 and
//! Ed25519. Keys are parsed and checked once (the `p256` crate validates the
//! curve point); verification goes through `ring`, about five times faster
//! than `p256` on the verification hot path.

use std::fmt;

use ring::signature::{self as ring_sig, UnparsedPublicKey};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::digest::Sha256Digest;
use crate::pem::{PemError, parse_pem, to_pem};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

/// DER prefix of a P-256 SubjectPublicKeyInfo, followed by the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo, followed by the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A signature algorithm this product accepts.
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
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("algorithm not supported: {algorithm} (supported: ECDSA P-256 with SHA-256, Ed25519)")]
    AlgorithmNotSupported { algorithm: String },
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

/// Why a signature did not verify. Kept coarse on purpose: the caller knows
/// which key and which document were involved and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature does not verify")]
    Invalid,
}

/// Names an algorithm OID for error messages.
pub(crate) fn describe_algorithm_oid(oid: &str, curve: Option<&str>) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        OID_EC_PUBLIC_KEY => match curve {
            Some("1.3.132.0.34") => "ECDSA P-384",
            Some("1.3.132.0.35") => "ECDSA P-521",
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
    algorithm: Algorithm,
    /// Uncompressed SEC1 point for P-256, the 32 raw bytes for Ed25519: what `ring` wants.
    raw: Vec<u8>,
    /// Canonical SubjectPublicKeyInfo DER (named curve, uncompressed point), so
    /// that one key has one id whichever encoding it arrived in.
    spki_der: Vec<u8>,
    key_id: Sha256Digest,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.algorithm, self.key_id)
    }
}

impl PublicKey {
    fn from_parts(algorithm: Algorithm, raw: Vec<u8>) -> Self {
        let prefix: &[u8] = match algorithm {
            Algorithm::EcdsaP256Sha256 => &P256_SPKI_PREFIX,
            Algorithm::Ed25519 => &ED25519_SPKI_PREFIX,
        };
        let mut spki_der = prefix.to_vec();
        spki_der.extend_from_slice(&raw);
        let key_id = Sha256Digest::of(&spki_der);
        Self {
            algorithm,
            raw,
            spki_der,
            key_id,
        }
    }

    /// Parses a DER SubjectPublicKeyInfo.
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
        match oid.as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| x509_parser::der_parser::oid::Oid::try_from(p).ok())
                    .map(|o| o.to_id_string());
                if curve.as_deref() != Some(OID_P256) {
                    return Err(KeyError::AlgorithmNotSupported {
                        algorithm: describe_algorithm_oid(&oid, curve.as_deref()),
                    });
                }
                let point = p256::PublicKey::from_sec1_bytes(key_bits).map_err(|_| {
                    KeyError::Malformed("P-256 public key is not a valid curve point".into())
                })?;
                let uncompressed =
                    p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&point, false);
                Ok(Self::from_parts(
                    Algorithm::EcdsaP256Sha256,
                    uncompressed.as_bytes().to_vec(),
                ))
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
                Ok(Self::from_parts(Algorithm::Ed25519, key_bits.to_vec()))
            }
            _ => Err(KeyError::AlgorithmNotSupported {
                algorithm: describe_algorithm_oid(&oid, None),
            }),
        }
    }

    /// Parses exactly one `PUBLIC KEY` PEM block.
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

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `sha256:` + hex SHA-256 of the canonical DER SubjectPublicKeyInfo.
    pub fn key_id(&self) -> Sha256Digest {
        self.key_id
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn to_pem(&self) -> String {
        to_pem("PUBLIC KEY", &self.spki_der)
    }

    /// Verifies `sig` over `message`. ECDSA signatures may be ASN.1 DER or
    /// the 64-byte fixed r||s form; both are common in DSSE producers.
    ///
    /// DER must be the one strict encoding ([`is_strict_p256_der`]): no
    /// long-form or indefinite lengths, minimal positive integers, nothing
    /// after the sequence. High-S values (`s > n/2`) are accepted, because
    /// OpenSSL and Go's crypto/ecdsa produce them about half the time;
    /// docs/proof-bundle-format.md section 8 says what that means for
    /// signature bytes as identifiers.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        let ok = match self.algorithm {
            Algorithm::Ed25519 => UnparsedPublicKey::new(&ring_sig::ED25519, &self.raw)
                .verify(message, sig)
                .is_ok(),
            Algorithm::EcdsaP256Sha256 => {
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
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

/// Whether `sig` is an ECDSA P-256 `Ecdsa-Sig-Value` in strict DER:
/// `SEQUENCE { INTEGER r, INTEGER s }` with short-form lengths that match
/// exactly, each integer positive, at most 33 bytes, and minimal (a leading
/// zero byte only where the next byte has its high bit set), and no bytes
/// after the sequence. The check is ours rather than left to the
/// cryptography library, so that which encodings verify is fixed here and
/// tested, whatever a library upgrade changes.
pub fn is_strict_p256_der(sig: &[u8]) -> bool {
    let [0x30, len, rest @ ..] = sig else {
        return false;
    };
    let mut rest: &[u8] = rest;
    if *len >= 0x80 || usize::from(*len) != rest.len() {
        return false;
    }
    for _ in 0..2 {
        let [0x02, len, tail @ ..] = rest else {
            return false;
        };
        let len = usize::from(*len);
        let tail: &[u8] = tail;
        if len == 0 || len > 33 || tail.len() < len {
            return false;
        }
        let (int, after) = tail.split_at(len);
        let negative = int[0] & 0x80 != 0;
        let padded = len > 1 && int[0] == 0 && int[1] & 0x80 == 0;
        if negative || padded || (len == 33 && int[0] != 0) {
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
                PublicKey::from_parts(Algorithm::EcdsaP256Sha256, point.as_bytes().to_vec())
            }
            SigningKey::Ed25519(k) => {
                use ring_sig::KeyPair as _;
                PublicKey::from_parts(Algorithm::Ed25519, k.public_key().as_ref().to_vec())
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
mod tests {
    use super::test_keys::*;
    use super::*;

    #[test]
    fn p256_sign_verify_der_and_fixed() {
        let sk = SigningKey::from_pem(P256_PKCS8).unwrap();
        let pk = sk.public_key();
        assert_eq!(pk.algorithm(), Algorithm::EcdsaP256Sha256);
        let sig = sk.sign(b"hello");
        assert_eq!(
            sig,
            sk.sign(b"hello"),
            "RFC 6979 signatures are deterministic"
        );
        pk.verify(b"hello", &sig).unwrap();
        assert_eq!(pk.verify(b"hellO", &sig), Err(SignatureError::Invalid));
        let fixed = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
        pk.verify(b"hello", &fixed).unwrap();
        assert!(pk.verify(b"hello", &fixed[..63]).is_err());
        assert!(pk.verify(b"hello", &[]).is_err());
    }

    /// One signature in every encoding a producer or an attacker might use.
    #[test]
    fn p256_signature_encodings_and_high_s() {
        use p256::elliptic_curve::ops::Neg as _;
        let sk = SigningKey::from_pem(P256_PKCS8).unwrap();
        let pk = sk.public_key();
        let der = sk.sign(b"msg");
        let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
        let (r, s) = sig.split_scalars();
        // The same signature with s replaced by n - s: what OpenSSL and Go
        // emit for about half their signatures. It verifies, in both forms.
        let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), s.neg().to_bytes()).unwrap();
        let (low, high) = match sig.normalize_s() {
            None => (sig, high),
            Some(_) => (high, sig),
        };
        assert!(low.normalize_s().is_none() && high.normalize_s().is_some());
        for form in [low, high] {
            pk.verify(b"msg", &form.to_bytes()).unwrap();
            let der = form.to_der();
            assert!(is_strict_p256_der(der.as_bytes()));
            pk.verify(b"msg", der.as_bytes()).unwrap();
        }

        let der = low.to_der().as_bytes().to_vec();
        let refused = |bytes: Vec<u8>, what: &str| {
            assert!(!is_strict_p256_der(&bytes), "{what}: strict");
            assert_eq!(
                pk.verify(b"msg", &bytes),
                Err(SignatureError::Invalid),
                "{what}"
            );
        };
        let mut trailing = der.clone();
        trailing.push(0);
        trailing[1] += 1;
        refused(
            trailing.clone(),
            "a byte after the integers, counted in the length",
        );
        let mut after = der.clone();
        after.push(0);
        refused(after, "a byte after the sequence");
        let mut long_form = vec![0x30, 0x81, der[1]];
        long_form.extend_from_slice(&der[2..]);
        refused(long_form, "long-form length");
        let mut indefinite = vec![0x30, 0x80];
        indefinite.extend_from_slice(&der[2..]);
        indefinite.extend_from_slice(&[0, 0]);
        refused(indefinite, "BER indefinite length");
        // r with an extra leading zero byte: the same number, not minimal.
        let r_len = usize::from(der[3]);
        let mut padded = vec![0x30, der[1] + 1, 0x02, der[3] + 1, 0x00];
        padded.extend_from_slice(&der[4..]);
        refused(padded, "non-minimal integer");
        let mut negative = der.clone();
        negative[4] |= 0x80;
        if r_len == 33 {
            negative[4] = 0x80;
        }
        refused(negative, "negative integer");
        let mut fixed65 = low.to_bytes().to_vec();
        fixed65.insert(0, 0);
        refused(fixed65, "r||s with a leading zero");
        refused(der[..der.len() - 1].to_vec(), "truncated");
        refused(Vec::new(), "empty");
    }

    #[test]
    fn strict_der_accepts_short_integers_and_refuses_zero_length() {
        assert!(is_strict_p256_der(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x7f
        ]));
        assert!(is_strict_p256_der(&[
            0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01
        ]));
        assert!(!is_strict_p256_der(&[
            0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01
        ]));
        assert!(!is_strict_p256_der(&[
            0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01
        ]));
        assert!(!is_strict_p256_der(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x03, 0x01, 0x01
        ]));
    }

    #[test]
    fn ed25519_sign_verify() {
        let sk = SigningKey::from_pem(ED25519_PKCS8).unwrap();
        let pk = sk.public_key();
        assert_eq!(pk.algorithm(), Algorithm::Ed25519);
        let sig = sk.sign(b"hello");
        pk.verify(b"hello", &sig).unwrap();
        assert!(pk.verify(b"hello!", &sig).is_err());
    }

    #[test]
    fn public_pem_round_trip_keeps_key_id() {
        for pem in [P256_PKCS8, ED25519_PKCS8] {
            let pk = SigningKey::from_pem(pem).unwrap().public_key();
            let again = PublicKey::from_pem(&pk.to_pem()).unwrap();
            assert_eq!(again, pk);
            assert_eq!(again.key_id(), Sha256Digest::of(pk.spki_der()));
        }
    }

    #[test]
    fn compressed_point_gets_the_same_key_id() {
        let pk = SigningKey::from_pem(P256_PKCS8).unwrap().public_key();
        let point = p256::PublicKey::from_sec1_bytes(&pk.raw).unwrap();
        let compressed = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&point, true);
        // SPKI with a compressed point: SEQUENCE { algid, BIT STRING (34 bytes) }.
        let mut der = vec![0x30, 0x39];
        der.extend_from_slice(&P256_SPKI_PREFIX[2..23]);
        der.extend_from_slice(&[0x03, 0x22, 0x00]);
        der.extend_from_slice(compressed.as_bytes());
        let again = PublicKey::from_spki_der(&der).unwrap();
        assert_eq!(again.key_id(), pk.key_id());
    }

    #[test]
    fn refuses_other_algorithms_by_name() {
        let rsa_pem = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCYAldWN1FvJX3B2QYlWd+Qz8+o
uNWaI561hgJxlQRGZMuS/FkoGZL/XWyJCJYaoNgLR6Vsc/7G2CiGpD492LXmRv78
PzOyAtKudXpqcQsG4EK/KbVn9OplIrJJ7xV47Myk3wGIRWIkywAgO2gUd1TBqaIh
5wOtCsffyQNcxSiBgQIDAQAB
-----END PUBLIC KEY-----
";
        let err = PublicKey::from_pem(rsa_pem).unwrap_err();
        assert!(err.is_algorithm_not_supported(), "{err}");
        assert!(err.to_string().contains("RSA"), "{err}");
        // P-384 key.
        let p384 = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEumxHu5WREOq53tr7EZ2eLdf/snCZIyS9
56uzzRI0bEObYgxYUCVubEFfeWtwC80V/XGg8z/Y8nSMOXDi+YrS+KzEQjUAs2yL
OW+rANshxdvVnqml7ooJc/39bs2JXtoZ
-----END PUBLIC KEY-----
";
        let err = PublicKey::from_pem(p384).unwrap_err();
        assert!(err.to_string().contains("P-384"), "{err}");
    }

    #[test]
    fn refuses_malformed_keys() {
        assert!(PublicKey::from_spki_der(&[]).is_err());
        assert!(PublicKey::from_spki_der(&P256_SPKI_PREFIX).is_err());
        let mut not_on_curve = P256_SPKI_PREFIX.to_vec();
        not_on_curve.push(4);
        not_on_curve.extend_from_slice(&[1; 64]);
        assert!(matches!(
            PublicKey::from_spki_der(&not_on_curve),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            SigningKey::from_pem(P256_PKCS8.replace("PRIVATE", "PUBLIC").as_str()),
            Err(KeyError::UnexpectedPemLabel { .. })
        ));
        let pk_pem = SigningKey::from_pem(P256_PKCS8)
            .unwrap()
            .public_key()
            .to_pem();
        assert!(matches!(
            PublicKey::from_pem(&format!("{pk_pem}{pk_pem}")),
            Err(KeyError::MoreThanOneKey(2))
        ));
    }
}
