//! `ReplayJob`: replay the scores of selected verifications and report drift.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::DURATION_PATTERN;
use crate::proof_verification::DriftCause;

/// The shape of `spec.schedule`: five space-separated cron fields (minute, hour, day of month,
/// month, day of week) or one of the `@` macros. The values are checked by the controller.
pub const SCHEDULE_PATTERN: &str = r"^(@(hourly|daily|weekly|monthly|yearly|annually|midnight)|[0-9*/,\-A-Za-z?]+( [0-9*/,\-A-Za-z?]+){4})$";

/// A URL of a replay store: `file://`, `http://` or `https://`.
pub const STORE_URL_PATTERN: &str = r"^(file|https?)://[^\s]+$";

/// When to replay which verifications, against which inputs, and how much history to keep.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "attestor.stellaops.io",
    version = "v1alpha1",
    kind = "ReplayJob",
    plural = "replayjobs",
    shortname = "rj",
    category = "attestor",
    namespaced,
    status = "ReplayJobStatus",
    derive = "PartialEq",
    doc = "Replays the scans behind selected ProofVerifications, recomputes their proof roots and reports the ones that drifted. Runs on a cron schedule and/or whenever a new feed snapshot appears.",
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule",
        description = "Cron schedule"
    ),
    printcolumn(
        name = "Suspend",
        type_ = "boolean",
        json_path = ".spec.suspend",
        description = "Whether new runs are held back"
    ),
    printcolumn(
        name = "Last Run",
        type_ = "date",
        json_path = ".status.lastRun.startTime",
        description = "When the last run started"
    ),
    printcolumn(
        name = "Drifted",
        type_ = "integer",
        json_path = ".status.lastRun.drifted",
        description = "Proofs that drifted in the last run"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("has(self.schedule) || (has(self.triggers) && has(self.triggers.onNewFeedSnapshot) && self.triggers.onNewFeedSnapshot)")
    .message("give spec.schedule or set spec.triggers.onNewFeedSnapshot: true, or the job never runs"))]
#[serde(rename_all = "camelCase")]
pub struct ReplayJobSpec {
    /// When to run, in cron syntax: five space-separated fields (minute hour day-of-month month
    /// day-of-week, e.g. `0 3 * * *` for 03:00 every day) or `@hourly`, `@daily`, `@weekly`,
    /// `@monthly`, `@yearly`, `@annually`, `@midnight`. Give `schedule`,
    /// `triggers.onNewFeedSnapshot` or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), regex(pattern = SCHEDULE_PATTERN))]
    pub schedule: Option<String>,
    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`; UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
    )]
    pub time_zone: Option<String>,
    /// Events that start a run besides the schedule.
    #[serde(default)]
    pub triggers: ReplayTriggers,
    /// Which ProofVerifications in this namespace to replay, by label; all of them when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Replay only proofs signed within this duration, e.g. `90d` (units ms, s, m, h, d); all
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub max_age: Option<String>,
    /// How many replays run at the same time.
    #[serde(default = "default_max_concurrency")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrency: i32,
    /// Skip proofs whose inputs (feed snapshot, VEX, policy, SBOM) have not changed since their
    /// last replay.
    #[serde(default = "default_true")]
    pub skip_unchanged: bool,
    /// Which feed snapshot to replay against: `Latest` (find drift caused by new advisories) or
    /// `Original` (the one the proof names: check that the score is reproducible).
    #[serde(default)]
    pub snapshots: SnapshotPolicy,
    /// Where feed snapshots, SBOMs, VEX documents and policies are fetched from by content id.
    pub store: ReplayStore,
    /// What to do when a run is due while the previous one still runs: `Forbid` (skip the new
    /// run) or `Replace` (cancel the running one).
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A run that could not start within this many seconds of its scheduled time is skipped
    /// (and counted as missed); unset catches up with the most recent missed run only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub starting_deadline_seconds: Option<i64>,
    /// Hold back new runs; a running one finishes.
    #[serde(default)]
    pub suspend: bool,
    /// How many successful runs `status.history` keeps.
    #[serde(default = "default_successful_history")]
    #[schemars(range(min = 0, max = 100))]
    pub successful_runs_history_limit: i32,
    /// How many failed runs `status.history` keeps.
    #[serde(default = "default_failed_history")]
    #[schemars(range(min = 0, max = 100))]
    pub failed_runs_history_limit: i32,
    /// At most this many drifted proofs are listed in `status.drifted` (all are counted).
    #[serde(default = "default_max_drifted")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_drifted_reported: i32,
}

fn default_max_concurrency() -> i32 {
    2
}
fn default_true() -> bool {
    true
}
fn default_successful_history() -> i32 {
    3
}
fn default_failed_history() -> i32 {
    1
}
fn default_max_drifted() -> i32 {
    50
}

/// Events that start a run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplayTriggers {
    /// Run whenever the store publishes a new advisory feed snapshot.
    #[serde(default)]
    pub on_new_feed_snapshot: bool,
}

/// Which feed snapshot a replay uses.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SnapshotPolicy {
    /// The newest snapshot in the store: drift means new knowledge changed the score.
    #[default]
    Latest,
    /// The snapshot the proof was computed with: drift means the score is not reproducible.
    Original,
}

/// What to do when a run is due while another runs.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConcurrencyPolicy {
    /// Skip the new run.
    #[default]
    Forbid,
    /// Cancel the running one and start the new run.
    Replace,
}

/// Where replay inputs come from.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplayStore {
    /// `file://`, `http://` or `https://` URL of the store holding the inputs by content id.
    #[schemars(length(max = 2048), regex(pattern = STORE_URL_PATTERN))]
    pub url: String,
}

/// What the replays found.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplayJobStatus {
    /// `Ready`, `Running` and `LastRunSucceeded`, one entry per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// When the last run was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When a run last completed successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// When the next scheduled run is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_time: Option<Time>,
    /// Counts of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunSummary>,
    /// Proofs that drifted in the last run, at most `spec.maxDriftedReported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<DriftedProof>,
    /// Recent runs, newest first, bounded by the history limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RunSummary>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The value of the `attestor.stellaops.io/run-now` annotation a run was last started for;
    /// setting the annotation to another value starts a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_now: Option<String>,
    /// The store's latest feed snapshot (`sha256:…`) as last seen by the `onNewFeedSnapshot`
    /// trigger; a run starts when the store's changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_snapshot: Option<String>,
}

/// How a run ended.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunResult {
    /// Every selected proof was replayed or skipped (drift is a finding, not a failure).
    Succeeded,
    /// At least one proof could not be replayed.
    Failed,
    /// Cancelled before it finished (`concurrencyPolicy: Replace`, deletion, or the operator
    /// stopping).
    Cancelled,
}

/// What one run did.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// When the run started.
    pub start_time: Time,
    /// When the run finished; unset while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// What started it: `Schedule`, `RunNow` (the annotation) or `NewFeedSnapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// How it ended; unset while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::optional_enum::<RunResult>")]
    pub result: Option<RunResult>,
    /// Proofs selected.
    #[serde(default)]
    pub total: i32,
    /// Proofs whose replay computed the same root.
    #[serde(default)]
    pub reproduced: i32,
    /// Proofs whose replay computed another root.
    #[serde(default)]
    pub drifted: i32,
    /// Proofs that could not be replayed.
    #[serde(default)]
    pub failed: i32,
    /// Proofs skipped because their inputs had not changed (`spec.skipUnchanged`).
    #[serde(default)]
    pub skipped: i32,
}

/// A proof whose replay computed another root.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DriftedProof {
    /// Name of the ProofVerification.
    pub verification: String,
    /// Its artifact digest.
    pub artifact_digest: String,
    /// The proof root before the replay.
    pub old_root_hash: String,
    /// The proof root the replay computed.
    pub new_root_hash: String,
    /// Which input changed the result.
    pub cause: DriftCause,
}
