//! Golden ledgers: fixed inputs, pinned roots. A change here is a change of
//! the scoring rules and must come with docs/scoring.md and a new schema.

mod common;

use attestor_core::bundle::{Bundle, ledger_root, read_score_proof};
use attestor_core::canonical::parse_strict;
use attestor_core::zip::ZipLimits;
use attestor_score::Verdict;
use common::score_v1 as score;

#[test]
fn examples_inputs_reproduce_the_hand_written_ledger() {
    let ledger = score(&common::inputs("inputs")).unwrap();
    let expected = parse_strict(&common::read("inputs/ledger.json")).unwrap();
    assert_eq!(ledger.ledger_json(), expected);
    assert_eq!(
        ledger.root.to_string(),
        "sha256:ec26a1279fda62fc833f4bd1e14d88324cc615cdc30d1123dac650342b3edc43"
    );
    assert_eq!(
        (ledger.score, ledger.threshold, ledger.verdict),
        (720, 700, Verdict::Fail)
    );
    assert_eq!((ledger.findings, ledger.suppressed), (2, 1));

    let manifest = parse_strict(&common::read("inputs/manifest.json")).unwrap();
    assert_eq!(
        manifest["inputs"],
        serde_json::to_value(&ledger.inputs).unwrap()
    );
}

#[test]
fn the_example_bundle_signs_this_ledger() {
    let zip = common::read("bundles/valid.zip");
    let bundle = Bundle::from_zip(&zip, &ZipLimits::default()).unwrap();
    let proof = read_score_proof(&zip, &ZipLimits::default()).unwrap();
    let ledger = score(&common::inputs("inputs")).unwrap();
    assert_eq!(bundle.ledger.root_hash, ledger.root);
    assert_eq!(bundle.ledger.computed_root, ledger.root);
    assert_eq!(proof.root_hash, ledger.root);
    assert_eq!(ledger_root(proof.nodes.iter().map(|n| &n.id)), ledger.root);
    assert_eq!(proof.nodes, ledger.proof_nodes());
}

/// The fixture of docs/scoring.md, section "Worked example".
#[test]
fn score_fixture_golden_root() {
    let ledger = score(&common::inputs("inputs/score")).unwrap();
    assert_eq!(
        serde_json::to_value(&ledger.inputs).unwrap(),
        serde_json::json!({
            "sbom": "sha256:db6137a40ed9b675f4af5c9866479d65f25f7442783d7df56dee658d6459cb1c",
            "feedSnapshot": "sha256:02cab0110556587c69f5c8a24adf0fa8fdd8c2083a61084369fd03874e33f2a5",
            "vex": "sha256:18d924ee019840d0bf6dd9314238a28639c58764d5f0f469c9fda11f7c60f285",
            "policy": "sha256:65ecad3d04224aab3e50619dd1d3019d50c27079a9da7be9c01c0d7d47e555c7",
        })
    );
    assert_eq!(
        ledger.root.to_string(),
        "sha256:8903a875dbdca85e8551af1c07f6e77c32571fe6c9af676e87dd730ab2adecdc"
    );
    assert_eq!(
        (ledger.score, ledger.threshold, ledger.verdict),
        (3711, 4000, Verdict::Pass)
    );
    assert_eq!((ledger.findings, ledger.suppressed), (10, 2));
    let kinds: Vec<&str> = ledger.nodes.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            ["inputs"].as_slice(),
            &["match"; 10],
            &["vex"; 4],
            &["policy-weight"; 8],
            &["aggregate"],
        ]
        .concat()
    );
    let matches: Vec<(&str, &str)> = ledger.nodes[1..11]
        .iter()
        .map(|n| {
            (
                n.data["component"].as_str().unwrap(),
                n.data["advisory"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        matches,
        [
            ("pkg:cargo/smallvec@1.6.0", "RUSTSEC-2021-0003"),
            ("pkg:deb/debian/openssl@3.0.11-1~deb12u1", "DSA-5532-1"),
            ("pkg:golang/golang.org/x/net@v0.17.0", "GO-2023-2153"),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                "GHSA-jfh8-c2jp-5v3q"
            ),
            ("pkg:npm/%40babel/traverse@7.23.0", "GHSA-67hx-6x53-jw92"),
            ("pkg:npm/lodash@4.17.20", "GHSA-35jh-r3h4-6jhm"),
            ("pkg:npm/lodash@4.17.20", "GHSA-p6mc-m468-83gw"),
            ("pkg:npm/minimist@1.2.8", "OSV-2024-0001"),
            ("pkg:npm/semver@7.5.0-rc.1", "GHSA-c2qf-rxjj-qqgw"),
            ("pkg:pypi/jinja2@3.1.2", "PYSEC-2024-4"),
        ]
    );
    // The id of the inputs node, as docs/scoring.md prints it.
    assert_eq!(
        ledger.nodes[0].id.to_string(),
        "sha256:42d6d19f51f895bae76d3bb0d15669f3c12bc8c3ea2bfba73def658c1181def4"
    );
}

/// `ledger_json` is what `attestor bundle create --ledger` reads: the same nodes.
#[test]
fn ledger_json_round_trips_through_index_parents() {
    let ledger = score(&common::inputs("inputs/score")).unwrap();
    assert_eq!(
        common::proof_nodes(&ledger.ledger_json()),
        ledger.proof_nodes()
    );
}

#[test]
fn a_bundle_built_from_the_ledger_replays() {
    use attestor_core::bundle::{BundleSpec, build_bundle};
    use attestor_core::keys::SigningKey;
    use attestor_score::{Outcome, replay};

    let inputs = common::inputs("inputs/score");
    let ledger = score(&inputs).unwrap();
    let key_pem = String::from_utf8(common::read("keys/test-only-signing.pem")).unwrap();
    let key = SigningKey::from_pem(&key_pem).unwrap();
    let artifact = "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822"
        .parse()
        .unwrap();
    let created: jiff::Timestamp = "2026-11-01T09:00:00Z".parse().unwrap();
    let spec = BundleSpec {
        manifest: ledger.manifest(&artifact, Some("registry.example/shop/cart"), created),
        nodes: ledger.node_inputs(),
        signed_at: "2026-11-01T09:30:00Z".parse().unwrap(),
        tools: Default::default(),
        certificates: Vec::new(),
        transparency_log: None,
    };
    let built = build_bundle(spec, &key).unwrap();
    assert_eq!(built.root_hash, ledger.root);

    let bundle = Bundle::from_zip(&built.zip, &ZipLimits::default()).unwrap();
    assert_eq!(bundle.manifest.inputs, ledger.inputs);
    let proof = read_score_proof(&built.zip, &ZipLimits::default()).unwrap();
    let report = replay(
        &proof.nodes,
        &bundle.manifest.inputs,
        attestor_score::ScoreVersion::V1,
        &inputs,
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Reproduced);
}

/// Score version 2 of the same fixture (docs/scoring.md, section 17): the
/// comparator, severity source and band of every match, and the root.
#[test]
fn score_fixture_golden_root_version_2() {
    let ledger = attestor_score::score(&common::inputs("inputs/score")).unwrap();
    let matches: Vec<String> = ledger
        .nodes
        .iter()
        .filter(|n| n.kind == attestor_score::NodeKind::Match)
        .map(|n| {
            let d = &n.data;
            format!(
                "{} {} {} {} {} {}",
                d["component"].as_str().unwrap(),
                d["advisory"].as_str().unwrap(),
                d["comparator"].as_str().unwrap(),
                d["severity"].as_str().unwrap(),
                d["band"].as_str().unwrap(),
                d["cvssTenths"],
            )
        })
        .collect();
    // The same findings as version 1 (this fixture needs no ecosystem rule).
    assert_eq!(
        matches,
        [
            "pkg:cargo/smallvec@1.6.0 RUSTSEC-2021-0003 semver score critical 98",
            "pkg:deb/debian/openssl@3.0.11-1~deb12u1 DSA-5532-1 dpkg score low 37",
            "pkg:golang/golang.org/x/net@v0.17.0 GO-2023-2153 semver score high 75",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 GHSA-jfh8-c2jp-5v3q maven score critical 100",
            "pkg:npm/%40babel/traverse@7.23.0 GHSA-67hx-6x53-jw92 semver score critical 93",
            "pkg:npm/lodash@4.17.20 GHSA-35jh-r3h4-6jhm semver score high 72",
            "pkg:npm/lodash@4.17.20 GHSA-p6mc-m468-83gw semver score high 74",
            "pkg:npm/minimist@1.2.8 OSV-2024-0001 semver score none 0",
            "pkg:npm/semver@7.5.0-rc.1 GHSA-c2qf-rxjj-qqgw semver score medium 53",
            "pkg:pypi/jinja2@3.1.2 PYSEC-2024-4 pep440 score medium 54",
        ]
    );
    assert_eq!((ledger.score, ledger.verdict), (3711, Verdict::Pass));
    assert_eq!(
        ledger.root.to_string(),
        "sha256:91f747aa097a8e5fc8e82b7cffe7c92f2a3e7d4a1f62d5b4e8344989b4603215"
    );
    assert_eq!(
        attestor_score::score(&common::inputs("inputs"))
            .unwrap()
            .root
            .to_string(),
        "sha256:05cbf60213e1319443693178bddabba6ac20f8031b1640d5245eeed364a1771e"
    );
}
