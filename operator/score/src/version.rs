//! Version comparison: Semantic Versioning 2.0.0 precedence for `SEMVER`
//! ranges and a generic segment comparison for `ECOSYSTEM` ranges. Both are
//! specified in docs/scoring.md, "Version comparison"; the tables in the tests
//! below are the normative examples.
//!
//! Numbers are compared as digit strings (shorter is smaller, then
//! lexicographically), so versions like `20240101123456789012` never overflow.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("is empty")]
    Empty,
    #[error("is not MAJOR.MINOR.PATCH with optional -PRERELEASE and +BUILD")]
    SemverShape,
    #[error("numeric identifier {0:?} has a leading zero")]
    LeadingZero(String),
    #[error("identifier {0:?} is empty or has characters other than [0-9A-Za-z-]")]
    BadIdentifier(String),
    #[error("contains {0:?}: only printable ASCII other than space is allowed")]
    BadChar(char),
    #[error("has no digits or letters")]
    NoSegments,
    #[error("epoch {0:?} is not a number")]
    Epoch(String),
    #[error("has no version before the revision")]
    NoUpstream,
    #[error("is not an apk version (number{{.number}}[letter]{{_suffix[number]}}[-rN])")]
    Apk,
    #[error("is not a RubyGems version")]
    Gem,
    #[error("is not a NuGet version (1 to 4 numbers, optional -prerelease and +metadata)")]
    NuGet,
    #[error("part {0:?} is not a number")]
    NotNumeric(String),
}

/// A Semantic Versioning 2.0.0 version. Build metadata is kept out: it does
/// not take part in precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    core: [String; 3],
    pre: Vec<Identifier>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Identifier {
    Numeric(String),
    Alphanumeric(String),
}

impl SemVer {
    /// Parses exactly the grammar of semver.org (no leading `v`, no leading zeros).
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let (rest, build) = match text.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (text, None),
        };
        if let Some(build) = build {
            for id in build.split('.') {
                if !is_identifier(id) {
                    return Err(VersionError::BadIdentifier(id.to_string()));
                }
            }
        }
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let mut parts = core.split('.');
        let mut next = || -> Result<String, VersionError> {
            let part = parts.next().ok_or(VersionError::SemverShape)?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::SemverShape);
            }
            numeric(part)
        };
        let core = [next()?, next()?, next()?];
        if parts.next().is_some() {
            return Err(VersionError::SemverShape);
        }
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|id| {
                    if !is_identifier(id) {
                        Err(VersionError::BadIdentifier(id.to_string()))
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        numeric(id).map(Identifier::Numeric)
                    } else {
                        Ok(Identifier::Alphanumeric(id.to_string()))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self { core, pre })
    }

    /// Parses a component's version for a `SEMVER` range: one leading `v`
    /// (Go module versions) is allowed there.
    pub fn parse_lenient(text: &str) -> Option<Self> {
        Self::parse(text.strip_prefix('v').unwrap_or(text)).ok()
    }

    /// Score version 2's reading of SemVer-ordered ecosystems (what OSV's
    /// and the ecosystems' tools accept): one leading `v` (Go) or `go`
    /// followed by a digit (Go's standard library, `go1.21.5`), a missing
    /// minor or patch is zero (`1.2` = `1.2.0`), leading zeros in the core
    /// are ignored. Pre-release and build identifiers are as strict as
    /// [`SemVer::parse`].
    pub fn parse_loose(text: &str) -> Result<Self, VersionError> {
        // Go's standard library is versioned `go1.21.5` in SBOMs (syft); OSV
        // gives its ranges as SemVer.
        let text = match text.strip_prefix("go") {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
            _ => text.strip_prefix('v').unwrap_or(text),
        };
        let cut = text.find(['-', '+']).unwrap_or(text.len());
        let (core, tail) = text.split_at(cut);
        let mut parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(if text.is_empty() {
                VersionError::Empty
            } else {
                VersionError::SemverShape
            });
        }
        parts.resize(3, "0");
        let core: Vec<&str> = parts
            .iter()
            .map(|p| {
                let trimmed = p.trim_start_matches('0');
                if trimmed.is_empty() { "0" } else { trimmed }
            })
            .collect();
        Self::parse(&format!("{}{tail}", core.join(".")))
    }
}

fn is_identifier(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn numeric(digits: &str) -> Result<String, VersionError> {
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(VersionError::LeadingZero(digits.to_string()));
    }
    Ok(digits.to_string())
}

/// Compares two digit strings without leading zeros by their numeric value.
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A maximal run of ASCII digits or of ASCII letters in a version string.
pub(crate) enum Run<'a> {
    /// Digits without leading zeros (`"0"` for zero).
    Digits(&'a str),
    Letters(&'a str),
}

/// Splits `text` into digit and letter runs; every other byte only separates them.
pub(crate) fn alnum_runs(text: &str) -> Vec<Run<'_>> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = text[start..i].trim_start_matches('0');
            runs.push(Run::Digits(if digits.is_empty() { "0" } else { digits }));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            runs.push(Run::Letters(&text[start..i]));
        } else {
            i += 1;
        }
    }
    runs
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.core.iter().zip(&other.core) {
            match cmp_digits(a, b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        // A pre-release version has lower precedence than the release.
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        for (a, b) in self.pre.iter().zip(&other.pre) {
            let order = match (a, b) {
                (Identifier::Numeric(a), Identifier::Numeric(b)) => cmp_digits(a, b),
                (Identifier::Numeric(_), Identifier::Alphanumeric(_)) => Ordering::Less,
                (Identifier::Alphanumeric(_), Identifier::Numeric(_)) => Ordering::Greater,
                (Identifier::Alphanumeric(a), Identifier::Alphanumeric(b)) => a.cmp(b),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        self.pre.len().cmp(&other.pre.len())
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version split into numeric and alphabetic segments for `ECOSYSTEM`
/// ranges. Equality is equivalence: `1.0` equals `1.0.0` and `1-0`.
#[derive(Debug, Clone)]
pub struct GenericVersion {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Digits without leading zeros (`"0"` for zero).
    Number(String),
    /// ASCII letters, lowercased.
    Word(String),
}

impl GenericVersion {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(VersionError::BadChar(c));
        }
        let segments: Vec<Segment> = alnum_runs(text)
            .into_iter()
            .map(|run| match run {
                Run::Digits(d) => Segment::Number(d.to_string()),
                Run::Letters(w) => Segment::Word(w.to_ascii_lowercase()),
            })
            .collect();
        if segments.is_empty() {
            return Err(VersionError::NoSegments);
        }
        Ok(Self { segments })
    }
}

impl Ord for GenericVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        for i in 0..len {
            let order = match (self.segments.get(i), other.segments.get(i)) {
                (Some(a), Some(b)) => cmp_segments(a, b),
                (Some(a), None) => cmp_with_end(a),
                (None, Some(b)) => cmp_with_end(b).reverse(),
                (None, None) => Ordering::Equal,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

fn cmp_segments(a: &Segment, b: &Segment) -> Ordering {
    match (a, b) {
        (Segment::Number(a), Segment::Number(b)) => cmp_digits(a, b),
        (Segment::Word(a), Segment::Word(b)) => a.cmp(b),
        // `1.0.1` is after `1.0.a`: a number continues a release, a word marks a pre-release.
        (Segment::Number(_), Segment::Word(_)) => Ordering::Greater,
        (Segment::Word(_), Segment::Number(_)) => Ordering::Less,
    }
}

/// Compares a segment with the end of a shorter version: missing numbers are
/// zero (`1.0` = `1.0.0` < `1.0.1`) and a word after the end is a pre-release
/// (`1.0rc1` < `1.0`).
fn cmp_with_end(segment: &Segment) -> Ordering {
    match segment {
        Segment::Number(digits) if digits == "0" => Ordering::Equal,
        Segment::Number(_) => Ordering::Greater,
        Segment::Word(_) => Ordering::Less,
    }
}

impl PartialOrd for GenericVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GenericVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GenericVersion {}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    fn semver(a: &str, b: &str) -> Ordering {
        SemVer::parse(a).unwrap().cmp(&SemVer::parse(b).unwrap())
    }

    fn generic(a: &str, b: &str) -> Ordering {
        GenericVersion::parse(a)
            .unwrap()
            .cmp(&GenericVersion::parse(b).unwrap())
    }

    /// The precedence example chain of semver.org §11, plus numeric edge cases.
    #[test]
    fn semver_precedence_table() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "1.10.0",
            "2.0.0",
            "10.0.0",
            "18446744073709551616.0.0",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(semver(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        for (a, b, order) in [
            ("1.0.0+build.1", "1.0.0+build.2", Equal),
            ("1.0.0-rc.1+x", "1.0.0-rc.1", Equal),
            ("1.0.0-2", "1.0.0-10", Less),
            ("1.0.0-a-b", "1.0.0-a", Greater),
            ("1.0.0-Z", "1.0.0-a", Less),
        ] {
            assert_eq!(semver(a, b), order, "{a} vs {b}");
        }
    }

    #[test]
    fn semver_refusals() {
        use VersionError::*;
        for (text, error) in [
            ("", Empty),
            ("1", SemverShape),
            ("1.2", SemverShape),
            ("1.2.3.4", SemverShape),
            ("v1.2.3", SemverShape),
            ("1.2.x", SemverShape),
            ("01.2.3", LeadingZero("01".into())),
            ("1.2.3-01", LeadingZero("01".into())),
            ("1.2.3-", BadIdentifier("".into())),
            ("1.2.3-a..b", BadIdentifier("".into())),
            ("1.2.3-a_b", BadIdentifier("a_b".into())),
            ("1.2.3+", BadIdentifier("".into())),
        ] {
            assert_eq!(SemVer::parse(text), Err(error), "{text:?}");
        }
        assert!(SemVer::parse_lenient("v1.2.3").is_some());
        assert!(SemVer::parse_lenient("vv1.2.3").is_none());
    }

    #[test]
    fn generic_comparison_table() {
        for (a, b, order) in [
            ("1.0", "1.0.0", Equal),
            ("1.0", "1-0", Equal),
            ("1.0", "1.00", Equal),
            ("1.0", "1.0.1", Less),
            ("1.9", "1.10", Less),
            ("1.0rc1", "1.0", Less),
            ("1.0-alpha", "1.0-beta", Less),
            ("1.0-ALPHA", "1.0-alpha", Equal),
            ("1.0.a", "1.0.1", Less),
            ("1.0.0-alpha.1", "1.0.0-alpha", Greater),
            ("2.0", "10.0", Less),
            ("4.17.20", "4.17.21", Less),
            ("1:2.0", "1:10.0", Less),
            ("2024.01.02", "2024.1.2", Equal),
            ("99999999999999999999999", "100000000000000000000000", Less),
        ] {
            assert_eq!(generic(a, b), order, "{a} vs {b}");
            assert_eq!(generic(b, a), order.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn generic_refusals() {
        assert_eq!(GenericVersion::parse(""), Err(VersionError::Empty));
        assert_eq!(GenericVersion::parse("..."), Err(VersionError::NoSegments));
        assert_eq!(
            GenericVersion::parse("1.0 beta"),
            Err(VersionError::BadChar(' '))
        );
        assert_eq!(
            GenericVersion::parse("1.0é"),
            Err(VersionError::BadChar('é'))
        );
    }
}
