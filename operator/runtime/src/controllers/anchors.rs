//! TrustAnchor: parse the key or certificate, report what it is and until when it holds, and
//! flip `Ready` / `ExpiringSoon` at the instants they change.

use std::sync::Arc;
use std::time::Duration;

use attestor_api::conditions::{EXPIRING_SOON, READY};
use attestor_api::{TrustAnchor, TrustAnchorStatus};
use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, predicates};
use kube::{Api, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::relations::Trigger;
use super::{Context, ReconcileError, log_result, patch_status, timed, until};
use crate::conditions::{self, Status};
use crate::verification::EventNote;

const NAME: &str = "trustanchor";

pub fn controller(
    ctx: &Arc<Context>,
    trigger: Trigger<TrustAnchor>,
    cancel: CancellationToken,
) -> impl Stream<Item = ()> + Send + use<> {
    let trigger = trigger.predicate_filter(predicates::generation, Default::default());
    let gone = ctx.clone();
    Controller::for_stream(trigger, ctx.anchors.clone())
        .graceful_shutdown_on(cancel.cancelled_owned())
        .run(reconcile, error_policy, ctx.clone())
        .map(move |result| {
            log_result(NAME, result, |obj| {
                gone.metrics.remove_anchor(&obj.name);
                gone.forget_anchor(&obj.name);
            })
        })
}

async fn reconcile(anchor: Arc<TrustAnchor>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    timed(&ctx.metrics, NAME, apply(&anchor, &ctx, Timestamp::now())).await
}

async fn apply(
    anchor: &TrustAnchor,
    ctx: &Context,
    now: Timestamp,
) -> Result<Action, ReconcileError> {
    let name = anchor.name_any();
    let parsed = ctx.parse_anchor(anchor);
    let evaluation = parsed.evaluate(now);
    let previous = anchor.status.clone().unwrap_or_default();
    let generation = anchor.metadata.generation;
    let status = TrustAnchorStatus {
        conditions: conditions::merge(
            &previous.conditions,
            &[evaluation.ready.clone(), evaluation.expiring_soon.clone()],
            generation,
            now,
        ),
        key_id: parsed.facts.key_id.clone(),
        algorithm: parsed.facts.algorithm.clone(),
        fingerprint: parsed.facts.fingerprint.clone(),
        not_before: parsed.facts.not_before.map(Time),
        not_after: parsed.facts.not_after.map(Time),
        sigstore: parsed.sigstore_summary(),
        observed_generation: generation,
    };
    if anchor.status.as_ref() != Some(&status) {
        let api: Api<TrustAnchor> = Api::all(ctx.client.clone());
        patch_status(&api, &name, &status)
            .await
            .map_err(|source| ReconcileError::StatusWrite {
                kind: "TrustAnchor",
                name: name.clone(),
                source,
            })?;
        let reference = anchor.object_ref(&());
        for note in transitions(&previous, &status) {
            ctx.publish(&reference, note, "Evaluate").await;
        }
        tracing::info!(
            anchor = %name,
            ready = %evaluation.ready.reason,
            expiring = %evaluation.expiring_soon.reason,
            "trust anchor evaluated"
        );
    }
    ctx.metrics.set_anchor(
        &name,
        evaluation.ready.status == Status::True,
        parsed.facts.not_after,
    );
    Ok(Action::requeue(until(now, evaluation.next_change)))
}

fn transitions(before: &TrustAnchorStatus, after: &TrustAnchorStatus) -> Vec<EventNote> {
    let mut notes = Vec::new();
    let changed = |t: &str| {
        let old = conditions::find(&before.conditions, t);
        let new = conditions::find(&after.conditions, t)?;
        old.is_none_or(|o| o.status != new.status || o.reason != new.reason)
            .then(|| new.clone())
    };
    if let Some(ready) = changed(READY) {
        notes.push(EventNote {
            warning: ready.status != "True",
            reason: if ready.status == "True" {
                "Ready".into()
            } else {
                ready.reason.clone()
            },
            note: ready.message.clone(),
        });
    }
    if let Some(expiring) = changed(EXPIRING_SOON)
        && expiring.status == "True"
    {
        notes.push(EventNote {
            warning: true,
            reason: "ExpiringSoon".into(),
            note: expiring.message.clone(),
        });
    }
    notes
}

fn error_policy(anchor: Arc<TrustAnchor>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(anchor = %anchor.name_any(), error = %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(15))
}
