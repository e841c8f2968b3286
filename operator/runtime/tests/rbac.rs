//! The operator under exactly the chart's RBAC, against the real API server: the chart's
//! ServiceAccount, ClusterRole, Role and bindings (rendered by helm from
//! charts/attestor-operator) are applied, the operator runs in this process with a token of that
//! ServiceAccount (leader election and the self-signed webhook included), and the test checks
//! that proofs from a ConfigMap and from a Secret verify, that a change of either re-verifies,
//! that nothing of a Secret reaches status or Events, and that the ServiceAccount can list or
//! watch no ConfigMap or Secret.
//!
//! This binary does not start the shared operator of the other API server tests (no
//! `cluster::setup`), so whatever reconciles here is the operator under the chart's RBAC; the
//! Events' reportingInstance proves it.

mod cluster;

use std::sync::Arc;
use std::time::Duration;

use attestor_runtime::controllers::Settings;
use attestor_runtime::fetch::FetchConfig;
use attestor_runtime::leader::LeaseConfig;
use attestor_runtime::metrics::Metrics;
use attestor_runtime::operator::{OperatorConfig, run_with};
use attestor_runtime::webhook::{CertMode, WebhookConfig, certs};
use base64::Engine as _;
use cluster::{apply, apply_yaml, delete, get, read_example, unique, wait_condition, wait_until};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams, WatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `helm template` of the chart's RBAC and ServiceAccount, or `None` (outside CI) without helm.
fn render_rbac(release_ns: &str, fullname: &str) -> Option<String> {
    let root = cluster::repo_root();
    let helm = match std::env::var("HELM") {
        Ok(h) if !h.is_empty() => h,
        _ => {
            let out = std::process::Command::new(root.join("e2e/helm.sh")).output();
            match out {
                Ok(o) if o.status.success() => {
                    String::from_utf8(o.stdout).unwrap().trim().to_string()
                }
                other => {
                    if std::env::var("CI").as_deref() == Ok("true") {
                        panic!("no helm (e2e/helm.sh): {other:?}");
                    }
                    println!("skipping: no helm (e2e/helm.sh builds it from e2e/go/helm)");
                    return None;
                }
            }
        }
    };
    let out = std::process::Command::new(helm)
        .arg("template")
        .arg("rbac-test")
        .arg(root.join("charts/attestor-operator"))
        .args(["--namespace", release_ns])
        .args(["--set", &format!("fullnameOverride={fullname}")])
        .args(["--show-only", "templates/rbac.yaml"])
        .args(["--show-only", "templates/serviceaccount.yaml"])
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// A client that authenticates with a fresh token of the ServiceAccount `ns/name`, and nothing
/// else (the admin's client certificate is dropped).
async fn service_account_client(
    admin: &Client,
    admin_config: &kube::Config,
    ns: &str,
    name: &str,
) -> kube::Config {
    let sa: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = sa
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("a ServiceAccount token")
        .status
        .expect("token status")
        .token;
    let mut config = admin_config.clone();
    config.auth_info = serde_json::from_value(json!({"token": token})).unwrap();
    config
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>, what: &str) {
    match result {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

fn anchor(name: &str, key: &str, purpose: &str) -> Value {
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor",
        "metadata": {"name": name},
        "spec": {"publicKey": String::from_utf8(read_example(key)).unwrap(), "purposes": [purpose]},
    })
}

fn verification(ns: &str, name: &str, issuer: &str, source: Value) -> Value {
    let text = String::from_utf8(read_example("30-proofverifications.yaml")).unwrap();
    let digest = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("artifactDigest: "))
        .unwrap()
        .to_string();
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "artifactDigest": digest,
            "image": "registry.example/shop/cart:1.4.2",
            "source": source,
            "issuerRef": {"name": issuer},
        },
    })
}

#[tokio::test]
async fn the_operator_works_under_the_charts_rbac_and_cannot_list_secrets() {
    let Some(admin_config) = cluster::config().await else {
        return;
    };
    let admin = Client::try_from(admin_config.clone()).unwrap();
    cluster::install_crds(&admin).await;
    let release_ns = unique("rbac-operator");
    let fullname = unique("attestor-rbac");
    let Some(rbac) = render_rbac(&release_ns, &fullname) else {
        return;
    };
    let ns = unique("rbac-shop");
    for n in [&release_ns, &ns] {
        apply(
            &admin,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}),
        )
        .await;
    }
    apply_yaml(&admin, &rbac).await;
    let rbac_objects: Vec<Value> = serde_saphyr::from_multiple(&rbac).unwrap();
    let config = service_account_client(&admin, &admin_config, &release_ns, &fullname).await;
    let sa = Client::try_from(config.clone()).unwrap();

    // What the chart grants: get on named objects, never a list or a watch.
    let all_secrets: Api<Secret> = Api::all(sa.clone());
    forbidden(
        all_secrets.list(&ListParams::default()).await,
        "list every Secret",
    );
    forbidden(
        all_secrets
            .watch(&WatchParams::default(), "0")
            .await
            .map(|_| ()),
        "watch every Secret",
    );
    forbidden(
        Api::<Secret>::namespaced(sa.clone(), &ns)
            .list(&ListParams::default())
            .await,
        "list the Secrets of a namespace",
    );
    forbidden(
        Api::<Secret>::namespaced(sa.clone(), &release_ns)
            .list(&ListParams::default())
            .await,
        "list the Secrets of its own namespace",
    );
    forbidden(
        Api::<ConfigMap>::all(sa.clone())
            .list(&ListParams::default())
            .await,
        "list every ConfigMap",
    );
    forbidden(
        Api::<ConfigMap>::all(sa.clone())
            .watch(&WatchParams::default(), "0")
            .await
            .map(|_| ()),
        "watch every ConfigMap",
    );
    // The webhook configuration: only the chart's own, listed or watched by name (the field
    // selector is what lets resourceNames authorise a list or a watch).
    let vwcs: Api<ValidatingWebhookConfiguration> = Api::all(sa.clone());
    let by_name = format!("metadata.name={fullname}");
    vwcs.list(&ListParams::default().fields(&by_name))
        .await
        .expect("list its webhook configuration by name");
    vwcs.watch(&WatchParams::default().fields(&by_name).timeout(1), "0")
        .await
        .map(|_| ())
        .expect("watch its webhook configuration by name");
    forbidden(
        vwcs.list(&ListParams::default()).await,
        "list every ValidatingWebhookConfiguration",
    );
    forbidden(
        vwcs.watch(&WatchParams::default(), "0").await.map(|_| ()),
        "watch every ValidatingWebhookConfiguration",
    );

    // Discovery: the Pods' images and the webhook's hand-off Events, read cluster-wide.
    Api::<k8s_openapi::api::core::v1::Pod>::all(sa.clone())
        .list(&ListParams::default().limit(1))
        .await
        .expect("list Pods (discovery)");
    Api::<Event>::all(sa.clone())
        .watch(
            &WatchParams::default()
                .fields(&format!(
                    "reason={}",
                    attestor_runtime::discovery::HAND_OFF_REASON
                ))
                .timeout(1),
            "0",
        )
        .await
        .map(|_| ())
        .expect("watch DiscoveryRequested Events (discovery)");

    // Trust: the example signing, Ed25519 and log keys, an approved issuer.
    let anchors = [
        anchor(
            &format!("{ns}-signing"),
            "keys/test-only-signing.pub.pem",
            "AttestationSigning",
        ),
        anchor(
            &format!("{ns}-ed25519"),
            "keys/test-only-signing-ed25519.pub.pem",
            "AttestationSigning",
        ),
        anchor(
            &format!("{ns}-log"),
            "keys/test-only-log.pub.pem",
            "TransparencyLog",
        ),
    ];
    for a in &anchors {
        apply(&admin, a.clone()).await;
    }
    let issuer = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer",
        "metadata": {"name": ns},
        "spec": {
            "issuer": format!("https://ci.example/{ns}"),
            "anchors": anchors.iter().map(|a| a["metadata"]["name"].clone()).collect::<Vec<_>>(),
            "scope": {"images": ["registry.example/shop/*"]},
            "approval": {"approvedBy": "rbac-test", "reason": "test fixture"},
        },
    });
    apply(&admin, issuer.clone()).await;
    let valid = read_example("bundles/valid.zip");
    let tampered = read_example("bundles/tampered-signature.zip");
    let config_map = |bundle: &[u8]| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bundles", "namespace": ns},
               "binaryData": {"proof.zip": b64(bundle)}})
    };
    // The Secret also holds credentials, whose names and values must never be shown.
    let secret = |bundle: &[u8]| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault", "namespace": ns},
               "data": {"proof.zip": b64(bundle), "db-password": b64(b"hunter2-do-not-show"),
                        "aws-secret-access-key": b64(b"wJalrXUtnFEMI-do-not-show")}})
    };
    apply(&admin, config_map(&valid)).await;
    apply(&admin, secret(&valid)).await;
    let by_key = |name: &str, kind: &str, object: &str, key: &str| {
        verification(
            &ns,
            name,
            ns.as_str(),
            json!({kind: {"name": object, "key": key}}),
        )
    };
    let from_cm = by_key("from-configmap", "configMapKeyRef", "bundles", "proof.zip");
    let from_secret = by_key("from-secret", "secretKeyRef", "vault", "proof.zip");
    let missing_key = by_key("secret-missing-key", "secretKeyRef", "vault", "bundle.zip");
    let not_a_proof = by_key("secret-not-a-proof", "secretKeyRef", "vault", "db-password");
    let not_an_envelope = {
        let mut pv = by_key(
            "secret-not-an-envelope",
            "secretKeyRef",
            "vault",
            "db-password",
        );
        pv["spec"]["source"]["format"] = json!("Envelope");
        pv
    };
    for pv in [
        &from_cm,
        &from_secret,
        &missing_key,
        &not_a_proof,
        &not_an_envelope,
    ] {
        apply(&admin, pv.clone()).await;
    }

    // The operator, with the chart's identity and nothing else.
    let identity = unique("rbac-operator");
    let cancel = CancellationToken::new();
    let operator = {
        let (cancel, identity, release_ns, fullname) = (
            cancel.clone(),
            identity.clone(),
            release_ns.clone(),
            fullname.clone(),
        );
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let metrics = Arc::new(Metrics::new());
                let client =
                    attestor_runtime::kube_client::client_from_config(config, metrics.clone())
                        .unwrap();
                let mut lease =
                    LeaseConfig::new(release_ns.clone(), fullname.clone(), identity.clone());
                lease.retry_interval = Duration::from_millis(500);
                let config = OperatorConfig {
                    probe_addr: format!("127.0.0.1:{}", cluster::free_port())
                        .parse()
                        .unwrap(),
                    lease: Some(lease),
                    settings: Settings {
                        max_bundle_bytes: 1024 * 1024,
                        concurrency: 4,
                        identity: identity.clone(),
                        replay_feed_poll: Duration::from_secs(1),
                        source_poll: Duration::from_secs(1),
                        allow_file_stores: true,
                        registry: Default::default(),
                        discovery: Some(Default::default()),
                    },
                    fetch: FetchConfig {
                        proxy_from_env: false,
                        ..FetchConfig::default()
                    },
                    shutdown_grace: Duration::from_secs(5),
                    webhook: Some(WebhookConfig {
                        address: format!("127.0.0.1:{}", cluster::free_port())
                            .parse()
                            .unwrap(),
                        cert_mode: CertMode::SelfSigned {
                            configuration: fullname.clone(),
                            secret: format!("{fullname}-webhook-tls"),
                            names: certs::subject_alt_names(
                                &format!("{fullname}-webhook"),
                                &release_ns,
                                &["127.0.0.1".to_string()],
                            ),
                        },
                        namespace: release_ns.clone(),
                        allow_break_glass: false,
                        shared_proof_namespaces: Vec::new(),
                        admission_wait: Duration::from_secs(1),
                        identity,
                        cert_interval: Duration::from_secs(1),
                    }),
                };
                run_with(config, client, metrics, cancel).await.unwrap();
            });
        })
    };

    // Leader election and the self-signed certificate, through the chart's Role.
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &release_ns);
    wait_until(WAIT, "the Lease held by the operator", || async {
        leases
            .get_opt(&fullname)
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
            .as_deref()
            == Some(identity.as_str())
    })
    .await;
    let tls: Api<Secret> = Api::namespaced(admin.clone(), &release_ns);
    wait_until(WAIT, "the webhook TLS Secret", || async {
        tls.get_opt(&format!("{fullname}-webhook-tls"))
            .await
            .ok()
            .flatten()
            .is_some()
    })
    .await;

    // Its webhook configuration, registered after the operator started, gets the CA (a
    // namespaceSelector no namespace matches: nothing is sent to this webhook).
    let vwc = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": fullname},
        "webhooks": [{
            "name": "images.attestor.stellaops.io",
            "clientConfig": {"url": "https://127.0.0.1:9/validate"},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["pods"]}],
            "namespaceSelector": {"matchLabels": {"attestor-rbac-test": &fullname}},
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }],
    });
    apply(&admin, vwc.clone()).await;
    let admin_vwcs: Api<ValidatingWebhookConfiguration> = Api::all(admin.clone());
    wait_until(
        WAIT,
        "the caBundle written under the chart's RBAC",
        || async {
            admin_vwcs
                .get_opt(&fullname)
                .await
                .ok()
                .flatten()
                .is_some_and(|v| {
                    v.webhooks
                        .unwrap_or_default()
                        .iter()
                        .all(|w| w.client_config.ca_bundle.is_some())
                })
        },
    )
    .await;
    delete(&admin, &vwc).await;

    // Proofs from a ConfigMap and from a Secret verify with get alone.
    wait_condition(&admin, &from_cm, "Verified", "True", Some("Verified"), WAIT).await;
    wait_condition(
        &admin,
        &from_secret,
        "Verified",
        "True",
        Some("Verified"),
        WAIT,
    )
    .await;

    // A Secret's key names and contents are never shown.
    let key = wait_condition(
        &admin,
        &missing_key,
        "SourceAvailable",
        "False",
        Some("KeyNotFound"),
        WAIT,
    )
    .await;
    assert!(
        key.message.contains("has no key bundle.zip"),
        "{}",
        key.message
    );
    wait_condition(
        &admin,
        &not_a_proof,
        "Verified",
        "False",
        Some("InputUnreadable"),
        WAIT,
    )
    .await;
    wait_condition(
        &admin,
        &not_an_envelope,
        "Verified",
        "False",
        Some("InputUnreadable"),
        WAIT,
    )
    .await;
    // What the Secret holds: its values (and their encodings, digests and sizes) and the names
    // of keys no ProofVerification named.
    let values = [
        "hunter2".to_string(),
        "wJalrXUtnFEMI".to_string(),
        b64(b"hunter2-do-not-show"),
        attestor_core::digest::Sha256Digest::of(b"hunter2-do-not-show").to_string(),
        "19 bytes".to_string(),
        "aws-secret-access-key".to_string(),
    ];
    for pv in [&missing_key, &not_a_proof, &not_an_envelope] {
        let name = pv["metadata"]["name"].as_str().unwrap();
        let status = serde_json::to_string(&get(&admin, pv).await.data["status"]).unwrap();
        let mut leaks = values.to_vec();
        leaks.push("proof.zip".into());
        // The key a ProofVerification names is its author's, not the Secret's.
        if name == "secret-missing-key" {
            leaks.push("db-password".into());
        }
        for leak in &leaks {
            assert!(
                !status.contains(leak.as_str()),
                "{name} shows {leak}: {status}"
            );
        }
        assert!(
            !status.contains("bundleDigest") && !status.contains("bundleSize"),
            "{name}: {status}"
        );
    }
    let events: Api<Event> = Api::namespaced(admin.clone(), &ns);
    let regarding = |e: &Event| e.regarding.as_ref().and_then(|r| r.name.clone());
    wait_until(WAIT, "the operator's Events", || async {
        events.list(&ListParams::default()).await.is_ok_and(|l| {
            l.items
                .iter()
                .any(|e| regarding(e).as_deref() == Some("secret-not-a-proof"))
        })
    })
    .await;
    for e in events.list(&ListParams::default()).await.unwrap().items {
        let text = serde_json::to_string(&e).unwrap();
        for leak in &values {
            assert!(
                !text.contains(leak.as_str()),
                "an Event shows {leak}: {text}"
            );
        }
        assert_eq!(
            e.reporting_instance.as_deref(),
            Some(identity.as_str()),
            "every Event comes from the operator under the chart's RBAC: {text}"
        );
    }

    // Changes are noticed without a watch: the next poll re-verifies the readers.
    apply(&admin, config_map(&tampered)).await;
    wait_condition(
        &admin,
        &from_cm,
        "Verified",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    apply(&admin, secret(&tampered)).await;
    wait_condition(
        &admin,
        &from_secret,
        "Verified",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    apply(&admin, secret(&valid)).await;
    wait_condition(
        &admin,
        &from_secret,
        "Verified",
        "True",
        Some("Verified"),
        WAIT,
    )
    .await;
    // A deleted ConfigMap is noticed too, and so is its return.
    delete(&admin, &config_map(&valid)).await;
    wait_condition(
        &admin,
        &from_cm,
        "SourceAvailable",
        "False",
        Some("ConfigMapNotFound"),
        WAIT,
    )
    .await;
    apply(&admin, config_map(&valid)).await;
    wait_condition(&admin, &from_cm, "Verified", "True", Some("Verified"), WAIT).await;

    cancel.cancel();
    operator.join().expect("the operator thread");
    for a in &anchors {
        delete(&admin, a).await;
    }
    delete(&admin, &issuer).await;
    for obj in rbac_objects.iter().filter(|o| !o.is_null()) {
        delete(&admin, obj).await;
    }
    for n in [&release_ns, &ns] {
        delete(
            &admin,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}),
        )
        .await;
    }
}
