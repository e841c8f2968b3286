//! An image reference as written in a container spec, split into repository, tag and digest:
//! what the pinning rule needs, and what the "use <name>@sha256:…" advice is built from.
//! Unlike [`crate::scope::ImageName`] nothing is normalized: advice must quote the user's own
//! spelling.

use crate::digest::{Digest, DigestError};

/// `registry.example/shop/cart:1.4.2@sha256:…` as its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageReference<'a> {
    /// Repository and tag.
    name: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// Why an image is not pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPinned {
    /// No `@` part: a tag (or nothing) can be moved to other content at any time.
    NoDigest,
    /// An `@` part that is not a sha256 digest.
    BadDigest(DigestError),
}

impl<'a> ImageReference<'a> {
    pub fn split(text: &'a str) -> Self {
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (text, None),
        };
        // A `:` after the last `/` starts a tag; one before it is a registry port.
        let last_segment = name.rfind('/').map_or(0, |slash| slash + 1);
        let (repository, tag) = match name[last_segment..].rfind(':') {
            Some(colon) => {
                let colon = last_segment + colon;
                (&name[..colon], Some(&name[colon + 1..]))
            }
            None => (name, None),
        };
        Self {
            name,
            repository,
            tag,
            digest,
        }
    }

    /// The name without tag and digest, as written.
    pub fn repository(&self) -> &'a str {
        self.repository
    }

    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }

    /// The name and tag, without the digest: how messages name an image whose digest they
    /// quote separately.
    pub fn without_digest(&self) -> &'a str {
        self.name
    }

    pub fn pinned_digest(&self) -> Result<Digest, NotPinned> {
        let digest = self.digest.ok_or(NotPinned::NoDigest)?;
        Digest::parse(digest).map_err(NotPinned::BadDigest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn splits_tags_digests_and_ports() {
        let reference = format!("registry.example:5000/shop/cart:1.4.2@{DIGEST}");
        let image = ImageReference::split(&reference);
        assert_eq!(image.repository(), "registry.example:5000/shop/cart");
        assert_eq!(image.tag(), Some("1.4.2"));
        assert_eq!(image.pinned_digest().unwrap().to_string(), DIGEST);

        let image = ImageReference::split("registry.example:5000/shop/cart");
        assert_eq!(image.repository(), "registry.example:5000/shop/cart");
        assert_eq!(image.tag(), None);
        assert_eq!(image.pinned_digest(), Err(NotPinned::NoDigest));

        let image = ImageReference::split("nginx:1.27");
        assert_eq!(image.repository(), "nginx");
        assert_eq!(image.tag(), Some("1.27"));
    }

    #[test]
    fn a_bad_digest_is_not_a_pin() {
        let image = ImageReference::split("cart@sha256:ABC");
        assert!(matches!(
            image.pinned_digest(),
            Err(NotPinned::BadDigest(_))
        ));
        assert_eq!(image.repository(), "cart");
    }

    #[test]
    fn strips_only_the_digest_for_display() {
        let reference = format!("cart:1@{DIGEST}");
        let image = ImageReference::split(&reference);
        assert_eq!(image.without_digest(), "cart:1");
    }
}
