//! Packagist versions, as OSV compares them: a leading `v` removed, then
//! PHP's `version_compare` (which canonicalises `-`, `_`, `+` and other punctuation to `.` and
//! puts a `.` between digits and other characters). Special forms order
//! `dev` < `alpha` = `a` < `beta` = `b` < `RC` = `rc` < numbers < `pl` = `p`;
//! other words sort before all of them.

use std::cmp::Ordering;

use super::cmp_digits;
use crate::version::VersionError;

#[derive(Debug, Clone)]
pub struct Composer(Vec<String>);

impl Composer {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(VersionError::BadChar(c));
        }
        // php_canonicalize_version, then strtok on '.' (empty parts vanish).
        let mut canonical = String::with_capacity(text.len() * 2);
        let mut previous: Option<char> = None;
        for c in text.chars() {
            let c = if c.is_ascii_alphanumeric() { c } else { '.' };
            if let Some(p) = previous {
                let boundary = (p.is_ascii_digit() && c != '.' && !c.is_ascii_digit())
                    || (!p.is_ascii_digit() && p != '.' && c.is_ascii_digit());
                if boundary {
                    canonical.push('.');
                }
            }
            canonical.push(c);
            previous = Some(c);
        }
        let parts: Vec<String> = canonical
            .split('.')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        if parts.is_empty() {
            return Err(VersionError::NoSegments);
        }
        Ok(Self(parts))
    }
}

/// `compare_special_version_forms`: the rank of a word by the first special
/// form it starts with (PHP's `strncmp(form, word, strlen(form))`).
fn special(word: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(form, _)| word.starts_with(form))
        .map_or(-6, |&(_, rank)| rank)
}

fn is_number(part: &str) -> bool {
    part.bytes().all(|b| b.is_ascii_digit())
}

fn compare_parts(a: &str, b: &str) -> Ordering {
    match (is_number(a), is_number(b)) {
        (true, true) => cmp_digits(a.trim_start_matches('0'), b.trim_start_matches('0')),
        (false, false) => special(a).cmp(&special(b)),
        (true, false) => special("#").cmp(&special(b)),
        (false, true) => special(a).cmp(&special("#")),
    }
}

impl Ord for Composer {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.0.iter().zip(&other.0) {
            let order = compare_parts(a, b);
            if order != Ordering::Equal {
                return order;
            }
        }
        // One ran out: a remaining number makes it greater, a remaining word
        // is compared with a number (`1.0` < `1.0.0`, `1.0rc1` < `1.0`).
        match self.0.len().cmp(&other.0.len()) {
            Ordering::Equal => Ordering::Equal,
            Ordering::Greater => {
                let rest = &self.0[other.0.len()];
                if is_number(rest) {
                    Ordering::Greater
                } else {
                    compare_parts(rest, "#")
                }
            }
            Ordering::Less => {
                let rest = &other.0[self.0.len()];
                if is_number(rest) {
                    Ordering::Less
                } else {
                    compare_parts("#", rest)
                }
            }
        }
    }
}

impl PartialOrd for Composer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Composer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Composer {}
