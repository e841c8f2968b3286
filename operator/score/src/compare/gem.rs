//! RubyGems versions, ordered as `Gem::Version#<=>` does: segments are
//! numbers and letter runs; `-` means `.pre.`; a letter segment marks a
//! pre-release (`1.0.a` < `1.0`); trailing zeros of the release part and
//! of the pre-release part are not significant.

use std::cmp::Ordering;

use super::cmp_digits;
use crate::version::{Run, VersionError, alnum_runs};

#[derive(Debug, Clone)]
pub struct Gem(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Digits without leading zeros.
    Number(String),
    Word(String),
}

impl Gem {
    /// Accepts `Gem::Version::ANCHORED_VERSION_PATTERN`:
    /// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`,
    /// surrounded by optional whitespace; blank is `0`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        let text = if text.is_empty() { "0" } else { text };
        let (release, pre) = match text.split_once('-') {
            Some((release, pre)) => (release, Some(pre)),
            None => (text, None),
        };
        let mut parts = release.split('.');
        let first = parts.next().unwrap_or("");
        let valid_release = !first.is_empty()
            && first.bytes().all(|b| b.is_ascii_digit())
            && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        let valid_pre = pre.is_none_or(|pre| {
            pre.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        });
        if !valid_release || !valid_pre {
            return Err(VersionError::Gem);
        }
        let normalized = text.replace('-', ".pre.");
        // Unlike the generic order, letters keep their case: Gem::Version compares them as is.
        let segments = alnum_runs(&normalized)
            .into_iter()
            .map(|run| match run {
                Run::Digits(d) => Segment::Number(d.to_string()),
                Run::Letters(w) => Segment::Word(w.to_string()),
            })
            .collect();
        Ok(Self(canonical(segments)))
    }
}

/// `canonical_segments`: the numeric part before the first word and the
/// rest, each without trailing zeros.
fn canonical(segments: Vec<Segment>) -> Vec<Segment> {
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Word(_)))
        .unwrap_or(segments.len());
    let zero = Segment::Number("0".to_string());
    let mut release = segments[..split].to_vec();
    while release.last() == Some(&zero) {
        release.pop();
    }
    let mut pre = segments[split..].to_vec();
    while pre.last() == Some(&zero) {
        pre.pop();
    }
    release.extend(pre);
    release
}

impl Ord for Gem {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number("0".to_string());
        for i in 0..self.0.len().max(other.0.len()) {
            let a = self.0.get(i).unwrap_or(&zero);
            let b = other.0.get(i).unwrap_or(&zero);
            let order = match (a, b) {
                (Segment::Number(a), Segment::Number(b)) => cmp_digits(a, b),
                (Segment::Word(_), Segment::Number(_)) => Ordering::Less,
                (Segment::Number(_), Segment::Word(_)) => Ordering::Greater,
                (Segment::Word(a), Segment::Word(b)) => a.cmp(b),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Gem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Gem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Gem {}
