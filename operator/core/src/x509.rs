//! X.509 certificates and certificate chain validation.
//!
//! A signer's bundle carries its signing certificate (the leaf) and any
//! intermediates; trust anchors may be root certificates. [`validate_chain`]
//! builds a path from the leaf through the intermediates to one of the given
//! roots and checks every link of it at a verification time that the caller
//! passes in (this crate never reads the clock).
//!
//! The checks, deliberately few and strict:
//! - certificate signatures: `ecdsa-with-SHA256` by a P-256 issuer key, or
//!   Ed25519 by an Ed25519 issuer key; anything else is
//!   [`ChainError::AlgorithmNotSupported`], naming it;
//! - every certificate on the path, root included, valid at the verification
//!   time (`not_before <= at <= not_after`);
//! - issuers are CAs (basicConstraints `cA`), their keyUsage (if any) has
//!   `keyCertSign`, their pathLenConstraint holds;
//! - the leaf's keyUsage (if any) has `digitalSignature` and its
//!   extendedKeyUsage (if any) allows code signing;
//! - no critical extension we do not process, on any certificate;
//! - at most [`MAX_CHAIN_LENGTH`] certificates on a path.
//!
//! Names are matched on their DER encoding, byte for byte. A root is trusted
//! because it was passed in `roots`; its own signature is not checked.

use std::collections::HashSet;
use std::fmt;

use jiff::Timestamp;
use x509_parser::asn1_rs::{Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::digest::Sha256Digest;
use crate::keys::{Algorithm, KeyError, PublicKey};
use crate::pem::{PemError, parse_pem, to_pem};

/// The longest path accepted, in certificates, leaf and root included.
pub const MAX_CHAIN_LENGTH: usize = 8;

/// Upper bound on issuer candidates examined (each costs a signature check)
/// in one [`validate_chain`] call, so that a hostile bundle of many
/// certificates with the same name cannot make path building explode.
const MAX_CANDIDATE_CHECKS: usize = 128;

/// Signature checks spent, at dead ends, looking for an issuer whose name
/// does not match (to explain the dead end); a budget of their own so that
/// explaining never starves the search itself.
const MAX_HINT_CHECKS: usize = 32;

const OID_ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ED25519: &str = "1.3.101.112";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const OID_SUBJECT_ALT_NAME: &str = "2.5.29.17";

/// Extensions whose content we parse and act on, and so may be critical.
/// subjectAltName is here because a certificate with an empty subject (as
/// keyless signing CAs issue) must mark it critical (RFC 5280 4.2.1.6); it
/// constrains nothing in path validation and callers match identities on it.
const PROCESSED_EXTENSIONS: [&str; 4] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXTENDED_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
];

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
        "certificate \"{subject}\" uses an unsupported algorithm: {algorithm} (supported: ecdsa-with-SHA256 by a P-256 key, Ed25519)"
    )]
    AlgorithmNotSupported { subject: String, algorithm: String },
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
        }
    }
}

/// What an extendedKeyUsage extension allows, reduced to what we check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExtKeyUsage {
    /// codeSigning or anyExtendedKeyUsage is listed.
    allows_code_signing: bool,
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
    not_before: Timestamp,
    not_after: Timestamp,
    /// Kept as a result: a CA with an unsupported key type is only a problem
    /// if it has to verify something.
    public_key: Result<PublicKey, KeyError>,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    has_basic_constraints: bool,
    is_ca: bool,
    path_len: Option<u32>,
    /// None when there is no keyUsage extension.
    key_cert_sign: Option<bool>,
    digital_signature: Option<bool>,
    extended_key_usage: Option<ExtKeyUsage>,
    /// Critical extensions we do not process, described for messages.
    unprocessed_critical: Vec<String>,
    /// Dotted OID of the certificate's signature algorithm.
    signature_algorithm: String,
    signature_algorithm_has_parameters: bool,
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
            if PROCESSED_EXTENSIONS.contains(&oid.as_str()) {
                if let Some(e) = ext.parsed_extension().error() {
                    return Err(invalid(
                        "extension",
                        format!("{} is malformed: {e}", describe_extension(&ext.oid)),
                    ));
                }
            } else if ext.critical {
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
                allows_code_signing: eku.any || eku.code_signing,
                purposes,
            }
        });

        Ok(Certificate {
            der: der.to_vec(),
            issuer: format_name(x.issuer()),
            serial: hex::encode(x.raw_serial()),
            not_before,
            not_after,
            public_key: PublicKey::from_spki_product(x.public_key()),
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
            signature_algorithm_has_parameters: x.signature_algorithm.parameters.is_some(),
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

/// Validates `leaf` at time `at` against the trust anchors `roots`, using
/// `intermediates` (in any order, possibly with extra certificates) to build
/// the path. When no path is valid, the error describes the attempt that got
/// furthest: a complete path with a certificate out of its validity period
/// first, then the deepest broken link or dead end.
pub fn validate_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: Timestamp,
) -> Result<ValidatedChain, ChainError> {
    check_leaf(leaf)?;
    if roots.iter().any(|r| r.der == leaf.der) {
        return check_validity(&[leaf], at);
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
        checks_left: MAX_CANDIDATE_CHECKS,
        hint_checks_left: MAX_HINT_CHECKS,
        best: None,
        gave_up: None,
    };
    let mut path = vec![leaf];
    if let Some(chain) = search.extend(&mut path) {
        return Ok(chain);
    }
    // An unfinished search must not blame whatever it happened to try.
    if let Some(e) = search.gave_up {
        return Err(e);
    }
    Err(search
        .best
        .map(|(_, e)| e)
        .unwrap_or_else(|| ChainError::TrustAnchorNotFound {
            subject: leaf.label(),
            issuer: leaf.issuer_label(),
            detail: "and no path was found".into(),
        }))
}

/// The leaf signs attestations: it need not be a CA, but what it says about
/// its own use must allow that.
fn check_leaf(leaf: &Certificate) -> Result<(), ChainError> {
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
            "signing certificate \"{}\" has a keyUsage extension without digitalSignature, so it may not sign attestations",
            leaf.label()
        )));
    }
    if let Some(eku) = leaf
        .extended_key_usage
        .as_ref()
        .filter(|eku| !eku.allows_code_signing)
    {
        return Err(invalid(format!(
            "signing certificate \"{}\" has an extendedKeyUsage extension without codeSigning or anyExtendedKeyUsage (it lists: {}), so it may not sign attestations",
            leaf.label(),
            if eku.purposes.is_empty() {
                "nothing".to_string()
            } else {
                eku.purposes.join(", ")
            }
        )));
    }
    Ok(())
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

struct Search<'a> {
    /// Distinct certificates that may issue: (is a trusted root, certificate).
    candidates: Vec<(bool, &'a Certificate)>,
    roots: &'a [Certificate],
    /// How many intermediates were given, for messages.
    intermediates: usize,
    at: Timestamp,
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

    /// Depth-first search for an issuer of the last certificate of `path`.
    fn extend(&mut self, path: &mut Vec<&'a Certificate>) -> Option<ValidatedChain> {
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
            if let Err(e) = check_link(path, candidate) {
                self.record(broken, e);
                continue;
            }
            path.push(candidate);
            if is_root {
                match check_validity(path, self.at) {
                    Ok(chain) => return Some(chain),
                    Err(e) => self.record(
                        Rank {
                            complete: true,
                            depth: path.len(),
                            broken_link: false,
                        },
                        e,
                    ),
                }
            } else if let Some(chain) = self.extend(path) {
                return Some(chain);
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
        let expected = expected_key_algorithm(current)?;
        let candidates = self.candidates.clone();
        for (_, candidate) in candidates {
            if self.hint_checks_left == 0 {
                return None;
            }
            if path.iter().any(|p| p.der == candidate.der) {
                continue;
            }
            let Ok(key) = &candidate.public_key else {
                continue;
            };
            if key.key_type() != expected.key_type() {
                continue;
            }
            self.hint_checks_left -= 1;
            if key.verify(&current.tbs, &current.signature).is_ok() {
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

/// The issuer key type a certificate's signature algorithm requires, if it is
/// one we accept (parameters must be absent, RFC 5758 and RFC 8410).
fn expected_key_algorithm(cert: &Certificate) -> Option<Algorithm> {
    if cert.signature_algorithm_has_parameters {
        return None;
    }
    match cert.signature_algorithm.as_str() {
        OID_ECDSA_WITH_SHA256 => Some(Algorithm::EcdsaP256Sha256),
        OID_ED25519 => Some(Algorithm::Ed25519),
        _ => None,
    }
}

/// Checks that `issuer` can be the issuer of the last certificate of `path`.
fn check_link(path: &[&Certificate], issuer: &Certificate) -> Result<(), ChainError> {
    let link = path.len() - 1;
    let child = path[link];
    let invalid = |detail: String| ChainError::CertificateChainInvalid {
        link,
        subject: child.label(),
        issuer: issuer.label(),
        detail,
    };

    // The signature: can we check it, and does it verify?
    let expected = match child.signature_algorithm.as_str() {
        OID_ECDSA_WITH_SHA256 => Algorithm::EcdsaP256Sha256,
        OID_ED25519 => Algorithm::Ed25519,
        _ => {
            return Err(ChainError::AlgorithmNotSupported {
                subject: child.label(),
                algorithm: describe_signature_algorithm_str(&child.signature_algorithm),
            });
        }
    };
    if child.signature_algorithm_has_parameters {
        return Err(invalid(format!(
            "certificate \"{}\" has a malformed signature algorithm: {} must not carry parameters",
            child.label(),
            describe_signature_algorithm_str(&child.signature_algorithm)
        )));
    }
    let key = match &issuer.public_key {
        Ok(key) => key,
        Err(KeyError::AlgorithmNotSupported { algorithm, .. }) => {
            return Err(ChainError::AlgorithmNotSupported {
                subject: issuer.label(),
                algorithm: format!("{algorithm} public key"),
            });
        }
        Err(e) => {
            return Err(invalid(format!(
                "issuer \"{}\" of certificate \"{}\" has an unusable public key: {e}",
                issuer.label(),
                child.label()
            )));
        }
    };
    if key.key_type() != expected.key_type() {
        return Err(invalid(format!(
            "certificate \"{}\" is not signed by \"{}\": its signature algorithm is {} but that certificate has an {} key",
            child.label(),
            issuer.label(),
            describe_signature_algorithm_str(&child.signature_algorithm),
            key.key_type()
        )));
    }
    // X.509 carries ECDSA signatures DER-encoded; `verify` also takes r||s.
    if expected == Algorithm::EcdsaP256Sha256 && child.signature.first() != Some(&0x30) {
        return Err(invalid(format!(
            "certificate \"{}\" has a malformed signature: an ECDSA signature must be a DER SEQUENCE",
            child.label()
        )));
    }
    if key.verify(&child.tbs, &child.signature).is_err() {
        return Err(invalid(format!(
            "certificate \"{}\" is not signed by \"{}\": signature does not verify (issuer key {})",
            child.label(),
            issuer.label(),
            key.key_id()
        )));
    }

    // The issuer may issue certificates, and this one in particular.
    if let Some(ext) = issuer.unprocessed_critical.first() {
        return Err(invalid(format!(
            "certificate \"{}\" has a critical extension this verifier does not process: {ext}",
            issuer.label()
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
