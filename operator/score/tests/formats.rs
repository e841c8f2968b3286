//! SBOM and VEX formats beside CycloneDX JSON and OpenVEX: SPDX 2.2/2.3
//! JSON, SPDX 3.0 JSON-LD, CSAF 2.0 VEX and CycloneDX VEX (standalone and
//! embedded), from real-shaped fixtures in `tests/data`, and their errors.

use std::path::PathBuf;

use attestor_score::inputs::container::{FeedLimits, load_path};
use attestor_score::inputs::feed::Feed;
use attestor_score::inputs::sbom::{Sbom, SbomFormat};
use attestor_score::inputs::vex::{Vex, VexFormat, VexStatus};
use attestor_score::{InputError, InputKind, Reason, ScoreError, ScoreVersion, ScoringInputs};
use serde_json::{Value, json};

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap()
}

fn value(path: &str) -> Value {
    serde_json::from_slice(&read(path)).unwrap()
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn purls(sbom: &Sbom) -> Vec<&str> {
    sbom.components
        .iter()
        .map(|c| c.canonical.as_str())
        .collect()
}

fn feed() -> Feed {
    load_path(&data("feeds/dir"), &FeedLimits::default())
        .unwrap()
        .feed
}

/// The status VEX decides for `advisory` in the component `purl` of `sbom`.
fn status(vex: &Vex, sbom: &Sbom, advisory: &str, purl: &str) -> Option<VexStatus> {
    let feed = feed();
    let advisory = feed.advisories.iter().find(|a| a.id == advisory).unwrap();
    let component = sbom
        .components
        .iter()
        .find(|c| c.canonical == purl)
        .unwrap_or_else(|| panic!("{purl} in {:?}", purls(sbom)));
    vex.statement_for(advisory, component).map(|s| s.status)
}

/// The pointer and reason of an `Invalid` error of `kind`.
fn invalid(error: InputError, kind: InputKind) -> (String, Reason) {
    match error {
        InputError::Invalid {
            kind: k,
            pointer,
            reason,
        } if k == kind => (pointer, reason),
        other => panic!("expected an invalid {kind}, got {other}"),
    }
}

#[test]
fn spdx_2_3_from_syft() {
    let sbom = Sbom::parse(&read("sbom/syft.spdx.json")).unwrap();
    assert_eq!(sbom.format, SbomFormat::Spdx2);
    assert_eq!(
        purls(&sbom),
        [
            "pkg:npm/lodash@4.17.20",
            "pkg:pypi/jinja2@3.1.2",
            "pkg:pypi/requests@2.31.0"
        ],
        "versionInfo fills a purl without version; the CPE ref is not a purl"
    );
    assert_eq!(sbom.skipped, 1, "the /app directory package has no purl");

    // Package, ref and relationship order are not part of the address.
    let mut doc = value("sbom/syft.spdx.json");
    doc["packages"].as_array_mut().unwrap().reverse();
    doc["packages"][3]["externalRefs"]
        .as_array_mut()
        .unwrap()
        .reverse();
    doc["relationships"].as_array_mut().unwrap().reverse();
    assert_eq!(Sbom::parse(&bytes(&doc)).unwrap().digest, sbom.digest);
}

#[test]
fn spdx_2_2_from_trivy() {
    let sbom = Sbom::parse(&read("sbom/trivy.spdx-2.2.json")).unwrap();
    assert_eq!(sbom.format, SbomFormat::Spdx2);
    assert_eq!(purls(&sbom), ["pkg:npm/lodash@4.17.20"], "PACKAGE_MANAGER");
    assert_eq!(sbom.skipped, 1, "the operating system package");
}

#[test]
fn spdx_3_json_ld() {
    let sbom = Sbom::parse(&read("sbom/spdx3.jsonld")).unwrap();
    assert_eq!(sbom.format, SbomFormat::Spdx3);
    assert_eq!(
        purls(&sbom),
        ["pkg:pypi/jinja2@3.1.2", "pkg:pypi/requests@2.31.0"],
        "software_packageUrl, and externalIdentifier packageUrl with software_packageVersion"
    );
    assert_eq!(sbom.skipped, 1, "the application package has no purl");
    let mut doc = value("sbom/spdx3.jsonld");
    doc["@graph"].as_array_mut().unwrap().reverse();
    assert_eq!(Sbom::parse(&bytes(&doc)).unwrap().digest, sbom.digest);
}

#[test]
fn cyclonedx_counts_what_it_cannot_score() {
    let sbom = Sbom::parse(&read("sbom/embedded-vex.cdx.json")).unwrap();
    assert_eq!(sbom.format, SbomFormat::CycloneDx);
    assert_eq!(
        purls(&sbom),
        ["pkg:npm/lodash@4.17.20", "pkg:pypi/requests@2.31.0"]
    );
    assert_eq!(sbom.skipped, 1);
    assert_eq!(sbom.embedded_vex, 2, "not silently ignored");
}

#[test]
fn sbom_errors_name_the_format_and_the_value() {
    let unsupported = |text: &[u8]| match Sbom::parse(text).unwrap_err() {
        InputError::Unsupported { kind, format, .. } => {
            assert_eq!(kind, InputKind::Sbom);
            format
        }
        other => panic!("{other}"),
    };
    assert_eq!(
        unsupported(
            b"<?xml version=\"1.0\"?>\n<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\"/>"
        ),
        "CycloneDX XML"
    );
    assert_eq!(
        unsupported(b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n"),
        "SPDX tag-value"
    );
    assert_eq!(
        unsupported(b"<rdf:RDF xmlns:spdx=\"http://spdx.org/rdf/terms#\"/>"),
        "SPDX RDF/XML"
    );

    let text = read("sbom/syft.spdx.json");
    assert!(matches!(
        Sbom::parse(&text[..text.len() / 2]).unwrap_err(),
        InputError::Json { .. }
    ));

    let mut doc = value("sbom/syft.spdx.json");
    doc["spdxVersion"] = json!("SPDX-3.0");
    let (pointer, reason) = invalid(Sbom::parse(&bytes(&doc)).unwrap_err(), InputKind::Sbom);
    assert_eq!(pointer, "/spdxVersion");
    assert!(matches!(reason, Reason::UnknownValue { .. }));

    let mut doc = value("sbom/syft.spdx.json");
    doc["packages"][1]["externalRefs"][0]["referenceLocator"] = json!("pkg:pypi/");
    let (pointer, reason) = invalid(Sbom::parse(&bytes(&doc)).unwrap_err(), InputKind::Sbom);
    assert_eq!(pointer, "/packages/1/externalRefs/0/referenceLocator");
    assert!(matches!(reason, Reason::Purl { .. }));

    let mut doc = value("sbom/syft.spdx.json");
    doc["packages"][0]["externalRefs"] = json!({"referenceType": "purl"});
    let (pointer, reason) = invalid(Sbom::parse(&bytes(&doc)).unwrap_err(), InputKind::Sbom);
    assert_eq!(pointer, "/packages/0/externalRefs");
    assert!(matches!(reason, Reason::WrongType { .. }));

    let mut doc = value("sbom/spdx3.jsonld");
    doc["@context"] = json!("https://www.w3.org/ns/activitystreams");
    let (pointer, _) = invalid(Sbom::parse(&bytes(&doc)).unwrap_err(), InputKind::Sbom);
    assert_eq!(pointer, "/@context");

    let mut doc = value("sbom/spdx3.jsonld");
    doc.as_object_mut().unwrap().remove("@graph");
    let (_, reason) = invalid(Sbom::parse(&bytes(&doc)).unwrap_err(), InputKind::Sbom);
    assert_eq!(reason, Reason::Missing { member: "@graph" });

    let mut doc = value("sbom/spdx3.jsonld");
    doc["@graph"][6]["externalIdentifier"][1]["identifier"] = json!(7);
    let (pointer, _) = invalid(Sbom::parse(&bytes(&doc)).unwrap_err(), InputKind::Sbom);
    assert_eq!(pointer, "/@graph/6/externalIdentifier/1/identifier");
}

#[test]
fn csaf_vex_like_red_hat() {
    let vex = Vex::parse(&read("vex/csaf-redhat.json")).unwrap();
    assert_eq!(vex.format, VexFormat::Csaf);
    assert_eq!(vex.unresolved, 1, "python-jinja2 on RHEL 9 has no purl");
    let mut seen: Vec<(String, VexStatus, Option<String>)> = vex
        .statements
        .iter()
        .map(|s| {
            (
                s.products
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                s.status,
                s.justification.clone(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "pkg:pypi/jinja2@3.1.2".to_string(),
                VexStatus::NotAffected,
                Some("vulnerable_code_not_in_execute_path".to_string())
            ),
            ("pkg:pypi/requests".to_string(), VexStatus::Affected, None),
            (
                "pkg:rpm/redhat/python-jinja2@3.1.2-1.el9".to_string(),
                VexStatus::Fixed,
                None
            ),
        ]
    );
    // Matched to the advisories by alias (CVE) and by `ids` (GHSA).
    let sbom = Sbom::parse(&read("sbom/syft.spdx.json")).unwrap();
    assert_eq!(
        status(&vex, &sbom, "PYSEC-2024-4", "pkg:pypi/jinja2@3.1.2"),
        Some(VexStatus::NotAffected)
    );
    assert_eq!(
        status(
            &vex,
            &sbom,
            "GHSA-9wx4-h78v-vm56",
            "pkg:pypi/requests@2.31.0"
        ),
        Some(VexStatus::Affected)
    );
    assert_eq!(
        status(&vex, &sbom, "GHSA-35jh-r3h4-6jhm", "pkg:npm/lodash@4.17.20"),
        None
    );
}

#[test]
fn cyclonedx_vex_standalone_and_embedded() {
    let vex = Vex::parse(&read("vex/cyclonedx-vex.json")).unwrap();
    assert_eq!(vex.format, VexFormat::CycloneDx);
    assert_eq!(
        vex.unresolved, 2,
        "a BOM-Link to an opaque bom-ref of another BOM, and a vulnerability without analysis"
    );
    let sbom = Sbom::parse(&read("sbom/embedded-vex.cdx.json")).unwrap();
    assert_eq!(
        status(&vex, &sbom, "GHSA-35jh-r3h4-6jhm", "pkg:npm/lodash@4.17.20"),
        Some(VexStatus::NotAffected),
        "by reference id, through a BOM-Link whose fragment is a purl"
    );
    assert_eq!(
        status(
            &vex,
            &sbom,
            "GHSA-9wx4-h78v-vm56",
            "pkg:pypi/requests@2.31.0"
        ),
        Some(VexStatus::UnderInvestigation),
        "by CVE alias, through a percent-encoded BOM-Link"
    );

    // The SBOM's own vulnerabilities, when it is given as the VEX document:
    // refs are its components' bom-refs.
    let embedded = Vex::parse(&read("sbom/embedded-vex.cdx.json")).unwrap();
    assert_eq!(embedded.format, VexFormat::CycloneDx);
    assert_eq!(embedded.unresolved, 0);
    assert_eq!(
        status(
            &embedded,
            &sbom,
            "GHSA-35jh-r3h4-6jhm",
            "pkg:npm/lodash@4.17.20"
        ),
        Some(VexStatus::Affected)
    );
    let statement = embedded
        .statements
        .iter()
        .find(|s| s.status == VexStatus::NotAffected)
        .unwrap();
    assert_eq!(statement.justification.as_deref(), Some("false_positive"));
    assert_eq!(
        status(
            &embedded,
            &sbom,
            "GHSA-9wx4-h78v-vm56",
            "pkg:pypi/requests@2.31.0"
        ),
        Some(VexStatus::NotAffected)
    );
}

#[test]
fn the_latest_statement_wins_across_formats_too() {
    // Two CycloneDX analyses of one vulnerability: the later decides; at equal
    // times the more cautious one does.
    let doc = |first: &str, second: &str, t1: &str, t2: &str| {
        bytes(
            &json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
                {"id": "CVE-2021-23337", "analysis": {"state": first, "justification": "code_not_present", "lastUpdated": t1},
                 "affects": [{"ref": "pkg:npm/lodash@4.17.20"}]},
                {"id": "GHSA-35jh-r3h4-6jhm", "analysis": {"state": second, "lastUpdated": t2},
                 "affects": [{"ref": "pkg:npm/lodash"}]}
            ]}),
        )
    };
    let sbom = Sbom::parse(&read("sbom/trivy.spdx-2.2.json")).unwrap();
    let at = |first, second, t1, t2| {
        let vex = Vex::parse(&doc(first, second, t1, t2)).unwrap();
        status(&vex, &sbom, "GHSA-35jh-r3h4-6jhm", "pkg:npm/lodash@4.17.20")
    };
    let (early, late) = ("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z");
    assert_eq!(
        at("not_affected", "exploitable", late, early),
        Some(VexStatus::NotAffected)
    );
    assert_eq!(
        at("not_affected", "exploitable", early, late),
        Some(VexStatus::Affected)
    );
    assert_eq!(
        at("not_affected", "resolved", late, late),
        Some(VexStatus::Fixed)
    );
}

#[test]
fn vex_errors_point_at_the_value() {
    let csaf = || value("vex/csaf-redhat.json");
    let fails = |doc: &Value| invalid(Vex::parse(&bytes(doc)).unwrap_err(), InputKind::Vex);

    let mut doc = csaf();
    doc["vulnerabilities"][0]["flags"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let (pointer, reason) = fails(&doc);
    assert_eq!(
        pointer,
        "/vulnerabilities/0/product_status/known_not_affected/0"
    );
    assert!(matches!(reason, Reason::Rule(_)), "{reason}");

    let mut doc = csaf();
    doc["vulnerabilities"][1]["product_status"]["known_affected"][0] = json!("nowhere");
    let (pointer, _) = fails(&doc);
    assert_eq!(
        pointer,
        "/vulnerabilities/1/product_status/known_affected/0"
    );

    let mut doc = csaf();
    doc["vulnerabilities"][0]["flags"][0]["label"] = json!("not_a_label");
    assert_eq!(fails(&doc).0, "/vulnerabilities/0/flags/0/label");

    let mut doc = csaf();
    doc["document"]["csaf_version"] = json!("1.2");
    assert_eq!(fails(&doc).0, "/document/csaf_version");

    let mut doc = csaf();
    doc["document"]["tracking"]["current_release_date"] = json!("yesterday");
    let (pointer, reason) = fails(&doc);
    assert_eq!(pointer, "/document/tracking/current_release_date");
    assert!(matches!(reason, Reason::Timestamp { .. }));

    let mut doc = csaf();
    doc["product_tree"]["relationships"][0]["product_reference"] = json!("missing");
    assert_eq!(
        fails(&doc).0,
        "/product_tree/relationships/0/product_reference"
    );

    let mut doc = csaf();
    doc["product_tree"]["branches"][0]["branches"][1]["branches"][0]["product"]["product_identification_helper"]
        ["purl"] = json!(["pkg:rpm/x"]);
    let (pointer, reason) = fails(&doc);
    assert_eq!(
        pointer,
        "/product_tree/branches/0/branches/1/branches/0/product/product_identification_helper/purl"
    );
    assert!(matches!(reason, Reason::WrongType { .. }));

    let cdx = || value("vex/cyclonedx-vex.json");
    let mut doc = cdx();
    doc["vulnerabilities"][0]["analysis"]["state"] = json!("unaffected");
    assert_eq!(fails(&doc).0, "/vulnerabilities/0/analysis/state");

    let mut doc = cdx();
    doc["vulnerabilities"][0]["analysis"]["justification"] = json!("trust_me");
    assert_eq!(fails(&doc).0, "/vulnerabilities/0/analysis/justification");

    let mut doc = cdx();
    doc["vulnerabilities"][1]
        .as_object_mut()
        .unwrap()
        .remove("affects");
    let (pointer, reason) = fails(&doc);
    assert_eq!(pointer, "/vulnerabilities/1");
    assert_eq!(reason, Reason::Missing { member: "affects" });

    let mut doc = cdx();
    doc["vulnerabilities"][0]["affects"][0]["ref"] = json!("pkg:npm/");
    assert_eq!(fails(&doc).0, "/vulnerabilities/0/affects/0/ref");

    let text = read("vex/cyclonedx-vex.json");
    assert!(matches!(
        Vex::parse(&text[..100]).unwrap_err(),
        InputError::Json { .. }
    ));
}

#[test]
fn new_formats_score_together() {
    let inputs = ScoringInputs::parse(
        &read("sbom/syft.spdx.json"),
        &read("feeds/all.zip"),
        &read("vex/csaf-redhat.json"),
        &std::fs::read(data("../../../../examples/inputs/policy.json")).unwrap(),
    )
    .unwrap();
    let ledger = attestor_score::score(&inputs).unwrap();
    let matches: Vec<(String, String)> = ledger
        .nodes
        .iter()
        .filter(|n| n.kind.as_str() == "match")
        .map(|n| {
            (
                n.data["component"].as_str().unwrap().to_string(),
                n.data["advisory"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        matches,
        [
            (
                "pkg:npm/lodash@4.17.20".to_string(),
                "GHSA-35jh-r3h4-6jhm".to_string()
            ),
            (
                "pkg:pypi/jinja2@3.1.2".to_string(),
                "PYSEC-2024-4".to_string()
            ),
            (
                "pkg:pypi/requests@2.31.0".to_string(),
                "GHSA-9wx4-h78v-vm56".to_string()
            ),
        ],
        "requests 2.31.0 is the fix of PYSEC-2023-74"
    );
    assert_eq!(
        ledger.suppressed, 1,
        "jinja2: not_affected per the CSAF VEX"
    );
}

#[test]
fn addresses_match_the_documented_normal_form() {
    // Computed with the Python of docs/scoring.md section 13 (the feed: from
    // tests/data/feeds/feed.json, the same advisories as the directory and ZIP).
    for (file, id) in [
        (
            "sbom/syft.spdx.json",
            "sha256:f898513aef9b23d05ce418c2f21cad632db0663190d5aa05b29671e21bc76fc3",
        ),
        (
            "sbom/spdx3.jsonld",
            "sha256:3ac8bbb915b2091b2bb98c6940bb9d5fef508263a52ae4cc06afcf0e84f217d3",
        ),
        (
            "sbom/trivy.spdx-2.2.json",
            "sha256:4850714dc8dd08130aa56c15d708e94ba8c0a1a1e6914e1c493ea195f5105543",
        ),
        (
            "sbom/embedded-vex.cdx.json",
            "sha256:79dc4c6c4b5ce671ffffc6f55bbbbf175f135d547e2225b4d89e06b13b953693",
        ),
    ] {
        assert_eq!(
            Sbom::parse(&read(file)).unwrap().digest.to_string(),
            id,
            "{file}"
        );
    }
    let feed_id = "sha256:c1fd4b1b22f653c88274ef25c7ef1e624a49b3c3425f7db088d3da286c7c94c0";
    assert_eq!(feed().digest.to_string(), feed_id);
}

/// The VEX statuses the ledger records, by advisory.
fn vex_nodes(sbom: &Value, vex: &Value, version: ScoreVersion) -> Vec<(String, String)> {
    let inputs = ScoringInputs::parse(
        &bytes(sbom),
        &std::fs::read(data("../../../../examples/inputs/feed.json")).unwrap(),
        &bytes(vex),
        &std::fs::read(data("../../../../examples/inputs/policy.json")).unwrap(),
    )
    .unwrap();
    attestor_score::score_as(&inputs, version)
        .unwrap()
        .nodes
        .iter()
        .filter(|n| n.kind.as_str() == "vex")
        .map(|n| {
            (
                n.data["advisory"].as_str().unwrap().to_string(),
                n.data["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn embedded_cyclonedx_vex_applies_in_version_2_only() {
    let sbom = value("sbom/embedded-vex-lodash.cdx.json");
    let parsed = Sbom::parse(&bytes(&sbom)).unwrap();
    let embedded = parsed.embedded.vex().expect("embedded statements read");
    assert_eq!(embedded.digest, parsed.digest, "addressed by the SBOM");
    assert_eq!(embedded.statements.len(), 1);

    let older = value("vex/openvex-lodash-affected.json");
    let lodash = |status: &str| vec![("GHSA-35jh-r3h4-6jhm".to_string(), status.to_string())];
    assert_eq!(
        vex_nodes(&sbom, &older, ScoreVersion::V2),
        lodash("not_affected"),
        "the embedded statement is later than the VEX input's"
    );
    assert_eq!(
        vex_nodes(&sbom, &older, ScoreVersion::V1),
        lodash("affected"),
        "version 1 reads only the VEX input"
    );

    let mut tie = older.clone();
    tie["timestamp"] = json!("2024-08-01T11:00:00+02:00");
    assert_eq!(
        vex_nodes(&sbom, &tie, ScoreVersion::V2),
        lodash("affected"),
        "equally recent: the most cautious"
    );
    let mut newer = older.clone();
    newer["timestamp"] = json!("2024-09-01T00:00:00Z");
    assert_eq!(
        vex_nodes(&sbom, &newer, ScoreVersion::V2),
        lodash("affected")
    );

    let unrelated = value("../../../../examples/inputs/vex.json");
    assert_eq!(
        vex_nodes(&sbom, &unrelated, ScoreVersion::V2),
        [
            (
                "GHSA-35jh-r3h4-6jhm".to_string(),
                "not_affected".to_string()
            ),
            (
                "GHSA-xvch-5gv4-984h".to_string(),
                "not_affected".to_string()
            ),
        ],
        "merged with the VEX input's statements"
    );
    assert_eq!(
        vex_nodes(&sbom, &sbom, ScoreVersion::V2),
        lodash("not_affected"),
        "the same file as both: one statement, applied once"
    );
}

#[test]
fn unreadable_embedded_vex_refuses_version_2_only() {
    let mut sbom = value("sbom/embedded-vex-lodash.cdx.json");
    sbom["vulnerabilities"][0]["analysis"]["state"] = json!("not_exploitable");
    let parsed = Sbom::parse(&bytes(&sbom)).unwrap();
    assert!(parsed.embedded.vex().is_none());
    let vex = value("vex/openvex-lodash-affected.json");
    assert_eq!(
        vex_nodes(&sbom, &vex, ScoreVersion::V1).len(),
        1,
        "version 1 never read embedded analyses"
    );
    let inputs = ScoringInputs::parse(
        &bytes(&sbom),
        &std::fs::read(data("../../../../examples/inputs/feed.json")).unwrap(),
        &bytes(&vex),
        &std::fs::read(data("../../../../examples/inputs/policy.json")).unwrap(),
    )
    .unwrap();
    match attestor_score::score_as(&inputs, ScoreVersion::V2).unwrap_err() {
        ScoreError::EmbeddedVex(error) => match *error {
            InputError::Invalid {
                kind: InputKind::Vex,
                ref pointer,
                reason: Reason::UnknownValue { ref value, .. },
            } => {
                assert_eq!(pointer, "/vulnerabilities/0/analysis/state");
                assert_eq!(value, "not_exploitable");
            }
            other => panic!("{other}"),
        },
        other => panic!("{other}"),
    }
}

/// Reverses every array of `value`, recursively.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().rev().map(reversed).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), reversed(v))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn csaf_and_cyclonedx_vex_addresses_ignore_array_order() {
    let doc = value("vex/csaf-redhat.json");
    let given = Vex::parse(&bytes(&doc)).unwrap();
    let flipped = Vex::parse(&bytes(&reversed(&doc))).unwrap();
    assert_eq!(given.digest, flipped.digest, "every CSAF array");
    assert_eq!(given.statements.len(), flipped.statements.len());

    let doc = value("vex/cyclonedx-vex.json");
    let given = Vex::parse(&bytes(&doc)).unwrap();
    let mut flipped = doc.clone();
    if let Some(components) = flipped.get_mut("components") {
        *components = reversed(components);
    }
    let list = flipped["vulnerabilities"].as_array_mut().unwrap();
    for vulnerability in list.iter_mut() {
        for member in ["references", "affects"] {
            if let Some(items) = vulnerability.get_mut(member) {
                *items = reversed(items);
            }
        }
    }
    list.reverse();
    assert_ne!(flipped, doc, "the fixture has arrays to reorder");
    let flipped = Vex::parse(&bytes(&flipped)).unwrap();
    assert_eq!(given.digest, flipped.digest, "CycloneDX VEX");
    assert_eq!(given.statements.len(), flipped.statements.len());

    let mut other = doc.clone();
    other["metadata"]["timestamp"] = json!("2030-01-01T00:00:00Z");
    assert_ne!(Vex::parse(&bytes(&other)).unwrap().digest, given.digest);
}
