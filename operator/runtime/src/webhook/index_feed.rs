//! Keeps the admission [`Index`] current from three watches: ProofVerifications, TrustedIssuers
//! and Namespaces (metadata only: the enforcement label is all admission reads). The request
//! path only reads the index under a lock; it never calls the API server.
//!
//! Every change publishes the index's revision on a `watch` channel, so that a review waiting
//! for a pending proof wakes up as soon as deciding again can give another answer.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use attestor_admission::{
    ENFORCEMENT_LABEL, Index, IssuerFacts, NamespaceFacts, VerificationFacts, Verified,
};
use attestor_api::conditions::{TRUSTED, VERIFIED};
use attestor_api::{ProofVerification, TrustedIssuer};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::conditions::find;

/// The index behind a lock, and its revision on a channel.
#[derive(Debug)]
pub struct SharedIndex {
    index: RwLock<Index>,
    revision: watch::Sender<u64>,
    /// One bit per watch that listed everything at least once.
    synced: AtomicU8,
}

const ALL_SYNCED: u8 = 0b111;

impl Default for SharedIndex {
    fn default() -> Self {
        Self::new(Index::new())
    }
}

impl SharedIndex {
    pub fn new(index: Index) -> Self {
        let (revision, _) = watch::channel(index.revision());
        Self {
            index: RwLock::new(index),
            revision,
            synced: AtomicU8::new(0),
        }
    }

    /// A poisoned lock means a writer panicked inside one `Index` method; the index is still a
    /// usable value and admission must keep answering.
    pub fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn update(&self, f: impl FnOnce(&mut Index)) {
        let revision = {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            f(&mut index);
            index.revision()
        };
        self.revision.send_replace(revision);
    }

    /// Changes whenever the index does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    /// Every watch has listed its kind once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire) == ALL_SYNCED
    }

    /// Marks everything as listed (for an index filled by hand, e.g. a benchmark).
    pub fn mark_synced(&self) {
        self.synced.store(ALL_SYNCED, Ordering::Release);
        self.revision.send_modify(|_| {});
    }

    fn mark(&self, bit: u8) {
        self.synced.fetch_or(bit, Ordering::AcqRel);
        self.revision.send_modify(|_| {});
    }
}

/// What admission needs of a ProofVerification; `None` when its `spec.artifactDigest` is not a
/// digest admission could ever match (the CRD's pattern makes that unlikely).
pub fn verification_facts(pv: &ProofVerification) -> Option<VerificationFacts> {
    let artifact_digest = attestor_admission::Digest::parse(&pv.spec.artifact_digest).ok()?;
    let status = pv.status.as_ref();
    let condition = status.and_then(|s| find(&s.conditions, VERIFIED));
    let status_is_current = match (
        status.and_then(|s| s.observed_generation),
        pv.metadata.generation,
    ) {
        (Some(observed), Some(generation)) => observed == generation,
        // Without a generation (never on a real API server) nothing says the status is stale.
        (Some(_), None) => true,
        (None, _) => false,
    };
    Some(VerificationFacts {
        namespace: pv.namespace().unwrap_or_default(),
        name: pv.name_any(),
        artifact_digest,
        image: pv.spec.image.clone(),
        issuer: pv.spec.issuer_ref.name.clone(),
        verified: Verified::from_condition_status(condition.map(|c| c.status.as_str())),
        reason: condition.map(|c| c.reason.clone()).unwrap_or_default(),
        message: condition.map(|c| c.message.clone()).unwrap_or_default(),
        valid_until: status
            .and_then(|s| s.valid_until.as_ref())
            .map(|t| t.0.as_second()),
        status_is_current,
    })
}

/// What admission needs of a TrustedIssuer.
pub fn issuer_facts(issuer: &TrustedIssuer) -> IssuerFacts {
    let trusted = issuer
        .status
        .as_ref()
        .and_then(|s| find(&s.conditions, TRUSTED));
    IssuerFacts {
        name: issuer.name_any(),
        trusted: trusted.is_some_and(|c| c.status == "True"),
        reason: trusted.map_or_else(|| "NotEvaluated".to_string(), |c| c.reason.clone()),
        scope_images: issuer.spec.scope.images.clone(),
        discovers: issuer.spec.discovery.as_ref().is_some_and(|d| d.enabled),
    }
}

/// What admission needs of a Namespace.
pub fn namespace_facts(namespace: &PartialObjectMeta<Namespace>) -> NamespaceFacts {
    NamespaceFacts::new(
        namespace.name_any(),
        namespace
            .labels()
            .get(ENFORCEMENT_LABEL)
            .map(String::as_str),
    )
}

/// Runs the three watches until `cancel`, applying their events to `index`.
pub async fn run(client: Client, index: std::sync::Arc<SharedIndex>, cancel: CancellationToken) {
    let wc = watcher::Config::default();
    let verifications = watcher::watcher(Api::<ProofVerification>::all(client.clone()), wc.clone())
        .default_backoff();
    let issuers =
        watcher::watcher(Api::<TrustedIssuer>::all(client.clone()), wc.clone()).default_backoff();
    let namespaces =
        watcher::watcher(Api::<PartialObjectMeta<Namespace>>::all(client), wc).default_backoff();

    let pv = {
        let index = index.clone();
        let mut listed = Vec::new();
        drive(verifications, &cancel, move |event| match event {
            Event::Init => listed.clear(),
            Event::InitApply(pv) => listed.extend(verification_facts(&pv)),
            Event::InitDone => {
                let all = std::mem::take(&mut listed);
                index.update(|i| i.reset_verifications(all));
                index.mark(0b001);
            }
            Event::Apply(pv) => match verification_facts(&pv) {
                Some(facts) => index.update(|i| i.apply_verification(facts)),
                None => index.update(|i| {
                    i.delete_verification(&pv.namespace().unwrap_or_default(), &pv.name_any());
                }),
            },
            Event::Delete(pv) => index.update(|i| {
                i.delete_verification(&pv.namespace().unwrap_or_default(), &pv.name_any());
            }),
        })
    };
    let ti = {
        let index = index.clone();
        let mut listed = Vec::new();
        drive(issuers, &cancel, move |event| match event {
            Event::Init => listed.clear(),
            Event::InitApply(issuer) => listed.push(issuer_facts(&issuer)),
            Event::InitDone => {
                let all = std::mem::take(&mut listed);
                index.update(|i| i.reset_issuers(all));
                index.mark(0b010);
            }
            Event::Apply(issuer) => index.update(|i| i.apply_issuer(issuer_facts(&issuer))),
            Event::Delete(issuer) => index.update(|i| {
                i.delete_issuer(&issuer.name_any());
            }),
        })
    };
    let ns = {
        let index = index.clone();
        let mut listed = Vec::new();
        drive(namespaces, &cancel, move |event| match event {
            Event::Init => listed.clear(),
            Event::InitApply(ns) => listed.push(namespace_facts(&ns)),
            Event::InitDone => {
                let all = std::mem::take(&mut listed);
                index.update(|i| i.reset_namespaces(all));
                index.mark(0b100);
            }
            Event::Apply(ns) => index.update(|i| i.apply_namespace(namespace_facts(&ns))),
            Event::Delete(ns) => index.update(|i| {
                i.delete_namespace(&ns.name_any());
            }),
        })
    };
    tokio::join!(pv, ti, ns);
}

async fn drive<K, S>(stream: S, cancel: &CancellationToken, mut on_event: impl FnMut(Event<K>))
where
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream.take_until(cancel.cancelled()));
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => on_event(event),
            Err(e) => {
                tracing::warn!(error = %e, "admission index watch failed; retrying with backoff")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:353a20e9c8ebd8d3fb2ed5b9f5b7c4fa46e2ec48c4e1d3e3f0a0a3c1c5d6e7f8";

    fn pv(status: serde_json::Value, generation: i64) -> ProofVerification {
        serde_json::from_value(json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "ProofVerification",
            "metadata": {"name": "cart", "namespace": "shop", "generation": generation},
            "spec": {
                "artifactDigest": DIGEST,
                "image": "registry.example/shop/cart:1.4.2",
                "source": {"configMapKeyRef": {"name": "bundles", "key": "valid.zip"}},
                "issuerRef": {"name": "ci"},
            },
            "status": status,
        }))
        .expect("a ProofVerification")
    }

    fn condition(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastTransitionTime": "2026-11-01T09:00:00Z"})
    }

    #[test]
    fn a_verified_current_proof() {
        let facts = verification_facts(&pv(
            json!({
                "conditions": [condition("Verified", "True", "Verified", "all checks passed")],
                "validUntil": "2026-12-01T00:00:00Z",
                "observedGeneration": 2,
            }),
            2,
        ))
        .unwrap();
        assert_eq!(facts.verified, Verified::True);
        assert_eq!(
            (facts.namespace.as_str(), facts.name.as_str()),
            ("shop", "cart")
        );
        assert_eq!(facts.artifact_digest.to_string(), DIGEST);
        assert_eq!(facts.issuer, "ci");
        assert_eq!(facts.reason, "Verified");
        assert_eq!(facts.valid_until, Some(1_796_083_200));
        assert!(facts.status_is_current);
    }

    #[test]
    fn a_failed_proof_keeps_its_reason_and_message() {
        let facts = verification_facts(&pv(
            json!({
                "conditions": [condition("Verified", "False", "SignatureInvalid", "no key verifies the signature")],
                "observedGeneration": 1,
            }),
            1,
        ))
        .unwrap();
        assert_eq!(facts.verified, Verified::False);
        assert_eq!(facts.reason, "SignatureInvalid");
        assert_eq!(facts.message, "no key verifies the signature");
        assert_eq!(facts.valid_until, None);
    }

    #[test]
    fn a_stale_or_unverified_proof_is_pending() {
        let stale = verification_facts(&pv(
            json!({
                "conditions": [condition("Verified", "True", "Verified", "")],
                "observedGeneration": 1,
            }),
            2,
        ))
        .unwrap();
        assert!(!stale.status_is_current);
        let fresh = verification_facts(&pv(serde_json::Value::Null, 1)).unwrap();
        assert_eq!(fresh.verified, Verified::Unknown);
        assert!(!fresh.status_is_current);
    }

    #[test]
    fn issuers_and_namespaces() {
        let issuer: TrustedIssuer = serde_json::from_value(json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "TrustedIssuer",
            "metadata": {"name": "ci"},
            "spec": {"issuer": "https://ci.example", "anchors": ["a"],
                     "scope": {"images": ["registry.example/shop/*"]}},
            "status": {"conditions": [condition("Trusted", "False", "NotApproved", "")]},
        }))
        .unwrap();
        let facts = issuer_facts(&issuer);
        assert!(!facts.trusted);
        assert_eq!(facts.reason, "NotApproved");
        assert_eq!(facts.scope_images, ["registry.example/shop/*"]);

        let mut ns = PartialObjectMeta::<Namespace>::default();
        ns.metadata.name = Some("shop".into());
        assert_eq!(
            namespace_facts(&ns).enforcement,
            attestor_admission::Enforcement::NotGated
        );
        ns.metadata.labels = Some([(ENFORCEMENT_LABEL.to_string(), "warn".to_string())].into());
        assert_eq!(
            namespace_facts(&ns).enforcement,
            attestor_admission::Enforcement::Warn
        );
    }

    #[tokio::test]
    async fn updates_publish_the_revision() {
        let shared = SharedIndex::default();
        let mut rx = shared.subscribe();
        rx.borrow_and_update();
        shared.update(|i| i.apply_namespace(NamespaceFacts::new("shop", Some("enforce"))));
        assert!(rx.has_changed().unwrap());
        assert!(!shared.is_synced());
        shared.mark(0b001);
        shared.mark(0b010);
        shared.mark(0b100);
        assert!(shared.is_synced());
    }
}
