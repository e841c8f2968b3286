//! Trust anchors and the resolution of a signature to a trusted signer.
//!
//! A signature is trusted when it verifies under a public-key anchor, under a
//! certificate that is itself an anchor, or under a signing certificate that
//! chains to an anchor certificate; and when that key, certificate and chain
//! are valid at the verification time. The `keyid` of a DSSE signature is an
//! unauthenticated hint: it orders the attempts but never excludes a key.

use jiff::Timestamp;

use crate::digest::Sha256Digest;
use crate::dsse::Envelope;
use crate::keys::{Algorithm, KeyError, PublicKey};
use crate::pem::{PemError, parse_pem};
use crate::x509::{CertError, Certificate, ChainError, validate_chain};

/// What an anchor may vouch for. A log key that could also sign attestations
/// would let a compromised log forge them, so the two are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    AttestationSigning,
    TransparencyLog,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::AttestationSigning => "attestation-signing",
            Purpose::TransparencyLog => "transparency-log",
        }
    }
}

#[derive(Debug, Clone)]
pub enum AnchorMaterial {
    Key(PublicKey),
    /// A root (or pinned leaf) certificate, with intermediates that may be
    /// used to build paths to it.
    Certificate {
        cert: Box<Certificate>,
        intermediates: Vec<Certificate>,
    },
    /// A well-formed key of an algorithm we do not support. Kept so that a
    /// signature naming it fails with `AlgorithmNotSupported`, not `TrustAnchorNotFound`.
    Unsupported {
        key_id: Sha256Digest,
        algorithm: String,
    },
}

/// The declarative form of an anchor: the `spec` of a `TrustAnchor` resource,
/// and what the CLI reads from a TrustAnchor YAML file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorSpec {
    /// PEM SubjectPublicKeyInfo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// PEM certificate: a root, or a pinned signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// PEM intermediates that may be used to build paths to `certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediates: Option<String>,
    /// `AttestationSigning`, `TransparencyLog`; empty means `AttestationSigning`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purposes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub name: String,
    pub material: AnchorMaterial,
    pub purposes: Vec<Purpose>,
    pub not_before: Option<Timestamp>,
    pub expires: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("trust anchor {name}: {source}")]
    Pem { name: String, source: PemError },
    #[error("trust anchor {name}: PEM block at line {line}: {source}")]
    Key {
        name: String,
        line: usize,
        source: KeyError,
    },
    #[error("trust anchor {name}: certificate at line {line}: {source}")]
    Certificate {
        name: String,
        line: usize,
        source: CertError,
    },
    #[error(
        "trust anchor {name}: PEM block \"{label}\" at line {line} is neither \"PUBLIC KEY\" nor \"CERTIFICATE\""
    )]
    UnexpectedLabel {
        name: String,
        label: String,
        line: usize,
    },
    #[error("trust anchor {name}: {detail}")]
    Spec { name: String, detail: String },
}

impl AnchorError {
    /// The stable reason for a TrustAnchor that cannot be used.
    pub fn reason(&self) -> &'static str {
        match self {
            AnchorError::Key {
                source: KeyError::AlgorithmNotSupported { .. },
                ..
            } => "AlgorithmNotSupported",
            AnchorError::Certificate { .. } => "InvalidCertificate",
            _ => "InvalidKey",
        }
    }
}

impl Purpose {
    /// Parses the spelling used in `TrustAnchor.spec.purposes`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "AttestationSigning" => Some(Purpose::AttestationSigning),
            "TransparencyLog" => Some(Purpose::TransparencyLog),
            _ => None,
        }
    }
}

/// A `PUBLIC KEY` block as anchor material; well-formed keys of other
/// algorithms become `Unsupported` so that they are reported by name.
fn key_material(name: &str, block: &crate::pem::PemBlock) -> Result<AnchorMaterial, AnchorError> {
    match PublicKey::from_spki_der_product(&block.der) {
        Ok(key) => Ok(AnchorMaterial::Key(key)),
        Err(KeyError::AlgorithmNotSupported { algorithm, .. }) => Ok(AnchorMaterial::Unsupported {
            key_id: Sha256Digest::of(&block.der),
            algorithm,
        }),
        Err(source) => Err(AnchorError::Key {
            name: name.to_string(),
            line: block.line,
            source,
        }),
    }
}

impl TrustAnchor {
    /// The algorithm this anchor's key uses when it is one we refuse.
    pub fn unsupported_algorithm(&self) -> Option<&str> {
        match &self.material {
            AnchorMaterial::Unsupported { algorithm, .. } => Some(algorithm),
            _ => None,
        }
    }

    pub fn from_key(name: impl Into<String>, key: PublicKey) -> Self {
        Self::new(name, AnchorMaterial::Key(key))
    }

    pub fn from_certificate(
        name: impl Into<String>,
        cert: Certificate,
        intermediates: Vec<Certificate>,
    ) -> Self {
        Self::new(
            name,
            AnchorMaterial::Certificate {
                cert: Box::new(cert),
                intermediates,
            },
        )
    }

    fn new(name: impl Into<String>, material: AnchorMaterial) -> Self {
        Self {
            name: name.into(),
            material,
            purposes: vec![Purpose::AttestationSigning, Purpose::TransparencyLog],
            not_before: None,
            expires: None,
        }
    }

    pub fn with_purposes(mut self, purposes: Vec<Purpose>) -> Self {
        self.purposes = purposes;
        self
    }

    pub fn with_validity(
        mut self,
        not_before: Option<Timestamp>,
        expires: Option<Timestamp>,
    ) -> Self {
        self.not_before = not_before;
        self.expires = expires;
        self
    }

    /// Reads every `PUBLIC KEY` and `CERTIFICATE` block of a PEM file as one
    /// anchor each, named `name` (with `#n` for the n-th block when there are
    /// several). Keys of unsupported algorithms become `Unsupported` anchors.
    pub fn from_pem(name: &str, text: &str) -> Result<Vec<TrustAnchor>, AnchorError> {
        let blocks = parse_pem(text).map_err(|source| AnchorError::Pem {
            name: name.to_string(),
            source,
        })?;
        let many = blocks.len() > 1;
        let mut out = Vec::with_capacity(blocks.len());
        for (i, block) in blocks.iter().enumerate() {
            let anchor_name = if many {
                format!("{name}#{}", i + 1)
            } else {
                name.to_string()
            };
            let material = match block.label.as_str() {
                "PUBLIC KEY" => key_material(name, block)?,
                "CERTIFICATE" => {
                    let cert = Certificate::from_der(&block.der).map_err(|source| {
                        AnchorError::Certificate {
                            name: name.to_string(),
                            line: block.line,
                            source,
                        }
                    })?;
                    AnchorMaterial::Certificate {
                        cert: Box::new(cert),
                        intermediates: Vec::new(),
                    }
                }
                other => {
                    return Err(AnchorError::UnexpectedLabel {
                        name: name.to_string(),
                        label: other.to_string(),
                        line: block.line,
                    });
                }
            };
            out.push(TrustAnchor::new(anchor_name, material));
        }
        Ok(out)
    }

    /// Builds an anchor from its declarative form. Exactly one of
    /// `publicKey` and `certificate` must be given.
    pub fn from_spec(name: &str, spec: &AnchorSpec) -> Result<TrustAnchor, AnchorError> {
        let spec_err = |detail: String| AnchorError::Spec {
            name: name.to_string(),
            detail,
        };
        let material = match (&spec.public_key, &spec.certificate) {
            (Some(_), Some(_)) => {
                return Err(spec_err(
                    "give either publicKey or certificate, not both".into(),
                ));
            }
            (None, None) => return Err(spec_err("give one of publicKey or certificate".into())),
            (Some(pem), None) => {
                let blocks = parse_pem(pem).map_err(|source| AnchorError::Pem {
                    name: name.to_string(),
                    source,
                })?;
                let [block] = blocks.as_slice() else {
                    return Err(spec_err(format!(
                        "publicKey must hold exactly one PEM block, found {}",
                        blocks.len()
                    )));
                };
                if block.label != "PUBLIC KEY" {
                    return Err(AnchorError::UnexpectedLabel {
                        name: name.to_string(),
                        label: block.label.clone(),
                        line: block.line,
                    });
                }
                key_material(name, block)?
            }
            (None, Some(pem)) => {
                let cert_err = |source: CertError| AnchorError::Certificate {
                    name: name.to_string(),
                    line: 1,
                    source,
                };
                let mut certs = crate::x509::parse_pem_certificates(pem).map_err(cert_err)?;
                if certs.len() != 1 {
                    return Err(spec_err(format!(
                        "certificate must hold exactly one PEM certificate, found {} (put intermediates in intermediates)",
                        certs.len()
                    )));
                }
                let intermediates = match &spec.intermediates {
                    Some(pem) => crate::x509::parse_pem_certificates(pem).map_err(cert_err)?,
                    None => Vec::new(),
                };
                AnchorMaterial::Certificate {
                    cert: Box::new(certs.remove(0)),
                    intermediates,
                }
            }
        };
        let purposes = if spec.purposes.is_empty() {
            vec![Purpose::AttestationSigning]
        } else {
            spec.purposes
                .iter()
                .map(|p| {
                    Purpose::parse(p).ok_or_else(|| {
                        spec_err(format!(
                            "unknown purpose {p:?} (use AttestationSigning or TransparencyLog)"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        if let (Some(nb), Some(ex)) = (spec.not_before, spec.expires)
            && nb >= ex
        {
            return Err(spec_err(format!(
                "notBefore {nb} is not before expires {ex}"
            )));
        }
        Ok(TrustAnchor::new(name, material)
            .with_purposes(purposes)
            .with_validity(spec.not_before, spec.expires))
    }

    /// The id of the anchor's own key (for a certificate anchor, its subject key).
    pub fn key_id(&self) -> Option<Sha256Digest> {
        match &self.material {
            AnchorMaterial::Key(k) => Some(k.key_id()),
            AnchorMaterial::Certificate { cert, .. } => cert.key_id(),
            AnchorMaterial::Unsupported { key_id, .. } => Some(*key_id),
        }
    }

    pub fn allows(&self, purpose: Purpose) -> bool {
        self.purposes.contains(&purpose)
    }

    /// The anchor's own validity window, from its declaration (not from a certificate).
    fn check_window(&self, key_id: Sha256Digest, at: Timestamp) -> Result<(), SignerFailure> {
        if let Some(expires) = self.expires
            && at > expires
        {
            return Err(SignerFailure::KeyExpired {
                anchor: self.name.clone(),
                key_id,
                expired_at: expires,
            });
        }
        if let Some(not_before) = self.not_before
            && at < not_before
        {
            return Err(SignerFailure::KeyNotYetValid {
                anchor: self.name.clone(),
                key_id,
                not_before,
            });
        }
        Ok(())
    }
}

/// The key that vouched for a signature, and how long that vouching holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    pub key_id: Sha256Digest,
    pub algorithm: Algorithm,
    /// Name of the anchor that made the key trusted.
    pub anchor: String,
    /// Subjects from the signing certificate to the root, when a certificate was involved.
    pub certificate_path: Vec<String>,
    /// Earliest of the anchor's `expires` and the certificates' not-after.
    pub valid_until: Option<Timestamp>,
    /// Latest of the anchor's `notBefore` and the certificates' not-before.
    pub valid_from: Option<Timestamp>,
}

/// Why no signature of a document could be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerFailure {
    #[error("no trust anchor holds key {}: add it with a TrustAnchor", display_ids(.key_ids))]
    TrustAnchorNotFound { key_ids: Vec<String> },
    #[error(
        "signature by key {key_id} (trust anchor {anchor}) does not verify: the document was altered after signing, or signed with another key"
    )]
    SignatureInvalid {
        key_id: Sha256Digest,
        anchor: String,
    },
    #[error(
        "key {key_id} of trust anchor {anchor} expired at {expired_at}: re-sign with its successor key"
    )]
    KeyExpired {
        anchor: String,
        key_id: Sha256Digest,
        expired_at: Timestamp,
    },
    #[error("key {key_id} of trust anchor {anchor} is not valid before {not_before}")]
    KeyNotYetValid {
        anchor: String,
        key_id: Sha256Digest,
        not_before: Timestamp,
    },
    #[error("{0}")]
    Chain(ChainError),
    #[error(
        "key {key_id} uses {algorithm}, which is not supported (supported: ECDSA P-256 with SHA-256, Ed25519)"
    )]
    AlgorithmNotSupported { key_id: String, algorithm: String },
}

fn display_ids(ids: &[String]) -> String {
    match ids {
        [] => "(no key id given)".to_string(),
        [one] => one.clone(),
        many => many.join(", "),
    }
}

impl SignerFailure {
    /// The stable reason string used in reports, conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            SignerFailure::TrustAnchorNotFound { .. } => "TrustAnchorNotFound",
            SignerFailure::SignatureInvalid { .. } => "SignatureInvalid",
            SignerFailure::KeyExpired { .. } => "KeyExpired",
            SignerFailure::KeyNotYetValid { .. } => "KeyNotYetValid",
            SignerFailure::Chain(e) => e.reason(),
            SignerFailure::AlgorithmNotSupported { .. } => "AlgorithmNotSupported",
        }
    }

    /// When several signatures fail, the most specific failure is reported:
    /// an expired key tells the user more than "not found".
    fn rank(&self) -> u8 {
        match self {
            SignerFailure::TrustAnchorNotFound { .. } => 0,
            SignerFailure::SignatureInvalid { .. } => 2,
            SignerFailure::AlgorithmNotSupported { .. } => 1,
            SignerFailure::Chain(ChainError::TrustAnchorNotFound { .. }) => 1,
            SignerFailure::Chain(_)
            | SignerFailure::KeyExpired { .. }
            | SignerFailure::KeyNotYetValid { .. } => 3,
        }
    }
}

/// A set of anchors, queried by purpose.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor>,
}

/// One way a signature could be trusted.
enum Candidate<'a> {
    Anchor(&'a TrustAnchor),
    /// A certificate shipped with the document, to be chained to anchor roots.
    Shipped(&'a Certificate),
}

impl TrustStore {
    pub fn new(anchors: Vec<TrustAnchor>) -> Self {
        Self { anchors }
    }

    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    pub fn push(&mut self, anchor: TrustAnchor) {
        self.anchors.push(anchor);
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The candidates for a signature, and whether they were chosen by its
    /// key-id hint. Hinted candidates that fail mean a bad signature; the
    /// fallback tries every key, where a failure only means "not this key".
    fn candidates<'a>(
        &'a self,
        hint: &str,
        shipped: &'a [Certificate],
        purpose: Purpose,
    ) -> (Vec<Candidate<'a>>, bool) {
        let matches = |id: Option<Sha256Digest>| {
            !hint.is_empty() && id.is_some_and(|id| id.to_string() == hint)
        };
        let usable = || self.anchors.iter().filter(move |a| a.allows(purpose));
        let mut first: Vec<Candidate<'a>> = usable()
            .filter(|a| matches(a.key_id()))
            .map(Candidate::Anchor)
            .collect();
        first.extend(
            shipped
                .iter()
                .filter(|c| matches(c.key_id()))
                .map(Candidate::Shipped),
        );
        if !first.is_empty() {
            return (first, true);
        }
        let mut all: Vec<Candidate<'a>> = usable().map(Candidate::Anchor).collect();
        all.extend(shipped.first().map(Candidate::Shipped));
        (all, false)
    }

    /// Verifies one raw signature (e.g. a log checkpoint) made for `purpose`.
    pub fn verify_signature(
        &self,
        key_hint: &str,
        message: &[u8],
        sig: &[u8],
        shipped: &[Certificate],
        purpose: Purpose,
        at: Timestamp,
    ) -> Result<VerifiedSigner, SignerFailure> {
        let mut best: Option<SignerFailure> = None;
        let (candidates, hinted) = self.candidates(key_hint, shipped, purpose);
        for candidate in candidates {
            match self.try_candidate(&candidate, message, sig, shipped, purpose, at) {
                Ok(signer) => return Ok(signer),
                Err(Some(SignerFailure::SignatureInvalid { .. })) if !hinted => {}
                Err(Some(f)) => {
                    if best.as_ref().is_none_or(|b| f.rank() > b.rank()) {
                        best = Some(f);
                    }
                }
                Err(None) => {}
            }
        }
        Err(best.unwrap_or_else(|| SignerFailure::TrustAnchorNotFound {
            key_ids: if key_hint.is_empty() {
                vec![]
            } else {
                vec![key_hint.to_string()]
            },
        }))
    }

    /// Verifies a DSSE envelope: at least one signature must be trusted for `purpose`.
    pub fn verify_envelope(
        &self,
        envelope: &Envelope,
        shipped: &[Certificate],
        purpose: Purpose,
        at: Timestamp,
    ) -> Result<VerifiedSigner, SignerFailure> {
        let message = envelope.pae();
        let mut best: Option<SignerFailure> = None;
        let mut hints = Vec::new();
        for s in &envelope.signatures {
            match self.verify_signature(&s.keyid, &message, &s.sig, shipped, purpose, at) {
                Ok(signer) => return Ok(signer),
                Err(f) => {
                    if !s.keyid.is_empty() {
                        hints.push(s.keyid.clone());
                    }
                    if best.as_ref().is_none_or(|b| f.rank() > b.rank()) {
                        best = Some(f);
                    }
                }
            }
        }
        Err(match best {
            Some(SignerFailure::TrustAnchorNotFound { .. }) | None => {
                SignerFailure::TrustAnchorNotFound { key_ids: hints }
            }
            Some(f) => f,
        })
    }

    /// `Ok` when the candidate vouches for the signature; `Err(None)` when the
    /// candidate simply is not the signer (wrong key), `Err(Some)` for a
    /// failure worth reporting.
    fn try_candidate(
        &self,
        candidate: &Candidate<'_>,
        message: &[u8],
        sig: &[u8],
        shipped: &[Certificate],
        purpose: Purpose,
        at: Timestamp,
    ) -> Result<VerifiedSigner, Option<SignerFailure>> {
        match candidate {
            Candidate::Anchor(anchor) => match &anchor.material {
                AnchorMaterial::Unsupported { key_id, algorithm } => {
                    Err(Some(SignerFailure::AlgorithmNotSupported {
                        key_id: key_id.to_string(),
                        algorithm: algorithm.clone(),
                    }))
                }
                AnchorMaterial::Key(key) => {
                    key.verify(message, sig).map_err(|_| {
                        Some(SignerFailure::SignatureInvalid {
                            key_id: key.key_id(),
                            anchor: anchor.name.clone(),
                        })
                    })?;
                    anchor.check_window(key.key_id(), at).map_err(Some)?;
                    Ok(VerifiedSigner {
                        key_id: key.key_id(),
                        algorithm: Self::product_algorithm(key)?,
                        anchor: anchor.name.clone(),
                        certificate_path: Vec::new(),
                        valid_until: anchor.expires,
                        valid_from: anchor.not_before,
                    })
                }
                AnchorMaterial::Certificate { cert, .. } => {
                    let key = Self::cert_key(cert)?;
                    key.verify(message, sig).map_err(|_| {
                        Some(SignerFailure::SignatureInvalid {
                            key_id: key.key_id(),
                            anchor: anchor.name.clone(),
                        })
                    })?;
                    anchor.check_window(key.key_id(), at).map_err(Some)?;
                    let chain = validate_chain(cert, &[], std::slice::from_ref(cert), at)
                        .map_err(|e| Some(SignerFailure::Chain(e)))?;
                    Ok(VerifiedSigner {
                        key_id: key.key_id(),
                        algorithm: Self::product_algorithm(key)?,
                        anchor: anchor.name.clone(),
                        certificate_path: vec![cert.subject().to_string()],
                        valid_until: min_opt(anchor.expires, Some(chain.not_after)),
                        valid_from: max_opt(anchor.not_before, Some(cert.not_before())),
                    })
                }
            },
            Candidate::Shipped(leaf) => {
                let key = Self::cert_key(leaf)?;
                key.verify(message, sig).map_err(|_| {
                    Some(SignerFailure::SignatureInvalid {
                        key_id: key.key_id(),
                        anchor: format!("certificate \"{}\"", leaf.subject()),
                    })
                })?;
                let algorithm = Self::product_algorithm(key)?;
                self.chain_to_anchor(leaf, shipped, purpose, at)
                    .map(|(anchor, chain)| VerifiedSigner {
                        key_id: key.key_id(),
                        algorithm,
                        anchor: anchor.name.clone(),
                        certificate_path: chain
                            .path
                            .iter()
                            .map(|c| c.subject().to_string())
                            .collect(),
                        valid_until: min_opt(anchor.expires, Some(chain.not_after)),
                        valid_from: max_opt(
                            anchor.not_before,
                            chain.path.iter().map(|c| c.not_before()).max(),
                        ),
                    })
                    .map_err(Some)
            }
        }
    }

    /// The product's algorithm of a key that verified. Anchor and certificate
    /// keys are parsed for the product only, so this is the typed guard of
    /// that boundary rather than a check expected to fail.
    fn product_algorithm(key: &PublicKey) -> Result<Algorithm, Option<SignerFailure>> {
        key.product_algorithm().map_err(|e| match e {
            KeyError::AlgorithmNotSupported { algorithm, .. } => {
                Some(SignerFailure::AlgorithmNotSupported {
                    key_id: key.key_id().to_string(),
                    algorithm,
                })
            }
            _ => None,
        })
    }

    fn cert_key(cert: &Certificate) -> Result<&PublicKey, Option<SignerFailure>> {
        cert.public_key().map_err(|e| match e {
            KeyError::AlgorithmNotSupported { algorithm, .. } => {
                Some(SignerFailure::AlgorithmNotSupported {
                    key_id: format!("of certificate \"{}\"", cert.subject()),
                    algorithm: algorithm.clone(),
                })
            }
            _ => None,
        })
    }

    /// Chains a shipped signing certificate to the anchor roots of `purpose`.
    fn chain_to_anchor(
        &self,
        leaf: &Certificate,
        shipped: &[Certificate],
        purpose: Purpose,
        at: Timestamp,
    ) -> Result<(&TrustAnchor, crate::x509::ValidatedChain), SignerFailure> {
        let mut roots = Vec::new();
        let mut intermediates: Vec<Certificate> = shipped
            .iter()
            .filter(|c| c.der() != leaf.der())
            .cloned()
            .collect();
        let mut owners = Vec::new();
        for anchor in self.anchors.iter().filter(|a| a.allows(purpose)) {
            if let AnchorMaterial::Certificate {
                cert,
                intermediates: pinned,
            } = &anchor.material
            {
                roots.push((**cert).clone());
                owners.push(anchor);
                intermediates.extend(pinned.iter().cloned());
            }
        }
        let chain =
            validate_chain(leaf, &intermediates, &roots, at).map_err(SignerFailure::Chain)?;
        let root_der = chain
            .path
            .last()
            .map(|c| c.der().to_vec())
            .unwrap_or_default();
        let anchor = roots
            .iter()
            .position(|r| r.der() == root_der.as_slice())
            .and_then(|i| owners.get(i).copied())
            .ok_or_else(|| SignerFailure::TrustAnchorNotFound {
                key_ids: leaf.key_id().map(|k| k.to_string()).into_iter().collect(),
            })?;
        anchor.check_window(
            anchor
                .key_id()
                .unwrap_or_else(|| Sha256Digest::of(&root_der)),
            at,
        )?;
        Ok((anchor, chain))
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
