//! The attestor custom resources, API group `attestor.stellaops.io`, version `v1alpha1`:
//!
//! - [`TrustAnchor`] (cluster-scoped): a public key or root certificate trusted for attestation
//!   signing and/or transparency-log checkpoints, with an optional validity window.
//! - [`TrustedIssuer`] (cluster-scoped): who may vouch for which images, with which anchors, and
//!   who approved that.
//! - [`ProofVerification`] (namespaced): verify one proof bundle for one artifact digest and keep
//!   it verified.
//! - [`ReplayJob`] (namespaced): replay the scores of selected verifications on a schedule and
//!   report drift.
//!
//! The schemas, defaults and validation rules (OpenAPI patterns and CEL) live on the types, so
//! the generated CustomResourceDefinitions in `crds/` and the reference in `docs/crds.md` can
//! never disagree with the code. This crate holds types only: no client, no runtime.

#![warn(missing_docs)]
// Several `printcolumn(type_ = "string", ...)` lists in one `#[kube(...)]` look like repeated
// attributes to clippy; they are distinct columns.
#![allow(clippy::duplicated_attributes)]

pub mod common;
pub mod conditions;
pub mod docs;
pub mod duration;
pub mod proof_verification;
pub mod replay_job;
pub mod trust_anchor;
pub mod trusted_issuer;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt as _;

pub use proof_verification::{ProofVerification, ProofVerificationSpec, ProofVerificationStatus};
pub use replay_job::{ReplayJob, ReplayJobSpec, ReplayJobStatus};
pub use trust_anchor::{TrustAnchor, TrustAnchorSpec, TrustAnchorStatus};
pub use trusted_issuer::{TrustedIssuer, TrustedIssuerSpec, TrustedIssuerStatus};

/// The API group of every attestor resource.
pub const GROUP: &str = "attestor.stellaops.io";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every attestor object.
pub const API_VERSION: &str = "attestor.stellaops.io/v1alpha1";
/// The category every kind is listed under: `kubectl get attestor` shows them all.
pub const CATEGORY: &str = "attestor";

/// The four CustomResourceDefinitions, in the order they are documented.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        TrustAnchor::crd(),
        TrustedIssuer::crd(),
        ProofVerification::crd(),
        ReplayJob::crd(),
    ]
    .into_iter()
    .map(tidy)
    .collect()
}

/// Rewraps descriptions: doc comments are wrapped at 100 columns in the source, but
/// `kubectl explain` wraps by itself, so lines within a paragraph are joined.
fn tidy(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    match child {
                        serde_json::Value::String(text) if k == "description" => {
                            *text = unwrap_paragraphs(text);
                        }
                        _ => walk(child),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(&crd).expect("a CRD serializes to JSON");
    walk(&mut value);
    serde_json::from_value(value).expect("a rewrapped CRD is still a CRD")
}

fn unwrap_paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The file a CRD is kept in under `crds/`: `<plural>.<group>.yaml`, its object name.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!(
        "{}.yaml",
        crd.metadata
            .name
            .as_deref()
            .expect("generated CRDs are named")
    )
}

/// The first line of every generated CRD file.
pub const GENERATED_HEADER: &str =
    "# Generated from operator/api by `make crds` (attestor crd). Do not edit.\n";

/// One CRD as the YAML document kept in `crds/`, header comment included.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_saphyr::to_string(crd).expect("a CRD serializes to YAML");
    format!("{GENERATED_HEADER}{body}")
}

/// All CRDs as one multi-document YAML stream, as `attestor crd` prints it.
pub fn crds_yaml() -> String {
    crds()
        .iter()
        .map(|crd| serde_saphyr::to_string(crd).expect("a CRD serializes to YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}
