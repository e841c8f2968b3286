//! One image against the index: is it pinned, and does a counted namespace hold a usable proof
//! for its digest? If not, the most informative reason why not.

use std::fmt;

use super::Reason;
use crate::config::Config;
use crate::digest::{Digest, DigestError};
use crate::index::{Index, Issuer, VerificationFacts, Verified};
use crate::reference::{ImageReference, NotPinned};
use crate::review::ContainerImage;
use crate::scope::ImageName;
use crate::text::{bounded_line, clip};

/// Long enough for a useful proof message or scope, short enough for a warning line.
const MAX_QUOTED_BYTES: usize = 160;

/// A ProofVerification by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProofRef {
    pub namespace: String,
    pub name: String,
}

impl ProofRef {
    fn of(facts: &VerificationFacts) -> Self {
        Self {
            namespace: facts.namespace.clone(),
            name: facts.name.clone(),
        }
    }

    /// The command that shows the proof's conditions and events.
    pub fn describe_command(&self) -> String {
        format!(
            "kubectl describe proofverification -n {} {}",
            self.namespace, self.name
        )
    }
}

impl fmt::Display for ProofRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What was found for one image. Strings quoted from the cluster are bounded and on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    /// A usable proof: verified, by a trusted issuer whose scope covers the image, not expired.
    Verified {
        proof: ProofRef,
    },
    NotPinned {
        /// The name as written, without tag or digest, for the advice.
        repository: String,
        /// Why the `@` part is not a digest; `None` when there is none.
        bad_digest: Option<DigestError>,
    },
    ProofMissing {
        digest: Digest,
        /// Where proofs were looked for.
        namespaces: Vec<String>,
        /// A trusted issuer with discovery on covers the image: the operator creates this
        /// ProofVerification (in the workload's namespace) and verifies what the registry holds.
        discovery: Option<Discovery>,
    },
    ProofFailed {
        proof: ProofRef,
        reason: String,
        message: String,
    },
    IssuerNotFound {
        proof: ProofRef,
        issuer: String,
    },
    IssuerNotTrusted {
        proof: ProofRef,
        issuer: String,
        reason: String,
    },
    OutOfScope {
        proof: ProofRef,
        issuer: String,
        /// The issuer's patterns, as written.
        scope: String,
        /// The image's normalized name, which is what the patterns are matched against.
        image: String,
    },
    ProofExpired {
        proof: ProofRef,
        /// Unix seconds.
        expired_at: i64,
    },
    /// Still being verified, or its status predates its latest spec: may turn usable shortly.
    Pending {
        proof: ProofRef,
        digest: Digest,
        stale_status: bool,
    },
}

impl ImageOutcome {
    pub fn reason(&self) -> Reason {
        match self {
            Self::Verified { .. } => Reason::Allowed,
            Self::NotPinned { .. } => Reason::NotPinned,
            Self::ProofMissing { .. } => Reason::ProofMissing,
            Self::ProofFailed { .. } => Reason::ProofFailed,
            Self::IssuerNotFound { .. } => Reason::IssuerNotFound,
            Self::IssuerNotTrusted { .. } => Reason::IssuerNotTrusted,
            Self::OutOfScope { .. } => Reason::OutOfScope,
            Self::ProofExpired { .. } => Reason::ProofExpired,
            Self::Pending { .. } => Reason::Pending,
        }
    }

    pub fn is_verified(&self) -> bool {
        matches!(self, Self::Verified { .. })
    }

    /// The proof the outcome is about, if one was found.
    pub fn proof(&self) -> Option<&ProofRef> {
        match self {
            Self::Verified { proof }
            | Self::ProofFailed { proof, .. }
            | Self::IssuerNotFound { proof, .. }
            | Self::IssuerNotTrusted { proof, .. }
            | Self::OutOfScope { proof, .. }
            | Self::ProofExpired { proof, .. }
            | Self::Pending { proof, .. } => Some(proof),
            // The proof discovery is creating: describing it shows how it fares.
            Self::ProofMissing {
                discovery: Some(discovery),
                ..
            } => Some(&discovery.proof),
            Self::NotPinned { .. } | Self::ProofMissing { .. } => None,
        }
    }
}

/// The ProofVerification discovery makes for a digest, and the issuer it is verified against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub proof: ProofRef,
    pub issuer: String,
}

/// The name of the ProofVerification discovery creates for `digest`: the same on every replica
/// and for every workload, so that creating it is idempotent and a denial can name it.
pub fn discovered_proof_name(digest: &Digest) -> String {
    let text = digest.to_string();
    let hex = text.strip_prefix("sha256:").unwrap_or(&text);
    format!("discovered-{}", &hex[..32.min(hex.len())])
}

/// One container's image and what was found for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageVerdict {
    pub container: ContainerImage,
    pub outcome: ImageOutcome,
}

/// One proof against the rules, borrowing from the index until it is known which one to
/// report: only that one's strings are copied.
enum Check<'i> {
    Usable,
    Failed,
    IssuerNotFound,
    IssuerNotTrusted(&'i Issuer),
    OutOfScope(&'i Issuer),
    Expired(i64),
    Pending,
}

impl Check<'_> {
    /// When no proof is usable, the one that got furthest is reported: it is the closest to
    /// what needs fixing. A pending one beats all, since it may still turn usable.
    fn informativeness(&self) -> u8 {
        match self {
            Self::Usable => 7,
            Self::Pending => 6,
            Self::Expired(_) => 5,
            Self::OutOfScope(_) => 4,
            Self::IssuerNotTrusted(_) => 3,
            Self::IssuerNotFound => 2,
            Self::Failed => 1,
        }
    }
}

pub(super) fn judge(
    container: &ContainerImage,
    namespace: &str,
    index: &Index,
    config: &Config,
    now: i64,
) -> ImageOutcome {
    let reference = ImageReference::split(&container.image);
    let digest = match reference.pinned_digest() {
        Ok(digest) => digest,
        Err(not_pinned) => {
            return ImageOutcome::NotPinned {
                repository: bounded_line(reference.repository(), MAX_QUOTED_BYTES),
                bad_digest: match not_pinned {
                    NotPinned::NoDigest => None,
                    NotPinned::BadDigest(error) => Some(error),
                },
            };
        }
    };
    let name = ImageName::parse(&container.image);
    let mut best: Option<(Check<'_>, &VerificationFacts)> = None;
    for proof_namespace in config.proof_namespaces(namespace) {
        for proof in index.proofs(&digest, proof_namespace) {
            let check = check(proof, name.as_ref(), index, now);
            if let Check::Usable = check {
                return ImageOutcome::Verified {
                    proof: ProofRef::of(proof),
                };
            }
            // Strictly more: among equals the first (own namespace, then by name) is kept.
            if best
                .as_ref()
                .is_none_or(|(kept, _)| check.informativeness() > kept.informativeness())
            {
                best = Some((check, proof));
            }
        }
    }
    match best {
        Some((check, proof)) => report(check, proof, digest, name.as_ref()),
        None => ImageOutcome::ProofMissing {
            digest,
            namespaces: config
                .proof_namespaces(namespace)
                .map(str::to_string)
                .collect(),
            discovery: name
                .as_ref()
                .and_then(|name| index.discovering_issuer(name))
                .map(|issuer| Discovery {
                    proof: ProofRef {
                        namespace: namespace.to_string(),
                        name: discovered_proof_name(&digest),
                    },
                    issuer: bounded_line(issuer, MAX_QUOTED_BYTES),
                }),
        },
    }
}

/// The rules, in the order the docs list them.
fn check<'i>(
    proof: &VerificationFacts,
    image: Option<&ImageName>,
    index: &'i Index,
    now: i64,
) -> Check<'i> {
    if !proof.status_is_current {
        return Check::Pending;
    }
    match proof.verified {
        Verified::Unknown => return Check::Pending,
        Verified::False => return Check::Failed,
        Verified::True => {}
    }
    let Some(issuer) = index.issuer(&proof.issuer) else {
        return Check::IssuerNotFound;
    };
    // The issuer is checked again although the proof's verification checked it: trust can be
    // withdrawn, or a scope narrowed, after the proof was verified.
    if !issuer.trusted() {
        return Check::IssuerNotTrusted(issuer);
    }
    if !image.is_some_and(|name| issuer.scope().covers_name(name)) {
        return Check::OutOfScope(issuer);
    }
    if let Some(valid_until) = proof.valid_until
        && valid_until <= now
    {
        return Check::Expired(valid_until);
    }
    Check::Usable
}

fn report(
    check: Check<'_>,
    facts: &VerificationFacts,
    digest: Digest,
    image: Option<&ImageName>,
) -> ImageOutcome {
    let proof = ProofRef::of(facts);
    let issuer = || bounded_line(&facts.issuer, MAX_QUOTED_BYTES);
    match check {
        // `judge` returns on a usable proof before reporting; kept total rather than panicking.
        Check::Usable => ImageOutcome::Verified { proof },
        Check::Pending => ImageOutcome::Pending {
            proof,
            digest,
            stale_status: !facts.status_is_current,
        },
        Check::Failed => ImageOutcome::ProofFailed {
            proof,
            reason: bounded_line(&facts.reason, MAX_QUOTED_BYTES),
            message: bounded_line(&facts.message, MAX_QUOTED_BYTES),
        },
        Check::IssuerNotFound => ImageOutcome::IssuerNotFound {
            proof,
            issuer: issuer(),
        },
        Check::IssuerNotTrusted(found) => ImageOutcome::IssuerNotTrusted {
            proof,
            issuer: issuer(),
            reason: bounded_line(found.reason(), MAX_QUOTED_BYTES),
        },
        Check::OutOfScope(found) => ImageOutcome::OutOfScope {
            proof,
            issuer: issuer(),
            scope: bounded_line(&found.scope().describe(), MAX_QUOTED_BYTES),
            image: image.map_or_else(String::new, |name| {
                clip(name.as_str(), MAX_QUOTED_BYTES).into_owned()
            }),
        },
        Check::Expired(expired_at) => ImageOutcome::ProofExpired { proof, expired_at },
    }
}
