//! The Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`):
//! Fulcio CAs, Rekor logs, CT logs and timestamp authorities, each with its
//! validity window. A key's `validFor` must name its start: a missing bound is
//! a malformed root, not an unbounded one.

use jiff::Timestamp;

use crate::cert::{Cert, check_ca_chain};
use crate::crypto::Key;
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
    pub key: Key,
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
    /// The chain's links among themselves ([`crate::cert::check_ca_chain`]), checked once
    /// when the root is loaded rather than for every bundle: two P-384 signature checks
    /// became one per keyless bundle.
    pub(crate) links: Result<(), String>,
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

fn log(
    what: &str,
    t: &TransparencyLogInstance,
) -> Result<Option<(Key, Timestamp, Option<Timestamp>)>, SigstoreError> {
    let (start, end) = window(what, &t.public_key.valid_for)?;
    // Keys of a type this verifier does not support (e.g. a PKCS#1 RSA CT key of a
    // retired staging log) cannot verify anything: skipped, not fatal.
    Ok(Key::from_spki_der(&t.public_key.raw_bytes.0)
        .ok()
        .map(|k| (k, start, end)))
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
            if let Some((key, start, end)) = log(&format!("tlogs[{i}]"), t)? {
                root.tlogs.push(Tlog {
                    base_url: t.base_url.clone(),
                    name: host(&t.base_url),
                    log_id: t.log_id.key_id.0.clone(),
                    key,
                    start,
                    end,
                });
            }
        }
        for (i, t) in doc.ctlogs.iter().enumerate() {
            if let Some((key, start, end)) = log(&format!("ctlogs[{i}]"), t)? {
                let log_id: [u8; 32] = t.log_id.key_id.0.clone().try_into().map_err(|_| {
                    SigstoreError::TrustedRoot(format!("ctlogs[{i}].logId is not 32 bytes"))
                })?;
                root.ctlogs.push(CtLog {
                    log_id,
                    key,
                    start,
                    end,
                });
            }
        }
        for (i, ca) in doc.certificate_authorities.iter().enumerate() {
            let what = format!("certificateAuthorities[{i}]");
            let (start, end) = window(&what, &ca.valid_for)?;
            let chain = chain(&what, ca)?;
            root.cas.push(Ca {
                uri: ca.uri.clone(),
                links: check_ca_chain(&chain),
                chain,
                start,
                end,
            });
        }
        for (i, ca) in doc.timestamp_authorities.iter().enumerate() {
            let what = format!("timestampAuthorities[{i}]");
            let (start, end) = window(&what, &ca.valid_for)?;
            root.tsas
                .push(Authority::new(chain(&what, ca)?, start, end));
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
