//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use attestor_score::{Ledger, ScoreError, ScoreVersion, ScoringInputs};

/// Scores with score version 1's rules: the tests that use it pin what the
/// ledgers of bundles already produced are, and must stay.
pub fn score_v1(inputs: &ScoringInputs) -> Result<Ledger, ScoreError> {
    attestor_score::score_as(inputs, ScoreVersion::V1)
}

/// `examples/` at the workspace root.
pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn read(path: &str) -> Vec<u8> {
    let path = examples().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The four inputs in `examples/<dir>`: sbom.cdx.json, feed.json, vex.json, policy.json.
pub fn documents(dir: &str) -> [Vec<u8>; 4] {
    ["sbom.cdx.json", "feed.json", "vex.json", "policy.json"].map(|f| read(&format!("{dir}/{f}")))
}

pub fn inputs(dir: &str) -> ScoringInputs {
    let [sbom, feed, vex, policy] = documents(dir);
    ScoringInputs::parse(&sbom, &feed, &vex, &policy).expect("example inputs parse")
}

pub fn parse(sbom: &[u8], feed: &[u8], vex: &[u8], policy: &[u8]) -> ScoringInputs {
    ScoringInputs::parse(sbom, feed, vex, policy).expect("inputs parse")
}

use attestor_core::bundle::{NodeInput, ProofNode};
use serde_json::Value;

/// The four documents of `examples/<dir>` as JSON values, to edit.
pub fn values(dir: &str) -> [Value; 4] {
    documents(dir).map(|bytes| serde_json::from_slice(&bytes).expect("example is JSON"))
}

/// Parses four edited documents.
pub fn from_values(values: &[Value; 4]) -> ScoringInputs {
    let [sbom, feed, vex, policy] = values.each_ref().map(|v| serde_json::to_vec(v).unwrap());
    parse(&sbom, &feed, &vex, &policy)
}

/// Proof nodes from a ledger in the `bundle create --ledger` form (parents as indexes).
pub fn proof_nodes(ledger: &Value) -> Vec<ProofNode> {
    let mut out: Vec<ProofNode> = Vec::new();
    for node in ledger["nodes"].as_array().expect("nodes") {
        let input = NodeInput {
            kind: node["kind"].as_str().expect("kind").to_string(),
            parents: node["parents"]
                .as_array()
                .expect("parents")
                .iter()
                .map(|p| out[p.as_u64().expect("index") as usize].id)
                .collect(),
            data: node["data"].clone(),
        };
        out.push(ProofNode {
            id: input.id().expect("canonical"),
            kind: input.kind.clone(),
            parents: input.parents.clone(),
            body: input.body(),
        });
    }
    out
}
