//! The in-cluster runtime of the attestor operator (`attestor run`).
//!
//! - [`fetch`]: proof bundles and issuer key directories over HTTP(S), with hard limits on size,
//!   time, redirects and retries.
//! - [`registry`]: the OCI registry client (discovery of signatures and attestations for a
//!   digest, proof bundles pushed and pulled as OCI artifacts), on the same guarded fetcher.
//! - [`trust`], [`verification`], [`scope`], [`conditions`]: pure decisions (what an anchor or
//!   issuer amounts to now, what a verification's status and Events should be), tested without
//!   an API server.
//! - [`tuf`]: Sigstore trusted roots fetched through TUF (a mirror, a directory or a ConfigMap).
//! - [`controllers`]: the TrustAnchor, TrustedIssuer and ProofVerification controllers.
//! - [`operator`]: the process: probes, metrics, leader election, shutdown.
//! - [`webhook`]: the validating admission webhook, served by every replica.
//!
//! Verification itself stays in `attestor-core`, which never touches the network.
pub mod conditions;
pub mod controllers;
pub mod discovery;
pub mod fetch;
pub mod http;
pub mod kube_client;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod registry;
pub mod replay;
pub mod snapshot_store;
pub mod source;
pub mod telemetry;
pub mod trust;
pub mod tuf;
pub mod verification;
pub mod webhook;

/// Issuer scopes are part of the pure admission domain; the controllers use the same rules.
pub use attestor_admission::scope;
