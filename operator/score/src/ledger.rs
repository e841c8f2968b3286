//! The proof ledger the engine emits, and its conversions to the forms
//! `attestor-core` signs and verifies.

use attestor_core::bundle::{ManifestInputs, NodeInput, ProofNode, ledger_root};
use attestor_core::canonical::CanonicalError;
use attestor_core::digest::Sha256Digest;
use jiff::Timestamp;
use serde_json::{Value, json};

/// The rule that produced a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// The four input digests. Always the first node.
    Inputs,
    /// A component matched by an advisory.
    Match,
    /// A VEX statement applied to a match.
    Vex,
    /// The policy's weight applied to a match that was not suppressed.
    PolicyWeight,
    /// A partial sum, only when more findings end than one node may have parents.
    Subtotal,
    /// The score, the threshold and the verdict. Always the last node.
    Aggregate,
}

impl NodeKind {
    pub const ALL: [NodeKind; 6] = [
        NodeKind::Inputs,
        NodeKind::Match,
        NodeKind::Vex,
        NodeKind::PolicyWeight,
        NodeKind::Subtotal,
        NodeKind::Aggregate,
    ];

    /// The node's `kind` member.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Inputs => "inputs",
            NodeKind::Match => "match",
            NodeKind::Vex => "vex",
            NodeKind::PolicyWeight => "policy-weight",
            NodeKind::Subtotal => "subtotal",
            NodeKind::Aggregate => "aggregate",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Whether the score is within the policy's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    /// `fail` exactly when the score exceeds the threshold.
    pub fn of(score: u64, threshold: u64) -> Self {
        if score > threshold {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// One node with its content-addressed id.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerNode {
    pub id: Sha256Digest,
    pub kind: NodeKind,
    pub parents: Vec<Sha256Digest>,
    pub data: Value,
}

impl LedgerNode {
    pub fn to_node_input(&self) -> NodeInput {
        NodeInput {
            kind: self.kind.as_str().to_string(),
            parents: self.parents.clone(),
            data: self.data.clone(),
        }
    }

    /// The node as `score_proof.json` holds it (what a bundle's ledger is read as).
    pub fn to_proof_node(&self) -> ProofNode {
        let input = self.to_node_input();
        ProofNode {
            id: self.id,
            kind: input.kind.clone(),
            parents: input.parents.clone(),
            body: input.body(),
        }
    }
}

/// Why no ledger could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("the ledger would have {nodes} nodes, more than a proof bundle may hold ({max})")]
    TooManyNodes { nodes: usize, max: usize },
    #[error(
        "advisory {advisory} has {feature}, which score version 1 refused: replay this bundle \
         with its original feed snapshot, or score again (score version 2)"
    )]
    BeyondVersion1 {
        advisory: String,
        feature: &'static str,
    },
    /// Score version 2 applies the VEX an SBOM embeds; version 1 ignored it.
    #[error("the SBOM's embedded CycloneDX VEX cannot be read (score version 2 applies it): {0}")]
    EmbeddedVex(Box<crate::error::InputError>),
    #[error("proof node {index} cannot be written as canonical JSON: {source}")]
    Canonical {
        index: usize,
        source: CanonicalError,
    },
}

/// A computed score and its proof.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    /// The semantics it was computed with (the manifest's `scoreVersion`).
    pub version: crate::engine::ScoreVersion,
    /// The digests the `inputs` node records.
    pub inputs: ManifestInputs,
    /// In ledger order: every parent precedes its children.
    pub nodes: Vec<LedgerNode>,
    /// RFC 6962 Merkle root over the node ids, as `score_proof.json` `rootHash`.
    pub root: Sha256Digest,
    pub score: u64,
    pub threshold: u64,
    pub verdict: Verdict,
    /// Matches, and how many of them VEX suppressed.
    pub findings: usize,
    pub suppressed: usize,
}

impl Ledger {
    /// The nodes for [`attestor_core::bundle::BundleSpec::nodes`].
    pub fn node_inputs(&self) -> Vec<NodeInput> {
        self.nodes.iter().map(LedgerNode::to_node_input).collect()
    }

    /// The nodes as a bundle's `score_proof.json` holds them, e.g. to compare two ledgers.
    pub fn proof_nodes(&self) -> Vec<ProofNode> {
        self.nodes.iter().map(LedgerNode::to_proof_node).collect()
    }

    /// The ledger file `attestor bundle create --ledger` reads: nodes without
    /// ids, parents as indexes of earlier nodes (the form of
    /// `examples/inputs/ledger.json`).
    pub fn ledger_json(&self) -> Value {
        let index: std::collections::BTreeMap<Sha256Digest, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id, i))
            .collect();
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                let parents: Vec<Value> = n
                    .parents
                    .iter()
                    .filter_map(|p| index.get(p))
                    .map(|&i| Value::from(i))
                    .collect();
                json!({"kind": n.kind.as_str(), "parents": parents, "data": n.data})
            })
            .collect();
        json!({ "nodes": nodes })
    }

    /// The `manifest.json` of a scan that produced this ledger.
    pub fn manifest(
        &self,
        artifact_digest: &Sha256Digest,
        artifact_name: Option<&str>,
        created_at: Timestamp,
    ) -> Value {
        let mut manifest = json!({
            "schema": attestor_core::bundle::MANIFEST_SCHEMA,
            "artifactDigest": artifact_digest.to_string(),
            "inputs": inputs_json(&self.inputs),
            "createdAt": created_at.to_string(),
            "deterministic": true,
        });
        if let (Some(name), Value::Object(m)) = (artifact_name, &mut manifest) {
            m.insert("artifactName".into(), Value::String(name.to_string()));
        }
        // Version 1 manifests have no member: absence means 1, so they stay as they were.
        if self.version != crate::engine::ScoreVersion::V1
            && let Value::Object(m) = &mut manifest
        {
            m.insert("scoreVersion".into(), self.version.number().into());
        }
        manifest
    }
}

/// `{sbom, feedSnapshot, vex, policy}`, the members of the manifest's `inputs`.
pub(crate) fn inputs_json(inputs: &ManifestInputs) -> Value {
    json!({
        "sbom": inputs.sbom.to_string(),
        "feedSnapshot": inputs.feed_snapshot.to_string(),
        "vex": inputs.vex.to_string(),
        "policy": inputs.policy.to_string(),
    })
}

/// Appends nodes, computing each id with `attestor-core`.
pub(crate) struct LedgerBuilder {
    nodes: Vec<LedgerNode>,
}

impl LedgerBuilder {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(capacity),
        }
    }

    pub fn push(
        &mut self,
        kind: NodeKind,
        parents: Vec<Sha256Digest>,
        data: Value,
    ) -> Result<Sha256Digest, ScoreError> {
        let input = NodeInput {
            kind: kind.as_str().to_string(),
            parents,
            data,
        };
        let id = input.id().map_err(|source| ScoreError::Canonical {
            index: self.nodes.len(),
            source,
        })?;
        self.nodes.push(LedgerNode {
            id,
            kind,
            parents: input.parents,
            data: input.data,
        });
        Ok(id)
    }

    pub fn finish(self) -> (Vec<LedgerNode>, Sha256Digest) {
        let root = ledger_root(self.nodes.iter().map(|n| &n.id));
        (self.nodes, root)
    }
}
