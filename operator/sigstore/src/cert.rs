//! X.509 as Sigstore uses it: short-lived Fulcio leaves (P-256 keys, P-384
//! issuers), CA and TSA chains from the trusted root, and the identity a
//! Fulcio leaf names (its SANs, Fulcio's OID extensions, embedded SCTs).
//!
//! Paths are not validated here: [`validate_chain`] and [`validate_tsa_chain`]
//! hand the leaf and an authority's `certChain` of the trusted root to
//! attestor_core's path validator (rustls-webpki), the authority's last
//! certificate as the one trust anchor and the ones before it as the only
//! intermediates: never certificates from the bundle.

use jiff::Timestamp;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use attestor_core::keys::{KeyError, PublicKey};
use attestor_core::x509::{Certificate, KeyPurpose, validate_path};

use crate::der;

pub const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const OID_CT_POISON: &str = "1.3.6.1.4.1.11129.2.4.3";
/// Extensions a leaf may mark critical: we process all of these.
const KNOWN_CRITICAL: [&str; 4] = ["2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.19"];
/// Certificates are a few KiB; Fulcio's with many claims are under 4 KiB.
pub const MAX_CERT_LEN: usize = 32 * 1024;
/// Fulcio's otherName SAN for usernames (`foo!oidc.example`).
const OID_OTHERNAME_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";

/// Fulcio's v2 extensions, all DER UTF8String: 1.3.6.1.4.1.57264.1.9 (BuildSignerURI) to
/// .1.22 (SourceRepositoryVisibilityAtSigning). `.1.8` is the issuer, read apart.
fn is_fulcio_v2(oid: &str) -> bool {
    oid.strip_prefix("1.3.6.1.4.1.57264.1.")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| (9..=22).contains(&n))
}

/// The value of an otherName: `[0] EXPLICIT UTF8String`, as Fulcio writes it (x509-parser
/// hands over the explicit tag's bytes, or only its content, depending on the version).
fn other_name_utf8(value: &[u8]) -> Option<String> {
    let inner = match der::read_only(value, 0xa0) {
        Ok(tlv) => tlv.content,
        Err(_) => value,
    };
    let s = der::read_only(inner, der::UTF8_STRING).ok()?;
    String::from_utf8(s.content.to_vec()).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("certificate is malformed: {0}")]
    Malformed(String),
    #[error("certificate is {0} bytes, more than {MAX_CERT_LEN}")]
    TooLarge(usize),
}

/// A parsed certificate with what verification needs.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub subject: String,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub key: Result<PublicKey, KeyError>,
    pub spki_der: Vec<u8>,
    /// The signed part, for the precertificate SCTs are issued over.
    pub tbs: Vec<u8>,
    pub is_ca: bool,
    pub digital_signature: Option<bool>,
    /// None when there is no EKU extension.
    pub eku_code_signing: Option<bool>,
    pub unknown_critical: Vec<String>,
    pub san_uris: Vec<String>,
    pub san_emails: Vec<String>,
    /// Fulcio's username identity: an otherName SAN of type 1.3.6.1.4.1.57264.1.7.
    pub san_other: Vec<String>,
    /// Fulcio's v2 extensions (1.3.6.1.4.1.57264.1.9 to .22, DER UTF8String): source
    /// repository, build signer, runner environment, ... by OID.
    pub fulcio: std::collections::BTreeMap<String, String>,
    pub oidc_issuer: Option<String>,
    /// The raw OCTET STRING content of the embedded SCT list extension.
    pub sct_list: Option<Vec<u8>>,
    pub has_poison: bool,
}

fn ts(t: &x509_parser::time::ASN1Time) -> Result<Timestamp, CertError> {
    Timestamp::from_second(t.timestamp())
        .map_err(|_| CertError::Malformed("time out of range".into()))
}

impl Cert {
    pub fn from_der(der_bytes: &[u8]) -> Result<Self, CertError> {
        if der_bytes.len() > MAX_CERT_LEN {
            return Err(CertError::TooLarge(der_bytes.len()));
        }
        let (rest, x) = X509Certificate::from_der(der_bytes)
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertError::Malformed("trailing bytes".into()));
        }
        let bad = |e: x509_parser::error::X509Error| CertError::Malformed(e.to_string());
        let mut c = Cert {
            der: der_bytes.to_vec(),
            subject: x.subject().to_string(),
            subject_raw: x.subject().as_raw().to_vec(),
            issuer_raw: x.issuer().as_raw().to_vec(),
            not_before: ts(&x.validity().not_before)?,
            not_after: ts(&x.validity().not_after)?,
            key: PublicKey::from_spki_der(x.public_key().raw),
            spki_der: x.public_key().raw.to_vec(),
            tbs: x.tbs_certificate.as_ref().to_vec(),
            is_ca: x
                .basic_constraints()
                .map_err(bad)?
                .is_some_and(|b| b.value.ca),
            digital_signature: x
                .key_usage()
                .map_err(bad)?
                .map(|k| k.value.digital_signature()),
            eku_code_signing: None,
            unknown_critical: Vec::new(),
            san_uris: Vec::new(),
            san_emails: Vec::new(),
            san_other: Vec::new(),
            fulcio: Default::default(),
            oidc_issuer: None,
            sct_list: None,
            has_poison: false,
        };
        if let Some(eku) = x.extended_key_usage().map_err(bad)? {
            c.eku_code_signing = Some(eku.value.code_signing || eku.value.any);
        }
        let mut v1_issuer = None;
        for ext in x.extensions() {
            let oid = ext.oid.to_id_string();
            match oid.as_str() {
                OID_ISSUER_V2 => {
                    let tlv = der::read_only(ext.value, der::UTF8_STRING)
                        .map_err(|e| CertError::Malformed(format!("OIDC issuer extension: {e}")))?;
                    c.oidc_issuer =
                        Some(String::from_utf8(tlv.content.to_vec()).map_err(|_| {
                            CertError::Malformed("OIDC issuer is not UTF-8".into())
                        })?);
                }
                // Deprecated: the raw string as the extension value.
                OID_ISSUER_V1 => {
                    v1_issuer =
                        Some(String::from_utf8(ext.value.to_vec()).map_err(|_| {
                            CertError::Malformed("OIDC issuer is not UTF-8".into())
                        })?);
                }
                OID_SCT_LIST => {
                    let tlv = der::read_only(ext.value, der::OCTET_STRING)
                        .map_err(|e| CertError::Malformed(format!("SCT list extension: {e}")))?;
                    c.sct_list = Some(tlv.content.to_vec());
                }
                OID_CT_POISON => c.has_poison = true,
                other if is_fulcio_v2(other) => {
                    let tlv = der::read_only(ext.value, der::UTF8_STRING).map_err(|e| {
                        CertError::Malformed(format!("Fulcio extension {other}: {e}"))
                    })?;
                    let value = String::from_utf8(tlv.content.to_vec()).map_err(|_| {
                        CertError::Malformed(format!("Fulcio extension {other} is not UTF-8"))
                    })?;
                    c.fulcio.insert(other.to_string(), value);
                }
                _ => {}
            }
            if ext.critical && !KNOWN_CRITICAL.contains(&oid.as_str()) {
                c.unknown_critical.push(oid.clone());
            }
            if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
                for name in &san.general_names {
                    match name {
                        GeneralName::URI(u) => c.san_uris.push(u.to_string()),
                        GeneralName::RFC822Name(e) => c.san_emails.push(e.to_string()),
                        GeneralName::OtherName(oid, value)
                            if oid.to_id_string() == OID_OTHERNAME_USERNAME =>
                        {
                            c.san_other.push(other_name_utf8(value).ok_or_else(|| {
                                CertError::Malformed(
                                    "the otherName SAN is not an explicitly tagged UTF8String"
                                        .into(),
                                )
                            })?);
                        }
                        _ => {}
                    }
                }
            }
        }
        if c.oidc_issuer.is_none() {
            c.oidc_issuer = v1_issuer;
        }
        Ok(c)
    }

    /// The SAN identities: URIs, then emails, then Fulcio usernames (otherName).
    pub fn identities(&self) -> Vec<&str> {
        self.san_uris
            .iter()
            .chain(self.san_emails.iter())
            .chain(self.san_other.iter())
            .map(String::as_str)
            .collect()
    }
}

/// Validates the Fulcio leaf `leaf` for code signing through `chain` (a
/// certificate authority's `certChain` from the trusted root: intermediates,
/// root last) at every time in `times`.
pub fn validate_chain(leaf: &Cert, chain: &[Cert], times: &[Timestamp]) -> Result<(), String> {
    if chain.is_empty() {
        return Err("the authority has no certificates".into());
    }
    validate(leaf, chain, times, KeyPurpose::CodeSigning)
}

/// Validates a timestamp authority's signing certificate `leaf` for
/// timeStamping through the rest of its `certChain` (`chain`, root last) at
/// `at`. A TSA given by its certificate alone is trusted directly (pinned).
pub fn validate_tsa_chain(leaf: &Cert, chain: &[Cert], at: Timestamp) -> Result<(), String> {
    if chain.is_empty() {
        return validate(
            leaf,
            std::slice::from_ref(leaf),
            &[at],
            KeyPurpose::TimeStamping,
        );
    }
    validate(leaf, chain, &[at], KeyPurpose::TimeStamping)
}

fn validate(
    leaf: &Cert,
    chain: &[Cert],
    times: &[Timestamp],
    purpose: KeyPurpose,
) -> Result<(), String> {
    let parse = |c: &Cert| {
        Certificate::from_der(&c.der).map_err(|e| {
            format!(
                "\"{}\": {e}",
                if c.subject.is_empty() {
                    "signing certificate"
                } else {
                    &c.subject
                }
            )
        })
    };
    let Some((root, intermediates)) = chain.split_last() else {
        return Err("the authority has no certificates".into());
    };
    if root.subject_raw != root.issuer_raw {
        return Err(format!(
            "the chain ends at \"{}\", which is not a root",
            root.subject
        ));
    }
    let intermediates = intermediates
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    validate_path(
        &parse(leaf)?,
        &intermediates,
        &[parse(root)?],
        times,
        purpose,
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// SHA-256, for CT issuer key hashes and log ids.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}
