//! Reading a ProofVerification's `spec.source`: a ConfigMap or Secret key in the object's own
//! namespace, an inline envelope, or a URL. Every failure becomes a `SourceAvailable` reason and a
//! message that says what to do.

use std::sync::Arc;

use crate::controllers::sources::ObjectVersion;
use crate::fetch::{FetchExpect, Fetcher};
use attestor_api::proof_verification::ProofSource;
use attestor_core::digest::Sha256Digest;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// The proof's bytes.
#[derive(Debug, Clone)]
pub struct SourceBytes {
    pub bytes: Vec<u8>,
    pub digest: Sha256Digest,
    /// The bytes are a Secret's: nothing derived from them (their digest, size, or a parse
    /// error quoting them) may be shown unless they turn out to be a proof.
    pub from_secret: bool,
    /// The version of the ConfigMap or Secret read, for noticing changes (None for a URL or an
    /// inline envelope).
    pub object_version: Option<ObjectVersion>,
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
    /// The version of the ConfigMap or Secret that was read (`Some(None)`: it does not exist),
    /// when it was read at all.
    pub object_version: Option<ObjectVersion>,
}

impl SourceError {
    fn new(reason: &'static str, message: String, transient: bool) -> Self {
        Self {
            reason,
            message,
            transient,
            object_version: None,
        }
    }

    fn at(mut self, version: ObjectVersion) -> Self {
        self.object_version = Some(version);
        self
    }
}

/// Where ConfigMaps and Secrets come from: the controllers keep a cache of ConfigMaps keyed by
/// resourceVersion, and read Secrets each time (so that none stays in memory).
pub trait SourceObjects {
    fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Arc<ConfigMap>>, kube::Error>> + Send;

    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Option<Secret>, kube::Error>> + Send;
}

/// Reads the source of a ProofVerification in `namespace`, refusing anything above `max_bytes`.
pub async fn read(
    objects: &impl SourceObjects,
    fetcher: &Fetcher,
    namespace: &str,
    source: &ProofSource,
    max_bytes: u64,
) -> Result<SourceBytes, SourceError> {
    let mut from_secret = false;
    let mut object_version = None;
    let bytes = if let Some(envelope) = &source.envelope {
        envelope.as_bytes().to_vec()
    } else if let Some(r) = &source.config_map_key_ref {
        let cm = objects
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
            .at(None)
        })?;
        let version = cm.metadata.resource_version.clone().unwrap_or_default();
        object_version = Some(Some(version.clone()));
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
            config_map_key_not_found(namespace, &r.name, &r.key, &keys).at(Some(version.clone()))
        })?
    } else if let Some(r) = &source.secret_key_ref {
        from_secret = true;
        let secret = objects
            .secret(namespace, &r.name)
            .await
            .map_err(|e| api_error(e, "Secret", namespace, &r.name))?;
        let secret = secret.ok_or_else(|| {
            SourceError::new(
                "SecretNotFound",
                format!(
                    "Secret {namespace}/{} not found: create it with the proof under key {}",
                    r.name, r.key
                ),
                false,
            )
            .at(None)
        })?;
        let version = secret.metadata.resource_version.clone().unwrap_or_default();
        object_version = Some(Some(version.clone()));
        let data = secret.data.unwrap_or_default();
        match data.get(&r.key) {
            Some(b) => b.0.clone(),
            None => {
                return Err(secret_key_not_found(namespace, &r.name, &r.key).at(Some(version)));
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
            from_secret: false,
            object_version: None,
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
        let error = SourceError::new(
            "SourceTooLarge",
            too_large(bytes.len(), max_bytes, from_secret),
            false,
        );
        return Err(match object_version {
            Some(v) => error.at(v),
            None => error,
        });
    }
    Ok(SourceBytes {
        digest: Sha256Digest::of(&bytes),
        bytes,
        from_secret,
        object_version,
    })
}

/// The message of a proof over the limit; a Secret's exact size is not shown.
fn too_large(size: usize, max_bytes: u64, from_secret: bool) -> String {
    if from_secret {
        format!(
            "the Secret's key holds more than the operator's limit of {max_bytes} bytes (--max-bundle-bytes)"
        )
    } else {
        format!(
            "the proof is {size} bytes, more than the operator's limit of {max_bytes} (--max-bundle-bytes)"
        )
    }
}

/// The message when a Secret holds something that is not a proof: the parser's words would
/// quote or describe the Secret's contents, so they are withheld, and so are its digest and size.
pub fn secret_unreadable(namespace: &str, source: &ProofSource) -> String {
    let (name, key) = source
        .secret_key_ref
        .as_ref()
        .map_or(("", ""), |r| (r.name.as_str(), r.key.as_str()));
    format!(
        "key {key} of Secret {namespace}/{name} does not hold a readable proof (what the parser \
         found is not shown, since it would quote the Secret; check it with \
         `kubectl get secret {name} -n {namespace} -o jsonpath='{{.data.{key}}}' | base64 -d > proof` \
         and `attestor verify --bundle proof`)"
    )
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

fn config_map_key_not_found(
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
            "ConfigMap {namespace}/{name} has no key {key} ({have}): fix the key in spec.source or add it"
        ),
        false,
    )
}

/// A Secret's key names are part of the Secret: whoever may read this status may not be allowed
/// to read the Secret, so they are not listed (nor counted).
fn secret_key_not_found(namespace: &str, name: &str, key: &str) -> SourceError {
    SourceError::new(
        "KeyNotFound",
        format!(
            "Secret {namespace}/{name} has no key {key} (its keys are not shown; `kubectl describe secret {name} -n {namespace}` lists them to whoever may read it): fix the key in spec.source or add it"
        ),
        false,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    /// One ConfigMap and one Secret, both `bundles` in `shop`, with the given keys.
    struct Objects {
        config_map: Option<ConfigMap>,
        secret: Option<Secret>,
    }

    impl SourceObjects for Objects {
        async fn config_map(
            &self,
            _namespace: &str,
            _name: &str,
        ) -> Result<Option<Arc<ConfigMap>>, kube::Error> {
            Ok(self.config_map.clone().map(Arc::new))
        }

        async fn secret(
            &self,
            _namespace: &str,
            _name: &str,
        ) -> Result<Option<Secret>, kube::Error> {
            Ok(self.secret.clone())
        }
    }

    fn objects(keys: &[(&str, &[u8])]) -> Objects {
        let meta = kube::api::ObjectMeta {
            name: Some("bundles".into()),
            namespace: Some("shop".into()),
            resource_version: Some("42".into()),
            ..Default::default()
        };
        Objects {
            config_map: Some(ConfigMap {
                metadata: meta.clone(),
                binary_data: Some(
                    keys.iter()
                        .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..Default::default()
            }),
            secret: Some(Secret {
                metadata: meta,
                data: Some(
                    keys.iter()
                        .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..Default::default()
            }),
        }
    }

    fn source(kind: &str, key: &str) -> ProofSource {
        serde_json::from_value(serde_json::json!({kind: {"name": "bundles", "key": key}})).unwrap()
    }

    fn fetcher() -> Fetcher {
        Fetcher::new(Default::default()).unwrap()
    }

    async fn read_from(
        objects: &Objects,
        kind: &str,
        key: &str,
        max: u64,
    ) -> Result<SourceBytes, SourceError> {
        read(objects, &fetcher(), "shop", &source(kind, key), max).await
    }

    const SECRET_KEYS: &[(&str, &[u8])] = &[
        ("db-password", b"hunter2"),
        ("aws-access-key-id", b"AKIAEXAMPLE"),
    ];

    #[tokio::test]
    async fn a_missing_secret_key_names_none_of_the_secrets_keys() {
        let e = read_from(&objects(SECRET_KEYS), "secretKeyRef", "bundle.zip", 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(e.reason, "KeyNotFound");
        assert!(
            e.message
                .contains("Secret shop/bundles has no key bundle.zip"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("its keys are not shown"),
            "{}",
            e.message
        );
        for leaked in [
            "db-password",
            "aws-access-key-id",
            "hunter2",
            "AKIA",
            "2 keys",
        ] {
            assert!(!e.message.contains(leaked), "{leaked}: {}", e.message);
        }
        assert_eq!(e.object_version, Some(Some("42".into())));
    }

    #[tokio::test]
    async fn a_missing_config_map_key_lists_the_keys_it_has() {
        let e = read_from(
            &objects(&[("valid.zip", b"PK")]),
            "configMapKeyRef",
            "nope.zip",
            1 << 20,
        )
        .await
        .unwrap_err();
        assert_eq!(e.reason, "KeyNotFound");
        assert!(e.message.contains("(it has valid.zip)"), "{}", e.message);
    }

    #[tokio::test]
    async fn an_oversized_secret_does_not_say_its_size() {
        let e = read_from(&objects(SECRET_KEYS), "secretKeyRef", "db-password", 3)
            .await
            .unwrap_err();
        assert_eq!(e.reason, "SourceTooLarge");
        assert!(
            !e.message.contains('7'),
            "the Secret's length: {}",
            e.message
        );
        assert!(
            e.message
                .contains("more than the operator's limit of 3 bytes"),
            "{}",
            e.message
        );
        let e = read_from(&objects(SECRET_KEYS), "configMapKeyRef", "db-password", 3)
            .await
            .unwrap_err();
        assert!(e.message.contains("the proof is 7 bytes"), "{}", e.message);
    }

    #[tokio::test]
    async fn reads_record_the_version_they_saw() {
        let got = read_from(
            &objects(SECRET_KEYS),
            "secretKeyRef",
            "db-password",
            1 << 20,
        )
        .await
        .unwrap();
        assert!(got.from_secret);
        assert_eq!(got.object_version, Some(Some("42".into())));
        let none = Objects {
            config_map: None,
            secret: None,
        };
        let e = read_from(&none, "secretKeyRef", "k", 1 << 20)
            .await
            .unwrap_err();
        assert_eq!((e.reason, e.object_version), ("SecretNotFound", Some(None)));
        let e = read_from(&none, "configMapKeyRef", "k", 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(
            (e.reason, e.object_version),
            ("ConfigMapNotFound", Some(None))
        );
        let got = read_from(
            &objects(SECRET_KEYS),
            "configMapKeyRef",
            "db-password",
            1 << 20,
        )
        .await
        .unwrap();
        assert!(!got.from_secret);
    }

    #[test]
    fn the_unreadable_secret_message_names_the_key_and_nothing_it_holds() {
        let m = secret_unreadable("shop", &source("secretKeyRef", "db-password"));
        assert!(
            m.starts_with("key db-password of Secret shop/bundles does not hold a readable proof"),
            "{m}"
        );
        assert!(m.contains("is not shown"), "{m}");
        assert!(m.contains("jsonpath='{.data.db-password}'"), "{m}");
    }
}
