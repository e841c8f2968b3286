//! ReplayJob: the pure parts ([`cron`], [`schedule`], [`plan`]) and the replay of one proof
//! bundle against a snapshot store ([`replay_bundle`]), shared by the controller and the
//! benchmark. The controller is `controllers::replays`.

pub mod cron;
pub mod plan;
pub mod schedule;

use std::sync::Arc;

use attestor_api::proof_verification::LastReplay;
use attestor_api::replay_job::SnapshotPolicy;
use attestor_core::bundle::{Bundle, ManifestInputs, read_score_proof};
use attestor_core::digest::Sha256Digest;
use attestor_core::zip::ZipLimits;
use attestor_score::error::InputKind;
use attestor_score::store::{LoadError, Selection, load_inputs};
use attestor_score::{Outcome, ReplayReport, SnapshotStore};

use crate::fetch::Fetcher;
use jiff::{SignedDuration, Timestamp};

/// The store of a ReplayJob: a directory (`file:///path`) or an HTTP base URL, shared with
/// `attestor replay --store`.
pub use crate::snapshot_store::Store;

/// Opens the store of a `spec.store.url` (`file:///path` or `http(s)://`), sharing the
/// operator's fetcher (its limits, roots, proxy and denied networks) for HTTP stores.
///
/// A `file://` store is refused unless `allow_file` (`--allow-file-stores`): it would read the
/// operator's own filesystem on behalf of whoever may create a ReplayJob.
pub fn open_store(url: &str, fetcher: &Fetcher, allow_file: bool) -> Result<Store, String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("file" | "http" | "https")) {
        return Err(format!(
            "spec.store.url {url:?} is neither file:// nor http(s)://"
        ));
    }
    if scheme.as_deref() == Some("file") && !allow_file {
        return Err(format!(
            "spec.store.url {url:?} is a directory on the operator's own filesystem, which this \
             operator does not read (it would read its own files, service-account token included, \
             for anyone who may create a ReplayJob); serve the store over http(s):// (allowing \
             its network with --fetch-allow-network if it is in the cluster), or start the \
             operator with --allow-file-stores if the store is mounted into it"
        ));
    }
    crate::snapshot_store::open_store_with(url, Some(fetcher))
        .map_err(|e| format!("spec.store.url: {e}"))
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
    /// The manifest's `scoreVersion`: the semantics the replay recomputes with.
    version: Result<attestor_score::ScoreVersion, attestor_score::ScoreVersionError>,
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
        let limits = ZipLimits::default();
        Bundle::from_zip(&bytes, &limits).and_then(|b| {
            // Verification does not keep the nodes; replaying compares them.
            let proof = read_score_proof(&bytes, &limits)?;
            Ok(Parsed {
                manifest_id: proof.manifest_id,
                version: attestor_score::ScoreVersion::of_manifest(&b.manifest_value),
                inputs: b.manifest.inputs.clone(),
                signed_at: b.meta.signed_at,
                nodes: proof.nodes,
            })
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
    let version = match parsed.version {
        Ok(version) => version,
        Err(e) => {
            return ProofOutcome::Failed {
                reason: "BundleUnreadable",
                message: format!("the bundle cannot be replayed: {e}"),
            };
        }
    };
    let original = parsed.inputs;
    let nodes = parsed.nodes;
    let scored = tokio::task::spawn_blocking(move || {
        attestor_score::replay(&nodes, &original, version, &inputs).map(|r| (r, nodes.len()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use attestor_api::proof_verification::ReplayResult;
    use attestor_score::DirStore;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn example(path: &str) -> Vec<u8> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        std::fs::read(root.join(path)).unwrap()
    }

    fn store(name: &str) -> (DirStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("replay-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = DirStore::new(&dir);
        for (kind, file) in [
            (InputKind::Sbom, "inputs/sbom.cdx.json"),
            (InputKind::Feed, "inputs/feed.json"),
            (InputKind::Vex, "inputs/vex.json"),
            (InputKind::Policy, "inputs/policy.json"),
        ] {
            store.put_sync(kind, &example(file)).unwrap();
        }
        (store, dir)
    }

    fn feed_with(package: &str) -> Vec<u8> {
        let mut feed: serde_json::Value =
            serde_json::from_slice(&example("inputs/feed.json")).unwrap();
        feed["advisories"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "cvss": "8.1", "fixed": "99.0.0", "id": "GHSA-unit-test-0001",
                "introduced": "0", "package": package
            }));
        serde_json::to_vec(&feed).unwrap()
    }

    fn options(snapshots: SnapshotPolicy) -> ReplayOptions {
        ReplayOptions {
            snapshots,
            skip_unchanged: true,
            max_age: None,
            now: "2026-12-01T00:00:00Z".parse().unwrap(),
        }
    }

    async fn run(
        store: &DirStore,
        bytes: &[u8],
        last: Option<&LastReplay>,
        o: &ReplayOptions,
    ) -> ProofOutcome {
        replay_bundle(store, Arc::new(bytes.to_vec()), last, o).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn drift_is_a_changed_finding_under_latest_and_any_root_under_original() {
        let (store, dir) = store("drift");
        let bundle = example("bundles/valid.zip");
        let latest = options(SnapshotPolicy::Latest);
        let ProofOutcome::Replayed {
            drifted,
            report,
            inputs_digest,
            ..
        } = run(&store, &bundle, None, &latest).await
        else {
            panic!("the example bundle replays");
        };
        assert!(!drifted);
        assert_eq!(report.outcome, Outcome::Reproduced);

        // skipUnchanged: the same inputs again.
        let last = LastReplay {
            time: Time(Timestamp::UNIX_EPOCH),
            result: ReplayResult::Reproduced,
            root_hash: None,
            previous_root_hash: None,
            cause: None,
            message: None,
            inputs_digest: Some(inputs_digest),
        };
        assert!(matches!(
            run(&store, &bundle, Some(&last), &latest).await,
            ProofOutcome::Unchanged
        ));

        // An advisory for a package the SBOM lacks: another root, but no changed finding.
        store
            .put_sync(InputKind::Feed, &feed_with("pkg:npm/express"))
            .unwrap();
        let ProofOutcome::Replayed {
            drifted, report, ..
        } = run(&store, &bundle, Some(&last), &latest).await
        else {
            panic!("replays");
        };
        assert_eq!(
            report.outcome,
            Outcome::Drifted,
            "the inputs node names the new feed"
        );
        assert!(!drifted, "{:?}", report.changes);
        // Against the original snapshots it still reproduces.
        let original = options(SnapshotPolicy::Original);
        let ProofOutcome::Replayed { drifted, .. } = run(&store, &bundle, None, &original).await
        else {
            panic!("replays");
        };
        assert!(!drifted);

        // An advisory for lodash, which the SBOM has: drift, caused by the feed.
        store
            .put_sync(InputKind::Feed, &feed_with("pkg:npm/lodash"))
            .unwrap();
        let ProofOutcome::Replayed {
            drifted, report, ..
        } = run(&store, &bundle, None, &latest).await
        else {
            panic!("replays");
        };
        assert!(drifted);
        assert_eq!(report.cause, Some(attestor_score::Cause::Feed));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn failures_and_max_age() {
        let (store, dir) = store("failures");
        let bundle = example("bundles/valid.zip");
        let mut o = options(SnapshotPolicy::Latest);
        o.max_age = Some(SignedDuration::from_hours(1));
        assert!(matches!(
            run(&store, &bundle, None, &o).await,
            ProofOutcome::TooOld
        ));
        let o = options(SnapshotPolicy::Latest);
        match run(&store, b"PK\x03\x04 not a zip", None, &o).await {
            ProofOutcome::Failed { reason, .. } => assert_eq!(reason, "BundleUnreadable"),
            other => panic!("{other:?}"),
        }
        let empty = DirStore::new(dir.join("empty"));
        match run(&empty, &bundle, None, &o).await {
            ProofOutcome::Failed { reason, message } => {
                assert_eq!(reason, "StoreUnavailable");
                assert!(message.contains("latest feed"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match run(&empty, &bundle, None, &options(SnapshotPolicy::Original)).await {
            ProofOutcome::Failed { reason, .. } => assert_eq!(reason, "InputsUnavailable"),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn store_urls() {
        let fetcher = Fetcher::new(crate::fetch::FetchConfig::default()).unwrap();
        assert!(matches!(
            open_store("file:///var/lib/store", &fetcher, true),
            Ok(Store::Dir(_))
        ));
        assert!(matches!(
            open_store("https://s.example/x", &fetcher, false),
            Ok(Store::Http(_))
        ));
        assert!(
            open_store("file://relative/x", &fetcher, true)
                .unwrap_err()
                .contains("file:///absolute/path")
        );
        assert!(
            open_store("ftp://x", &fetcher, true)
                .unwrap_err()
                .contains("neither")
        );
        assert!(
            open_store("/var/lib/store", &fetcher, true)
                .unwrap_err()
                .contains("neither")
        );
    }
}
