//! NuGet versions (NuGet.Versioning): `Major[.Minor[.Patch[.Revision]]]`
//! with optional `-` pre-release labels and `+` metadata; missing parts are
//! zero (`1.0` = `1.0.0.0`), leading zeros are allowed, labels compare
//! case-insensitively, metadata is ignored.

use std::cmp::Ordering;

use super::cmp_digits;
use crate::version::VersionError;

#[derive(Debug, Clone)]
pub struct NuGet {
    parts: [String; 4],
    labels: Vec<String>,
}

impl NuGet {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let rest = text.split_once('+').map_or(text, |(rest, _metadata)| rest);
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.len() > 4
            || numbers
                .iter()
                .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(VersionError::NuGet);
        }
        let mut parts: [String; 4] = Default::default();
        for (slot, n) in parts
            .iter_mut()
            .zip(numbers.iter().copied().chain(std::iter::repeat("0")))
        {
            let trimmed = n.trim_start_matches('0');
            *slot = if trimmed.is_empty() { "0" } else { trimmed }.to_string();
        }
        let labels = match pre {
            None => Vec::new(),
            Some(pre) => {
                let labels: Vec<String> = pre.split('.').map(str::to_ascii_lowercase).collect();
                if labels.iter().any(|l| {
                    l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }) {
                    return Err(VersionError::NuGet);
                }
                labels
            }
        };
        Ok(Self { parts, labels })
    }
}

fn is_number(label: &str) -> bool {
    label.bytes().all(|b| b.is_ascii_digit())
}

impl Ord for NuGet {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.parts.iter().zip(&other.parts) {
            let order = cmp_digits(a, b);
            if order != Ordering::Equal {
                return order;
            }
        }
        match (self.labels.is_empty(), other.labels.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        for (a, b) in self.labels.iter().zip(&other.labels) {
            let order = match (is_number(a), is_number(b)) {
                (true, true) => cmp_digits(a.trim_start_matches('0'), b.trim_start_matches('0')),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => a.cmp(b),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        self.labels.len().cmp(&other.labels.len())
    }
}

impl PartialOrd for NuGet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGet {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGet {}
