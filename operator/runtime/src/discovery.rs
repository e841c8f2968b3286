//! Discovery: which ProofVerifications to create for image digests that have none, and which
//! discovered ones to remove once nothing uses their digest. Pure: the controller
//! (`controllers/discovery.rs`) gathers the facts from its watches and the webhook's hand-offs,
//! and applies the plan; every rule is tested here without an API server.
//!
//! The facts:
//! - what is in use: the pinned images of Pods in namespaces that opt in to admission, and the
//!   digests the webhook handed over (denied or warned workloads, which have no Pod yet);
//! - the trusted issuers with `spec.discovery.enabled`, and their scopes;
//! - the ProofVerifications that exist.
//!
//! A digest gets a ProofVerification when it has none in its namespace and a discovering issuer
//! covers its image (the first by name, as admission picks it, so the name the denial gave is
//! the name created). A discovered ProofVerification is removed once no Pod has used its digest
//! and no hand-off asked for it for `gc_after`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use attestor_admission::scope::{ImageName, Scope};
use attestor_admission::{Digest, ImageReference, discovered_proof_name};
use jiff::Timestamp;

/// The label every discovered ProofVerification carries (value `true`).
pub const DISCOVERED_LABEL: &str = "attestor.stellaops.io/discovered";
/// The Event reason of a webhook hand-off.
pub const HAND_OFF_REASON: &str = "DiscoveryRequested";

/// An image digest in use in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub namespace: String,
    /// The image as the workload names it, pinned: `registry.example/shop/cart@sha256:…`.
    pub image: String,
    pub digest: Digest,
    /// The workload's `imagePullSecrets`, for the registry.
    pub pull_secrets: Vec<String>,
    /// The workload's ServiceAccount, whose `imagePullSecrets` are added when the proof is
    /// created (as the kubelet uses them).
    pub service_account: Option<String>,
    /// When it was last seen in use (a Pod now, or the time of the hand-off).
    pub seen: Timestamp,
}

impl Use {
    /// A use of `image` if it is pinned by digest.
    pub fn of(
        namespace: &str,
        image: &str,
        pull_secrets: &[String],
        seen: Timestamp,
    ) -> Option<Self> {
        let digest = ImageReference::split(image).pinned_digest().ok()?;
        Some(Self {
            namespace: namespace.to_string(),
            image: image.to_string(),
            digest,
            pull_secrets: pull_secrets.to_vec(),
            service_account: None,
            seen,
        })
    }
}

/// An issuer that may be used for discovery.
#[derive(Debug, Clone)]
pub struct DiscoveringIssuer {
    pub name: String,
    pub scope: Scope,
    pub spec: attestor_api::trusted_issuer::Discovery,
}

/// A ProofVerification that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub namespace: String,
    pub name: String,
    pub digest: Option<Digest>,
    pub discovered: bool,
}

/// One ProofVerification to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProof {
    pub namespace: String,
    pub name: String,
    pub digest: Digest,
    /// The repository, without tag or digest: `spec.image`.
    pub repository: String,
    pub issuer: String,
    pub pull_secrets: Vec<String>,
    /// ServiceAccounts (of this namespace) whose `imagePullSecrets` are added.
    pub service_accounts: Vec<String>,
    pub discovery: attestor_api::trusted_issuer::Discovery,
}

/// What to do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub create: Vec<NewProof>,
    /// Discovered ProofVerifications no longer used: (namespace, name).
    pub delete: Vec<(String, String)>,
    /// Uses no discovering issuer covers: nothing is created (admission says to write one).
    pub uncovered: usize,
}

/// A digest in use: its latest use, and the union of its pull secrets and ServiceAccounts.
type Wanted = (Use, BTreeSet<String>, BTreeSet<String>);

/// The plan. `uses` may repeat a digest (several Pods, several hand-offs): the latest `seen`
/// and the union of pull secrets count. `issuers` must be the trusted ones with discovery on.
pub fn plan(
    uses: &[Use],
    issuers: &[DiscoveringIssuer],
    existing: &[Existing],
    now: Timestamp,
    gc_after: Duration,
) -> Plan {
    let mut out = Plan::default();
    // (namespace, digest) -> (latest use, pull secrets, service accounts).
    let mut wanted: BTreeMap<(String, Digest), Wanted> = BTreeMap::new();
    for u in uses {
        let entry = wanted
            .entry((u.namespace.clone(), u.digest))
            .or_insert_with(|| (u.clone(), BTreeSet::new(), BTreeSet::new()));
        entry.1.extend(u.pull_secrets.iter().cloned());
        entry.2.extend(u.service_account.iter().cloned());
        if u.seen > entry.0.seen {
            entry.0 = u.clone();
        }
    }
    let mut have: HashMap<(&str, Digest), Vec<&Existing>> = HashMap::new();
    for e in existing {
        if let Some(d) = e.digest {
            have.entry((e.namespace.as_str(), d)).or_default().push(e);
        }
    }
    let mut sorted: Vec<&DiscoveringIssuer> = issuers.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let cutoff =
        now - jiff::SignedDuration::try_from(gc_after).unwrap_or(jiff::SignedDuration::MAX);
    for ((namespace, digest), (latest, secrets, accounts)) in &wanted {
        if latest.seen < cutoff || have.contains_key(&(namespace.as_str(), *digest)) {
            continue;
        }
        let Some(name) = ImageName::parse(&latest.image) else {
            continue;
        };
        let Some(issuer) = sorted.iter().find(|i| i.scope.covers_name(&name)) else {
            out.uncovered += 1;
            continue;
        };
        out.create.push(NewProof {
            namespace: namespace.clone(),
            name: discovered_proof_name(digest),
            digest: *digest,
            repository: ImageReference::split(&latest.image)
                .repository()
                .to_string(),
            issuer: issuer.name.clone(),
            pull_secrets: secrets.iter().cloned().collect(),
            service_accounts: accounts.iter().cloned().collect(),
            discovery: issuer.spec.clone(),
        });
    }
    for e in existing.iter().filter(|e| e.discovered) {
        let used = e.digest.and_then(|d| wanted.get(&(e.namespace.clone(), d)));
        if used.is_none_or(|(u, _, _)| u.seen < cutoff) {
            out.delete.push((e.namespace.clone(), e.name.clone()));
        }
    }
    out
}

/// The note of a hand-off Event: readable in `kubectl get events`, and read back by the leader
/// ([`parse_hand_off`]). `image` is pinned.
pub fn hand_off_note(
    image: &str,
    issuer: &str,
    pull_secrets: &[String],
    service_account: Option<&str>,
) -> String {
    let mut note = format!("discover {image} for TrustedIssuer {issuer}");
    if !pull_secrets.is_empty() {
        note.push_str(" with pull secrets ");
        note.push_str(&pull_secrets.join(","));
    }
    if let Some(sa) = service_account {
        note.push_str(" as service account ");
        note.push_str(sa);
    }
    note
}

/// A hand-off read back from its Event: the namespace is the Event's.
pub fn parse_hand_off(namespace: &str, note: &str, seen: Timestamp) -> Option<Use> {
    let rest = note.strip_prefix("discover ")?;
    let (image, rest) = rest.split_once(" for TrustedIssuer ")?;
    let (rest, service_account) = match rest.split_once(" as service account ") {
        Some((rest, sa)) if !sa.is_empty() && !sa.contains(' ') => (rest, Some(sa.to_string())),
        Some(_) => return None,
        None => (rest, None),
    };
    let secrets: Vec<String> = match rest.split_once(" with pull secrets ") {
        Some((_, list)) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    let mut wanted = Use::of(namespace, image, &secrets, seen)?;
    wanted.service_account = service_account;
    Some(wanted)
}

#[cfg(test)]
mod tests;
