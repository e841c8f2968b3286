//! The three controllers of `attestor run`, wired as one unit that runs while this replica holds
//! the Lease.
//!
//! Each kind is watched once. A reflector keeps the shared store current, and only *after* the
//! store has an event does [`relations`] tell the dependent controllers: so when a TrustAnchor is
//! deleted, the ProofVerifications re-verified because of it already see it gone.

mod anchors;
pub mod discovery;
mod issuers;
mod relations;
pub mod replays;
pub mod sources;
mod verifications;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use attestor_api::{API_VERSION, ProofVerification, TrustAnchor, TrustedIssuer};
use futures::{FutureExt, Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::fetch::Fetcher;
use crate::fetch::directory::DirectoryCache;
use crate::metrics::Metrics;
use crate::trust::{DirectoryView, IssuerEvaluation, ParsedAnchor, evaluate_issuer};
use crate::verification::EventNote;

/// The field manager of everything the operator writes.
pub const FIELD_MANAGER: &str = "attestor-operator";

/// Tunables of the controllers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest proof accepted from any source.
    pub max_bundle_bytes: u64,
    /// ProofVerifications reconciled at once.
    pub concurrency: u16,
    /// Who this replica is, in Events (`reportingInstance`).
    pub identity: String,
    /// How often a ReplayJob with `triggers.onNewFeedSnapshot` reads its store's latest feed.
    pub replay_feed_poll: Duration,
    /// How often the ConfigMaps and Secrets ProofVerifications read are looked at for changes
    /// (see [`sources`]).
    pub source_poll: Duration,
    /// Whether a ReplayJob may name a `file://` store. Such a store is read from the operator's
    /// own filesystem (its service-account token included), so anyone who may create a
    /// ReplayJob could make the operator read it: off unless the operator is started with
    /// `--allow-file-stores` (a store mounted into the operator, or a local demo).
    pub allow_file_stores: bool,
    /// How ProofVerifications with `source.registry` talk to registries (mirrors, plain-HTTP
    /// hosts, limits); the address policy is the fetcher's.
    pub registry: crate::registry::RegistryConfig,
    /// Discovery of ProofVerifications for digests in use (`None`: off).
    pub discovery: Option<discovery::DiscoverySettings>,
}

/// Everything a reconcile needs. One per leadership term.
pub struct Context {
    pub client: Client,
    /// Who publishes Events (see [`Context::publish`] for why there is no shared Recorder).
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    pub fetcher: Fetcher,
    /// Shares the fetcher's address policy; one token cache and backoff state per term.
    pub registry: crate::registry::RegistryClient,
    pub directories: DirectoryCache,
    pub settings: Settings,
    pub anchors: Store<TrustAnchor>,
    pub issuers: Store<TrustedIssuer>,
    pub verifications: Store<ProofVerification>,
    sources: Arc<sources::SourceVersions>,
    /// (namespace, name) -> (resourceVersion, object).
    config_map_cache: Mutex<HashMap<(String, String), CachedConfigMap>>,
    /// name -> (uid, generation, parsed spec).
    parsed: Mutex<HashMap<String, ParsedEntry>>,
    source_failures: Mutex<HashMap<(String, String), u32>>,
}

type CachedConfigMap = (String, Arc<ConfigMap>);
type ParsedEntry = (Option<String>, Option<i64>, Arc<ParsedAnchor>);

/// A poisoned lock only means a reconcile panicked mid-update of a cache; every entry is
/// written whole, so the map is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Context {
    /// The parsed spec of the TrustAnchor named `name`, if it exists; parsed once per generation.
    pub fn parsed_anchor(&self, name: &str) -> Option<Arc<ParsedAnchor>> {
        let anchor = self.anchors.get(&ObjectRef::new(name))?;
        Some(self.parse_anchor(&anchor))
    }

    pub fn parse_anchor(&self, anchor: &TrustAnchor) -> Arc<ParsedAnchor> {
        let name = anchor.name_any();
        let uid = anchor.metadata.uid.clone();
        let generation = anchor.metadata.generation;
        let mut cache = lock(&self.parsed);
        if let Some((u, g, parsed)) = cache.get(&name)
            && *u == uid
            && *g == generation
        {
            return parsed.clone();
        }
        let parsed = Arc::new(ParsedAnchor::parse(&name, &anchor.spec));
        cache.insert(name, (uid, generation, parsed.clone()));
        parsed
    }

    pub fn forget_anchor(&self, name: &str) {
        lock(&self.parsed).remove(name);
    }

    /// What the issuer amounts to now, with the directory keys this replica fetched.
    pub fn evaluate_issuer(&self, issuer: &TrustedIssuer, now: Timestamp) -> IssuerEvaluation {
        let directory = issuer.spec.directory.as_ref().map(|d| DirectoryView {
            keys: self.directories.keys(&d.url, &issuer.spec.issuer),
            last_error: self
                .directories
                .status(&d.url, &issuer.spec.issuer)
                .and_then(|s| s.last_error),
        });
        evaluate_issuer(
            &issuer.name_any(),
            &issuer.spec,
            &|name| self.parsed_anchor(name),
            directory.as_ref(),
            now,
        )
    }

    /// A ConfigMap, from a small cache keyed by the resourceVersion last seen of it (by the
    /// source poller or a read): thousands of ProofVerifications that share one ConfigMap of
    /// bundles cost one GET. A change is seen by the next poll, which re-verifies the readers.
    pub async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConfigMap>>, kube::Error> {
        let key = (namespace.to_string(), name.to_string());
        let source = sources::SourceKey {
            kind: sources::SourceKind::ConfigMap,
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        if let Some(Some(rv)) = self.sources.latest(&source)
            && let Some((cached_rv, cm)) = lock(&self.config_map_cache).get(&key)
            && *cached_rv == rv
        {
            return Ok(Some(cm.clone()));
        }
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let Some(cm) = api.get_opt(name).await? else {
            self.sources.saw(source, None);
            lock(&self.config_map_cache).remove(&key);
            return Ok(None);
        };
        let cm = Arc::new(cm);
        if let Some(rv) = cm.metadata.resource_version.clone() {
            self.sources.saw(source, Some(rv.clone()));
            let mut cache = lock(&self.config_map_cache);
            // Bounded: ConfigMaps are at most 1 MiB each.
            if cache.len() >= CONFIG_MAP_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (rv, cm.clone()));
        }
        Ok(Some(cm))
    }

    /// A Secret, read each time: Secrets are not cached.
    pub async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, kube::Error> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api.get_opt(name).await?;
        self.sources.saw(
            sources::SourceKey {
                kind: sources::SourceKind::Secret,
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            secret
                .as_ref()
                .map(|s| s.metadata.resource_version.clone().unwrap_or_default()),
        );
        Ok(secret)
    }

    /// Counts consecutive source failures of one object (for its backoff); `ok` resets.
    pub fn source_failure(&self, namespace: &str, name: &str, failed: bool) -> u32 {
        let mut map = lock(&self.source_failures);
        let key = (namespace.to_string(), name.to_string());
        if failed {
            let n = map.entry(key).or_insert(0);
            *n = n.saturating_add(1);
            *n
        } else {
            map.remove(&key);
            0
        }
    }

    pub async fn publish(&self, reference: &ObjectReference, note: EventNote, action: &str) {
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason,
            note: Some(truncate_note(note.note)),
            action: action.to_string(),
            secondary: None,
        };
        // A Recorder folds Events with the same reason into one series and keeps the first
        // note: a second "ReplayFinished" would show the first run's counts, a second
        // "VerificationFailed" the old failure. Ours are published on transitions only, so each
        // one gets an Event of its own, with its own note.
        let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
        if let Err(e) = recorder.publish(&event, reference).await {
            tracing::warn!(error = %e, object = ?reference.name, "cannot publish an Event");
        }
    }
}

const CONFIG_MAP_CACHE_ENTRIES: usize = 64;

/// Event notes are limited to 1 KiB by the API server.
fn truncate_note(mut note: String) -> String {
    const MAX: usize = 1024;
    if note.len() > MAX {
        let mut end = MAX - 3;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    note
}

/// Writes `status` with server-side apply, owning exactly the fields given.
pub async fn patch_status<K>(
    api: &Api<K>,
    name: &str,
    status: &impl Serialize,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Why a reconcile failed: only API trouble, since every problem with the objects themselves is
/// a condition, not an error.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("writing the status of {kind} {name} failed: {source}")]
    StatusWrite {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl ReconcileError {
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::StatusWrite { .. } => "StatusWriteFailed",
        }
    }
}

/// Times a reconcile into `attestor_reconcile_*`.
pub async fn timed<F, T>(metrics: &Metrics, controller: &str, f: F) -> Result<T, ReconcileError>
where
    F: std::future::Future<Output = Result<T, ReconcileError>>,
{
    let start = Instant::now();
    let result = f.await;
    metrics.observe_reconcile(
        controller,
        start.elapsed(),
        result.as_ref().err().map(ReconcileError::reason),
    );
    result
}

/// Logs a controller's result; `on_gone` runs for objects deleted since they were queued.
pub fn log_result<K: Resource, E: std::fmt::Display, Q: std::fmt::Display>(
    controller: &str,
    result: Result<
        (ObjectRef<K>, kube::runtime::controller::Action),
        kube::runtime::controller::Error<E, Q>,
    >,
    on_gone: impl FnOnce(&ObjectRef<kube::core::DynamicObject>),
) {
    match result {
        Ok((obj, _)) => tracing::debug!(controller, object = %obj, "reconciled"),
        Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => on_gone(&obj),
        Err(e) => tracing::debug!(controller, error = %e, "controller"),
    }
}

/// Requeue delays are capped so that every object is looked at again at least this often.
pub const MAX_REQUEUE: Duration = Duration::from_secs(6 * 3600);

/// The delay until `at` (plus a second, so the status flips *after* the instant), capped.
pub fn until(now: Timestamp, at: Option<Timestamp>) -> Duration {
    match at {
        Some(at) if at > now => {
            (now.duration_until(at).unsigned_abs() + Duration::from_secs(1)).min(MAX_REQUEUE)
        }
        _ => MAX_REQUEUE,
    }
}

/// A stream out of an unbounded channel (tokio-stream is not in the tree for this one use).
fn channel_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

/// Runs the controllers until `cancel` fires; in-flight reconciles finish first.
pub async fn run(
    client: Client,
    metrics: Arc<Metrics>,
    fetcher: Fetcher,
    directories: DirectoryCache,
    settings: Settings,
    cancel: CancellationToken,
) {
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: Some(settings.identity.clone()),
    };
    let wc = watcher::Config::default();
    let source_versions = Arc::new(sources::SourceVersions::default());
    let shared = relations::start(
        client.clone(),
        wc.clone(),
        relations::Forget {
            metrics: metrics.clone(),
            directories: directories.clone(),
        },
        relations::SourcePolling {
            versions: source_versions.clone(),
            interval: settings.source_poll,
        },
        cancel.clone(),
    );
    let verifications_store = shared.verifications.clone();
    metrics.set_success_rate_source(move || {
        let all = verifications_store.state();
        let verified = all
            .iter()
            .filter(|pv| {
                pv.status.as_ref().is_some_and(|s| {
                    crate::conditions::is_true(&s.conditions, attestor_api::conditions::VERIFIED)
                })
            })
            .count();
        (verified, all.len())
    });
    let ctx = Arc::new(Context {
        client,
        reporter,
        metrics: metrics.clone(),
        registry: crate::registry::RegistryClient::new(fetcher.clone(), settings.registry.clone()),
        fetcher,
        directories,
        settings,
        anchors: shared.anchors.clone(),
        issuers: shared.issuers.clone(),
        verifications: shared.verifications.clone(),
        sources: source_versions,
        config_map_cache: Mutex::default(),
        parsed: Mutex::default(),
        source_failures: Mutex::default(),
    });
    let anchors = anchors::controller(&ctx, shared.anchor_trigger, cancel.clone());
    let issuers = issuers::controller(
        &ctx,
        shared.issuer_trigger,
        shared.issuer_relations,
        cancel.clone(),
    );
    let verifications = verifications::controller(
        &ctx,
        shared.verification_trigger,
        shared.verification_relations,
        cancel.clone(),
    );
    let replays = replays::controller(&ctx, cancel.clone());
    // Decide nothing before every cache holds its first full list: a reconcile that ran while
    // the anchors' store was still empty reported AnchorNotFound, in status and as a Warning
    // Event, for a moment after every start. Triggers queue in their channels meanwhile.
    let ready = {
        let (a, i, v) = (
            shared.anchors.clone(),
            shared.issuers.clone(),
            shared.verifications.clone(),
        );
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                _ = cancel.cancelled() => false,
                synced = async {
                    a.wait_until_ready().await.is_ok()
                        && i.wait_until_ready().await.is_ok()
                        && v.wait_until_ready().await.is_ok()
                } => synced,
            }
        }
        .shared()
    };
    let after_sync = |name: &'static str, controller: futures::future::BoxFuture<'static, ()>| {
        let ready = ready.clone();
        async move {
            if ready.await {
                tracing::info!(controller = name, "caches synced; controller started");
                controller.await;
            }
        }
    };
    tracing::info!("controllers waiting for their caches");
    tokio::join!(
        after_sync("TrustAnchor", anchors.for_each(|_| async {}).boxed()),
        after_sync("TrustedIssuer", issuers.for_each(|_| async {}).boxed()),
        after_sync(
            "ProofVerification",
            verifications.for_each(|_| async {}).boxed()
        ),
        after_sync("ReplayJob", replays.for_each(|_| async {}).boxed()),
        after_sync(
            "Discovery",
            match ctx.settings.discovery.clone() {
                Some(settings) => discovery::run(ctx.clone(), settings, cancel.clone()).boxed(),
                None => futures::future::ready(()).boxed(),
            }
        ),
        shared.task,
    );
    tracing::info!("controllers stopped");
}
