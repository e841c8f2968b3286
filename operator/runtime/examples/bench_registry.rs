//! `make bench-registry`: discovery against a real registry with added latency, and admission
//! while it runs.
//!
//! The Makefile starts the referrers registry of `e2e/tools.sh` (`refreg`, the OCI 1.1
//! referrers API) with `-latency 50ms` on every request and passes its address in
//! `ATTESTOR_BENCH_REGISTRY`. Setup (not timed): DIGESTS images, each with a proof bundle about
//! its digest, pushed by the operator's own registry client. Then, on a runtime of two worker
//! threads like `attestor run`'s:
//!
//! 1. admission alone: reviews decided by the webhook's `Reviewer` (the request path, minus
//!    TLS: `make bench-webhook` measures that) at a fixed rate, against an index of 10,000
//!    verified digests; p50 and p99;
//! 2. discovery of every digest (list what the registry holds, fetch and verify each candidate
//!    against the issuer's keys), CONCURRENCY digests at a time, with the same admission load
//!    running beside it: digests per second, HTTP requests per digest, and admission p50/p99
//!    again. Admission must not notice (it reads only memory): the p99 is compared.
//!
//! Usage: bench_registry [DIGESTS] [CONCURRENCY] [REVIEWS_PER_SECOND]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use attestor_admission::{Config, Limits};
use attestor_core::bundle::{BundleSpec, NodeInput, build_bundle};
use attestor_core::digest::Sha256Digest;
use attestor_core::keys::{PublicKey, SigningKey};
use attestor_core::trust::{AnchorMaterial, Purpose, TrustAnchor, TrustStore};
use attestor_core::verify::{TlogPolicy, VerifyOptions};
use attestor_oci::classify::CandidateKind;
use attestor_oci::reference::ImageRef;
use attestor_runtime::fetch::{FetchConfig, Fetcher};
use attestor_runtime::metrics::{AdmissionMetrics, Metrics};
use attestor_runtime::registry::verdict::{Keyless, RegistryTrust, summarize, verify_candidates};
use attestor_runtime::registry::{RegistryClient, RegistryConfig};
use attestor_runtime::webhook::index_feed::SharedIndex;
use attestor_runtime::webhook::server::Reviewer;
use serde_json::json;

mod support;

use support::{DIGESTS as INDEXED, index, review};

const LOAD_SECONDS: u64 = 5;

/// Reviews at `rate` per second for `seconds`, each its own task (as connections are); the
/// latency of each from when it was handed to the runtime.
async fn admission_load(reviewer: Arc<Reviewer>, rate: u64, seconds: u64) -> Vec<Duration> {
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..1000).map(review).collect());
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..(rate * seconds) as usize {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let (reviewer, bodies) = (reviewer.clone(), bodies.clone());
        // From the moment the review is handed to the runtime: waiting for a worker thread
        // (which a busy discovery would cause) counts; the load generator's own timer lag
        // (tokio wakes sleepers up to a millisecond late) does not.
        let sent = tokio::time::Instant::now();
        tasks.push(tokio::spawn(async move {
            let reply = reviewer.review(&bodies[i % bodies.len()]).await;
            assert!(matches!(reply, attestor_admission::Reply::Review(_)));
            sent.elapsed()
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.expect("review task"));
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn summary(mut l: Vec<Duration>) -> (Duration, Duration) {
    l.sort();
    (percentile(&l, 0.50), percentile(&l, 0.99))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let digests = args.first().copied().unwrap_or(200);
    let concurrency = args.get(1).copied().unwrap_or(16);
    let rate = args.get(2).copied().unwrap_or(500) as u64;
    let host = std::env::var("ATTESTOR_BENCH_REGISTRY").map_err(
        |_| "ATTESTOR_BENCH_REGISTRY (HOST:PORT of a registry) is not set: run make bench-registry",
    )?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let key = Arc::new(SigningKey::from_pem(&std::fs::read_to_string(
        root.join("examples/keys/test-only-signing.pem"),
    )?)?);
    let public = PublicKey::from_pem(&std::fs::read_to_string(
        root.join("examples/keys/test-only-signing.pub.pem"),
    )?)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let fetcher = Fetcher::new(FetchConfig {
        allowed_networks: vec!["127.0.0.0/8".parse()?],
        proxy_from_env: false,
        ..FetchConfig::default()
    })?;
    let client = RegistryClient::new(
        fetcher,
        RegistryConfig {
            plain_http: vec![host.clone()],
            ..RegistryConfig::default()
        },
    );

    // Setup: images and their proof bundles.
    let run = std::process::id();
    let images: Vec<ImageRef> = runtime.block_on(async {
        let next = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (client, next, done, key, host) = (
                client.clone(),
                next.clone(),
                done.clone(),
                key.clone(),
                host.clone(),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= digests {
                        return;
                    }
                    let image =
                        ImageRef::parse(&format!("{host}/bench-{run}/app-{i}:1")).expect("ref");
                    let config = format!(
                        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"{run}-{i}\"}}"
                    );
                    let digest = client
                        .push_image(
                            &image,
                            config.as_bytes(),
                            &[format!("layer {i}").as_bytes()],
                            &[],
                        )
                        .await
                        .expect("push an image");
                    let zip = bundle(&key, digest);
                    let pinned = ImageRef {
                        tag: None,
                        digest: Some(digest),
                        ..image
                    };
                    client
                        .push_proof_bundle(&pinned, &zip, None, &[])
                        .await
                        .expect("push a proof bundle");
                    done.lock().await.push(pinned);
                }
            }));
        }
        for w in workers {
            w.await.expect("setup worker");
        }
        Arc::try_unwrap(done).expect("one owner").into_inner()
    });
    println!(
        "setup: {digests} images, each with a proof bundle, in {host} (refreg, 50 ms added per request)"
    );

    let reviewer = Arc::new(Reviewer {
        index: Arc::new(SharedIndex::new(index())),
        config: Config::new("attestor-system"),
        limits: Limits::default(),
        wait: Duration::ZERO,
        metrics: AdmissionMetrics::new(&Metrics::new()),
        break_glass: None,
        hand_off: None,
    });

    // 1. Admission alone.
    let alone = runtime.block_on(admission_load(reviewer.clone(), rate, LOAD_SECONDS));
    let (alone_p50, alone_p99) = summary(alone);

    // 2. Discovery of every digest, with the same admission load beside it.
    let trust = Arc::new(RegistryTrust::new(
        TrustStore::new(vec![TrustAnchor {
            name: "example-ci-signing".into(),
            material: AnchorMaterial::Key(public),
            purposes: vec![Purpose::AttestationSigning],
            not_before: None,
            expires: None,
        }]),
        Keyless::default(),
        None,
        VerifyOptions {
            at: jiff::Timestamp::now(),
            tlog: TlogPolicy::IfPresent,
            timestamps: None,
            expected_artifact: None,
        },
    ));
    let requests = Arc::new(AtomicU32::new(0));
    let verified = Arc::new(AtomicUsize::new(0));
    let images = Arc::new(images);
    let (discovery_time, during) = runtime.block_on(async {
        let load = tokio::spawn(admission_load(reviewer.clone(), rate, LOAD_SECONDS));
        let started = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let (client, next, images, trust, requests, verified) = (
                client.clone(),
                next.clone(),
                images.clone(),
                trust.clone(),
                requests.clone(),
                verified.clone(),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(image) = images.get(i) else { return };
                    let digest = image.digest.expect("pinned");
                    let found = client
                        .discover(image, &digest, &CandidateKind::ALL, &[])
                        .await
                        .expect("discover");
                    requests.fetch_add(found.requests, Ordering::Relaxed);
                    let trust = trust.clone();
                    let ok = tokio::task::spawn_blocking(move || {
                        summarize(&verify_candidates(&found, &digest, &trust)).verified
                    })
                    .await
                    .expect("verify");
                    if ok {
                        verified.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for w in workers {
            w.await.expect("discovery worker");
        }
        let discovery_time = started.elapsed();
        (discovery_time, load.await.expect("admission load"))
    });
    let (during_p50, during_p99) = summary(during);

    let verified = verified.load(Ordering::Relaxed);
    let requests = requests.load(Ordering::Relaxed) + client.token_requests();
    println!(
        "discovery: {digests} digests ({verified} verified) in {:.2} s with {concurrency} at a time (at most {} requests in flight per registry): {:.1} digests/s, {:.1} requests per digest",
        discovery_time.as_secs_f64(),
        RegistryConfig::default().max_concurrency,
        digests as f64 / discovery_time.as_secs_f64(),
        requests as f64 / digests as f64
    );
    println!(
        "admission alone:           p50 {:>8.3} ms  p99 {:>8.3} ms  ({rate} reviews/s for {LOAD_SECONDS} s, 2 worker threads, {INDEXED} verified digests)",
        alone_p50.as_secs_f64() * 1e3,
        alone_p99.as_secs_f64() * 1e3
    );
    println!(
        "admission with discovery:  p50 {:>8.3} ms  p99 {:>8.3} ms",
        during_p50.as_secs_f64() * 1e3,
        during_p99.as_secs_f64() * 1e3
    );
    let ratio = during_p99.as_secs_f64() / alone_p99.as_secs_f64().max(1e-9);
    println!(
        "admission p99 with discovery / without: {ratio:.2} (target: within 10%, or both under 1 ms){}",
        if ratio <= 1.10 || during_p99 < Duration::from_millis(1) {
            ""
        } else {
            "  OVER TARGET"
        }
    );
    if verified != digests {
        return Err(format!("only {verified} of {digests} digests verified").into());
    }
    Ok(())
}

/// A small proof bundle about `digest`, signed with the example key.
fn bundle(key: &SigningKey, digest: Sha256Digest) -> Vec<u8> {
    let manifest = json!({
        "schema": "stellaops.io/scan-manifest/v1",
        "artifactDigest": digest,
        "inputs": {"sbom": Sha256Digest::of(b"s"), "feedSnapshot": Sha256Digest::of(b"f"),
                   "vex": Sha256Digest::of(b"v"), "policy": Sha256Digest::of(b"p")},
        "createdAt": "2026-11-01T09:00:00Z",
        "deterministic": true
    });
    let spec = BundleSpec {
        manifest,
        nodes: vec![NodeInput {
            kind: "match".into(),
            parents: vec![],
            data: json!({"advisory": "GHSA-bench", "cvssTenths": 70}),
        }],
        signed_at: "2026-11-01T09:30:00Z".parse().expect("a time"),
        tools: BTreeMap::new(),
        certificates: vec![],
        transparency_log: None,
    };
    build_bundle(spec, key).expect("a bundle").zip
}
