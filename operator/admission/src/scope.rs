//! Which images a TrustedIssuer may vouch for: `spec.scope.images` patterns matched against image
//! references.
//!
//! Both sides are normalized the way the container runtime resolves names, so `nginx`,
//! `docker.io/nginx` and `docker.io/library/nginx` are one image: otherwise a pattern written one
//! way would silently not cover a Pod spec written the other way.

/// An image reference reduced to its repository name (`registry/path/name`): tag and digest are
/// not part of what an issuer's scope talks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName(String);

impl ImageName {
    /// Parses `registry.example/shop/cart:1.4.2`, `cart@sha256:…`, `localhost:5000/x:tag@sha256:…`.
    /// `None` for an empty reference.
    pub fn parse(reference: &str) -> Option<Self> {
        let reference = reference.trim();
        let without_digest = reference.split_once('@').map_or(reference, |(n, _)| n);
        // A `:` after the last `/` starts a tag; one before it is a registry port.
        let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
        let name = match without_digest[last_slash..].rfind(':') {
            Some(colon) => &without_digest[..last_slash + colon],
            None => without_digest,
        };
        if name.is_empty() {
            return None;
        }
        Some(Self(normalize(name)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds the implicit `docker.io/` registry and `library/` namespace.
fn normalize(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    let first = name.split('/').next().unwrap_or_default();
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        name
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// One `scope.images` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    /// `None` for `*` alone, which covers every image.
    segments: Option<Vec<String>>,
    text: String,
}

impl ImagePattern {
    pub fn parse(pattern: &str) -> Self {
        let text = pattern.trim().to_string();
        let segments = if text == "*" {
            None
        } else {
            // A tag or digest in a pattern is meaningless for scope; drop it like for images.
            let name = ImageName::parse(&text).map_or_else(|| text.clone(), |n| n.0);
            Some(name.split('/').map(str::to_string).collect())
        };
        Self { segments, text }
    }

    pub fn matches(&self, image: &ImageName) -> bool {
        let Some(segments) = &self.segments else {
            return true;
        };
        let parts: Vec<&str> = image.0.split('/').collect();
        parts.len() == segments.len()
            && segments
                .iter()
                .zip(parts)
                .all(|(pattern, part)| glob_segment(pattern, part))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `*` matches any run of characters (within the one segment it is given).
fn glob_segment(pattern: &str, text: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    if pieces.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = pieces
        .split_first()
        .expect("split yields at least one piece");
    let (last, middle) = rest.split_last().expect("a pattern with * has two pieces");
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    for piece in middle {
        match remaining.find(piece) {
            Some(i) => remaining = &remaining[i + piece.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// The scope of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    patterns: Vec<ImagePattern>,
}

impl Scope {
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            patterns: patterns
                .into_iter()
                .map(|p| ImagePattern::parse(p))
                .collect(),
        }
    }

    /// Whether the scope covers the image reference; an unparsable reference is covered by
    /// nothing.
    pub fn covers(&self, reference: &str) -> bool {
        ImageName::parse(reference).is_some_and(|name| self.covers_name(&name))
    }

    /// [`Scope::covers`] for a name parsed once, when one image is checked against several
    /// issuers.
    pub fn covers_name(&self, name: &ImageName) -> bool {
        self.patterns.iter().any(|p| p.matches(name))
    }

    /// The patterns as written, for messages.
    pub fn describe(&self) -> String {
        self.patterns
            .iter()
            .map(ImagePattern::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(patterns: &[&str], image: &str) -> bool {
        let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Scope::new(&patterns).covers(image)
    }

    #[test]
    fn names_drop_tag_and_digest_but_keep_registry_ports() {
        let name = |s| ImageName::parse(s).unwrap().0;
        assert_eq!(
            name("registry.example/shop/cart:1.4.2"),
            "registry.example/shop/cart"
        );
        assert_eq!(
            name("registry.example/shop/cart@sha256:0123"),
            "registry.example/shop/cart"
        );
        assert_eq!(
            name("localhost:5000/cart:1@sha256:0123"),
            "localhost:5000/cart"
        );
        assert_eq!(
            name("registry.example:443/shop/cart"),
            "registry.example:443/shop/cart"
        );
        assert_eq!(name("nginx"), "docker.io/library/nginx");
        assert_eq!(name("nginx:1.27"), "docker.io/library/nginx");
        assert_eq!(name("bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(
            name("Registry.Example/Shop/Cart"),
            "registry.example/shop/cart"
        );
        assert!(ImageName::parse("").is_none());
        assert!(ImageName::parse(":tag").is_none());
    }

    #[test]
    fn star_stays_within_one_segment() {
        assert!(covers(
            &["registry.example/shop/*"],
            "registry.example/shop/cart:1.4.2"
        ));
        assert!(!covers(
            &["registry.example/shop/*"],
            "registry.example/shop/team/cart:1"
        ));
        assert!(!covers(
            &["registry.example/shop/*"],
            "registry.example/other/cart:1"
        ));
        assert!(!covers(
            &["registry.example/shop/*"],
            "evil.example/shop/cart:1"
        ));
        assert!(covers(
            &["registry.example/*/cart"],
            "registry.example/shop/cart"
        ));
        assert!(covers(
            &["registry.example/shop/cart-*"],
            "registry.example/shop/cart-api"
        ));
        assert!(!covers(
            &["registry.example/shop/cart-*"],
            "registry.example/shop/cartapi"
        ));
        assert!(covers(
            &["registry.example/shop/*-api"],
            "registry.example/shop/cart-api"
        ));
        assert!(covers(
            &["registry.example/shop/a*b*c"],
            "registry.example/shop/aXbYc"
        ));
        assert!(!covers(
            &["registry.example/shop/a*b*c"],
            "registry.example/shop/aXbY"
        ));
        assert!(!covers(
            &["registry.example/shop/ab*b"],
            "registry.example/shop/ab"
        ));
    }

    #[test]
    fn star_alone_covers_everything_and_docker_hub_names_normalize() {
        assert!(covers(&["*"], "anything.example/x/y/z:1"));
        assert!(covers(&["*"], "nginx"));
        assert!(covers(&["nginx"], "docker.io/library/nginx:1.27"));
        assert!(covers(&["docker.io/library/*"], "nginx@sha256:00"));
        assert!(!covers(&["registry.example/shop/*"], ""));
        assert!(!covers(&[], "registry.example/shop/cart"));
    }

    #[test]
    fn tags_in_patterns_are_ignored() {
        assert!(covers(
            &["registry.example/shop/cart:1.0"],
            "registry.example/shop/cart:2.0"
        ));
    }
}
