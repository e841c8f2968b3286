//! Why a document or a name from a registry (or a user) was refused.

/// A refusal of something read from a registry, a user or a credentials file. Messages name what
/// was being read (`what`), so that a reader knows which request or file to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    #[error("invalid image reference {reference:?}: {detail}")]
    InvalidReference { reference: String, detail: String },

    #[error("{what} is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },

    #[error("{what} is not valid JSON of the expected shape: {detail}")]
    Malformed { what: String, detail: String },

    #[error("{what} has {count} {items}, more than the limit of {limit}")]
    TooMany {
        what: String,
        items: &'static str,
        count: usize,
        limit: usize,
    },

    #[error("{what} has media type {media_type:?}, which is not {expected}")]
    UnexpectedMediaType {
        what: String,
        media_type: String,
        expected: &'static str,
    },

    #[error("{what}: digest {digest:?} is not of the form sha256:<64 lowercase hex digits>{}", if *.other_algorithm { " (only sha256 is supported)" } else { "" })]
    BadDigest {
        what: String,
        digest: String,
        other_algorithm: bool,
    },

    #[error("invalid WWW-Authenticate header {header:?}: {detail}")]
    BadChallenge { header: String, detail: String },

    #[error("invalid registry credentials in {source_name}: {detail}")]
    BadCredentials { source_name: String, detail: String },

    #[error(
        "invalid mirror rule {rule:?}: {detail} (expected FROM=TO, e.g. docker.io=mirror.example:5000)"
    )]
    BadMirrorRule { rule: String, detail: String },
}

impl OciError {
    pub(crate) fn malformed(what: &str, detail: impl std::fmt::Display) -> Self {
        OciError::Malformed {
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Refuses `bytes` longer than `limit` before anything parses them.
pub(crate) fn check_size(what: &str, bytes: &[u8], limit: usize) -> Result<(), OciError> {
    if bytes.len() > limit {
        return Err(OciError::TooLarge {
            what: what.to_string(),
            size: bytes.len(),
            limit,
        });
    }
    Ok(())
}

/// Parses a `sha256:<hex>` digest as found in a descriptor or a reference.
pub(crate) fn parse_digest(what: &str, text: &str) -> Result<crate::Sha256Digest, OciError> {
    text.parse().map_err(|_| OciError::BadDigest {
        what: what.to_string(),
        digest: text.to_string(),
        other_algorithm: text
            .split_once(':')
            .is_some_and(|(alg, _)| alg != "sha256" && !alg.is_empty()),
    })
}
