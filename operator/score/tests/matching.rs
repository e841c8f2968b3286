//! Matching, VEX application, weighting and aggregation on small inline inputs.

mod common;

use attestor_core::bundle::MAX_PARENTS;
use attestor_score::{Ledger, NodeKind, Verdict};
use common::score_v1 as score;
use serde_json::{Value, json};

fn sbom(purls: &[&str]) -> Value {
    let components: Vec<Value> = purls
        .iter()
        .map(|p| json!({"type": "library", "purl": p}))
        .collect();
    json!({"bomFormat": "CycloneDX", "components": components})
}

fn policy() -> Value {
    json!({
        "threshold": 1000,
        "weights": {"critical": 100, "high": 100, "medium": 50, "low": 10},
        "vex": {"not_affected": "suppress", "fixed": "suppress"}
    })
}

fn run(sbom: Value, advisories: Value, statements: Value, policy: Value) -> Ledger {
    let inputs = common::from_values(&[
        sbom,
        json!({ "advisories": advisories }),
        json!({ "statements": statements }),
        policy,
    ]);
    score(&inputs).unwrap()
}

/// `(component, advisory)` of every match node.
fn matches(ledger: &Ledger) -> Vec<(String, String)> {
    ledger
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Match)
        .map(|n| {
            (
                n.data["component"].as_str().unwrap().to_string(),
                n.data["advisory"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn vex_nodes(ledger: &Ledger) -> Vec<Value> {
    ledger
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Vex)
        .map(|n| n.data.clone())
        .collect()
}

fn pair(c: &str, a: &str) -> (String, String) {
    (c.to_string(), a.to_string())
}

#[test]
fn package_spellings_are_normalised() {
    let ledger = run(
        sbom(&[
            "pkg:npm/@babel/core@7.0.0",
            "pkg:PYPI/Foo_Bar@1.0",
            "pkg:golang/example.com/mod@v1.2.3",
            "pkg:maven/org.example/lib@1.0?type=jar",
        ]),
        json!([
            {"id": "A-1", "cvss": "5.0", "affected": [{"package": {"ecosystem": "npm", "name": "@babel/core"}, "versions": ["7.0.0"]}]},
            {"id": "A-2", "cvss": "5.0", "affected": [{"package": {"ecosystem": "PyPI", "name": "foo-bar"}, "versions": ["1.0"]}]},
            {"id": "A-3", "cvss": "5.0", "affected": [{"package": {"ecosystem": "Go", "name": "example.com/mod"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.3.0"}]}]}]},
            {"id": "A-4", "cvss": "5.0", "affected": [{"package": {"ecosystem": "Maven", "name": "org.example:lib"}, "versions": ["1.0"]}]}
        ]),
        json!([]),
        policy(),
    );
    assert_eq!(
        matches(&ledger),
        [
            pair("pkg:golang/example.com/mod@v1.2.3", "A-3"),
            pair("pkg:maven/org.example/lib@1.0", "A-4"),
            pair("pkg:npm/%40babel/core@7.0.0", "A-1"),
            pair("pkg:pypi/foo-bar@1.0", "A-2"),
        ]
    );
}

#[test]
fn duplicates_withdrawn_and_unversioned_components() {
    let ledger = run(
        sbom(&[
            "pkg:npm/a@1.0.0",
            "pkg:npm/a@1.0.0?x=1#sub",
            "pkg:npm/a",
            "pkg:npm/b@1.0.0",
        ]),
        json!([
            // Two affected entries for one package: one match.
            {"id": "A-1", "cvss": "5.0", "affected": [
                {"package": {"purl": "pkg:npm/a"}, "versions": ["1.0.0"]},
                {"package": {"purl": "pkg:npm/a"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}
            ]},
            {"id": "A-2", "cvss": "5.0", "withdrawn": "2024-01-01T00:00:00Z",
             "affected": [{"package": {"purl": "pkg:npm/b"}, "versions": ["1.0.0"]}]}
        ]),
        json!([]),
        policy(),
    );
    assert_eq!(matches(&ledger), [pair("pkg:npm/a@1.0.0", "A-1")]);
}

#[test]
fn vex_statements_apply_by_alias_and_unversioned_product() {
    let ledger = run(
        sbom(&["pkg:npm/a@1.0.0", "pkg:npm/a@2.0.0", "pkg:npm/b@1.0.0"]),
        json!([
            {"id": "GHSA-1", "aliases": ["CVE-1"], "cvss": "9.0", "package": "pkg:npm/a", "introduced": "0"},
            {"id": "GHSA-2", "cvss": "7.0", "package": "pkg:npm/b", "introduced": "0"}
        ]),
        json!([
            // By alias, for one version only.
            {"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a@2.0.0"}],
             "status": "not_affected", "justification": "vulnerable_code_not_present"},
            // By the statement's own alias, for every version of b.
            {"vulnerability": {"name": "CVE-2", "aliases": ["GHSA-2"]}, "products": ["pkg:npm/b"],
             "status": "under_investigation"}
        ]),
        policy(),
    );
    assert_eq!(
        vex_nodes(&ledger),
        [
            json!({"advisory": "GHSA-1", "status": "not_affected", "effect": "suppress"}),
            json!({"advisory": "GHSA-2", "status": "under_investigation", "effect": "keep"}),
        ]
    );
    // a@1.0.0: 900, a@2.0.0 suppressed, b@1.0.0: 700.
    assert_eq!((ledger.score, ledger.suppressed), (1600, 1));
    assert_eq!(ledger.verdict, Verdict::Fail);
}

#[test]
fn the_latest_statement_wins_and_ties_go_to_the_cautious_one() {
    let statement = |status: &str, time: Option<&str>| {
        let mut s = json!({"vulnerability": "A-1", "products": ["pkg:npm/a"], "status": status,
                           "justification": "component_not_present"});
        if let Some(time) = time {
            s["timestamp"] = json!(time);
        }
        s
    };
    let decide = |statements: Value| {
        let ledger = run(
            sbom(&["pkg:npm/a@1.0.0"]),
            json!([{"id": "A-1", "cvss": "5.0", "package": "pkg:npm/a", "introduced": "0"}]),
            statements,
            policy(),
        );
        vex_nodes(&ledger)[0]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        decide(json!([
            statement("affected", Some("2024-01-01T00:00:00Z")),
            statement("fixed", Some("2024-01-01T01:00:00+00:00")),
        ])),
        "fixed"
    );
    // Same instant in another offset: a tie, so the more cautious status.
    assert_eq!(
        decide(json!([
            statement("not_affected", Some("2024-01-01T02:00:00+01:00")),
            statement("under_investigation", Some("2024-01-01T01:00:00Z")),
        ])),
        "under_investigation"
    );
    // A statement without a time is older than any with one.
    assert_eq!(
        decide(json!([
            statement("affected", None),
            statement("not_affected", Some("2000-01-01T00:00:00Z"))
        ])),
        "not_affected"
    );
}

#[test]
fn weights_points_and_verdict() {
    let ledger = run(
        sbom(&["pkg:npm/a@1.0.0"]),
        json!([
            {"id": "A-1", "cvss": 9.9, "package": "pkg:npm/a", "introduced": "0"},
            {"id": "A-2", "cvss": "4.3", "package": "pkg:npm/a", "introduced": "0"},
            {"id": "A-3", "cvss": "0.1", "package": "pkg:npm/a", "introduced": "0"},
            {"id": "A-4", "cvss": "0", "package": "pkg:npm/a", "introduced": "0"}
        ]),
        json!([]),
        policy(),
    );
    let weights: Vec<Value> = ledger
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::PolicyWeight)
        .map(|n| n.data.clone())
        .collect();
    assert_eq!(
        weights,
        [
            json!({"advisory": "A-1", "points": 990, "weightPercent": 100}),
            json!({"advisory": "A-2", "points": 215, "weightPercent": 50}),
            json!({"advisory": "A-3", "points": 1, "weightPercent": 10}),
            json!({"advisory": "A-4", "points": 0, "weightPercent": 0}),
        ]
    );
    assert_eq!(ledger.score, 1206);
    let aggregate = ledger.nodes.last().unwrap();
    assert_eq!(
        aggregate.data,
        json!({"score": 1206, "threshold": 1000, "verdict": "fail"})
    );

    // At the threshold the verdict is still pass: only exceeding it fails.
    let mut at_threshold = policy();
    at_threshold["threshold"] = json!(1205);
    let ledger = run(
        sbom(&["pkg:npm/a@1.0.0"]),
        json!([
            {"id": "A-1", "cvss": 9.9, "package": "pkg:npm/a", "introduced": "0"},
            {"id": "A-2", "cvss": "4.3", "package": "pkg:npm/a", "introduced": "0"}
        ]),
        json!([]),
        at_threshold,
    );
    assert_eq!((ledger.score, ledger.verdict), (1205, Verdict::Pass));
}

#[test]
fn no_findings_is_inputs_and_aggregate() {
    let ledger = run(sbom(&["pkg:npm/a@1.0.0"]), json!([]), json!([]), policy());
    assert_eq!(ledger.nodes.len(), 2);
    assert_eq!(ledger.nodes[1].parents, [ledger.nodes[0].id]);
    assert_eq!(
        ledger.nodes[1].data,
        json!({"score": 0, "threshold": 1000, "verdict": "pass"})
    );
}

#[test]
fn many_findings_are_summed_through_subtotals() {
    let n = 2 * MAX_PARENTS + 5;
    let purls: Vec<String> = (0..n).map(|i| format!("pkg:npm/p{i:05}@1.0.0")).collect();
    let advisories: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("A-{i:05}"), "cvss": "5.0", "package": format!("pkg:npm/p{i:05}"), "introduced": "0"}))
        .collect();
    let ledger = run(
        sbom(&purls.iter().map(String::as_str).collect::<Vec<_>>()),
        Value::Array(advisories),
        json!([]),
        policy(),
    );
    let subtotals: Vec<&attestor_score::LedgerNode> = ledger
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Subtotal)
        .collect();
    assert_eq!(subtotals.len(), 3);
    assert_eq!(
        subtotals
            .iter()
            .map(|s| s.parents.len())
            .collect::<Vec<_>>(),
        [MAX_PARENTS, MAX_PARENTS, 5]
    );
    assert_eq!(subtotals[0].data, json!({"score": 250 * MAX_PARENTS}));
    let aggregate = ledger.nodes.last().unwrap();
    assert_eq!(
        aggregate.parents,
        subtotals.iter().map(|s| s.id).collect::<Vec<_>>()
    );
    assert_eq!(ledger.score, 250 * n as u64);
    assert!(
        ledger
            .nodes
            .iter()
            .all(|node| node.parents.len() <= MAX_PARENTS)
    );
}
