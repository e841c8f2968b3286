//! `attestor doctor`, `attestor trust-anchors list` and `attestor verifications list` against
//! the real API server: the test seeds an expired TrustAnchor and a failing ProofVerification
//! (statuses written through the status subresource, as the operator would write them, so the
//! test does not depend on an operator running) and asserts that doctor reports both with
//! their fixes and exits 1, and that the views show them.
//!
//! Skips without a control plane, except under CI=true (see operator/api/tests/support).

mod cluster;

use cluster::{client, repo_root};
use std::path::Path;
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

fn api(client: &Client, kind: &str, plural: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("attestor.stellaops.io", "v1alpha1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1})
}

fn attestor(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attestor"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run attestor")
}

#[tokio::test]
async fn doctor_reports_an_expired_anchor_and_a_failing_proof_with_fixes() {
    let Some((client, kubeconfig)) = client().await else {
        return;
    };
    let id = format!(
        "doctor-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let anchor = format!("{id}-expired");
    let ns = id.clone();
    let pp = PatchParams::apply("attestor-doctor-test").force();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("create namespace");

    // An anchor that expired yesterday (an operator, if one runs, concludes the same).
    let key = std::fs::read_to_string(repo_root().join("examples/keys/test-only-signing.pub.pem"))
        .expect("test key");
    let anchors = api(&client, "TrustAnchor", "trustanchors", None);
    let ta: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor",
        "metadata": {"name": anchor},
        "spec": {"publicKey": key, "expires": "2026-01-01T00:00:00Z"}
    }))
    .unwrap();
    anchors
        .patch(&anchor, &pp, &Patch::Apply(&ta))
        .await
        .expect("apply TrustAnchor");
    let ta_status = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor",
        "status": {"conditions": [
            condition("Ready", "False", "Expired", "the anchor expired at 2026-01-01T00:00:00Z"),
            condition("ExpiringSoon", "False", "NotExpiringSoon", "already expired: see Ready"),
        ], "notAfter": "2026-01-01T00:00:00Z"}
    });
    anchors
        .patch_status(&anchor, &pp, &Patch::Apply(&ta_status))
        .await
        .expect("write TrustAnchor status");

    // A ProofVerification naming an issuer that does not exist.
    let pvs = api(
        &client,
        "ProofVerification",
        "proofverifications",
        Some(&ns),
    );
    let pv: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "ProofVerification",
        "metadata": {"name": "cart", "namespace": ns},
        "spec": {
            "artifactDigest": "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822",
            "image": "registry.example/shop/cart:1.4.2",
            "source": {"configMapKeyRef": {"name": "proof-bundles", "key": "valid.zip"}},
            "issuerRef": {"name": format!("{id}-missing-issuer")}
        }
    }))
    .unwrap();
    pvs.patch("cart", &pp, &Patch::Apply(&pv))
        .await
        .expect("apply ProofVerification");
    let pv_status = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "ProofVerification",
        "status": {"conditions": [
            condition("Verified", "False", "IssuerNotFound",
                      &format!("TrustedIssuer {id}-missing-issuer does not exist")),
        ]}
    });
    pvs.patch_status("cart", &pp, &Patch::Apply(&pv_status))
        .await
        .expect("write ProofVerification status");

    let doctor = attestor(&kubeconfig, &["doctor", "--namespace", &ns]);
    let no_lease = attestor(
        &kubeconfig,
        &[
            "doctor",
            "--namespace",
            &ns,
            "--lease-name",
            &format!("{id}-no-lease"),
        ],
    );
    let anchors_list = attestor(&kubeconfig, &["trust-anchors", "list"]);
    let failed_list = attestor(
        &kubeconfig,
        &["verifications", "list", "--failed", "-n", &ns],
    );
    let unreachable = Command::new(env!("CARGO_BIN_EXE_attestor"))
        .args(["doctor"])
        .env("KUBECONFIG", repo_root().join("no-such-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run attestor");

    // Clean up before asserting, so that a failed assertion leaves nothing behind.
    let _ = anchors.delete(&anchor, &DeleteParams::default()).await;
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;

    let out = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "doctor must exit 1:\n{out}");
    // The message may be the test's or, when an operator runs against the same cluster, the
    // operator's own (it concludes the same reason); the reason and the fix are what count.
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("FAIL  TrustAnchor {anchor}: not Ready: Expired: ")))
        .unwrap_or_else(|| panic!("the expired anchor is reported:\n{out}"));
    assert!(
        lines[at + 1].starts_with("      fix: add the successor TrustAnchor"),
        "with its fix:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "FAIL  ProofVerifications IssuerNotFound: 1 failing in namespace {ns}: {ns}/cart"
        )) && out.contains("fix: create the TrustedIssuer named in spec.issuerRef"),
        "the failing proof grouped by reason, with its fix:\n{out}"
    );
    assert!(out.contains("problem(s)"), "{out}");

    let out = String::from_utf8_lossy(&anchors_list.stdout);
    assert_eq!(anchors_list.status.code(), Some(0));
    let line = out
        .lines()
        .find(|l| l.starts_with(&anchor))
        .unwrap_or_else(|| panic!("{anchor} listed:\n{out}"));
    assert!(
        line.contains("False") && line.contains("Expired") && line.contains("expired "),
        "{line}"
    );

    let out = String::from_utf8_lossy(&failed_list.stdout);
    assert_eq!(failed_list.status.code(), Some(0));
    assert!(out.starts_with("NAMESPACE "), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&ns) && l.contains("cart") && l.contains("IssuerNotFound")),
        "{out}"
    );

    assert_eq!(
        unreachable.status.code(),
        Some(2),
        "no cluster is exit 2: {}",
        String::from_utf8_lossy(&unreachable.stderr)
    );
    // The missing kubeconfig is named once, as it is, with what to do.
    let missing = repo_root().join("no-such-kubeconfig");
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot reach the cluster: the kubeconfig {} cannot be read: ",
            missing.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches(&*missing.to_string_lossy()).count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("set KUBECONFIG"), "{stderr}");
    assert!(!stderr.contains("'\""), "{stderr}");

    // Without a leader-election Lease (as with attestor run --leader-elect=false), the Lease
    // finding says what the objects show instead of "not found".
    let no_lease_out = String::from_utf8_lossy(&no_lease.stdout);
    let lease = no_lease_out
        .lines()
        .find(|l| l.contains(&format!("Lease {id}-no-lease: ")))
        .unwrap_or_else(|| panic!("a finding for the Lease:\n{no_lease_out}"));
    assert!(lease.contains("no leader-election Lease"), "{lease}");
}
