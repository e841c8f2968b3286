//! Batch replay throughput: 1,000 proof bundles replayed from a directory snapshot store at
//! concurrency 1, 2 and 4, with the function the ReplayJob controller uses per proof
//! ([`attestor_runtime::replay::replay_bundle`]: parse the ZIP, load the four inputs from the
//! store, rescore, compare).
//!
//! `cargo run --release -p attestor-runtime --example bench_replay [-- COUNT]`
//!
//! The bundles are examples/bundles/valid.zip (its bytes copied per proof, as a run reads each
//! proof's bytes separately); against the store's latest feed, as `snapshots: Latest` does.

use std::sync::Arc;
use std::time::Instant;

use attestor_api::replay_job::SnapshotPolicy;
use attestor_runtime::replay::{ProofOutcome, ReplayOptions, replay_bundle};
use attestor_score::DirStore;
use attestor_score::error::InputKind;
use futures::StreamExt;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let read = |p: &str| std::fs::read(examples.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let dir = std::env::temp_dir().join(format!("bench-replay-{}", std::process::id()));
    let store = DirStore::new(&dir);
    for (kind, file) in [
        (InputKind::Sbom, "inputs/sbom.cdx.json"),
        (InputKind::Feed, "inputs/feed.json"),
        (InputKind::Vex, "inputs/vex.json"),
        (InputKind::Policy, "inputs/policy.json"),
    ] {
        store
            .put_sync(kind, &read(file))
            .expect("store the example inputs");
    }
    let bundle = read("bundles/valid.zip");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let options = ReplayOptions {
        snapshots: SnapshotPolicy::Latest,
        skip_unchanged: false,
        max_age: None,
        now: jiff::Timestamp::now(),
    };
    println!(
        "{count} bundles ({} bytes each), {} CPUs",
        bundle.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("concurrency  wall_s  proofs/s  proof_nodes/s");
    for concurrency in [1usize, 2, 4] {
        let (elapsed, nodes, failed) = runtime.block_on(async {
            let start = Instant::now();
            let results: Vec<ProofOutcome> = futures::stream::iter(0..count)
                .map(|_| replay_bundle(&store, Arc::new(bundle.clone()), None, &options))
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let elapsed = start.elapsed();
            let mut nodes = 0usize;
            let mut failed = 0usize;
            for r in &results {
                match r {
                    ProofOutcome::Replayed { nodes: n, .. } => nodes += n,
                    _ => failed += 1,
                }
            }
            (elapsed, nodes, failed)
        });
        assert_eq!(failed, 0, "every replay must succeed");
        let secs = elapsed.as_secs_f64();
        println!(
            "{concurrency:>11}  {secs:>6.3}  {:>8.0}  {:>13.0}",
            count as f64 / secs,
            nodes as f64 / secs
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
