//! Image references, normalised as docker normalises them.
//!
//! `nginx` is `docker.io/library/nginx` (tag `latest` when neither a tag nor a digest is given),
//! `index.docker.io` and `registry-1.docker.io` are both `docker.io`, the first path component
//! is a registry only when it has a `.` or a `:` or is `localhost`, repository components are
//! lowercase, and a digest must be `sha256:` with 64 lowercase hex digits.

use std::fmt;

use crate::Sha256Digest;
use crate::error::{OciError, parse_digest};

/// Docker Hub's canonical name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API is served from.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The longest repository name (registry included) docker accepts.
pub const MAX_NAME_LENGTH: usize = 255;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The registry as named in references: `docker.io`, `ghcr.io`, `localhost:5000`.
    pub registry: String,
    /// The repository inside it: `library/nginx`, `org/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Sha256Digest>,
}

impl ImageRef {
    /// Parses `text` with docker's rules. A reference with neither tag nor digest gets no tag
    /// here; [`ImageRef::reference`] then answers `latest`, as docker does.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let invalid = |detail: &str| OciError::InvalidReference {
            reference: text.to_string(),
            detail: detail.to_string(),
        };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace"));
        }
        if text.contains("://") {
            return Err(invalid(
                "give a reference such as registry.example/org/app@sha256:..., not a URL",
            ));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let digest = parse_digest("the reference's digest", digest).map_err(|e| {
                    invalid(&match e {
                        OciError::BadDigest {
                            other_algorithm: true,
                            ..
                        } => format!("digest {digest:?}: only sha256 digests are supported"),
                        _ => format!(
                            "digest {digest:?} is not sha256: followed by 64 lowercase hex digits"
                        ),
                    })
                })?;
                (rest, Some(digest))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid(&format!(
                "tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
            )));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if !valid_registry(&registry) {
            return Err(invalid(&format!(
                "registry {registry:?} is not a host name or address with an optional port"
            )));
        }
        let registry = canonical_registry(&registry);
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if repository.is_empty() {
            return Err(invalid("it names no repository"));
        }
        for component in repository.split('/') {
            if !valid_component(component) {
                return Err(invalid(&format!(
                    "repository component {component:?} must be lowercase letters and digits, \
                     separated by '.', '_', '__' or dashes"
                )));
            }
        }
        if registry.len() + 1 + repository.len() > MAX_NAME_LENGTH {
            return Err(invalid(&format!(
                "the name is longer than {MAX_NAME_LENGTH} characters"
            )));
        }
        Ok(ImageRef {
            registry,
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The host (and port) the registry API is served from: Docker Hub's is
    /// `registry-1.docker.io`, every other registry's is its name.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// What to ask `/v2/<name>/manifests/` for: the digest when there is one, else the tag,
    /// else `latest`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The same repository pinned to `digest` (the tag is kept for display).
    pub fn with_digest(&self, digest: Sha256Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl std::str::FromStr for ImageRef {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `index.docker.io` and `registry-1.docker.io` are `docker.io`; other names are lowercased
/// (host names are case-insensitive).
pub fn canonical_registry(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    match lower.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => lower,
    }
}

/// The API host of a canonical registry name.
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional port.
pub fn valid_registry(registry: &str) -> bool {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match after {
                    "" => return true,
                    _ => match after.strip_prefix(':') {
                        Some(port) => ("", Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || port.parse::<u16>().is_err())
    {
        return false;
    }
    if registry.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822";

    #[test]
    fn normalises_like_docker() {
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            ("nginx", "docker.io", "library/nginx", None, false),
            (
                "nginx:1.27",
                "docker.io",
                "library/nginx",
                Some("1.27"),
                false,
            ),
            ("library/nginx", "docker.io", "library/nginx", None, false),
            ("docker.io/nginx", "docker.io", "library/nginx", None, false),
            (
                "index.docker.io/nginx",
                "docker.io",
                "library/nginx",
                None,
                false,
            ),
            (
                "registry-1.docker.io/org/app:v1",
                "docker.io",
                "org/app",
                Some("v1"),
                false,
            ),
            ("bitnami/redis", "docker.io", "bitnami/redis", None, false),
            ("ghcr.io/org/app", "ghcr.io", "org/app", None, false),
            ("GHCR.io/org/app", "ghcr.io", "org/app", None, false),
            ("localhost/app", "localhost", "app", None, false),
            (
                "localhost:5000/app:dev",
                "localhost:5000",
                "app",
                Some("dev"),
                false,
            ),
            (
                "127.0.0.1:5000/a/b/c",
                "127.0.0.1:5000",
                "a/b/c",
                None,
                false,
            ),
            ("[::1]:5000/app", "[::1]:5000", "app", None, false),
            (
                "reg.example/org/app:v1@sha256:X",
                "reg.example",
                "org/app",
                Some("v1"),
                true,
            ),
            (
                "reg.example/org/app@sha256:X",
                "reg.example",
                "org/app",
                None,
                true,
            ),
            (
                "reg.example/a_b/c__d/e-f/g--h/i.j",
                "reg.example",
                "a_b/c__d/e-f/g--h/i.j",
                None,
                false,
            ),
        ];
        for (text, registry, repository, tag, has_digest) in cases {
            let text = text.replace('X', HEX);
            let r = ImageRef::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.registry, *registry, "{text}");
            assert_eq!(r.repository, *repository, "{text}");
            assert_eq!(r.tag.as_deref(), *tag, "{text}");
            assert_eq!(r.digest.is_some(), *has_digest, "{text}");
        }
    }

    #[test]
    fn api_hosts_and_display() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.reference(), "latest");
        assert_eq!(r.to_string(), "docker.io/library/nginx");
        let d = format!("sha256:{HEX}");
        let r = ImageRef::parse(&format!("localhost:5000/app:v1@{d}")).unwrap();
        assert_eq!(r.api_host(), "localhost:5000");
        assert_eq!(r.reference(), d);
        assert_eq!(r.to_string(), format!("localhost:5000/app:v1@{d}"));
        assert_eq!(r.name(), "localhost:5000/app");
        let r2 = ImageRef::parse("reg.example/app:v2").unwrap();
        assert_eq!(r2.reference(), "v2");
        assert_eq!(
            r2.with_digest(d.parse().unwrap()).to_string(),
            format!("reg.example/app:v2@{d}")
        );
    }

    #[test]
    fn refuses_malformed_references() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("Nginx", "repository component"),
            ("reg.example/Org/app", "repository component"),
            ("reg.example/org//app", "repository component"),
            ("reg.example/org/app-", "repository component"),
            ("reg.example/", "no repository"),
            ("nginx:", "tag"),
            ("nginx:-x", "tag"),
            ("nginx:a/b", "registry"),
            ("nginx@sha256:abc", "64 lowercase hex"),
            ("nginx@sha512:abc", "only sha256"),
            ("nginx@sha256:ABC", "64 lowercase hex"),
            ("https://reg.example/app", "not a URL"),
            ("reg example/app", "whitespace"),
            ("reg.example:99999/app", "registry"),
            ("reg.example:/app", "registry"),
            ("-reg.example/app", "registry"),
            ("[zz]:5000/app", "registry"),
        ];
        for (text, needle) in cases {
            let e = ImageRef::parse(text).expect_err(text);
            assert!(
                matches!(e, OciError::InvalidReference { .. }),
                "{text}: {e:?}"
            );
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let long = format!("reg.example/{}", "a".repeat(250));
        assert!(
            ImageRef::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("longer")
        );
        let tag = format!("app:{}", "t".repeat(129));
        assert!(ImageRef::parse(&tag).is_err());
    }
}
