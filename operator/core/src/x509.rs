//! X.509 certificates and certificate path validation: the one place that
//! decides whether a certificate path is trusted.
//!
//! A signer's bundle carries its signing certificate (the leaf) and any
//! intermediates; trust anchors are root certificates. [`validate_path`]
//! finds a path from the leaf through the intermediates to one of the given
//! roots, valid at every verification time the caller passes in (this crate
//! never reads the clock), for one [`KeyPurpose`].
//!
//! rustls-webpki decides: signature algorithms (those of
//! `webpki::ALL_VERIFICATION_ALGS` on ring: ECDSA P-256 and P-384 with SHA-256
//! or SHA-384, Ed25519, RSA PKCS#1 v1.5 and PSS with 2048 to 8192-bit keys;
//! not P-521, which ring does not implement), version 3 certificates below the
//! root, validity at each time, basicConstraints and pathLenConstraint, name
//! constraints, extendedKeyUsage on every certificate below the root, critical
//! extensions it does not process, at most 6 intermediates.
//!
//! webpki takes a trust anchor as a bare name and key and ignores keyUsage; so
//! a path it accepts must also pass these checks of ours ([`check_path`]):
//! - every certificate on the path, root included, valid at the time to the
//!   sub-second (`not_before <= at <= not_after`);
//! - every issuer, root included, a CA (basicConstraints `cA`) whose keyUsage
//!   (if any) has `keyCertSign` and whose pathLenConstraint holds, with no
//!   critical extension that is not processed;
//! - the leaf's keyUsage (if any) has `digitalSignature`; for
//!   [`KeyPurpose::TimeStamping`] its extendedKeyUsage is present, critical and
//!   lists timeStamping alone (RFC 3161 2.3).
//!
//! When the verdict is a refusal, a depth-first walk over the same
//! certificates names the link that failed and why ([`ChainError`]); the walk
//! never accepts anything. A leaf that is itself one of the roots, byte for
//! byte, is pinned: trusted directly, with its validity and usage checked.
//!
//! Names are matched on their DER encoding, byte for byte. A root's own
//! signature is not checked.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use webpki::{
    ExtendedKeyUsageValidator, KeyPurposeId, KeyPurposeIdIter, RequiredEkuNotFoundContext,
};
use x509_parser::asn1_rs::{Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::digest::Sha256Digest;
use crate::keys::{KeyError, PublicKey};
use crate::pem::{PemError, parse_pem, to_pem};

/// The longest path accepted, in certificates, leaf and root included (as
/// webpki: the leaf, at most 6 intermediates, the root).
pub const MAX_CHAIN_LENGTH: usize = 8;

/// Upper bound on issuer candidates examined (each costs a signature check)
/// by the explaining walk, so that a hostile bundle of many certificates with
/// the same name cannot make it explode.
const MAX_CANDIDATE_CHECKS: usize = 128;

/// Signature checks spent, at dead ends, looking for an issuer whose name
/// does not match (to explain the dead end); a budget of their own so that
/// explaining never starves the search itself.
const MAX_HINT_CHECKS: usize = 32;

const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const OID_SUBJECT_ALT_NAME: &str = "2.5.29.17";
const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
const OID_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

/// Extensions whose content we parse ourselves, so a malformed one is a
/// parse error.
const PARSED_EXTENSIONS: [&str; 4] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXTENDED_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
];

/// Extensions that path validation processes, and so may be critical: those
/// webpki reads. subjectAltName is here because a certificate with an empty
/// subject (as keyless signing CAs issue) must mark it critical (RFC 5280
/// 4.2.1.6); callers match identities on it.
const PATH_EXTENSIONS: [&str; 7] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXTENDED_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
    OID_NAME_CONSTRAINTS,
    OID_CRL_DISTRIBUTION_POINTS,
    OID_SCT_LIST,
];

const SUPPORTED_ALGORITHMS: &str = "ECDSA P-256 or P-384 with SHA-256 or SHA-384, Ed25519, RSA PKCS#1 v1.5 or PSS with SHA-256/384/512 and a 2048 to 8192-bit key; not P-521";

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not a DER X.509 certificate: {detail}")]
    Malformed { detail: String },
    #[error("{count} unexpected byte(s) after the DER certificate")]
    TrailingData { count: usize },
    #[error("certificate \"{subject}\": invalid {field}: {detail}")]
    InvalidField {
        subject: String,
        field: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("line {line}: expected a \"CERTIFICATE\" PEM block, found \"{label}\"")]
    UnexpectedPemLabel { label: String, line: usize },
    #[error("line {line}: PEM block {index} (\"CERTIFICATE\"): {error}")]
    InPemBlock {
        line: usize,
        /// 1-based position of the block in the text.
        index: usize,
        error: Box<CertError>,
    },
}

/// Why a chain did not validate. [`ChainError::reason`] gives a stable
/// machine-readable reason for status conditions and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No path leads to any of the given roots. `subject` is the certificate
    /// the search got stuck at (the leaf or an intermediate) and `issuer` the
    /// name that was looked for.
    #[error(
        "no path to a trusted root: certificate \"{subject}\" is issued by \"{issuer}\", {detail}"
    )]
    TrustAnchorNotFound {
        subject: String,
        issuer: String,
        detail: String,
    },
    /// A link of the path is broken. `link` is the position of the
    /// certificate being checked (0 for the leaf), `issuer` the certificate
    /// (or, when none was found, the name) above it, `detail` a full sentence.
    #[error("link {link}: {detail}")]
    CertificateChainInvalid {
        link: usize,
        subject: String,
        issuer: String,
        detail: String,
    },
    #[error("certificate \"{subject}\" expired at {not_after}")]
    CertificateExpired {
        subject: String,
        not_after: Timestamp,
    },
    #[error("certificate \"{subject}\" is not valid before {not_before}")]
    CertificateNotYetValid {
        subject: String,
        not_before: Timestamp,
    },
    /// A certificate signature algorithm, or an issuer key type, that we do
    /// not accept. `subject` is the certificate that carries it.
    #[error(
        "certificate \"{subject}\" uses an unsupported algorithm: {algorithm} (supported: {SUPPORTED_ALGORITHMS})"
    )]
    AlgorithmNotSupported { subject: String, algorithm: String },
    /// The caller gave no time to validate at.
    #[error("no verification time was given for the certificate path")]
    NoVerificationTime,
}

impl ChainError {
    /// The stable reason string of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            ChainError::TrustAnchorNotFound { .. } => "TrustAnchorNotFound",
            ChainError::CertificateChainInvalid { .. } => "CertificateChainInvalid",
            ChainError::CertificateExpired { .. } => "CertificateExpired",
            ChainError::CertificateNotYetValid { .. } => "CertificateNotYetValid",
            ChainError::AlgorithmNotSupported { .. } => "AlgorithmNotSupported",
            ChainError::NoVerificationTime => "NoVerificationTime",
        }
    }
}

/// What the leaf's key is used for. An extendedKeyUsage extension, where a
/// certificate of the path has one, must list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Signatures over artifacts and attestations (id-kp-codeSigning);
    /// anyExtendedKeyUsage allows it too (RFC 5280 4.2.1.12), as in Go's
    /// crypto/x509 that Sigstore's clients use.
    CodeSigning,
    /// RFC 3161 timestamps (id-kp-timeStamping): the leaf must carry a
    /// critical extendedKeyUsage with this purpose alone.
    TimeStamping,
    /// TLS server certificates (id-kp-serverAuth), as x509-limbo tests them.
    ServerAuth,
    /// TLS client certificates (id-kp-clientAuth), as x509-limbo tests them.
    ClientAuth,
}

impl KeyPurpose {
    /// The purpose's OID, DER content bytes (1.3.6.1.5.5.7.3.x).
    fn oid(self) -> &'static [u8] {
        match self {
            KeyPurpose::ServerAuth => &[0x2b, 6, 1, 5, 5, 7, 3, 1],
            KeyPurpose::ClientAuth => &[0x2b, 6, 1, 5, 5, 7, 3, 2],
            KeyPurpose::CodeSigning => &[0x2b, 6, 1, 5, 5, 7, 3, 3],
            KeyPurpose::TimeStamping => &[0x2b, 6, 1, 5, 5, 7, 3, 8],
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyPurpose::ServerAuth => "serverAuth",
            KeyPurpose::ClientAuth => "clientAuth",
            KeyPurpose::CodeSigning => "codeSigning",
            KeyPurpose::TimeStamping => "timeStamping",
        }
    }

    fn allowed_by(self, eku: &ExtKeyUsage) -> bool {
        match self {
            KeyPurpose::ServerAuth => eku.server_auth,
            KeyPurpose::ClientAuth => eku.client_auth,
            KeyPurpose::CodeSigning => eku.code_signing || eku.any,
            KeyPurpose::TimeStamping => eku.time_stamping,
        }
    }
}

/// anyExtendedKeyUsage (2.5.29.37.0), DER content bytes.
const OID_ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

/// webpki's extendedKeyUsage check, for every certificate below the root: an
/// extension that is present must list the purpose.
struct PurposeCheck(KeyPurpose);

impl ExtendedKeyUsageValidator for PurposeCheck {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let wanted = KeyPurposeId::new(self.0.oid());
        let any = KeyPurposeId::new(OID_ANY_EKU);
        let mut present = Vec::new();
        for id in iter {
            let id = id?;
            if id == wanted || (self.0 == KeyPurpose::CodeSigning && id == any) {
                return Ok(());
            }
            present.push(id.to_decoded_oid());
        }
        if present.is_empty() {
            return Ok(());
        }
        Err(webpki::Error::RequiredEkuNotFoundContext(
            RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::required_if_present(self.0.oid()),
                present,
            },
        ))
    }
}

/// What an extendedKeyUsage extension allows, reduced to what we check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExtKeyUsage {
    any: bool,
    server_auth: bool,
    client_auth: bool,
    code_signing: bool,
    time_stamping: bool,
    critical: bool,
    /// Every purpose listed, by name, for error messages.
    purposes: Vec<String>,
}

/// A parsed certificate, owning its data.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    serial: String,
    /// 1 for v1, 3 for v3.
    version: u32,
    not_before: Timestamp,
    not_after: Timestamp,
    /// Kept as a result: a CA with an unsupported key type is only a problem
    /// if it has to verify something.
    public_key: Result<PublicKey, KeyError>,
    /// The SubjectPublicKeyInfo's AlgorithmIdentifier, DER content bytes (as
    /// webpki's algorithms name theirs), and the key bits; None when the key
    /// bit string has unused bits.
    spki: Option<(Vec<u8>, Vec<u8>)>,
    /// "EC P-384", "RSA", ... for messages.
    key_description: String,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    has_basic_constraints: bool,
    is_ca: bool,
    path_len: Option<u32>,
    /// None when there is no keyUsage extension.
    key_cert_sign: Option<bool>,
    digital_signature: Option<bool>,
    extended_key_usage: Option<ExtKeyUsage>,
    /// Critical extensions path validation does not process, described for messages.
    unprocessed_critical: Vec<String>,
    /// Dotted OID of the certificate's signature algorithm.
    signature_algorithm: String,
    /// The signature AlgorithmIdentifier, DER content bytes.
    signature_algorithm_id: Vec<u8>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn nom_detail(e: &x509_parser::nom::Err<x509_parser::error::X509Error>) -> String {
    match e {
        x509_parser::nom::Err::Incomplete(_) => "the data ends too early".to_string(),
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e.to_string(),
    }
}

fn timestamp(t: &x509_parser::time::ASN1Time) -> Option<Timestamp> {
    Timestamp::from_second(t.timestamp()).ok()
}

/// A SubjectPublicKeyInfo's AlgorithmIdentifier content and key bits.
fn split_spki(spki: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (0x30, _, body, []) = der_tlv(spki)? else {
        return None;
    };
    let (0x30, _, algorithm, rest) = der_tlv(body)? else {
        return None;
    };
    let (0x03, _, bits, []) = der_tlv(rest)? else {
        return None;
    };
    let (0, key) = bits.split_first()? else {
        return None;
    };
    Some((algorithm.to_vec(), key.to_vec()))
}

/// "EC P-256", "RSA", "Ed25519", or the algorithm's name and OID.
fn describe_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> String {
    let algorithm = spki.algorithm.algorithm.to_id_string();
    match algorithm.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "EC P-256".into(),
                Some("1.3.132.0.34") => "EC P-384".into(),
                Some("1.3.132.0.35") => "EC P-521".into(),
                Some(other) => format!("EC (curve {other})"),
                None => "EC (explicit or missing curve)".into(),
            }
        }
        "1.2.840.113549.1.1.1" => "RSA".into(),
        "1.3.101.112" => "Ed25519".into(),
        _ => describe_extension(&spki.algorithm.algorithm),
    }
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are refused.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        let (rest, x) = X509Certificate::from_der(der).map_err(|e| CertError::Malformed {
            detail: nom_detail(&e),
        })?;
        if !rest.is_empty() {
            return Err(CertError::TrailingData { count: rest.len() });
        }
        let subject = format_name(x.subject());
        let invalid = |field: &'static str, detail: String| CertError::InvalidField {
            subject: subject.clone(),
            field,
            detail,
        };

        // The parts outside the signature must have exactly one encoding, so
        // that a certificate that validates has one DER form (and one hash).
        let envelope = Envelope::split(der, x.tbs_certificate.as_ref()).ok_or_else(|| {
            CertError::Malformed {
                detail: "the certificate envelope is not DER (non-minimal length, wrong tag form or unused signature bits)".into(),
            }
        })?;
        if envelope.outer_algorithm != envelope.inner_algorithm {
            return Err(invalid(
                "signature algorithm",
                format!(
                    "the signed part names {} but the outer signature algorithm is {}{}",
                    describe_signature_algorithm(&x.tbs_certificate.signature.algorithm),
                    describe_signature_algorithm(&x.signature_algorithm.algorithm),
                    if x.signature_algorithm == x.tbs_certificate.signature {
                        ", encoded differently"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let not_before = timestamp(&x.validity().not_before)
            .ok_or_else(|| invalid("validity", "notBefore is out of range".into()))?;
        let not_after = timestamp(&x.validity().not_after)
            .ok_or_else(|| invalid("validity", "notAfter is out of range".into()))?;

        let mut seen: HashSet<&Oid> = HashSet::new();
        let mut unprocessed_critical = Vec::new();
        let mut eku_critical = false;
        for ext in x.extensions() {
            if !seen.insert(&ext.oid) {
                return Err(invalid(
                    "extensions",
                    format!(
                        "extension {} appears more than once",
                        describe_extension(&ext.oid)
                    ),
                ));
            }
            let oid = ext.oid.to_id_string();
            if PARSED_EXTENSIONS.contains(&oid.as_str())
                && let Some(e) = ext.parsed_extension().error()
            {
                return Err(invalid(
                    "extension",
                    format!("{} is malformed: {e}", describe_extension(&ext.oid)),
                ));
            }
            if oid == OID_EXTENDED_KEY_USAGE {
                eku_critical = ext.critical;
            }
            if ext.critical && !PATH_EXTENSIONS.contains(&oid.as_str()) {
                unprocessed_critical.push(describe_extension(&ext.oid));
            }
        }

        let ext_err = |e: x509_parser::error::X509Error| invalid("extensions", e.to_string());
        let basic_constraints = x.basic_constraints().map_err(ext_err)?;
        let key_usage = x.key_usage().map_err(ext_err)?;
        let extended_key_usage = x.extended_key_usage().map_err(ext_err)?.map(|eku| {
            let eku = eku.value;
            let mut purposes = Vec::new();
            for (set, name) in [
                (eku.any, "anyExtendedKeyUsage"),
                (eku.server_auth, "serverAuth"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
            ] {
                if set {
                    purposes.push(name.to_string());
                }
            }
            purposes.extend(eku.other.iter().map(|o| o.to_id_string()));
            ExtKeyUsage {
                any: eku.any,
                server_auth: eku.server_auth,
                client_auth: eku.client_auth,
                code_signing: eku.code_signing,
                time_stamping: eku.time_stamping,
                critical: eku_critical,
                purposes,
            }
        });
        let signature_algorithm_id = der_tlv(envelope.outer_algorithm)
            .map(|(_, _, content, _)| content.to_vec())
            .unwrap_or_default();

        Ok(Certificate {
            der: der.to_vec(),
            issuer: format_name(x.issuer()),
            serial: hex::encode(x.raw_serial()),
            version: x.version().0 + 1,
            not_before,
            not_after,
            public_key: PublicKey::from_spki_product(x.public_key()),
            spki: split_spki(x.public_key().raw),
            key_description: describe_key(x.public_key()),
            subject_der: x.subject().as_raw().to_vec(),
            issuer_der: x.issuer().as_raw().to_vec(),
            has_basic_constraints: basic_constraints.is_some(),
            is_ca: basic_constraints.as_ref().is_some_and(|b| b.value.ca),
            path_len: basic_constraints.and_then(|b| b.value.path_len_constraint),
            key_cert_sign: key_usage.as_ref().map(|k| k.value.key_cert_sign()),
            digital_signature: key_usage.as_ref().map(|k| k.value.digital_signature()),
            extended_key_usage,
            unprocessed_critical,
            signature_algorithm: x.signature_algorithm.algorithm.to_id_string(),
            signature_algorithm_id,
            tbs: x.tbs_certificate.as_ref().to_vec(),
            signature: envelope.signature.to_vec(),
            subject,
        })
    }

    /// The subject name, RFC 4514 style ("CN=Leaf,O=Example"); empty for an empty name.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The issuer name, RFC 4514 style.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The serial number as lowercase hex of its DER content bytes.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    pub fn not_before(&self) -> Timestamp {
        self.not_before
    }

    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// The subject public key, or why it is not one we accept.
    pub fn public_key(&self) -> Result<&PublicKey, &KeyError> {
        self.public_key.as_ref()
    }

    /// The key id of the subject public key, when it is one we accept.
    pub fn key_id(&self) -> Option<Sha256Digest> {
        self.public_key.as_ref().ok().map(PublicKey::key_id)
    }

    /// True when basicConstraints is present with cA set.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn to_pem(&self) -> String {
        to_pem("CERTIFICATE", &self.der)
    }

    /// Subject and issuer names are the same (byte for byte).
    pub fn is_self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    /// How error messages name this certificate: its subject, or its serial
    /// number when the subject is empty.
    fn label(&self) -> String {
        if self.subject.is_empty() {
            format!("<empty subject, serial {}>", self.serial)
        } else {
            self.subject.clone()
        }
    }

    fn issuer_label(&self) -> String {
        if self.issuer.is_empty() {
            "<empty name>".to_string()
        } else {
            self.issuer.clone()
        }
    }
}

/// Reads every `CERTIFICATE` block of a PEM text, in order. A block with
/// another label is an error naming the label and line.
pub fn parse_pem_certificates(text: &str) -> Result<Vec<Certificate>, CertError> {
    let blocks = parse_pem(text)?;
    blocks
        .iter()
        .enumerate()
        .map(|(i, block)| {
            if block.label != "CERTIFICATE" {
                return Err(CertError::UnexpectedPemLabel {
                    label: block.label.clone(),
                    line: block.line,
                });
            }
            Certificate::from_der(&block.der).map_err(|e| CertError::InPemBlock {
                line: block.line,
                index: i + 1,
                error: Box::new(e),
            })
        })
        .collect()
}

/// A path from a leaf to a trusted root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedChain {
    /// Leaf first, trusted root last (a single certificate when the leaf is
    /// itself a trusted root).
    pub path: Vec<Certificate>,
    /// The earliest `not_after` on the path: when the chain stops being valid.
    pub not_after: Timestamp,
}

/// Validates `leaf` for code signing at time `at` against the trust anchors
/// `roots`: [`validate_path`] with one time and [`KeyPurpose::CodeSigning`].
pub fn validate_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: Timestamp,
) -> Result<ValidatedChain, ChainError> {
    validate_path(leaf, intermediates, roots, &[at], KeyPurpose::CodeSigning)
}

/// Validates `leaf` for `purpose` at every time in `times` against the trust
/// anchors `roots`, using `intermediates` (in any order, possibly with extra
/// certificates) to build the path. rustls-webpki decides, with the checks of
/// [`check_path`] on top (see the module documentation). On a refusal the
/// error names the failing link: a complete path with a certificate out of
/// its validity period first, then the deepest broken link or dead end.
pub fn validate_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    times: &[Timestamp],
    purpose: KeyPurpose,
) -> Result<ValidatedChain, ChainError> {
    if times.is_empty() {
        return Err(ChainError::NoVerificationTime);
    }
    check_leaf_usage(leaf, purpose)?;
    if roots.iter().any(|r| r.der == leaf.der) {
        // Pinned: no path to validate, only the certificate itself.
        let mut chain = None;
        for &at in times {
            chain = Some(check_validity(&[leaf], at)?);
        }
        return chain.ok_or(ChainError::NoVerificationTime);
    }
    // webpki builds and checks the path at the first time; signatures, constraints and usages
    // do not depend on the time, so at the others only the validity of the same path's
    // certificates is checked (a path valid at one time and another path valid at the next
    // would not do: stricter than asking webpki again, and half the signature checks).
    let first = times[0];
    let path = decide(leaf, intermediates, roots, first, purpose)
        .map_err(|refusal| explain(leaf, intermediates, roots, first, purpose, *refusal))?;
    let refs: Vec<&Certificate> = path.iter().collect();
    let chain = check_validity(&refs, first)?;
    for &at in &times[1..] {
        check_validity(&refs, at)?;
    }
    Ok(chain)
}

/// What the leaf itself must allow, checked before any path: webpki does not
/// read keyUsage, nor RFC 3161's rule for timestamping certificates. The
/// extendedKeyUsage and critical extension checks repeat webpki's verdict
/// with a message (and hold for a pinned leaf, which webpki never sees).
fn check_leaf_usage(leaf: &Certificate, purpose: KeyPurpose) -> Result<(), ChainError> {
    let invalid = |detail: String| ChainError::CertificateChainInvalid {
        link: 0,
        subject: leaf.label(),
        issuer: leaf.issuer_label(),
        detail,
    };
    if let Some(ext) = leaf.unprocessed_critical.first() {
        return Err(invalid(format!(
            "certificate \"{}\" has a critical extension this verifier does not process: {ext}",
            leaf.label()
        )));
    }
    if leaf.digital_signature == Some(false) {
        return Err(invalid(format!(
            "signing certificate \"{}\" has a keyUsage extension without digitalSignature, so it may not sign",
            leaf.label()
        )));
    }
    if let Some(why) = eku_refusal(leaf, purpose) {
        return Err(invalid(format!("signing certificate {why}")));
    }
    if purpose == KeyPurpose::TimeStamping {
        let detail = match &leaf.extended_key_usage {
            None => Some("has no extendedKeyUsage extension".to_string()),
            Some(eku) if !eku.critical => {
                Some("has an extendedKeyUsage extension that is not critical".to_string())
            }
            Some(eku) if eku.purposes.len() != 1 => Some(format!(
                "has an extendedKeyUsage extension listing more than timeStamping ({})",
                eku.purposes.join(", ")
            )),
            Some(_) => None,
        };
        if let Some(detail) = detail {
            return Err(invalid(format!(
                "timestamping certificate \"{}\" {detail}: RFC 3161 requires a critical extendedKeyUsage with timeStamping alone",
                leaf.label()
            )));
        }
    }
    Ok(())
}

/// Why `cert`'s extendedKeyUsage, if it has one, does not allow `purpose`:
/// "\"CN=x\" has an extendedKeyUsage extension without ...".
fn eku_refusal(cert: &Certificate, purpose: KeyPurpose) -> Option<String> {
    let eku = cert.extended_key_usage.as_ref()?;
    if purpose.allowed_by(eku) {
        return None;
    }
    let allowed = match purpose {
        KeyPurpose::CodeSigning => "codeSigning or anyExtendedKeyUsage".to_string(),
        other => other.name().to_string(),
    };
    Some(format!(
        "\"{}\" has an extendedKeyUsage extension without {allowed} (it lists: {}), so it may not be used for {}",
        cert.label(),
        if eku.purposes.is_empty() {
            "nothing".to_string()
        } else {
            eku.purposes.join(", ")
        },
        purpose.name()
    ))
}

/// webpki's refusal, and ours of a path webpki had accepted.
struct Refusal {
    webpki: webpki::Error,
    ours: Option<Box<ChainError>>,
}

fn unix_time(at: Timestamp) -> UnixTime {
    // Whole seconds, rounded down: check_path then checks validity to the
    // sub-second. Times before 1970 are not representable and are clamped.
    UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(at.as_second()).unwrap_or(0),
    ))
}

/// rustls-webpki's verdict on `leaf` at `at`, with [`check_path`] applied to
/// each path it would accept (so that it goes on to the next path when ours
/// refuses one). Returns the accepted path, leaf first, root last.
fn decide(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: Timestamp,
    purpose: KeyPurpose,
) -> Result<Vec<Certificate>, Box<Refusal>> {
    let refuse = |webpki| Box::new(Refusal { webpki, ours: None });
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der).map_err(refuse)?;
    // Roots that webpki cannot take as anchors cannot anchor a path; the
    // explaining walk says why a path through one of them fails.
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.der.as_slice()))
        .collect();
    let (anchors, anchor_roots): (Vec<TrustAnchor<'_>>, Vec<&Certificate>) = root_ders
        .iter()
        .zip(roots)
        .filter_map(|(der, root)| {
            webpki::anchor_from_trusted_cert(der)
                .ok()
                .map(|anchor| (anchor, root))
        })
        .unzip();
    let intermediate_ders: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.der.as_slice()))
        .collect();
    let ours: RefCell<Option<Box<ChainError>>> = RefCell::new(None);
    let accepted: RefCell<Option<Vec<Certificate>>> = RefCell::new(None);
    let also_ours = |candidate: &webpki::VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let mut path = vec![leaf];
        for cert in candidate.intermediate_certificates() {
            let der = cert.der();
            let ours = intermediates
                .iter()
                .find(|c| c.der.as_slice() == der.as_ref())
                .ok_or(webpki::Error::UnknownIssuer)?;
            path.push(ours);
        }
        let root = anchors
            .iter()
            .position(|a| std::ptr::eq(a, candidate.anchor()))
            .ok_or(webpki::Error::UnknownIssuer)?;
        path.push(anchor_roots[root]);
        match check_path(&path, at, purpose) {
            Ok(()) => {
                *accepted.borrow_mut() = Some(path.into_iter().cloned().collect());
                Ok(())
            }
            Err(e) => {
                ours.borrow_mut().get_or_insert(Box::new(e));
                // Any error makes webpki try the next path; which one it
                // reports does not matter, ours is kept above.
                Err(webpki::Error::UnknownIssuer)
            }
        }
    };
    // The signatures worth remembering: those over the authorities' own certificates, which
    // every path through them checks again (a timestamp authority's signing certificate is
    // one of them); a code-signing leaf is new with each signature.
    let mut authorities: Vec<&Certificate> = intermediates.iter().collect();
    if purpose == KeyPurpose::TimeStamping {
        authorities.push(leaf);
    }
    let _remember = sig_cache::remember_signatures_over(&authorities);
    let verdict = end_entity.verify_for_usage(
        sig_cache::ALGORITHMS.as_slice(),
        &anchors,
        &intermediate_ders,
        unix_time(at),
        PurposeCheck(purpose),
        None,
        Some(&also_ours),
    );
    match (verdict, accepted.into_inner()) {
        (Ok(_), Some(path)) => Ok(path),
        (Ok(_), None) => Err(Box::new(Refusal {
            webpki: webpki::Error::UnknownIssuer,
            ours: ours.into_inner(),
        })),
        (Err(e), _) => Err(Box::new(Refusal {
            webpki: e,
            ours: ours.into_inner(),
        })),
    }
}

/// Our checks on a path webpki accepts (see the module documentation):
/// every issuer as [`check_issuer`] has it, the root included (webpki reads
/// nothing of a trust anchor but its name and key), and every certificate
/// valid at `at` to the sub-second.
fn check_path(path: &[&Certificate], at: Timestamp, purpose: KeyPurpose) -> Result<(), ChainError> {
    for i in 1..path.len() {
        check_issuer(&path[..i], path[i], i == path.len() - 1, purpose)?;
    }
    check_validity(path, at).map(|_| ())
}

/// Names the failing link of a refused leaf: webpki's verdict stands, the
/// walk only explains it. If the walk finds nothing wrong (a rule it does not
/// model, such as name constraints), webpki's reason is given.
fn explain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: Timestamp,
    purpose: KeyPurpose,
    refusal: Refusal,
) -> ChainError {
    if let Some(e) = check_end_entity(leaf) {
        return e;
    }
    // Each distinct certificate once: roots first, then intermediates.
    let mut seen = HashSet::new();
    let candidates = roots
        .iter()
        .map(|c| (true, c))
        .chain(intermediates.iter().map(|c| (false, c)))
        .filter(|(_, c)| seen.insert(c.der.as_slice()))
        .collect();
    let mut search = Search {
        candidates,
        roots,
        intermediates: intermediates.len(),
        at,
        purpose,
        checks_left: MAX_CANDIDATE_CHECKS,
        hint_checks_left: MAX_HINT_CHECKS,
        best: None,
        gave_up: None,
    };
    let mut path = vec![leaf];
    if search.extend(&mut path).is_none() {
        // An unfinished search must not blame whatever it happened to try.
        if let Some(e) = search.gave_up {
            return e;
        }
        if let Some((_, e)) = search.best {
            return e;
        }
    }
    refusal
        .ours
        .map(|e| *e)
        .unwrap_or_else(|| ChainError::CertificateChainInvalid {
            link: 0,
            subject: leaf.label(),
            issuer: leaf.issuer_label(),
            detail: format!(
                "no path from certificate \"{}\" to a trusted root passes validation: {}",
                leaf.label(),
                describe_refusal(&refusal.webpki)
            ),
        })
}

/// webpki's reason, as a sentence fragment.
fn describe_refusal(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::NameConstraintViolation => {
            "a name of the leaf violates the name constraints of a CA above it".into()
        }
        E::InvalidNetworkMaskConstraint | E::MalformedNameConstraint => {
            "a CA above the leaf has malformed name constraints".into()
        }
        E::UnsupportedNameType => {
            "the leaf has a name of a type that the name constraints above it cannot be checked against".into()
        }
        E::UnsupportedCertVersion => "a certificate is not version 3".into(),
        E::UnsupportedCriticalExtension => {
            "a certificate has a critical extension that is not processed".into()
        }
        E::CaUsedAsEndEntity => "the leaf is a CA certificate".into(),
        E::EndEntityUsedAsCa => "an issuer is not a CA".into(),
        E::PathLenConstraintViolated => "a pathLenConstraint is exceeded".into(),
        E::EmptyEkuExtension => "a certificate has an empty extendedKeyUsage extension".into(),
        E::RequiredEkuNotFoundContext(_) => {
            "a certificate's extendedKeyUsage does not allow the purpose".into()
        }
        E::InvalidCertValidity => "a certificate's notBefore is after its notAfter".into(),
        E::MaximumPathDepthExceeded => format!(
            "the path is longer than {MAX_CHAIN_LENGTH} certificates"
        ),
        E::MaximumSignatureChecksExceeded | E::MaximumPathBuildCallsExceeded => {
            "path building gave up: too many candidate certificates".into()
        }
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions | E::ExtensionValueInvalid => {
            format!("a certificate is not well-formed for path validation ({e:?})")
        }
        other => format!("{other:?}"),
    }
}

/// The leaf as an end entity (webpki's rules, for messages): version 3 and
/// not a CA.
fn check_end_entity(leaf: &Certificate) -> Option<ChainError> {
    let detail = if leaf.version != 3 {
        format!(
            "certificate \"{}\" is a version {} certificate; only version 3 is accepted",
            leaf.label(),
            leaf.version
        )
    } else if leaf.is_ca {
        format!(
            "signing certificate \"{}\" is a CA certificate (basicConstraints cA=true): a CA may not be the leaf",
            leaf.label()
        )
    } else {
        return None;
    };
    Some(ChainError::CertificateChainInvalid {
        link: 0,
        subject: leaf.label(),
        issuer: leaf.issuer_label(),
        detail,
    })
}

/// Every certificate on a complete path must be valid at `at`.
fn check_validity(path: &[&Certificate], at: Timestamp) -> Result<ValidatedChain, ChainError> {
    for cert in path {
        if at < cert.not_before {
            return Err(ChainError::CertificateNotYetValid {
                subject: cert.label(),
                not_before: cert.not_before,
            });
        }
        if at > cert.not_after {
            return Err(ChainError::CertificateExpired {
                subject: cert.label(),
                not_after: cert.not_after,
            });
        }
    }
    let not_after = path
        .iter()
        .map(|c| c.not_after)
        .min()
        .unwrap_or(Timestamp::MAX);
    Ok(ValidatedChain {
        path: path.iter().map(|c| (*c).clone()).collect(),
        not_after,
    })
}

/// How far a failed attempt got; the furthest one is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// A complete path to a root existed (only validity periods failed).
    complete: bool,
    /// Position of the certificate whose issuer was being looked for.
    depth: usize,
    /// At equal depth, a broken link says more than a dead end.
    broken_link: bool,
}

/// The explaining walk: a depth-first search over the same certificates that
/// records the furthest failure. It never accepts a path on its own.
struct Search<'a> {
    /// Distinct certificates that may issue: (is a trusted root, certificate).
    candidates: Vec<(bool, &'a Certificate)>,
    roots: &'a [Certificate],
    /// How many intermediates were given, for messages.
    intermediates: usize,
    at: Timestamp,
    purpose: KeyPurpose,
    checks_left: usize,
    hint_checks_left: usize,
    best: Option<(Rank, ChainError)>,
    /// Set when the candidate budget ran out.
    gave_up: Option<ChainError>,
}

impl<'a> Search<'a> {
    fn record(&mut self, rank: Rank, error: ChainError) {
        if self.best.as_ref().is_none_or(|(r, _)| rank > *r) {
            self.best = Some((rank, error));
        }
    }

    /// Depth-first search for an issuer of the last certificate of `path`;
    /// Some(()) when a path passes every check the walk knows.
    fn extend(&mut self, path: &mut Vec<&'a Certificate>) -> Option<()> {
        let depth = path.len() - 1;
        let current = path[depth];
        let dead_end = Rank {
            complete: false,
            depth,
            broken_link: false,
        };
        let broken = Rank {
            broken_link: true,
            ..dead_end
        };
        if path.len() >= MAX_CHAIN_LENGTH {
            self.record(
                broken,
                ChainError::CertificateChainInvalid {
                    link: depth,
                    subject: current.label(),
                    issuer: current.issuer_label(),
                    detail: format!(
                        "chain too long: {MAX_CHAIN_LENGTH} certificates from the leaf up to \"{}\" without reaching a trusted root (at most {MAX_CHAIN_LENGTH} are allowed, root included)",
                        current.label()
                    ),
                },
            );
            return None;
        }
        let mut tried = 0;
        let mut on_path = false;
        let candidates: Vec<_> = self
            .candidates
            .iter()
            .filter(|(_, c)| c.subject_der == current.issuer_der)
            .copied()
            .collect();
        for (is_root, candidate) in candidates {
            if path.iter().any(|p| p.der == candidate.der) {
                // Not a loop when a self-issued certificate finds itself.
                on_path |= candidate.der != current.der;
                continue;
            }
            tried += 1;
            if self.checks_left == 0 {
                self.gave_up.get_or_insert_with(|| ChainError::CertificateChainInvalid {
                    link: depth,
                    subject: current.label(),
                    issuer: current.issuer_label(),
                    detail: format!(
                        "gave up building the path after examining {MAX_CANDIDATE_CHECKS} candidate issuers: the intermediates and roots hold too many certificates with the same names"
                    ),
                });
                return None;
            }
            self.checks_left -= 1;
            if let Err(e) = check_link(path, candidate, is_root, self.purpose) {
                self.record(broken, e);
                continue;
            }
            path.push(candidate);
            if is_root {
                match check_validity(path, self.at) {
                    Ok(_) => return Some(()),
                    Err(e) => self.record(
                        Rank {
                            complete: true,
                            depth: path.len(),
                            broken_link: false,
                        },
                        e,
                    ),
                }
            } else if self.extend(path).is_some() {
                return Some(());
            }
            path.pop();
        }
        if tried == 0 {
            let error = self
                .misnamed_issuer(path)
                .unwrap_or_else(|| self.not_found(path, on_path));
            let rank = match error {
                ChainError::TrustAnchorNotFound { .. } => dead_end,
                _ => broken,
            };
            self.record(rank, error);
        }
        None
    }

    /// No certificate has the issuer name we look for. If one of them
    /// nevertheless signed the certificate, say so: a name that differs only
    /// in its encoding is otherwise a puzzling dead end.
    fn misnamed_issuer(&mut self, path: &[&'a Certificate]) -> Option<ChainError> {
        let depth = path.len() - 1;
        let current = path[depth];
        let candidates = self.candidates.clone();
        for (_, candidate) in candidates {
            if self.hint_checks_left == 0 {
                return None;
            }
            if path.iter().any(|p| p.der == candidate.der) {
                continue;
            }
            let Ok(algorithm) = verification_algorithm(current, candidate) else {
                continue;
            };
            self.hint_checks_left -= 1;
            if verify_signature(algorithm, current, candidate) {
                return Some(ChainError::CertificateChainInvalid {
                    link: depth,
                    subject: current.label(),
                    issuer: candidate.label(),
                    detail: format!(
                        "name mismatch: certificate \"{}\" is signed by the key of \"{}\" but names its issuer \"{}\" (names must match exactly, in their DER encoding too)",
                        current.label(),
                        candidate.label(),
                        current.issuer_label()
                    ),
                });
            }
        }
        None
    }

    fn not_found(&self, path: &[&'a Certificate], on_path: bool) -> ChainError {
        let current = path[path.len() - 1];
        let roots = if self.roots.is_empty() {
            "no trusted roots were given".to_string()
        } else {
            let mut names: Vec<String> = self
                .roots
                .iter()
                .take(5)
                .map(|r| format!("\"{}\"", r.label()))
                .collect();
            if self.roots.len() > 5 {
                names.push(format!("and {} more", self.roots.len() - 5));
            }
            format!("trusted roots: {}", names.join(", "))
        };
        let detail = if current.is_self_issued() {
            format!("that is, it is self-issued, and it is not a trusted root ({roots})")
        } else if on_path {
            format!(
                "which is already on the path (the certificates form a loop) and not a trusted root ({roots})"
            )
        } else {
            format!(
                "and no trusted root or intermediate has that subject ({roots}; {} intermediate(s) given): the trust anchor for that issuer, or an intermediate leading to one, is missing",
                self.intermediates
            )
        };
        ChainError::TrustAnchorNotFound {
            subject: current.label(),
            issuer: current.issuer_label(),
            detail,
        }
    }
}

/// Why no webpki algorithm can check `child`'s signature by `issuer`'s key.
enum NoAlgorithm {
    /// No algorithm has the child's signature algorithm.
    Signature,
    /// Some do, for other key types; `issuer_key_supported` tells whether the
    /// issuer's key type is supported with another signature algorithm.
    Key { issuer_key_supported: bool },
}

/// The webpki algorithm that verifies `child`'s signature with `issuer`'s
/// key: matched on both AlgorithmIdentifiers, byte for byte, as webpki does.
fn verification_algorithm(
    child: &Certificate,
    issuer: &Certificate,
) -> Result<&'static dyn SignatureVerificationAlgorithm, NoAlgorithm> {
    let issuer_key = issuer.spki.as_ref().map(|(alg, _)| alg.as_slice());
    let mut by_signature = webpki::ALL_VERIFICATION_ALGS
        .iter()
        .filter(|a| a.signature_alg_id().as_ref() == child.signature_algorithm_id.as_slice())
        .peekable();
    if by_signature.peek().is_none() {
        return Err(NoAlgorithm::Signature);
    }
    if let Some(algorithm) =
        by_signature.find(|a| Some(a.public_key_alg_id().as_ref()) == issuer_key)
    {
        return Ok(*algorithm);
    }
    Err(NoAlgorithm::Key {
        issuer_key_supported: webpki::ALL_VERIFICATION_ALGS
            .iter()
            .any(|a| Some(a.public_key_alg_id().as_ref()) == issuer_key),
    })
}

fn verify_signature(
    algorithm: &dyn SignatureVerificationAlgorithm,
    child: &Certificate,
    issuer: &Certificate,
) -> bool {
    issuer.spki.as_ref().is_some_and(|(_, key)| {
        algorithm
            .verify_signature(key, &child.tbs, &child.signature)
            .is_ok()
    })
}

/// The error of a broken link: the last certificate of `path` under `issuer`.
fn broken_link<'a>(
    path: &[&'a Certificate],
    issuer: &'a Certificate,
) -> impl Fn(String) -> ChainError + 'a {
    let link = path.len() - 1;
    let child = path[link];
    move |detail| ChainError::CertificateChainInvalid {
        link,
        subject: child.label(),
        issuer: issuer.label(),
        detail,
    }
}

/// Checks that `issuer` can be the issuer of the last certificate of `path`:
/// the signature, then [`check_issuer`].
fn check_link(
    path: &[&Certificate],
    issuer: &Certificate,
    is_root: bool,
    purpose: KeyPurpose,
) -> Result<(), ChainError> {
    let child = path[path.len() - 1];
    let invalid = broken_link(path, issuer);
    let algorithm = match verification_algorithm(child, issuer) {
        Ok(algorithm) => algorithm,
        Err(NoAlgorithm::Signature) => {
            return Err(ChainError::AlgorithmNotSupported {
                subject: child.label(),
                algorithm: describe_signature_algorithm_str(&child.signature_algorithm),
            });
        }
        Err(NoAlgorithm::Key {
            issuer_key_supported: true,
        }) => {
            return Err(invalid(format!(
                "certificate \"{}\" is not signed by \"{}\": its signature algorithm is {} but that certificate has an {} key",
                child.label(),
                issuer.label(),
                describe_signature_algorithm_str(&child.signature_algorithm),
                issuer.key_description
            )));
        }
        Err(NoAlgorithm::Key {
            issuer_key_supported: false,
        }) => {
            return Err(ChainError::AlgorithmNotSupported {
                subject: issuer.label(),
                algorithm: format!("{} public key", issuer.key_description),
            });
        }
    };
    if !verify_signature(algorithm, child, issuer) {
        return Err(invalid(format!(
            "certificate \"{}\" is not signed by \"{}\": signature does not verify ({} issuer key{})",
            child.label(),
            issuer.label(),
            issuer.key_description,
            issuer
                .key_id()
                .map(|id| format!(" {id}"))
                .unwrap_or_default()
        )));
    }
    check_issuer(path, issuer, is_root, purpose)
}

/// Checks that `issuer` may issue the last certificate of `path`, signature
/// aside: a CA, allowed to sign certificates, within its pathLenConstraint,
/// with no critical extension that is not processed; below the root also a
/// version 3 certificate whose extendedKeyUsage (if any) allows `purpose`.
fn check_issuer(
    path: &[&Certificate],
    issuer: &Certificate,
    is_root: bool,
    purpose: KeyPurpose,
) -> Result<(), ChainError> {
    let child = path[path.len() - 1];
    let invalid = broken_link(path, issuer);
    if let Some(ext) = issuer.unprocessed_critical.first() {
        return Err(invalid(format!(
            "certificate \"{}\" has a critical extension this verifier does not process: {ext}",
            issuer.label()
        )));
    }
    if !is_root && issuer.version != 3 {
        return Err(invalid(format!(
            "intermediate \"{}\" is a version {} certificate; only version 3 is accepted below the root",
            issuer.label(),
            issuer.version
        )));
    }
    if !issuer.is_ca {
        let why = if issuer.has_basic_constraints {
            "its basicConstraints extension has cA=false"
        } else {
            "it has no basicConstraints extension"
        };
        return Err(invalid(format!(
            "certificate \"{}\" signed \"{}\" but is not a CA: {why}",
            issuer.label(),
            child.label()
        )));
    }
    if issuer.key_cert_sign == Some(false) {
        return Err(invalid(format!(
            "certificate \"{}\" signed \"{}\" but may not sign certificates: its keyUsage lacks keyCertSign",
            issuer.label(),
            child.label()
        )));
    }
    if let Some(max) = issuer.path_len {
        // Intermediate CAs below the issuer; self-issued ones do not count (RFC 5280 6.1.4).
        let below = path[1..].iter().filter(|c| !c.is_self_issued()).count();
        if below > max as usize {
            return Err(invalid(format!(
                "path length exceeded: \"{}\" allows at most {max} intermediate CA certificate(s) below it (pathLenConstraint {max}) but the path has {below}",
                issuer.label()
            )));
        }
    }
    if !is_root && let Some(why) = eku_refusal(issuer, purpose) {
        return Err(invalid(format!("intermediate {why}")));
    }
    Ok(())
}

/// The three parts of a certificate, read as strict DER. x509-parser is
/// lenient about the encoding of the parts that the signature does not cover;
/// this pins them down.
struct Envelope<'a> {
    /// The AlgorithmIdentifier after the TBSCertificate, as encoded.
    outer_algorithm: &'a [u8],
    /// The signature AlgorithmIdentifier inside the TBSCertificate.
    inner_algorithm: &'a [u8],
    /// The signature BIT STRING's content (no unused bits allowed).
    signature: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn split(der: &'a [u8], parsed_tbs: &[u8]) -> Option<Self> {
        const SEQUENCE: u8 = 0x30;
        let (SEQUENCE, _, body, []) = der_tlv(der)? else {
            return None;
        };
        let (SEQUENCE, tbs, tbs_body, rest) = der_tlv(body)? else {
            return None;
        };
        let (SEQUENCE, outer_algorithm, _, rest) = der_tlv(rest)? else {
            return None;
        };
        let (0x03, _, bits, []) = der_tlv(rest)? else {
            return None;
        };
        let (0, signature) = bits.split_first()? else {
            return None;
        };
        if tbs != parsed_tbs {
            return None;
        }
        // TBSCertificate: [0] version (optional), serialNumber, signature, ...
        let (tag, _, _, mut rest) = der_tlv(tbs_body)?;
        if tag == 0xa0 {
            (_, _, _, rest) = der_tlv(rest)?;
        }
        let (SEQUENCE, inner_algorithm, _, _) = der_tlv(rest)? else {
            return None;
        };
        Some(Envelope {
            outer_algorithm,
            inner_algorithm,
            signature,
        })
    }
}

/// One DER element: (tag, whole element, contents, what follows it).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Reads one DER element with a one-byte tag. Refuses indefinite and
/// non-minimal lengths.
fn der_tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = after_tag.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n || rest[0] == 0 {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        rest = &rest[n..];
        if len < 0x80 {
            return None;
        }
        len
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    let (contents, rest) = rest.split_at(len);
    Some((tag, &input[..header + len], contents, rest))
}

fn oid_short_name(oid: &Oid) -> Option<String> {
    x509_parser::objects::oid_registry()
        .get(oid)
        .map(|entry| entry.sn().to_string())
}

/// "ecdsa-with-SHA384 (1.2.840.10045.4.3.3)".
fn describe_signature_algorithm(oid: &Oid) -> String {
    match oid_short_name(oid) {
        Some(name) => format!("{name} ({})", oid.to_id_string()),
        None => format!("unknown signature algorithm ({})", oid.to_id_string()),
    }
}

fn describe_signature_algorithm_str(dotted: &str) -> String {
    match dotted.parse::<Oid>() {
        Ok(oid) => describe_signature_algorithm(&oid),
        Err(_) => format!("unknown signature algorithm ({dotted})"),
    }
}

/// "nameConstraints (2.5.29.30)", or the dotted OID alone.
fn describe_extension(oid: &Oid) -> String {
    match oid_short_name(oid) {
        Some(name) => format!("{name} ({})", oid.to_id_string()),
        None => oid.to_id_string(),
    }
}

/// Formats a name RFC 4514 style: most specific RDN first, `,` between RDNs,
/// `+` inside one, special characters escaped, values that are not strings
/// as `#` and hex. Control characters are escaped too, so that a hostile
/// name cannot forge log lines.
fn format_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let value = atv.attr_value();
                    let text = match value.tag() {
                        Tag::Utf8String
                        | Tag::PrintableString
                        | Tag::Ia5String
                        | Tag::NumericString
                        | Tag::VisibleString
                        | Tag::TeletexString => {
                            std::str::from_utf8(value.data).ok().map(Into::into)
                        }
                        Tag::BmpString => decode_utf16be(value.data),
                        Tag::UniversalString => decode_utf32be(value.data),
                        _ => None,
                    };
                    let value = match text {
                        Some(s) => escape_value(&s),
                        None => format!("#{}", hex::encode(value.data)),
                    };
                    format!("{}={value}", attribute_name(atv.attr_type()))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn decode_utf16be(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(2) {
        return None;
    }
    let units = data
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn decode_utf32be(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(4) {
        return None;
    }
    data.chunks_exact(4)
        .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

fn attribute_name(oid: &Oid) -> String {
    let dotted = oid.to_id_string();
    let short = match dotted.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return oid_short_name(oid).unwrap_or(dotted),
    };
    short.to_string()
}

fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_name_values() {
        assert_eq!(escape_value("plain"), "plain");
        assert_eq!(escape_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value(" #x "), "\\ #x\\ ");
        assert_eq!(escape_value("#x"), "\\#x");
        assert_eq!(escape_value("line\nbreak"), "line\\0Abreak");
        assert_eq!(escape_value("é"), "é");
    }

    #[test]
    fn decodes_wide_strings() {
        assert_eq!(decode_utf16be(&[0, b'h', 0, b'i']).as_deref(), Some("hi"));
        assert_eq!(decode_utf16be(&[0]), None);
        assert_eq!(decode_utf32be(&[0, 0, 0, b'h']).as_deref(), Some("h"));
        assert_eq!(decode_utf32be(&[0, 0x11, 0, 0]), None);
    }

    #[test]
    fn der_tlv_is_strict() {
        assert_eq!(
            der_tlv(&[0x30, 0x01, 0xaa, 0xbb]),
            Some((0x30, &[0x30, 0x01, 0xaa][..], &[0xaa][..], &[0xbb][..]))
        );
        let long: Vec<u8> = [0x04, 0x81, 0x80].into_iter().chain([7; 0x80]).collect();
        assert_eq!(der_tlv(&long).map(|t| t.2.len()), Some(0x80));
        assert_eq!(
            der_tlv(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]),
            None,
            "non-minimal"
        );
        assert_eq!(der_tlv(&[0x04, 0x82, 0x00, 0x80]), None, "leading zero");
        assert_eq!(der_tlv(&[0x30, 0x80, 0x00, 0x00]), None, "indefinite");
        assert_eq!(der_tlv(&[0x04, 0x02, 0x00]), None, "short");
        assert_eq!(der_tlv(&[0x1f, 0x01, 0x00]), None, "multi-byte tag");
        assert_eq!(der_tlv(&[]), None);
        assert_eq!(der_tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]), None, "too long");
    }

    #[test]
    fn names_signature_algorithms() {
        assert_eq!(
            describe_signature_algorithm_str("1.2.840.113549.1.1.11"),
            "sha256WithRSAEncryption (1.2.840.113549.1.1.11)"
        );
        assert_eq!(
            describe_signature_algorithm_str("1.2.840.10045.4.3.3"),
            "ecdsa-with-SHA384 (1.2.840.10045.4.3.3)"
        );
        assert_eq!(
            describe_signature_algorithm_str("1.2.3.4"),
            "unknown signature algorithm (1.2.3.4)"
        );
    }
}

/// webpki's signature algorithms with a memory of the signatures they verified over
/// certificate authorities' certificates.
///
/// Every path through a trusted root checks the same authority signatures again: the Fulcio
/// intermediate under its root for every leaf, a timestamp authority's certificate under its
/// root for every timestamp. Each is an ECDSA P-384 verification, about half of a keyless
/// bundle's cost. Verification is a pure function of the algorithm, the key, the message and
/// the signature, so a success over a certificate [`decide`] names as an authority's is
/// remembered under the SHA-256 of all four and not computed again; signatures over leaves
/// and failures are never remembered. The memory is bounded (cleared when full), and every
/// verdict is the one ring gives.
mod sig_cache {
    use std::cell::RefCell;
    use std::collections::HashSet;
    use std::sync::{LazyLock, Mutex};

    use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
    use sha2::{Digest as _, Sha256};

    const ALL: &[&dyn SignatureVerificationAlgorithm] = webpki::ALL_VERIFICATION_ALGS;
    const N: usize = ALL.len();
    /// Successes remembered before the memory is cleared: a few hundred distinct CA and TSA
    /// certificates at most in practice; leaves come and go.
    const CAPACITY: usize = 4096;

    static VERIFIED: LazyLock<Mutex<HashSet<[u8; 32]>>> =
        LazyLock::new(|| Mutex::new(HashSet::new()));

    thread_local! {
        /// SHA-256 of the TBSCertificates whose signatures may be remembered, for the
        /// path validation running on this thread.
        static AUTHORITIES: RefCell<Vec<[u8; 32]>> = const { RefCell::new(Vec::new()) };
    }

    /// While the guard lives, signatures over these certificates are remembered.
    pub struct Remember;

    impl Drop for Remember {
        fn drop(&mut self) {
            AUTHORITIES.with(|a| a.borrow_mut().clear());
        }
    }

    pub fn remember_signatures_over(certs: &[&super::Certificate]) -> Remember {
        AUTHORITIES.with(|a| {
            *a.borrow_mut() = certs
                .iter()
                .map(|c| Sha256::digest(&c.tbs).into())
                .collect();
        });
        Remember
    }

    fn is_authority(message: &[u8]) -> bool {
        AUTHORITIES.with(|a| {
            let a = a.borrow();
            !a.is_empty() && a.contains(&<[u8; 32]>::from(Sha256::digest(message)))
        })
    }

    #[derive(Clone, Copy)]
    pub struct Remembering(&'static dyn SignatureVerificationAlgorithm);

    impl std::fmt::Debug for Remembering {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    static WRAPPED: [Remembering; N] = {
        let mut out = [Remembering(ALL[0]); N];
        let mut i = 0;
        while i < N {
            out[i] = Remembering(ALL[i]);
            i += 1;
        }
        out
    };

    pub static ALGORITHMS: [&dyn SignatureVerificationAlgorithm; N] = {
        let mut out: [&dyn SignatureVerificationAlgorithm; N] = [&WRAPPED[0]; N];
        let mut i = 0;
        while i < N {
            out[i] = &WRAPPED[i];
            i += 1;
        }
        out
    };

    fn key(
        alg: &dyn SignatureVerificationAlgorithm,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> [u8; 32] {
        let mut h = Sha256::new();
        // Length-prefixed, so that no two inputs share an encoding.
        for part in [
            alg.public_key_alg_id().as_ref(),
            alg.signature_alg_id().as_ref(),
            public_key,
            message,
            signature,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    impl SignatureVerificationAlgorithm for Remembering {
        fn verify_signature(
            &self,
            public_key: &[u8],
            message: &[u8],
            signature: &[u8],
        ) -> Result<(), InvalidSignature> {
            if !is_authority(message) {
                return self.0.verify_signature(public_key, message, signature);
            }
            let k = key(self.0, public_key, message, signature);
            if VERIFIED.lock().is_ok_and(|set| set.contains(&k)) {
                return Ok(());
            }
            self.0.verify_signature(public_key, message, signature)?;
            if let Ok(mut set) = VERIFIED.lock() {
                if set.len() >= CAPACITY {
                    set.clear();
                }
                set.insert(k);
            }
            Ok(())
        }

        fn public_key_alg_id(&self) -> AlgorithmIdentifier {
            self.0.public_key_alg_id()
        }

        fn signature_alg_id(&self) -> AlgorithmIdentifier {
            self.0.signature_alg_id()
        }

        fn fips(&self) -> bool {
            self.0.fips()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Remembering changes no verdict: a signature verifies the second time (from memory)
        /// exactly when it did the first, and a bit flipped anywhere is refused every time.
        #[test]
        fn remembered_verdicts_are_ring_s() {
            use ring::rand::SystemRandom;
            use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            let msg = b"tbsCertificate";
            let sig = pair.sign(&rng, msg).unwrap();
            let public = pair.public_key().as_ref();
            let _remember = AUTHORITIES.with(|a| {
                *a.borrow_mut() = vec![
                    Sha256::digest(msg).into(),
                    Sha256::digest(b"tbsCertificatE").into(),
                ];
                Remember
            });
            let alg = ALGORITHMS
                .iter()
                .find(|a| {
                    a.signature_alg_id() == webpki::ring::ECDSA_P256_SHA256.signature_alg_id()
                        && a.public_key_alg_id()
                            == webpki::ring::ECDSA_P256_SHA256.public_key_alg_id()
                })
                .unwrap();
            for _ in 0..3 {
                alg.verify_signature(public, msg, sig.as_ref()).unwrap();
                let mut other = sig.as_ref().to_vec();
                let last = other.len() - 1;
                other[last] ^= 1;
                assert!(alg.verify_signature(public, msg, &other).is_err());
                assert!(
                    alg.verify_signature(public, b"tbsCertificatE", sig.as_ref())
                        .is_err()
                );
            }
            // Another algorithm never answers from this one's memory.
            let p384 = ALGORITHMS
                .iter()
                .find(|a| {
                    a.signature_alg_id() == webpki::ring::ECDSA_P384_SHA384.signature_alg_id()
                })
                .unwrap();
            assert!(p384.verify_signature(public, msg, sig.as_ref()).is_err());
        }
    }
}
