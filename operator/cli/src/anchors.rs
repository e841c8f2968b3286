//! Loading trust anchors from files: PEM keys and certificates, or
//! TrustAnchor YAML manifests (the same documents that are applied to the
//! cluster, so an air-gapped site verifies against exactly what Git declares).

use std::path::Path;

use attestor_core::trust::{AnchorSpec, Purpose, TrustAnchor, TrustStore};
use serde::Deserialize;

use crate::error::{CliError, read_text};

pub const API_VERSION: &str = "attestor.stellaops.io/v1alpha1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    spec: Option<AnchorSpec>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    name: Option<String>,
}

/// Reads one trust-anchor file. PEM files yield one anchor per block, trusted
/// for every purpose; YAML files yield one anchor per `TrustAnchor` document.
pub fn load_anchor_file(path: &Path) -> Result<Vec<TrustAnchor>, CliError> {
    let text = read_text(path)?;
    let name = path.display().to_string();
    if text.trim_start().starts_with("-----BEGIN") {
        return TrustAnchor::from_pem(&name, &text).map_err(|e| CliError::input(path, e));
    }
    let docs: Vec<ManifestDoc> = serde_saphyr::from_multiple(&text).map_err(|e| {
        CliError::input(
            path,
            format!("is neither PEM nor a TrustAnchor YAML manifest: {e}"),
        )
    })?;
    let mut anchors = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let which = || format!("document {}", i + 1);
        if doc.kind.as_deref() != Some("TrustAnchor") {
            return Err(CliError::input(
                path,
                format!(
                    "{}: kind is {:?}, expected TrustAnchor",
                    which(),
                    doc.kind.unwrap_or_default()
                ),
            ));
        }
        if doc.api_version.as_deref() != Some(API_VERSION) {
            return Err(CliError::input(
                path,
                format!(
                    "{}: apiVersion is {:?}, expected {API_VERSION}",
                    which(),
                    doc.api_version.unwrap_or_default()
                ),
            ));
        }
        let spec = doc
            .spec
            .ok_or_else(|| CliError::input(path, format!("{}: has no spec", which())))?;
        let anchor_name = doc
            .metadata
            .name
            .unwrap_or_else(|| format!("{name}#{}", i + 1));
        anchors.push(
            TrustAnchor::from_spec(&anchor_name, &spec).map_err(|e| CliError::input(path, e))?,
        );
    }
    if anchors.is_empty() {
        return Err(CliError::input(path, "holds no TrustAnchor document"));
    }
    Ok(anchors)
}

/// Builds the trust store from `--trust-anchor` files and `--public-key` files.
pub fn load_trust_store(
    anchor_files: &[impl AsRef<Path>],
    public_keys: &[impl AsRef<Path>],
) -> Result<TrustStore, CliError> {
    let mut store = TrustStore::default();
    for path in anchor_files {
        for anchor in load_anchor_file(path.as_ref())? {
            store.push(anchor);
        }
    }
    for path in public_keys {
        let path = path.as_ref();
        let text = read_text(path)?;
        for anchor in TrustAnchor::from_pem(&path.display().to_string(), &text)
            .map_err(|e| CliError::input(path, e))?
        {
            store.push(anchor.with_purposes(vec![Purpose::AttestationSigning]));
        }
    }
    if store.is_empty() {
        return Err(CliError::Usage(
            "no trust anchors given: pass --trust-anchor FILE (PEM or TrustAnchor YAML) or --public-key PEM".into(),
        ));
    }
    Ok(store)
}
