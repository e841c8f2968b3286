//! Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of client-go's
//! `leaderelection` package, so that of the replicas of `attestor run` only one reconciles.
//!
//! Two properties carry the safety argument:
//!
//! * A standby never compares `renewTime` with its own wall clock: nodes' clocks disagree. It
//!   notes, on its own monotonic clock, when it last saw the Lease record change, and only
//!   takes the Lease once that observation is older than `leaseDurationSeconds`.
//! * The leader measures its deadline from the moment it *sent* its last successful renewal,
//!   which is before the write landed and so before any standby can have seen it. When that
//!   deadline passes unrenewed, [`Leadership::hold`] returns [`LeadershipEnd::Lost`] before any
//!   standby can have taken over (monotonic clocks agree on rates, not on instants).
//!
//! Every write is a replace carrying the `resourceVersion` that was read, so of two candidates
//! racing for the same free or expired Lease the API server lets exactly one win (409 for the
//! other).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where the Lease is, who we are, and how fast to move.
///
/// `renew_interval` must be well below `lease_duration`: the leader gets
/// `lease_duration / renew_interval` chances to renew before it has to step down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    pub namespace: String,
    /// The Lease's name, e.g. `attestor-operator`.
    pub name: String,
    /// Unique per replica (and per process start), e.g. the pod name plus a random suffix: two
    /// processes sharing an identity would both believe they hold the Lease.
    pub identity: String,
    /// How long a Lease stays valid after its last renewal. Written to `leaseDurationSeconds`
    /// rounded up to whole seconds. Default 15 s.
    pub lease_duration: Duration,
    /// How often the leader renews. Default 5 s.
    pub renew_interval: Duration,
    /// How often a standby looks at the Lease, and how soon the leader retries a failed
    /// renewal. Default 2 s.
    pub retry_interval: Duration,
}

impl LeaseConfig {
    /// The defaults of client-go's leader election (15 s / 5 s / 2 s, except that client-go's
    /// 10 s renew deadline is the whole lease duration here).
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(2),
        }
    }

    /// `leaseDurationSeconds` as written: rounded up, because a standby that waits longer than
    /// the leader's own deadline is safe and one that waits shorter is not.
    fn lease_duration_seconds(&self) -> i32 {
        let d = self.lease_duration;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
    }

    fn lease_ref(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A failed request on the Lease.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    #[error(
        "cannot {op} Lease {namespace}/{name}: {source}{}",
        rbac_hint(source, namespace)
    )]
    Api {
        namespace: String,
        name: String,
        /// `get`, `create` or `update`.
        op: &'static str,
        source: kube::Error,
    },

    #[error("cannot {op} Lease {namespace}/{name}: no answer from the API server within {after:?}")]
    Timeout {
        namespace: String,
        name: String,
        op: &'static str,
        after: Duration,
    },

    /// The Lease kept changing under us between reading and writing it.
    #[error("cannot {op} Lease {namespace}/{name}: it changed under us {attempts} times in a row")]
    Conflict {
        namespace: String,
        name: String,
        op: &'static str,
        attempts: u32,
    },
}

/// A 403 is almost always the Role of the operator's ServiceAccount, not a transient failure.
fn rbac_hint(error: &kube::Error, namespace: &str) -> String {
    match error {
        kube::Error::Api(status) if status.is_forbidden() => format!(
            " (the operator's ServiceAccount needs get, create and update on \
             leases.coordination.k8s.io in namespace {namespace})"
        ),
        _ => String::new(),
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_conflict())
}

/// What a candidate should do with the Lease as it last read it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// There is no Lease object: create one naming us.
    Create,
    /// Write our identity into it (leaseTransitions + 1): it has no holder, or its holder
    /// (`from`) has not renewed it for a whole lease duration as we observed it.
    Take { from: Option<String> },
    /// It names us already: renew it, keeping acquireTime and leaseTransitions.
    Renew,
    /// Another holder whose record we saw change less than a lease duration ago.
    Wait {
        holder: String,
        expires_in: Duration,
    },
}

/// The decision of client-go's `tryAcquireOrRenew`, without the I/O.
///
/// `observed` is the Lease's spec (`None`: no Lease object; a Lease without a spec is passed as
/// an empty spec). `observed_age` is how long ago, on this process's monotonic clock, the
/// record was first seen in its current state; never the difference between `renewTime` and
/// our wall clock. `default_duration` applies when the record carries no usable
/// `leaseDurationSeconds`.
fn decide(
    observed: Option<&LeaseSpec>,
    identity: &str,
    observed_age: Duration,
    default_duration: Duration,
) -> Action {
    let Some(spec) = observed else {
        return Action::Create;
    };
    // client-go releases by writing an empty holderIdentity; others remove the field.
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    match holder {
        None => Action::Take { from: None },
        Some(h) if h == identity => Action::Renew,
        Some(h) => {
            // The holder's own promise, not ours: it may run with a longer duration.
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .filter(|&s| s > 0)
                .map_or(default_duration, Duration::from_secs);
            match duration.checked_sub(observed_age) {
                Some(expires_in) if !expires_in.is_zero() => Action::Wait {
                    holder: h.to_string(),
                    expires_in,
                },
                _ => Action::Take {
                    from: Some(h.to_string()),
                },
            }
        }
    }
}

/// The spec to write for `action` (`Create`, `Take` or `Renew`) over the `current` one.
fn next_spec(
    current: Option<&LeaseSpec>,
    action: &Action,
    config: &LeaseConfig,
    now: Timestamp,
) -> LeaseSpec {
    // Fields we do not manage (strategy, preferredHolder) are kept as found.
    let mut spec = current.cloned().unwrap_or_default();
    spec.holder_identity = Some(config.identity.clone());
    spec.lease_duration_seconds = Some(config.lease_duration_seconds());
    spec.renew_time = Some(MicroTime(now));
    match action {
        Action::Create => {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(0);
        }
        Action::Take { .. } => {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions =
                Some(spec.lease_transitions.unwrap_or(0).max(0).saturating_add(1));
        }
        Action::Renew => {
            spec.acquire_time.get_or_insert(MicroTime(now));
            spec.lease_transitions.get_or_insert(0);
        }
        Action::Wait { .. } => unreachable!("nothing is written while waiting"),
    }
    spec
}

fn holder_of(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

/// The requests on the one Lease, each bounded in time and turned into a [`LeaseError`].
#[derive(Clone)]
struct LeaseClient {
    api: Api<Lease>,
    config: Arc<LeaseConfig>,
}

impl LeaseClient {
    fn err(&self, op: &'static str, source: kube::Error) -> LeaseError {
        LeaseError::Api {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            op,
            source,
        }
    }

    /// Bounds a request: kube's client has no overall request timeout of its own, and a
    /// request that hangs for longer than a lease duration is as good as failed.
    async fn bounded<T>(
        &self,
        op: &'static str,
        within: Duration,
        request: impl Future<Output = kube::Result<T>>,
    ) -> Result<kube::Result<T>, LeaseError> {
        tokio::time::timeout(within, request)
            .await
            .map_err(|_| LeaseError::Timeout {
                namespace: self.config.namespace.clone(),
                name: self.config.name.clone(),
                op,
                after: within,
            })
    }

    async fn get(&self, within: Duration) -> Result<Option<Lease>, LeaseError> {
        self.bounded("get", within, self.api.get_opt(&self.config.name))
            .await?
            .map_err(|e| self.err("get", e))
    }

    /// `Ok(None)`: someone else created or changed the Lease first (409).
    async fn create(&self, spec: LeaseSpec, within: Duration) -> Result<Option<Lease>, LeaseError> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        };
        match self
            .bounded(
                "create",
                within,
                self.api.create(&PostParams::default(), &lease),
            )
            .await?
        {
            Ok(lease) => Ok(Some(lease)),
            Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
                Ok(None)
            }
            Err(e) => Err(self.err("create", e)),
        }
    }

    /// Replaces the Lease as read (its resourceVersion makes this conditional) with `spec`.
    /// `Ok(None)`: it changed since it was read (409).
    async fn replace(
        &self,
        read: &Lease,
        spec: LeaseSpec,
        within: Duration,
    ) -> Result<Option<Lease>, LeaseError> {
        let mut lease = read.clone();
        lease.spec = Some(spec);
        match self
            .bounded(
                "update",
                within,
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease),
            )
            .await?
        {
            Ok(lease) => Ok(Some(lease)),
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(self.err("update", e)),
        }
    }
}

/// Competes for the Lease on behalf of one replica. See the [module documentation](self).
pub struct LeaderElector {
    lease: LeaseClient,
    leader: watch::Sender<bool>,
    /// Bumped on every acquisition, so that a stale [`Leadership`] (dropped late) cannot clear
    /// the flag a newer one has set.
    term: Arc<AtomicU64>,
}

impl fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.lease.config)
            .field("leader", &*self.leader.borrow())
            .finish_non_exhaustive()
    }
}

/// What one look at the Lease came to.
enum Attempt {
    /// Boxed: a Leadership is large next to the other outcomes.
    Acquired(Box<Leadership>),
    /// Someone else wrote first (409): read again at once, the winner is worth knowing.
    Raced,
    Held {
        holder: String,
        expires_in: Duration,
    },
}

/// The Lease record as last seen, and when (on our monotonic clock) it was first seen so.
struct Observation {
    spec: LeaseSpec,
    since: Instant,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        if config.renew_interval >= config.lease_duration {
            tracing::warn!(
                lease = %config.lease_ref(),
                renew_interval = ?config.renew_interval,
                lease_duration = ?config.lease_duration,
                "the renew interval is not shorter than the lease duration: leadership will be lost \
                 between renewals"
            );
        }
        let api = Api::namespaced(client, &config.namespace);
        LeaderElector {
            lease: LeaseClient {
                api,
                config: Arc::new(config),
            },
            leader: watch::Sender::new(false),
            term: Arc::new(AtomicU64::new(0)),
        }
    }

    /// `true` while this replica holds the Lease (for /readyz, logs and an `attestor_leader`
    /// gauge). It turns `false` as soon as [`Leadership::hold`] returns `Lost`, or the
    /// [`Leadership`] is released or dropped; a `hold` that returns `Cancelled` leaves it `true`,
    /// because the Lease still names us until it is released or expires.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.subscribe()
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.lease.config
    }

    /// Waits until this identity holds the Lease. `None` when `cancel` fires first.
    /// API errors while waiting are logged (tracing) and retried, never returned.
    pub async fn acquire(&self, cancel: &CancellationToken) -> Option<Leadership> {
        let config = &*self.lease.config;
        let lease = config.lease_ref();
        // Deliberately not kept across calls: a fresh wait starts from a fresh observation, the
        // conservative choice (client-go does the same when a process starts).
        let mut observed: Option<Observation> = None;
        let mut last_holder: Option<String> = None;
        let mut just_raced = false;
        loop {
            let attempt = tokio::select! {
                biased;
                () = cancel.cancelled() => return None,
                attempt = self.try_acquire(&mut observed) => attempt,
            };
            match attempt {
                Ok(Attempt::Acquired(leadership)) => return Some(*leadership),
                Ok(Attempt::Raced) if !just_raced => {
                    tracing::debug!(%lease, "another candidate wrote the Lease first; reading it again");
                    just_raced = true;
                    continue;
                }
                Ok(Attempt::Raced) => {}
                Ok(Attempt::Held { holder, expires_in }) => {
                    if last_holder.as_deref() != Some(holder.as_str()) {
                        tracing::info!(%lease, %holder, identity = %config.identity, "standing by: another replica is the leader");
                    } else {
                        tracing::debug!(%lease, %holder, ?expires_in, "the leader's Lease is still valid");
                    }
                    last_holder = Some(holder);
                }
                Err(error) => {
                    tracing::warn!(%lease, %error, retry_in = ?config.retry_interval, "could not look at the Lease; retrying");
                }
            }
            just_raced = false;
            tokio::select! {
                biased;
                () = cancel.cancelled() => return None,
                () = tokio::time::sleep(config.retry_interval) => {}
            }
        }
    }

    async fn try_acquire(&self, observed: &mut Option<Observation>) -> Result<Attempt, LeaseError> {
        let config = &*self.lease.config;
        let within = config.lease_duration;
        let current = self.lease.get(within).await?;
        // Taken after the answer: the record we read was written before now, so our
        // observation can only be late, which makes us wait longer, never shorter.
        let seen_at = Instant::now();
        let spec = current.as_ref().map(|l| l.spec.clone().unwrap_or_default());
        // The spec, not the resourceVersion: a label or annotation written by someone else must
        // not keep a dead leader's Lease alive. The holder's renewTime changes on every renewal.
        let age = match (&spec, observed.as_mut()) {
            (Some(spec), Some(o)) if o.spec == *spec => seen_at - o.since,
            (Some(spec), _) => {
                *observed = Some(Observation {
                    spec: spec.clone(),
                    since: seen_at,
                });
                Duration::ZERO
            }
            (None, _) => {
                *observed = None;
                Duration::ZERO
            }
        };
        let action = decide(spec.as_ref(), &config.identity, age, config.lease_duration);
        if let Action::Wait { holder, expires_in } = action {
            return Ok(Attempt::Held { holder, expires_in });
        }
        let new_spec = next_spec(spec.as_ref(), &action, config, Timestamp::now());
        // The leader's deadline counts from before the write was sent: see the module docs.
        let sent_at = Instant::now();
        let written = match &current {
            None => self.lease.create(new_spec, within).await?,
            Some(read) => self.lease.replace(read, new_spec, within).await?,
        };
        let Some(written) = written else {
            return Ok(Attempt::Raced);
        };
        let term = self.term.fetch_add(1, Ordering::SeqCst) + 1;
        self.leader.send_replace(true);
        let transitions = written
            .spec
            .as_ref()
            .and_then(|s| s.lease_transitions)
            .unwrap_or(0);
        match &action {
            Action::Take { from: Some(from) } => tracing::info!(
                lease = %config.lease_ref(), identity = %config.identity, previous = %from,
                transitions, "became leader: the previous leader's Lease expired"
            ),
            Action::Renew => tracing::info!(
                lease = %config.lease_ref(), identity = %config.identity, transitions,
                "became leader: the Lease already named this identity"
            ),
            _ => tracing::info!(
                lease = %config.lease_ref(), identity = %config.identity, transitions,
                "became leader"
            ),
        }
        Ok(Attempt::Acquired(Box::new(Leadership {
            lease: self.lease.clone(),
            current: written,
            renewed_at: sent_at,
            lost: None,
            leader: self.leader.clone(),
            term,
            current_term: self.term.clone(),
        })))
    }
}

/// Why [`Leadership::hold`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadershipEnd {
    /// `cancel` fired. The Lease still names us: [`Leadership::release`] it, or a standby
    /// takes over once it expires.
    Cancelled,
    /// We are no longer the leader and must stop reconciling at once.
    Lost { reason: String },
}

/// Holding the Lease. Dropping it stops renewing (the Lease then expires) and turns
/// [`LeaderElector::subscribe`] `false`.
pub struct Leadership {
    lease: LeaseClient,
    /// The Lease as we last wrote (or, after a 409, read) it: its resourceVersion conditions
    /// the next renewal.
    current: Lease,
    /// When the last successful write was sent.
    renewed_at: Instant,
    lost: Option<String>,
    leader: watch::Sender<bool>,
    term: u64,
    current_term: Arc<AtomicU64>,
}

impl fmt::Debug for Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("lease", &self.lease.config.lease_ref())
            .field("identity", &self.lease.config.identity)
            .field("renewed_at", &self.renewed_at)
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

enum RenewOutcome {
    Renewed,
    Lost(String),
}

impl Leadership {
    /// Renews every renew_interval until `cancel` fires (-> Cancelled) or the Lease is lost
    /// (-> Lost): another identity holds it, or it could not be renewed before
    /// lease_duration elapsed since the last successful renewal (fencing: the caller must stop
    /// reconciling at once when this returns Lost).
    ///
    /// A Lease that was deleted or emptied by someone else is also Lost, not silently taken
    /// back: another replica may have held it in between. Once Lost, every later call returns
    /// Lost at once.
    pub async fn hold(&mut self, cancel: &CancellationToken) -> LeadershipEnd {
        let config = self.lease.config.clone();
        let lease = config.lease_ref();
        let mut failing = false;
        loop {
            if let Some(reason) = &self.lost {
                return LeadershipEnd::Lost {
                    reason: reason.clone(),
                };
            }
            let deadline = self.renewed_at + config.lease_duration;
            let next = if failing {
                Instant::now() + config.retry_interval
            } else {
                self.renewed_at + config.renew_interval
            };
            tokio::select! {
                biased;
                () = cancel.cancelled() => return LeadershipEnd::Cancelled,
                () = tokio::time::sleep_until(next.min(deadline)) => {}
            }
            if Instant::now() >= deadline {
                self.lose(format!(
                    "the Lease was not renewed within its duration of {:?}",
                    config.lease_duration
                ));
                continue;
            }
            let started = Instant::now();
            let outcome = tokio::select! {
                biased;
                () = cancel.cancelled() => None,
                outcome = tokio::time::timeout_at(deadline, self.renew(started, deadline - started)) => Some(outcome),
            };
            match outcome {
                None => return LeadershipEnd::Cancelled,
                Some(Err(_)) => self.lose(format!(
                    "the Lease was not renewed within its duration of {:?}: the API server did not answer in time",
                    config.lease_duration
                )),
                Some(Ok(Ok(RenewOutcome::Renewed))) => {
                    failing = false;
                    tracing::debug!(%lease, identity = %config.identity, "renewed the Lease");
                }
                Some(Ok(Ok(RenewOutcome::Lost(reason)))) => self.lose(reason),
                Some(Ok(Err(error))) => {
                    failing = true;
                    tracing::warn!(
                        %lease, %error,
                        time_left = ?deadline.saturating_duration_since(Instant::now()),
                        "could not renew the Lease; retrying"
                    );
                }
            }
        }
    }

    /// One renewal: a conditional replace, and after a 409 a look at who changed it.
    async fn renew(
        &mut self,
        started: Instant,
        within: Duration,
    ) -> Result<RenewOutcome, LeaseError> {
        let config = self.lease.config.clone();
        const ATTEMPTS: u32 = 3;
        for _ in 0..ATTEMPTS {
            let spec = next_spec(
                self.current.spec.as_ref(),
                &Action::Renew,
                &config,
                Timestamp::now(),
            );
            if let Some(written) = self.lease.replace(&self.current, spec, within).await? {
                self.current = written;
                self.renewed_at = started;
                return Ok(RenewOutcome::Renewed);
            }
            let Some(read) = self.lease.get(within).await? else {
                return Ok(RenewOutcome::Lost("the Lease was deleted".into()));
            };
            match holder_of(&read) {
                Some(h) if h == config.identity => {
                    // Still ours; someone touched its metadata. Renew on top of that.
                    self.current = read;
                }
                Some(h) => {
                    return Ok(RenewOutcome::Lost(format!("the Lease is now held by {h}")));
                }
                None => {
                    return Ok(RenewOutcome::Lost(
                        "the Lease was released by someone else".into(),
                    ));
                }
            }
        }
        Err(LeaseError::Conflict {
            namespace: config.namespace.clone(),
            name: config.name.clone(),
            op: "update",
            attempts: ATTEMPTS,
        })
    }

    fn lose(&mut self, reason: String) {
        let config = &self.lease.config;
        tracing::info!(
            lease = %config.lease_ref(), identity = %config.identity, %reason,
            "lost leadership"
        );
        self.step_down();
        self.lost = Some(reason);
    }

    fn step_down(&self) {
        if self.current_term.load(Ordering::SeqCst) == self.term {
            self.leader
                .send_if_modified(|leader| std::mem::replace(leader, false));
        }
    }

    /// Gives the Lease up (clear holderIdentity, or set it so that it is expired) so a standby
    /// takes over at once instead of waiting for expiry. Used on SIGTERM.
    ///
    /// The caller must have stopped reconciling first: from the moment this is called we no
    /// longer claim leadership. A Lease that no longer names us is left alone (`Ok`).
    pub async fn release(self) -> Result<(), LeaseError> {
        self.step_down();
        let config = self.lease.config.clone();
        let within = config.lease_duration;
        const ATTEMPTS: u32 = 3;
        for _ in 0..ATTEMPTS {
            // Read first rather than trusting our resourceVersion: after a Lost or a conflict it
            // is stale, and then the Lease may be someone else's.
            let Some(read) = self.lease.get(within).await? else {
                return Ok(());
            };
            if holder_of(&read) != Some(config.identity.as_str()) {
                tracing::debug!(
                    lease = %config.lease_ref(), holder = ?holder_of(&read),
                    "not releasing the Lease: it no longer names this identity"
                );
                return Ok(());
            }
            let mut spec = read.spec.clone().unwrap_or_default();
            // Both, as client-go does: candidates that ignore an empty holder still see a
            // 1 s Lease renewed long ago by the time they look twice.
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            if self.lease.replace(&read, spec, within).await?.is_some() {
                tracing::info!(
                    lease = %config.lease_ref(), identity = %config.identity,
                    "released the Lease"
                );
                return Ok(());
            }
        }
        Err(LeaseError::Conflict {
            namespace: config.namespace.clone(),
            name: config.name.clone(),
            op: "release",
            attempts: ATTEMPTS,
        })
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.step_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "me-abc12";
    const OTHER: &str = "other-xyz89";
    const DEFAULT: Duration = Duration::from_secs(15);

    fn held_by(holder: Option<&str>, seconds: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: seconds,
            lease_transitions: Some(4),
            renew_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            acquire_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            ..LeaseSpec::default()
        }
    }

    fn config() -> LeaseConfig {
        LeaseConfig::new("ns", "lease", ME)
    }

    #[test]
    fn absent_lease_is_created() {
        assert_eq!(decide(None, ME, Duration::ZERO, DEFAULT), Action::Create);
    }

    #[test]
    fn lease_without_holder_is_taken_at_once() {
        let spec = held_by(None, Some(15));
        assert_eq!(
            decide(Some(&spec), ME, Duration::ZERO, DEFAULT),
            Action::Take { from: None }
        );
        // A spec-less Lease object reaches decide as the empty spec.
        assert_eq!(
            decide(Some(&LeaseSpec::default()), ME, Duration::ZERO, DEFAULT),
            Action::Take { from: None }
        );
    }

    #[test]
    fn released_lease_with_empty_holder_is_taken_at_once() {
        // client-go releases by writing "" with a 1 s duration.
        let spec = held_by(Some(""), Some(1));
        assert_eq!(
            decide(Some(&spec), ME, Duration::ZERO, DEFAULT),
            Action::Take { from: None }
        );
    }

    #[test]
    fn our_own_lease_is_renewed_however_old() {
        let spec = held_by(Some(ME), Some(15));
        for age in [Duration::ZERO, Duration::from_secs(3600)] {
            assert_eq!(decide(Some(&spec), ME, age, DEFAULT), Action::Renew);
        }
    }

    #[test]
    fn others_fresh_lease_is_waited_for() {
        let spec = held_by(Some(OTHER), Some(15));
        assert_eq!(
            decide(Some(&spec), ME, Duration::from_secs(5), DEFAULT),
            Action::Wait {
                holder: OTHER.into(),
                expires_in: Duration::from_secs(10)
            }
        );
    }

    #[test]
    fn others_lease_expires_after_its_own_duration_not_ours() {
        let spec = held_by(Some(OTHER), Some(30));
        assert!(matches!(
            decide(Some(&spec), ME, Duration::from_secs(20), DEFAULT),
            Action::Wait { .. }
        ));
        assert_eq!(
            decide(Some(&spec), ME, Duration::from_secs(30), DEFAULT),
            Action::Take {
                from: Some(OTHER.into())
            }
        );
    }

    #[test]
    fn others_expired_lease_is_taken() {
        let spec = held_by(Some(OTHER), Some(15));
        for age in [Duration::from_secs(15), Duration::from_secs(16)] {
            assert_eq!(
                decide(Some(&spec), ME, age, DEFAULT),
                Action::Take {
                    from: Some(OTHER.into())
                }
            );
        }
    }

    #[test]
    fn missing_or_nonsense_duration_falls_back_to_ours() {
        for seconds in [None, Some(0), Some(-5)] {
            let spec = held_by(Some(OTHER), seconds);
            assert!(matches!(
                decide(Some(&spec), ME, Duration::from_secs(14), DEFAULT),
                Action::Wait { .. }
            ));
            assert!(matches!(
                decide(Some(&spec), ME, DEFAULT, DEFAULT),
                Action::Take { .. }
            ));
        }
    }

    #[test]
    fn expiry_ignores_renew_time_entirely() {
        // A renewTime far in the past (a holder whose clock lags) is still fresh when we have
        // just seen it change.
        let spec = held_by(Some(OTHER), Some(15));
        assert!(matches!(
            decide(Some(&spec), ME, Duration::ZERO, DEFAULT),
            Action::Wait { .. }
        ));
    }

    #[test]
    fn created_spec_starts_at_zero_transitions() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let spec = next_spec(None, &Action::Create, &config(), now);
        assert_eq!(spec.holder_identity.as_deref(), Some(ME));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.lease_transitions, Some(0));
        assert_eq!(spec.acquire_time, Some(MicroTime(now)));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
    }

    #[test]
    fn taking_counts_a_transition_and_resets_acquire_time() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let old = LeaseSpec {
            strategy: Some("OldestEmulationVersion".into()),
            ..held_by(Some(OTHER), Some(30))
        };
        let spec = next_spec(Some(&old), &Action::Take { from: None }, &config(), now);
        assert_eq!(spec.holder_identity.as_deref(), Some(ME));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.lease_transitions, Some(5));
        assert_eq!(spec.acquire_time, Some(MicroTime(now)));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
        assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let old = held_by(Some(ME), Some(15));
        let spec = next_spec(Some(&old), &Action::Renew, &config(), now);
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.acquire_time, Some(MicroTime(Timestamp::UNIX_EPOCH)));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
    }

    #[test]
    fn written_duration_rounds_up_to_whole_seconds() {
        let mut c = config();
        for (duration, seconds) in [
            (Duration::from_millis(2000), 2),
            (Duration::from_millis(2001), 3),
            (Duration::from_millis(300), 1),
            (Duration::ZERO, 1),
        ] {
            c.lease_duration = duration;
            assert_eq!(c.lease_duration_seconds(), seconds, "{duration:?}");
        }
    }

    #[test]
    fn forbidden_errors_name_the_missing_permission() {
        let status = kube::core::Status::failure("leases is forbidden", "Forbidden").with_code(403);
        let error = LeaseError::Api {
            namespace: "attestor-system".into(),
            name: "attestor-operator".into(),
            op: "get",
            source: kube::Error::Api(Box::new(status)),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("cannot get Lease attestor-system/attestor-operator: "),
            "{text}"
        );
        assert!(
            text.contains("leases.coordination.k8s.io in namespace attestor-system"),
            "{text}"
        );
    }
}
