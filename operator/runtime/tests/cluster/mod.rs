//! Harness for tests against the real API server: a client from `KUBECONFIG` or `e2e/kubeconfig`,
//! the CRDs installed, the operator running in this process (on its own thread and runtime, shared
//! by every test of the binary), and helpers to apply YAML and wait for conditions.
//!
//! Without a control plane the tests skip (printing one line), except in CI (`CI=true`), where
//! they fail and say how to start one.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use attestor_runtime::controllers::Settings;
use attestor_runtime::fetch::{FetchConfig, RetryPolicy};
use attestor_runtime::metrics::Metrics;
use attestor_runtime::operator::{OperatorConfig, run_with};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::{Client, Config};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const MANAGER: &str = "attestor-runtime-tests";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn kubeconfig_path() -> Result<PathBuf, String> {
    let path = match std::env::var_os("KUBECONFIG") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v)
            .next()
            .ok_or_else(|| "$KUBECONFIG names no file".to_string())?,
        _ => repo_root().join("e2e/kubeconfig"),
    };
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

fn no_control_plane(detail: &str) -> Option<Config> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "no control plane ({detail}): run `make cluster-up` before the tests; CI must not skip the API server tests"
        );
    }
    println!("skipping: no control plane (run make cluster-up)");
    None
}

/// The kube config of the test control plane, or `None` (after printing why) outside CI.
pub async fn config() -> Option<Config> {
    let path = match kubeconfig_path() {
        Ok(p) => p,
        Err(detail) => return no_control_plane(&detail),
    };
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("{}: not a kubeconfig: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: unusable kubeconfig: {e}", path.display()));
    let client = Client::try_from(config.clone()).expect("client");
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => Some(config),
        Ok(Err(e)) => no_control_plane(&format!("{} does not answer: {e}", config.cluster_url)),
        Err(_) => no_control_plane(&format!("{} did not answer in 10s", config.cluster_url)),
    }
}

/// A client for this test's runtime, with the CRDs installed and the shared operator running;
/// `None` when there is no control plane (outside CI).
pub async fn setup() -> Option<Client> {
    let config = config().await?;
    let client = Client::try_from(config.clone()).expect("client");
    install_crds(&client).await;
    operator(config);
    Some(client)
}

pub async fn install_crds(client: &Client) {
    let dir = repo_root().join("crds");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("crds/")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        apply_file(client, &f).await;
    }
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for name in [
        "trustanchors",
        "trustedissuers",
        "proofverifications",
        "replayjobs",
    ] {
        let name = format!("{name}.attestor.stellaops.io");
        wait_until(
            Duration::from_secs(60),
            &format!("CRD {name} established"),
            || async {
                crds.get(&name)
                    .await
                    .ok()
                    .and_then(|c| c.status)
                    .is_some_and(|s| {
                        s.conditions
                            .unwrap_or_default()
                            .iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
            },
        )
        .await;
    }
}

/// The port of the shared operator's /metrics.
pub fn metrics_port() -> u16 {
    OPERATOR.get().expect("operator started").0
}

static OPERATOR: OnceLock<(u16, CancellationToken)> = OnceLock::new();

/// Starts the operator once per test binary, on a thread of its own (each test has its own
/// runtime, which ends with the test).
fn operator(config: Config) {
    OPERATOR.get_or_init(|| {
        let port = free_port();
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("operator runtime");
            runtime.block_on(async move {
                let metrics = Arc::new(Metrics::new());
                let client =
                    attestor_runtime::kube_client::client_from_config(config, metrics.clone())
                        .expect("operator client");
                let config = OperatorConfig {
                    probe_addr: format!("127.0.0.1:{port}").parse().unwrap(),
                    lease: None,
                    settings: Settings {
                        max_bundle_bytes: 1024 * 1024,
                        concurrency: 8,
                        identity: "runtime-tests".into(),
                        replay_feed_poll: Duration::from_secs(1),
                        source_poll: Duration::from_secs(1),
                        allow_file_stores: true,
                        registry: registry_config(),
                        // Quick, so the discovery test sees removals within its wait.
                        discovery: Some(
                            attestor_runtime::controllers::discovery::DiscoverySettings {
                                gc_after: DISCOVERY_GC_AFTER,
                                resync: Duration::from_secs(1),
                            },
                        ),
                    },
                    fetch: FetchConfig {
                        connect_timeout: Duration::from_secs(2),
                        timeout: Duration::from_secs(5),
                        retry: RetryPolicy {
                            attempts: 2,
                            base_delay: Duration::from_millis(50),
                            max_delay: Duration::from_millis(200),
                        },
                        proxy_from_env: false,
                        // The tests' bundle servers listen on loopback, denied by default.
                        allowed_networks: vec![
                            "127.0.0.0/8".parse().unwrap(),
                            "::1".parse().unwrap(),
                        ],
                        ..FetchConfig::default()
                    },
                    shutdown_grace: Duration::from_secs(5),
                    webhook: None,
                };
                if let Err(e) = run_with(config, client, metrics, token).await {
                    panic!("operator stopped: {e}");
                }
            });
        });
        (port, cancel)
    });
}

/// How long the in-process operator keeps a discovered ProofVerification nothing uses.
pub const DISCOVERY_GC_AFTER: Duration = Duration::from_secs(5);

/// A loopback port the tests may serve a registry (or a proxy to one) on, spoken to over plain
/// HTTP by the operator like the local registries of `e2e/registry.sh`.
pub fn registry_proxy_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(free_port)
}

/// The operator's registry settings: plain HTTP to the local registries (from
/// `e2e/registry.sh env`) and to [`registry_proxy_port`], and quick retries so that an outage
/// is seen in seconds.
fn registry_config() -> attestor_runtime::registry::RegistryConfig {
    let mut plain_http: Vec<String> = ["ATTESTOR_REGISTRY_PLAIN", "ATTESTOR_REGISTRY_REFERRERS"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .filter(|v| !v.is_empty())
        .collect();
    plain_http.push(format!("127.0.0.1:{}", registry_proxy_port()));
    attestor_runtime::registry::RegistryConfig {
        plain_http,
        retry: RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        },
        max_wait: Duration::from_secs(1),
        ..Default::default()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this test run, for cluster-scoped objects that tests must not share.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Applies every document of a YAML file with server-side apply.
pub async fn apply_file(client: &Client, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    apply_yaml(client, &text).await;
}

/// Applies every document of a YAML text with server-side apply.
pub async fn apply_yaml(client: &Client, text: &str) {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("YAML documents");
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        apply(client, doc).await;
    }
}

fn api_for(client: &Client, obj: &Value) -> (Api<DynamicObject>, String) {
    let api_version = obj["apiVersion"].as_str().expect("apiVersion");
    let kind = obj["kind"].as_str().expect("kind");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let plural = match kind {
        "TrustAnchor" => "trustanchors".to_string(),
        "TrustedIssuer" => "trustedissuers".to_string(),
        "ProofVerification" => "proofverifications".to_string(),
        "ReplayJob" => "replayjobs".to_string(),
        "CustomResourceDefinition" => "customresourcedefinitions".to_string(),
        other => format!("{}s", other.to_ascii_lowercase()),
    };
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let name = obj["metadata"]["name"].as_str().expect("name").to_string();
    let api = match obj["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    (api, name)
}

/// Server-side applies one object given as JSON.
pub async fn apply(client: &Client, obj: Value) {
    let (api, name) = api_for(client, &obj);
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {} {name}: {e}", obj["kind"]));
}

/// Deletes one object given as JSON (its apiVersion, kind, name and namespace).
pub async fn delete(client: &Client, obj: &Value) {
    let (api, name) = api_for(client, obj);
    let _ = api.delete(&name, &Default::default()).await;
}

/// Polls `check` every 250 ms until it is true; panics after `timeout` naming `what`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The `type` condition of an object's status.
pub fn condition(obj: &DynamicObject, type_: &str) -> Option<Condition> {
    let conditions = obj.data.get("status")?.get("conditions")?.as_array()?;
    conditions
        .iter()
        .find(|c| c["type"] == type_)
        .and_then(|c| serde_json::from_value(c.clone()).ok())
}

/// Waits until the object's `type` condition has `status` (and `reason`, when given), and
/// returns it; on timeout the panic shows the object's last status.
pub async fn wait_condition(
    client: &Client,
    obj: &Value,
    type_: &str,
    status: &str,
    reason: Option<&str>,
    timeout: Duration,
) -> Condition {
    let (api, name) = api_for(client, obj);
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < timeout {
        if let Ok(current) = api.get(&name).await {
            if let Some(c) = condition(&current, type_)
                && c.status == status
                && reason.is_none_or(|r| c.reason == r)
            {
                return c;
            }
            last = current.data.get("status").cloned();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "{} {name}: {type_} did not become {status} {reason:?} within {timeout:?}; last status: {}",
        obj["kind"],
        serde_json::to_string_pretty(&last).unwrap_or_default()
    );
}

/// Fetches the object's current state.
pub async fn get(client: &Client, obj: &Value) -> DynamicObject {
    let (api, name) = api_for(client, obj);
    api.get(&name).await.expect("get")
}

/// Scrapes the shared operator's /metrics.
pub async fn scrape_metrics() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", metrics_port()))
        .await
        .expect("connect to /metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

/// A file of the repository's examples/.
pub fn example(path: &str) -> PathBuf {
    repo_root().join("examples").join(path)
}

pub fn read_example(path: &str) -> Vec<u8> {
    std::fs::read(example(path)).unwrap_or_else(|e| panic!("examples/{path}: {e}"))
}
