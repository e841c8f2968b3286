//! Why a registry operation failed, as the reasons users see in status and on the command line.

use std::time::Duration;

use attestor_core::digest::Sha256Digest;
use attestor_oci::OciError;

use crate::fetch::{FetchError, human_duration};

/// Stable reasons, shared with the ProofVerification conditions and the CLI.
pub mod reason {
    /// Nothing was found for the digest (no referrers, no fallback tag, no legacy tags).
    pub const NO_SIGNATURES_FOUND: &str = "NoSignaturesFound";
    /// The registry could not be reached, timed out, or kept answering 5xx.
    pub const REGISTRY_UNAVAILABLE: &str = "RegistryUnavailable";
    /// The registry or its token service refused the credentials (or asked for some and none
    /// were given).
    pub const REGISTRY_AUTH_FAILED: &str = "RegistryAuthFailed";
    /// The registry answered 429 longer than this client waits.
    pub const RATE_LIMITED: &str = "RateLimited";
    /// The registry sent something malformed, oversized, or not what its digest says.
    pub const REGISTRY_RESPONSE_INVALID: &str = "RegistryResponseInvalid";
    /// The image (or the digest in it) does not exist in the registry.
    pub const IMAGE_NOT_FOUND: &str = "ImageNotFound";
    /// The registry's address is refused by the operator's network policy.
    pub const REGISTRY_ADDRESS_DENIED: &str = "RegistryAddressDenied";
}

/// A failed registry operation. Messages name the registry, what was asked, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error(
        "{registry}: authentication failed: {detail}: check the registry credentials \
         (--registry-config, or the dockerconfigjson Secret) and that they may {actions} {repository}"
    )]
    AuthFailed {
        registry: String,
        repository: String,
        actions: &'static str,
        detail: String,
    },

    #[error(
        "{registry}: rate limited (HTTP 429){}{}: try again later, use a mirror \
         (--registry-mirror), or authenticate for a higher limit",
        .retry_after.map(|d| format!(", asked to wait {}", human_duration(d))).unwrap_or_default(),
        if *.attempts > 1 { format!(" after {} attempts", .attempts) } else { String::new() }
    )]
    RateLimited {
        registry: String,
        retry_after: Option<Duration>,
        attempts: u32,
    },

    #[error(
        "{registry}: unavailable: {detail}: check that the registry is up and reachable from here"
    )]
    Unavailable { registry: String, detail: String },

    #[error("{registry}: {error}")]
    Fetch {
        registry: String,
        #[source]
        error: FetchError,
    },

    #[error("{registry}: invalid response to {url}: {detail}")]
    Invalid {
        registry: String,
        url: String,
        detail: String,
    },

    #[error(
        "{registry}: {url} has digest {actual}, not the {expected} asked for: the registry \
         served other content; do not trust it"
    )]
    DigestMismatch {
        registry: String,
        url: String,
        expected: String,
        actual: Sha256Digest,
    },

    #[error("{registry}: {what} not found ({url}): check the reference and the digest")]
    NotFound {
        registry: String,
        what: String,
        url: String,
    },

    #[error("{registry}: HTTP {status} for {method} {url}: {detail}")]
    Status {
        registry: String,
        method: &'static str,
        url: String,
        status: u16,
        detail: String,
    },

    #[error("{0}")]
    Oci(#[from] OciError),
}

impl RegistryError {
    /// The stable reason of this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            RegistryError::AuthFailed { .. } => reason::REGISTRY_AUTH_FAILED,
            RegistryError::RateLimited { .. } => reason::RATE_LIMITED,
            RegistryError::Unavailable { .. } => reason::REGISTRY_UNAVAILABLE,
            RegistryError::Fetch { error, .. } => match error {
                FetchError::DeniedAddress { .. } => reason::REGISTRY_ADDRESS_DENIED,
                FetchError::TooLarge { .. } | FetchError::DigestMismatch { .. } => {
                    reason::REGISTRY_RESPONSE_INVALID
                }
                _ => reason::REGISTRY_UNAVAILABLE,
            },
            RegistryError::Invalid { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::Oci(_) => reason::REGISTRY_RESPONSE_INVALID,
            RegistryError::NotFound { .. } => reason::IMAGE_NOT_FOUND,
            RegistryError::Status { status, .. } => match status {
                401 | 403 => reason::REGISTRY_AUTH_FAILED,
                429 => reason::RATE_LIMITED,
                _ => reason::REGISTRY_UNAVAILABLE,
            },
        }
    }

    /// Whether trying again later may succeed (outages, rate limits), as opposed to a
    /// configuration or content problem.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::RateLimited { .. } | RegistryError::Unavailable { .. } => true,
            RegistryError::Fetch { error, .. } => error.is_transient(),
            RegistryError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
