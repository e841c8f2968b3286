//! The Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`):
//! Fulcio CAs, Rekor logs, CT logs and timestamp authorities, each with its
//! validity window. A key's `validFor` must name its start: a missing bound is
//! a malformed root, not an unbounded one.

use jiff::Timestamp;

use attestor_core::keys::{PublicKey, SignatureScheme};

use crate::cert::Cert;
use crate::crypto::declared_scheme;
use crate::error::SigstoreError;
use crate::model::{CertificateAuthority, TimeRange, TransparencyLogInstance, TrustedRootDoc};
use crate::sct::CtLog;
use crate::tsa::Authority;

pub const MAX_ROOT_LEN: usize = 4 * 1024 * 1024;
const MEDIA_TYPES: [&str; 2] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// A Rekor log.
#[derive(Debug, Clone)]
pub struct Tlog {
    pub base_url: String,
    /// The checkpoint key name: the base URL's host.
    pub name: String,
    pub log_id: Vec<u8>,
    pub key: PublicKey,
    /// What the log signs entry timestamps with: the root's `keyDetails`, else the key's default.
    pub scheme: SignatureScheme,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// A certificate authority: its chain, issuer first and root last.
#[derive(Debug, Clone)]
pub struct Ca {
    pub uri: String,
    pub chain: Vec<Cert>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

impl Ca {
    pub fn valid_at(&self, t: Timestamp) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub tlogs: Vec<Tlog>,
    pub cas: Vec<Ca>,
    pub ctlogs: Vec<CtLog>,
    pub tsas: Vec<Authority>,
}

fn window(
    what: &str,
    range: &Option<TimeRange>,
) -> Result<(Timestamp, Option<Timestamp>), SigstoreError> {
    let start = range
        .as_ref()
        .and_then(|r| r.start)
        .ok_or_else(|| SigstoreError::TrustedRoot(format!("{what} has no validFor.start")))?;
    Ok((start, range.as_ref().and_then(|r| r.end)))
}

fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

fn chain(what: &str, ca: &CertificateAuthority) -> Result<Vec<Cert>, SigstoreError> {
    if ca.cert_chain.certificates.is_empty() || ca.cert_chain.certificates.len() > 8 {
        return Err(SigstoreError::TrustedRoot(format!(
            "{what} must hold 1 to 8 certificates"
        )));
    }
    ca.cert_chain
        .certificates
        .iter()
        .map(|c| {
            Cert::from_der(&c.raw_bytes.0)
                .map_err(|e| SigstoreError::TrustedRoot(format!("{what}: {e}")))
        })
        .collect()
}

/// A log's key, the scheme its `keyDetails` declares, and its validity.
struct LogKey {
    key: PublicKey,
    declared: Option<SignatureScheme>,
    start: Timestamp,
    end: Option<Timestamp>,
}

fn log(what: &str, t: &TransparencyLogInstance) -> Result<Option<LogKey>, SigstoreError> {
    let (start, end) = window(what, &t.public_key.valid_for)?;
    // Keys this verifier cannot read (e.g. the bare PKCS#1 RSA CT key of a retired
    // staging log, which is no SubjectPublicKeyInfo) cannot verify anything: skipped,
    // not fatal.
    let Ok(key) = PublicKey::from_spki_der(&t.public_key.raw_bytes.0) else {
        return Ok(None);
    };
    let declared = declared_scheme(&key, &t.public_key.key_details)
        .map_err(|e| SigstoreError::TrustedRoot(format!("{what}: {e}")))?;
    Ok(Some(LogKey {
        key,
        declared,
        start,
        end,
    }))
}

impl TrustedRoot {
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigstoreError> {
        if bytes.len() > MAX_ROOT_LEN {
            return Err(SigstoreError::TrustedRoot(format!(
                "the file is larger than {MAX_ROOT_LEN} bytes"
            )));
        }
        let doc: TrustedRootDoc =
            serde_json::from_slice(bytes).map_err(|e| SigstoreError::TrustedRoot(e.to_string()))?;
        if !MEDIA_TYPES.contains(&doc.media_type.as_str()) {
            return Err(SigstoreError::TrustedRoot(format!(
                "unsupported mediaType {:?}",
                doc.media_type
            )));
        }
        let mut root = TrustedRoot::empty();
        for (i, t) in doc.tlogs.iter().enumerate() {
            if let Some(l) = log(&format!("tlogs[{i}]"), t)? {
                root.tlogs.push(Tlog {
                    base_url: t.base_url.clone(),
                    name: host(&t.base_url),
                    log_id: t.log_id.key_id.0.clone(),
                    scheme: l.declared.unwrap_or_else(|| l.key.default_scheme()),
                    key: l.key,
                    start: l.start,
                    end: l.end,
                });
            }
        }
        for (i, t) in doc.ctlogs.iter().enumerate() {
            if let Some(l) = log(&format!("ctlogs[{i}]"), t)? {
                let log_id: [u8; 32] = t.log_id.key_id.0.clone().try_into().map_err(|_| {
                    SigstoreError::TrustedRoot(format!("ctlogs[{i}].logId is not 32 bytes"))
                })?;
                root.ctlogs.push(CtLog {
                    log_id,
                    key: l.key,
                    declared: l.declared,
                    start: l.start,
                    end: l.end,
                });
            }
        }
        for (i, ca) in doc.certificate_authorities.iter().enumerate() {
            let what = format!("certificateAuthorities[{i}]");
            let (start, end) = window(&what, &ca.valid_for)?;
            root.cas.push(Ca {
                uri: ca.uri.clone(),
                chain: chain(&what, ca)?,
                start,
                end,
            });
        }
        for (i, ca) in doc.timestamp_authorities.iter().enumerate() {
            let what = format!("timestampAuthorities[{i}]");
            let (start, end) = window(&what, &ca.valid_for)?;
            root.tsas.push(Authority {
                chain: chain(&what, ca)?,
                start,
                end,
            });
        }
        Ok(root)
    }

    /// A root that trusts nothing: for key-signed content checked without any log.
    pub fn empty() -> Self {
        TrustedRoot {
            tlogs: vec![],
            cas: vec![],
            ctlogs: vec![],
            tsas: vec![],
        }
    }

    pub fn tlog(&self, log_id: &[u8]) -> Option<&Tlog> {
        self.tlogs.iter().find(|t| t.log_id == log_id)
    }
}

#[cfg(test)]
mod tests {
    use attestor_core::keys::HashAlg;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn root_with_tlog_key(pem_file: &str, key_details: &str) -> Result<TrustedRoot, SigstoreError> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/keys")
            .join(pem_file);
        let key = PublicKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap();
        let doc = serde_json::json!({
            "mediaType": MEDIA_TYPES[0],
            "tlogs": [{
                "baseUrl": "https://rekor.internal.example",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(key.spki_der()),
                    "keyDetails": key_details,
                    "validFor": {"start": "2024-01-01T00:00:00Z"},
                },
                "logId": {"keyId": STANDARD.encode([1u8; 32])},
            }],
        });
        TrustedRoot::from_json(&serde_json::to_vec(&doc).unwrap())
    }

    #[test]
    fn key_details_select_the_log_scheme() {
        use SignatureScheme::Ecdsa;
        let scheme = |file, details| root_with_tlog_key(file, details).unwrap().tlogs[0].scheme;
        assert_eq!(
            scheme("test-only-p384.pub.pem", "PKIX_ECDSA_P384_SHA_384"),
            Ecdsa(HashAlg::Sha384)
        );
        assert_eq!(
            scheme("test-only-p384.pub.pem", "PKIX_ECDSA_P384_SHA_256"),
            Ecdsa(HashAlg::Sha256)
        );
        // Absent, or unknown but about the same key type: the key's default.
        assert_eq!(scheme("test-only-p384.pub.pem", ""), Ecdsa(HashAlg::Sha384));
        assert_eq!(
            scheme("test-only-log.pub.pem", "PKIX_ED25519"),
            SignatureScheme::Ed25519
        );
        assert_eq!(
            scheme("test-only-signing.pub.pem", "PKIX_ECDSA_P256_HMAC_SHA_256"),
            Ecdsa(HashAlg::Sha256)
        );
        // A declaration that contradicts the key is a broken root.
        for (file, details) in [
            ("test-only-p384.pub.pem", "PKIX_ECDSA_P256_SHA_256"),
            ("test-only-signing.pub.pem", "PKCS1_RSA_PKCS1V5"),
            ("test-only-log.pub.pem", "PKIX_ECDSA_P521_SHA_512"),
        ] {
            let e = root_with_tlog_key(file, details).unwrap_err();
            assert_eq!(e.reason(), "TrustedRootInvalid", "{details}: {e}");
            assert!(e.to_string().contains("tlogs[0]"), "{e}");
        }
    }
}
