//! ReplayJob: decide when a run is due (schedule, the `run-now` annotation, a new feed snapshot),
//! run it in this (the leader's) process with at most `maxConcurrency` replays in flight, and
//! report in the job's status, the replayed ProofVerifications' `status.lastReplay`, Events and
//! metrics. The rules are in [`crate::replay`]; this is the plumbing. docs/replay.md describes
//! the behaviour.
//!
//! One in-memory state per job (its status as last written, the active run) behind an async
//! mutex: the reconciler and the run task both write the status, always from that state, so
//! neither undoes the other's fields.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attestor_api::proof_verification::{LastReplay, ProofFormat, ReplayResult};
use attestor_api::replay_job::{
    ConcurrencyPolicy, DriftedProof, ReplayJobSpec, RunResult, RunSummary,
};
use attestor_api::{API_VERSION, ProofVerification, ReplayJob, ReplayJobStatus};
use attestor_score::SnapshotStore;
use attestor_score::error::InputKind;
use futures::{Stream, StreamExt};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{Context, MAX_REQUEUE, ReconcileError, lock, log_result, patch_status, timed, until};
use crate::conditions::{self, Decided, Status};
use crate::metrics::ReplayOutcome;
use crate::replay::plan::{self, Selector};
use crate::replay::schedule::{self, Due, Schedule};
use crate::replay::{ProofOutcome, ReplayOptions, Store, drift_cause, open_store, replay_bundle};
use crate::verification::EventNote;

const NAME: &str = "replayjob";
/// The field manager of `ProofVerification.status.lastReplay`: the ProofVerification controller
/// applies the rest of that status as `attestor-operator`.
pub const REPLAY_FIELD_MANAGER: &str = "attestor-replay";
/// Setting this annotation to a new value starts a run.
pub const RUN_NOW_ANNOTATION: &str = "attestor.stellaops.io/run-now";
const READY: &str = attestor_api::conditions::READY;
const RUNNING: &str = attestor_api::conditions::RUNNING;
const LAST_RUN_SUCCEEDED: &str = attestor_api::conditions::LAST_RUN_SUCCEEDED;

pub struct Replays {
    ctx: Arc<Context>,
    jobs: Mutex<HashMap<(String, String), Arc<Job>>>,
    /// Cancels every run when leadership ends.
    cancel: CancellationToken,
}

struct Job {
    state: tokio::sync::Mutex<JobState>,
}

#[derive(Default)]
struct JobState {
    uid: Option<String>,
    /// The status as last written (or as read, before the first write).
    status: Option<ReplayJobStatus>,
    /// The last write failed: write again even if nothing changed.
    dirty: bool,
    active: Option<Active>,
    next_run: u64,
    last_poll: Option<Instant>,
}

struct Active {
    id: u64,
    cancel: CancellationToken,
}

pub fn controller(
    ctx: &Arc<Context>,
    cancel: CancellationToken,
) -> impl Stream<Item = ()> + Send + use<> {
    let replays = Arc::new(Replays {
        ctx: ctx.clone(),
        jobs: Mutex::default(),
        cancel: cancel.clone(),
    });
    let gone = replays.clone();
    let api: Api<ReplayJob> = Api::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(cancel.cancelled_owned())
        .run(reconcile, error_policy, replays)
        .map(move |result| {
            log_result(NAME, result, |obj| {
                gone.forget(obj.namespace.as_deref().unwrap_or_default(), &obj.name)
            })
        })
}

impl Replays {
    fn job(&self, namespace: &str, name: &str) -> Arc<Job> {
        lock(&self.jobs)
            .entry((namespace.to_string(), name.to_string()))
            .or_insert_with(|| {
                Arc::new(Job {
                    state: tokio::sync::Mutex::new(JobState::default()),
                })
            })
            .clone()
    }

    /// A deleted job: cancel its run and drop its state.
    fn forget(&self, namespace: &str, name: &str) {
        if let Some(job) = lock(&self.jobs).remove(&(namespace.to_string(), name.to_string()))
            && let Ok(state) = job.state.try_lock()
            && let Some(active) = &state.active
        {
            active.cancel.cancel();
        }
    }
}

async fn reconcile(job: Arc<ReplayJob>, r: Arc<Replays>) -> Result<Action, ReconcileError> {
    let metrics = r.ctx.metrics.clone();
    timed(&metrics, NAME, apply(job, r)).await
}

fn error_policy(job: Arc<ReplayJob>, error: &ReconcileError, _r: Arc<Replays>) -> Action {
    tracing::warn!(
        replayjob = %format!("{}/{}", job.namespace().unwrap_or_default(), job.name_any()),
        error = %error,
        "reconcile failed; retrying"
    );
    Action::requeue(Duration::from_secs(10))
}

/// A valid spec, parsed.
struct Valid {
    schedule: Option<Schedule>,
    store: Store,
    selector: Selector,
    max_age: Option<SignedDuration>,
}

/// Parses the spec; `Err` is a `Ready=False` reason and a message saying what to fix.
fn validate(
    spec: &ReplayJobSpec,
    now: Timestamp,
    fetcher: &crate::fetch::Fetcher,
    allow_file_stores: bool,
) -> Result<Valid, (&'static str, String)> {
    let schedule = match &spec.schedule {
        Some(s) => Some(
            Schedule::parse(s, spec.time_zone.as_deref(), now)
                .map_err(|e| (e.reason(), e.message().to_string()))?,
        ),
        None if spec.time_zone.is_some() => {
            // A zone without a schedule is harmless, but still checked.
            Schedule::parse("@daily", spec.time_zone.as_deref(), now)
                .map_err(|e| (e.reason(), e.message().to_string()))?;
            None
        }
        None => None,
    };
    if schedule.is_none() && !spec.triggers.on_new_feed_snapshot {
        return Err((
            "InvalidSchedule",
            "give spec.schedule or set spec.triggers.onNewFeedSnapshot: true, or the job never runs"
                .into(),
        ));
    }
    let store = open_store(&spec.store.url, fetcher, allow_file_stores)
        .map_err(|m| ("StoreUnavailable", m))?;
    let selector = Selector::parse(spec.selector.as_ref()).map_err(|m| ("InvalidSelector", m))?;
    let max_age = spec
        .max_age
        .as_deref()
        .map(attestor_api::duration::parse)
        .transpose()
        .map_err(|e| ("InvalidMaxAge", format!("spec.maxAge: {e}")))?;
    Ok(Valid {
        schedule,
        store,
        selector,
        max_age,
    })
}

/// What started a run (or would have).
#[derive(Debug, Clone)]
enum Fired {
    Schedule {
        scheduled: Timestamp,
        caught_up: bool,
    },
    RunNow(String),
    NewFeedSnapshot(String),
}

impl Fired {
    fn name(&self) -> &'static str {
        match self {
            Fired::Schedule { .. } => "Schedule",
            Fired::RunNow(_) => "RunNow",
            Fired::NewFeedSnapshot(_) => "NewFeedSnapshot",
        }
    }

    fn describe(&self) -> String {
        match self {
            Fired::Schedule {
                scheduled,
                caught_up: false,
            } => format!("scheduled for {scheduled}"),
            Fired::Schedule {
                scheduled,
                caught_up: true,
            } => {
                format!("scheduled for {scheduled} (catching up: earlier missed times are skipped)")
            }
            Fired::RunNow(token) => format!("{RUN_NOW_ANNOTATION}={token:?}"),
            Fired::NewFeedSnapshot(d) => format!("new feed snapshot {d}"),
        }
    }

    /// Marks the trigger handled in the status.
    fn handle(&self, status: &mut ReplayJobStatus) {
        match self {
            Fired::Schedule { scheduled, .. } => status.last_schedule_time = Some(Time(*scheduled)),
            Fired::RunNow(token) => status.last_run_now = Some(token.clone()),
            Fired::NewFeedSnapshot(d) => status.feed_snapshot = Some(d.clone()),
        }
    }
}

async fn apply(job: Arc<ReplayJob>, r: Arc<Replays>) -> Result<Action, ReconcileError> {
    let namespace = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let entry = r.job(&namespace, &name);
    let mut st = entry.state.lock().await;
    if st.uid != job.metadata.uid {
        // First look, or the job was deleted and created again under its name.
        if let Some(active) = st.active.take() {
            active.cancel.cancel();
        }
        *st = JobState {
            uid: job.metadata.uid.clone(),
            status: Some(job.status.clone().unwrap_or_default()),
            ..JobState::default()
        };
    }
    let ctx = &r.ctx;
    let spec = &job.spec;
    let now = Timestamp::now();
    let generation = job.metadata.generation;
    let previous = st.status.clone().unwrap_or_default();
    let mut status = previous.clone();
    status.observed_generation = generation;
    let reference = job.object_ref(&());
    let mut events: Vec<EventNote> = Vec::new();

    let valid = match validate(spec, now, &ctx.fetcher, ctx.settings.allow_file_stores) {
        Ok(v) => v,
        Err((reason, message)) => {
            status.next_run_time = None;
            status.conditions = conditions::merge(
                &previous.conditions,
                &[
                    Decided::new(READY, Status::False, reason, &message),
                    running_condition(st.active.is_some()),
                ],
                generation,
                now,
            );
            if reason_changed(&previous, reason) {
                events.push(EventNote {
                    warning: true,
                    reason: reason.to_string(),
                    note: message,
                });
            }
            write_job(ctx, &namespace, &name, &mut st, status).await?;
            drop(st);
            publish_all(ctx, &reference, events).await;
            return Ok(Action::requeue(MAX_REQUEUE));
        }
    };

    let mut fired: Vec<Fired> = Vec::new();
    let mut next = None;
    let created = job
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    if let Some(s) = &valid.schedule {
        let decision = schedule::decide(
            s,
            status.last_schedule_time.as_ref().map(|t| t.0),
            created,
            now,
            spec.starting_deadline_seconds,
        );
        next = decision.next;
        if !spec.suspend {
            match decision.due {
                Some(Due::Run {
                    scheduled,
                    caught_up,
                }) => fired.push(Fired::Schedule {
                    scheduled,
                    caught_up,
                }),
                Some(Due::Missed { scheduled }) => {
                    status.last_schedule_time = Some(Time(scheduled));
                    status.conditions = conditions::merge(
                        &status.conditions,
                        &[Decided::new(
                            LAST_RUN_SUCCEEDED,
                            Status::False,
                            "DeadlineExceeded",
                            format!(
                                "the run scheduled for {scheduled} could not start within startingDeadlineSeconds"
                            ),
                        )],
                        generation,
                        now,
                    );
                    ctx.metrics.replay.run("skipped");
                    events.push(EventNote {
                        warning: true,
                        reason: "RunSkipped".into(),
                        note: format!(
                            "missed the run scheduled for {scheduled}: more than startingDeadlineSeconds ({}s) ago; earlier missed runs are not made up either",
                            spec.starting_deadline_seconds.unwrap_or_default()
                        ),
                    });
                }
                None => {}
            }
        }
    }
    if !spec.suspend
        && let Some(token) = job.annotations().get(RUN_NOW_ANNOTATION)
        && status.last_run_now.as_deref() != Some(token.as_str())
    {
        fired.push(Fired::RunNow(token.clone()));
    }
    let poll = ctx.settings.replay_feed_poll;
    if spec.triggers.on_new_feed_snapshot && st.last_poll.is_none_or(|t| t.elapsed() >= poll) {
        st.last_poll = Some(Instant::now());
        match valid.store.latest(InputKind::Feed).await {
            Ok(latest) => {
                let latest = latest.to_string();
                match &status.feed_snapshot {
                    // The first snapshot seen is the baseline, not news.
                    None => status.feed_snapshot = Some(latest),
                    Some(seen) if *seen != latest && !spec.suspend => {
                        fired.push(Fired::NewFeedSnapshot(latest))
                    }
                    _ => {}
                }
            }
            Err(e) => tracing::warn!(
                replayjob = %format!("{namespace}/{name}"),
                error = %e,
                "cannot read the store's latest feed snapshot"
            ),
        }
    }

    if !fired.is_empty() {
        for f in &fired {
            f.handle(&mut status);
        }
        let why = fired
            .iter()
            .map(Fired::describe)
            .collect::<Vec<_>>()
            .join(", ");
        let start = match on_due(st.active.is_some(), spec.concurrency_policy) {
            OnDue::Skip => {
                ctx.metrics.replay.run("skipped");
                events.push(EventNote {
                    warning: true,
                    reason: "RunSkipped".into(),
                    note: format!(
                        "a run is due ({why}) but the previous one still runs (concurrencyPolicy: Forbid)"
                    ),
                });
                false
            }
            OnDue::Replace => {
                if let Some(active) = &st.active {
                    active.cancel.cancel();
                }
                true
            }
            OnDue::Start => true,
        };
        if start {
            st.next_run += 1;
            let id = st.next_run;
            let cancel = r.cancel.child_token();
            st.active = Some(Active {
                id,
                cancel: cancel.clone(),
            });
            status.last_run = Some(RunSummary {
                start_time: Time(now),
                completion_time: None,
                trigger: Some(fired[0].name().to_string()),
                result: None,
                total: 0,
                reproduced: 0,
                drifted: 0,
                failed: 0,
                skipped: 0,
            });
            events.push(EventNote {
                warning: false,
                reason: "ReplayStarted".into(),
                note: format!("replay started: {why}"),
            });
            let run = Run {
                id,
                cancel,
                namespace: namespace.clone(),
                name: name.clone(),
                start: now,
                trigger: fired[0].name(),
                spec: spec.clone(),
                store: valid.store.clone(),
                selector: valid.selector.clone(),
                max_age: valid.max_age,
                reference: reference.clone(),
            };
            tokio::spawn(execute(r.clone(), entry.clone(), run));
        }
    }

    status.next_run_time = if spec.suspend { None } else { next.map(Time) };
    let ready = if spec.suspend {
        Decided::new(
            READY,
            Status::True,
            "Suspended",
            "spec.suspend is true: no new runs start",
        )
    } else {
        let mut parts = Vec::new();
        if let Some(n) = next {
            parts.push(format!("next scheduled run at {n}"));
        }
        if spec.triggers.on_new_feed_snapshot {
            parts.push("runs when the store's latest feed snapshot changes".to_string());
        }
        let reason = if next.is_some() {
            "Scheduled"
        } else {
            "WaitingForTrigger"
        };
        Decided::new(READY, Status::True, reason, parts.join("; "))
    };
    let mut decided = vec![ready, running_condition(st.active.is_some())];
    if conditions::find(&status.conditions, LAST_RUN_SUCCEEDED).is_none() {
        decided.push(Decided::new(
            LAST_RUN_SUCCEEDED,
            Status::Unknown,
            "NeverRun",
            "the job has not run yet",
        ));
    }
    status.conditions = conditions::merge(&status.conditions, &decided, generation, now);
    write_job(ctx, &namespace, &name, &mut st, status).await?;
    drop(st);
    publish_all(ctx, &reference, events).await;

    let mut after = if spec.suspend {
        MAX_REQUEUE
    } else {
        until(now, next)
    };
    if spec.triggers.on_new_feed_snapshot {
        after = after.min(poll);
    }
    Ok(Action::requeue(after))
}

/// What a due run does, given whether one is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDue {
    Start,
    /// `Forbid`: skip the due run.
    Skip,
    /// `Replace`: cancel the running one, then start.
    Replace,
}

fn on_due(active: bool, policy: ConcurrencyPolicy) -> OnDue {
    match (active, policy) {
        (false, _) => OnDue::Start,
        (true, ConcurrencyPolicy::Forbid) => OnDue::Skip,
        (true, ConcurrencyPolicy::Replace) => OnDue::Replace,
    }
}

fn reason_changed(previous: &ReplayJobStatus, reason: &str) -> bool {
    conditions::find(&previous.conditions, READY).is_none_or(|c| c.reason != reason)
}

fn running_condition(active: bool) -> Decided {
    if active {
        Decided::new(
            RUNNING,
            Status::True,
            "Running",
            "a replay run is in progress",
        )
    } else {
        Decided::new(
            RUNNING,
            Status::False,
            "Idle",
            "no replay run is in progress",
        )
    }
}

async fn publish_all(
    ctx: &Context,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    events: Vec<EventNote>,
) {
    for note in events {
        ctx.publish(reference, note, "Replay").await;
    }
}

/// Writes the job's status when it differs from the last written one.
async fn write_job(
    ctx: &Context,
    namespace: &str,
    name: &str,
    st: &mut JobState,
    status: ReplayJobStatus,
) -> Result<(), ReconcileError> {
    if !st.dirty && st.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<ReplayJob> = Api::namespaced(ctx.client.clone(), namespace);
    let result = patch_status(&api, name, &status).await;
    st.status = Some(status);
    st.dirty = result.is_err();
    result.map_err(|source| ReconcileError::StatusWrite {
        kind: "ReplayJob",
        name: format!("{namespace}/{name}"),
        source,
    })
}

/// One run, as started.
struct Run {
    id: u64,
    cancel: CancellationToken,
    namespace: String,
    name: String,
    start: Timestamp,
    trigger: &'static str,
    spec: ReplayJobSpec,
    store: Store,
    selector: Selector,
    max_age: Option<SignedDuration>,
    reference: k8s_openapi::api::core::v1::ObjectReference,
}

/// The result of one proof in a run.
struct ProofDone {
    pv: ProofVerification,
    outcome: ProofOutcome,
}

async fn execute(r: Arc<Replays>, entry: Arc<Job>, run: Run) {
    let ctx = r.ctx.clone();
    let selected: Vec<ProofVerification> = {
        let all = ctx.verifications.state();
        plan::select(
            all.iter().map(|p| p.as_ref()),
            &run.namespace,
            &run.selector,
        )
        .into_iter()
        .cloned()
        .collect()
    };
    let queued = selected.len() as i64;
    let started = Arc::new(AtomicI64::new(0));
    ctx.metrics.replay.queue(queued);
    let options = ReplayOptions {
        snapshots: run.spec.snapshots,
        skip_unchanged: run.spec.skip_unchanged,
        max_age: run.max_age,
        now: run.start,
    };
    let concurrency = usize::try_from(run.spec.max_concurrency.max(1)).unwrap_or(1);
    let mut results = futures::stream::iter(selected)
        .map(|pv| {
            let ctx = ctx.clone();
            let store = &run.store;
            let options = &options;
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::Relaxed);
                ctx.metrics.replay.queue(-1);
                let timer = Instant::now();
                let outcome = replay_pv(&ctx, store, &pv, options).await;
                observe(&ctx, &outcome, timer.elapsed());
                if let Some(last) = last_replay(&pv, &outcome, Timestamp::now()) {
                    write_last_replay(&ctx, &pv, &last).await;
                }
                ProofDone { pv, outcome }
            }
        })
        .buffer_unordered(concurrency);
    let mut done: Vec<ProofDone> = Vec::new();
    let cancelled = loop {
        tokio::select! {
            biased;
            _ = run.cancel.cancelled() => break true,
            next = results.next() => match next {
                Some(d) => done.push(d),
                None => break false,
            },
        }
    };
    drop(results);
    ctx.metrics
        .replay
        .queue(-(queued - started.load(Ordering::Relaxed)));
    finish(&r, &entry, &run, done, cancelled).await;
}

async fn replay_pv(
    ctx: &Context,
    store: &Store,
    pv: &ProofVerification,
    options: &ReplayOptions,
) -> ProofOutcome {
    if pv.spec.source.effective_format() != ProofFormat::Bundle {
        return ProofOutcome::Failed {
            reason: "NotABundle",
            message: "the proof is a bare DSSE envelope: a replay needs a bundle's score proof"
                .into(),
        };
    }
    let namespace = pv.namespace().unwrap_or_default();
    let bytes = match crate::source::read(
        ctx,
        &ctx.fetcher,
        &namespace,
        &pv.spec.source,
        ctx.settings.max_bundle_bytes,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            return ProofOutcome::Failed {
                reason: "SourceUnavailable",
                message: format!("cannot read the bundle: {}", e.message),
            };
        }
    };
    let verified = pv.status.as_ref().and_then(|s| s.bundle_digest.as_deref());
    if verified.is_some_and(|d| d != bytes.digest.to_string()) {
        let verified = verified.unwrap_or_default();
        // A Secret's new contents may be anything: their digest is not shown.
        let message = if bytes.from_secret {
            format!(
                "the Secret's key no longer holds the verified bundle ({verified}); replayed after re-verification"
            )
        } else {
            format!(
                "the bundle's bytes ({}) are not the verified ones ({verified}); replayed after re-verification",
                bytes.digest
            )
        };
        return ProofOutcome::Failed {
            reason: "BundleChanged",
            message,
        };
    }
    replay_bundle(
        store,
        Arc::new(bytes.bytes),
        pv.status.as_ref().and_then(|s| s.last_replay.as_ref()),
        options,
    )
    .await
}

fn observe(ctx: &Context, outcome: &ProofOutcome, elapsed: Duration) {
    let m = &ctx.metrics.replay;
    match outcome {
        ProofOutcome::Replayed { drifted, .. } => m.observe(
            if *drifted {
                ReplayOutcome::Drifted
            } else {
                ReplayOutcome::Reproduced
            },
            Some(elapsed),
        ),
        ProofOutcome::Unchanged => m.observe(ReplayOutcome::Skipped, None),
        ProofOutcome::TooOld => {}
        ProofOutcome::Failed { reason, .. } => {
            m.observe(ReplayOutcome::Failed, Some(elapsed));
            m.failure(reason);
        }
    }
}

/// What `status.lastReplay` becomes, if anything.
fn last_replay(
    pv: &ProofVerification,
    outcome: &ProofOutcome,
    now: Timestamp,
) -> Option<LastReplay> {
    match outcome {
        ProofOutcome::Replayed {
            report,
            drifted,
            inputs_digest,
            ..
        } => Some(LastReplay {
            time: Time(now),
            result: if *drifted {
                ReplayResult::Drifted
            } else {
                ReplayResult::Reproduced
            },
            root_hash: Some(report.recomputed_root.to_string()),
            previous_root_hash: Some(report.original_root.to_string()),
            cause: report.cause.filter(|_| *drifted).map(drift_cause),
            message: None,
            inputs_digest: Some(inputs_digest.clone()),
        }),
        ProofOutcome::Failed { message, .. } => Some(LastReplay {
            time: Time(now),
            result: ReplayResult::Failed,
            root_hash: None,
            previous_root_hash: pv.status.as_ref().and_then(|s| s.proof_root_hash.clone()),
            cause: None,
            message: Some(message.clone()),
            inputs_digest: None,
        }),
        ProofOutcome::Unchanged | ProofOutcome::TooOld => None,
    }
}

/// Applies only `status.lastReplay`, as `attestor-replay`.
async fn write_last_replay(ctx: &Context, pv: &ProofVerification, last: &LastReplay) {
    let namespace = pv.namespace().unwrap_or_default();
    let name = pv.name_any();
    let api: Api<ProofVerification> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": "ProofVerification",
        "status": {"lastReplay": last},
    });
    if let Err(e) = api
        .patch_status(
            &name,
            &PatchParams::apply(REPLAY_FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        tracing::warn!(verification = %format!("{namespace}/{name}"), error = %e, "cannot write status.lastReplay");
    }
}

async fn finish(r: &Replays, entry: &Job, run: &Run, done: Vec<ProofDone>, cancelled: bool) {
    let ctx = &r.ctx;
    let now = Timestamp::now();
    let mut summary = RunSummary {
        start_time: Time(run.start),
        completion_time: Some(Time(now)),
        trigger: Some(run.trigger.to_string()),
        result: None,
        total: 0,
        reproduced: 0,
        drifted: 0,
        failed: 0,
        skipped: 0,
    };
    let mut drifted: Vec<DriftedProof> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for d in &done {
        match &d.outcome {
            ProofOutcome::TooOld => continue,
            ProofOutcome::Unchanged => summary.skipped += 1,
            ProofOutcome::Failed { message, .. } => {
                summary.failed += 1;
                failures.push(format!("{}: {message}", d.pv.name_any()));
            }
            ProofOutcome::Replayed {
                report,
                drifted: is_drift,
                ..
            } => {
                if !*is_drift {
                    summary.reproduced += 1;
                } else {
                    summary.drifted += 1;
                    drifted.push(DriftedProof {
                        verification: d.pv.name_any(),
                        artifact_digest: d.pv.spec.artifact_digest.clone(),
                        old_root_hash: report.original_root.to_string(),
                        new_root_hash: report.recomputed_root.to_string(),
                        cause: drift_cause(report.cause.unwrap_or(attestor_score::Cause::Unknown)),
                    });
                }
            }
        }
        summary.total += 1;
    }
    drifted.sort_by(|a, b| {
        (&a.verification, &a.artifact_digest).cmp(&(&b.verification, &b.artifact_digest))
    });
    failures.sort();
    let result = if cancelled {
        RunResult::Cancelled
    } else if summary.failed > 0 {
        RunResult::Failed
    } else {
        RunResult::Succeeded
    };
    summary.result = Some(result);
    ctx.metrics.replay.run(match result {
        RunResult::Succeeded => "succeeded",
        RunResult::Failed => "failed",
        RunResult::Cancelled => "cancelled",
    });
    let limit = usize::try_from(run.spec.max_drifted_reported.max(1)).unwrap_or(1);

    let mut events = Vec::new();
    for d in drifted.iter().take(limit) {
        if let Some(pv) = done.iter().find(|p| p.pv.name_any() == d.verification) {
            let note = EventNote {
                warning: true,
                reason: "ScoreDrifted".into(),
                note: format!(
                    "replay by ReplayJob {}: the proof root drifted from {} to {} (cause: {:?})",
                    run.name, d.old_root_hash, d.new_root_hash, d.cause
                ),
            };
            ctx.publish(&pv.pv.object_ref(&()), note, "Replay").await;
        }
    }
    let counts = format!(
        "{} proofs: {} reproduced, {} drifted, {} failed, {} skipped, in {:.1}s",
        summary.total,
        summary.reproduced,
        summary.drifted,
        summary.failed,
        summary.skipped,
        run.start.duration_until(now).as_secs_f64()
    );
    events.push(match result {
        // Drift is what the job is for: a Warning on the job too, naming the drifted proofs.
        RunResult::Succeeded if summary.drifted > 0 => EventNote {
            warning: true,
            reason: "ScoreDrifted".into(),
            note: format!(
                "replay finished: {counts}; drifted: {}; see status.drifted and each ProofVerification's status.lastReplay",
                drifted
                    .iter()
                    .take(limit)
                    .map(|d| format!("{} (cause {:?})", d.verification, d.cause))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        RunResult::Succeeded => EventNote {
            warning: false,
            reason: "ReplayFinished".into(),
            note: format!("replay finished: {counts}"),
        },
        RunResult::Failed => EventNote {
            warning: true,
            reason: "ReplayFailed".into(),
            note: format!(
                "replay finished with failures: {counts}; first: {}",
                failures.first().cloned().unwrap_or_default()
            ),
        },
        RunResult::Cancelled => EventNote {
            warning: true,
            reason: "ReplayFailed".into(),
            note: format!("replay cancelled after {counts}"),
        },
    });
    drifted.truncate(limit);

    let mut st = entry.state.lock().await;
    let current = st.active.as_ref().is_some_and(|a| a.id == run.id);
    let mut status = st.status.clone().unwrap_or_default();
    if current {
        st.active = None;
        status.last_run = Some(summary.clone());
        status.drifted = drifted;
        if result == RunResult::Succeeded {
            status.last_successful_time = Some(Time(now));
        }
        let (s, reason, message) = match result {
            RunResult::Succeeded if summary.drifted > 0 => {
                (Status::True, "DriftDetected", counts.clone())
            }
            RunResult::Succeeded => (Status::True, "AllReproduced", counts.clone()),
            RunResult::Failed => (
                Status::False,
                "ReplayFailed",
                format!(
                    "{counts}; first failure: {}",
                    failures.first().cloned().unwrap_or_default()
                ),
            ),
            RunResult::Cancelled => (
                Status::False,
                "Cancelled",
                format!("cancelled after {counts}"),
            ),
        };
        status.conditions = conditions::merge(
            &status.conditions,
            &[
                running_condition(false),
                Decided::new(LAST_RUN_SUCCEEDED, s, reason, message),
            ],
            status.observed_generation,
            now,
        );
    }
    status.history = bounded_history(
        summary,
        std::mem::take(&mut status.history),
        run.spec.successful_runs_history_limit,
        run.spec.failed_runs_history_limit,
    );
    if let Err(e) = write_job(ctx, &run.namespace, &run.name, &mut st, status).await {
        tracing::warn!(error = %e, "cannot write the ReplayJob status after a run; retried on the next reconcile");
    }
    drop(st);
    publish_all(ctx, &run.reference, events).await;
    tracing::info!(replayjob = %format!("{}/{}", run.namespace, run.name), result = ?result, "{counts}");
}

/// The new run first, then older ones, keeping at most `successful` successful and `failed`
/// failed (or cancelled) runs.
fn bounded_history(
    new: RunSummary,
    old: Vec<RunSummary>,
    successful: i32,
    failed: i32,
) -> Vec<RunSummary> {
    let (mut ok, mut bad) = (0, 0);
    std::iter::once(new)
        .chain(old)
        .filter(|s| {
            if s.result == Some(RunResult::Succeeded) {
                ok += 1;
                ok <= successful
            } else {
                bad += 1;
                bad <= failed
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(result: RunResult, minute: i64) -> RunSummary {
        RunSummary {
            start_time: Time(Timestamp::from_second(minute * 60).unwrap()),
            completion_time: None,
            trigger: None,
            result: Some(result),
            total: 0,
            reproduced: 0,
            drifted: 0,
            failed: 0,
            skipped: 0,
        }
    }

    #[test]
    fn concurrency_policy() {
        assert_eq!(on_due(false, ConcurrencyPolicy::Forbid), OnDue::Start);
        assert_eq!(on_due(false, ConcurrencyPolicy::Replace), OnDue::Start);
        assert_eq!(on_due(true, ConcurrencyPolicy::Forbid), OnDue::Skip);
        assert_eq!(on_due(true, ConcurrencyPolicy::Replace), OnDue::Replace);
    }

    #[test]
    fn history_is_bounded_per_result_newest_first() {
        let mut h = Vec::new();
        for (i, r) in [
            RunResult::Succeeded,
            RunResult::Failed,
            RunResult::Succeeded,
            RunResult::Cancelled,
            RunResult::Succeeded,
            RunResult::Succeeded,
        ]
        .into_iter()
        .enumerate()
        {
            h = bounded_history(run(r, i as i64), h, 3, 1);
        }
        let minutes: Vec<i64> = h.iter().map(|s| s.start_time.0.as_second() / 60).collect();
        assert_eq!(minutes, [5, 4, 3, 2]);
        assert!(bounded_history(run(RunResult::Failed, 9), h, 0, 0).is_empty());
    }

    #[test]
    fn validation_names_what_to_fix() {
        let spec = |v: serde_json::Value| -> ReplayJobSpec { serde_json::from_value(v).unwrap() };
        let now = Timestamp::now();
        let fetcher = crate::fetch::Fetcher::new(Default::default()).unwrap();
        let validate = |s: &ReplayJobSpec, now| validate(s, now, &fetcher, true);
        let bad_cron =
            spec(serde_json::json!({"schedule": "61 * * * *", "store": {"url": "file:///tmp/s"}}));
        let (reason, message) = validate(&bad_cron, now).err().unwrap();
        assert_eq!(reason, "InvalidSchedule");
        assert!(message.contains("minute"), "{message}");
        let bad_zone = spec(
            serde_json::json!({"schedule": "0 3 * * *", "timeZone": "Nowhere/Land", "store": {"url": "file:///tmp/s"}}),
        );
        assert_eq!(validate(&bad_zone, now).err().unwrap().0, "InvalidTimeZone");
        let http = spec(
            serde_json::json!({"schedule": "0 3 * * *", "store": {"url": "https://s.example/x"}}),
        );
        assert!(
            validate(&http, now).is_ok(),
            "HTTP stores are served by the fetcher"
        );
        let ftp = spec(
            serde_json::json!({"schedule": "0 3 * * *", "store": {"url": "ftp://s.example/x"}}),
        );
        assert_eq!(validate(&ftp, now).err().unwrap().0, "StoreUnavailable");
        let never = spec(serde_json::json!({"store": {"url": "file:///tmp/s"}}));
        assert_eq!(validate(&never, now).err().unwrap().0, "InvalidSchedule");
        let ok = spec(
            serde_json::json!({"schedule": "0 3 * * *", "timeZone": "Europe/Berlin", "maxAge": "90d", "store": {"url": "file:///tmp/s"}}),
        );
        assert!(validate(&ok, now).is_ok());
        // Without --allow-file-stores a file:// store is refused, and says what to do instead.
        let (reason, message) = super::validate(&ok, now, &fetcher, false).err().unwrap();
        assert_eq!(reason, "StoreUnavailable");
        assert!(message.contains("--allow-file-stores"), "{message}");
        assert!(message.contains("http(s)://"), "{message}");
        assert!(super::validate(&http, now, &fetcher, false).is_ok());
    }
}
