//! The CRDs against a real kube-apiserver: they install, the examples are accepted and read back
//! as written (plus defaults), every invalid example is refused with HTTP 422 and its expected
//! message, and the printer columns show in the Table view.
//!
//! Needs a control plane: `make cluster-up` (or `KUBECONFIG`). Without one the tests print
//! `skipping: no control plane (run make cluster-up)` and pass, except with `CI=true`.

mod support;

use std::path::Path;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

use support::{MANAGER, apply, repo_root, yaml_documents, yaml_files};

/// `Some(client)` with the CRDs installed, or `None` when the test is to be skipped.
async fn setup() -> Option<kube::Client> {
    let client = support::client().await?;
    support::install_crds(&client).await;
    Some(client)
}

/// Every member of `expected` is in `actual` with the same value (arrays element by element);
/// `actual` may have more (defaults, metadata the server adds).
fn check_subset(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| {
                    format!("{path}.{k} is missing from what the server returned")
                })?;
                check_subset(av, ev, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => a
            .iter()
            .zip(e)
            .enumerate()
            .try_for_each(|(i, (av, ev))| check_subset(av, ev, &format!("{path}[{i}]"))),
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{path}: wrote {e}, read back {a}")),
    }
}

fn example_files() -> Vec<std::path::PathBuf> {
    yaml_files(&repo_root().join("examples"))
}

async fn apply_examples(client: &kube::Client) -> Vec<(Value, DynamicObject)> {
    let mut applied = Vec::new();
    for path in example_files() {
        for doc in yaml_documents(&path) {
            let obj = apply(client, &doc, false).await.unwrap_or_else(|e| {
                panic!(
                    "{}: {} {} was refused: {e}",
                    path.display(),
                    doc["kind"],
                    doc["metadata"]["name"]
                )
            });
            applied.push((doc, obj));
        }
    }
    applied
}

#[tokio::test]
async fn crds_are_established_and_served_as_generated() {
    let Some(client) = setup().await else { return };
    let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for generated in attestor_api::crds() {
        let name = generated.metadata.name.clone().expect("name");
        let served = api.get(&name).await.expect("CRD installed");
        assert_eq!(
            served.spec.names.categories,
            Some(vec!["attestor".to_string()])
        );
        assert_eq!(
            served.spec.names.short_names,
            generated.spec.names.short_names
        );
        let columns: Vec<String> = served.spec.versions[0]
            .additional_printer_columns
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let expected: &[&str] = match served.spec.names.kind.as_str() {
            "TrustAnchor" => &["Ready", "Key ID", "Algorithm", "Expires", "Age"],
            "TrustedIssuer" => &["Trusted", "Issuer", "Keys", "Age"],
            "ProofVerification" => &["Verified", "Reason", "Digest", "Issuer", "Age"],
            "ReplayJob" => &["Schedule", "Suspend", "Last Run", "Drifted", "Age"],
            other => panic!("unexpected kind {other}"),
        };
        assert_eq!(columns, expected, "printer columns of {name}");
        assert!(
            served.spec.versions[0]
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{name} has a status subresource"
        );
    }
}

/// Our short names are used by no other resource the API server serves.
#[tokio::test]
async fn short_names_are_unique_in_the_live_discovery() {
    let Some(client) = setup().await else { return };
    let mut lists = vec![client.list_core_api_resources("v1").await.expect("core")];
    for group in client.list_api_groups().await.expect("groups").groups {
        for version in group.versions {
            lists.push(
                client
                    .list_api_group_resources(&version.group_version)
                    .await
                    .expect("group resources"),
            );
        }
    }
    let ours: Vec<String> = attestor_api::crds()
        .iter()
        .flat_map(|c| c.spec.names.short_names.clone().unwrap_or_default())
        .collect();
    for list in lists {
        if list.group_version == attestor_api::API_VERSION {
            continue;
        }
        for resource in list.resources {
            for short in resource.short_names.unwrap_or_default() {
                assert!(
                    !ours.contains(&short),
                    "short name {short} is also used by {} {}",
                    list.group_version,
                    resource.name
                );
            }
        }
    }
}

#[tokio::test]
async fn every_example_is_accepted_and_reads_back_as_written() {
    let Some(client) = setup().await else { return };
    let applied = apply_examples(&client).await;
    let kinds: Vec<&str> = applied
        .iter()
        .map(|(d, _)| d["kind"].as_str().unwrap_or_default())
        .collect();
    for kind in [
        "Namespace",
        "ConfigMap",
        "TrustAnchor",
        "TrustedIssuer",
        "ProofVerification",
        "ReplayJob",
    ] {
        assert!(kinds.contains(&kind), "examples/ has no {kind}");
    }
    for (doc, _) in &applied {
        let obj: DynamicObject = serde_json::from_value(doc.clone()).expect("object");
        let api = support::api_for(&client, &obj).await;
        let name = obj.metadata.name.as_deref().expect("name");
        let read = api.get(name).await.expect("read back");
        let read = serde_json::to_value(&read).expect("json");
        let mut expected = doc.clone();
        expected.as_object_mut().expect("object").remove("metadata");
        for (k, v) in doc["metadata"].as_object().expect("metadata") {
            expected["metadata"][k] = v.clone();
        }
        check_subset(&read, &expected, &format!("{} {name}", doc["kind"]))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test]
async fn examples_trust_yaml_files_are_valid_trust_anchors() {
    let Some(client) = setup().await else { return };
    let mut seen = 0;
    for path in yaml_files(&repo_root().join("examples/trust")) {
        for doc in yaml_documents(&path) {
            apply(&client, &doc, true)
                .await
                .unwrap_or_else(|e| panic!("{} was refused: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 3, "examples/trust holds the TrustAnchor YAML files");
}

#[tokio::test]
async fn the_github_attestations_example_is_accepted() {
    let Some(client) = setup().await else { return };
    let mut kinds = Vec::new();
    for path in yaml_files(&repo_root().join("examples/github")) {
        for doc in yaml_documents(&path) {
            apply(&client, &doc, true)
                .await
                .unwrap_or_else(|e| panic!("{} was refused: {e}", path.display()));
            kinds.push(doc["kind"].as_str().unwrap_or_default().to_string());
        }
    }
    assert_eq!(kinds, ["TrustAnchor", "TrustedIssuer"]);
}

/// The `# expect:` phrase on the first line of an invalid example.
fn expectation(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read");
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| {
            panic!(
                "{}: the first line must be `# expect: <part of the API server's message>`",
                path.display()
            )
        })
        .trim()
        .to_string()
}

#[tokio::test]
async fn every_invalid_example_is_refused_with_its_message() {
    let Some(client) = setup().await else { return };
    // The namespaced invalid examples live in `shop`.
    apply_examples(&client).await;
    let files = yaml_files(&repo_root().join("examples/invalid"));
    assert!(files.len() >= 20, "examples/invalid has one file per rule");
    let mut problems = Vec::new();
    for path in &files {
        let expect = expectation(path);
        let docs = yaml_documents(path);
        assert_eq!(docs.len(), 1, "{}: one object per file", path.display());
        let file = path.file_name().expect("name").to_string_lossy();
        match apply(&client, &docs[0], true).await {
            Ok(_) => problems.push(format!(
                "{file}: accepted, expected a refusal saying {expect:?}"
            )),
            Err(kube::Error::Api(status)) => {
                // When a schema error blocks the CEL rules the server adds a note as a second
                // cause ("some validation rules were not checked"); it is not a second error.
                let causes = status
                    .details
                    .as_ref()
                    .map(|d| {
                        d.causes
                            .iter()
                            .filter(|c| !c.message.contains("validation rules were not checked"))
                            .count()
                    })
                    .unwrap_or_default();
                if status.code != 422 {
                    problems.push(format!(
                        "{file}: HTTP {} (want 422): {}",
                        status.code, status.message
                    ));
                } else if !status.message.contains(&expect) {
                    problems.push(format!(
                        "{file}: message does not contain {expect:?}: {}",
                        status.message
                    ));
                } else if causes != 1 {
                    // Exactly one cause: the file breaks only the rule it is named after.
                    problems.push(format!(
                        "{file}: {causes} causes, want exactly 1: {}",
                        status.message
                    ));
                } else {
                    println!("{file}: refused: {}", status.message);
                }
            }
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Two refusals that server-side apply reports before validation, as HTTP 500 from building the
/// typed patch (an API server quirk), so they are not in examples/invalid/, which is all 422:
/// a purpose listed twice (purposes is a set) and a misspelt field (strict field validation).
#[tokio::test]
async fn duplicate_purposes_and_unknown_fields_are_refused() {
    let Some(client) = setup().await else { return };
    let key = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEALvJd3/3rNJiNHUbWb9o9bxMhWRDa+1jp1ow/E4HHklg=\n-----END PUBLIC KEY-----\n";
    for (spec, expect) in [
        (
            json!({"publicKey": key, "purposes": ["TransparencyLog", "TransparencyLog"]}),
            "duplicate entries for key [=\"TransparencyLog\"]",
        ),
        (
            json!({"publicKeys": key}),
            ".spec.publicKeys: field not declared in schema",
        ),
    ] {
        let doc = json!({"apiVersion": attestor_api::API_VERSION, "kind": "TrustAnchor",
                         "metadata": {"name": "refused-test"}, "spec": spec});
        match apply(&client, &doc, true).await {
            Err(kube::Error::Api(status)) => {
                assert!(status.message.contains(expect), "{}", status.message)
            }
            other => panic!("{spec} was not refused: {other:?}"),
        }
    }
}

#[tokio::test]
async fn defaults_are_filled_in_by_the_api_server() {
    let Some(client) = setup().await else { return };
    apply_examples(&client).await;
    let minimal = [
        json!({"apiVersion": attestor_api::API_VERSION, "kind": "TrustAnchor",
               "metadata": {"name": "defaults-test-anchor"},
               "spec": {"publicKey": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEALvJd3/3rNJiNHUbWb9o9bxMhWRDa+1jp1ow/E4HHklg=\n-----END PUBLIC KEY-----\n"}}),
        json!({"apiVersion": attestor_api::API_VERSION, "kind": "TrustedIssuer",
               "metadata": {"name": "defaults-test-issuer"},
               "spec": {"issuer": "vendor.example", "directory": {"url": "https://keys.vendor.example/keys.json"},
                        "scope": {"images": ["*"]}}}),
        json!({"apiVersion": attestor_api::API_VERSION, "kind": "ProofVerification",
               "metadata": {"name": "defaults-test", "namespace": "shop"},
               "spec": {"artifactDigest": format!("sha256:{}", "0".repeat(64)),
                        "source": {"configMapKeyRef": {"name": "proof-bundles", "key": "valid.zip"}},
                        "issuerRef": {"name": "example-ci"}}}),
        json!({"apiVersion": attestor_api::API_VERSION, "kind": "ReplayJob",
               "metadata": {"name": "defaults-test", "namespace": "shop"},
               "spec": {"schedule": "@daily", "store": {"url": "file:///var/lib/attestor/store"}}}),
    ];
    let want = [
        json!({"purposes": ["AttestationSigning"], "expiryWarning": "720h"}),
        json!({"directory": {"refreshInterval": "1h"}}),
        json!({"checks": {"transparencyLog": "Required", "clockSkew": "5m"}, "reverifyInterval": "24h"}),
        json!({"triggers": {"onNewFeedSnapshot": false}, "maxConcurrency": 2, "skipUnchanged": true,
               "snapshots": "Latest", "concurrencyPolicy": "Forbid", "suspend": false,
               "successfulRunsHistoryLimit": 3, "failedRunsHistoryLimit": 1, "maxDriftedReported": 50}),
    ];
    for (doc, want) in minimal.iter().zip(want) {
        let obj = apply(&client, doc, true)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", doc["kind"]));
        let spec = &obj.data["spec"];
        check_subset(spec, &want, &format!("{} spec", doc["kind"]))
            .unwrap_or_else(|e| panic!("{e}"));
        // The defaults are exactly what the Rust types assume when a field is absent.
        let typed_default = match doc["kind"].as_str() {
            Some("TrustAnchor") => serde_json::to_value(
                serde_json::from_value::<attestor_api::TrustAnchorSpec>(doc["spec"].clone())
                    .expect("spec"),
            ),
            Some("TrustedIssuer") => serde_json::to_value(
                serde_json::from_value::<attestor_api::TrustedIssuerSpec>(doc["spec"].clone())
                    .expect("spec"),
            ),
            Some("ProofVerification") => serde_json::to_value(
                serde_json::from_value::<attestor_api::ProofVerificationSpec>(doc["spec"].clone())
                    .expect("spec"),
            ),
            _ => serde_json::to_value(
                serde_json::from_value::<attestor_api::ReplayJobSpec>(doc["spec"].clone())
                    .expect("spec"),
            ),
        }
        .expect("json");
        assert_eq!(
            spec, &typed_default,
            "server defaults of {} differ from the Rust defaults",
            doc["kind"]
        );
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn proof_verification(name: &str, digest_char: char) -> Value {
    json!({"apiVersion": attestor_api::API_VERSION, "kind": "ProofVerification",
           "metadata": {"name": name, "namespace": "shop"},
           "spec": {"artifactDigest": format!("sha256:{}", digest_char.to_string().repeat(64)),
                    "source": {"url": {"url": "https://bundles.example/cart.zip"}},
                    "issuerRef": {"name": "example-ci"}}})
}

fn pv_api(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::erase::<attestor_api::ProofVerification>(&());
    Api::namespaced_with(client.clone(), "shop", &ar)
}

#[tokio::test]
async fn artifact_digest_cannot_change() {
    let Some(client) = setup().await else { return };
    apply_examples(&client).await;
    let name = unique("immutable");
    apply(&client, &proof_verification(&name, 'a'), false)
        .await
        .expect("created");
    let result = apply(&client, &proof_verification(&name, 'b'), false).await;
    pv_api(&client)
        .delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{}", status.message);
            assert!(
                status.message.contains("spec.artifactDigest is immutable"),
                "{}",
                status.message
            );
        }
        other => panic!("changing spec.artifactDigest was not refused: {other:?}"),
    }
}

/// Column names and the rows of a Table request, as `kubectl get` makes it.
async fn table(client: &kube::Client, path: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let request = http::Request::get(path)
        .header(
            http::header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(request).await.expect("table");
    let table: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(table["kind"], "Table", "{text}");
    let columns = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let rows = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["cells"].as_array().expect("cells").clone())
        .collect();
    (columns, rows)
}

#[tokio::test]
async fn table_view_shows_the_printer_columns_with_status_values() {
    let Some(client) = setup().await else { return };
    apply_examples(&client).await;
    let base = format!("/apis/{}", attestor_api::API_VERSION);

    // A verification whose status the test writes, as the controller will.
    let name = unique("table");
    apply(&client, &proof_verification(&name, 'c'), false)
        .await
        .expect("created");
    let status = json!({"apiVersion": attestor_api::API_VERSION, "kind": "ProofVerification",
        "metadata": {"name": name, "namespace": "shop"},
        "status": {"observedGeneration": 1, "conditions": [
            {"type": "Verified", "status": "False", "reason": "SignatureInvalid",
             "message": "signature does not verify", "lastTransitionTime": "2026-11-23T10:00:00Z",
             "observedGeneration": 1},
            {"type": "SignatureValid", "status": "False", "reason": "SignatureInvalid",
             "message": "signature does not verify", "lastTransitionTime": "2026-11-23T10:00:00Z"}]}});
    let patched = pv_api(&client)
        .patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&status),
        )
        .await;
    let (columns, rows) = table(
        &client,
        &format!("{base}/namespaces/shop/proofverifications"),
    )
    .await;
    pv_api(&client)
        .delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");
    patched.expect("status written through the status subresource");
    assert_eq!(
        columns,
        ["Name", "Verified", "Reason", "Digest", "Issuer", "Age"]
    );
    let row = rows
        .iter()
        .find(|r| r[0] == name.as_str())
        .expect("the row of the test object");
    assert_eq!(row[1], "False");
    assert_eq!(row[2], "SignatureInvalid");
    assert_eq!(row[3], format!("sha256:{}", "c".repeat(64)).as_str());
    assert_eq!(row[4], "example-ci");
    let examples = rows.iter().filter(|r| r[4] == "example-ci").count();
    assert!(
        examples >= 3,
        "the example verifications are listed: {rows:?}"
    );

    for (path, want) in [
        (
            "trustanchors",
            &["Name", "Ready", "Key ID", "Algorithm", "Expires", "Age"][..],
        ),
        (
            "trustedissuers",
            &["Name", "Trusted", "Issuer", "Keys", "Age"][..],
        ),
        (
            "namespaces/shop/replayjobs",
            &["Name", "Schedule", "Suspend", "Last Run", "Drifted", "Age"][..],
        ),
    ] {
        let (columns, rows) = table(&client, &format!("{base}/{path}")).await;
        assert_eq!(columns, want, "{path}");
        assert!(!rows.is_empty(), "{path}: the examples are listed");
    }
}

#[tokio::test]
async fn status_is_not_written_through_the_main_resource() {
    let Some(client) = setup().await else { return };
    apply_examples(&client).await;
    let name = unique("status");
    let mut doc = proof_verification(&name, 'd');
    doc["status"] = json!({"manifestId": "sha256:forged"});
    let api = pv_api(&client);
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(doc).expect("object"),
        )
        .await;
    let _ = api.delete(&name, &DeleteParams::default()).await;
    let created = created.expect("created");
    assert!(
        created
            .data
            .get("status")
            .is_none_or(|s| s.get("manifestId").is_none()),
        "status must only be set through the status subresource: {:?}",
        created.data
    );
}
