//! charts/attestor-operator/metrics.txt, the list the chart's dashboard and alerts are checked
//! against (e2e/chart.sh), against what the operator really exports: every metric on /metrics
//! is listed with its type, and every metric listed (all under headings that start with
//! "operator/runtime/src/metrics.rs") is exported.

use std::collections::BTreeMap;
use std::time::Duration;

use attestor_runtime::metrics::{AdmissionMetrics, Metrics, ReplayOutcome, VerificationResult};

/// name -> (type, heading it is listed under)
fn listed() -> BTreeMap<String, (String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../charts/attestor-operator/metrics.txt"
    );
    let text = std::fs::read_to_string(path).expect("charts/attestor-operator/metrics.txt");
    let mut heading = String::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            heading = h.trim().to_string();
            continue;
        }
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (name, kind) = (parts.next().unwrap(), parts.next().expect("NAME TYPE"));
        out.insert(name.to_string(), (kind.to_string(), heading.clone()));
    }
    out
}

/// name -> type, from `# TYPE` lines of the text exposition with every metric observed once.
fn exported() -> BTreeMap<String, String> {
    let m = Metrics::new();
    m.observe_verification(
        VerificationResult::Failed,
        "DigestMismatch",
        Duration::from_millis(20),
        Some(4096),
    );
    m.set_success_rate_source(|| (3, 4));
    m.observe_reconcile("trustanchor", Duration::from_millis(5), Some("ApiError"));
    m.observe_api_request("GET", true);
    m.set_leader(true);
    m.set_anchor("root", true, Some("2030-01-01T00:00:00Z".parse().unwrap()));
    m.set_issuer("ci", true);
    m.observe_key_fetch("ci", false);
    m.replay
        .observe(ReplayOutcome::Drifted, Some(Duration::from_millis(30)));
    m.replay.failure("StoreUnavailable");
    m.replay.queue(1);
    m.replay.run("succeeded");
    let admission = AdmissionMetrics::new(&m);
    admission.observe_request("denied", "ProofMissing", Duration::from_micros(400));
    admission.observe_break_glass("shop");
    admission.set_certificate_expiry(1_900_000_000);
    m.encode()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_string(), kind.to_string())
        })
        .collect()
}

#[test]
fn metrics_txt_lists_exactly_what_the_operator_exports() {
    let listed = listed();
    let exported = exported();
    for (name, kind) in &exported {
        match listed.get(name) {
            None => panic!(
                "{name} ({kind}) is exported but not in charts/attestor-operator/metrics.txt"
            ),
            Some((k, _)) => assert_eq!(
                k, kind,
                "{name}: metrics.txt says {k}, /metrics says {kind}"
            ),
        }
    }
    for (name, (_, heading)) in &listed {
        if heading.starts_with("operator/runtime/src/metrics.rs") {
            assert!(
                exported.contains_key(name),
                "{name} is listed under {heading} in metrics.txt but not exported"
            );
        }
    }
}
