//! Test harness for the real API server: a client from `KUBECONFIG` or `e2e/kubeconfig`,
//! installation of the CRDs from `crds/`, and server-side apply of YAML documents.
//!
//! Without a control plane the tests skip (printing one line), except in CI (`CI=true`), where
//! they fail and say how to start one.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::{Client, Config};
use serde_json::Value;

/// The field manager of everything the tests apply.
pub const MANAGER: &str = "attestor-api-tests";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The kubeconfig to use: `$KUBECONFIG` when set (its first file), else `e2e/kubeconfig` of
/// this repository; `Err` says which file does not exist.
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

fn no_control_plane(detail: &str) -> Option<Client> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "no control plane ({detail}): run `make cluster-up` (e2e/cluster.sh up) before the tests; \
             CI must not skip the API server tests"
        );
    }
    println!("skipping: no control plane (run make cluster-up)");
    None
}

/// A client for the test control plane, or `None` (after printing why) when there is none
/// outside CI. Panics in CI when there is none.
pub async fn client() -> Option<Client> {
    let path = match kubeconfig_path() {
        Ok(path) => path,
        Err(detail) => return no_control_plane(&detail),
    };
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("{}: not a kubeconfig: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: unusable kubeconfig: {e}", path.display()));
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).expect("client from kubeconfig");
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => Some(client),
        Ok(Err(e)) => no_control_plane(&format!(
            "{server} from {} does not answer: {e}",
            path.display()
        )),
        Err(_) => no_control_plane(&format!(
            "{server} from {} did not answer within 10s",
            path.display()
        )),
    }
}

/// Parses a multi-document YAML file into JSON values, skipping empty documents.
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The `*.yaml` files of a directory, sorted by name (the order kubectl applies them in).
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// Applies the CRDs of `crds/` (what users install) with server-side apply and waits until the
/// API server serves them.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for path in yaml_files(&repo_root().join("crds")) {
        for doc in yaml_documents(&path) {
            let crd: CustomResourceDefinition = serde_json::from_value(doc)
                .unwrap_or_else(|e| panic!("{}: not a CRD: {e}", path.display()));
            let name = crd.metadata.name.clone().expect("CRD name");
            api.patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap_or_else(|e| panic!("applying {}: {e}", path.display()));
            names.push(name);
        }
    }
    assert_eq!(names.len(), 4, "crds/ should hold the four CRDs");
    for name in names {
        wait_established(&api, &name).await;
    }
}

async fn wait_established(api: &Api<CustomResourceDefinition>, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let crd = api.get(name).await.expect("get CRD");
        let established = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "CRD {name} not Established after 60s: {:?}",
            crd.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The dynamic API for an object's kind, in its namespace when the kind is namespaced.
pub async fn api_for(client: &Client, obj: &DynamicObject) -> Api<DynamicObject> {
    let types = obj.types.as_ref().expect("apiVersion and kind");
    let gvk = GroupVersionKind::try_from(types).expect("apiVersion");
    let (ar, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("kind {gvk:?} is not served: {e}"));
    if caps.scope == kube::discovery::Scope::Namespaced {
        let ns = obj
            .metadata
            .namespace
            .as_deref()
            .unwrap_or_else(|| panic!("{gvk:?} is namespaced: set metadata.namespace"));
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    }
}

/// Server-side applies one object (strict field validation, as `kubectl apply --server-side`).
pub async fn apply(client: &Client, doc: &Value, dry_run: bool) -> kube::Result<DynamicObject> {
    let obj: DynamicObject = serde_json::from_value(doc.clone()).expect("a Kubernetes object");
    let name = obj.metadata.name.clone().expect("metadata.name");
    let api = api_for(client, &obj).await;
    let mut params = PatchParams::apply(MANAGER).force();
    params.dry_run = dry_run;
    params.field_validation = Some(ValidationDirective::Strict);
    api.patch(&name, &params, &Patch::Apply(&obj)).await
}
