//! What a candidate found for a digest is, judged by its own manifest and layer media types.
//!
//! The referrers index's `artifactType` is a hint that registries report inconsistently (some
//! copy the config's media type, some drop it), so it decides nothing here: every candidate's
//! manifest is fetched and classified by its layers. A candidate of no known kind is kept and
//! reported as [`CandidateKind::Unknown`] with the reason, and never verified.

use std::fmt;

use crate::artifact::{PROOF_BUNDLE_ARTIFACT_TYPE, PROOF_BUNDLE_LAYER};
use crate::manifest::{ImageManifest, essence};

/// cosign's simple-signing payload (legacy `.sig` tag, or cosign v2's OCI 1.1 referrers).
pub const COSIGN_SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding a simple-signing layer's base64 signature.
pub const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotations of keyless signatures: the certificate, its chain, the Rekor bundle.
pub const COSIGN_CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const COSIGN_CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const COSIGN_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// A DSSE envelope (cosign's legacy `.att` tag).
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// A Sigstore bundle v0.3 (cosign v3 `sign`/`attest`, GitHub `push-to-registry`).
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The parameterised form of the same (`...bundle+json;version=0.3`).
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle+json";

/// The kinds of candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CandidateKind {
    /// cosign simple signing: layers of [`COSIGN_SIMPLE_SIGNING`] with a signature annotation.
    CosignSignature,
    /// cosign DSSE in-toto attestations: layers of [`DSSE_ENVELOPE`].
    CosignAttestation,
    /// A Sigstore bundle (v0.3, or another version named by the media type's parameter).
    SigstoreBundle,
    /// This project's proof bundle ([`crate::artifact`]).
    ProofBundle,
    /// Anything else: reported, not verified.
    Unknown,
}

impl CandidateKind {
    pub const ALL: [CandidateKind; 5] = [
        CandidateKind::CosignSignature,
        CandidateKind::CosignAttestation,
        CandidateKind::SigstoreBundle,
        CandidateKind::ProofBundle,
        CandidateKind::Unknown,
    ];

    /// The name used in status, flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateKind::CosignSignature => "CosignSignature",
            CandidateKind::CosignAttestation => "CosignAttestation",
            CandidateKind::SigstoreBundle => "SigstoreBundle",
            CandidateKind::ProofBundle => "ProofBundle",
            CandidateKind::Unknown => "Unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for CandidateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub kind: CandidateKind,
    /// The indexes of the layers that carry the signature material (what to download).
    pub layers: Vec<usize>,
    /// Why it is [`CandidateKind::Unknown`], or what was ignored.
    pub note: Option<String>,
}

/// The kind a layer's media type (and annotations) indicate.
fn layer_kind(media_type: &str, has_signature: bool) -> Option<CandidateKind> {
    let full = media_type.to_ascii_lowercase().replace([' ', '\t'], "");
    let essence = essence(media_type);
    match essence.as_str() {
        COSIGN_SIMPLE_SIGNING if has_signature => Some(CandidateKind::CosignSignature),
        DSSE_ENVELOPE => Some(CandidateKind::CosignAttestation),
        SIGSTORE_BUNDLE_V03 => Some(CandidateKind::SigstoreBundle),
        SIGSTORE_BUNDLE if full.contains(";version=") => Some(CandidateKind::SigstoreBundle),
        e if e.starts_with("application/vnd.dev.sigstore.bundle.v0.") && e.ends_with("+json") => {
            Some(CandidateKind::SigstoreBundle)
        }
        PROOF_BUNDLE_LAYER => Some(CandidateKind::ProofBundle),
        _ => None,
    }
}

/// Classifies an image manifest by its layers' media types (and, for the proof bundle, also its
/// own artifact type, which this project sets itself).
pub fn classify(manifest: &ImageManifest) -> Classification {
    let unknown = |note: String| Classification {
        kind: CandidateKind::Unknown,
        layers: Vec::new(),
        note: Some(note),
    };
    let mut kind: Option<CandidateKind> = None;
    let mut layers = Vec::new();
    let mut unsigned = 0;
    for (i, layer) in manifest.layers.iter().enumerate() {
        let has_signature = layer.annotations.contains_key(COSIGN_SIGNATURE_ANNOTATION);
        if essence(&layer.media_type) == COSIGN_SIMPLE_SIGNING && !has_signature {
            unsigned += 1;
            continue;
        }
        let Some(k) = layer_kind(&layer.media_type, has_signature) else {
            continue;
        };
        match kind {
            Some(seen) if seen != k => {
                return unknown(format!(
                    "its layers mix {seen} and {k} media types, which no signer produces"
                ));
            }
            _ => kind = Some(k),
        }
        layers.push(i);
    }
    let Some(kind) = kind else {
        let types: Vec<&str> = manifest
            .layers
            .iter()
            .map(|l| l.media_type.as_str())
            .take(4)
            .collect();
        return unknown(if unsigned > 0 {
            format!(
                "{unsigned} cosign simple-signing layer(s) without the {COSIGN_SIGNATURE_ANNOTATION} annotation"
            )
        } else if types.is_empty() {
            format!(
                "no layers (artifactType {:?}, config {:?})",
                manifest.artifact_type.as_deref().unwrap_or(""),
                manifest.config.media_type
            )
        } else {
            format!(
                "no known signature or attestation layer (layers: {})",
                types.join(", ")
            )
        });
    };
    if kind == CandidateKind::ProofBundle {
        let artifact_type = manifest
            .artifact_type
            .as_deref()
            .unwrap_or(&manifest.config.media_type);
        if essence(artifact_type) != PROOF_BUNDLE_ARTIFACT_TYPE {
            return unknown(format!(
                "a proof-bundle layer in an artifact of type {artifact_type:?}, not {PROOF_BUNDLE_ARTIFACT_TYPE}"
            ));
        }
        if layers.len() != 1 {
            return unknown(format!(
                "{} proof-bundle layers; a proof-bundle artifact has exactly one",
                layers.len()
            ));
        }
    }
    let ignored = manifest.layers.len() - layers.len();
    Classification {
        kind,
        layers,
        note: (ignored > 0).then(|| format!("{ignored} other layer(s) ignored")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::{Descriptor, OCI_EMPTY, OCI_MANIFEST};

    fn layer(media_type: &str, annotations: &[(&str, &str)]) -> Descriptor {
        Descriptor {
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Descriptor::of(media_type, media_type.as_bytes())
        }
    }

    fn manifest(
        artifact_type: Option<&str>,
        config: &str,
        layers: Vec<Descriptor>,
    ) -> ImageManifest {
        ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: artifact_type.map(str::to_string),
            config: Descriptor::of(config, b"{}"),
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn classifies_by_layers() {
        let sig = [(COSIGN_SIGNATURE_ANNOTATION, "MEUCIQ...")];
        let cfg = "application/vnd.oci.image.config.v1+json";
        let cases: Vec<(ImageManifest, CandidateKind, Vec<usize>)> = vec![
            // cosign .sig: two signatures, one keyless with its certificate.
            (
                manifest(
                    None,
                    cfg,
                    vec![
                        layer(COSIGN_SIMPLE_SIGNING, &sig),
                        layer(
                            COSIGN_SIMPLE_SIGNING,
                            &[
                                (COSIGN_SIGNATURE_ANNOTATION, "x"),
                                (COSIGN_CERTIFICATE_ANNOTATION, "pem"),
                            ],
                        ),
                    ],
                ),
                CandidateKind::CosignSignature,
                vec![0, 1],
            ),
            // cosign .att
            (
                manifest(
                    None,
                    cfg,
                    vec![layer(
                        DSSE_ENVELOPE,
                        &[
                            (COSIGN_SIGNATURE_ANNOTATION, ""),
                            ("predicateType", "https://slsa.dev/provenance/v1"),
                        ],
                    )],
                ),
                CandidateKind::CosignAttestation,
                vec![0],
            ),
            // cosign v3 bundle referrer; the artifactType says nothing more.
            (
                manifest(
                    Some(SIGSTORE_BUNDLE_V03),
                    OCI_EMPTY,
                    vec![layer(SIGSTORE_BUNDLE_V03, &[])],
                ),
                CandidateKind::SigstoreBundle,
                vec![0],
            ),
            (
                manifest(
                    None,
                    OCI_EMPTY,
                    vec![layer(
                        "application/vnd.dev.sigstore.bundle+json; version=0.3",
                        &[],
                    )],
                ),
                CandidateKind::SigstoreBundle,
                vec![0],
            ),
            // A misleading artifactType does not make a signature.
            (
                manifest(
                    Some(SIGSTORE_BUNDLE_V03),
                    OCI_EMPTY,
                    vec![layer("application/vnd.example.sbom+json", &[])],
                ),
                CandidateKind::Unknown,
                vec![],
            ),
            // An SBOM referrer with a bundle-looking artifact type but JSON layers.
            (
                manifest(
                    Some("application/spdx+json"),
                    OCI_EMPTY,
                    vec![layer("application/spdx+json", &[])],
                ),
                CandidateKind::Unknown,
                vec![],
            ),
            // Our proof bundle.
            (
                manifest(
                    Some(PROOF_BUNDLE_ARTIFACT_TYPE),
                    OCI_EMPTY,
                    vec![layer(PROOF_BUNDLE_LAYER, &[])],
                ),
                CandidateKind::ProofBundle,
                vec![0],
            ),
            // ... also when a registry dropped artifactType and the config carries it.
            (
                manifest(
                    None,
                    PROOF_BUNDLE_ARTIFACT_TYPE,
                    vec![layer(PROOF_BUNDLE_LAYER, &[])],
                ),
                CandidateKind::ProofBundle,
                vec![0],
            ),
            // A proof-bundle layer elsewhere, two of them, a simple-signing layer without signature.
            (
                manifest(Some("x/y"), OCI_EMPTY, vec![layer(PROOF_BUNDLE_LAYER, &[])]),
                CandidateKind::Unknown,
                vec![],
            ),
            (
                manifest(
                    Some(PROOF_BUNDLE_ARTIFACT_TYPE),
                    OCI_EMPTY,
                    vec![
                        layer(PROOF_BUNDLE_LAYER, &[]),
                        layer(PROOF_BUNDLE_LAYER, &[]),
                    ],
                ),
                CandidateKind::Unknown,
                vec![],
            ),
            (
                manifest(None, cfg, vec![layer(COSIGN_SIMPLE_SIGNING, &[])]),
                CandidateKind::Unknown,
                vec![],
            ),
            (manifest(None, cfg, vec![]), CandidateKind::Unknown, vec![]),
            // Mixed kinds are refused; an extra unrelated layer is ignored.
            (
                manifest(
                    None,
                    cfg,
                    vec![
                        layer(COSIGN_SIMPLE_SIGNING, &sig),
                        layer(DSSE_ENVELOPE, &[]),
                    ],
                ),
                CandidateKind::Unknown,
                vec![],
            ),
            (
                manifest(
                    None,
                    cfg,
                    vec![layer("text/plain", &[]), layer(DSSE_ENVELOPE, &[])],
                ),
                CandidateKind::CosignAttestation,
                vec![1],
            ),
        ];
        for (i, (m, kind, layers)) in cases.into_iter().enumerate() {
            let c = classify(&m);
            assert_eq!(c.kind, kind, "case {i}: {c:?}");
            assert_eq!(c.layers, layers, "case {i}");
            if kind == CandidateKind::Unknown {
                assert!(c.note.is_some(), "case {i}: an Unknown says why");
            }
        }
    }

    #[test]
    fn kind_names() {
        for k in CandidateKind::ALL {
            assert_eq!(CandidateKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(
            CandidateKind::parse("sigstorebundle"),
            Some(CandidateKind::SigstoreBundle)
        );
        assert_eq!(CandidateKind::parse("x"), None);
    }
}
