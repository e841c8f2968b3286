//! The admission webhook against the real API server, which calls it: the webhook runs in this
//! process (self-signed certificate for 127.0.0.1), a ValidatingWebhookConfiguration unique to
//! this run points the API server at it, and the shared in-process operator verifies the
//! ProofVerifications. The configuration only selects namespaces carrying this run's label, and
//! is deleted at the end even when the test fails, so no other test ever goes through it.

mod cluster;

use std::sync::Arc;
use std::time::{Duration, Instant};

use attestor_runtime::http::Health;
use attestor_runtime::metrics::Metrics;
use attestor_runtime::webhook::{self, CertMode, WebhookConfig, certs};
use base64::Engine as _;
use cluster::{apply, delete, free_port, read_example, setup, unique, wait_condition};
use futures::FutureExt;
use http_body_util::BodyExt;
use kube::Client;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
const RUN_LABEL: &str = "attestor-webhook-test-run";
const ENFORCEMENT: &str = "attestor.stellaops.io/enforcement";

fn artifact() -> String {
    let text = String::from_utf8(read_example("30-proofverifications.yaml")).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("artifactDigest: "))
        .expect("an artifactDigest in the examples")
        .to_string()
}

fn pem(path: &str) -> String {
    String::from_utf8(read_example(path)).unwrap()
}

fn vwc(name: &str, port: u16, run: &str) -> Value {
    let rule = |group: &str, resources: &[&str]| {
        json!({"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
               "resources": resources, "scope": "Namespaced"})
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "images.attestor.stellaops.io",
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/validate")},
            "rules": [
                rule("", &["pods", "pods/ephemeralcontainers"]),
                rule("apps", &["deployments", "statefulsets", "daemonsets", "replicasets"]),
                rule("batch", &["jobs", "cronjobs"]),
            ],
            "namespaceSelector": {"matchExpressions": [
                {"key": ENFORCEMENT, "operator": "Exists"},
                {"key": RUN_LABEL, "operator": "In", "values": [run]},
            ]},
            "matchPolicy": "Equivalent",
            "failurePolicy": "Fail",
            "sideEffects": "NoneOnDryRun",
            "timeoutSeconds": 5,
            "admissionReviewVersions": ["v1"],
        }],
    })
}

/// Deletes the webhook configuration if the async cleanup never ran (a panic that unwound
/// past it, or a cancelled test): `kubectl` needs no runtime.
struct VwcGuard(String);

impl Drop for VwcGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kubectl")
            .args([
                "delete",
                "validatingwebhookconfiguration",
                &self.0,
                "--ignore-not-found",
                "--wait=false",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// What the API server answered to a create, with its warnings (as kubectl prints them).
#[derive(Debug)]
struct Created {
    status: u16,
    warnings: Vec<String>,
    body: String,
}

impl Created {
    fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.body.clone())
    }
}

async fn create(client: &Client, path: &str, obj: &Value) -> Created {
    let request = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(obj).unwrap()))
        .unwrap();
    let response = client.send(request).await.expect("the API server answers");
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Created {
        status,
        warnings,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn pod(ns: &str, name: &str, image: &str, annotations: Value) -> (String, Value) {
    (
        format!("/api/v1/namespaces/{ns}/pods"),
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {"containers": [{"name": "cart", "image": image}]},
        }),
    )
}

fn deployment(ns: &str, name: &str, image: &str) -> (String, Value) {
    (
        format!("/apis/apps/v1/namespaces/{ns}/deployments"),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "cart", "image": image}]},
                },
            },
        }),
    )
}

fn verification(ns: &str, name: &str, issuer: &str, bundle: &str) -> Value {
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "artifactDigest": artifact(),
            "image": "registry.example/shop/cart:1.4.2",
            "source": {"configMapKeyRef": {"name": "bundles", "key": bundle}},
            "issuerRef": {"name": issuer},
        },
    })
}

/// A namespace with this run's label (and the enforcement label when given), a ConfigMap of
/// example bundles, and its default ServiceAccount (which Pods need).
async fn namespace(client: &Client, name: &str, run: &str, enforcement: Option<&str>) {
    let mut labels = json!({RUN_LABEL: run});
    if let Some(mode) = enforcement {
        labels[ENFORCEMENT] = json!(mode);
    }
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": labels}});
    apply(client, ns).await;
    let b64 = |p: &str| base64::engine::general_purpose::STANDARD.encode(read_example(p));
    apply(
        client,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "bundles", "namespace": name},
            "binaryData": {
                "valid.zip": b64("bundles/valid.zip"),
                "tampered-signature.zip": b64("bundles/tampered-signature.zip"),
            },
        }),
    )
    .await;
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(client.clone(), name);
    cluster::wait_until(WAIT, &format!("ServiceAccount {name}/default"), || async {
        accounts.get_opt("default").await.ok().flatten().is_some()
    })
    .await;
}

/// Creates, retrying while the API server cannot reach the webhook yet (its configuration and
/// caBundle reach the API server's informer a moment after they are written).
async fn create_when_reachable(client: &Client, (path, obj): &(String, Value)) -> Created {
    let start = Instant::now();
    loop {
        let created = create(client, path, obj).await;
        let unreachable = created.status >= 500 || created.body.contains("failed calling webhook");
        if !unreachable || start.elapsed() > Duration::from_secs(30) {
            return created;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn https_client(ca_pem: &[u8]) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_api_server_asks_the_webhook() {
    let Some(client) = setup().await else { return };
    let run = unique("whrun");
    let vwc_name = unique("attestor-webhook-test");
    let port = free_port();
    let _guard = VwcGuard(vwc_name.clone());

    let operator_ns = unique("wh-operator");
    apply(
        &client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": operator_ns}}),
    )
    .await;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new());
    health.set_ready(true, "");
    let cancel = CancellationToken::new();
    let config = WebhookConfig {
        address: format!("127.0.0.1:{port}").parse().unwrap(),
        cert_mode: CertMode::SelfSigned {
            configuration: vwc_name.clone(),
            secret: certs::TLS_SECRET.into(),
            names: certs::subject_alt_names(
                "attestor-operator-webhook",
                &operator_ns,
                &["127.0.0.1".to_string()],
            ),
        },
        namespace: operator_ns.clone(),
        allow_break_glass: true,
        shared_proof_namespaces: Vec::new(),
        admission_wait: Duration::from_secs(3),
        identity: "webhook-tests".into(),
        cert_interval: Duration::from_secs(1),
    };
    let listener = webhook::bind(config.address).await.unwrap();
    let server = tokio::spawn(webhook::run(
        client.clone(),
        config,
        listener,
        metrics.clone(),
        health.clone(),
        cancel.clone(),
    ));
    apply(&client, vwc(&vwc_name, port, &run)).await;

    // What the scenarios create, deleted below whether they pass or not.
    let created = std::sync::Mutex::new(Vec::new());
    let outcome = std::panic::AssertUnwindSafe(scenarios(
        &client, &run, &vwc_name, &health, &metrics, &created,
    ))
    .catch_unwind()
    .await;

    let vwc_obj = json!({"apiVersion": "admissionregistration.k8s.io/v1",
                         "kind": "ValidatingWebhookConfiguration", "metadata": {"name": vwc_name}});
    delete(&client, &vwc_obj).await;
    let leftovers = std::mem::take(&mut *created.lock().unwrap());
    for obj in &leftovers {
        delete(&client, obj).await;
    }
    cancel.cancel();
    let _ = server.await;
    delete(
        &client,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": operator_ns}}),
    )
    .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn scenarios(
    client: &Client,
    run: &str,
    vwc_name: &str,
    health: &Health,
    metrics: &Metrics,
    created: &std::sync::Mutex<Vec<Value>>,
) {
    let keep = |obj: &Value| created.lock().unwrap().push(obj.clone());
    // The operator fills the caBundle and becomes ready.
    let vwcs: kube::Api<
        k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    > = kube::Api::all(client.clone());
    let mut ca_bundle = Vec::new();
    let start = Instant::now();
    while ca_bundle.is_empty() {
        assert!(start.elapsed() < WAIT, "the caBundle was never set");
        if let Ok(v) = vwcs.get(vwc_name).await
            && let Some(b) = v.webhooks.unwrap_or_default()[0]
                .client_config
                .ca_bundle
                .clone()
        {
            ca_bundle = b.0;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    cluster::wait_until(WAIT, "the webhook ready", || async { health.is_ready() }).await;

    // Anchors and an approved issuer for the example bundles.
    let prefix = unique("wh");
    let anchor = |suffix: &str, key: &str, purpose: &str| {
        json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor",
               "metadata": {"name": format!("{prefix}-{suffix}")},
               "spec": {"publicKey": pem(key), "purposes": [purpose]}})
    };
    let anchors = [
        anchor(
            "signing",
            "keys/test-only-signing.pub.pem",
            "AttestationSigning",
        ),
        anchor(
            "ed25519",
            "keys/test-only-signing-ed25519.pub.pem",
            "AttestationSigning",
        ),
        anchor("log", "keys/test-only-log.pub.pem", "TransparencyLog"),
    ];
    for a in &anchors {
        keep(a);
        apply(client, a.clone()).await;
    }
    let issuer_name = format!("{prefix}-ci");
    let issuer = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer",
        "metadata": {"name": issuer_name},
        "spec": {
            "issuer": format!("https://ci.example/{issuer_name}"),
            "anchors": anchors.iter().map(|a| a["metadata"]["name"].clone()).collect::<Vec<_>>(),
            "scope": {"images": ["registry.example/shop/*"]},
            "approval": {"approvedBy": "webhook-tests", "reason": "test fixture"},
        },
    });
    keep(&issuer);
    apply(client, issuer.clone()).await;
    wait_condition(client, &issuer, "Trusted", "True", None, WAIT).await;

    let enforce = unique("wh-enforce");
    let failed_ns = unique("wh-failed");
    let warn = unique("wh-warn");
    let open = unique("wh-open");
    for (name, mode) in [
        (&enforce, Some("enforce")),
        (&failed_ns, Some("enforce")),
        (&warn, Some("warn")),
        (&open, None),
    ] {
        keep(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}));
        namespace(client, name, run, mode).await;
    }

    let pinned = format!("registry.example/shop/cart@{}", artifact());
    let unpinned = "registry.example/shop/cart:1.4.2";

    // An unpinned image is denied, naming the image.
    let denied =
        create_when_reachable(client, &pod(&enforce, "unpinned", unpinned, json!({}))).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    let message = denied.message();
    assert!(message.contains(unpinned), "{message}");
    assert!(message.contains("not pinned by digest"), "{message}");

    // Judged: an unverified Deployment is denied naming the image and the missing proof; once
    // its ProofVerification is Verified the same create succeeds.
    let cart = deployment(&enforce, "cart", &pinned);
    let denied = create(client, &cart.0, &cart.1).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    let message = denied.message();
    assert!(message.contains(&pinned), "{message}");
    assert!(message.contains("no ProofVerification for"), "{message}");
    let pv = verification(&enforce, "cart", &issuer_name, "valid.zip");
    apply(client, pv.clone()).await;
    wait_condition(client, &pv, "Verified", "True", None, WAIT).await;
    // The webhook itself waits for its index to catch up with a pending proof. Other operators
    // sharing this control plane may still rewrite the issuer's status for a moment (seen as
    // `issuer … is not trusted`), so the create is retried briefly rather than once.
    let start = Instant::now();
    let admitted = loop {
        let admitted = create(client, &cart.0, &cart.1).await;
        if admitted.status == 201 || start.elapsed() > Duration::from_secs(20) {
            break admitted;
        }
        eprintln!("retrying the Deployment: {}", admitted.message());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(admitted.status, 201, "{admitted:?}");

    // A failed verification is denied with its reason.
    let tampered = verification(&failed_ns, "cart", &issuer_name, "tampered-signature.zip");
    apply(client, tampered.clone()).await;
    wait_condition(
        client,
        &tampered,
        "Verified",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    let (path, obj) = pod(&failed_ns, "tampered", &pinned, json!({}));
    let denied = create(client, &path, &obj).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    let message = denied.message();
    assert!(message.contains("SignatureInvalid"), "{message}");
    assert!(message.contains("failed"), "{message}");

    // A warn namespace admits, with a warning naming the image.
    let (path, obj) = pod(&warn, "warned", unpinned, json!({}));
    let warned = create(client, &path, &obj).await;
    assert_eq!(warned.status, 201, "{warned:?}");
    assert!(
        warned
            .warnings
            .iter()
            .any(|w| w.contains("attestor (warn)") && w.contains("registry.example/shop/cart")),
        "{:?} {}",
        warned.warnings,
        metrics.encode()
    );

    // Break-glass admits in enforce mode, with a Warning Event and a metric.
    let (path, obj) = pod(
        &enforce,
        "emergency",
        unpinned,
        json!({"attestor.stellaops.io/break-glass": "INC-4711: registry outage"}),
    );
    let glass = create(client, &path, &obj).await;
    assert_eq!(glass.status, 201, "{glass:?}");
    assert!(
        glass.warnings.iter().any(|w| w.contains("break-glass")),
        "{glass:?}"
    );
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(client.clone(), &enforce);
    cluster::wait_until(WAIT, "the BreakGlass Event", || async {
        events.list(&Default::default()).await.is_ok_and(|list| {
            list.items.iter().any(|e| {
                e.reason.as_deref() == Some("BreakGlass")
                    && e.type_.as_deref() == Some("Warning")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("emergency")
                    && e.note.as_deref().is_some_and(|n| n.contains("INC-4711"))
            })
        })
    })
    .await;
    let text = metrics.encode();
    assert!(
        text.contains(&format!(
            "admission_break_glass_total{{namespace=\"{enforce}\"}} 1"
        )),
        "{text}"
    );

    // A namespace that did not opt in is untouched.
    let (path, obj) = pod(&open, "anything", unpinned, json!({}));
    let untouched = create(client, &path, &obj).await;
    assert_eq!(untouched.status, 201, "{untouched:?}");
    assert!(untouched.warnings.is_empty(), "{untouched:?}");

    // A malformed review posted straight to the webhook: an error, and the server still answers.
    let https = https_client(&ca_bundle);
    let url = vwcs.get(vwc_name).await.unwrap().webhooks.unwrap()[0]
        .client_config
        .url
        .clone()
        .unwrap();
    let garbage = https.post(&url).body("{not json").send().await.unwrap();
    assert_eq!(garbage.status(), 400);
    let no_containers = https
        .post(&url)
        .header("content-type", "application/json")
        .body(
            json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": "u-1", "operation": "CREATE",
                            "kind": {"group": "", "version": "v1", "kind": "Pod"},
                            "namespace": enforce,
                            "object": {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "a"}]}}},
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(no_containers.status(), 200);
    let review: Value = serde_json::from_slice(&no_containers.bytes().await.unwrap()).unwrap();
    assert_eq!(review["response"]["uid"], "u-1");
    assert_eq!(review["response"]["allowed"], false);
    assert_eq!(review["response"]["status"]["code"], 400, "{review}");
    let (path, obj) = pod(&enforce, "after-garbage", unpinned, json!({}));
    assert_eq!(create(client, &path, &obj).await.status, 403);

    let text = metrics.encode();
    for needle in [
        "admission_requests_total{decision=\"denied\",reason=\"NotPinned\"}",
        "admission_requests_total{decision=\"denied\",reason=\"ProofFailed\"}",
        "admission_requests_total{decision=\"warned\",reason=\"NotPinned\"}",
        "admission_requests_total{decision=\"error\",reason=\"Malformed\"} 2",
        "webhook_certificate_expiry_timestamp_seconds",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}

/// The caBundle of a configuration registered after the cert task started is written by the
/// watch of that configuration, not by the next round: the rounds (and the short retry) here
/// are a minute apart, and the caBundle must arrive within 10 s, both when the configuration
/// is created and when someone overwrites it without one.
#[tokio::test]
async fn the_ca_bundle_is_written_as_soon_as_the_configuration_appears() {
    const ROUNDS: Duration = Duration::from_secs(60);
    const PROMPT: Duration = Duration::from_secs(10);
    let Some(config) = cluster::config().await else {
        return;
    };
    let client = Client::try_from(config).expect("client");
    let vwc_name = unique("attestor-cabundle-test");
    let _guard = VwcGuard(vwc_name.clone());
    let ns = unique("wh-cabundle");
    let ns_obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    apply(&client, ns_obj.clone()).await;

    let store = Arc::new(certs::CertStore::default());
    let metrics = Metrics::new();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(certs::run_self_signed(
        client.clone(),
        certs::SelfSigned {
            namespace: ns.clone(),
            secret: certs::TLS_SECRET.into(),
            names: certs::subject_alt_names("attestor-operator-webhook", &ns, &[]),
            configuration: vwc_name.clone(),
            retry: ROUNDS,
        },
        store.clone(),
        attestor_runtime::metrics::AdmissionMetrics::new(&metrics),
        ROUNDS,
        cancel.clone(),
    ));

    let outcome = std::panic::AssertUnwindSafe(async {
        cluster::wait_until(WAIT, "the certificate served", || async {
            store.is_loaded()
        })
        .await;
        // The first round looks for the configuration right after serving the certificate and
        // finds none; from then on only the watch can write within the minute.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(client.clone(), &ns);
        let ca = secrets.get(certs::TLS_SECRET).await.unwrap().data.unwrap()["ca.crt"]
            .0
            .clone();
        let vwcs: kube::Api<
            k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
        > = kube::Api::all(client.clone());
        let ca_bundle = || async {
            vwcs.get_opt(&vwc_name)
                .await
                .ok()
                .flatten()
                .and_then(|v| v.webhooks?.first()?.client_config.ca_bundle.clone())
                .map(|b| b.0)
        };
        assert_eq!(ca_bundle().await, None, "written before it was created");

        // Registered after the operator: a namespaceSelector no namespace matches.
        let start = Instant::now();
        apply(&client, vwc(&vwc_name, free_port(), &unique("nobody"))).await;
        while ca_bundle().await.as_ref() != Some(&ca) {
            assert!(
                start.elapsed() < PROMPT,
                "no caBundle {PROMPT:?} after the configuration was created"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("caBundle written {:?} after creation", start.elapsed());

        // Overwritten without a caBundle (a PUT of a manifest that has none).
        let mut current = vwcs.get(&vwc_name).await.unwrap();
        for w in current.webhooks.iter_mut().flatten() {
            w.client_config.ca_bundle = None;
        }
        let start = Instant::now();
        let put = vwcs
            .replace(&vwc_name, &Default::default(), &current)
            .await
            .unwrap();
        assert!(
            put.webhooks
                .iter()
                .flatten()
                .all(|w| w.client_config.ca_bundle.is_none()),
            "the PUT kept the caBundle"
        );
        while ca_bundle().await.as_ref() != Some(&ca) {
            assert!(
                start.elapsed() < PROMPT,
                "no caBundle {PROMPT:?} after it was overwritten"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "caBundle rewritten {:?} after the overwrite",
            start.elapsed()
        );
    })
    .catch_unwind()
    .await;

    cancel.cancel();
    let _ = task.await;
    let vwc_obj = json!({"apiVersion": "admissionregistration.k8s.io/v1",
                         "kind": "ValidatingWebhookConfiguration", "metadata": {"name": vwc_name}});
    delete(&client, &vwc_obj).await;
    delete(&client, &ns_obj).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
