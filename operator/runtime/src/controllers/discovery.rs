//! Discovery, on the leader: gather what is in use (Pods in namespaces that opt in, and the
//! webhook's `DiscoveryRequested` hand-offs), the discovering issuers and the ProofVerifications
//! that exist; plan with [`crate::discovery::plan`]; create and remove ProofVerifications; say so
//! in Events. The rules are in [`crate::discovery`]; this is the plumbing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attestor_admission::ENFORCEMENT_LABEL;
use attestor_admission::scope::Scope;
use attestor_api::ProofVerification;
use attestor_api::common::ObjectRef as IssuerRef;
use attestor_api::conditions::TRUSTED;
use attestor_api::proof_verification::{
    ProofChecks, ProofSource, ProofVerificationSpec, RegistrySource,
};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::api::events::v1::Event as KubeEvent;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::discovery::{
    DISCOVERED_LABEL, DiscoveringIssuer, Existing, HAND_OFF_REASON, NewProof, Use, parse_hand_off,
    plan,
};
use crate::verification::EventNote;

/// How discovery behaves.
#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    /// A discovered ProofVerification is removed this long after its digest was last used.
    pub gc_after: Duration,
    /// The plan is made again at least this often (for removals), and at once on any change.
    pub resync: Duration,
}

impl Default for DiscoverySettings {
    fn default() -> Self {
        Self {
            gc_after: Duration::from_secs(3600),
            resync: Duration::from_secs(30),
        }
    }
}

/// A Pod's pinned images, pull secrets and ServiceAccount.
type PodUses = (Vec<String>, Vec<String>, Option<String>);
/// Objects by (namespace, name); cluster-scoped ones with an empty namespace.
type ByKey<V> = HashMap<(String, String), V>;

/// What the watches have seen.
#[derive(Default)]
struct Seen {
    pods: ByKey<PodUses>,
    /// ("", namespace) -> opts in (its enforcement label is `enforce` or `warn`).
    namespaces: ByKey<bool>,
    /// Hand-offs by (namespace, image), the latest.
    hand_offs: HashMap<(String, String), Use>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs until `cancel`: three watches feeding [`Seen`], and the loop that plans and applies.
pub async fn run(ctx: Arc<Context>, settings: DiscoverySettings, cancel: CancellationToken) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let changed = Arc::new(Notify::new());
    let pods = watch_pods(&ctx, seen.clone(), changed.clone());
    let namespaces = watch_namespaces(&ctx, seen.clone(), changed.clone());
    let hand_offs = watch_hand_offs(&ctx, seen.clone(), changed.clone(), settings.gc_after);
    let planner = async {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = changed.notified() => {
                    // Let a burst of watch events settle into one plan.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                () = tokio::time::sleep(settings.resync) => {}
            }
            step(&ctx, &seen, &settings).await;
        }
    };
    tokio::select! {
        () = cancel.cancelled() => {}
        () = planner => {}
        () = pods => {}
        () = namespaces => {}
        () = hand_offs => {}
    }
}

async fn step(ctx: &Context, seen: &Mutex<Seen>, settings: &DiscoverySettings) {
    let now = Timestamp::now();
    let uses = uses(&lock(seen), now);
    let issuers = discovering_issuers(ctx);
    let existing: Vec<Existing> = ctx
        .verifications
        .state()
        .iter()
        .map(|pv| Existing {
            namespace: pv.namespace().unwrap_or_default(),
            name: pv.name_any(),
            digest: pv.spec.artifact_digest.parse().ok(),
            discovered: pv.labels().get(DISCOVERED_LABEL).map(String::as_str) == Some("true"),
        })
        .collect();
    let planned = plan(&uses, &issuers, &existing, now, settings.gc_after);
    for proof in planned.create {
        create(ctx, proof).await;
    }
    for (namespace, name) in planned.delete {
        let api: Api<ProofVerification> = Api::namespaced(ctx.client.clone(), &namespace);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(
                proof = %format!("{namespace}/{name}"),
                "discovered ProofVerification removed: no workload used its digest for the discovery GC period"
            ),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(proof = %format!("{namespace}/{name}"), error = %e, "cannot remove a discovered ProofVerification")
            }
        }
    }
}

/// Pods in namespaces that opt in, now, and the hand-offs remembered.
fn uses(seen: &Seen, now: Timestamp) -> Vec<Use> {
    let mut out = Vec::new();
    for ((namespace, _), (images, secrets, account)) in &seen.pods {
        if !opts_in(seen, namespace) {
            continue;
        }
        out.extend(images.iter().filter_map(|image| {
            let mut u = Use::of(namespace, image, secrets, now)?;
            u.service_account = account.clone();
            Some(u)
        }));
    }
    // A hand-off counts only where the namespace opts in, as the webhook decided: an Event
    // anyone could write elsewhere creates nothing.
    out.extend(
        seen.hand_offs
            .values()
            .filter(|u| opts_in(seen, &u.namespace))
            .cloned(),
    );
    out
}

fn opts_in(seen: &Seen, namespace: &str) -> bool {
    seen.namespaces.get(&(String::new(), namespace.to_string())) == Some(&true)
}

/// The trusted issuers with discovery on, as admission sees them (their `Trusted` condition).
fn discovering_issuers(ctx: &Context) -> Vec<DiscoveringIssuer> {
    ctx.issuers
        .state()
        .iter()
        .filter(|i| {
            i.status
                .as_ref()
                .is_some_and(|s| crate::conditions::is_true(&s.conditions, TRUSTED))
        })
        .filter_map(|i| {
            let spec = i.spec.discovery.clone().filter(|d| d.enabled)?;
            Some(DiscoveringIssuer {
                name: i.name_any(),
                scope: Scope::new(&i.spec.scope.images),
                spec,
            })
        })
        .collect()
}

/// The `imagePullSecrets` of the ServiceAccounts a workload runs as, which the kubelet uses for
/// its pulls too. A ServiceAccount that cannot be read adds nothing (said in the log).
async fn service_account_secrets(
    ctx: &Context,
    namespace: &str,
    accounts: &[String],
) -> Vec<String> {
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace);
    let mut out = Vec::new();
    for name in accounts {
        match api.get_opt(name).await {
            Ok(Some(sa)) => out.extend(
                sa.image_pull_secrets
                    .into_iter()
                    .flatten()
                    .map(|s| s.name)
                    .filter(|n| !n.is_empty()),
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                service_account = %format!("{namespace}/{name}"),
                error = %e,
                "discovery: cannot read a ServiceAccount's imagePullSecrets"
            ),
        }
    }
    out
}

async fn create(ctx: &Context, mut proof: NewProof) {
    for secret in service_account_secrets(ctx, &proof.namespace, &proof.service_accounts).await {
        if !proof.pull_secrets.contains(&secret) {
            proof.pull_secrets.push(secret);
        }
    }
    proof.pull_secrets.truncate(8);
    let labels = BTreeMap::from([
        (DISCOVERED_LABEL.to_string(), "true".to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "attestor-operator".to_string(),
        ),
    ]);
    let pv = ProofVerification {
        metadata: ObjectMeta {
            name: Some(proof.name.clone()),
            namespace: Some(proof.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: ProofVerificationSpec {
            artifact_digest: proof.digest.to_string(),
            image: Some(proof.repository.clone()),
            source: ProofSource {
                registry: Some(RegistrySource {
                    repository: None,
                    kinds: proof.discovery.kinds.clone(),
                    pull_secrets: proof
                        .pull_secrets
                        .iter()
                        .map(|name| IssuerRef { name: name.clone() })
                        .collect(),
                    stale_grace_period: "24h".into(),
                }),
                ..ProofSource::default()
            },
            issuer_ref: IssuerRef {
                name: proof.issuer.clone(),
            },
            checks: ProofChecks {
                transparency_log: proof.discovery.transparency_log,
                predicate_type: proof.discovery.predicate_type.clone(),
                ..ProofChecks::default()
            },
            reverify_interval: "24h".into(),
        },
        status: None,
    };
    let api: Api<ProofVerification> = Api::namespaced(ctx.client.clone(), &proof.namespace);
    match api.create(&PostParams::default(), &pv).await {
        Ok(created) => {
            tracing::info!(
                proof = %format!("{}/{}", proof.namespace, proof.name),
                image = %proof.repository,
                digest = %proof.digest,
                issuer = %proof.issuer,
                "ProofVerification discovered"
            );
            ctx.publish(
                &created.object_ref(&()),
                EventNote {
                    warning: false,
                    reason: "Discovered".into(),
                    note: format!(
                        "created for {}@{}, used in namespace {} with no ProofVerification: verifies what the registry holds against TrustedIssuer {}",
                        proof.repository, proof.digest, proof.namespace, proof.issuer
                    ),
                },
                "Discover",
            )
            .await;
        }
        // Another plan (or a person) was first: the digest has its proof.
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => tracing::warn!(
            proof = %format!("{}/{}", proof.namespace, proof.name),
            error = %e,
            "cannot create a discovered ProofVerification; retried at the next plan"
        ),
    }
}

/// Pods, stripped to their pinned images and pull secrets as they arrive.
async fn watch_pods(ctx: &Context, seen: Arc<Mutex<Seen>>, changed: Arc<Notify>) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    mirror(stream, &seen, &changed, pod_uses, |s| &mut s.pods).await;
}

/// Keeps `field(seen)` equal to what the watch lists, each object reduced by `extract`, and
/// wakes the planner on every change.
async fn mirror<K: Resource, V>(
    stream: impl futures::Stream<Item = Result<Event<K>, watcher::Error>>,
    seen: &Mutex<Seen>,
    changed: &Notify,
    extract: impl Fn(&K) -> V,
    field: impl Fn(&mut Seen) -> &mut ByKey<V>,
) {
    futures::pin_mut!(stream);
    let mut init: Option<ByKey<V>> = None;
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "discovery: a watch failed; retrying");
                continue;
            }
        };
        let mut s = lock(seen);
        match event {
            Event::Init => init = Some(HashMap::new()),
            Event::InitApply(obj) => {
                if let Some(m) = init.as_mut() {
                    m.insert(key(&obj), extract(&obj));
                }
            }
            Event::InitDone => {
                if let Some(m) = init.take() {
                    *field(&mut s) = m;
                }
            }
            Event::Apply(obj) => {
                field(&mut s).insert(key(&obj), extract(&obj));
            }
            Event::Delete(obj) => {
                field(&mut s).remove(&key(&obj));
            }
        }
        drop(s);
        changed.notify_one();
    }
}

fn key<K: Resource>(obj: &K) -> (String, String) {
    (
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default(),
    )
}

fn pod_uses(pod: &Pod) -> PodUses {
    let Some(spec) = &pod.spec else {
        return (Vec::new(), Vec::new(), None);
    };
    let images = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.image.clone())
        .chain(
            spec.ephemeral_containers
                .iter()
                .flatten()
                .filter_map(|c| c.image.clone()),
        )
        .filter(|i| i.contains("@sha256:"))
        .collect();
    let secrets = spec
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|s| s.name.clone())
        .filter(|n| !n.is_empty())
        .collect();
    (images, secrets, spec.service_account_name.clone())
}

async fn watch_namespaces(ctx: &Context, seen: Arc<Mutex<Seen>>, changed: Arc<Notify>) {
    let api: Api<kube::core::PartialObjectMeta<Namespace>> = Api::all(ctx.client.clone());
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let opted = |ns: &kube::core::PartialObjectMeta<Namespace>| {
        matches!(
            ns.labels().get(ENFORCEMENT_LABEL).map(String::as_str),
            Some("enforce" | "warn")
        )
    };
    mirror(stream, &seen, &changed, opted, |s| &mut s.namespaces).await;
}

/// The webhook's `DiscoveryRequested` Events (from any replica), newer than `gc_after`.
async fn watch_hand_offs(
    ctx: &Context,
    seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
    gc_after: Duration,
) {
    let api: Api<KubeEvent> = Api::all(ctx.client.clone());
    let config = watcher::Config::default().fields(&format!("reason={HAND_OFF_REASON}"));
    let stream = watcher::watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        let Ok(event) = event else { continue };
        let (Event::Apply(ev) | Event::InitApply(ev)) = event else {
            continue;
        };
        let Some(namespace) = ev.namespace() else {
            continue;
        };
        let when = ev
            .series
            .as_ref()
            .map(|s| s.last_observed_time.0)
            .or(ev.event_time.as_ref().map(|t| t.0))
            .or(ev.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .unwrap_or_else(Timestamp::now);
        if Timestamp::now().duration_since(when).unsigned_abs() > gc_after {
            continue;
        }
        let Some(wanted) = parse_hand_off(&namespace, ev.note.as_deref().unwrap_or(""), when)
        else {
            tracing::debug!(event = %ev.name_any(), "a DiscoveryRequested Event this operator cannot read; ignored");
            continue;
        };
        let mut s = lock(&seen);
        let k = (wanted.namespace.clone(), wanted.image.clone());
        if s.hand_offs.get(&k).is_none_or(|u| u.seen < wanted.seen) {
            s.hand_offs.insert(k, wanted);
        }
        // Forget hand-offs older than the GC period, so the map stays bounded.
        let cutoff = Timestamp::now()
            - jiff::SignedDuration::try_from(gc_after).unwrap_or(jiff::SignedDuration::MAX);
        s.hand_offs.retain(|_, u| u.seen >= cutoff);
        drop(s);
        changed.notify_one();
    }
}
