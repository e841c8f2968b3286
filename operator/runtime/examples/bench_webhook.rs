//! `make bench-webhook`: the admission webhook's own server code (`webhook::server`, real TLS on
//! 127.0.0.1) on a runtime of ONE worker thread, with an index of 10,000 verified digests, and a
//! load generator (reqwest over HTTPS, HTTP/1.1 keep-alive, several connections) on another
//! runtime: first at a fixed rate (1,000 reviews/s for 10 s), then at saturation (5 s). Prints
//! p50/p99/p999 latency and reviews per second for each.
//!
//! Usage: bench_webhook [RATE] [FIXED_SECONDS] [SATURATION_SECONDS] [CONNECTIONS]

use std::sync::Arc;
use std::time::{Duration, Instant};

use attestor_admission::{Config, Limits};
use attestor_runtime::metrics::{AdmissionMetrics, Metrics};
use attestor_runtime::webhook::certs::{CertStore, certified_key, generate};
use attestor_runtime::webhook::index_feed::SharedIndex;
use attestor_runtime::webhook::server::{Reviewer, serve, tls_config};
use tokio_util::sync::CancellationToken;

mod support;

use support::{DIGESTS, index, review};

struct Summary {
    latencies: Vec<Duration>,
    /// From the moment the request was actually sent: tokio's timer wakes a sleeping task up to
    /// a millisecond late, which the scheduled-time latency above counts (as it should, for a
    /// server that stalls) but which is the generator's, not the webhook's.
    from_send: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

fn print(name: &str, mut s: Summary) {
    if s.from_send.len() == s.latencies.len() && !s.from_send.is_empty() {
        let from_send = Summary {
            latencies: std::mem::take(&mut s.from_send),
            from_send: Vec::new(),
            elapsed: s.elapsed,
            errors: s.errors,
        };
        print(&format!("{name}, from send"), from_send);
    }
    s.latencies.sort();
    let pct = |p: f64| {
        let i = ((s.latencies.len() as f64 * p).ceil() as usize).clamp(1, s.latencies.len()) - 1;
        s.latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<22} {:>7} reviews in {:>5.2}s = {:>8.0} req/s   p50 {:.3} ms   p99 {:.3} ms   p999 {:.3} ms   max {:.3} ms   errors {}",
        s.latencies.len(),
        s.elapsed.as_secs_f64(),
        s.latencies.len() as f64 / s.elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(0.999),
        s.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        s.errors,
    );
}

/// `connections` tasks, each sending at `rate / connections` per second (or as fast as it can
/// when `rate` is `None`) for `duration`. Latency is measured from the request's scheduled time
/// when a rate is set, so a stalled server is not hidden by the generator waiting for it.
async fn load(
    client: reqwest::Client,
    url: String,
    bodies: Arc<Vec<hyper::body::Bytes>>,
    rate: Option<u32>,
    duration: Duration,
    connections: usize,
) -> Summary {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut from_send = Vec::new();
            let mut errors = 0;
            let period = rate.map(|r| Duration::from_secs_f64(connections as f64 / f64::from(r)));
            // Spread the connections' schedules evenly over one period.
            let offset =
                period.map_or(Duration::ZERO, |p| p.mul_f64(c as f64 / connections as f64));
            let mut n: u32 = 0;
            loop {
                let scheduled = match period {
                    Some(p) => start + offset + p * n,
                    None => Instant::now(),
                };
                if scheduled.duration_since(start) >= duration {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let sent = Instant::now();
                let body = bodies[(c + n as usize * connections) % bodies.len()].clone();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(scheduled.elapsed());
                if period.is_some() {
                    from_send.push(sent.elapsed());
                }
                if !ok {
                    errors += 1;
                }
                n += 1;
            }
            (latencies, from_send, errors)
        }));
    }
    let mut summary = Summary {
        latencies: Vec::new(),
        from_send: Vec::new(),
        elapsed: Duration::ZERO,
        errors: 0,
    };
    for task in tasks {
        let (latencies, from_send, errors) = task.await.expect("load task");
        summary.latencies.extend(latencies);
        summary.from_send.extend(from_send);
        summary.errors += errors;
    }
    summary.elapsed = start.elapsed();
    summary
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let rate = arg(1, 1000) as u32;
    let fixed = Duration::from_secs(arg(2, 10));
    let saturation = Duration::from_secs(arg(3, 5));
    let connections = arg(4, 8) as usize;

    let material = generate(&["127.0.0.1".to_string()], jiff::Timestamp::now(), None)?;
    let store = Arc::new(CertStore::default());
    store.set(certified_key(
        material.cert_pem.as_bytes(),
        material.key_pem.as_bytes(),
        &rustls::crypto::ring::default_provider(),
    )?);
    let shared = Arc::new(SharedIndex::new(index()));
    shared.mark_synced();
    let metrics = Metrics::new();
    let reviewer = Arc::new(Reviewer {
        index: shared,
        config: Config::new("attestor-system"),
        limits: Limits::default(),
        wait: Duration::from_secs(3),
        metrics: AdmissionMetrics::new(&metrics),
        break_glass: None,
        hand_off: None,
    });

    // The server: the webhook's own accept loop, TLS and handler, on one thread.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let cancel = CancellationToken::new();
    let server_cancel = cancel.clone();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            serve(
                listener,
                Arc::new(tls_config(store)),
                reviewer,
                server_cancel,
            )
            .await;
        });
    });

    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    client_runtime.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(material.ca_bundle_pem.as_bytes()) {
            roots.add(cert?)?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .no_proxy()
            .pool_max_idle_per_host(connections)
            .build()?;
        let url = format!("https://{addr}/validate");
        let bodies: Arc<Vec<hyper::body::Bytes>> = Arc::new((0..1000).map(|i| review(i).into()).collect());

        let first = client.post(&url).body(bodies[0].clone()).send().await?;
        let answer: serde_json::Value = serde_json::from_slice(&first.bytes().await?)?;
        assert_eq!(answer["response"]["allowed"], true, "{answer}");
        println!(
            "webhook on {addr}: 1 server thread, {DIGESTS} verified digests, {connections} keep-alive HTTPS connections, {} byte reviews",
            bodies[0].len()
        );
        // Warm-up: connections, TLS sessions, allocator.
        load(client.clone(), url.clone(), bodies.clone(), None, Duration::from_secs(1), connections).await;
        let fixed_run = load(client.clone(), url.clone(), bodies.clone(), Some(rate), fixed, connections).await;
        print(&format!("fixed {rate} req/s"), fixed_run);
        let saturated = load(client, url, bodies, None, saturation, connections).await;
        print("saturation", saturated);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    cancel.cancel();
    let _ = server.join();
    // The handler's own time (parse, decide, answer), without TLS, HTTP and the client.
    println!("server-side admission_duration_seconds, all reviews (cumulative):");
    for line in metrics.encode().lines() {
        if let Some(rest) = line.strip_prefix("admission_duration_seconds_bucket{le=\"")
            && let Some((le, count)) = rest.split_once("\"} ")
            && ["0.0001", "0.00025", "0.0005", "0.001", "0.002", "+Inf"].contains(&le)
        {
            println!("  <= {le:>7} s: {count}");
        }
    }
    Ok(())
}
