//! Where a digest's referrers are: the OCI 1.1 referrers API, its fallback tag, cosign's tags.

use crate::Sha256Digest;
use crate::manifest::{Descriptor, ImageIndex};

/// The path of the referrers API for `digest` in `repository`.
pub fn referrers_path(repository: &str, digest: &Sha256Digest) -> String {
    format!("/v2/{repository}/referrers/{digest}")
}

/// The fallback tag of the referrers tag schema: `sha256-<hex>`.
pub fn fallback_tag(digest: &Sha256Digest) -> String {
    format!("sha256-{}", digest.hex())
}

/// cosign's legacy signature tag: `sha256-<hex>.sig`.
pub fn legacy_signature_tag(digest: &Sha256Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// cosign's legacy attestation tag: `sha256-<hex>.att`.
pub fn legacy_attestation_tag(digest: &Sha256Digest) -> String {
    format!("sha256-{}.att", digest.hex())
}

/// The target of the `rel="next"` link in a `Link` header, as written (often a path relative
/// to the request URL, which the caller resolves). Several links may be in one header, separated
/// by commas; `rel` may hold several space-separated relations and be quoted or not.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header.trim();
    while let Some(start) = rest.strip_prefix('<') {
        let end = start.find('>')?;
        let target = &start[..end];
        let after = &start[end + 1..];
        // The parameters run to the next link (a comma followed by '<') or the end.
        let params_end = find_next_link(after).unwrap_or(after.len());
        let params = &after[..params_end];
        for param in params.split(';') {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("rel") {
                let value = value.trim().trim_matches('"');
                if value
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
                {
                    return Some(target.to_string());
                }
            }
        }
        rest = after[params_end..].trim_start_matches([',', ' ', '\t']);
    }
    None
}

fn find_next_link(text: &str) -> Option<usize> {
    let mut in_quotes = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes && text[i + 1..].trim_start().starts_with('<') => {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

/// `index` with `descriptor` added (replacing an entry of the same digest), for the fallback
/// tag of a registry without the referrers API.
pub fn add_to_fallback_index(index: Option<ImageIndex>, descriptor: Descriptor) -> ImageIndex {
    let mut index = index.unwrap_or_else(ImageIndex::empty);
    index.manifests.retain(|d| d.digest != descriptor.digest);
    index.manifests.push(descriptor);
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_a_digest() {
        let d = Sha256Digest::of(b"");
        let hex = d.hex();
        assert_eq!(fallback_tag(&d), format!("sha256-{hex}"));
        assert_eq!(legacy_signature_tag(&d), format!("sha256-{hex}.sig"));
        assert_eq!(legacy_attestation_tag(&d), format!("sha256-{hex}.att"));
        assert_eq!(
            referrers_path("org/app", &d),
            format!("/v2/org/app/referrers/{d}")
        );
    }

    #[test]
    fn next_links() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"</v2/a/referrers/sha256:x?n=1&last=y>; rel="next""#,
                Some("/v2/a/referrers/sha256:x?n=1&last=y"),
            ),
            (
                "<https://r.example/p2>;rel=next",
                Some("https://r.example/p2"),
            ),
            (r#"<p0>; rel="prev", <p2>; rel="next""#, Some("p2")),
            (
                r#"<p0>; rel="prev first", <p2>; title="a, <b>"; rel="last next""#,
                Some("p2"),
            ),
            (r#"<p0>; rel="prev""#, None),
            ("", None),
            ("garbage", None),
            ("<unterminated; rel=next", None),
            (r#"<p2>; REL="Next""#, Some("p2")),
        ];
        for (header, want) in cases {
            assert_eq!(next_link(header).as_deref(), *want, "{header}");
        }
    }

    #[test]
    fn fallback_index_updates() {
        let a = Descriptor::of("x/a", b"a");
        let b = Descriptor::of("x/b", b"b");
        let i = add_to_fallback_index(None, a.clone());
        assert_eq!(i.manifests, vec![a.clone()]);
        let i = add_to_fallback_index(Some(i), b.clone());
        let i = add_to_fallback_index(Some(i), a.clone());
        assert_eq!(i.manifests, vec![b, a]);
    }
}
