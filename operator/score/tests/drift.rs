//! Replay and drift attribution: which input made a ledger change, node by node.

mod common;

use attestor_score::replay::{Change, NodeDiff};
use attestor_score::{Cause, InputKind, Outcome, ReplayReport, Verdict, compare, replay};
use common::score_v1 as score;
use serde_json::{Value, json};

const FIXTURE: &str = "inputs/score";

/// Replays the fixture after `edit` changed some of its documents.
fn drift(edit: impl FnOnce(&mut [Value; 4])) -> ReplayReport {
    let original = score(&common::inputs(FIXTURE)).unwrap();
    let mut values = common::values(FIXTURE);
    edit(&mut values);
    replay(
        &original.proof_nodes(),
        &original.inputs,
        attestor_score::ScoreVersion::V1,
        &common::from_values(&values),
    )
    .unwrap()
}

/// `(change, kind, component, advisory, causes)` of one difference.
type Row = (Change, String, Option<String>, Option<String>, Vec<Cause>);

/// The [`Row`] of every difference.
fn summary(report: &ReplayReport) -> Vec<Row> {
    report
        .changes
        .iter()
        .map(|d: &NodeDiff| {
            (
                d.change,
                d.key.kind.clone(),
                d.key.component.clone(),
                d.key.advisory.clone(),
                d.causes.clone(),
            )
        })
        .collect()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

const SBOM: usize = 0;
const FEED: usize = 1;
const VEX: usize = 2;
const POLICY: usize = 3;

#[test]
fn unchanged_inputs_reproduce() {
    let report = drift(|_| {});
    assert_eq!(report.outcome, Outcome::Reproduced);
    assert_eq!(report.original_root, report.recomputed_root);
    assert!(report.changed_inputs.is_empty());
    assert!(report.changes.is_empty());
    assert_eq!(report.cause, None);
    assert!(!report.verdict_changed());
}

#[test]
fn reformatted_inputs_reproduce() {
    // Whitespace and member order are not content: the content ids, hence the root, stay.
    let original = score(&common::inputs(FIXTURE)).unwrap();
    let [sbom, feed, vex, policy] =
        common::values(FIXTURE).map(|v| serde_json::to_vec(&v).unwrap());
    let inputs = common::parse(&sbom, &feed, &vex, &policy);
    let report = replay(
        &original.proof_nodes(),
        &original.inputs,
        attestor_score::ScoreVersion::V1,
        &inputs,
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Reproduced);
}

#[test]
fn a_new_advisory_drifts_with_cause_feed() {
    let report = drift(|v| {
        v[FEED]["advisories"].as_array_mut().unwrap().push(json!({
            "id": "GHSA-new0-0000-0001",
            "cvss": "8.1",
            "affected": [{"package": {"purl": "pkg:npm/minimist"}, "versions": ["1.2.8"]}]
        }));
    });
    assert_eq!(report.outcome, Outcome::Drifted);
    assert_eq!(report.changed_inputs, [InputKind::Feed]);
    assert_eq!(report.cause, Some(Cause::Feed));
    let minimist = s("pkg:npm/minimist@1.2.8");
    let advisory = s("GHSA-new0-0000-0001");
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "inputs".into(),
                None,
                None,
                vec![Cause::Feed]
            ),
            (
                Change::Added,
                "match".into(),
                minimist.clone(),
                advisory.clone(),
                vec![Cause::Feed]
            ),
            (
                Change::Added,
                "policy-weight".into(),
                minimist,
                advisory,
                vec![Cause::Feed]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Feed]
            ),
        ]
    );
    // 8.1 is high: 81 × 80 % / 10 = 648 points on top of 3711.
    assert_eq!(
        (report.original_score, report.recomputed_score),
        (Some(3711), 4359)
    );
    assert_eq!(report.recomputed_verdict, Verdict::Fail);
    assert!(report.verdict_changed());
}

#[test]
fn a_rescored_advisory_drifts_with_cause_feed() {
    let report = drift(|v| {
        let advisories = v[FEED]["advisories"].as_array_mut().unwrap();
        let semver = advisories
            .iter_mut()
            .find(|a| a["id"] == "GHSA-c2qf-rxjj-qqgw")
            .unwrap();
        semver["cvss"] = json!("7.5");
    });
    assert_eq!(report.cause, Some(Cause::Feed));
    let semver = s("pkg:npm/semver@7.5.0-rc.1");
    let advisory = s("GHSA-c2qf-rxjj-qqgw");
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "inputs".into(),
                None,
                None,
                vec![Cause::Feed]
            ),
            (
                Change::Changed,
                "match".into(),
                semver.clone(),
                advisory.clone(),
                vec![Cause::Feed]
            ),
            (
                Change::Changed,
                "policy-weight".into(),
                semver,
                advisory,
                vec![Cause::Feed]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Feed]
            ),
        ]
    );
    let weight = &report.changes[2];
    assert_eq!(weight.original.as_ref().unwrap().data["points"], 265);
    assert_eq!(weight.recomputed.as_ref().unwrap().data["points"], 600);
}

#[test]
fn a_vex_change_drifts_with_cause_vex() {
    let report = drift(|v| {
        let statements = v[VEX]["statements"].as_array_mut().unwrap();
        let babel = statements
            .iter_mut()
            .find(|s| s["vulnerability"]["name"] == "GHSA-67hx-6x53-jw92")
            .unwrap();
        babel["status"] = json!("not_affected");
        babel["justification"] = json!("vulnerable_code_not_present");
    });
    assert_eq!(report.changed_inputs, [InputKind::Vex]);
    assert_eq!(report.cause, Some(Cause::Vex));
    let babel = s("pkg:npm/%40babel/traverse@7.23.0");
    let advisory = s("GHSA-67hx-6x53-jw92");
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "inputs".into(),
                None,
                None,
                vec![Cause::Vex]
            ),
            (
                Change::Changed,
                "vex".into(),
                babel.clone(),
                advisory.clone(),
                vec![Cause::Vex]
            ),
            (
                Change::Removed,
                "policy-weight".into(),
                babel,
                advisory,
                vec![Cause::Vex]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Vex]
            ),
        ]
    );
    assert_eq!(report.recomputed_score, 3711 - 930);
}

#[test]
fn a_new_vex_statement_drifts_with_cause_vex() {
    let report = drift(|v| {
        v[VEX]["statements"].as_array_mut().unwrap().push(json!({
            "vulnerability": {"name": "CVE-2022-25883"},
            "products": [{"@id": "pkg:npm/semver"}],
            "status": "not_affected",
            "justification": "inline_mitigations_already_exist"
        }));
    });
    assert_eq!(report.cause, Some(Cause::Vex));
    let semver = s("pkg:npm/semver@7.5.0-rc.1");
    let advisory = s("GHSA-c2qf-rxjj-qqgw");
    assert_eq!(
        summary(&report)[1..3],
        [
            (
                Change::Added,
                "vex".into(),
                semver.clone(),
                advisory.clone(),
                vec![Cause::Vex]
            ),
            (
                Change::Removed,
                "policy-weight".into(),
                semver,
                advisory,
                vec![Cause::Vex]
            ),
        ]
    );
}

#[test]
fn a_threshold_change_drifts_with_cause_policy() {
    let report = drift(|v| v[POLICY]["threshold"] = json!(3000));
    assert_eq!(report.changed_inputs, [InputKind::Policy]);
    assert_eq!(report.cause, Some(Cause::Policy));
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "inputs".into(),
                None,
                None,
                vec![Cause::Policy]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Policy]
            ),
        ]
    );
    assert_eq!(report.original_verdict, Some(Verdict::Pass));
    assert_eq!(report.recomputed_verdict, Verdict::Fail);
}

#[test]
fn a_weight_change_drifts_with_cause_policy() {
    let report = drift(|v| v[POLICY]["weights"]["medium"] = json!(100));
    assert_eq!(report.cause, Some(Cause::Policy));
    let changed: Vec<_> = summary(&report)
        .into_iter()
        .filter(|c| c.1 == "policy-weight")
        .map(|c| (c.2.unwrap(), c.4))
        .collect();
    assert_eq!(
        changed,
        [
            ("pkg:npm/semver@7.5.0-rc.1".to_string(), vec![Cause::Policy]),
            ("pkg:pypi/jinja2@3.1.2".to_string(), vec![Cause::Policy]),
        ]
    );
}

#[test]
fn a_component_upgrade_drifts_with_cause_sbom() {
    let report = drift(|v| {
        for component in v[SBOM]["components"].as_array_mut().unwrap() {
            if component["name"] == "jinja2" || component["name"] == "Jinja2" {
                component["version"] = json!("3.1.3");
                component["purl"] = json!("pkg:pypi/Jinja2@3.1.3");
            }
        }
    });
    assert_eq!(report.changed_inputs, [InputKind::Sbom]);
    assert_eq!(report.cause, Some(Cause::Sbom));
    let jinja = s("pkg:pypi/jinja2@3.1.2");
    let advisory = s("PYSEC-2024-4");
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "inputs".into(),
                None,
                None,
                vec![Cause::Sbom]
            ),
            (
                Change::Removed,
                "match".into(),
                jinja.clone(),
                advisory.clone(),
                vec![Cause::Sbom]
            ),
            (
                Change::Removed,
                "policy-weight".into(),
                jinja,
                advisory,
                vec![Cause::Sbom]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Sbom]
            ),
        ]
    );
}

#[test]
fn an_sbom_change_without_findings_only_changes_the_inputs_node() {
    let report = drift(|v| {
        v[SBOM]["components"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.3.0"}));
    });
    assert_eq!(report.outcome, Outcome::Drifted);
    assert_eq!(report.cause, Some(Cause::Sbom));
    assert_eq!(
        summary(&report),
        [(
            Change::Changed,
            "inputs".into(),
            None,
            None,
            vec![Cause::Sbom]
        )]
    );
    assert!(!report.verdict_changed());
}

#[test]
fn several_changed_inputs_are_attributed_node_by_node() {
    let report = drift(|v| {
        // Feed: a new advisory for a component present before and after.
        v[FEED]["advisories"].as_array_mut().unwrap().push(json!({
            "id": "GHSA-new0-0000-0002",
            "cvss": "6.1",
            "affected": [{"package": {"purl": "pkg:npm/lodash"}, "versions": ["4.17.20"]}]
        }));
        // Policy: low findings weigh more.
        v[POLICY]["weights"]["low"] = json!(100);
        // VEX: the Go finding is now known to be affected (still kept).
        let statements = v[VEX]["statements"].as_array_mut().unwrap();
        let go = statements
            .iter_mut()
            .find(|s| s["vulnerability"] == "GO-2023-2153")
            .unwrap();
        go["status"] = json!("affected");
    });
    assert_eq!(
        report.changed_inputs,
        [InputKind::Feed, InputKind::Vex, InputKind::Policy]
    );
    let lodash = s("pkg:npm/lodash@4.17.20");
    let new = s("GHSA-new0-0000-0002");
    let go = s("pkg:golang/golang.org/x/net@v0.17.0");
    let openssl = s("pkg:deb/debian/openssl@3.0.11-1~deb12u1");
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "inputs".into(),
                None,
                None,
                vec![Cause::Feed, Cause::Vex, Cause::Policy]
            ),
            (
                Change::Added,
                "match".into(),
                lodash.clone(),
                new.clone(),
                vec![Cause::Feed]
            ),
            (
                Change::Changed,
                "vex".into(),
                go,
                s("GO-2023-2153"),
                vec![Cause::Vex]
            ),
            (
                Change::Changed,
                "policy-weight".into(),
                openssl,
                s("DSA-5532-1"),
                vec![Cause::Policy]
            ),
            (
                Change::Added,
                "policy-weight".into(),
                lodash,
                new,
                vec![Cause::Feed]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Feed, Cause::Vex, Cause::Policy]
            ),
        ]
    );
    // Two findings differences are the feed's alone, one each the VEX's and the policy's.
    assert_eq!(report.cause, Some(Cause::Feed));
}

#[test]
fn a_different_engine_is_an_unknown_cause() {
    // Same inputs, but the original ledger weighed lodash at 700 points instead of 720.
    let mut ledger: Value = serde_json::from_slice(&common::read("inputs/ledger.json")).unwrap();
    ledger["nodes"][4]["data"]["points"] = json!(700);
    ledger["nodes"][5]["data"]["score"] = json!(700);
    let original = common::proof_nodes(&ledger);
    let inputs = common::inputs("inputs");
    let report = compare(&original, &inputs.digests(), &score(&inputs).unwrap());
    assert_eq!(report.outcome, Outcome::Drifted);
    assert!(report.changed_inputs.is_empty());
    assert_eq!(report.cause, Some(Cause::Unknown));
    assert_eq!(
        summary(&report),
        [
            (
                Change::Changed,
                "policy-weight".into(),
                s("pkg:npm/lodash@4.17.20"),
                s("GHSA-35jh-r3h4-6jhm"),
                vec![Cause::Unknown]
            ),
            (
                Change::Changed,
                "aggregate".into(),
                None,
                None,
                vec![Cause::Unknown]
            ),
        ]
    );
}

#[test]
fn the_report_serializes_for_the_cli() {
    let report = drift(|v| v[POLICY]["threshold"] = json!(3000));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"], "Drifted");
    assert_eq!(json["cause"], "Policy");
    assert_eq!(json["changedInputs"], json!(["policy"]));
    assert_eq!(
        json["changes"][1]["key"],
        json!({"kind": "aggregate", "ordinal": 0})
    );
    assert_eq!(json["changes"][1]["change"], "Changed");
    assert_eq!(json["recomputedVerdict"], "fail");
}
