//! The webhook's hand-off to discovery. Every replica serves admission, but only the leader
//! creates ProofVerifications, and the leader may be another Pod. So a replica that denies (or
//! warns about) a digest a discovering issuer covers publishes a Normal Event
//! `DiscoveryRequested` about the ProofVerification to be created (`regarding` names it; `kubectl
//! get events --field-selector reason=DiscoveryRequested` lists them); the leader watches those Events
//! (`controllers/discovery.rs`) and creates the object. An Event is what a replica may already
//! write, needs no address of the leader, survives a change of leader, and shows in `kubectl
//! get events`. Publishing is off the request path (the Event queue of [`super::break_glass`]),
//! and one request per proof is sent at most every [`REPEAT_AFTER`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attestor_admission::Decision;
use k8s_openapi::api::core::v1::ObjectReference;

use super::break_glass::{BreakGlassRecord, BreakGlassSender};
use crate::discovery::{HAND_OFF_REASON, hand_off_note};

/// A hand-off is not repeated sooner: the leader needs one, retries would only add Events.
pub const REPEAT_AFTER: Duration = Duration::from_secs(15);
/// Proofs remembered at most (beyond, the oldest entries are dropped).
const REMEMBERED: usize = 4096;

/// Sends hand-offs, at most one per proof per [`REPEAT_AFTER`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HandOff {
    sender: BreakGlassSender,
    recent: Arc<Mutex<HashMap<(String, String), Instant>>>,
}

impl HandOff {
    pub fn new(sender: BreakGlassSender) -> Self {
        Self {
            sender,
            recent: Arc::default(),
        }
    }

    /// Hands over every discovery `decision` asks for; `body` is the review, read again for the
    /// workload's pull secrets only when there is something to hand over. Returns how many
    /// were sent (not repeats).
    pub fn request(&self, decision: &Decision, body: &[u8], dry_run: bool) -> usize {
        if dry_run {
            return 0;
        }
        let records = records(decision, body);
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() > REMEMBERED {
            recent.retain(|_, at| now.duration_since(*at) < REPEAT_AFTER);
        }
        let mut sent = 0;
        for record in records {
            let key = (
                record.reference.namespace.clone().unwrap_or_default(),
                record.reference.name.clone().unwrap_or_default(),
            );
            if recent
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < REPEAT_AFTER)
            {
                continue;
            }
            recent.insert(key, now);
            tracing::info!(
                namespace = ?record.reference.namespace,
                proof = ?record.reference.name,
                note = %record.note,
                "discovery requested"
            );
            self.sender.send(record);
            sent += 1;
        }
        sent
    }
}

/// The Events for a decision's discoveries.
pub fn records(decision: &Decision, body: &[u8]) -> Vec<BreakGlassRecord> {
    let mut found = decision.discoveries().peekable();
    if found.peek().is_none() {
        return Vec::new();
    }
    let (secrets, account) = credentials_of(body);
    found
        .map(|(verdict, discovery)| BreakGlassRecord {
            reference: ObjectReference {
                api_version: Some("attestor.stellaops.io/v1alpha1".into()),
                kind: Some("ProofVerification".into()),
                namespace: Some(discovery.proof.namespace.clone()),
                name: Some(discovery.proof.name.clone()),
                ..ObjectReference::default()
            },
            note: hand_off_note(
                &verdict.container.image,
                &discovery.issuer,
                &secrets,
                Some(account.as_str()),
            ),
            warning: false,
            reason: HAND_OFF_REASON,
            action: "Discover",
        })
        .collect()
}

/// Where the reviewed object's Pod spec is: a Pod's, a template's, or a CronJob's job template's.
const POD_SPECS: [&str; 3] = [
    "/spec",
    "/spec/template/spec",
    "/spec/jobTemplate/spec/template/spec",
];

/// The `imagePullSecrets` and the ServiceAccount (`default` when unnamed, as for the Pods it
/// makes) of the reviewed object's Pod spec, for the registry. Names only, and only valid ones;
/// anything unreadable gives none.
pub fn credentials_of(body: &[u8]) -> (Vec<String>, String) {
    let valid = |n: &&str| {
        !n.is_empty()
            && n.len() <= 253
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    let review = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    let object = &review["request"]["object"];
    let specs = || POD_SPECS.iter().filter_map(|p| object.pointer(p));
    let secrets = specs()
        .filter_map(|spec| spec["imagePullSecrets"].as_array())
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .filter(valid)
        .map(str::to_string)
        .take(8)
        .collect();
    let account = specs()
        .filter(|spec| spec.get("containers").is_some())
        .find_map(|spec| spec["serviceAccountName"].as_str())
        .filter(valid)
        .unwrap_or("default")
        .to_string();
    (secrets, account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_every_pod_spec_shape_and_only_valid_names() {
        let review = |object: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({"request": {"object": object}})).unwrap()
        };
        let spec = serde_json::json!({
            "containers": [{"name": "app"}],
            "serviceAccountName": "builder",
            "imagePullSecrets": [{"name": "regcred"}, {"name": "Bad Name"}, {"name": ""}, {}],
        });
        for object in [
            serde_json::json!({"spec": spec}),
            serde_json::json!({"spec": {"template": {"spec": spec}}}),
            serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}),
        ] {
            assert_eq!(
                credentials_of(&review(object)),
                (vec!["regcred".to_string()], "builder".to_string())
            );
        }
        assert_eq!(credentials_of(b"not json"), (vec![], "default".to_string()));
        let unnamed = serde_json::json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(
            credentials_of(&review(unnamed)),
            (vec![], "default".to_string())
        );
    }
}
