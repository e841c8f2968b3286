//! The real API server for the CLI's cluster tests: a client from `KUBECONFIG` or the local
//! control plane's `e2e/kubeconfig`. Without one the tests skip (printing why), except under
//! `CI=true`, where they fail: CI must not skip them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn kubeconfig() -> Option<PathBuf> {
    let path = match std::env::var_os("KUBECONFIG") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v).next()?,
        _ => repo_root().join("e2e/kubeconfig"),
    };
    path.exists().then_some(path)
}

/// A client and the kubeconfig it came from (for the `attestor` processes a test starts).
pub async fn client() -> Option<(Client, PathBuf)> {
    let skip = |why: &str| {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("no control plane ({why}): run make cluster-up; CI must not skip");
        }
        println!("skipping: no control plane ({why})");
        None
    };
    let Some(path) = kubeconfig() else {
        return skip("no kubeconfig");
    };
    let kc = Kubeconfig::read_from(&path).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => Some((client, path)),
        _ => skip("API server does not answer"),
    }
}
