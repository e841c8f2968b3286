//! The OCI distribution protocol's data, with no network, no Kubernetes types and no clock.
//!
//! The registry client in `attestor-runtime` (`runtime::registry`) does the I/O; everything it
//! decides from bytes it received is decided here, so that it can be tested exhaustively:
//!
//! - [`reference`]: image references as docker normalises them (`nginx` is
//!   `docker.io/library/nginx:latest`), with tags, `@sha256:` digests and ports;
//! - [`manifest`]: OCI and Docker image manifests, indexes and descriptors, parsed strictly and
//!   within the sizes the caller gives;
//! - [`referrers`]: the OCI 1.1 referrers API (its index and `Link` pagination), the fallback tag
//!   `sha256-<hex>` and cosign's legacy tags `sha256-<hex>.sig` and `.att`;
//! - [`auth`]: `WWW-Authenticate` challenges (Basic, Bearer) and token responses;
//! - [`credentials`]: docker `config.json` and `kubernetes.io/dockerconfigjson` credentials;
//! - [`mirror`]: registry mirror rules (`docker.io=mirror.example:5000`);
//! - [`classify`]: what a candidate found for a digest is, judged by its own manifest and layer
//!   media types (never by the referrers index's `artifactType` alone);
//! - [`artifact`]: this project's proof bundle as an OCI 1.1 artifact.
pub mod artifact;
pub mod auth;
pub mod classify;
pub mod credentials;
mod error;
pub mod manifest;
pub mod mirror;
pub mod reference;
pub mod referrers;

pub use attestor_core::digest::Sha256Digest;
pub use error::OciError;
