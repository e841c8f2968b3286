//! Deterministic vulnerability scoring with a content-addressed proof ledger.
//!
//! [`ScoringInputs::parse`] reads an SBOM (CycloneDX, SPDX 2 or 3), an
//! advisory feed snapshot (a feed document, or OSV files in a directory, ZIP
//! or YAML: [`inputs::container`]), a VEX document (OpenVEX, CSAF or
//! CycloneDX) and a scoring policy strictly; [`score`]
//! computes the score and a [`Ledger`] of proof nodes whose Merkle root a
//! proof bundle signs; [`replay::compare`] recomputes and explains drift;
//! [`store`] fetches inputs by content id. docs/scoring.md is the normative
//! description: enough to compute the same root in another language.
//!
//! Everything here is pure: no clock, no network, no randomness, no floating
//! point and no hash-map iteration order in anything that is hashed.

pub mod compare;
pub mod ecosystem;
pub mod engine;
pub mod error;
pub mod inputs;
mod json;
pub mod ledger;
pub mod normalize;
pub mod number;
pub mod purl;
pub mod replay;
pub mod severity;
pub mod store;
pub mod version;

pub use engine::{ScoreVersion, ScoreVersionError, score, score_as};
pub use error::{ContainerError, InputError, InputKind, Reason};
pub use inputs::ScoringInputs;
pub use ledger::{Ledger, LedgerNode, NodeKind, ScoreError, Verdict};
pub use replay::{Cause, Outcome, ReplayReport, compare, replay};
pub use store::{DirStore, SnapshotStore, StoreError};
