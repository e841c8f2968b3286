//! PyPI versions: PEP 440 (epochs, pre-, post- and dev-releases, local
//! versions) with the `pep440_rs` crate, and versions that are not PEP 440
//! ordered as `packaging`'s `LegacyVersion` did, before every PEP 440
//! version (what OSV's PyPI ecosystem does).

use std::cmp::Ordering;
use std::str::FromStr;

use crate::version::VersionError;

#[derive(Debug, Clone)]
pub enum Pep440 {
    /// `packaging`'s legacy key: the parts, epoch −1.
    Legacy(Vec<String>),
    Version(pep440_rs::Version),
}

impl Pep440 {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.trim().is_empty() {
            return Err(VersionError::Empty);
        }
        Ok(match pep440_rs::Version::from_str(text.trim()) {
            Ok(version) => Self::Version(version),
            Err(_) => Self::Legacy(legacy_key(text)),
        })
    }
}

/// `packaging.version._legacy_cmpkey` (packaging 21.3) without the epoch.
fn legacy_key(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut parts: Vec<String> = Vec::new();
    for part in legacy_parts(&lower) {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts
}

/// `_parse_version_parts`: `re.split(r"(\d+|[a-z]+|\.|-)")`, with the
/// replacements `pre`, `preview`, `rc` → `c`, `dev` → `@`, `-` → `final-`;
/// numbers zero-padded to 8 digits, other parts prefixed with `*`.
fn legacy_parts(text: &str) -> Vec<String> {
    let mut pieces: Vec<&str> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut other_start = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let len = if c.is_ascii_digit() {
            bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count()
        } else if c.is_ascii_lowercase() {
            bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase())
                .count()
        } else if c == b'.' || c == b'-' {
            1
        } else {
            0
        };
        if len == 0 {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        pieces.push(&text[other_start..i]);
        pieces.push(&text[i..i + len]);
        i += len;
        other_start = i;
    }
    pieces.push(&text[other_start..]);
    let mut out = Vec::new();
    for piece in pieces {
        let piece = match piece {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            other => other,
        };
        if piece.is_empty() || piece == "." {
            continue;
        }
        if piece.as_bytes()[0].is_ascii_digit() {
            out.push(format!("{piece:0>8}"));
        } else {
            out.push(format!("*{piece}"));
        }
    }
    out.push("*final".to_string());
    out
}

impl Ord for Pep440 {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Version(a), Self::Version(b)) => a.cmp(b),
            (Self::Legacy(a), Self::Legacy(b)) => a.cmp(b),
            (Self::Legacy(_), Self::Version(_)) => Ordering::Less,
            (Self::Version(_), Self::Legacy(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pep440 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pep440 {}
