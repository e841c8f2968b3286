//! Recording a break-glass use: a Warning Event `BreakGlass` on the workload, with the reason
//! and the user, and `admission_break_glass_total{namespace}`. The Event is published off the
//! request path (a queue drained by one task): the API server waits for the review, not for an
//! Event write.

use attestor_admission::{BreakGlassUse, ReviewRequest, Target};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::controllers::FIELD_MANAGER;

/// Events queued at most; beyond, uses are still counted and logged, but not published.
const QUEUE: usize = 256;

/// An Event the webhook publishes: a break-glass use (Warning `BreakGlass` on the workload) or a
/// discovery hand-off (Normal `DiscoveryRequested` on the ProofVerification to be created,
/// read by the leader: see [`super::hand_off`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakGlassRecord {
    pub reference: ObjectReference,
    pub note: String,
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
}

/// What to record for a break-glass use in `request`; `body` is read again only for
/// `request.userInfo.username` (break-glass is rare, the common path never parses it twice).
pub fn record_of(request: &ReviewRequest, used: &BreakGlassUse, body: &[u8]) -> BreakGlassRecord {
    let (kind, namespace, name) = match &request.target {
        Target::Workload(w) => (
            w.kind.as_str().to_string(),
            w.namespace.clone(),
            w.metadata
                .name
                .clone()
                .or_else(|| w.metadata.generate_name.clone())
                .unwrap_or_default(),
        ),
        Target::Untouched(_) => (
            request.kind.kind.clone(),
            request.namespace.clone().unwrap_or_default(),
            request.name.clone().unwrap_or_default(),
        ),
    };
    let user = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/request/userInfo/username")
                .and_then(|u| u.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string());
    let api_version = if request.kind.group.is_empty() {
        request.kind.version.clone()
    } else {
        format!("{}/{}", request.kind.group, request.kind.version)
    };
    BreakGlassRecord {
        reference: ObjectReference {
            api_version: Some(api_version),
            kind: Some(kind),
            namespace: Some(namespace),
            name: Some(name),
            ..ObjectReference::default()
        },
        note: format!(
            "{} by {user} without a usable proof ({}): attestor.stellaops.io/break-glass says: {}",
            match request.operation {
                attestor_admission::Operation::Create => "created",
                attestor_admission::Operation::Update => "updated",
                other => other.as_str(),
            },
            used.overridden,
            used.reason
        ),
        warning: true,
        reason: "BreakGlass",
        action: "Admit",
    }
}

#[derive(Debug, Clone)]
pub struct BreakGlassSender(mpsc::Sender<BreakGlassRecord>);

impl BreakGlassSender {
    pub fn send(&self, record: BreakGlassRecord) {
        if let Err(e) = self.0.try_send(record) {
            tracing::warn!(error = %e, "webhook Event queue full: Event not published");
        }
    }
}

/// The queue and the task that publishes its Events until `cancel`.
pub fn start(
    client: Client,
    identity: String,
    cancel: CancellationToken,
) -> (BreakGlassSender, impl std::future::Future<Output = ()>) {
    let (tx, mut rx) = mpsc::channel::<BreakGlassRecord>(QUEUE);
    let recorder = Recorder::new(
        client,
        Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(identity),
        },
    );
    let task = async move {
        loop {
            let record = tokio::select! {
                () = cancel.cancelled() => return,
                record = rx.recv() => match record { Some(r) => r, None => return },
            };
            let event = Event {
                type_: if record.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: record.reason.into(),
                note: Some(record.note.chars().take(1000).collect()),
                action: record.action.into(),
                secondary: None,
            };
            if let Err(e) = recorder.publish(&event, &record.reference).await {
                tracing::warn!(error = %e, object = ?record.reference.name, reason = record.reason, "cannot publish the webhook's Event");
            }
        }
    };
    (BreakGlassSender(tx), task)
}
