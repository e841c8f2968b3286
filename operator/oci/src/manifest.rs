//! OCI and Docker manifests, indexes and descriptors, parsed strictly within caller-given sizes.
//!
//! The size is checked before a byte is parsed; counts (layers, index entries, annotations) are
//! checked right after. The media type is taken from the document's own `mediaType` when it has
//! one, else from the `Content-Type` the registry sent; a document that is neither an image
//! manifest nor an index is refused, as is one whose body and header disagree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Sha256Digest;
use crate::error::{OciError, check_size, parse_digest};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The empty JSON config of artifacts (`{}`).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The `Accept` header for manifests: every type this module parses.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// Bounds on what is parsed; the caller chooses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest manifest or index, in bytes.
    pub max_manifest_bytes: usize,
    /// Largest referrers page (or fallback-tag index), in bytes.
    pub max_index_bytes: usize,
    /// Largest blob (layer) read, in bytes.
    pub max_blob_bytes: usize,
    /// Most layers in one manifest.
    pub max_layers: usize,
    /// Most descriptors in one index or referrers page.
    pub max_index_entries: usize,
    /// Most annotations on one descriptor or manifest.
    pub max_annotations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // The distribution spec asks registries to accept manifests of at least 4 MiB.
            max_manifest_bytes: 4 << 20,
            max_index_bytes: 4 << 20,
            max_blob_bytes: 16 << 20,
            max_layers: 128,
            max_index_entries: 1024,
            max_annotations: 256,
        }
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

impl Descriptor {
    /// A descriptor of `bytes`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_string(),
            digest: Sha256Digest::of(bytes).to_string(),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }

    /// The digest, which must be sha256.
    pub fn sha256(&self) -> Result<Sha256Digest, OciError> {
        parse_digest("descriptor", &self.digest)
    }
}

/// An image manifest (OCI, or Docker schema 2, which has the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI, or a Docker manifest list); also the referrers API's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_string()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// `null` as an empty list: registries written in Go serialise an empty (nil) slice as `null`,
/// e.g. a referrers answer with nothing to list.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Descriptor>, D::Error> {
    Ok(Option::<Vec<Descriptor>>::deserialize(d)?.unwrap_or_default())
}

/// A manifest document of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// The `type/subtype` of a media type, lowercased, parameters and whitespace dropped.
pub fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Parses a manifest or index of at most `limits.max_manifest_bytes`. `content_type` is the
/// registry's `Content-Type`, used only when the document does not say its own media type.
pub fn parse_manifest(
    what: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    limits: &Limits,
) -> Result<Manifest, OciError> {
    check_size(what, bytes, limits.max_manifest_bytes)?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| OciError::malformed(what, e))?;
    let body_type = probe.media_type.as_deref().map(essence);
    let header_type = content_type
        .map(essence)
        .filter(|t| t != "application/json" && t != "text/plain" && !t.is_empty());
    if let (Some(body), Some(header)) = (&body_type, &header_type)
        && body != header
    {
        return Err(OciError::malformed(
            what,
            format!(
                "its mediaType {body:?} differs from the Content-Type {header:?} the registry sent"
            ),
        ));
    }
    let media_type = body_type.or(header_type);
    let is_index = match media_type.as_deref() {
        Some(OCI_INDEX) | Some(DOCKER_MANIFEST_LIST) => true,
        Some(OCI_MANIFEST) | Some(DOCKER_MANIFEST) => false,
        // No media type anywhere: OCI allows omitting it; decide by shape.
        None => probe.manifests.is_some() && probe.config.is_none(),
        Some(other) => {
            return Err(OciError::UnexpectedMediaType {
                what: what.to_string(),
                media_type: other.to_string(),
                expected: "an OCI or Docker image manifest or index",
            });
        }
    };
    if is_index {
        parse_index_unchecked(what, bytes, limits).map(Manifest::Index)
    } else {
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| OciError::malformed(what, e))?;
        check_schema(what, manifest.schema_version)?;
        if manifest.layers.len() > limits.max_layers {
            return Err(OciError::TooMany {
                what: what.to_string(),
                items: "layers",
                count: manifest.layers.len(),
                limit: limits.max_layers,
            });
        }
        check_annotations(what, &manifest.annotations, limits)?;
        for d in std::iter::once(&manifest.config)
            .chain(&manifest.layers)
            .chain(&manifest.subject)
        {
            check_descriptor(what, d, limits)?;
        }
        Ok(Manifest::Image(manifest))
    }
}

/// Parses an index (a referrers page, a fallback-tag index) of at most `limits.max_index_bytes`.
pub fn parse_index(what: &str, bytes: &[u8], limits: &Limits) -> Result<ImageIndex, OciError> {
    check_size(what, bytes, limits.max_index_bytes)?;
    let index = parse_index_unchecked(what, bytes, limits)?;
    if let Some(mt) = &index.media_type {
        let mt = essence(mt);
        if mt != OCI_INDEX && mt != DOCKER_MANIFEST_LIST {
            return Err(OciError::UnexpectedMediaType {
                what: what.to_string(),
                media_type: mt,
                expected: OCI_INDEX,
            });
        }
    }
    Ok(index)
}

fn parse_index_unchecked(
    what: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<ImageIndex, OciError> {
    let index: ImageIndex =
        serde_json::from_slice(bytes).map_err(|e| OciError::malformed(what, e))?;
    check_schema(what, index.schema_version)?;
    if index.manifests.len() > limits.max_index_entries {
        return Err(OciError::TooMany {
            what: what.to_string(),
            items: "manifests",
            count: index.manifests.len(),
            limit: limits.max_index_entries,
        });
    }
    check_annotations(what, &index.annotations, limits)?;
    for d in index.manifests.iter().chain(&index.subject) {
        check_descriptor(what, d, limits)?;
    }
    Ok(index)
}

fn check_schema(what: &str, version: u32) -> Result<(), OciError> {
    if version != 2 {
        return Err(OciError::malformed(
            what,
            format!("schemaVersion is {version}, not 2"),
        ));
    }
    Ok(())
}

fn check_annotations(
    what: &str,
    annotations: &BTreeMap<String, String>,
    limits: &Limits,
) -> Result<(), OciError> {
    if annotations.len() > limits.max_annotations {
        return Err(OciError::TooMany {
            what: what.to_string(),
            items: "annotations",
            count: annotations.len(),
            limit: limits.max_annotations,
        });
    }
    Ok(())
}

/// A descriptor's digest must be well-formed (any registered algorithm's shape), its media
/// type non-empty, and its annotations bounded.
fn check_descriptor(what: &str, d: &Descriptor, limits: &Limits) -> Result<(), OciError> {
    let well_formed = d.digest.split_once(':').is_some_and(|(alg, enc)| {
        !alg.is_empty()
            && !enc.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
            && enc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
    });
    if !well_formed {
        return Err(OciError::BadDigest {
            what: what.to_string(),
            digest: d.digest.clone(),
            other_algorithm: false,
        });
    }
    if d.digest.starts_with("sha256:") {
        parse_digest(what, &d.digest)?;
    }
    if d.media_type.trim().is_empty() {
        return Err(OciError::malformed(
            what,
            "a descriptor has an empty mediaType",
        ));
    }
    check_annotations(what, &d.annotations, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn manifest(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_EMPTY}","digest":"{D}","size":2}},"layers":[{{"mediaType":"a/b","digest":"{D}","size":2}}]{extra}}}"#
        )
    }

    #[test]
    fn parses_manifests_and_indexes() {
        let l = Limits::default();
        let m = parse_manifest("m", manifest("").as_bytes(), None, &l).unwrap();
        let Manifest::Image(m) = m else { panic!() };
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].sha256().unwrap().to_string(), D);

        // No mediaType in the body: the header decides; and without either, the shape.
        let bare = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x/y","digest":"{D}","size":2}},"layers":[]}}"#
        );
        assert!(matches!(
            parse_manifest("m", bare.as_bytes(), Some(DOCKER_MANIFEST), &l).unwrap(),
            Manifest::Image(_)
        ));
        assert!(matches!(
            parse_manifest("m", bare.as_bytes(), Some("application/json"), &l).unwrap(),
            Manifest::Image(_)
        ));
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":2,"platform":{{"os":"linux"}}}}]}}"#
        );
        let Manifest::Index(i) = parse_manifest("i", index.as_bytes(), None, &l).unwrap() else {
            panic!()
        };
        assert_eq!(i.manifests.len(), 1);
        assert!(parse_index("i", index.as_bytes(), &l).is_ok());
        // An empty list written as null (Go's nil slice), as some registries answer.
        let empty = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":null}}"#);
        assert!(
            parse_index("i", empty.as_bytes(), &l)
                .unwrap()
                .manifests
                .is_empty()
        );
        // Header parameters and case do not matter.
        assert!(
            parse_manifest(
                "m",
                manifest("").as_bytes(),
                Some("Application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
                &l
            )
            .is_ok()
        );
    }

    #[test]
    fn refuses_malformed_documents() {
        let l = Limits {
            max_manifest_bytes: 4096,
            max_index_bytes: 4096,
            max_layers: 2,
            max_index_entries: 2,
            max_annotations: 2,
            ..Limits::default()
        };
        let layer = format!(r#"{{"mediaType":"a/b","digest":"{D}","size":1}}"#);
        let three = [layer.as_str(); 3].join(",");
        let cases: Vec<(String, Option<&str>, &str)> = vec![
            (manifest("")[..40].to_string(), None, "not valid JSON"),
            ("[]".into(), None, "not valid JSON"),
            (r#"{"schemaVersion":"2"}"#.into(), None, "not valid JSON"),
            (
                manifest("").replace("\"size\":2}]", "\"size\":-1}]"),
                None,
                "not valid JSON",
            ),
            (
                manifest("").replace(":2,\"mediaType", ":1,\"mediaType"),
                None,
                "schemaVersion is 1",
            ),
            (
                manifest("").replace(OCI_MANIFEST, "application/vnd.example+json"),
                None,
                "media type",
            ),
            (
                manifest(""),
                Some(OCI_INDEX),
                "differs from the Content-Type",
            ),
            (manifest("").replace(&D[10..], "zz"), None, "digest"),
            (manifest("").replace("sha256:", "sha256:A"), None, "digest"),
            (
                manifest("").replace("\"a/b\"", "\" \""),
                None,
                "empty mediaType",
            ),
            (
                manifest(r#","annotations":{"a":"1","b":"2","c":"3"}"#),
                None,
                "3 annotations, more than the limit of 2",
            ),
            (
                manifest(r#","annotations":{"a":1}"#),
                None,
                "not valid JSON",
            ),
            (
                format!(
                    r#"{{"schemaVersion":2,"config":{{"mediaType":"x/y","digest":"{D}","size":2}},"layers":[{three}]}}"#
                ),
                None,
                "3 layers, more than the limit of 2",
            ),
            (
                format!(r#"{{"schemaVersion":2,"manifests":[{three}]}}"#),
                None,
                "3 manifests, more than the limit of 2",
            ),
            (
                format!("{:5000}", manifest("")),
                None,
                "more than the 4096-byte limit",
            ),
        ];
        for (doc, header, needle) in cases {
            let e = parse_manifest("the manifest", doc.as_bytes(), header, &l).unwrap_err();
            assert!(e.to_string().contains(needle), "{doc}: {e}");
            assert!(e.to_string().starts_with("the manifest"), "{e}");
        }
        let e = parse_index("page", manifest("").as_bytes(), &l).unwrap_err();
        assert!(
            matches!(e, OciError::UnexpectedMediaType { .. })
                || matches!(e, OciError::Malformed { .. }),
            "{e:?}"
        );
    }

    #[test]
    fn descriptors_of_bytes() {
        let d = Descriptor::of(OCI_EMPTY, b"{}");
        assert_eq!(d.digest, D);
        assert_eq!(d.size, 2);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"mediaType":"{OCI_EMPTY}","digest":"{D}","size":2}}"#)
        );
    }
}
