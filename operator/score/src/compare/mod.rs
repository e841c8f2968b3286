//! Version comparison per ecosystem (score version 2): each OSV ecosystem's
//! own order, as its package tool applies it. The comparator an affected
//! entry uses is decided by its ecosystem (or its purl type), and the ledger
//! records it. docs/scoring.md, "Version comparison (score version 2)",
//! has the table; the tests (`operator/score/tests/versions.rs`) check each
//! against reference pairs from the ecosystems' own tools and test suites.

mod apk;
mod composer;
mod dpkg;
mod gem;
mod maven;
mod nuget;
mod pep440;
mod rpm;

use std::cmp::Ordering;

pub use apk::Apk;
pub use composer::Composer;
pub use dpkg::Dpkg;
pub use gem::Gem;
pub use maven::Maven;
pub use nuget::NuGet;
pub use pep440::Pep440;
pub use rpm::Rpm;

pub(crate) use crate::version::cmp_digits;
use crate::version::{GenericVersion, SemVer, VersionError};

/// Which order an affected entry's versions are compared in. The
/// declaration order is the preference when several ranges or entries of
/// one advisory contain a version: the most specific rule first, the
/// generic order last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Comparator {
    Dpkg,
    Rpm,
    Apk,
    Pep440,
    Maven,
    RubyGems,
    NuGet,
    Composer,
    /// Dot- or dash-separated numbers, a shorter prefix first: CRAN, Hackage.
    Numeric,
    /// SemVer 2.0.0 precedence, with one leading `v` and missing minor and
    /// patch (zero) allowed: npm, crates.io, Go (pseudo-versions are
    /// pre-releases, `+incompatible` is build metadata), Hex, Pub, SwiftURL,
    /// Bitnami, and every `SEMVER` range.
    Semver,
    /// The generic segment order of score version 1, for ecosystems without
    /// a rule of their own.
    Generic,
}

impl Comparator {
    /// The name the ledger's `match` nodes record.
    pub fn name(self) -> &'static str {
        match self {
            Comparator::Semver => "semver",
            Comparator::Dpkg => "dpkg",
            Comparator::Rpm => "rpm",
            Comparator::Apk => "apk",
            Comparator::Pep440 => "pep440",
            Comparator::Maven => "maven",
            Comparator::RubyGems => "rubygems",
            Comparator::NuGet => "nuget",
            Comparator::Composer => "composer",
            Comparator::Numeric => "numeric",
            Comparator::Generic => "generic",
        }
    }

    /// The comparator of a purl type, for affected entries named by purl.
    pub fn of_purl_type(ty: &str) -> Self {
        match ty {
            "npm" | "golang" | "cargo" | "hex" | "pub" | "swift" | "bitnami" => Comparator::Semver,
            "deb" => Comparator::Dpkg,
            "rpm" => Comparator::Rpm,
            "apk" => Comparator::Apk,
            "pypi" => Comparator::Pep440,
            "maven" => Comparator::Maven,
            "gem" => Comparator::RubyGems,
            "nuget" => Comparator::NuGet,
            "composer" => Comparator::Composer,
            "cran" | "hackage" => Comparator::Numeric,
            _ => Comparator::Generic,
        }
    }

    /// Reads `text` as a version of this order.
    pub fn parse(self, text: &str) -> Result<Key, VersionError> {
        Ok(match self {
            Comparator::Semver => Key::Semver(SemVer::parse_loose(text)?),
            Comparator::Dpkg => Key::Dpkg(Dpkg::parse(text)?),
            Comparator::Rpm => Key::Rpm(Rpm::parse(text)?),
            Comparator::Apk => Key::Apk(Apk::parse(text)?),
            Comparator::Pep440 => Key::Pep440(Pep440::parse(text)?),
            Comparator::Maven => Key::Maven(Maven::parse(text)?),
            Comparator::RubyGems => Key::Gem(Gem::parse(text)?),
            Comparator::NuGet => Key::NuGet(NuGet::parse(text)?),
            Comparator::Composer => Key::Composer(Composer::parse(text)?),
            Comparator::Numeric => Key::Numeric(numeric(text)?),
            Comparator::Generic => Key::Generic(GenericVersion::parse(text)?),
        })
    }

    /// Compares two version strings in this order (`None` if either is not
    /// a version of it). For tests and tools; matching parses once.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        Some(self.parse(a).ok()?.cmp(&self.parse(b).ok()?))
    }
}

/// A version parsed by one [`Comparator`]. Keys of the same comparator are
/// totally ordered; keys of different comparators are never compared by the
/// engine (they order by comparator, to keep `Ord` total).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Semver(SemVer),
    Dpkg(Dpkg),
    Rpm(Rpm),
    Apk(Apk),
    Pep440(Pep440),
    Maven(Maven),
    Gem(Gem),
    NuGet(NuGet),
    Composer(Composer),
    Numeric(Vec<String>),
    Generic(GenericVersion),
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Semver(_) => 0,
            Key::Dpkg(_) => 1,
            Key::Rpm(_) => 2,
            Key::Apk(_) => 3,
            Key::Pep440(_) => 4,
            Key::Maven(_) => 5,
            Key::Gem(_) => 6,
            Key::NuGet(_) => 7,
            Key::Composer(_) => 8,
            Key::Numeric(_) => 9,
            Key::Generic(_) => 10,
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Semver(a), Key::Semver(b)) => a.cmp(b),
            (Key::Dpkg(a), Key::Dpkg(b)) => a.cmp(b),
            (Key::Rpm(a), Key::Rpm(b)) => a.cmp(b),
            (Key::Apk(a), Key::Apk(b)) => a.cmp(b),
            (Key::Pep440(a), Key::Pep440(b)) => a.cmp(b),
            (Key::Maven(a), Key::Maven(b)) => a.cmp(b),
            (Key::Gem(a), Key::Gem(b)) => a.cmp(b),
            (Key::NuGet(a), Key::NuGet(b)) => a.cmp(b),
            (Key::Composer(a), Key::Composer(b)) => a.cmp(b),
            (Key::Numeric(a), Key::Numeric(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let order = cmp_digits(x, y);
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Key::Generic(a), Key::Generic(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// CRAN and Hackage versions: numbers separated by `.` (CRAN also `-`).
fn numeric(text: &str) -> Result<Vec<String>, VersionError> {
    if text.is_empty() {
        return Err(VersionError::Empty);
    }
    text.split(['.', '-'])
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                Err(VersionError::NotNumeric(part.to_string()))
            } else {
                let trimmed = part.trim_start_matches('0');
                Ok(if trimmed.is_empty() { "0" } else { trimmed }.to_string())
            }
        })
        .collect()
}
