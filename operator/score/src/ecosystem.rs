//! OSV ecosystem names: which package URL type (and namespace) an advisory's
//! `{ecosystem, name}` package is, which version comparison its `ECOSYSTEM`
//! ranges use, and the distribution release it is limited to, if any
//! (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04:LTS`, ...). The table is in
//! docs/scoring.md, "Ecosystems" (score version 2).

use crate::compare::Comparator;
use crate::purl::{PackageKey, PurlError};

/// What an ecosystem name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecosystem {
    /// Package URL type.
    pub ty: &'static str,
    /// The namespace segment a distribution ecosystem puts before the name
    /// (`pkg:deb/debian/openssl`), if any.
    pub distro: Option<&'static str>,
    pub comparator: Comparator,
    /// The release the advisory is limited to, as a dotted version
    /// (`Debian:12` → `12`, `Alpine:v3.19` → `3.19`), when the name gives one.
    pub release: Option<String>,
    /// Whether score version 1 knew this ecosystem (the others were refused).
    pub in_v1: bool,
}

/// The ecosystems score version 1 knew, with their purl types.
const LANGUAGE: [(&str, &str, Comparator); 12] = [
    ("npm", "npm", Comparator::Semver),
    ("PyPI", "pypi", Comparator::Pep440),
    ("crates.io", "cargo", Comparator::Semver),
    ("Go", "golang", Comparator::Semver),
    ("Maven", "maven", Comparator::Maven),
    ("NuGet", "nuget", Comparator::NuGet),
    ("RubyGems", "gem", Comparator::RubyGems),
    ("Packagist", "composer", Comparator::Composer),
    ("Hex", "hex", Comparator::Semver),
    ("Pub", "pub", Comparator::Semver),
    ("Hackage", "hackage", Comparator::Numeric),
    ("CRAN", "cran", Comparator::Numeric),
];

/// Distribution ecosystems: the name before the first `:`, purl type,
/// namespace and comparator.
const DISTRIBUTIONS: [(&str, &str, &str, Comparator); 13] = [
    ("Debian", "deb", "debian", Comparator::Dpkg),
    ("Ubuntu", "deb", "ubuntu", Comparator::Dpkg),
    ("Alpine", "apk", "alpine", Comparator::Apk),
    ("Wolfi", "apk", "wolfi", Comparator::Apk),
    ("Chainguard", "apk", "chainguard", Comparator::Apk),
    ("Red Hat", "rpm", "redhat", Comparator::Rpm),
    ("Rocky Linux", "rpm", "rocky", Comparator::Rpm),
    ("AlmaLinux", "rpm", "almalinux", Comparator::Rpm),
    ("openSUSE", "rpm", "opensuse", Comparator::Rpm),
    ("SUSE", "rpm", "suse", Comparator::Rpm),
    ("Photon OS", "rpm", "photon", Comparator::Rpm),
    ("Mageia", "rpm", "mageia", Comparator::Rpm),
    ("openEuler", "rpm", "openeuler", Comparator::Rpm),
];

/// Other language ecosystems score version 2 adds.
const MORE: [(&str, &str, Comparator); 2] = [
    ("SwiftURL", "swift", Comparator::Semver),
    ("Bitnami", "bitnami", Comparator::Semver),
];

impl Ecosystem {
    /// Reads an OSV ecosystem name; `None` for ecosystems without a package
    /// URL mapping (`OSS-Fuzz`, `Linux`, `GIT`, `Android`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(&(_, ty, comparator)) = LANGUAGE.iter().find(|(n, _, _)| *n == name) {
            return Some(Self {
                ty,
                distro: None,
                comparator,
                release: None,
                in_v1: true,
            });
        }
        if let Some(&(_, ty, comparator)) = MORE.iter().find(|(n, _, _)| *n == name) {
            return Some(Self {
                ty,
                distro: None,
                comparator,
                release: None,
                in_v1: false,
            });
        }
        let (base, rest) = match name.split_once(':') {
            Some((base, rest)) => (base, Some(rest)),
            None => (name, None),
        };
        let &(_, ty, distro, comparator) = DISTRIBUTIONS.iter().find(|d| d.0 == base)?;
        Some(Self {
            ty,
            distro: Some(distro),
            comparator,
            release: rest.and_then(release_of),
            in_v1: false,
        })
    }

    /// The package key of `name` in this ecosystem.
    pub fn package(&self, name: &str) -> Result<PackageKey, PurlError> {
        if let Some(distro) = self.distro {
            if name.is_empty() {
                return Err(PurlError::MissingName);
            }
            return Ok(PackageKey::new(self.ty, vec![distro.to_string()], name));
        }
        PackageKey::from_type(self.ty, name)
    }
}

/// The dotted release number in the part of an ecosystem name after the
/// distribution: `12`, `v3.19`, `22.04:LTS`, `Pro:18.04:LTS`,
/// `enterprise_linux:9::appstream`, `Leap 15.5`, `5.0`. Names without a
/// number (`Ubuntu:Pro:FIPS`, `openSUSE:Tumbleweed`) limit nothing.
fn release_of(rest: &str) -> Option<String> {
    // `Leap 15.5`, `Linux Enterprise Server 15 SP5`: the first word that is a number.
    rest.split([':', ' '])
        .map(|word| word.strip_prefix('v').unwrap_or(word))
        .find(|word| is_dotted_number(word))
        .map(str::to_string)
}

fn is_dotted_number(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Codenames that SBOM tools write in the `distro` qualifier instead of the number.
const CODENAMES: [(&str, &str); 16] = [
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("trusty", "14.04"),
    ("xenial", "16.04"),
    ("bionic", "18.04"),
    ("focal", "20.04"),
    ("jammy", "22.04"),
    ("lunar", "23.04"),
    ("mantic", "23.10"),
    ("noble", "24.04"),
    ("oracular", "24.10"),
    ("plucky", "25.04"),
];

/// The release number of a purl's `distro` qualifier: `debian-12`,
/// `debian-12.5`, `alpine-3.19.1`, `ubuntu-22.04`, `rhel-9.3`, `el9`,
/// `bookworm`, `12`. `None` when it names no release this crate can read.
pub fn distro_release(distro: &str) -> Option<String> {
    let lower = distro.to_ascii_lowercase();
    let tail = lower.rsplit(['-', ' ', '/']).next().unwrap_or(&lower);
    if let Some(&(_, number)) = CODENAMES.iter().find(|(name, _)| *name == tail) {
        return Some(number.to_string());
    }
    let digits = tail.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    is_dotted_number(digits).then(|| digits.to_string())
}

/// Whether a component of release `component` (from its `distro` qualifier)
/// is in an advisory release: equal, or a point release of it (`12.5` is in
/// `12`, `3.19.1` in `3.19`).
pub fn release_covers(advisory: &str, component: &str) -> bool {
    component == advisory
        || component
            .strip_prefix(advisory)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_names_with_releases() {
        for (name, ty, distro, comparator, release) in [
            (
                "Debian:12",
                "deb",
                Some("debian"),
                Comparator::Dpkg,
                Some("12"),
            ),
            ("Debian", "deb", Some("debian"), Comparator::Dpkg, None),
            (
                "Alpine:v3.19",
                "apk",
                Some("alpine"),
                Comparator::Apk,
                Some("3.19"),
            ),
            (
                "Ubuntu:22.04:LTS",
                "deb",
                Some("ubuntu"),
                Comparator::Dpkg,
                Some("22.04"),
            ),
            (
                "Ubuntu:Pro:18.04:LTS",
                "deb",
                Some("ubuntu"),
                Comparator::Dpkg,
                Some("18.04"),
            ),
            (
                "Red Hat:enterprise_linux:9::appstream",
                "rpm",
                Some("redhat"),
                Comparator::Rpm,
                Some("9"),
            ),
            (
                "Rocky Linux:9",
                "rpm",
                Some("rocky"),
                Comparator::Rpm,
                Some("9"),
            ),
            (
                "AlmaLinux:8",
                "rpm",
                Some("almalinux"),
                Comparator::Rpm,
                Some("8"),
            ),
            (
                "openSUSE:Leap 15.5",
                "rpm",
                Some("opensuse"),
                Comparator::Rpm,
                Some("15.5"),
            ),
            (
                "openSUSE:Tumbleweed",
                "rpm",
                Some("opensuse"),
                Comparator::Rpm,
                None,
            ),
            (
                "Photon OS:5.0",
                "rpm",
                Some("photon"),
                Comparator::Rpm,
                Some("5.0"),
            ),
            (
                "Mageia:9",
                "rpm",
                Some("mageia"),
                Comparator::Rpm,
                Some("9"),
            ),
            ("Wolfi", "apk", Some("wolfi"), Comparator::Apk, None),
            (
                "Chainguard",
                "apk",
                Some("chainguard"),
                Comparator::Apk,
                None,
            ),
            ("Go", "golang", None, Comparator::Semver, None),
            ("PyPI", "pypi", None, Comparator::Pep440, None),
        ] {
            let e = Ecosystem::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(e.ty, ty, "{name}");
            assert_eq!(e.distro, distro, "{name}");
            assert_eq!(e.comparator, comparator, "{name}");
            assert_eq!(e.release.as_deref(), release, "{name}");
        }
        for unknown in ["OSS-Fuzz", "Linux", "GIT", "debian:12", "Debian12", ""] {
            assert_eq!(Ecosystem::parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn distro_qualifiers() {
        for (text, release) in [
            ("debian-12", Some("12")),
            ("debian-12.5", Some("12.5")),
            ("alpine-3.19.1", Some("3.19.1")),
            ("ubuntu-22.04", Some("22.04")),
            ("rhel-9.3", Some("9.3")),
            ("el9", Some("9")),
            ("bookworm", Some("12")),
            ("ubuntu-jammy", Some("22.04")),
            ("12", Some("12")),
            ("sid", None),
            ("debian-", None),
        ] {
            assert_eq!(distro_release(text).as_deref(), release, "{text}");
        }
        assert!(release_covers("12", "12"));
        assert!(release_covers("12", "12.5"));
        assert!(release_covers("3.19", "3.19.1"));
        assert!(!release_covers("3.1", "3.19"));
        assert!(!release_covers("12", "11"));
        assert!(!release_covers("22.04", "22"));
    }
}
