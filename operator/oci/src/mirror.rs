//! Registry mirror rules: `docker.io=mirror.example:5000` reads `docker.io/library/nginx` from
//! `mirror.example:5000/library/nginx`, as containerd's and docker's registry mirrors do.

use crate::error::OciError;
use crate::reference::{canonical_registry, valid_registry};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRule {
    /// The registry mirrored, canonical (`docker.io`).
    pub from: String,
    /// The mirror's host and port.
    pub to: String,
}

impl MirrorRule {
    /// Parses `FROM=TO`.
    pub fn parse(rule: &str) -> Result<Self, OciError> {
        let bad = |detail: &str| OciError::BadMirrorRule {
            rule: rule.to_string(),
            detail: detail.to_string(),
        };
        let (from, to) = rule.split_once('=').ok_or_else(|| bad("no '='"))?;
        let (from, to) = (from.trim(), to.trim());
        if to.contains("://") || to.contains('/') {
            return Err(bad(
                "the mirror must be a host with an optional port, without scheme or path",
            ));
        }
        if !valid_registry(from) {
            return Err(bad(&format!("{from:?} is not a registry host")));
        }
        if !valid_registry(to) {
            return Err(bad(&format!("{to:?} is not a registry host")));
        }
        Ok(Self {
            from: canonical_registry(from),
            to: to.to_ascii_lowercase(),
        })
    }
}

impl std::str::FromStr for MirrorRule {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The mirror of a canonical `registry`, if a rule names one (the first rule wins).
pub fn mirror_for<'a>(rules: &'a [MirrorRule], registry: &str) -> Option<&'a str> {
    rules
        .iter()
        .find(|r| r.from == registry)
        .map(|r| r.to.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_applies_rules() {
        let rules = [
            MirrorRule::parse("docker.io=mirror.example:5000").unwrap(),
            MirrorRule::parse(" index.docker.io = other.example ").unwrap(),
            MirrorRule::parse("ghcr.io=Mirror.Example").unwrap(),
        ];
        assert_eq!(rules[1].from, "docker.io");
        assert_eq!(mirror_for(&rules, "docker.io"), Some("mirror.example:5000"));
        assert_eq!(mirror_for(&rules, "ghcr.io"), Some("mirror.example"));
        assert_eq!(mirror_for(&rules, "quay.io"), None);
        for (rule, needle) in [
            ("docker.io", "no '='"),
            ("docker.io=https://m.example", "without scheme"),
            ("docker.io=m.example/path", "without scheme"),
            ("=m.example", "not a registry"),
            ("docker.io=", "not a registry"),
            ("docker.io=m.example:x", "not a registry"),
        ] {
            let e = MirrorRule::parse(rule).unwrap_err();
            assert!(e.to_string().contains(needle), "{rule}: {e}");
        }
    }
}
