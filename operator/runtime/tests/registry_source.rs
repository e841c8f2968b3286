//! ProofVerifications with `source.registry` against the real API server and a real registry
//! (the referrers registry of `e2e/registry.sh`), signed by real cosign: verified, unsigned,
//! signed by another key, and a registry outage that keeps the verdict stale while a new
//! verification is refused with `RegistryUnavailable`.
//!
//! The operator reaches the registry through a TCP proxy in this test (on
//! [`cluster::registry_proxy_port`]), so the test can take "the registry" down without stopping
//! the registry the other tests share.

mod cluster;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use attestor_oci::reference::ImageRef;
use attestor_runtime::fetch::{FetchConfig, Fetcher};
use attestor_runtime::registry::{RegistryClient, RegistryConfig};
use cluster::{apply, condition, get, setup, unique, wait_condition, wait_until};
use kube::Api;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The referrers registry and cosign, or `None` (after saying why) outside CI.
fn tools(test: &str) -> Option<(String, PathBuf)> {
    let registry = std::env::var("ATTESTOR_REGISTRY_REFERRERS").ok();
    let cosign = std::env::var_os("ATTESTOR_TOOLS_BIN")
        .map(|b| PathBuf::from(b).join("cosign"))
        .filter(|p| p.exists());
    match (registry, cosign) {
        (Some(r), Some(c)) if !r.is_empty() => Some((r, c)),
        _ => {
            let why = "ATTESTOR_REGISTRY_REFERRERS or ATTESTOR_TOOLS_BIN/cosign missing (run e2e/registry.sh up and eval \"$(e2e/registry.sh env)\")";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: {why}, and CI=true forbids skipping");
            }
            println!("skipping {test}: {why}");
            None
        }
    }
}

/// Forwards 127.0.0.1:`port` to `upstream` while `up`; when it goes down, open connections
/// (the operator's pooled keep-alive ones too) are cut and new ones closed at once: what a
/// registry that went away looks like to a client.
async fn proxy(port: u16, upstream: String, up: Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the proxy port");
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            if !up.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let upstream = upstream.clone();
            let up = up.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let cut = async {
                    while up.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut => {}
                }
            });
        }
    });
}

fn client() -> RegistryClient {
    let fetcher = Fetcher::new(FetchConfig {
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        proxy_from_env: false,
        ..FetchConfig::default()
    })
    .unwrap();
    let mut plain = vec![format!("127.0.0.1:{}", cluster::registry_proxy_port())];
    plain.extend(std::env::var("ATTESTOR_REGISTRY_REFERRERS").ok());
    RegistryClient::new(
        fetcher,
        RegistryConfig {
            plain_http: plain,
            ..RegistryConfig::default()
        },
    )
}

/// A fresh image in `host`'s `attestor-it/<name>`, pinned by digest.
async fn push_image(host: &str, name: &str) -> ImageRef {
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let image = ImageRef::parse(&format!("{host}/attestor-it/{name}:v1")).unwrap();
    let digest = client()
        .push_image(
            &image,
            format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"{unique}\"}}")
                .as_bytes(),
            &[unique.as_bytes()],
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("push {image}: {e}"));
    ImageRef {
        tag: None,
        digest: Some(digest),
        ..image
    }
}

/// Runs cosign offline in `dir` (own HOME and TUF root; outgoing HTTPS to a closed port).
fn cosign(bin: &Path, dir: &Path, args: &[&str]) {
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(dir.join("docker/config.json"), "{}").unwrap();
    let out = std::process::Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_YES", "true")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosign {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sign(bin: &Path, dir: &Path, image: &str) {
    cosign(
        bin,
        dir,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--use-signing-config=false",
            "--allow-http-registry",
            image,
        ],
    );
}

fn verification(ns: &str, name: &str, issuer: &str, image: &ImageRef, extra: Value) -> Value {
    let mut source = json!({});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            source[k] = v;
        }
    }
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "artifactDigest": image.digest.unwrap().to_string(),
            "image": format!("{}/{}", image.registry, image.repository),
            "source": {"registry": source},
            "issuerRef": {"name": issuer},
            "checks": {"transparencyLog": "IfPresent"},
            "reverifyInterval": "2s",
        },
    })
}

#[tokio::test]
async fn registry_sources_verify_what_cosign_signed_and_survive_an_outage() {
    let test = "registry_sources_verify_what_cosign_signed_and_survive_an_outage";
    let Some((registry, bin)) = tools(test) else {
        return;
    };
    let Some(kube) = setup().await else { return };
    let port = cluster::registry_proxy_port();
    let proxied = format!("127.0.0.1:{port}");
    let up = Arc::new(AtomicBool::new(true));
    proxy(port, registry.clone(), up.clone()).await;

    let dir = std::env::temp_dir().join(unique("attestor-registry-source"));
    std::fs::create_dir_all(dir.join("other")).unwrap();
    cosign(&bin, &dir, &["generate-key-pair"]);
    cosign(&bin, &dir.join("other"), &["generate-key-pair"]);

    let ns = unique("registry-source");
    apply(
        &kube,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let anchor = unique("cosign-key");
    apply(
        &kube,
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "TrustAnchor",
            "metadata": {"name": anchor},
            "spec": {
                "publicKey": std::fs::read_to_string(dir.join("cosign.pub")).unwrap(),
                "purposes": ["AttestationSigning"],
            },
        }),
    )
    .await;
    let issuer = unique("cosign-ci");
    apply(
        &kube,
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "TrustedIssuer",
            "metadata": {"name": issuer},
            "spec": {
                "issuer": "https://ci.example/cosign",
                "anchors": [anchor],
                "scope": {"images": [format!("{proxied}/attestor-it/*")]},
                "approval": {"approvedBy": "runtime-tests", "reason": "test fixture"},
            },
        }),
    )
    .await;

    // Images pushed through the proxy, signed straight at the registry: the same repository.
    let signed = push_image(&proxied, "signed").await;
    let direct = |i: &ImageRef| format!("{registry}/{}@{}", i.repository, i.digest.unwrap());
    sign(&bin, &dir, &direct(&signed));
    let unsigned = push_image(&proxied, "unsigned").await;
    let foreign = push_image(&proxied, "foreign").await;
    cosign(
        &bin,
        &dir.join("other"),
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--use-signing-config=false",
            "--allow-http-registry",
            &direct(&foreign),
        ],
    );

    let pv = verification(&ns, "signed", &issuer, &signed, json!({}));
    apply(&kube, pv.clone()).await;
    let verified = wait_condition(&kube, &pv, "Verified", "True", None, WAIT).await;
    assert!(
        verified.message.contains("SigstoreBundle"),
        "{}",
        verified.message
    );
    let obj = get(&kube, &pv).await;
    let status = &obj.data["status"];
    assert_eq!(status["candidatesFound"], 1, "{status:#}");
    assert_eq!(status["candidates"][0]["kind"], "SigstoreBundle");
    assert_eq!(status["candidates"][0]["foundVia"], "referrers");
    assert_eq!(status["candidates"][0]["reason"], "Verified");
    assert!(
        status["candidates"][0]["signer"]
            .as_str()
            .is_some_and(|s| s.contains(&anchor)),
        "{status:#}"
    );
    assert_eq!(
        condition(&obj, "SignatureValid").unwrap().status,
        "True",
        "{status:#}"
    );

    let none = verification(&ns, "unsigned", &issuer, &unsigned, json!({}));
    apply(&kube, none.clone()).await;
    let c = wait_condition(
        &kube,
        &none,
        "Verified",
        "False",
        Some("NoSignaturesFound"),
        WAIT,
    )
    .await;
    assert!(c.message.contains("Next:"), "{}", c.message);

    let other = verification(&ns, "foreign", &issuer, &foreign, json!({}));
    apply(&kube, other.clone()).await;
    let c = wait_condition(
        &kube,
        &other,
        "Verified",
        "False",
        Some("SignatureInvalid"),
        WAIT,
    )
    .await;
    assert!(c.message.contains("Next:"), "{}", c.message);
    let obj = get(&kube, &other).await;
    assert_eq!(
        obj.data["status"]["candidates"][0]["reason"],
        "SignatureInvalid"
    );
    assert!(obj.data["status"]["candidates"][0].get("signer").is_none());

    // Only attestations of a kind that is not there: nothing found.
    let kinds = verification(
        &ns,
        "proof-bundles-only",
        &issuer,
        &signed,
        json!({"kinds": ["ProofBundle"]}),
    );
    apply(&kube, kinds.clone()).await;
    wait_condition(
        &kube,
        &kinds,
        "Verified",
        "False",
        Some("NoSignaturesFound"),
        WAIT,
    )
    .await;

    // A pull Secret that does not exist is named.
    let secret = verification(
        &ns,
        "missing-secret",
        &issuer,
        &signed,
        json!({"pullSecrets": [{"name": "nope"}]}),
    );
    apply(&kube, secret.clone()).await;
    let c = wait_condition(
        &kube,
        &secret,
        "Verified",
        "False",
        Some("PullSecretNotFound"),
        WAIT,
    )
    .await;
    assert!(c.message.contains("nope"), "{}", c.message);

    // The issuer's own pull Secret: named in the message while missing, used once it exists.
    let issuer2 = unique("cosign-ci-creds");
    apply(
        &kube,
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "TrustedIssuer",
            "metadata": {"name": issuer2},
            "spec": {
                "issuer": "https://ci.example/cosign-creds",
                "anchors": [anchor],
                "scope": {"images": [format!("{proxied}/attestor-it/*")]},
                "approval": {"approvedBy": "runtime-tests", "reason": "test fixture"},
                "registryPullSecrets": [{"namespace": ns, "name": "issuer-cred"}],
            },
        }),
    )
    .await;
    let with_creds = verification(&ns, "issuer-creds", &issuer2, &signed, json!({}));
    apply(&kube, with_creds.clone()).await;
    let c = wait_condition(
        &kube,
        &with_creds,
        "Verified",
        "False",
        Some("PullSecretNotFound"),
        WAIT,
    )
    .await;
    assert!(
        c.message.contains(&format!(
            "TrustedIssuer {issuer2}'s spec.registryPullSecrets"
        )),
        "{}",
        c.message
    );
    apply(
        &kube,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "issuer-cred", "namespace": ns},
            "stringData": {".dockerconfigjson": r#"{"auths":{"elsewhere.example":{"auth":"dTpw"}}}"#},
        }),
    )
    .await;
    wait_condition(&kube, &with_creds, "Verified", "True", None, WAIT).await;

    // The registry goes away: the verified proof stays Verified, stale; a new one is refused.
    up.store(false, Ordering::SeqCst);
    let down = wait_condition(
        &kube,
        &pv,
        "SourceAvailable",
        "False",
        Some("RegistryUnavailable"),
        WAIT,
    )
    .await;
    assert!(down.message.contains(&proxied), "{}", down.message);
    let obj = get(&kube, &pv).await;
    let kept = condition(&obj, "Verified").unwrap();
    assert_eq!(kept.status, "True", "{}", kept.message);
    assert!(kept.message.contains("stale since"), "{}", kept.message);
    assert!(obj.data["status"]["staleSince"].is_string());
    assert_eq!(
        obj.data["status"]["candidatesFound"], 1,
        "the last list is kept"
    );

    let late_image = push_image(&registry, "late").await;
    let late_image = ImageRef {
        registry: proxied.clone(),
        ..late_image
    };
    let late = verification(&ns, "late", &issuer, &late_image, json!({}));
    apply(&kube, late.clone()).await;
    wait_condition(
        &kube,
        &late,
        "Verified",
        "False",
        Some("RegistryUnavailable"),
        WAIT,
    )
    .await;

    // Back: the stale mark goes.
    up.store(true, Ordering::SeqCst);
    wait_condition(&kube, &pv, "SourceAvailable", "True", Some("Fetched"), WAIT).await;
    wait_until(WAIT, "staleSince cleared", || async {
        get(&kube, &pv).await.data["status"]["staleSince"].is_null()
    })
    .await;
    wait_condition(
        &kube,
        &late,
        "Verified",
        "False",
        Some("NoSignaturesFound"),
        WAIT,
    )
    .await;

    let _ = std::fs::remove_dir_all(&dir);
    for obj in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer", "metadata": {"name": issuer}}),
        json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer", "metadata": {"name": issuer2}}),
        json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor", "metadata": {"name": anchor}}),
    ] {
        cluster::delete(&kube, &obj).await;
    }
}

/// A bare Pod (no node schedules it here: the object is what discovery reads).
fn pod(ns: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "containers": [{"name": "app", "image": image}],
            "imagePullSecrets": [{"name": "regcred"}],
        },
    })
}

#[tokio::test]
async fn discovery_creates_proofs_for_digests_in_use_and_removes_them_after() {
    let test = "discovery_creates_proofs_for_digests_in_use_and_removes_them_after";
    let Some((registry, bin)) = tools(test) else {
        return;
    };
    let Some(kube) = setup().await else { return };
    let dir = std::env::temp_dir().join(unique("attestor-discovery"));
    std::fs::create_dir_all(&dir).unwrap();
    cosign(&bin, &dir, &["generate-key-pair"]);
    let gated = unique("discovery-gated");
    let plain = unique("discovery-plain");
    for (ns, label) in [(&gated, Some("enforce")), (&plain, None)] {
        let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        if let Some(l) = label {
            obj["metadata"]["labels"] = json!({"attestor.stellaops.io/enforcement": l});
        }
        apply(&kube, obj).await;
    }
    let anchor = unique("discovery-key");
    apply(
        &kube,
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor",
            "metadata": {"name": anchor},
            "spec": {
                "publicKey": std::fs::read_to_string(dir.join("cosign.pub")).unwrap(),
                "purposes": ["AttestationSigning"],
            },
        }),
    )
    .await;
    let issuer = unique("discovering-ci");
    let repo = format!("attestor-it/discovery-{}", std::process::id());
    apply(
        &kube,
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer",
            "metadata": {"name": issuer},
            "spec": {
                "issuer": "https://ci.example/discovery",
                "anchors": [anchor],
                "scope": {"images": [format!("{registry}/{repo}-*")]},
                "approval": {"approvedBy": "runtime-tests", "reason": "test fixture"},
                "discovery": {"transparencyLog": "IfPresent"},
            },
        }),
    )
    .await;
    wait_until(WAIT, "the issuer trusted", || async {
        let obj = get(
            &kube,
            &json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer", "metadata": {"name": issuer}}),
        )
        .await;
        condition(&obj, "Trusted").is_some_and(|c| c.status == "True")
    })
    .await;

    let signed = push_image(
        &registry,
        &format!("{}-signed", repo.rsplit('/').next().unwrap()),
    )
    .await;
    sign(&bin, &dir, &signed.to_string());
    let unsigned = push_image(
        &registry,
        &format!("{}-unsigned", repo.rsplit('/').next().unwrap()),
    )
    .await;
    let digest_of = |i: &ImageRef| i.digest.unwrap().to_string();
    let proof = |ns: &str, i: &ImageRef| {
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "ProofVerification",
            "metadata": {"namespace": ns, "name": attestor_admission::discovered_proof_name(&digest_of(i).parse().unwrap())},
        })
    };

    // The Pods' pull Secret: credentials for another registry, so reads here stay anonymous.
    apply(
        &kube,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": gated},
            "stringData": {".dockerconfigjson": r#"{"auths":{"elsewhere.example":{"auth":"dTpw"}}}"#},
        }),
    )
    .await;

    // A Pod in a gated namespace: its digest gets a proof, labelled, verified from the registry.
    apply(&kube, pod(&gated, "signed", &signed.to_string())).await;
    let found = wait_condition(
        &kube,
        &proof(&gated, &signed),
        "Verified",
        "True",
        None,
        WAIT,
    )
    .await;
    assert!(
        found.message.contains("SigstoreBundle"),
        "{}",
        found.message
    );
    let obj = get(&kube, &proof(&gated, &signed)).await;
    assert_eq!(
        obj.metadata.labels.as_ref().unwrap()["attestor.stellaops.io/discovered"],
        "true"
    );
    assert_eq!(obj.data["spec"]["issuerRef"]["name"], issuer);
    assert_eq!(
        obj.data["spec"]["image"],
        format!("{}/{}", signed.registry, signed.repository)
    );
    assert_eq!(
        obj.data["spec"]["source"]["registry"]["pullSecrets"][0]["name"],
        "regcred"
    );
    assert_eq!(obj.data["spec"]["checks"]["transparencyLog"], "IfPresent");

    // The same image in a namespace that does not opt in: nothing.
    apply(&kube, pod(&plain, "signed", &signed.to_string())).await;

    // The webhook's hand-off (what a denial sends), published as every replica publishes it,
    // for a workload running as a ServiceAccount with a pull Secret of its own.
    apply(
        &kube,
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "builder", "namespace": gated},
            "imagePullSecrets": [{"name": "regcred"}],
        }),
    )
    .await;
    let (sender, publisher) = attestor_runtime::webhook::break_glass::start(
        kube.clone(),
        "runtime-tests".into(),
        tokio_util::sync::CancellationToken::new(),
    );
    tokio::spawn(publisher);
    let name = attestor_admission::discovered_proof_name(&digest_of(&unsigned).parse().unwrap());
    sender.send(attestor_runtime::webhook::break_glass::BreakGlassRecord {
        reference: k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("attestor.stellaops.io/v1alpha1".into()),
            kind: Some("ProofVerification".into()),
            namespace: Some(gated.clone()),
            name: Some(name.clone()),
            ..Default::default()
        },
        note: attestor_runtime::discovery::hand_off_note(
            &unsigned.to_string(),
            &issuer,
            &[],
            Some("builder"),
        ),
        warning: false,
        reason: attestor_runtime::discovery::HAND_OFF_REASON,
        action: "Discover",
    });
    wait_condition(
        &kube,
        &proof(&gated, &unsigned),
        "Verified",
        "False",
        Some("NoSignaturesFound"),
        WAIT,
    )
    .await;
    let obj = get(&kube, &proof(&gated, &unsigned)).await;
    assert_eq!(
        obj.data["spec"]["source"]["registry"]["pullSecrets"][0]["name"], "regcred",
        "the ServiceAccount's pull Secret: {:#}",
        obj.data["spec"]
    );
    let plain_proofs: Api<attestor_api::ProofVerification> = Api::namespaced(kube.clone(), &plain);
    assert!(
        plain_proofs
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "a namespace that does not opt in gets no discovered proofs"
    );

    // Nothing uses the digests any more: both discovered proofs go after the GC period.
    cluster::delete(&kube, &pod(&gated, "signed", "")).await;
    for p in [proof(&gated, &signed), proof(&gated, &unsigned)] {
        wait_until(WAIT, "the discovered ProofVerification removed", || async {
            let (api, name) = (
                Api::<attestor_api::ProofVerification>::namespaced(
                    kube.clone(),
                    p["metadata"]["namespace"].as_str().unwrap(),
                ),
                p["metadata"]["name"].as_str().unwrap().to_string(),
            );
            api.get_opt(&name).await.unwrap().is_none()
        })
        .await;
    }
    assert!(cluster::DISCOVERY_GC_AFTER < WAIT);

    let _ = std::fs::remove_dir_all(&dir);
    for obj in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": gated}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": plain}}),
        json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustedIssuer", "metadata": {"name": issuer}}),
        json!({"apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "TrustAnchor", "metadata": {"name": anchor}}),
    ] {
        cluster::delete(&kube, &obj).await;
    }
}
