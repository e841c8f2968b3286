//! Which ConfigMaps and Secrets ProofVerifications read, and noticing when they change.
//!
//! The operator may only `get` ConfigMaps and Secrets: RBAC cannot narrow `list` or `watch` to
//! the objects users name (names are theirs to choose, and label selectors are not part of an
//! RBAC rule), and a watch without a resourceVersion starts with every existing object, so
//! `watch` on Secrets is a read of every Secret in the cluster. Instead of a watch, every
//! `--source-poll-interval` the operator re-reads the *metadata* of each object some
//! ProofVerification names (one GET per object, however many ProofVerifications share it; the
//! API server sends no data for a metadata GET) and re-verifies the ProofVerifications that last
//! read another version of it, or found it missing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attestor_api::ProofVerification;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::lock;

/// The kind of object a source names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    ConfigMap,
    Secret,
}

/// A ConfigMap or Secret, in the namespace of the ProofVerification naming it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceKey {
    pub kind: SourceKind,
    pub namespace: String,
    pub name: String,
}

impl SourceKey {
    /// The object `pv` reads its proof from, if that is a ConfigMap or a Secret.
    pub fn of(pv: &ProofVerification) -> Option<Self> {
        let namespace = pv.namespace().unwrap_or_default();
        let source = &pv.spec.source;
        let (kind, name) = if let Some(r) = &source.config_map_key_ref {
            (SourceKind::ConfigMap, &r.name)
        } else if let Some(r) = &source.secret_key_ref {
            (SourceKind::Secret, &r.name)
        } else {
            return None;
        };
        Some(Self {
            kind,
            namespace,
            name: name.clone(),
        })
    }
}

/// The resourceVersion a read saw; `None` when the object did not exist.
pub type ObjectVersion = Option<String>;

/// What the operator last saw of each named object, and which version each
/// ProofVerification was last verified from.
#[derive(Debug, Default)]
pub struct SourceVersions {
    latest: Mutex<HashMap<SourceKey, ObjectVersion>>,
    /// (namespace, name) of a ProofVerification -> the object and version it read.
    read: Mutex<HashMap<(String, String), (SourceKey, ObjectVersion)>>,
}

impl SourceVersions {
    /// The version last seen of `key`, by the poller or a read; `None` if never seen.
    pub fn latest(&self, key: &SourceKey) -> Option<ObjectVersion> {
        lock(&self.latest).get(key).cloned()
    }

    pub fn saw(&self, key: SourceKey, version: ObjectVersion) {
        lock(&self.latest).insert(key, version);
    }

    /// The ProofVerification `namespace/name` was just verified from `version` of `key`.
    pub fn read_by(&self, namespace: &str, name: &str, key: SourceKey, version: ObjectVersion) {
        lock(&self.read).insert((namespace.to_string(), name.to_string()), (key, version));
    }

    /// The ProofVerifications whose object is now at another version than the one they read.
    /// Those not verified yet (or whose spec names another object since) are left to their own
    /// reconcile.
    fn stale(&self, verifications: &[Arc<ProofVerification>]) -> Vec<ObjectRef<ProofVerification>> {
        let latest = lock(&self.latest);
        let read = lock(&self.read);
        verifications
            .iter()
            .filter(|pv| {
                let Some(key) = SourceKey::of(pv) else {
                    return false;
                };
                let id = (pv.namespace().unwrap_or_default(), pv.name_any());
                match (read.get(&id), latest.get(&key)) {
                    (Some((read_key, read_version)), Some(now)) => {
                        *read_key == key && read_version != now
                    }
                    _ => false,
                }
            })
            .map(|pv| ObjectRef::from_obj(pv.as_ref()))
            .collect()
    }

    /// Forgets ProofVerifications and objects no ProofVerification names any more.
    fn retain(&self, verifications: &[Arc<ProofVerification>], named: &HashSet<SourceKey>) {
        let alive: HashSet<(String, String)> = verifications
            .iter()
            .map(|pv| (pv.namespace().unwrap_or_default(), pv.name_any()))
            .collect();
        lock(&self.read).retain(|id, _| alive.contains(id));
        lock(&self.latest).retain(|key, _| named.contains(key));
    }
}

/// The metadata of `key` now: `Ok(None)` when it does not exist.
async fn current_version(client: &Client, key: &SourceKey) -> Result<ObjectVersion, kube::Error> {
    let meta = match key.kind {
        SourceKind::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), &key.namespace)
            .get_metadata_opt(&key.name)
            .await?
            .map(|m| m.metadata.resource_version),
        SourceKind::Secret => Api::<Secret>::namespaced(client.clone(), &key.namespace)
            .get_metadata_opt(&key.name)
            .await?
            .map(|m| m.metadata.resource_version),
    };
    Ok(meta.map(|rv| rv.unwrap_or_default()))
}

/// Every `interval` until `cancel`: re-reads the version of every named object and sends the
/// ProofVerifications that read another one.
pub async fn poll(
    client: Client,
    verifications: Store<ProofVerification>,
    versions: Arc<SourceVersions>,
    interval: Duration,
    changed: UnboundedSender<ObjectRef<ProofVerification>>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let all = verifications.state();
        let named: HashSet<SourceKey> = all.iter().filter_map(|pv| SourceKey::of(pv)).collect();
        for key in &named {
            if cancel.is_cancelled() {
                return;
            }
            match current_version(&client, key).await {
                Ok(version) => versions.saw(key.clone(), version),
                // Not fatal: the object is looked at again next time, and verifications keep
                // their own re-verify interval. The message names no data of the object.
                Err(e) => tracing::warn!(
                    kind = ?key.kind,
                    object = %format!("{}/{}", key.namespace, key.name),
                    error = %e,
                    "cannot read the metadata of a proof source"
                ),
            }
        }
        for pv in versions.stale(&all) {
            tracing::debug!(verification = %pv, "its ConfigMap or Secret changed: re-verifying");
            let _ = changed.send(pv);
        }
        versions.retain(&all, &named);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(ns: &str, name: &str, source: serde_json::Value) -> Arc<ProofVerification> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "attestor.stellaops.io/v1alpha1",
                "kind": "ProofVerification",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "artifactDigest": format!("sha256:{}", "ab".repeat(32)),
                    "source": source,
                    "issuerRef": {"name": "ci"},
                },
            }))
            .unwrap(),
        )
    }

    fn cm(name: &str) -> serde_json::Value {
        serde_json::json!({"configMapKeyRef": {"name": name, "key": "b.zip"}})
    }

    fn key(kind: SourceKind, name: &str) -> SourceKey {
        SourceKey {
            kind,
            namespace: "shop".into(),
            name: name.into(),
        }
    }

    #[test]
    fn the_source_of_a_verification_is_its_configmap_or_secret() {
        assert_eq!(
            SourceKey::of(&pv("shop", "a", cm("bundles"))),
            Some(key(SourceKind::ConfigMap, "bundles"))
        );
        let secret = serde_json::json!({"secretKeyRef": {"name": "vault", "key": "b.zip"}});
        assert_eq!(
            SourceKey::of(&pv("shop", "a", secret)),
            Some(key(SourceKind::Secret, "vault"))
        );
        let url = serde_json::json!({"url": {"url": "https://b.example/x.zip"}});
        assert_eq!(SourceKey::of(&pv("shop", "a", url)), None);
    }

    #[test]
    fn only_verifications_that_read_another_version_are_stale() {
        let v = SourceVersions::default();
        let (a, b, c) = (
            pv("shop", "a", cm("bundles")),
            pv("shop", "b", cm("bundles")),
            pv("shop", "c", cm("other")),
        );
        let all = vec![a.clone(), b.clone(), c.clone()];
        let bundles = key(SourceKind::ConfigMap, "bundles");
        v.read_by("shop", "a", bundles.clone(), Some("1".into()));
        v.read_by("shop", "b", bundles.clone(), Some("2".into()));
        // c has not been verified yet: its own reconcile reads it.
        v.saw(bundles.clone(), Some("2".into()));
        v.saw(key(SourceKind::ConfigMap, "other"), Some("9".into()));
        assert_eq!(v.stale(&all), [ObjectRef::from_obj(a.as_ref())]);
        // Deleted, then re-created: both differ from what they read.
        v.saw(bundles.clone(), None);
        assert_eq!(v.stale(&all).len(), 2);
        v.read_by("shop", "a", bundles.clone(), None);
        v.read_by("shop", "b", bundles.clone(), None);
        assert!(v.stale(&all).is_empty());
        v.saw(bundles.clone(), Some("3".into()));
        assert_eq!(v.stale(&all).len(), 2);
    }

    #[test]
    fn a_verification_that_names_another_object_now_is_not_stale_for_the_old_one() {
        let v = SourceVersions::default();
        let moved = pv("shop", "a", cm("new"));
        v.read_by(
            "shop",
            "a",
            key(SourceKind::ConfigMap, "old"),
            Some("1".into()),
        );
        v.saw(key(SourceKind::ConfigMap, "new"), Some("5".into()));
        assert!(v.stale(std::slice::from_ref(&moved)).is_empty());
    }

    #[test]
    fn forgotten_verifications_and_objects_leave_the_maps() {
        let v = SourceVersions::default();
        let kept = pv("shop", "kept", cm("bundles"));
        let bundles = key(SourceKind::ConfigMap, "bundles");
        v.read_by("shop", "kept", bundles.clone(), Some("1".into()));
        v.read_by("shop", "gone", bundles.clone(), Some("1".into()));
        v.saw(bundles.clone(), Some("1".into()));
        v.saw(key(SourceKind::Secret, "unused"), Some("1".into()));
        v.retain(
            std::slice::from_ref(&kept),
            &HashSet::from([bundles.clone()]),
        );
        assert_eq!(lock(&v.read).len(), 1);
        assert_eq!(v.latest(&bundles), Some(Some("1".into())));
        assert_eq!(v.latest(&key(SourceKind::Secret, "unused")), None);
    }
}
