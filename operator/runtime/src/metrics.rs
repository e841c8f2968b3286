//! The operator's Prometheus metrics.
//!
//! Names and labels are fixed by the on-call runbook: alerts and dashboards
//! match on them, so renaming one is a breaking change. Every label value is
//! from a small fixed set (results, condition reasons, controller names) or
//! names a cluster object that the operator removes with the object
//! ([`Metrics::remove_anchor`], [`Metrics::remove_issuer`]), so cardinality
//! stays bounded by what exists in the cluster.
//!
//! The metrics live in a [`Registry`] owned by [`Metrics`], not in
//! prometheus' global default registry, so that tests (and two operators in
//! one process) never see each other's numbers.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// The outcome of verifying one proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerificationResult {
    /// The proof was fetched and verified.
    Verified,
    /// The proof was read but did not verify (or was refused: too large, wrong digest...).
    Failed,
    /// The proof's source could not be read at all.
    Unavailable,
}

impl VerificationResult {
    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationResult::Verified => "verified",
            VerificationResult::Failed => "failed",
            VerificationResult::Unavailable => "unavailable",
        }
    }
}

/// Covers a verification of a cached or local bundle (about a millisecond) up
/// to a fetch that uses its whole 30 s attempt timeout.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

type SuccessRateSource = Box<dyn Fn() -> (usize, usize) + Send + Sync>;

/// Every metric of the operator, registered on a registry of its own.
///
/// Cheap to share behind an `Arc`: every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    verification_total: IntCounterVec,
    verification_failures_total: IntCounterVec,
    verification_duration: Histogram,
    bundle_size: Histogram,
    success_rate_source: Arc<RwLock<Option<SuccessRateSource>>>,
    reconcile_total: IntCounterVec,
    reconcile_errors_total: IntCounterVec,
    reconcile_duration: HistogramVec,
    kube_api_requests_total: IntCounterVec,
    leader: IntGauge,
    anchor_expiry: GaugeVec,
    anchor_ready: IntGaugeVec,
    issuer_trusted: IntGaugeVec,
    issuer_key_fetch_total: IntCounterVec,
    /// The ReplayJob controller's metrics.
    pub replay: ReplayMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

// Names, labels and buckets below are constants, and each name is registered once on a fresh
// registry: the only ways these calls can fail are programming errors caught by the tests.
const CONSTANT: &str = "metric definitions are constants and valid";

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect(CONSTANT);
    registry.register(Box::new(metric.clone())).expect(CONSTANT);
    metric
}

fn int_gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect(CONSTANT);
    registry.register(Box::new(metric.clone())).expect(CONSTANT);
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let metric =
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect(CONSTANT);
    registry.register(Box::new(metric.clone())).expect(CONSTANT);
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;

        let verification_total = counter(
            r,
            "proof_verification_total",
            "Proof verifications, by result (verified, failed, unavailable: the source could not be read) and condition reason.",
            &["result", "reason"],
        );
        let verification_failures_total = counter(
            r,
            "proof_verification_failures_total",
            "Proof verifications that did not verify (failed or unavailable), by condition reason.",
            &["reason"],
        );
        let verification_duration = histogram(
            r,
            "proof_verification_duration_seconds",
            "Time to fetch and verify one proof, in seconds.",
            DURATION_BUCKETS.to_vec(),
        );
        // 1 KiB to 64 MiB by factors of 4: nine buckets that separate a lone signature from a
        // bundle near the fetch size limit without a series per power of two.
        let size_buckets = prometheus::exponential_buckets(1024.0, 4.0, 9).expect(CONSTANT);
        let bundle_size = histogram(
            r,
            "proof_bundle_size_bytes",
            "Size of fetched proof bundles, in bytes.",
            size_buckets,
        );

        let success_rate_source = Arc::new(RwLock::new(None));
        registry
            .register(Box::new(SuccessRate::new(Arc::clone(&success_rate_source))))
            .expect(CONSTANT);

        let reconcile_total = counter(
            r,
            "attestor_reconcile_total",
            "Reconciliations, by controller and result (ok, error).",
            &["controller", "result"],
        );
        let reconcile_errors_total = counter(
            r,
            "attestor_reconcile_errors_total",
            "Reconciliations that returned an error, by controller and reason.",
            &["controller", "reason"],
        );
        let reconcile_duration = HistogramVec::new(
            HistogramOpts::new(
                "attestor_reconcile_duration_seconds",
                "Time of one reconciliation, in seconds.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["controller"],
        )
        .expect(CONSTANT);
        registry
            .register(Box::new(reconcile_duration.clone()))
            .expect(CONSTANT);
        let kube_api_requests_total = counter(
            r,
            "attestor_kube_api_requests_total",
            "Requests made to the Kubernetes API server, by HTTP method and whether they are watches (retries inside the client are not counted).",
            &["method", "watch"],
        );

        let leader = IntGauge::new(
            "attestor_leader",
            "1 if this replica holds the leader Lease and runs the controllers, else 0.",
        )
        .expect(CONSTANT);
        registry.register(Box::new(leader.clone())).expect(CONSTANT);

        let build_info = int_gauge(
            r,
            "attestor_build_info",
            "Always 1; the version label is the operator's version.",
            &["version"],
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        let anchor_expiry = GaugeVec::new(
            Opts::new(
                "trust_anchor_expiry_timestamp_seconds",
                "When the trust anchor's certificate expires (status.notAfter), in Unix seconds.",
            ),
            &["anchor"],
        )
        .expect(CONSTANT);
        registry
            .register(Box::new(anchor_expiry.clone()))
            .expect(CONSTANT);
        let anchor_ready = int_gauge(
            r,
            "trust_anchor_ready",
            "1 if the trust anchor is Ready, else 0.",
            &["anchor"],
        );
        let issuer_trusted = int_gauge(
            r,
            "trusted_issuer_trusted",
            "1 if the issuer's keys are trusted (Ready), else 0.",
            &["issuer"],
        );
        let issuer_key_fetch_total = counter(
            r,
            "trusted_issuer_key_fetch_total",
            "Fetches of an issuer's key directory, by result (ok, error).",
            &["issuer", "result"],
        );

        let replay = ReplayMetrics::new(r);

        Self {
            registry,
            replay,
            verification_total,
            verification_failures_total,
            verification_duration,
            bundle_size,
            success_rate_source,
            reconcile_total,
            reconcile_errors_total,
            reconcile_duration,
            kube_api_requests_total,
            leader,
            anchor_expiry,
            anchor_ready,
            issuer_trusted,
            issuer_key_fetch_total,
        }
    }

    /// The registry every metric is on; later features register theirs here too.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records one verification. `duration` covers fetch and verify;
    /// `bundle_size` is the fetched size when a bundle was read.
    pub fn observe_verification(
        &self,
        result: VerificationResult,
        reason: &str,
        duration: Duration,
        bundle_size: Option<u64>,
    ) {
        self.verification_total
            .with_label_values(&[result.as_str(), reason])
            .inc();
        if result != VerificationResult::Verified {
            self.verification_failures_total
                .with_label_values(&[reason])
                .inc();
        }
        self.verification_duration.observe(duration.as_secs_f64());
        if let Some(size) = bundle_size {
            self.bundle_size.observe(size as f64);
        }
    }

    /// Sets the function that counts `(verified, total)` ProofVerification
    /// objects. It is called on every scrape, so it must be cheap (a look at a
    /// reflector's store) and must not block. Replaces any earlier source.
    pub fn set_success_rate_source(&self, f: impl Fn() -> (usize, usize) + Send + Sync + 'static) {
        *self
            .success_rate_source
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Box::new(f));
    }

    /// Records one reconciliation; `error_reason` is `None` when it succeeded.
    pub fn observe_reconcile(
        &self,
        controller: &str,
        duration: Duration,
        error_reason: Option<&str>,
    ) {
        let result = if error_reason.is_some() {
            "error"
        } else {
            "ok"
        };
        self.reconcile_total
            .with_label_values(&[controller, result])
            .inc();
        if let Some(reason) = error_reason {
            self.reconcile_errors_total
                .with_label_values(&[controller, reason])
                .inc();
        }
        self.reconcile_duration
            .with_label_values(&[controller])
            .observe(duration.as_secs_f64());
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Records a trust anchor's state. Without `not_after` (not yet known, or
    /// the certificate cannot be read) the expiry series is removed rather than
    /// left at a stale or zero value that an expiry alert would fire on.
    pub fn set_anchor(&self, anchor: &str, ready: bool, not_after: Option<jiff::Timestamp>) {
        self.anchor_ready
            .with_label_values(&[anchor])
            .set(i64::from(ready));
        match not_after {
            Some(t) => self
                .anchor_expiry
                .with_label_values(&[anchor])
                .set(t.as_millisecond() as f64 / 1000.0),
            None => {
                // Absent already is the state we want.
                let _ = self.anchor_expiry.remove_label_values(&[anchor]);
            }
        }
    }

    /// Forgets a deleted trust anchor, so that it neither alerts nor lingers on dashboards.
    pub fn remove_anchor(&self, anchor: &str) {
        // A series that was never set is already gone.
        let _ = self.anchor_ready.remove_label_values(&[anchor]);
        let _ = self.anchor_expiry.remove_label_values(&[anchor]);
    }

    pub fn set_issuer(&self, issuer: &str, trusted: bool) {
        self.issuer_trusted
            .with_label_values(&[issuer])
            .set(i64::from(trusted));
    }

    /// Forgets a deleted trusted issuer. Its key-fetch counter goes too: a
    /// counter of an object that no longer exists only adds series.
    pub fn remove_issuer(&self, issuer: &str) {
        let _ = self.issuer_trusted.remove_label_values(&[issuer]);
        for result in ["ok", "error"] {
            let _ = self
                .issuer_key_fetch_total
                .remove_label_values(&[issuer, result]);
        }
    }

    pub fn observe_key_fetch(&self, issuer: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.issuer_key_fetch_total
            .with_label_values(&[issuer, result])
            .inc();
    }

    /// Counts one request to the API server (see [`crate::kube_client`]).
    pub fn observe_api_request(&self, method: &str, watch: bool) {
        let watch = if watch { "true" } else { "false" };
        self.kube_api_requests_total
            .with_label_values(&[method, watch])
            .inc();
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut out)
            .expect("the text format of well-formed metrics cannot fail");
        out
    }
}

/// The success rate and the counts it is made of, read from the cluster's
/// current ProofVerification objects at scrape time rather than from counters:
/// the rate the runbook alerts on is "how much of what exists verifies now",
/// which no sum of past events can give once objects are deleted or re-verified.
struct SuccessRate {
    source: Arc<RwLock<Option<SuccessRateSource>>>,
    rate: Gauge,
    counts: IntGaugeVec,
    descs: Vec<Desc>,
}

impl SuccessRate {
    fn new(source: Arc<RwLock<Option<SuccessRateSource>>>) -> Self {
        let rate = Gauge::new(
            "proof_verification_success_rate",
            "Verified / total over the ProofVerification objects that exist now. \
             1 when there are none, so that `< threshold` alerts stay quiet on an empty cluster \
             (see proof_verifications for the counts). Absent until the operator has a view of the objects.",
        )
        .expect(CONSTANT);
        let counts = IntGaugeVec::new(
            Opts::new(
                "proof_verifications",
                "ProofVerification objects that exist now, by whether they are verified.",
            ),
            &["verified"],
        )
        .expect(CONSTANT);
        let descs = rate
            .desc()
            .into_iter()
            .chain(counts.desc())
            .cloned()
            .collect();
        Self {
            source,
            rate,
            counts,
            descs,
        }
    }
}

impl Collector for SuccessRate {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let source = self
            .source
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Before a controller has a store to count from, "0 of 0" would be a claim rather
        // than a measurement: report nothing.
        let Some(source) = source.as_ref() else {
            return Vec::new();
        };
        let (verified, total) = source();
        // A source that counts verified objects apart from the total may briefly disagree
        // with itself; never report a rate above 1 or a negative count.
        let verified = verified.min(total);
        let rate = if total == 0 {
            1.0
        } else {
            verified as f64 / total as f64
        };
        // Two concurrent scrapes may interleave these sets; both compute from the same
        // store, so at worst one reports the other's (equally current) numbers.
        self.rate.set(rate);
        self.counts
            .with_label_values(&["true"])
            .set(i64::try_from(verified).unwrap_or(i64::MAX));
        self.counts
            .with_label_values(&["false"])
            .set(i64::try_from(total - verified).unwrap_or(i64::MAX));
        let mut families = self.rate.collect();
        families.extend(self.counts.collect());
        families
    }
}

/// Replays lasting from a local store's few milliseconds to a slow remote store's minutes: the
/// top buckets make a "p95 above 30 s" alert expressible.
const REPLAY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// The outcome of replaying one proof: the `result` label of `score_replay_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplayOutcome {
    Reproduced,
    Drifted,
    Failed,
    Skipped,
}

impl ReplayOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayOutcome::Reproduced => "reproduced",
            ReplayOutcome::Drifted => "drifted",
            ReplayOutcome::Failed => "failed",
            ReplayOutcome::Skipped => "skipped",
        }
    }
}

/// The ReplayJob controller's metrics (names from the runbook).
#[derive(Clone)]
pub struct ReplayMetrics {
    duration: Histogram,
    total: IntCounterVec,
    failures_total: IntCounterVec,
    queue_depth: IntGauge,
    runs_total: IntCounterVec,
}

impl ReplayMetrics {
    fn new(r: &Registry) -> Self {
        let queue_depth = IntGauge::new(
            "replay_queue_depth",
            "Proofs waiting to be replayed in the running ReplayJob runs.",
        )
        .expect(CONSTANT);
        r.register(Box::new(queue_depth.clone())).expect(CONSTANT);
        Self {
            duration: histogram(
                r,
                "score_replay_duration_seconds",
                "Time to replay one proof (read the bundle, load the inputs, rescore), in seconds.",
                REPLAY_BUCKETS.to_vec(),
            ),
            total: counter(
                r,
                "score_replay_total",
                "Proof replays, by result (reproduced, drifted, failed, skipped).",
                &["result"],
            ),
            failures_total: counter(
                r,
                "score_replay_failures_total",
                "Proof replays that could not run, by reason.",
                &["reason"],
            ),
            queue_depth,
            runs_total: counter(
                r,
                "replay_runs_total",
                "ReplayJob runs, by result (succeeded, failed, cancelled, skipped).",
                &["result"],
            ),
        }
    }

    /// One replayed proof; `duration` is observed for proofs actually replayed (not skipped).
    pub fn observe(&self, outcome: ReplayOutcome, duration: Option<Duration>) {
        self.total.with_label_values(&[outcome.as_str()]).inc();
        if let Some(d) = duration {
            self.duration.observe(d.as_secs_f64());
        }
    }

    pub fn failure(&self, reason: &str) {
        self.failures_total.with_label_values(&[reason]).inc();
    }

    /// Proofs queued (`+n`) or taken off the queue (`-1`).
    pub fn queue(&self, delta: i64) {
        self.queue_depth.add(delta);
    }

    pub fn run(&self, result: &str) {
        self.runs_total.with_label_values(&[result]).inc();
    }
}

/// From 100 µs (a decision on a warm index) to the 10 s ceiling of an API server's webhook
/// timeout, with most buckets below a millisecond where the webhook should live.
const ADMISSION_DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0, 3.0,
    10.0,
];

/// The admission webhook's metrics, on the operator's registry. Label values are from fixed
/// sets (decisions, [`attestor_admission::Reason`]) or name a namespace that used break-glass.
#[derive(Clone)]
pub struct AdmissionMetrics {
    requests_total: IntCounterVec,
    duration: Histogram,
    break_glass_total: IntCounterVec,
    certificate_expiry: Gauge,
}

impl std::fmt::Debug for AdmissionMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionMetrics").finish_non_exhaustive()
    }
}

impl AdmissionMetrics {
    /// Registers the metrics on `metrics`' registry; once per [`Metrics`].
    pub fn new(metrics: &Metrics) -> Self {
        let r = metrics.registry();
        let requests_total = counter(
            r,
            "admission_requests_total",
            "Admission reviews answered, by decision (allowed, denied, warned, error) and reason.",
            &["decision", "reason"],
        );
        let duration = histogram(
            r,
            "admission_duration_seconds",
            "Time to answer one admission review, from the request head to the response, including any wait for a pending proof, in seconds.",
            ADMISSION_DURATION_BUCKETS.to_vec(),
        );
        let break_glass_total = counter(
            r,
            "admission_break_glass_total",
            "Workloads admitted by the break-glass annotation despite failing images, by namespace.",
            &["namespace"],
        );
        let certificate_expiry = Gauge::new(
            "webhook_certificate_expiry_timestamp_seconds",
            "When the webhook's serving certificate expires, in Unix seconds (0 until one is loaded).",
        )
        .expect(CONSTANT);
        r.register(Box::new(certificate_expiry.clone()))
            .expect(CONSTANT);
        Self {
            requests_total,
            duration,
            break_glass_total,
            certificate_expiry,
        }
    }

    /// `decision` is one of `allowed`, `denied`, `warned`, `error`.
    pub fn observe_request(&self, decision: &str, reason: &str, duration: Duration) {
        self.requests_total
            .with_label_values(&[decision, reason])
            .inc();
        self.duration.observe(duration.as_secs_f64());
    }

    pub fn observe_break_glass(&self, namespace: &str) {
        self.break_glass_total.with_label_values(&[namespace]).inc();
    }

    pub fn set_certificate_expiry(&self, not_after_unix: i64) {
        self.certificate_expiry.set(not_after_unix as f64);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn observe_everything(m: &Metrics) {
        m.observe_verification(
            VerificationResult::Failed,
            "DigestMismatch",
            Duration::from_millis(20),
            Some(4096),
        );
        m.set_success_rate_source(|| (3, 4));
        m.observe_reconcile("trustanchor", Duration::from_millis(5), Some("ApiError"));
        m.observe_api_request("GET", true);
        m.set_leader(true);
        m.set_anchor(
            "root-2025",
            true,
            Some("2030-01-01T00:00:00Z".parse().unwrap()),
        );
        m.set_issuer("fulcio", true);
        m.observe_key_fetch("fulcio", false);
        m.replay
            .observe(ReplayOutcome::Drifted, Some(Duration::from_secs(45)));
        m.replay.failure("InputsUnavailable");
        m.replay.queue(3);
        m.replay.run("succeeded");
    }

    /// The runbook's names, with the label sets its queries use.
    const RUNBOOK: &[&str] = &[
        r#"proof_verification_total{reason="DigestMismatch",result="failed"} 1"#,
        r#"proof_verification_failures_total{reason="DigestMismatch"} 1"#,
        "proof_verification_success_rate 0.75",
        r#"proof_verifications{verified="true"} 3"#,
        r#"proof_verifications{verified="false"} 1"#,
        "proof_verification_duration_seconds_bucket{le=\"0.025\"} 1",
        "proof_verification_duration_seconds_count 1",
        "proof_bundle_size_bytes_bucket{le=\"4096\"} 1",
        "proof_bundle_size_bytes_bucket{le=\"67108864\"} 1",
        r#"attestor_reconcile_total{controller="trustanchor",result="error"} 1"#,
        r#"attestor_reconcile_errors_total{controller="trustanchor",reason="ApiError"} 1"#,
        r#"attestor_reconcile_duration_seconds_count{controller="trustanchor"} 1"#,
        r#"attestor_kube_api_requests_total{method="GET",watch="true"} 1"#,
        "attestor_leader 1",
        concat!(
            r#"attestor_build_info{version=""#,
            env!("CARGO_PKG_VERSION"),
            r#""} 1"#
        ),
        r#"trust_anchor_expiry_timestamp_seconds{anchor="root-2025"} 1893456000"#,
        r#"trust_anchor_ready{anchor="root-2025"} 1"#,
        r#"trusted_issuer_trusted{issuer="fulcio"} 1"#,
        r#"trusted_issuer_key_fetch_total{issuer="fulcio",result="error"} 1"#,
        r#"score_replay_total{result="drifted"} 1"#,
        r#"score_replay_failures_total{reason="InputsUnavailable"} 1"#,
        "score_replay_duration_seconds_bucket{le=\"30\"} 0",
        "score_replay_duration_seconds_bucket{le=\"60\"} 1",
        "replay_queue_depth 3",
        r#"replay_runs_total{result="succeeded"} 1"#,
    ];

    #[test]
    fn every_runbook_metric_is_exposed_with_its_labels() {
        let m = Metrics::new();
        observe_everything(&m);
        let text = m.encode();
        for line in RUNBOOK {
            assert!(
                text.lines().any(|l| l == *line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert!(text.contains("# TYPE proof_verification_duration_seconds histogram"));
        assert!(text.contains("# TYPE proof_verification_total counter"));
        assert!(text.contains("# TYPE proof_verification_success_rate gauge"));
    }

    #[test]
    fn verified_counts_only_in_total() {
        let m = Metrics::new();
        m.observe_verification(
            VerificationResult::Verified,
            "Verified",
            Duration::from_millis(1),
            None,
        );
        m.observe_verification(
            VerificationResult::Unavailable,
            "SourceUnavailable",
            Duration::from_secs(31),
            None,
        );
        let text = m.encode();
        assert!(
            text.contains(r#"proof_verification_total{reason="Verified",result="verified"} 1"#)
        );
        assert!(text.contains(
            r#"proof_verification_total{reason="SourceUnavailable",result="unavailable"} 1"#
        ));
        assert!(
            text.contains(r#"proof_verification_failures_total{reason="SourceUnavailable"} 1"#)
        );
        assert!(!text.contains(r#"proof_verification_failures_total{reason="Verified"}"#));
        // No bundle was read: nothing observed in the size histogram.
        assert!(text.contains("proof_bundle_size_bytes_count 0"));
        assert!(text.contains("proof_verification_duration_seconds_count 2"));
    }

    #[test]
    fn success_rate_is_computed_at_scrape_time() {
        let m = Metrics::new();
        assert!(
            !m.encode().contains("proof_verification_success_rate"),
            "no source yet: no rate"
        );

        let calls = Arc::new(AtomicUsize::new(0));
        let verified = Arc::new(AtomicUsize::new(0));
        {
            let calls = Arc::clone(&calls);
            let verified = Arc::clone(&verified);
            m.set_success_rate_source(move || {
                calls.fetch_add(1, Ordering::SeqCst);
                (verified.load(Ordering::SeqCst), 4)
            });
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0, "called only on a scrape");

        assert!(m.encode().contains("\nproof_verification_success_rate 0\n"));
        verified.store(1, Ordering::SeqCst);
        let text = m.encode();
        assert!(text.contains("\nproof_verification_success_rate 0.25\n"));
        assert!(text.contains("proof_verifications{verified=\"false\"} 3"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn success_rate_of_an_empty_cluster_does_not_alert() {
        let m = Metrics::new();
        m.set_success_rate_source(|| (0, 0));
        let text = m.encode();
        assert!(
            text.contains("\nproof_verification_success_rate 1\n"),
            "{text}"
        );
        assert!(text.contains("proof_verifications{verified=\"true\"} 0"));
        assert!(text.contains("proof_verifications{verified=\"false\"} 0"));
    }

    #[test]
    fn success_rate_never_exceeds_one() {
        let m = Metrics::new();
        m.set_success_rate_source(|| (5, 3));
        let text = m.encode();
        assert!(
            text.contains("\nproof_verification_success_rate 1\n"),
            "{text}"
        );
        assert!(text.contains("proof_verifications{verified=\"false\"} 0"));
    }

    #[test]
    fn removed_anchors_and_issuers_disappear() {
        let m = Metrics::new();
        m.set_anchor("a", true, Some(jiff::Timestamp::from_second(1).unwrap()));
        m.set_anchor("b", false, None);
        m.set_issuer("i", false);
        m.observe_key_fetch("i", true);
        m.observe_key_fetch("i", false);
        m.set_issuer("j", true);

        m.remove_anchor("a");
        m.remove_anchor("never-seen");
        m.remove_issuer("i");
        let text = m.encode();
        assert!(!text.contains(r#"anchor="a""#), "{text}");
        assert!(text.contains(r#"trust_anchor_ready{anchor="b"} 0"#));
        assert!(!text.contains(r#"trust_anchor_expiry_timestamp_seconds{anchor="b"}"#));
        assert!(!text.contains(r#"issuer="i""#), "{text}");
        assert!(text.contains(r#"trusted_issuer_trusted{issuer="j"} 1"#));
    }

    #[test]
    fn anchor_expiry_goes_when_not_after_becomes_unknown() {
        let m = Metrics::new();
        m.set_anchor("a", true, Some(jiff::Timestamp::from_second(100).unwrap()));
        assert!(
            m.encode()
                .contains(r#"trust_anchor_expiry_timestamp_seconds{anchor="a"} 100"#)
        );
        m.set_anchor("a", false, None);
        let text = m.encode();
        assert!(!text.contains("trust_anchor_expiry_timestamp_seconds{"));
        assert!(text.contains(r#"trust_anchor_ready{anchor="a"} 0"#));
    }

    #[test]
    fn leader_flips() {
        let m = Metrics::new();
        m.set_leader(true);
        m.set_leader(false);
        assert!(m.encode().contains("\nattestor_leader 0\n"));
    }

    #[test]
    fn registries_are_independent() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.set_leader(true);
        assert!(b.encode().contains("\nattestor_leader 0\n"));
    }

    #[test]
    fn admission_metrics_are_exposed() {
        let m = Metrics::new();
        let a = AdmissionMetrics::new(&m);
        a.observe_request("denied", "NotPinned", Duration::from_micros(300));
        a.observe_break_glass("shop");
        a.set_certificate_expiry(1_900_000_000);
        let text = m.encode();
        assert!(
            text.contains(r#"admission_requests_total{decision="denied",reason="NotPinned"} 1"#)
        );
        assert!(text.contains(r#"admission_duration_seconds_bucket{le="0.0005"} 1"#));
        assert!(text.contains(r#"admission_break_glass_total{namespace="shop"} 1"#));
        assert!(text.contains("webhook_certificate_expiry_timestamp_seconds 1900000000"));
    }
}
