//! What the decision knows about the cluster: ProofVerifications by artifact digest, issuers
//! by name and namespaces' enforcement. Fed by watch events (apply, delete, and a reset after
//! a relist), in the manner of Linkerd's policy-controller index; read by [`crate::decide`]
//! without a clone or an allocation per lookup.
//!
//! The index is a plain value: whoever owns it puts it behind the lock of their choice and
//! applies events under the write side.

use std::collections::{BTreeMap, HashMap};

use crate::digest::Digest;
use crate::scope::Scope;
use crate::text::clip;

/// The namespace label that opts a namespace in.
pub const ENFORCEMENT_LABEL: &str = "attestor.stellaops.io/enforcement";

/// The `Verified` condition of a ProofVerification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verified {
    True,
    False,
    /// `Unknown` or no condition yet: still being verified.
    Unknown,
}

impl Verified {
    /// From a condition's `status` (`None` when the condition is absent).
    pub fn from_condition_status(status: Option<&str>) -> Self {
        match status {
            Some("True") => Self::True,
            Some("False") => Self::False,
            _ => Self::Unknown,
        }
    }
}

/// What admission needs of one ProofVerification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationFacts {
    pub namespace: String,
    pub name: String,
    /// `spec.artifactDigest`.
    pub artifact_digest: Digest,
    /// `spec.image`, for information: the scope check uses the image of the Pod.
    pub image: Option<String>,
    /// `spec.issuerRef.name`.
    pub issuer: String,
    /// The `Verified` condition's status, reason and message.
    pub verified: Verified,
    pub reason: String,
    pub message: String,
    /// `status.validUntil` in unix seconds; `None` when nothing bounds the proof.
    pub valid_until: Option<i64>,
    /// `status.observedGeneration == metadata.generation`: otherwise the status speaks of a
    /// spec that has since changed, and the proof counts as still being verified.
    pub status_is_current: bool,
}

/// What admission needs of one TrustedIssuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerFacts {
    pub name: String,
    /// The `Trusted` condition is `True`.
    pub trusted: bool,
    /// The `Trusted` condition's reason (e.g. `ApprovalMissing`), quoted when not trusted.
    pub reason: String,
    /// `spec.scope.images`.
    pub scope_images: Vec<String>,
    /// `spec.discovery.enabled`: the operator finds this issuer's proofs in the registry for
    /// digests that have none.
    pub discovers: bool,
}

/// How a namespace is gated, from its [`ENFORCEMENT_LABEL`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Enforcement {
    /// `enforce`: images without a usable proof are denied.
    Enforce,
    /// `warn`: they are allowed with a warning each.
    Warn,
    /// No label: not gated.
    NotGated,
    /// Any other value, kept (bounded) for the warning. Not gated: a typo must not lock a
    /// namespace, and whoever can set the label can also remove it. The warning makes the typo
    /// visible to every `kubectl apply` in the namespace.
    Invalid(String),
}

impl Enforcement {
    pub fn from_label(value: Option<&str>) -> Self {
        match value {
            None => Self::NotGated,
            Some("enforce") => Self::Enforce,
            Some("warn") => Self::Warn,
            // Label values are at most 63 characters; anything longer did not come from one.
            Some(other) => Self::Invalid(clip(other, 63).into_owned()),
        }
    }
}

/// What admission needs of one Namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceFacts {
    pub name: String,
    pub enforcement: Enforcement,
}

impl NamespaceFacts {
    /// From the namespace's name and the value of its [`ENFORCEMENT_LABEL`], if any.
    pub fn new(name: impl Into<String>, enforcement_label: Option<&str>) -> Self {
        Self {
            name: name.into(),
            enforcement: Enforcement::from_label(enforcement_label),
        }
    }
}

/// An issuer as the decision reads it, with its scope parsed once at apply time rather than on
/// every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    trusted: bool,
    reason: String,
    scope: Scope,
    discovers: bool,
}

impl Issuer {
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn discovers(&self) -> bool {
        self.discovers
    }
}

/// Proofs of one digest: namespace → name → facts. Ordered, so that iteration (and therefore
/// which failure a message reports) is deterministic.
type ProofsOfDigest = BTreeMap<String, BTreeMap<String, VerificationFacts>>;

#[derive(Debug, Default, Clone)]
pub struct Index {
    proofs: HashMap<Digest, ProofsOfDigest>,
    /// namespace → name → digest: where a re-applied or deleted ProofVerification was filed.
    digest_of: HashMap<String, HashMap<String, Digest>>,
    issuers: HashMap<String, Issuer>,
    namespaces: HashMap<String, Enforcement>,
    revision: u64,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows on every change, so that a caller waiting for a pending proof knows when deciding
    /// again can give another answer.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn apply_verification(&mut self, facts: VerificationFacts) {
        self.revision += 1;
        self.insert_verification(facts);
    }

    /// Whether there was such a ProofVerification.
    pub fn delete_verification(&mut self, namespace: &str, name: &str) -> bool {
        self.revision += 1;
        self.remove_verification(namespace, name)
    }

    /// Replaces every ProofVerification, after a relist.
    pub fn reset_verifications(&mut self, all: impl IntoIterator<Item = VerificationFacts>) {
        self.revision += 1;
        self.proofs.clear();
        self.digest_of.clear();
        for facts in all {
            self.insert_verification(facts);
        }
    }

    pub fn apply_issuer(&mut self, facts: IssuerFacts) {
        self.revision += 1;
        self.insert_issuer(facts);
    }

    pub fn delete_issuer(&mut self, name: &str) -> bool {
        self.revision += 1;
        self.issuers.remove(name).is_some()
    }

    pub fn reset_issuers(&mut self, all: impl IntoIterator<Item = IssuerFacts>) {
        self.revision += 1;
        self.issuers.clear();
        for facts in all {
            self.insert_issuer(facts);
        }
    }

    pub fn apply_namespace(&mut self, facts: NamespaceFacts) {
        self.revision += 1;
        self.namespaces.insert(facts.name, facts.enforcement);
    }

    pub fn delete_namespace(&mut self, name: &str) -> bool {
        self.revision += 1;
        self.namespaces.remove(name).is_some()
    }

    pub fn reset_namespaces(&mut self, all: impl IntoIterator<Item = NamespaceFacts>) {
        self.revision += 1;
        self.namespaces = all
            .into_iter()
            .map(|facts| (facts.name, facts.enforcement))
            .collect();
    }

    /// The ProofVerifications of `digest` in `namespace`, by name.
    pub fn proofs<'a>(
        &'a self,
        digest: &Digest,
        namespace: &str,
    ) -> impl Iterator<Item = &'a VerificationFacts> + use<'a> {
        self.proofs
            .get(digest)
            .and_then(|by_namespace| by_namespace.get(namespace))
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    pub fn verification(&self, namespace: &str, name: &str) -> Option<&VerificationFacts> {
        let digest = self.digest_of.get(namespace)?.get(name)?;
        self.proofs.get(digest)?.get(namespace)?.get(name)
    }

    pub fn issuer(&self, name: &str) -> Option<&Issuer> {
        self.issuers.get(name)
    }

    /// `None` for a namespace the index has not seen (yet).
    /// The trusted issuer with discovery on whose scope covers `image`, the first by name (so
    /// that every replica names the same one).
    pub fn discovering_issuer(&self, image: &crate::scope::ImageName) -> Option<&str> {
        self.issuers
            .iter()
            .filter(|(_, i)| i.trusted && i.discovers && i.scope.covers_name(image))
            .map(|(name, _)| name.as_str())
            .min()
    }

    pub fn enforcement(&self, namespace: &str) -> Option<&Enforcement> {
        self.namespaces.get(namespace)
    }

    pub fn verification_count(&self) -> usize {
        self.digest_of.values().map(HashMap::len).sum()
    }

    pub fn digest_count(&self) -> usize {
        self.proofs.len()
    }

    fn insert_verification(&mut self, facts: VerificationFacts) {
        let digest = facts.artifact_digest;
        let previous = self
            .digest_of
            .entry(facts.namespace.clone())
            .or_default()
            .insert(facts.name.clone(), digest);
        // `spec.artifactDigest` is immutable, but a delete and re-create under one name can
        // still move a name to another digest between two events.
        if let Some(previous) = previous
            && previous != digest
        {
            self.unfile(previous, &facts.namespace, &facts.name);
        }
        self.proofs
            .entry(digest)
            .or_default()
            .entry(facts.namespace.clone())
            .or_default()
            .insert(facts.name.clone(), facts);
    }

    fn remove_verification(&mut self, namespace: &str, name: &str) -> bool {
        let Some(names) = self.digest_of.get_mut(namespace) else {
            return false;
        };
        let Some(digest) = names.remove(name) else {
            return false;
        };
        if names.is_empty() {
            self.digest_of.remove(namespace);
        }
        self.unfile(digest, namespace, name);
        true
    }

    /// Removes one entry from the by-digest map, and the maps it leaves empty: a digest whose
    /// proofs are all gone must read as missing, not as an empty list.
    fn unfile(&mut self, digest: Digest, namespace: &str, name: &str) {
        let Some(by_namespace) = self.proofs.get_mut(&digest) else {
            return;
        };
        if let Some(by_name) = by_namespace.get_mut(namespace) {
            by_name.remove(name);
            if by_name.is_empty() {
                by_namespace.remove(namespace);
            }
        }
        if by_namespace.is_empty() {
            self.proofs.remove(&digest);
        }
    }

    fn insert_issuer(&mut self, facts: IssuerFacts) {
        let issuer = Issuer {
            trusted: facts.trusted,
            reason: facts.reason,
            scope: Scope::new(&facts.scope_images),
            discovers: facts.discovers,
        };
        self.issuers.insert(facts.name, issuer);
    }
}
