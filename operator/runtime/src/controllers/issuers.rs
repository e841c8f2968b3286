//! TrustedIssuer: refresh the key directory when due, and decide `Trusted` from the approval,
//! the anchors and the keys.

use std::sync::Arc;
use std::time::Duration;

use attestor_api::conditions::TRUSTED;
use attestor_api::{TrustedIssuer, TrustedIssuerStatus};
use futures::{Stream, StreamExt};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, predicates};
use kube::{Api, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::relations::{Relations, Trigger};
use super::{Context, MAX_REQUEUE, ReconcileError, log_result, patch_status, timed, until};
use crate::conditions::{self, Status};
use crate::verification::EventNote;

const NAME: &str = "trustedissuer";
const DEFAULT_REFRESH: SignedDuration = SignedDuration::from_hours(1);
/// After a failed refresh, try again sooner than the refresh interval, but not in a tight loop.
const RETRY_AFTER_FAILURE: SignedDuration = SignedDuration::from_secs(60);

pub fn controller(
    ctx: &Arc<Context>,
    trigger: Trigger<TrustedIssuer>,
    relations: Relations<TrustedIssuer>,
    cancel: CancellationToken,
) -> impl Stream<Item = ()> + Send + use<> {
    let trigger = trigger.predicate_filter(predicates::generation, Default::default());
    let gone = ctx.clone();
    Controller::for_stream(trigger, ctx.issuers.clone())
        .reconcile_on(relations)
        .graceful_shutdown_on(cancel.cancelled_owned())
        .run(reconcile, error_policy, ctx.clone())
        .map(move |result| log_result(NAME, result, |obj| gone.metrics.remove_issuer(&obj.name)))
}

async fn reconcile(
    issuer: Arc<TrustedIssuer>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    timed(&ctx.metrics, NAME, apply(&issuer, &ctx)).await
}

async fn apply(issuer: &TrustedIssuer, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = issuer.name_any();
    let previous = issuer.status.clone().unwrap_or_default();
    let generation = issuer.metadata.generation;
    let mut notes = Vec::new();
    let mut next_refresh = None;
    if let Some(directory) = &issuer.spec.directory {
        let interval =
            attestor_api::duration::parse(&directory.refresh_interval).unwrap_or(DEFAULT_REFRESH);
        let state = ctx.directories.status(&directory.url, &issuer.spec.issuer);
        let now = Timestamp::now();
        let due_at = state.as_ref().and_then(|s| {
            let failing = s
                .last_error
                .as_ref()
                .is_some_and(|e| s.last_success.is_none_or(|ok| e.at > ok));
            let wait = if failing {
                interval.min(RETRY_AFTER_FAILURE)
            } else {
                interval
            };
            s.last_attempt.map(|t| t + wait)
        });
        let spec_changed = previous.observed_generation != generation;
        if spec_changed || due_at.is_none_or(|t| t <= now) {
            let outcome = ctx
                .directories
                .refresh(&ctx.fetcher, &directory.url, &issuer.spec.issuer, now)
                .await;
            ctx.metrics
                .observe_key_fetch(&name, outcome.error().is_none());
            if let Some(e) = outcome.error() {
                notes.push(EventNote {
                    warning: true,
                    reason: "KeyFetchFailed".into(),
                    note: format!(
                        "{e}: {}",
                        if outcome.keys().is_some() {
                            "the last good keys stay in use"
                        } else {
                            "no keys were fetched before"
                        }
                    ),
                });
                next_refresh = Some(now + interval.min(RETRY_AFTER_FAILURE));
            } else {
                next_refresh = Some(now + interval);
            }
        } else {
            next_refresh = due_at;
        }
    }

    let now = Timestamp::now();
    let evaluation = ctx.evaluate_issuer(issuer, now);
    let directory = issuer
        .spec
        .directory
        .as_ref()
        .and_then(|d| ctx.directories.status(&d.url, &issuer.spec.issuer));
    let status = TrustedIssuerStatus {
        conditions: conditions::merge(
            &previous.conditions,
            std::slice::from_ref(&evaluation.trusted),
            generation,
            now,
        ),
        key_count: Some(evaluation.usable_key_ids.len() as i32),
        key_ids: evaluation.usable_key_ids.clone(),
        trusted_root_count: (!evaluation.roots.is_empty())
            .then(|| i32::try_from(evaluation.roots.len()).unwrap_or(i32::MAX)),
        last_key_fetch_time: directory.as_ref().and_then(|d| d.last_success).map(Time),
        last_key_fetch_error: directory
            .as_ref()
            .and_then(|d| d.last_error.as_ref())
            .map(|e| format!("{} at {}: {}", e.reason, e.at, e.message)),
        observed_generation: generation,
    };
    if issuer.status.as_ref() != Some(&status) {
        let api: Api<TrustedIssuer> = Api::all(ctx.client.clone());
        patch_status(&api, &name, &status)
            .await
            .map_err(|source| ReconcileError::StatusWrite {
                kind: "TrustedIssuer",
                name: name.clone(),
                source,
            })?;
        let old = conditions::find(&previous.conditions, TRUSTED);
        let new = &evaluation.trusted;
        if old.is_none_or(|o| o.status != new.status.as_str() || o.reason != new.reason) {
            notes.push(EventNote {
                warning: new.status != Status::True,
                reason: if new.status == Status::True {
                    "Trusted".into()
                } else {
                    new.reason.clone()
                },
                note: new.message.clone(),
            });
        }
        tracing::info!(issuer = %name, trusted = %evaluation.trusted.reason, keys = evaluation.usable_key_ids.len(), "trusted issuer evaluated");
    }
    let reference = issuer.object_ref(&());
    for note in notes {
        ctx.publish(&reference, note, "Evaluate").await;
    }
    ctx.metrics.set_issuer(&name, evaluation.is_trusted());
    // Directory keys expire on their own; anchors tell us through their status.
    let key_expiry = issuer.spec.directory.as_ref().and_then(|d| {
        ctx.directories
            .keys(&d.url, &issuer.spec.issuer)?
            .keys
            .iter()
            .flat_map(|k| [k.not_before, k.expires])
            .flatten()
            .filter(|t| *t > now)
            .min()
    });
    let next = [next_refresh, key_expiry].into_iter().flatten().min();
    Ok(Action::requeue(until(now, next).min(MAX_REQUEUE)))
}

fn error_policy(issuer: Arc<TrustedIssuer>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(issuer = %issuer.name_any(), error = %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(15))
}
