//! Checks that need no cluster: the generated files are current, the schemas are documented,
//! the names collide with nothing built in, and the examples agree with the keys, the bundles
//! and the CLI's reading of TrustAnchor files.

mod support;

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::Value;

use support::{repo_root, yaml_documents, yaml_files};

#[test]
fn crds_directory_is_what_the_types_generate() {
    let dir = repo_root().join("crds");
    let mut wanted = BTreeSet::new();
    let mut stale = Vec::new();
    for crd in attestor_api::crds() {
        let name = attestor_api::crd_file_name(&crd);
        let current = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        if current != attestor_api::crd_yaml(&crd) {
            stale.push(name.clone());
        }
        wanted.insert(name);
    }
    let present: BTreeSet<String> = yaml_files(&dir)
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let extra: Vec<_> = present.difference(&wanted).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "crds/ is stale (differs: {stale:?}, not generated: {extra:?}): run `make crds` and commit the result"
    );
}

#[test]
fn crd_reference_is_current() {
    let current = std::fs::read_to_string(repo_root().join("docs/crds.md")).unwrap_or_default();
    assert!(
        current == attestor_api::docs::markdown(),
        "docs/crds.md is stale: run `make docs` and commit the result"
    );
}

#[test]
fn crd_yaml_parses_back_to_the_same_definition() {
    for crd in attestor_api::crds() {
        let text = attestor_api::crd_yaml(&crd);
        let back: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
            serde_saphyr::from_str(&text).expect("YAML parses");
        assert_eq!(
            serde_json::to_value(&back).expect("json"),
            serde_json::to_value(&crd).expect("json"),
            "{}",
            attestor_api::crd_file_name(&crd)
        );
    }
}

fn undocumented(path: &str, schema: &Value, out: &mut Vec<String>) {
    if schema["description"]
        .as_str()
        .is_none_or(|d| d.trim().is_empty())
    {
        out.push(path.to_string());
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            undocumented(&format!("{path}.{name}"), prop, out);
        }
    }
    if schema["items"]["type"] == "object" {
        for (name, prop) in schema["items"]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            undocumented(&format!("{path}[].{name}"), prop, out);
        }
    }
}

#[test]
fn every_field_has_a_description_for_kubectl_explain() {
    let mut missing = Vec::new();
    for crd in attestor_api::crds() {
        let schema = serde_json::to_value(
            &crd.spec.versions[0]
                .schema
                .as_ref()
                .expect("schema")
                .open_api_v3_schema,
        )
        .expect("json");
        undocumented(&crd.spec.names.kind, &schema, &mut missing);
        for col in crd.spec.versions[0]
            .additional_printer_columns
            .as_deref()
            .unwrap_or_default()
        {
            if col.name != "Age" && col.description.is_none() {
                missing.push(format!("{} column {}", crd.spec.names.kind, col.name));
            }
        }
    }
    assert!(missing.is_empty(), "no description: {missing:#?}");
}

/// Short names of the built-in resources (`kubectl api-resources` on Kubernetes 1.33 to 1.37;
/// the API server test checks against the live list too).
const BUILTIN_SHORT_NAMES: &[&str] = &[
    "cm", "cj", "crd", "crds", "cs", "csr", "deploy", "ds", "ep", "ev", "hpa", "ing", "limits",
    "netpol", "no", "ns", "pc", "pdb", "po", "psp", "pv", "pvc", "quota", "rc", "rs", "sa", "sc",
    "sts", "svc",
];

#[test]
fn names_are_unique_and_collide_with_no_builtin() {
    let mut names = BTreeSet::new();
    for crd in attestor_api::crds() {
        let n = &crd.spec.names;
        assert_eq!(n.categories, Some(vec![attestor_api::CATEGORY.to_string()]));
        assert_eq!(crd.spec.group, attestor_api::GROUP);
        for short in n.short_names.as_deref().unwrap_or_default() {
            assert!(
                !BUILTIN_SHORT_NAMES.contains(&short.as_str()),
                "short name {short} of {} is taken by a built-in resource",
                n.kind
            );
            assert!(names.insert(short.clone()), "short name {short} twice");
        }
        assert!(names.insert(n.plural.clone()));
        assert!(
            crd.spec.versions[0]
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{} has a status subresource",
            n.kind
        );
    }
}

/// TrustAnchor YAML must stay readable by `attestor verify --trust-anchor`, which reads `spec`
/// as the core's `AnchorSpec`: every AnchorSpec field must round-trip through TrustAnchorSpec
/// under the same name.
#[test]
fn trust_anchor_spec_uses_the_field_names_of_the_core_anchor_spec() {
    let full = attestor_core::trust::AnchorSpec {
        public_key: Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into()),
        certificate: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()),
        intermediates: Some(
            "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n".into(),
        ),
        purposes: vec!["AttestationSigning".into(), "TransparencyLog".into()],
        not_before: Some("2025-01-01T00:00:00Z".parse().expect("time")),
        expires: Some("2027-12-31T00:00:00Z".parse().expect("time")),
    };
    let json = serde_json::to_value(&full).expect("json");
    let spec: attestor_api::TrustAnchorSpec =
        serde_json::from_value(json.clone()).expect("core AnchorSpec JSON is a TrustAnchorSpec");
    assert_eq!(spec.to_core(), full);
    let props = serde_json::to_value(
        &attestor_api::crds()[0].spec.versions[0]
            .schema
            .as_ref()
            .expect("schema")
            .open_api_v3_schema,
    )
    .expect("json")["properties"]["spec"]["properties"]
        .clone();
    for field in json.as_object().expect("object").keys() {
        assert!(props.get(field).is_some(), "TrustAnchor spec lacks {field}");
    }
}

#[test]
fn trust_anchor_files_read_the_same_as_the_cli_reads_them() {
    let files: Vec<_> = yaml_files(&repo_root().join("examples/trust"))
        .into_iter()
        .chain([repo_root().join("examples/10-trustanchors.yaml")])
        .collect();
    let mut n = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let typed: Vec<attestor_api::TrustAnchor> =
            serde_saphyr::from_multiple(&text).expect("TrustAnchor documents");
        #[derive(serde::Deserialize)]
        struct CliDoc {
            spec: attestor_core::trust::AnchorSpec,
        }
        let cli: Vec<CliDoc> = serde_saphyr::from_multiple(&text).expect("CLI documents");
        assert_eq!(typed.len(), cli.len());
        for (t, c) in typed.iter().zip(&cli) {
            // The CLI reads absent purposes as AttestationSigning; the API server defaults them so.
            let mut cli_spec = c.spec.clone();
            if cli_spec.purposes.is_empty() {
                cli_spec.purposes = vec!["AttestationSigning".into()];
            }
            assert_eq!(t.spec.to_core(), cli_spec, "{}", path.display());
            let name = t.metadata.name.as_deref().expect("name");
            attestor_core::trust::TrustAnchor::from_spec(name, &t.spec.to_core())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 7, "{n} anchors");
}

/// Every object of `examples/*.yaml` deserializes into its Rust type, so the controllers can
/// read what the examples declare.
#[test]
fn examples_deserialize_into_the_types() {
    let mut kinds = BTreeSet::new();
    for path in yaml_files(&repo_root().join("examples")) {
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.lines().any(|l| l.starts_with("# ")),
            "{}: say in a comment what the objects demonstrate",
            path.display()
        );
        for doc in yaml_documents(&path) {
            let kind = doc["kind"].as_str().expect("kind").to_string();
            let ok = match kind.as_str() {
                "TrustAnchor" => {
                    serde_json::from_value::<attestor_api::TrustAnchor>(doc.clone()).map(|_| ())
                }
                "TrustedIssuer" => {
                    serde_json::from_value::<attestor_api::TrustedIssuer>(doc.clone()).map(|_| ())
                }
                "ProofVerification" => {
                    serde_json::from_value::<attestor_api::ProofVerification>(doc.clone())
                        .map(|_| ())
                }
                "ReplayJob" => {
                    serde_json::from_value::<attestor_api::ReplayJob>(doc.clone()).map(|_| ())
                }
                _ => Ok(()),
            };
            ok.unwrap_or_else(|e| panic!("{}: {kind}: {e}", path.display()));
            kinds.insert(kind);
        }
    }
    for kind in [
        "TrustAnchor",
        "TrustedIssuer",
        "ProofVerification",
        "ReplayJob",
    ] {
        assert!(kinds.contains(kind), "no {kind} example");
    }
}

/// Each object in examples/ is preceded by a comment saying what it demonstrates.
#[test]
fn every_example_object_says_what_it_demonstrates() {
    for path in yaml_files(&repo_root().join("examples")) {
        let text = std::fs::read_to_string(&path).expect("read");
        for (i, doc) in text.split("\n---\n").enumerate() {
            if doc
                .lines()
                .all(|l| l.trim().is_empty() || l.starts_with('#'))
            {
                continue;
            }
            assert!(
                doc.trim_start().starts_with("# Demonstrates:")
                    || doc.lines().any(|l| l.starts_with("# Demonstrates:")),
                "{} document {}: start it with `# Demonstrates: …`",
                path.display(),
                i + 1
            );
        }
    }
}

/// The generated examples embed the keys of examples/keys and the bundles of examples/bundles
/// byte for byte (`make examples` regenerates them).
#[test]
fn generated_examples_match_the_keys_and_bundles() {
    let root = repo_root();
    let anchors = yaml_documents(&root.join("examples/10-trustanchors.yaml"));
    let key = |name: &str| {
        std::fs::read_to_string(root.join("examples/keys").join(name)).expect("key file")
    };
    let by_name = |n: &str| {
        anchors
            .iter()
            .find(|d| d["metadata"]["name"] == n)
            .unwrap_or_else(|| panic!("no TrustAnchor {n}"))
    };
    assert_eq!(
        by_name("example-ci-signing-2026")["spec"]["publicKey"],
        key("test-only-signing.pub.pem").as_str()
    );
    assert_eq!(
        by_name("example-transparency-log")["spec"]["publicKey"],
        key("test-only-log.pub.pem").as_str()
    );
    assert_eq!(
        by_name("example-ci-signing-2024")["spec"]["publicKey"],
        key("test-only-retired.pub.pem").as_str()
    );
    assert_eq!(
        by_name("example-root-ca")["spec"]["certificate"],
        std::fs::read_to_string(root.join("examples/trust/test-only-root-ca.pem"))
            .expect("root")
            .as_str()
    );

    let docs = yaml_documents(&root.join("examples/30-proofverifications.yaml"));
    let config_map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("a ConfigMap of bundles");
    let binary = config_map["binaryData"].as_object().expect("binaryData");
    assert!(binary.contains_key("valid.zip"));
    for (key, b64) in binary {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 string"))
            .expect("base64");
        let file = std::fs::read(root.join("examples/bundles").join(key)).expect("bundle");
        assert!(
            bytes == file,
            "binaryData {key} differs from examples/bundles/{key}: run `make examples`"
        );
    }
    let valid_manifest_digest = {
        let m: Value = serde_json::from_slice(
            &std::fs::read(root.join("examples/inputs/manifest.json")).expect("manifest"),
        )
        .expect("json");
        m["artifactDigest"].as_str().expect("digest").to_string()
    };
    for pv in docs.iter().filter(|d| d["kind"] == "ProofVerification") {
        assert_eq!(pv["spec"]["artifactDigest"], valid_manifest_digest.as_str());
    }
}

#[test]
fn every_invalid_example_names_the_message_it_expects() {
    let files = yaml_files(&repo_root().join("examples/invalid"));
    assert!(files.len() >= 20, "examples/invalid has one file per rule");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("# expect: ") && first.len() > "# expect: ".len() + 5,
            "{}: first line must be `# expect: <part of the API server's message>`",
            path.display()
        );
        let docs = yaml_documents(&path);
        assert_eq!(docs.len(), 1, "{}: one object per file", path.display());
        assert_eq!(
            docs[0]["apiVersion"],
            attestor_api::API_VERSION,
            "{}",
            path.display()
        );
    }
}

#[test]
fn spec_durations_parse_with_the_documented_grammar() {
    assert_eq!(
        attestor_api::common::DURATION_PATTERN,
        r"^([0-9]+(ms|s|m|h|d))+$"
    );
    let checks = attestor_api::proof_verification::ProofChecks::default();
    let window = checks.timestamp_window().expect("defaults parse");
    assert_eq!(window.clock_skew.as_secs(), 300);
    assert_eq!(window.max_age, None);
}
