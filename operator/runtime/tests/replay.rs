//! The ReplayJob controller against the real API server, with the operator running in this
//! process and a directory snapshot store holding the example inputs.
//!
//! Two proofs of the same artifact: `cart` (examples/bundles/valid.zip, whose SBOM has lodash and
//! minimist) and `lean` (built here from an SBOM with minimist only). A new advisory for lodash
//! makes `cart` drift with cause Feed and leaves `lean` reproduced.

mod cluster;

use std::time::Duration;

use attestor_core::bundle::{BundleSpec, build_bundle};
use attestor_core::keys::SigningKey;
use attestor_score::error::InputKind;
use attestor_score::{DirStore, ScoringInputs};
use base64::Engine as _;
use cluster::{apply, delete, get, read_example, scrape_metrics, setup, unique, wait_condition};
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

fn artifact() -> String {
    let manifest: Value = serde_json::from_slice(&read_example("inputs/manifest.json")).unwrap();
    manifest["artifactDigest"].as_str().unwrap().to_string()
}

fn pem(path: &str) -> String {
    String::from_utf8(read_example(path)).unwrap()
}

/// A bundle of the example inputs with an SBOM of minimist only, signed by the test-only key,
/// without a log entry.
fn lean_bundle() -> (Vec<u8>, Vec<u8>) {
    let mut sbom: Value = serde_json::from_slice(&read_example("inputs/sbom.cdx.json")).unwrap();
    sbom["components"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] != "lodash");
    let sbom = serde_json::to_vec(&sbom).unwrap();
    let inputs = ScoringInputs::parse(
        &sbom,
        &read_example("inputs/feed.json"),
        &read_example("inputs/vex.json"),
        &read_example("inputs/policy.json"),
    )
    .unwrap();
    let ledger = attestor_score::score(&inputs).unwrap();
    let key = SigningKey::from_pem(&pem("keys/test-only-signing.pem")).unwrap();
    let spec = BundleSpec {
        manifest: ledger.manifest(
            &artifact().parse().unwrap(),
            Some("registry.example/shop/cart"),
            "2026-11-01T09:00:00Z".parse().unwrap(),
        ),
        nodes: ledger.node_inputs(),
        signed_at: "2026-11-01T09:30:00Z".parse().unwrap(),
        tools: Default::default(),
        certificates: Vec::new(),
        transparency_log: None,
    };
    (build_bundle(spec, &key).unwrap().zip, sbom)
}

/// The example feed with one more lodash advisory.
fn newer_feed() -> Vec<u8> {
    let mut feed: Value = serde_json::from_slice(&read_example("inputs/feed.json")).unwrap();
    feed["advisories"].as_array_mut().unwrap().push(json!({
        "cvss": "8.1",
        "fixed": "4.17.22",
        "id": "GHSA-repl-ay00-test",
        "introduced": "0",
        "package": "pkg:npm/lodash"
    }));
    serde_json::to_vec(&feed).unwrap()
}

fn pv(ns: &str, name: &str, key: &str, labels: Value, tlog: &str) -> Value {
    json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "artifactDigest": artifact(),
            "image": "registry.example/shop/cart:1.4.2",
            "source": {"configMapKeyRef": {"name": "bundles", "key": key}},
            "issuerRef": {"name": ns},
            "checks": {"transparencyLog": tlog},
        },
    })
}

fn job(ns: &str, name: &str, spec: Value, run_now: Option<&str>) -> Value {
    let mut j = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "ReplayJob",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    });
    if let Some(t) = run_now {
        j["metadata"]["annotations"] = json!({"attestor.stellaops.io/run-now": t});
    }
    j
}

/// Polls the object's status until `check` holds; panics with the last status.
async fn wait_status(
    client: &Client,
    obj: &Value,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = std::time::Instant::now();
    let mut last = Value::Null;
    while start.elapsed() < WAIT {
        let current = get(client, obj).await;
        last = current.data.get("status").cloned().unwrap_or(Value::Null);
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "timed out waiting for {what}; last status: {}",
        serde_json::to_string_pretty(&last).unwrap()
    );
}

async fn events(client: &Client, ns: &str) -> Vec<(String, String, String)> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| {
            (
                e.regarding.and_then(|r| r.name).unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_feed_update_makes_exactly_the_affected_proofs_drift() {
    let Some(client) = setup().await else { return };
    let ns = unique("replay");
    let store_dir = std::env::temp_dir().join(&ns);
    let store = DirStore::new(&store_dir);
    let (lean_zip, lean_sbom) = lean_bundle();
    store.put_sync(InputKind::Sbom, &lean_sbom).unwrap();
    for (kind, file) in [
        (InputKind::Sbom, "inputs/sbom.cdx.json"),
        (InputKind::Feed, "inputs/feed.json"),
        (InputKind::Vex, "inputs/vex.json"),
        (InputKind::Policy, "inputs/policy.json"),
    ] {
        store.put_sync(kind, &read_example(file)).unwrap();
    }

    apply(
        &client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    apply(
        &client,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "bundles", "namespace": ns},
            "binaryData": {
                "valid.zip": b64(&read_example("bundles/valid.zip")),
                "lean.zip": b64(&lean_zip),
            },
        }),
    )
    .await;
    let anchors = [
        (
            format!("{ns}-signing"),
            "keys/test-only-signing.pub.pem",
            "AttestationSigning",
        ),
        (
            format!("{ns}-log"),
            "keys/test-only-log.pub.pem",
            "TransparencyLog",
        ),
    ]
    .map(|(name, key, purpose)| {
        json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "TrustAnchor",
            "metadata": {"name": name},
            "spec": {"publicKey": pem(key), "purposes": [purpose]},
        })
    });
    for a in &anchors {
        apply(&client, a.clone()).await;
    }
    let issuer = json!({
        "apiVersion": "attestor.stellaops.io/v1alpha1",
        "kind": "TrustedIssuer",
        "metadata": {"name": ns},
        "spec": {
            "issuer": format!("https://ci.example/{ns}"),
            "anchors": [format!("{ns}-signing"), format!("{ns}-log")],
            "scope": {"images": ["registry.example/shop/*"]},
            "approval": {"approvedBy": "runtime-tests", "reason": "test fixture"},
        },
    });
    apply(&client, issuer.clone()).await;
    let selected = json!({"replay": "yes"});
    let cart = pv(&ns, "cart", "valid.zip", selected.clone(), "Required");
    let lean = pv(&ns, "lean", "lean.zip", selected.clone(), "Skip");
    let other = pv(
        &ns,
        "other",
        "valid.zip",
        json!({"replay": "no"}),
        "Required",
    );
    for p in [&cart, &lean, &other] {
        apply(&client, p.clone()).await;
    }
    for p in [&cart, &lean, &other] {
        wait_condition(&client, p, "Verified", "True", None, WAIT).await;
    }

    // An invalid schedule is a condition, and the operator keeps running.
    let broken = job(
        &ns,
        "broken",
        json!({"schedule": "61 * * * *", "store": {"url": format!("file://{}", store_dir.display())}}),
        Some("1"),
    );
    apply(&client, broken.clone()).await;
    let c = wait_condition(
        &client,
        &broken,
        "Ready",
        "False",
        Some("InvalidSchedule"),
        WAIT,
    )
    .await;
    assert!(c.message.contains("minute field \"61\""), "{}", c.message);
    let bad_zone = job(
        &ns,
        "bad-zone",
        json!({"schedule": "0 3 * * *", "timeZone": "Mars/Olympus_Mons", "store": {"url": format!("file://{}", store_dir.display())}}),
        None,
    );
    apply(&client, bad_zone.clone()).await;
    wait_condition(
        &client,
        &bad_zone,
        "Ready",
        "False",
        Some("InvalidTimeZone"),
        WAIT,
    )
    .await;

    // Run 1 (run-now): both selected proofs reproduce; `other` is not selected.
    let spec = json!({
        "schedule": "0 3 * * *",
        "timeZone": "Europe/Berlin",
        "triggers": {"onNewFeedSnapshot": true},
        "selector": {"matchLabels": {"replay": "yes"}},
        "maxConcurrency": 2,
        "store": {"url": format!("file://{}", store_dir.display())},
    });
    let nightly = job(&ns, "nightly", spec.clone(), Some("first"));
    apply(&client, nightly.clone()).await;
    let status = wait_status(&client, &nightly, "run 1", |s| {
        s["lastRun"]["result"] == "Succeeded" && s["lastRunNow"] == "first"
    })
    .await;
    let run = &status["lastRun"];
    assert_eq!(
        (
            run["total"].as_i64(),
            run["reproduced"].as_i64(),
            run["drifted"].as_i64()
        ),
        (Some(2), Some(2), Some(0)),
        "{status:#}"
    );
    assert_eq!(run["trigger"], "RunNow");
    wait_condition(
        &client,
        &nightly,
        "LastRunSucceeded",
        "True",
        Some("AllReproduced"),
        WAIT,
    )
    .await;
    wait_condition(&client, &nightly, "Ready", "True", Some("Scheduled"), WAIT).await;
    wait_condition(&client, &nightly, "Running", "False", Some("Idle"), WAIT).await;
    assert!(status["nextRunTime"].is_string(), "{status:#}");
    assert!(status["feedSnapshot"].is_string(), "{status:#}");
    let cart_status = get(&client, &cart).await.data["status"].clone();
    assert_eq!(
        cart_status["lastReplay"]["result"], "Reproduced",
        "{cart_status:#}"
    );
    assert_eq!(
        cart_status["lastReplay"]["rootHash"],
        cart_status["proofRootHash"]
    );
    assert!(get(&client, &other).await.data["status"]["lastReplay"].is_null());

    // Run 2 (run-now): nothing changed, so skipUnchanged skips both.
    apply(&client, job(&ns, "nightly", spec.clone(), Some("second"))).await;
    let status = wait_status(&client, &nightly, "run 2", |s| {
        s["lastRun"]["result"] == "Succeeded" && s["lastRunNow"] == "second"
    })
    .await;
    assert_eq!(status["lastRun"]["skipped"], 2, "{status:#}");

    // Run 3: a new feed snapshot with a lodash advisory starts a run by itself.
    let old_root = cart_status["proofRootHash"].as_str().unwrap().to_string();
    store.put_sync(InputKind::Feed, &newer_feed()).unwrap();
    let status = wait_status(&client, &nightly, "the new-feed run", |s| {
        s["lastRun"]["trigger"] == "NewFeedSnapshot" && s["lastRun"]["result"] == "Succeeded"
    })
    .await;
    let run = &status["lastRun"];
    assert_eq!(
        (
            run["total"].as_i64(),
            run["reproduced"].as_i64(),
            run["drifted"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{status:#}"
    );
    let drifted = status["drifted"].as_array().unwrap();
    assert_eq!(drifted.len(), 1, "{status:#}");
    assert_eq!(drifted[0]["verification"], "cart");
    assert_eq!(drifted[0]["cause"], "Feed");
    assert_eq!(drifted[0]["oldRootHash"], old_root.as_str());
    assert_ne!(drifted[0]["newRootHash"], old_root.as_str());
    assert!(status["history"].as_array().unwrap().len() >= 3);
    wait_condition(
        &client,
        &nightly,
        "LastRunSucceeded",
        "True",
        Some("DriftDetected"),
        WAIT,
    )
    .await;
    let cart_status = get(&client, &cart).await.data["status"].clone();
    let last = &cart_status["lastReplay"];
    assert_eq!(last["result"], "Drifted", "{cart_status:#}");
    assert_eq!(last["cause"], "Feed");
    assert_eq!(last["previousRootHash"], old_root.as_str());
    assert_eq!(last["rootHash"], drifted[0]["newRootHash"]);
    // The verification controller still owns the rest and did not strip lastReplay.
    assert_eq!(cart_status["proofRootHash"], old_root.as_str());
    let lean_status = get(&client, &lean).await.data["status"].clone();
    assert_eq!(
        lean_status["lastReplay"]["result"], "Reproduced",
        "{lean_status:#}"
    );

    let mut seen = Vec::new();
    for _ in 0..40 {
        seen = events(&client, &ns).await;
        if seen.iter().any(|(_, r, _)| r == "ScoreDrifted")
            && seen
                .iter()
                .filter(|(o, r, _)| {
                    o == "nightly" && (r == "ReplayFinished" || r == "ScoreDrifted")
                })
                .count()
                >= 3
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        seen.iter()
            .any(|(o, r, n)| o == "cart" && r == "ScoreDrifted" && n.contains("Feed")),
        "{seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|(o, r, _)| o == "lean" && r == "ScoreDrifted"),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|(o, r, _)| o == "nightly" && r == "ReplayStarted"),
        "{seen:#?}"
    );
    // The drifting run is a Warning on the job too, naming the proof and the cause.
    assert!(
        seen.iter().any(|(o, r, n)| o == "nightly"
            && r == "ScoreDrifted"
            && n.contains("cart (cause Feed)")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|(o, r, _)| o == "broken" && r == "InvalidSchedule"),
        "{seen:#?}"
    );

    let metrics = scrape_metrics().await;
    for name in [
        r#"score_replay_total{result="drifted"}"#,
        r#"score_replay_total{result="reproduced"}"#,
        r#"score_replay_total{result="skipped"}"#,
        "score_replay_duration_seconds_count",
        "replay_queue_depth",
        r#"replay_runs_total{result="succeeded"}"#,
    ] {
        assert!(metrics.contains(name), "{name} not in /metrics");
    }

    for j in [&nightly, &broken, &bad_zone] {
        delete(&client, j).await;
    }
    for a in &anchors {
        delete(&client, a).await;
    }
    delete(&client, &issuer).await;
    delete(
        &client,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let _ = std::fs::remove_dir_all(&store_dir);
}

#[tokio::test]
async fn suspend_holds_back_runs_and_unusable_stores_are_conditions() {
    let Some(client) = setup().await else { return };
    let ns = unique("replay-suspend");
    let store_dir = std::env::temp_dir().join(&ns);
    DirStore::new(&store_dir)
        .put_sync(InputKind::Feed, &read_example("inputs/feed.json"))
        .unwrap();
    apply(
        &client,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let mut spec = json!({
        "schedule": "@yearly",
        "suspend": true,
        "store": {"url": format!("file://{}", store_dir.display())},
    });
    let held = job(&ns, "held", spec.clone(), Some("go"));
    apply(&client, held.clone()).await;
    wait_condition(&client, &held, "Ready", "True", Some("Suspended"), WAIT).await;
    wait_condition(
        &client,
        &held,
        "LastRunSucceeded",
        "Unknown",
        Some("NeverRun"),
        WAIT,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = get(&client, &held).await.data["status"].clone();
    assert!(status["lastRun"].is_null(), "{status:#}");
    assert!(status["nextRunTime"].is_null(), "{status:#}");

    spec["suspend"] = json!(false);
    apply(&client, job(&ns, "held", spec, Some("go"))).await;
    let status = wait_status(&client, &held, "the run held back", |s| {
        s["lastRun"]["result"] == "Succeeded"
    })
    .await;
    assert_eq!(status["lastRun"]["trigger"], "RunNow");
    assert_eq!(status["lastRun"]["total"], 0);
    assert!(status["nextRunTime"].is_string(), "{status:#}");

    let remote = job(
        &ns,
        "remote",
        json!({"schedule": "@daily", "store": {"url": "https://replay-store.example/shop"}}),
        None,
    );
    // An HTTP store is a store like a directory (it is read only when a run starts).
    apply(&client, remote.clone()).await;
    wait_condition(&client, &remote, "Ready", "True", None, WAIT).await;

    delete(
        &client,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let _ = std::fs::remove_dir_all(&store_dir);
}
