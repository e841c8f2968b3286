//! Artifact digests: what a pinned image reference names and what the index is keyed by.

use std::fmt;

use crate::text::clip;

/// The only algorithm Kubernetes image references and `spec.artifactDigest` use.
const PREFIX: &str = "sha256:";

/// A `sha256:` digest, kept as its 32 bytes: a fixed-size `Copy` key hashes and compares without
/// touching the heap on the hot path, and two spellings of one digest cannot both exist.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a text is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("{0:?} is not a sha256 digest: only sha256 is supported")]
    UnsupportedAlgorithm(String),
    #[error("{0:?} is not sha256: and 64 lowercase hexadecimal digits")]
    Malformed(String),
}

impl Digest {
    /// Parses `sha256:` and 64 lowercase hexadecimal digits. Uppercase is refused, as the API's
    /// `spec.artifactDigest` pattern refuses it: accepting it here would match digests the
    /// runtime and the registry spell differently.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let quoted = || clip(text, 100).into_owned();
        let Some(hex) = text.strip_prefix(PREFIX) else {
            return Err(if text.contains(':') {
                DigestError::UnsupportedAlgorithm(quoted())
            } else {
                DigestError::Malformed(quoted())
            });
        };
        if hex.len() != 64 {
            return Err(DigestError::Malformed(quoted()));
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let (Some(high), Some(low)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(DigestError::Malformed(quoted()));
            };
            *byte = (high << 4) | low;
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips_lowercase_sha256() {
        let text = format!("sha256:{HEX}");
        assert_eq!(Digest::parse(&text).unwrap().to_string(), text);
    }

    #[test]
    fn refuses_other_spellings() {
        let upper = format!("sha256:{}", HEX.to_uppercase());
        assert!(matches!(
            Digest::parse(&upper),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            Digest::parse("sha256:abc"),
            Err(DigestError::Malformed(_))
        ));
        assert!(matches!(
            Digest::parse(&format!("sha512:{HEX}")),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(Digest::parse(HEX), Err(DigestError::Malformed(_))));
        let with_g = format!("sha256:{}g", &HEX[..63]);
        assert!(Digest::parse(&with_g).is_err());
        // Multi-byte characters must not be split into "hex pairs".
        let wide = format!("sha256:{}é", &HEX[..62]);
        assert!(Digest::parse(&wide).is_err());
    }

    #[test]
    fn errors_quote_a_bounded_input() {
        let long = "x".repeat(10_000);
        assert!(Digest::parse(&long).unwrap_err().to_string().len() < 200);
    }
}
