//! This project's proof bundle as an OCI 1.1 artifact (docs/proof-bundle-format.md §12).
//!
//! An image manifest with `artifactType` [`PROOF_BUNDLE_ARTIFACT_TYPE`], the empty config
//! (`application/vnd.oci.empty.v1+json`, `{}`), exactly one layer of media type
//! [`PROOF_BUNDLE_LAYER`] holding the bundle's ZIP bytes, and `subject` the image manifest the
//! bundle is about.

use std::collections::BTreeMap;

use crate::manifest::{Descriptor, ImageManifest, OCI_EMPTY, OCI_MANIFEST};

pub const PROOF_BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.stellaops.attestor.proof-bundle.v1";
pub const PROOF_BUNDLE_LAYER: &str = "application/vnd.stellaops.attestor.proof-bundle.v1+zip";
/// The empty config's bytes.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// The title annotation of the layer.
pub const PROOF_BUNDLE_TITLE: &str = "proof-bundle.zip";

/// The artifact manifest of a proof bundle (`bundle` the ZIP's bytes) about `subject`, and its
/// bytes as pushed. `created` (RFC 3339) is the `org.opencontainers.image.created` annotation,
/// given by the caller since this crate reads no clock.
pub fn proof_bundle_manifest(
    subject: Descriptor,
    bundle: &[u8],
    created: Option<&str>,
) -> (ImageManifest, Vec<u8>) {
    let mut layer = Descriptor::of(PROOF_BUNDLE_LAYER, bundle);
    layer.annotations.insert(
        "org.opencontainers.image.title".to_string(),
        PROOF_BUNDLE_TITLE.to_string(),
    );
    let mut annotations = BTreeMap::new();
    if let Some(created) = created {
        annotations.insert(
            "org.opencontainers.image.created".to_string(),
            created.to_string(),
        );
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        artifact_type: Some(PROOF_BUNDLE_ARTIFACT_TYPE.to_string()),
        config: Descriptor::of(OCI_EMPTY, EMPTY_CONFIG),
        layers: vec![layer],
        subject: Some(Descriptor {
            annotations: BTreeMap::new(),
            artifact_type: None,
            platform: None,
            ..subject
        }),
        annotations,
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
    (manifest, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{CandidateKind, classify};
    use crate::manifest::{Limits, Manifest, parse_manifest};

    #[test]
    fn builds_a_manifest_that_classifies_as_a_proof_bundle() {
        let subject = Descriptor::of(OCI_MANIFEST, b"image manifest");
        let (m, bytes) =
            proof_bundle_manifest(subject.clone(), b"PK zip", Some("2026-12-07T00:00:00Z"));
        assert_eq!(m.subject.as_ref().unwrap().digest, subject.digest);
        let Manifest::Image(parsed) =
            parse_manifest("m", &bytes, Some(OCI_MANIFEST), &Limits::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!(parsed, m);
        let c = classify(&parsed);
        assert_eq!(c.kind, CandidateKind::ProofBundle);
        assert_eq!(c.layers, vec![0]);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains(r#""artifactType":"application/vnd.stellaops.attestor.proof-bundle.v1""#),
            "{text}"
        );
        assert!(text.contains(r#""config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#), "{text}");
    }
}
