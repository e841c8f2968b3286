//! Two `attestor run` replicas against the real API server: only the Lease holder reconciles;
//! when it is killed (SIGKILL, no goodbye) the standby takes the Lease and carries on; a replica
//! stopped with SIGTERM releases the Lease at once.
//!
//! Skips without a control plane, except under CI=true (see operator/api/tests/support).

mod cluster;

use cluster::client;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

struct Replica {
    child: Child,
    identity: String,
}

impl Replica {
    fn start(kubeconfig: &Path, lease: &str, identity: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_attestor"))
            .args([
                "run",
                "--lease-namespace",
                "default",
                "--lease-name",
                lease,
                "--identity",
                identity,
                "--lease-duration",
                "4s",
                "--lease-renew-interval",
                "1s",
                "--lease-retry-interval",
                "500ms",
                "--probe-address",
                &format!("127.0.0.1:{port}"),
                // Two replicas on one host: the webhook (tested in attestor-runtime) would
                // need two ports.
                "--webhook=false",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start attestor run");
        Replica {
            child,
            identity: identity.to_string(),
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn wait<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

fn pv_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("attestor.stellaops.io", "v1alpha1", "ProofVerification");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "proofverifications");
    Api::namespaced_with(client.clone(), ns, &resource)
}

/// A ProofVerification naming an issuer that does not exist: any running controller gives it a
/// `Verified=False IssuerNotFound` condition, which is all this test needs to see who reconciles.
async fn create_pv(api: &Api<DynamicObject>, ns: &str, name: &str) {
    let obj = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "artifactDigest": format!("sha256:{}", "ab".repeat(32)),
            "source": {"envelope": "{}"},
            "issuerRef": {"name": "failover-test-no-such-issuer"},
        },
    });
    api.patch(
        name,
        &PatchParams::apply("failover-test").force(),
        &Patch::Apply(&obj),
    )
    .await
    .expect("create ProofVerification");
}

async fn reconciled(api: &Api<DynamicObject>, name: &str) -> bool {
    api.get(name).await.ok().is_some_and(|o| {
        o.data["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["reason"] == "IssuerNotFound"))
    })
}

#[tokio::test]
async fn the_standby_takes_over_when_the_leader_dies() {
    let Some((client, kubeconfig)) = client().await else {
        return;
    };
    let lease = format!("failover-test-{}", std::process::id());
    let ns = lease.clone();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            &ns,
            &PatchParams::apply("failover-test"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            ),
        )
        .await
        .expect("namespace");
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let pvs = pv_api(&client, &ns);

    let mut a = Replica::start(&kubeconfig, &lease, "replica-a");
    wait(
        "replica-a to hold the Lease",
        Duration::from_secs(30),
        || async { holder(&leases, &lease).await.as_deref() == Some("replica-a") },
    )
    .await;
    let b = Replica::start(&kubeconfig, &lease, "replica-b");
    create_pv(&pvs, &ns, "first").await;
    wait("the leader to reconcile", Duration::from_secs(30), || {
        reconciled(&pvs, "first")
    })
    .await;
    assert_eq!(holder(&leases, &lease).await.as_deref(), Some("replica-a"));

    // SIGKILL: no release; the standby waits out the lease duration and takes over.
    let killed_at = Instant::now();
    a.child.kill().expect("kill replica-a");
    a.child.wait().unwrap();
    wait(
        "replica-b to take the Lease",
        Duration::from_secs(30),
        || async { holder(&leases, &lease).await.as_deref() == Some("replica-b") },
    )
    .await;
    let takeover = killed_at.elapsed();
    let transitions = leases
        .get(&lease)
        .await
        .unwrap()
        .spec
        .unwrap()
        .lease_transitions
        .unwrap_or(0);
    assert!(transitions >= 1, "leaseTransitions is {transitions}");
    create_pv(&pvs, &ns, "second").await;
    wait(
        "the new leader to reconcile",
        Duration::from_secs(30),
        || reconciled(&pvs, "second"),
    )
    .await;
    println!("standby took over {takeover:?} after the leader was killed (lease 4s)");

    // SIGTERM: the leader stops reconciling, releases the Lease and exits 0.
    let mut b = b;
    let status = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = b.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "replica-b did not exit on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "attestor run exited with {exit} on SIGTERM");
    assert_eq!(
        holder(&leases, &lease).await,
        None,
        "the Lease was not released"
    );
    assert_eq!(b.identity, "replica-b");
    drop(b);

    let _ = leases.delete(&lease, &DeleteParams::default()).await;
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
