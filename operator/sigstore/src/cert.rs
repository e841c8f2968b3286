//! X.509 as Sigstore uses it: short-lived Fulcio leaves (P-256 keys, P-384
//! issuers), CA and TSA chains from the trusted root, and the identity a
//! Fulcio leaf names. Chains are fixed by the trusted root (leaf, then the
//! authority's `certChain` in order), so there is no path building: each link
//! is checked (issuer name, signature, CA flags) and every certificate must be
//! valid at the signing time the caller established.

use jiff::Timestamp;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::crypto::{self, CryptoError, Key};
use crate::der;

pub const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
const OID_CT_POISON: &str = "1.3.6.1.4.1.11129.2.4.3";
/// Extensions a leaf may mark critical: we process all of these.
const KNOWN_CRITICAL: [&str; 4] = ["2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.19"];
/// Certificates are a few KiB; Fulcio's with many claims are under 4 KiB.
pub const MAX_CERT_LEN: usize = 32 * 1024;

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
    pub key: Result<Key, CryptoError>,
    pub spki_der: Vec<u8>,
    pub tbs: Vec<u8>,
    pub sig_alg: String,
    pub signature: Vec<u8>,
    pub is_ca: bool,
    pub key_cert_sign: Option<bool>,
    pub digital_signature: Option<bool>,
    /// None when there is no EKU extension.
    pub eku_code_signing: Option<bool>,
    pub eku_time_stamping: Option<bool>,
    pub unknown_critical: Vec<String>,
    pub san_uris: Vec<String>,
    pub san_emails: Vec<String>,
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
            key: Key::from_spki_der(x.public_key().raw),
            spki_der: x.public_key().raw.to_vec(),
            tbs: x.tbs_certificate.as_ref().to_vec(),
            sig_alg: x.signature_algorithm.algorithm.to_id_string(),
            signature: x.signature_value.data.to_vec(),
            is_ca: x
                .basic_constraints()
                .map_err(bad)?
                .is_some_and(|b| b.value.ca),
            key_cert_sign: x.key_usage().map_err(bad)?.map(|k| k.value.key_cert_sign()),
            digital_signature: x
                .key_usage()
                .map_err(bad)?
                .map(|k| k.value.digital_signature()),
            eku_code_signing: None,
            eku_time_stamping: None,
            unknown_critical: Vec::new(),
            san_uris: Vec::new(),
            san_emails: Vec::new(),
            oidc_issuer: None,
            sct_list: None,
            has_poison: false,
        };
        if let Some(eku) = x.extended_key_usage().map_err(bad)? {
            c.eku_code_signing = Some(eku.value.code_signing || eku.value.any);
            c.eku_time_stamping = Some(eku.value.time_stamping);
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

    /// The SAN identities: URIs, then emails.
    pub fn identities(&self) -> Vec<&str> {
        self.san_uris
            .iter()
            .chain(self.san_emails.iter())
            .map(String::as_str)
            .collect()
    }

    /// Checks that `issuer` signed this certificate.
    pub fn signed_by(&self, issuer: &Cert) -> Result<(), String> {
        if self.issuer_raw != issuer.subject_raw {
            return Err(format!(
                "its issuer name is not the subject of \"{}\"",
                issuer.subject
            ));
        }
        let key = issuer
            .key
            .as_ref()
            .map_err(|e| format!("issuer \"{}\" key: {e}", issuer.subject))?;
        let (hash, _) = crypto::signature_algorithm(&self.sig_alg)
            .ok_or_else(|| format!("signature algorithm {} is not supported", self.sig_alg))?;
        key.verify(hash, &self.tbs, &self.signature)
            .map_err(|e| format!("signature by \"{}\": {e}", issuer.subject))
    }

    pub fn valid_at(&self, at: Timestamp) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

/// Validates `leaf` through `chain` (issuer first, root last) at every time in `times`.
pub fn validate_chain(leaf: &Cert, chain: &[Cert], times: &[Timestamp]) -> Result<(), String> {
    validate_checked_chain(leaf, chain, &check_ca_chain(chain), times)
}

/// [`validate_chain`] for an authority of the trusted root whose chain was checked once,
/// when the root was loaded (`links` is [`check_ca_chain`]'s result for `chain`): the
/// chain is fixed trust material, so only the leaf's link and the times are checked per
/// bundle. The same errors, in the same order, as [`validate_chain`].
pub fn validate_checked_chain(
    leaf: &Cert,
    chain: &[Cert],
    links: &Result<(), String>,
    times: &[Timestamp],
) -> Result<(), String> {
    let Some(issuer) = chain.first() else {
        return Err("the authority has no certificates".into());
    };
    issued_by(leaf, issuer)?;
    links.clone()?;
    valid_at_all(std::iter::once(leaf).chain(chain), times)
}

/// The links of an authority's chain among themselves: each certificate a CA allowed to
/// sign certificates, issued by the next, the last a root. What [`validate_chain`] checks
/// past the leaf's own link, in its order.
pub fn check_ca_chain(chain: &[Cert]) -> Result<(), String> {
    if chain.is_empty() {
        return Err("the authority has no certificates".into());
    }
    for (i, ca) in chain.iter().enumerate() {
        if i > 0 {
            issued_by(&chain[i - 1], ca)?;
        }
        if !ca.is_ca || ca.key_cert_sign == Some(false) {
            return Err(format!(
                "\"{}\" is not a CA allowed to sign certificates",
                ca.subject
            ));
        }
        if !ca.unknown_critical.is_empty() {
            return Err(format!(
                "\"{}\" has unprocessed critical extensions {}",
                ca.subject,
                ca.unknown_critical.join(", ")
            ));
        }
        if i == chain.len() - 1 && ca.subject_raw != ca.issuer_raw {
            return Err(format!(
                "the chain ends at \"{}\", which is not a root",
                ca.subject
            ));
        }
    }
    Ok(())
}

/// `child` names `ca` as its issuer and carries its signature.
pub(crate) fn issued_by(child: &Cert, ca: &Cert) -> Result<(), String> {
    child.signed_by(ca).map_err(|e| {
        format!(
            "\"{}\" is not issued by \"{}\": {e}",
            child.subject, ca.subject
        )
    })
}

/// Every certificate is valid at every time.
pub(crate) fn valid_at_all<'a>(
    certs: impl IntoIterator<Item = &'a Cert>,
    times: &[Timestamp],
) -> Result<(), String> {
    for cert in certs {
        for &t in times {
            if !cert.valid_at(t) {
                return Err(format!(
                    "\"{}\" is not valid at {t} (valid {} to {})",
                    if cert.subject.is_empty() {
                        "signing certificate"
                    } else {
                        &cert.subject
                    },
                    cert.not_before,
                    cert.not_after
                ));
            }
        }
    }
    Ok(())
}

/// SHA-256, for CT issuer key hashes and log ids.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}
