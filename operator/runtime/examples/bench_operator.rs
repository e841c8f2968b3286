//! `make bench-operator` drives this: create N ProofVerifications at once in a namespace that
//! already holds the ConfigMap `proof-bundles` and whose issuer `example-ci` exists, wait until all
//! are `Verified=True`, and print the time it took, the API requests the operator made (from its
//! `/metrics`) and its peak RSS (from `/proc/<pid>/status`).
//!
//! Usage: bench_operator <namespace> <count> <operator-pid> <metrics-url> <artifact-digest>

use std::time::{Duration, Instant};

use attestor_api::ProofVerification;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, namespace, count, pid, metrics_url, digest] = args.as_slice() else {
        return Err(
            "usage: bench_operator <namespace> <count> <operator-pid> <metrics-url> <artifact-digest>"
                .into(),
        );
    };
    let count: usize = count.parse()?;
    let client = kube::Client::try_default().await?;
    let api: Api<ProofVerification> = Api::namespaced(client, namespace);
    let requests_before = api_requests(metrics_url).await?;

    let started = Instant::now();
    let watch = {
        let api = api.clone();
        tokio::spawn(async move { wait_all_verified(api, count).await })
    };
    futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            let digest = digest.clone();
            async move {
                let pv: ProofVerification = serde_json::from_value(serde_json::json!({
                    "apiVersion": "attestor.stellaops.io/v1alpha1",
                    "kind": "ProofVerification",
                    "metadata": {"name": format!("bench-{i:05}"), "labels": {"bench": "operator"}},
                    "spec": {
                        "artifactDigest": digest,
                        "image": "registry.example/shop/cart:1.4.2",
                        "source": {"configMapKeyRef": {"name": "proof-bundles", "key": "valid.zip"}},
                        "issuerRef": {"name": "example-ci"},
                    }
                }))?;
                api.create(&PostParams::default(), &pv).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| format!("creating ProofVerifications: {e}"))?;
    let created = started.elapsed();
    watch.await?.map_err(|e| e.to_string())?;
    let all_verified = started.elapsed();
    let requests = api_requests(metrics_url).await? - requests_before;
    let rss = peak_rss_kib(pid)?;

    println!("proof verifications:        {count}");
    println!("created in:                 {:.1} s", created.as_secs_f64());
    println!(
        "all Verified=True after:    {:.1} s",
        all_verified.as_secs_f64()
    );
    println!(
        "throughput:                 {:.0} verifications/s",
        count as f64 / all_verified.as_secs_f64()
    );
    println!(
        "operator API requests:      {requests:.0} ({:.2} per verification, watches included)",
        requests / count as f64
    );
    println!("operator peak RSS:          {:.1} MiB", rss as f64 / 1024.0);
    Ok(())
}

async fn wait_all_verified(
    api: Api<ProofVerification>,
    count: usize,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let is_verified = |pv: &ProofVerification| {
        pv.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Verified" && c.status == "True")
        })
    };
    let mut verified = std::collections::HashSet::new();
    let config = watcher::Config::default().labels("bench=operator");
    let mut stream = std::pin::pin!(watcher(api.clone(), config).applied_objects());
    let deadline = tokio::time::sleep(Duration::from_secs(1800));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Err(format!("only {} of {count} verified after 30 minutes", verified.len()).into()),
            item = stream.next() => match item {
                Some(Ok(pv)) => {
                    if is_verified(&pv) {
                        verified.insert(kube::ResourceExt::name_any(&pv));
                    }
                    if verified.len() >= count {
                        let listed = api.list(&ListParams::default().labels("bench=operator")).await?;
                        if listed.items.iter().filter(|p| is_verified(p)).count() >= count {
                            return Ok(());
                        }
                    }
                }
                Some(Err(e)) => eprintln!("watch: {e} (retrying)"),
                None => return Err("watch ended".into()),
            }
        }
    }
}

/// Sum of `attestor_kube_api_requests_total` over its labels.
async fn api_requests(metrics_url: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let body = http_get(metrics_url).await?;
    Ok(body
        .lines()
        .filter(|l| l.starts_with("attestor_kube_api_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// A minimal HTTP/1.1 GET over loopback (the metrics endpoint is plain HTTP).
async fn http_get(url: &str) -> Result<String, Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or("metrics URL must be http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body)
}

fn peak_rss_kib(pid: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/<pid>/status".into())
}
