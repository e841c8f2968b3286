//! Reading a ProofVerification's `spec.source`: a ConfigMap or Secret key in the object's own
//! namespace, an inline envelope, or a URL. Every failure becomes a `SourceAvailable` reason and a
//! message that says what to do.

use std::sync::Arc;

use attestor_api::proof_verification::ProofSource;
use attestor_core::digest::Sha256Digest;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};

use crate::fetch::{FetchExpect, Fetcher};

/// The proof's bytes.
#[derive(Debug, Clone)]
pub struct SourceBytes {
    pub bytes: Vec<u8>,
    pub digest: Sha256Digest,
}

/// Why the proof could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// The `SourceAvailable` reason.
    pub reason: &'static str,
    pub message: String,
    /// Whether retrying soon may help (network trouble, API server hiccups).
    pub transient: bool,
}

impl SourceError {
    fn new(reason: &'static str, message: String, transient: bool) -> Self {
        Self {
            reason,
            message,
            transient,
        }
    }
}

/// Where ConfigMaps come from: the controllers keep a cache keyed by resourceVersion.
pub trait ConfigMaps {
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Arc<ConfigMap>>, kube::Error>> + Send;
}

/// Reads the source of a ProofVerification in `namespace`, refusing anything above `max_bytes`.
pub async fn read(
    config_maps: &impl ConfigMaps,
    client: &Client,
    fetcher: &Fetcher,
    namespace: &str,
    source: &ProofSource,
    max_bytes: u64,
) -> Result<SourceBytes, SourceError> {
    let bytes = if let Some(envelope) = &source.envelope {
        envelope.as_bytes().to_vec()
    } else if let Some(r) = &source.config_map_key_ref {
        let cm = config_maps
            .config_map(namespace, &r.name)
            .await
            .map_err(|e| api_error(e, "ConfigMap", namespace, &r.name))?;
        let cm = cm.ok_or_else(|| {
            SourceError::new(
                "ConfigMapNotFound",
                format!(
                    "ConfigMap {namespace}/{} not found: create it with the proof under key {} (kubectl create configmap {} -n {namespace} --from-file={}=bundle.zip)",
                    r.name, r.key, r.name, r.key
                ),
                false,
            )
        })?;
        let binary = cm
            .binary_data
            .as_ref()
            .and_then(|d| d.get(&r.key))
            .map(|b| b.0.clone());
        let text = cm
            .data
            .as_ref()
            .and_then(|d| d.get(&r.key))
            .map(|s| s.as_bytes().to_vec());
        binary.or(text).ok_or_else(|| {
            let mut keys: Vec<&String> = cm
                .data
                .iter()
                .flat_map(|d| d.keys())
                .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
                .collect();
            keys.sort();
            key_not_found("ConfigMap", namespace, &r.name, &r.key, &keys)
        })?
    } else if let Some(r) = &source.secret_key_ref {
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let secret = get(&api, "Secret", namespace, &r.name).await?;
        let secret = secret.ok_or_else(|| {
            SourceError::new(
                "SecretNotFound",
                format!(
                    "Secret {namespace}/{} not found: create it with the proof under key {}",
                    r.name, r.key
                ),
                false,
            )
        })?;
        let data = secret.data.unwrap_or_default();
        match data.get(&r.key) {
            Some(b) => b.0.clone(),
            None => {
                let mut keys: Vec<&String> = data.keys().collect();
                keys.sort();
                return Err(key_not_found("Secret", namespace, &r.name, &r.key, &keys));
            }
        }
    } else if let Some(u) = &source.url {
        let mut expect = FetchExpect::new(max_bytes).for_field("spec.source.url.url");
        if let Some(d) = &u.digest {
            let digest = d.parse().map_err(|e| {
                SourceError::new(
                    "InvalidSourceUrl",
                    format!("spec.source.url.digest: {e}"),
                    false,
                )
            })?;
            expect = expect.with_digest(digest);
        }
        let fetched = fetcher.fetch(&u.url, expect).await.map_err(|e| {
            let transient = e.is_transient() || e.reason() == "SourceUnavailable";
            SourceError::new(e.reason(), e.to_string(), transient)
        })?;
        return Ok(SourceBytes {
            bytes: fetched.bytes,
            digest: fetched.digest,
        });
    } else {
        return Err(SourceError::new(
            "NoSource",
            "spec.source names no url, configMapKeyRef, secretKeyRef or envelope: give exactly one"
                .into(),
            false,
        ));
    };
    if bytes.len() as u64 > max_bytes {
        return Err(SourceError::new(
            "SourceTooLarge",
            format!(
                "the proof is {} bytes, more than the operator's limit of {max_bytes} (--max-bundle-bytes)",
                bytes.len()
            ),
            false,
        ));
    }
    Ok(SourceBytes {
        digest: Sha256Digest::of(&bytes),
        bytes,
    })
}

async fn get<K>(
    api: &Api<K>,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<K>, SourceError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name)
        .await
        .map_err(|e| api_error(e, kind, namespace, name))
}

fn api_error(e: kube::Error, kind: &str, namespace: &str, name: &str) -> SourceError {
    match &e {
        kube::Error::Api(s) if s.code == 403 => SourceError::new(
            "SourceForbidden",
            format!(
                "the operator may not read {kind} {namespace}/{name}: {}: grant its ServiceAccount get on {} in {namespace}",
                s.message,
                kind.to_ascii_lowercase() + "s"
            ),
            false,
        ),
        _ => SourceError::new(
            "SourceUnavailable",
            format!("reading {kind} {namespace}/{name} failed: {e}"),
            true,
        ),
    }
}

fn key_not_found(
    kind: &str,
    namespace: &str,
    name: &str,
    key: &str,
    keys: &[&String],
) -> SourceError {
    let have = if keys.is_empty() {
        "it has no keys".to_string()
    } else {
        format!(
            "it has {}",
            keys.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    SourceError::new(
        "KeyNotFound",
        format!(
            "{kind} {namespace}/{name} has no key {key} ({have}): fix the key in spec.source or add it"
        ),
        false,
    )
}
