//! One watch per kind: reflectors that keep the shared stores, feed each controller its own
//! objects, and turn changes of one kind into reconciles of the kinds that depend on it:
//! TrustAnchor -> TrustedIssuers naming it -> ProofVerifications naming those; a changed
//! ConfigMap or Secret -> ProofVerifications reading from it (polled, not watched: see
//! [`super::sources`]).

use std::collections::HashMap;
use std::sync::Arc;

use attestor_api::conditions::{READY, TRUSTED};
use attestor_api::{ProofVerification, TrustAnchor, TrustedIssuer};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::channel_stream;
use crate::conditions::find;
use crate::fetch::directory::DirectoryCache;
use crate::metrics::Metrics;

pub type Trigger<K> = BoxStream<'static, Result<K, watcher::Error>>;
pub type Relations<K> = BoxStream<'static, ObjectRef<K>>;

pub struct Shared {
    pub anchors: Store<TrustAnchor>,
    pub issuers: Store<TrustedIssuer>,
    pub verifications: Store<ProofVerification>,
    pub anchor_trigger: Trigger<TrustAnchor>,
    pub issuer_trigger: Trigger<TrustedIssuer>,
    pub issuer_relations: Relations<TrustedIssuer>,
    pub verification_trigger: Trigger<ProofVerification>,
    pub verification_relations: Relations<ProofVerification>,
    /// Drives the watches; ends when `cancel` fires.
    pub task: BoxFuture<'static, ()>,
}

struct Senders {
    anchors: UnboundedSender<TrustAnchor>,
    issuers: UnboundedSender<TrustedIssuer>,
    issuer_relations: UnboundedSender<ObjectRef<TrustedIssuer>>,
    verifications: UnboundedSender<ProofVerification>,
    verification_relations: UnboundedSender<ObjectRef<ProofVerification>>,
}

/// How the ConfigMaps and Secrets that ProofVerifications read are looked at for changes.
pub struct SourcePolling {
    pub versions: Arc<super::sources::SourceVersions>,
    pub interval: std::time::Duration,
}

/// Deleted objects leave the per-object metrics and caches here, where the deletion is seen.
pub struct Forget {
    pub metrics: Arc<Metrics>,
    pub directories: DirectoryCache,
}

pub fn start(
    client: Client,
    wc: watcher::Config,
    forget: Forget,
    polling: SourcePolling,
    cancel: CancellationToken,
) -> Shared {
    let (anchors, anchor_writer) = reflector::store::<TrustAnchor>();
    let (issuers, issuer_writer) = reflector::store::<TrustedIssuer>();
    let (verifications, verification_writer) = reflector::store::<ProofVerification>();
    let (anchor_tx, anchor_rx) = unbounded_channel();
    let (issuer_tx, issuer_rx) = unbounded_channel();
    let (issuer_rel_tx, issuer_rel_rx) = unbounded_channel();
    let (pv_tx, pv_rx) = unbounded_channel();
    let (pv_rel_tx, pv_rel_rx) = unbounded_channel();
    let senders = Arc::new(Senders {
        anchors: anchor_tx,
        issuers: issuer_tx,
        issuer_relations: issuer_rel_tx,
        verifications: pv_tx,
        verification_relations: pv_rel_tx,
    });

    let anchor_events = reflector::reflector(
        anchor_writer,
        watcher::watcher(Api::<TrustAnchor>::all(client.clone()), wc.clone()).default_backoff(),
    );
    let issuer_events = reflector::reflector(
        issuer_writer,
        watcher::watcher(Api::<TrustedIssuer>::all(client.clone()), wc.clone()).default_backoff(),
    );
    let verification_events = reflector::reflector(
        verification_writer,
        watcher::watcher(Api::<ProofVerification>::all(client.clone()), wc.clone())
            .default_backoff(),
    );
    let sources_polled = super::sources::poll(
        client,
        verifications.clone(),
        polling.versions,
        polling.interval,
        senders.verification_relations.clone(),
        cancel.clone(),
    );

    let task = {
        let (issuers, verifications) = (issuers.clone(), verifications.clone());
        let senders = senders.clone();
        async move {
            let mut anchor_seen = HashMap::new();
            let mut issuer_seen = HashMap::new();
            let anchors_done = drive(anchor_events, &cancel, |event| {
                if let Event::Delete(a) = &event {
                    forget.metrics.remove_anchor(&a.name_any());
                }
                on_anchor(event, &mut anchor_seen, &issuers, &verifications, &senders)
            });
            let issuers_done = drive(issuer_events, &cancel, |event| {
                if let Event::Delete(i) = &event {
                    forget.metrics.remove_issuer(&i.name_any());
                    if let Some(d) = &i.spec.directory {
                        forget.directories.forget(&d.url, &i.spec.issuer);
                    }
                }
                on_issuer(event, &mut issuer_seen, &verifications, &senders)
            });
            let verifications_done = drive(verification_events, &cancel, |event| {
                if let Event::Apply(pv) | Event::InitApply(pv) = event {
                    let _ = senders.verifications.send(pv);
                }
            });
            tokio::join!(
                anchors_done,
                issuers_done,
                verifications_done,
                sources_polled
            );
        }
        .boxed()
    };

    Shared {
        anchors,
        issuers,
        verifications,
        anchor_trigger: channel_stream(anchor_rx).map(Ok).boxed(),
        issuer_trigger: channel_stream(issuer_rx).map(Ok).boxed(),
        issuer_relations: channel_stream(issuer_rel_rx).boxed(),
        verification_trigger: channel_stream(pv_rx).map(Ok).boxed(),
        verification_relations: channel_stream(pv_rel_rx).boxed(),
        task,
    }
}

/// Consumes a reflected watch until `cancel`, logging watch errors (the backoff retries them).
async fn drive<K, S>(stream: S, cancel: &CancellationToken, mut on_event: impl FnMut(Event<K>))
where
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream.take_until(cancel.cancelled()));
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => on_event(event),
            Err(e) => tracing::warn!(error = %e, "watch failed; retrying with backoff"),
        }
    }
}

type AnchorPrint = (Option<i64>, Option<(String, String)>);

/// What about an anchor matters to others: its spec and whether it is Ready.
fn anchor_fingerprint(a: &TrustAnchor) -> AnchorPrint {
    let ready = a
        .status
        .as_ref()
        .and_then(|s| find(&s.conditions, READY))
        .map(|c| (c.status.clone(), c.reason.clone()));
    (a.metadata.generation, ready)
}

type IssuerPrint = (Option<i64>, Option<(String, String)>, Vec<String>);

/// What about an issuer matters to ProofVerifications: spec, trust, and its keys.
fn issuer_fingerprint(i: &TrustedIssuer) -> IssuerPrint {
    let status = i.status.as_ref();
    let trusted = status
        .and_then(|s| find(&s.conditions, TRUSTED))
        .map(|c| (c.status.clone(), c.reason.clone()));
    let keys = status.map(|s| s.key_ids.clone()).unwrap_or_default();
    (i.metadata.generation, trusted, keys)
}

fn on_anchor(
    event: Event<TrustAnchor>,
    seen: &mut HashMap<String, AnchorPrint>,
    issuers: &Store<TrustedIssuer>,
    verifications: &Store<ProofVerification>,
    senders: &Senders,
) {
    let (anchor, changed) = match event {
        Event::InitApply(a) => {
            seen.insert(a.name_any(), anchor_fingerprint(&a));
            let _ = senders.anchors.send(a);
            return;
        }
        Event::Apply(a) => {
            let print = anchor_fingerprint(&a);
            let changed = seen.insert(a.name_any(), print.clone()) != Some(print);
            let _ = senders.anchors.send(a.clone());
            (a, changed)
        }
        Event::Delete(a) => {
            seen.remove(&a.name_any());
            (a, true)
        }
        Event::InitDone => {
            // The (re)listed anchors are in the store only now: issuers reconciled before could
            // have found them missing, so look at every issuer naming one of them again.
            for issuer in issuers.state() {
                if issuer.spec.anchors.iter().any(|a| seen.contains_key(a)) {
                    let _ = senders
                        .issuer_relations
                        .send(ObjectRef::from_obj(issuer.as_ref()));
                    verifications_of(&issuer.name_any(), verifications, senders);
                }
            }
            return;
        }
        Event::Init => return,
    };
    if !changed {
        return;
    }
    let name = anchor.name_any();
    for issuer in issuers.state() {
        if issuer.spec.anchors.contains(&name) {
            let _ = senders
                .issuer_relations
                .send(ObjectRef::from_obj(issuer.as_ref()));
            verifications_of(&issuer.name_any(), verifications, senders);
        }
    }
}

fn on_issuer(
    event: Event<TrustedIssuer>,
    seen: &mut HashMap<String, IssuerPrint>,
    verifications: &Store<ProofVerification>,
    senders: &Senders,
) {
    let (issuer, changed) = match event {
        Event::InitApply(i) => {
            seen.insert(i.name_any(), issuer_fingerprint(&i));
            let _ = senders.issuers.send(i);
            return;
        }
        Event::Apply(i) => {
            let print = issuer_fingerprint(&i);
            let changed = seen.insert(i.name_any(), print.clone()) != Some(print);
            let _ = senders.issuers.send(i.clone());
            (i, changed)
        }
        Event::Delete(i) => {
            seen.remove(&i.name_any());
            (i, true)
        }
        Event::InitDone => {
            // As for anchors: verifications reconciled before the issuers were listed.
            for pv in verifications.state() {
                if seen.contains_key(&pv.spec.issuer_ref.name) {
                    let _ = senders
                        .verification_relations
                        .send(ObjectRef::from_obj(pv.as_ref()));
                }
            }
            return;
        }
        Event::Init => return,
    };
    if changed {
        verifications_of(&issuer.name_any(), verifications, senders);
    }
}

fn verifications_of(issuer: &str, verifications: &Store<ProofVerification>, senders: &Senders) {
    for pv in verifications.state() {
        if pv.spec.issuer_ref.name == issuer {
            let _ = senders
                .verification_relations
                .send(ObjectRef::from_obj(pv.as_ref()));
        }
    }
}
