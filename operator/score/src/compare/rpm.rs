//! RPM versions, as rpm's `rpmvercmp` orders them (rpm 4.15+, with `~` and
//! `^`), over `[epoch:]version[-release]`: Red Hat, AlmaLinux, Rocky Linux,
//! openSUSE, SUSE, Photon OS, Mageia, openEuler.

use std::cmp::Ordering;

use super::cmp_digits;
use crate::version::VersionError;

#[derive(Debug, Clone)]
pub struct Rpm {
    epoch: String,
    version: String,
    release: String,
}

impl Rpm {
    /// Splits `[epoch:]version[-release]` (the release after the last `-`),
    /// as OSV's RPM-based ecosystems write their versions.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(VersionError::BadChar(c));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest))
                if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let trimmed = epoch.trim_start_matches('0');
                (
                    if trimmed.is_empty() { "0" } else { trimmed }.to_string(),
                    rest,
                )
            }
            Some((epoch, _)) => return Err(VersionError::Epoch(epoch.to_string())),
            None => ("0".to_string(), text),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
        if version.is_empty() {
            return Err(VersionError::NoUpstream);
        }
        Ok(Self {
            epoch,
            version: version.to_string(),
            release: release.to_string(),
        })
    }
}

/// `rpmvercmp` from rpm's `rpmio/rpmvercmp.c`, step for step.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        // `~` sorts before everything, even the end.
        let (ta, tb) = (a.get(i) == Some(&b'~'), b.get(j) == Some(&b'~'));
        if ta || tb {
            if !ta {
                return Ordering::Greater;
            }
            if !tb {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // `^` sorts after the end but before everything else.
        let (ca, cb) = (a.get(i) == Some(&b'^'), b.get(j) == Some(&b'^'));
        if ca || cb {
            if i == a.len() {
                return Ordering::Less;
            }
            if j == b.len() {
                return Ordering::Greater;
            }
            if !ca {
                return Ordering::Greater;
            }
            if !cb {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if i == a.len() || j == b.len() {
            break;
        }
        let (start_a, start_b) = (i, j);
        let numeric = a[i].is_ascii_digit();
        let class = |c: u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        while i < a.len() && class(a[i]) {
            i += 1;
        }
        while j < b.len() && class(b[j]) {
            j += 1;
        }
        if j == start_b {
            // Segments of different types: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let sa = std::str::from_utf8(&a[start_a..i]).unwrap_or("");
        let sb = std::str::from_utf8(&b[start_b..j]).unwrap_or("");
        let order = if numeric {
            cmp_digits(sa.trim_start_matches('0'), sb.trim_start_matches('0'))
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    match (i == a.len(), j == b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

impl Ord for Rpm {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.epoch, &other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

impl PartialOrd for Rpm {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Rpm {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Rpm {}
