//! Offline verification of Sigstore bundles (v0.1, v0.2, v0.3) against a Sigstore
//! trusted root: Fulcio certificate chains and the workload identity they name,
//! Rekor v1 and v2 entries (body, RFC 6962 inclusion proof, C2SP signed checkpoint,
//! signed entry timestamp), embedded SCTs, RFC 3161 timestamps, and in-toto
//! statements in DSSE envelopes; and what cosign stores in an OCI registry (the
//! `cosign` module: simple signing, DSSE attestations, bundle referrers).
//!
//! Pure like attestor-core: no network, no clock reads, no Kubernetes types.
//! Every input is size-bounded before it is parsed.
pub mod cert;
pub mod cosign;
pub mod crypto;
pub mod der;
pub mod error;
pub mod github;
pub mod model;
pub mod root;
pub mod sct;
pub mod tsa;
pub mod tuf;
pub mod verify;

pub use error::SigstoreError;
pub use root::TrustedRoot;
pub use verify::{
    Artifact, IdentityRule, Matcher, Options, Policy, Required, Thresholds, TlogPolicy, Verified,
    verify_bundle, verify_bundle_with,
};
