//! Replay: recompute a ledger and explain how it differs from the original.
//!
//! Nodes are compared by what they are about (kind, component, advisory), not
//! by id: every id depends on the `inputs` node through the parent links, so
//! one changed input changes every id while most nodes still say the same.
//! The rules that attribute each difference to an input are in
//! docs/scoring.md, "Replay and drift attribution".

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use attestor_core::bundle::{ManifestInputs, ProofNode, ledger_root};
use attestor_core::canonical;
use attestor_core::digest::Sha256Digest;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine;
use crate::error::InputKind;
use crate::inputs::ScoringInputs;
use crate::ledger::{Ledger, NodeKind, ScoreError, Verdict};

/// Which input a difference is attributed to; the `cause` of the CRDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Cause {
    Feed,
    Vex,
    Policy,
    Sbom,
    /// No changed input explains it (e.g. another engine version).
    Unknown,
}

impl From<InputKind> for Cause {
    fn from(kind: InputKind) -> Self {
        match kind {
            InputKind::Sbom => Cause::Sbom,
            InputKind::Feed => Cause::Feed,
            InputKind::Vex => Cause::Vex,
            InputKind::Policy => Cause::Policy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Same proof root.
    Reproduced,
    /// Another proof root.
    Drifted,
}

/// What a node is about: how nodes of the two ledgers are paired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeKey {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// Tells apart nodes with the same kind, component and advisory (subtotals, or
    /// repeated nodes in a foreign ledger), counting from 0 in ledger order.
    pub ordinal: usize,
}

impl NodeKey {
    fn rank(&self) -> usize {
        NodeKind::from_name(&self.kind).map_or(NodeKind::ALL.len(), |k| k as usize)
    }
}

impl Ord for NodeKey {
    /// Ledger phase first (inputs, match, vex, policy-weight, subtotal,
    /// aggregate, then unknown kinds), then component, advisory, ordinal.
    fn cmp(&self, other: &Self) -> Ordering {
        (
            self.rank(),
            &self.kind,
            &self.component,
            &self.advisory,
            self.ordinal,
        )
            .cmp(&(
                other.rank(),
                &other.kind,
                &other.component,
                &other.advisory,
                other.ordinal,
            ))
    }
}

impl PartialOrd for NodeKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Change {
    /// Only in the recomputed ledger.
    Added,
    /// Only in the original ledger.
    Removed,
    /// In both, saying something else (data, or what its parents are about).
    Changed,
}

/// One side of a node difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeState {
    pub id: Sha256Digest,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeDiff {
    pub change: Change,
    pub key: NodeKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<NodeState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recomputed: Option<NodeState>,
    /// The inputs responsible, most likely first; more than one when the
    /// ledgers cannot tell them apart, `[Unknown]` when none changed.
    pub causes: Vec<Cause>,
}

/// The result of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    pub outcome: Outcome,
    pub original_root: Sha256Digest,
    pub recomputed_root: Sha256Digest,
    /// Inputs whose digest differs between the original manifest and the replay.
    pub changed_inputs: Vec<InputKind>,
    /// For `Drifted`: the one input the CRDs report (see docs/scoring.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Node-level differences, in [`NodeKey`] order; empty when reproduced.
    pub changes: Vec<NodeDiff>,
    /// From the original `aggregate` node, when it has the usual members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_score: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_verdict: Option<Verdict>,
    pub recomputed_score: u64,
    pub recomputed_verdict: Verdict,
}

impl ReplayReport {
    /// Whether the pass/fail verdict is different after the replay.
    pub fn verdict_changed(&self) -> bool {
        self.original_verdict != Some(self.recomputed_verdict)
    }
}

/// Recomputes the ledger from `inputs` with the semantics the original was
/// computed with (`version`, from its manifest: [`engine::ScoreVersion::of_manifest`])
/// and compares it with `original` (the nodes of a bundle's
/// `score_proof.json`, whose manifest names `original_inputs`).
pub fn replay(
    original: &[ProofNode],
    original_inputs: &ManifestInputs,
    version: engine::ScoreVersion,
    inputs: &ScoringInputs,
) -> Result<ReplayReport, ScoreError> {
    let recomputed = engine::score_as(inputs, version)?;
    Ok(compare(original, original_inputs, &recomputed))
}

/// Compares an original ledger with a recomputed one.
pub fn compare(
    original: &[ProofNode],
    original_inputs: &ManifestInputs,
    recomputed: &Ledger,
) -> ReplayReport {
    let original_root = ledger_root(original.iter().map(|n| &n.id));
    let changed_inputs: Vec<InputKind> = InputKind::ALL
        .into_iter()
        .filter(|&k| digest_of(original_inputs, k) != digest_of(&recomputed.inputs, k))
        .collect();
    let (original_score, original_verdict) = aggregate_of(original);
    let mut report = ReplayReport {
        outcome: Outcome::Reproduced,
        original_root,
        recomputed_root: recomputed.root,
        changed_inputs,
        cause: None,
        changes: Vec::new(),
        original_score,
        original_verdict,
        recomputed_score: recomputed.score,
        recomputed_verdict: recomputed.verdict,
    };
    if original_root == recomputed.root {
        return report;
    }
    let recomputed_nodes = recomputed.proof_nodes();
    let before = Facts::of(original);
    let after = Facts::of(&recomputed_nodes);
    let mut changes = diff(&before, &after);
    attribute(&mut changes, &report.changed_inputs, &before, &after);
    report.cause = Some(primary_cause(&changes, &report.changed_inputs));
    report.outcome = Outcome::Drifted;
    report.changes = changes;
    report
}

fn digest_of(inputs: &ManifestInputs, kind: InputKind) -> Sha256Digest {
    match kind {
        InputKind::Sbom => inputs.sbom,
        InputKind::Feed => inputs.feed_snapshot,
        InputKind::Vex => inputs.vex,
        InputKind::Policy => inputs.policy,
    }
}

fn aggregate_of(nodes: &[ProofNode]) -> (Option<u64>, Option<Verdict>) {
    let Some(data) = nodes
        .iter()
        .rev()
        .find(|n| n.kind == NodeKind::Aggregate.as_str())
        .and_then(|n| n.body.get("data"))
    else {
        return (None, None);
    };
    let verdict = match data.get("verdict").and_then(Value::as_str) {
        Some("pass") => Some(Verdict::Pass),
        Some("fail") => Some(Verdict::Fail),
        _ => None,
    };
    (data.get("score").and_then(Value::as_u64), verdict)
}

/// A node as far as comparison is concerned.
struct Fact<'a> {
    key: NodeKey,
    id: Sha256Digest,
    data: &'a Value,
    /// The node minus `id` and `parents`, canonical: what it says itself.
    content: Option<Vec<u8>>,
    parent_keys: Vec<NodeKey>,
}

struct Facts<'a> {
    facts: Vec<Fact<'a>>,
    by_key: BTreeMap<NodeKey, usize>,
    /// Components that have a match node.
    matched: BTreeSet<&'a str>,
}

const NULL: Value = Value::Null;

impl<'a> Facts<'a> {
    fn of(nodes: &'a [ProofNode]) -> Self {
        let mut facts: Vec<Fact<'a>> = Vec::with_capacity(nodes.len());
        let mut by_id: BTreeMap<Sha256Digest, usize> = BTreeMap::new();
        let mut ordinals: BTreeMap<(String, Option<String>, Option<String>), usize> =
            BTreeMap::new();
        let mut matched = BTreeSet::new();
        for node in nodes {
            let data = node.body.get("data").unwrap_or(&NULL);
            let parents: Vec<usize> = node
                .parents
                .iter()
                .filter_map(|p| by_id.get(p).copied())
                .collect();
            let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_string);
            let inherited = |pick: fn(&NodeKey) -> &Option<String>| {
                parents.iter().find_map(|&p| pick(&facts[p].key).clone())
            };
            let (component, advisory) = match NodeKind::from_name(&node.kind) {
                Some(NodeKind::Match) => (text("component"), text("advisory")),
                Some(NodeKind::Vex | NodeKind::PolicyWeight) => (
                    text("component").or_else(|| inherited(|k| &k.component)),
                    text("advisory").or_else(|| inherited(|k| &k.advisory)),
                ),
                _ => (None, None),
            };
            if node.kind == NodeKind::Match.as_str()
                && let Some(c) = data.get("component").and_then(Value::as_str)
            {
                matched.insert(c);
            }
            let ordinal = ordinals
                .entry((node.kind.clone(), component.clone(), advisory.clone()))
                .or_default();
            let key = NodeKey {
                kind: node.kind.clone(),
                component,
                advisory,
                ordinal: *ordinal,
            };
            *ordinal += 1;
            let parent_keys = parents.iter().map(|&p| facts[p].key.clone()).collect();
            by_id.insert(node.id, facts.len());
            facts.push(Fact {
                key,
                id: node.id,
                data,
                content: content(&node.body),
                parent_keys,
            });
        }
        let by_key = facts
            .iter()
            .enumerate()
            .map(|(i, f)| (f.key.clone(), i))
            .collect();
        Self {
            facts,
            by_key,
            matched,
        }
    }

    fn get(&self, key: &NodeKey) -> Option<&Fact<'a>> {
        self.by_key.get(key).map(|&i| &self.facts[i])
    }
}

fn content(body: &Map<String, Value>) -> Option<Vec<u8>> {
    let mut own = body.clone();
    own.remove("parents");
    canonical::to_canonical_bytes(&Value::Object(own)).ok()
}

fn diff(before: &Facts, after: &Facts) -> Vec<NodeDiff> {
    let keys: BTreeSet<&NodeKey> = before.by_key.keys().chain(after.by_key.keys()).collect();
    let state = |f: &Fact| NodeState {
        id: f.id,
        data: f.data.clone(),
    };
    keys.into_iter()
        .filter_map(|key| {
            let change = match (before.get(key), after.get(key)) {
                (Some(b), Some(a)) => {
                    let same = b.id == a.id
                        || (b.content.is_some()
                            && b.content == a.content
                            && b.parent_keys == a.parent_keys);
                    if same {
                        return None;
                    }
                    (Change::Changed, Some(state(b)), Some(state(a)))
                }
                (Some(b), None) => (Change::Removed, Some(state(b)), None),
                (None, Some(a)) => (Change::Added, None, Some(state(a))),
                (None, None) => return None,
            };
            Some(NodeDiff {
                change: change.0,
                key: key.clone(),
                original: change.1,
                recomputed: change.2,
                causes: Vec::new(),
            })
        })
        .collect()
}

/// Fills in `causes`. Diffs are in ledger phase order, so a node's
/// dependencies (its match, its VEX node) are attributed before it.
fn attribute(diffs: &mut [NodeDiff], changed: &[InputKind], before: &Facts, after: &Facts) {
    let restrict = |kinds: &[InputKind]| -> Vec<Cause> {
        kinds
            .iter()
            .filter(|k| changed.contains(k))
            .map(|&k| Cause::from(k))
            .collect()
    };
    let mut by_key: BTreeMap<NodeKey, (Change, Vec<Cause>)> = BTreeMap::new();
    let sibling =
        |by_key: &BTreeMap<NodeKey, (Change, Vec<Cause>)>, key: &NodeKey, kind: NodeKind| {
            let sibling = NodeKey {
                kind: kind.as_str().to_string(),
                ordinal: 0,
                ..key.clone()
            };
            by_key.get(&sibling).cloned()
        };
    let member = |d: &NodeDiff, name: &str| -> (Option<Value>, Option<Value>) {
        let get = |s: &Option<NodeState>| s.as_ref().and_then(|s| s.data.get(name)).cloned();
        (get(&d.original), get(&d.recomputed))
    };
    let mut findings: Vec<Cause> = Vec::new();
    for d in diffs.iter_mut() {
        let kind = NodeKind::from_name(&d.key.kind);
        let mut causes = match (kind, d.change) {
            (Some(NodeKind::Match), Change::Changed) => restrict(&[InputKind::Feed]),
            (Some(NodeKind::Match), _) => {
                let both = restrict(&[InputKind::Feed, InputKind::Sbom]);
                // A match exists iff the component is in the SBOM and the feed
                // says it is affected: a component matched on both sides was in
                // both SBOMs, so the feed made the difference.
                let component_kept = d
                    .key
                    .component
                    .as_deref()
                    .is_some_and(|c| before.matched.contains(c) && after.matched.contains(c));
                if both.len() == 2 && component_kept {
                    vec![Cause::Feed]
                } else {
                    both
                }
            }
            (Some(NodeKind::Vex), change) => {
                let matched = sibling(&by_key, &d.key, NodeKind::Match);
                let status = || {
                    let by_vex = restrict(&[InputKind::Vex]);
                    // Aliases come from the feed: a new alias can bring a statement in.
                    if by_vex.is_empty() {
                        restrict(&[InputKind::Feed])
                    } else {
                        by_vex
                    }
                };
                match (change, matched) {
                    (
                        Change::Added | Change::Removed,
                        Some((Change::Added | Change::Removed, c)),
                    ) => c,
                    (Change::Added | Change::Removed, _) => status(),
                    (Change::Changed, _) => {
                        let (s0, s1) = member(d, "status");
                        let (e0, e1) = member(d, "effect");
                        let mut c = if s0 != s1 { status() } else { Vec::new() };
                        if e0 != e1 {
                            c.extend(restrict(&[InputKind::Policy]));
                        }
                        c
                    }
                }
            }
            (Some(NodeKind::PolicyWeight), change) => {
                let matched = sibling(&by_key, &d.key, NodeKind::Match);
                let vex = sibling(&by_key, &d.key, NodeKind::Vex);
                match change {
                    Change::Added | Change::Removed => match (matched, vex) {
                        (Some((Change::Added | Change::Removed, c)), _) => c,
                        (_, Some((_, c))) => c,
                        _ => restrict(&[InputKind::Policy]),
                    },
                    Change::Changed => {
                        // points = f(cvss, weight); the weight = f(band of cvss, policy).
                        let (w0, w1) = member(d, "weightPercent");
                        let mut c = Vec::new();
                        if let Some((Change::Changed, m)) = &matched {
                            c.extend(m.iter().copied());
                        }
                        if w0 != w1 {
                            c.extend(restrict(&[InputKind::Policy]));
                        }
                        let parents_differ = before.get(&d.key).map(|f| &f.parent_keys)
                            != after.get(&d.key).map(|f| &f.parent_keys);
                        if parents_differ && let Some((_, v)) = vex {
                            c.extend(v);
                        }
                        c
                    }
                }
            }
            (Some(NodeKind::Subtotal | NodeKind::Aggregate), _) => {
                let mut c = findings.clone();
                if kind == Some(NodeKind::Aggregate) {
                    let (t0, t1) = member(d, "threshold");
                    if t0 != t1 {
                        c.extend(restrict(&[InputKind::Policy]));
                    }
                }
                if c.is_empty() {
                    c = restrict(&InputKind::ALL);
                }
                c
            }
            _ => restrict(&InputKind::ALL),
        };
        causes.sort();
        causes.dedup();
        if causes.is_empty() {
            causes.push(Cause::Unknown);
        }
        if matches!(
            kind,
            Some(NodeKind::Match | NodeKind::Vex | NodeKind::PolicyWeight)
        ) {
            findings.extend(causes.iter().copied().filter(|c| *c != Cause::Unknown));
            findings.sort();
            findings.dedup();
        }
        by_key.insert(d.key.clone(), (d.change, causes.clone()));
        d.causes = causes;
    }
}

/// The one cause a CRD status reports: the input to which most finding
/// differences are attributed alone; else the sole cause of any difference;
/// else the likeliest cause of the first; ties go to the earlier [`Cause`].
fn primary_cause(diffs: &[NodeDiff], changed: &[InputKind]) -> Cause {
    let is_finding = |d: &&NodeDiff| {
        matches!(
            NodeKind::from_name(&d.key.kind),
            Some(NodeKind::Match | NodeKind::Vex | NodeKind::PolicyWeight)
        )
    };
    let sole = |d: &NodeDiff| match d.causes.as_slice() {
        [c] if *c != Cause::Unknown => Some(*c),
        _ => None,
    };
    let mut counts: BTreeMap<Cause, usize> = BTreeMap::new();
    for c in diffs.iter().filter(is_finding).filter_map(sole) {
        *counts.entry(c).or_default() += 1;
    }
    // max_by_key keeps the last maximum; iterate in reverse so ties go to the earlier cause.
    if let Some((cause, _)) = counts.iter().rev().max_by_key(|(_, n)| **n) {
        return *cause;
    }
    if let Some(cause) = diffs.iter().find_map(sole) {
        return cause;
    }
    if let Some(cause) = diffs
        .iter()
        .flat_map(|d| d.causes.first())
        .find(|c| **c != Cause::Unknown)
    {
        return *cause;
    }
    changed
        .iter()
        .map(|&k| Cause::from(k))
        .min()
        .unwrap_or(Cause::Unknown)
}
