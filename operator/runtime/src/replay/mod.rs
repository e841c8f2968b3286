//! ReplayJob: the pure parts ([`cron`], [`schedule`], [`plan`]) and the replay of one proof
//! bundle against a snapshot store ([`replay_bundle`]), shared by the controller and the
//! benchmark. The controller is `controllers::replays`.

pub mod cron;
pub mod plan;
pub mod schedule;

use std::sync::Arc;

use attestor_api::proof_verification::LastReplay;
use attestor_api::replay_job::SnapshotPolicy;
use attestor_core::bundle::{Bundle, ManifestInputs};
use attestor_core::digest::Sha256Digest;
use attestor_core::zip::ZipLimits;
use attestor_score::error::InputKind;
use attestor_score::store::{LoadError, Selection, load_inputs};
use attestor_score::{DirStore, Outcome, ReplayReport, SnapshotStore, StoreError};
use jiff::{SignedDuration, Timestamp};

/// A snapshot store named by `spec.store.url`. Code that replays is written against
/// [`SnapshotStore`], so other backends are one more variant.
#[derive(Debug, Clone)]
pub enum Store {
    Dir(DirStore),
}

/// Opens the store of a `spec.store.url`: `file:///path` is a directory store.
pub fn open_store(url: &str) -> Result<Store, String> {
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(format!(
                "spec.store.url {url:?}: a file:// URL needs an absolute path (file:///var/lib/store)"
            ));
        }
        return Ok(Store::Dir(DirStore::new(path)));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Err(format!(
            "spec.store.url {url:?}: HTTP snapshot stores: not in this build; use a file:// store"
        ));
    }
    Err(format!(
        "spec.store.url {url:?} is neither file:// nor http(s)://"
    ))
}

impl SnapshotStore for Store {
    async fn get(&self, digest: &Sha256Digest) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Dir(s) => s.get(digest).await,
        }
    }

    async fn latest(&self, kind: InputKind) -> Result<Sha256Digest, StoreError> {
        match self {
            Store::Dir(s) => s.latest(kind).await,
        }
    }

    async fn put(&self, kind: InputKind, bytes: &[u8]) -> Result<Sha256Digest, StoreError> {
        match self {
            Store::Dir(s) => s.put(kind, bytes).await,
        }
    }
}

/// What replaying one proof came to.
#[derive(Debug, Clone)]
pub enum ProofOutcome {
    /// Replayed; `drifted` says whether it counts as drift (see [`is_drift`]).
    Replayed {
        report: Box<ReplayReport>,
        drifted: bool,
        inputs_digest: String,
        nodes: usize,
    },
    /// `skipUnchanged`: the last replay used the same inputs.
    Unchanged,
    /// Signed before `spec.maxAge`: not part of the run.
    TooOld,
    /// Could not be replayed; `reason` is a metric label.
    Failed {
        reason: &'static str,
        message: String,
    },
}

/// How one proof is replayed.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub snapshots: SnapshotPolicy,
    pub skip_unchanged: bool,
    pub max_age: Option<SignedDuration>,
    pub now: Timestamp,
}

struct Parsed {
    manifest_id: Sha256Digest,
    inputs: ManifestInputs,
    signed_at: Timestamp,
    nodes: Vec<attestor_core::bundle::ProofNode>,
}

/// Replays the bundle `bytes` against `store`: parsing and scoring run on the blocking pool.
pub async fn replay_bundle<S: SnapshotStore + Sync>(
    store: &S,
    bytes: Arc<Vec<u8>>,
    last: Option<&LastReplay>,
    options: &ReplayOptions,
) -> ProofOutcome {
    let parsed = tokio::task::spawn_blocking(move || {
        Bundle::from_zip(&bytes, &ZipLimits::default()).map(|b| Parsed {
            manifest_id: b.score_proof.manifest_id,
            inputs: b.manifest.inputs.clone(),
            signed_at: b.meta.signed_at,
            nodes: b.score_proof.nodes,
        })
    })
    .await;
    let parsed = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            return ProofOutcome::Failed {
                reason: "BundleUnreadable",
                message: format!("the bundle cannot be read: {e}"),
            };
        }
        Err(e) => {
            return ProofOutcome::Failed {
                reason: "Aborted",
                message: format!("replay aborted: {e}"),
            };
        }
    };
    if plan::too_old(parsed.signed_at, options.max_age, options.now) {
        return ProofOutcome::TooOld;
    }
    // The inputs this replay uses, fixed before loading so that the digest skipUnchanged
    // records is exactly what was replayed.
    let mut used = parsed.inputs.clone();
    if options.snapshots == SnapshotPolicy::Latest {
        match store.latest(InputKind::Feed).await {
            Ok(feed) => used.feed_snapshot = feed,
            Err(e) => {
                return ProofOutcome::Failed {
                    reason: "StoreUnavailable",
                    message: format!("the store's latest feed snapshot: {e}"),
                };
            }
        }
    }
    let inputs_digest = plan::inputs_digest(&parsed.manifest_id, &used);
    if options.skip_unchanged && plan::unchanged(last, &inputs_digest) {
        return ProofOutcome::Unchanged;
    }
    let inputs = match load_inputs(store, &used, Selection::ORIGINAL).await {
        Ok(i) => i,
        Err(e) => {
            let reason = match e {
                LoadError::Store(_) => "InputsUnavailable",
                _ => "InputsInvalid",
            };
            return ProofOutcome::Failed {
                reason,
                message: format!("cannot load the replay inputs: {e}"),
            };
        }
    };
    let original = parsed.inputs;
    let nodes = parsed.nodes;
    let scored = tokio::task::spawn_blocking(move || {
        attestor_score::replay(&nodes, &original, &inputs).map(|r| (r, nodes.len()))
    })
    .await;
    match scored {
        Ok(Ok((report, nodes))) => ProofOutcome::Replayed {
            drifted: is_drift(&report, options.snapshots),
            report: Box::new(report),
            inputs_digest,
            nodes,
        },
        Ok(Err(e)) => ProofOutcome::Failed {
            reason: "ScoreFailed",
            message: format!("scoring the inputs failed: {e}"),
        },
        Err(e) => ProofOutcome::Failed {
            reason: "Aborted",
            message: format!("replay aborted: {e}"),
        },
    }
}

/// Whether a replay counts as drift. Against the original snapshots (`Original`), any other
/// root is drift: the score is not reproducible. Against the latest feed (`Latest`), every root
/// changes with the feed, because the `inputs` node names the snapshot; a proof drifts only when
/// something besides that node differs, i.e. the new snapshot changed one of its findings.
pub fn is_drift(report: &ReplayReport, snapshots: SnapshotPolicy) -> bool {
    if report.outcome == Outcome::Reproduced {
        return false;
    }
    match snapshots {
        SnapshotPolicy::Original => true,
        SnapshotPolicy::Latest => report
            .changes
            .iter()
            .any(|c| c.key.kind != attestor_score::NodeKind::Inputs.as_str()),
    }
}

/// The CRDs' cause for the score engine's.
pub fn drift_cause(cause: attestor_score::Cause) -> attestor_api::proof_verification::DriftCause {
    use attestor_api::proof_verification::DriftCause;
    match cause {
        attestor_score::Cause::Feed => DriftCause::Feed,
        attestor_score::Cause::Vex => DriftCause::Vex,
        attestor_score::Cause::Policy => DriftCause::Policy,
        attestor_score::Cause::Sbom => DriftCause::Sbom,
        attestor_score::Cause::Unknown => DriftCause::Unknown,
    }
}
