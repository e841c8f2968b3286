//! Debian package versions, as `dpkg --compare-versions` orders them
//! (deb-version(7)): `[epoch:]upstream[-revision]`; `~` sorts before
//! everything, even the end of the string, so `1.0~rc1` < `1.0`, and
//! `+deb12u1` after it.

use std::cmp::Ordering;

use super::cmp_digits;
use crate::version::VersionError;

#[derive(Debug, Clone)]
pub struct Dpkg {
    /// Digits without leading zeros (`"0"` when absent).
    epoch: String,
    upstream: String,
    revision: String,
}

impl Dpkg {
    /// Parses like dpkg's `parseversion`: the epoch is the digits before the
    /// first `:`, the revision what follows the last `-`. Like dpkg, only
    /// characters outside `[A-Za-z0-9.+~:-]` and a missing upstream part are
    /// errors; dpkg merely warns about an upstream part not starting with a digit.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | ':' | '-')))
        {
            return Err(VersionError::BadChar(c));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => {
                if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VersionError::Epoch(epoch.to_string()));
                }
                (strip_zeros(epoch), rest)
            }
            None => ("0".to_string(), text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(VersionError::NoUpstream);
        }
        Ok(Self {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

fn strip_zeros(digits: &str) -> String {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }.to_string()
}

/// dpkg's character weight in the non-digit parts: `~` lowest (below the
/// end), then the end, then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate non-digit runs (by [`weight`]) and digit
/// runs (numerically).
pub(crate) fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        let start_a = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let start_b = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let da = std::str::from_utf8(&a[start_a..i]).unwrap_or("");
        let db = std::str::from_utf8(&b[start_b..j]).unwrap_or("");
        let order = cmp_digits(da.trim_start_matches('0'), db.trim_start_matches('0'));
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

impl Ord for Dpkg {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.epoch, &other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for Dpkg {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Dpkg {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dpkg {}
