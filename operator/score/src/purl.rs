//! Package URLs (purl): parsing, the per-type normalisation that makes two
//! spellings of one package equal, and the canonical text the ledger records.
//!
//! Qualifiers and subpath are parsed past but ignored: matching is by type,
//! namespace, name and version only (see docs/scoring.md, "Package URLs").

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurlError {
    #[error("does not start with \"pkg:\"")]
    Scheme,
    #[error("has no type")]
    MissingType,
    #[error(
        "type {0:?} is invalid (ASCII letters, digits, '.', '+' and '-', not starting with a digit)"
    )]
    BadType(String),
    #[error("has no name")]
    MissingName,
    #[error("has an empty version after '@'")]
    EmptyVersion,
    #[error("has an invalid percent-encoding at byte {0}")]
    BadEscape(usize),
    #[error("is not UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("contains a space or control character at byte {0} (percent-encode it)")]
    BadChar(usize),
    #[error("namespace segment {0:?} contains '/' once decoded")]
    SlashInNamespace(String),
    #[error("must name a package without a version here")]
    UnexpectedVersion,
    #[error("Maven package name {0:?} is not \"group:artifact\"")]
    BadMavenName(String),
    #[error("ecosystem {0:?} has no package URL type mapping (give \"purl\" instead)")]
    UnknownEcosystem(String),
}

/// A package independent of its version: what advisories are indexed by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageKey {
    ty: String,
    namespace: Vec<String>,
    name: String,
}

/// A parsed package URL, normalised. The subpath and the qualifiers are
/// dropped, but for those of distribution packages that score version 2
/// matches with: `distro` (the release, e.g. `debian-12`), `upstream` (the
/// source package a binary package was built from) and `epoch` (rpm).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Purl {
    pub package: PackageKey,
    pub version: Option<String>,
    /// The `distro` qualifier, percent-decoded.
    pub distro: Option<String>,
    /// The `upstream` qualifier (SBOM tools write the source package there:
    /// `openssl`, `glibc@2.36-9+deb12u4`, `openssl-3.0.7-24.el9.src.rpm`).
    pub upstream: Option<String>,
    /// The `epoch` qualifier of rpm purls.
    pub epoch: Option<String>,
}

/// Types whose namespace and name are case-insensitive: the purl
/// specification lowercases them.
const LOWERCASED_TYPES: [&str; 6] = ["bitbucket", "composer", "github", "hex", "npm", "pypi"];

impl PackageKey {
    /// Builds a key, applying the normalisation of the purl specification for `ty`.
    pub fn new(ty: &str, namespace: Vec<String>, name: &str) -> Self {
        let ty = ty.to_ascii_lowercase();
        let (namespace, mut name) = if LOWERCASED_TYPES.contains(&ty.as_str()) {
            (
                namespace.iter().map(|s| s.to_lowercase()).collect(),
                name.to_lowercase(),
            )
        } else {
            (namespace, name.to_string())
        };
        if ty == "pypi" {
            name = name.replace('_', "-");
        }
        Self {
            ty,
            namespace,
            name,
        }
    }

    /// The key of an OSV `{ecosystem, name}` package (see docs/scoring.md for the table).
    pub fn from_ecosystem(ecosystem: &str, name: &str) -> Result<Self, PurlError> {
        match crate::ecosystem::Ecosystem::parse(ecosystem) {
            Some(e) => e.package(name),
            None => Err(PurlError::UnknownEcosystem(ecosystem.to_string())),
        }
    }

    /// The key of package `name` of purl type `ty`, the name split as OSV
    /// writes it: Maven's `group:artifact`, a namespace before the last `/`.
    pub fn from_type(ty: &str, name: &str) -> Result<Self, PurlError> {
        let (namespace, base) = if ty == "maven" {
            match name.split_once(':') {
                Some((group, artifact))
                    if !group.is_empty() && !artifact.is_empty() && !artifact.contains(':') =>
                {
                    (vec![group.to_string()], artifact)
                }
                _ => return Err(PurlError::BadMavenName(name.to_string())),
            }
        } else {
            match name.rsplit_once('/') {
                Some((namespace, base)) => (
                    namespace
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    base,
                ),
                None => (Vec::new(), name),
            }
        };
        if base.is_empty() {
            return Err(PurlError::MissingName);
        }
        Ok(Self::new(ty, namespace, base))
    }

    pub fn ty(&self) -> &str {
        &self.ty
    }

    pub fn namespace(&self) -> &[String] {
        &self.namespace
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for PackageKey {
    /// `pkg:<type>/<namespace segments>/<name>`, each segment percent-encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        for segment in &self.namespace {
            write!(f, "{}/", Encoded(segment))?;
        }
        write!(f, "{}", Encoded(&self.name))
    }
}

impl Purl {
    /// Parses a package URL (the algorithm is in docs/scoring.md, "Package URLs").
    pub fn parse(text: &str) -> Result<Self, PurlError> {
        if let Some(at) = text.bytes().position(|b| b <= b' ' || b == 0x7f) {
            return Err(PurlError::BadChar(at));
        }
        let scheme_ok = text
            .as_bytes()
            .get(..4)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"pkg:"));
        if !scheme_ok {
            return Err(PurlError::Scheme);
        }
        let offset = 4;
        let rest = &text[offset..];
        let rest = rest.split_once('#').map_or(rest, |(r, _subpath)| r);
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, qualifiers)) => (r, Some(qualifiers)),
            None => (rest, None),
        };
        let distro = qualifiers.and_then(|q| qualifier(q, "distro"));
        let upstream = qualifiers.and_then(|q| qualifier(q, "upstream"));
        let epoch = qualifiers.and_then(|q| qualifier(q, "epoch"));
        let rest = rest.trim_start_matches('/');
        let start = text.len() - text[offset..].trim_start_matches('/').len();

        let (ty, path) = rest.split_once('/').ok_or(if rest.is_empty() {
            PurlError::MissingType
        } else {
            PurlError::MissingName
        })?;
        if ty.is_empty() {
            return Err(PurlError::MissingType);
        }
        let type_ok = ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
            && !ty.as_bytes()[0].is_ascii_digit();
        if !type_ok {
            return Err(PurlError::BadType(ty.to_string()));
        }
        let path_start = start + ty.len() + 1;

        // The version starts at the last '@' after the last '/': a scope such
        // as npm's `@babel` is part of the namespace even when not encoded.
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (path, version) = match path[last_slash..].rfind('@') {
            Some(i) => {
                let at = last_slash + i;
                let version = &path[at + 1..];
                if version.is_empty() {
                    return Err(PurlError::EmptyVersion);
                }
                let decoded = decode(version, path_start + at + 1)?;
                (&path[..at], Some(decoded))
            }
            None => (path, None),
        };

        let mut segments = Vec::new();
        let mut position = path_start;
        for raw in path.split('/') {
            if !raw.is_empty() {
                segments.push(decode(raw, position)?);
            }
            position += raw.len() + 1;
        }
        let name = segments.pop().ok_or(PurlError::MissingName)?;
        if name.is_empty() {
            return Err(PurlError::MissingName);
        }
        if let Some(bad) = segments.iter().find(|s| s.contains('/')) {
            return Err(PurlError::SlashInNamespace(bad.clone()));
        }
        Ok(Self {
            package: PackageKey::new(ty, segments, &name),
            version,
            distro,
            upstream,
            epoch,
        })
    }

    /// The version to compare: the purl's, with the `epoch` qualifier of an
    /// rpm purl put before it (`epoch=1` and `3.0.7-24.el9` is `1:3.0.7-24.el9`).
    pub fn comparable_version(&self) -> Option<String> {
        let version = self.version.as_deref()?;
        Some(match &self.epoch {
            Some(epoch) if self.package.ty == "rpm" && !version.contains(':') => {
                format!("{epoch}:{version}")
            }
            _ => version.to_string(),
        })
    }

    /// The source package of a `deb`, `rpm` or `apk` binary package, from
    /// its `upstream` qualifier, with the version to compare it at: the
    /// source version when the qualifier gives one (`glibc@2.36-9+deb12u4`,
    /// `openssl-3.0.7-24.el9.src.rpm`), else the binary's. `None` when there
    /// is no such qualifier or it names the package itself.
    pub fn source(&self) -> Option<(PackageKey, String)> {
        let upstream = self.upstream.as_deref()?;
        let binary = self.comparable_version()?;
        let (name, version) = match self.package.ty.as_str() {
            "deb" | "apk" => match upstream.split_once('@') {
                Some((name, version)) if !version.is_empty() => (name, version.to_string()),
                _ => (upstream, binary),
            },
            "rpm" => {
                let stem = upstream
                    .strip_suffix(".src.rpm")
                    .or_else(|| upstream.strip_suffix(".nosrc.rpm"));
                match stem.and_then(|s| {
                    let (rest, release) = s.rsplit_once('-')?;
                    let (name, version) = rest.rsplit_once('-')?;
                    Some((name, format!("{version}-{release}")))
                }) {
                    Some((name, version)) => {
                        let version = match &self.epoch {
                            Some(epoch) => format!("{epoch}:{version}"),
                            None => version,
                        };
                        (name, version)
                    }
                    None => (upstream, binary),
                }
            }
            _ => return None,
        };
        if name.is_empty() || name == self.package.name {
            return None;
        }
        let key = PackageKey::new(&self.package.ty, self.package.namespace.clone(), name);
        Some((key, version))
    }

    /// Parses a purl that must not carry a version (an advisory's package).
    pub fn parse_package(text: &str) -> Result<PackageKey, PurlError> {
        let purl = Self::parse(text)?;
        if purl.version.is_some() {
            return Err(PurlError::UnexpectedVersion);
        }
        Ok(purl.package)
    }
}

impl fmt::Display for Purl {
    /// The canonical form: `pkg:<type>/<namespace>/<name>[@<version>]`, every
    /// segment and the version percent-encoded except for `A-Z a-z 0-9 - . _ ~`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.package)?;
        if let Some(version) = &self.version {
            write!(f, "@{}", Encoded(version))?;
        }
        Ok(())
    }
}

/// The value of qualifier `name` (keys are case-insensitive). A value that
/// does not decode is absent (qualifiers never made a purl invalid, and
/// must not now).
fn qualifier(qualifiers: &str, name: &str) -> Option<String> {
    qualifiers.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.eq_ignore_ascii_case(name) && !value.is_empty() {
            decode(value, 0).ok()
        } else {
            None
        }
    })
}

/// Percent-decodes `raw`; `offset` is its byte position in the purl, for errors.
fn decode(raw: &str, offset: usize) -> Result<String, PurlError> {
    if !raw.contains('%') {
        return Ok(raw.to_string());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or(PurlError::BadEscape(offset + i))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| PurlError::BadEscape(offset + i))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PurlError::NotUtf8)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, uppercase hex.
struct Encoded<'a>(&'a str);

impl fmt::Display for Encoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Purl::parse(text).unwrap().to_string()
    }

    #[test]
    fn canonical_forms() {
        for (input, expected) in [
            ("pkg:npm/lodash@4.17.20", "pkg:npm/lodash@4.17.20"),
            ("PKG:NPM/Lodash@4.17.20", "pkg:npm/lodash@4.17.20"),
            ("pkg://npm/lodash@4.17.20", "pkg:npm/lodash@4.17.20"),
            ("pkg:npm/@babel/core@7.0.0", "pkg:npm/%40babel/core@7.0.0"),
            ("pkg:npm/%40babel/core@7.0.0", "pkg:npm/%40babel/core@7.0.0"),
            ("pkg:npm/@babel/core", "pkg:npm/%40babel/core"),
            (
                "pkg:golang/github.com/gorilla/mux@v1.8.0?type=module#sub/dir",
                "pkg:golang/github.com/gorilla/mux@v1.8.0",
            ),
            ("pkg:pypi/Django_Rest@3.0", "pkg:pypi/django-rest@3.0"),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ),
            (
                "pkg:deb/debian/curl@7.50.3-1%2Bdeb9",
                "pkg:deb/debian/curl@7.50.3-1%2Bdeb9",
            ),
            (
                "pkg:deb/debian/curl@7.50.3-1+deb9",
                "pkg:deb/debian/curl@7.50.3-1%2Bdeb9",
            ),
            ("pkg:generic//a//b", "pkg:generic/a/b"),
            ("pkg:generic/caf%C3%A9@1", "pkg:generic/caf%C3%A9@1"),
            (
                "pkg:docker/library/nginx@sha256:abc",
                "pkg:docker/library/nginx@sha256%3Aabc",
            ),
        ] {
            assert_eq!(canonical(input), expected, "{input}");
        }
    }

    #[test]
    fn parts_are_decoded() {
        let purl = Purl::parse("pkg:npm/%40scope/na%6De@1.0.0%2Bbuild").unwrap();
        assert_eq!(purl.package.ty(), "npm");
        assert_eq!(purl.package.namespace(), ["@scope"]);
        assert_eq!(purl.package.name(), "name");
        assert_eq!(purl.version.as_deref(), Some("1.0.0+build"));
    }

    #[test]
    fn refusals() {
        for (input, error) in [
            ("npm/lodash", PurlError::Scheme),
            ("pkg:", PurlError::MissingType),
            ("pkg:/lodash", PurlError::MissingName),
            ("pkg:npm", PurlError::MissingName),
            ("pkg:npm/", PurlError::MissingName),
            ("pkg:npm/@1.0", PurlError::MissingName),
            ("pkg:1npm/x", PurlError::BadType("1npm".into())),
            ("pkg:n_pm/x", PurlError::BadType("n_pm".into())),
            ("pkg:npm/lodash@", PurlError::EmptyVersion),
            ("pkg:npm/lo%2", PurlError::BadEscape(10)),
            ("pkg:npm/lo%zz", PurlError::BadEscape(10)),
            ("pkg:npm/lo%FF", PurlError::NotUtf8),
            ("pkg:npm/lo dash", PurlError::BadChar(10)),
            ("pkg:npm/a%2Fb/c", PurlError::SlashInNamespace("a/b".into())),
        ] {
            assert_eq!(Purl::parse(input), Err(error), "{input}");
        }
        assert_eq!(
            Purl::parse_package("pkg:npm/lodash@1"),
            Err(PurlError::UnexpectedVersion)
        );
    }

    #[test]
    fn distro_qualifier_is_kept() {
        let purl =
            Purl::parse("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12")
                .unwrap();
        assert_eq!(purl.distro.as_deref(), Some("debian-12"));
        assert_eq!(purl.to_string(), "pkg:deb/debian/openssl@3.0.11-1~deb12u2");
        let purl = Purl::parse("pkg:apk/alpine/musl@1.2.4-r2?DISTRO=alpine%2D3.19.1#x").unwrap();
        assert_eq!(purl.distro.as_deref(), Some("alpine-3.19.1"));
        // A value that does not decode is no release, not an invalid purl.
        let purl = Purl::parse("pkg:deb/debian/curl@1?distro=%zz").unwrap();
        assert_eq!(purl.distro, None);
    }

    #[test]
    fn source_packages_from_upstream() {
        let source = |text: &str| {
            Purl::parse(text)
                .unwrap()
                .source()
                .map(|(key, version)| format!("{key}@{version}"))
        };
        assert_eq!(
            source("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?upstream=openssl&distro=debian-12"),
            Some("pkg:deb/debian/openssl@3.0.11-1~deb12u2".into())
        );
        assert_eq!(
            source("pkg:deb/debian/libc6@2.36-9+deb12u4?upstream=glibc%402.36-9%2Bdeb12u4"),
            Some("pkg:deb/debian/glibc@2.36-9+deb12u4".into())
        );
        assert_eq!(
            source(
                "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm"
            ),
            Some("pkg:rpm/redhat/openssl@1:3.0.7-24.el9".into())
        );
        assert_eq!(
            source("pkg:apk/alpine/libcrypto3@3.1.4-r0?upstream=openssl"),
            Some("pkg:apk/alpine/openssl@3.1.4-r0".into())
        );
        assert_eq!(source("pkg:deb/debian/curl@7.88.1-10?upstream=curl"), None);
        assert_eq!(source("pkg:npm/a@1?upstream=b"), None);
        let rpm = Purl::parse("pkg:rpm/redhat/bash@5.1.8-6.el9?epoch=2").unwrap();
        assert_eq!(rpm.comparable_version().as_deref(), Some("2:5.1.8-6.el9"));
    }

    #[test]
    fn ecosystems_map_to_purl_types() {
        let key = |e, n| PackageKey::from_ecosystem(e, n).unwrap().to_string();
        assert_eq!(key("npm", "@babel/core"), "pkg:npm/%40babel/core");
        assert_eq!(
            key("Go", "github.com/gorilla/mux"),
            "pkg:golang/github.com/gorilla/mux"
        );
        assert_eq!(
            key("Maven", "org.apache.logging.log4j:log4j-core"),
            "pkg:maven/org.apache.logging.log4j/log4j-core"
        );
        assert_eq!(key("PyPI", "Django_Rest"), "pkg:pypi/django-rest");
        assert_eq!(key("crates.io", "serde"), "pkg:cargo/serde");
        assert_eq!(key("Debian:12", "curl"), "pkg:deb/debian/curl");
        assert_eq!(key("Alpine:v3.19", "musl"), "pkg:apk/alpine/musl");
        assert_eq!(
            key("Red Hat:enterprise_linux:9::appstream", "nodejs"),
            "pkg:rpm/redhat/nodejs"
        );
        assert_eq!(
            PackageKey::from_ecosystem("OSS-Fuzz", "curl"),
            Err(PurlError::UnknownEcosystem("OSS-Fuzz".into()))
        );
        assert_eq!(
            PackageKey::from_ecosystem("Maven", "log4j"),
            Err(PurlError::BadMavenName("log4j".into()))
        );
        assert_eq!(
            PackageKey::from_ecosystem("Go", "github.com/gorilla/mux"),
            Purl::parse_package("pkg:golang/github.com/gorilla/mux")
        );
    }
}
