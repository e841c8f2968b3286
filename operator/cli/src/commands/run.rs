//! `attestor run`: the operator process.

use std::net::SocketAddr;
use std::time::Duration;

use attestor_runtime::controllers::Settings;
use attestor_runtime::fetch::{FetchConfig, IpNetwork, default_denied_networks};
use attestor_runtime::leader::LeaseConfig;
use attestor_runtime::operator::{OperatorConfig, run as run_operator};
use attestor_runtime::telemetry::{self, LogFormat};
use clap::{ArgAction, Args};
use tokio_util::sync::CancellationToken;

use crate::CliError;

/// Where a Pod finds its own namespace.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address of /healthz, /readyz and /metrics.
    #[arg(
        long,
        value_name = "ADDR",
        env = "ATTESTOR_PROBE_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub probe_address: SocketAddr,
    /// Elect a leader through a coordination.k8s.io Lease, so that only one replica reconciles.
    /// `--leader-elect=false` runs the controllers at once (a single replica only).
    #[arg(long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL")]
    pub leader_elect: bool,
    /// Namespace of the Lease; defaults to the Pod's namespace ($POD_NAMESPACE or the service
    /// account's), else `default`.
    #[arg(long, value_name = "NS", env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    #[arg(long, value_name = "NAME", default_value = "attestor-operator")]
    pub lease_name: String,
    /// This replica's identity in the Lease and in Events; defaults to $POD_NAME, else the host
    /// name and process id.
    #[arg(long, value_name = "ID", env = "POD_NAME")]
    pub identity: Option<String>,
    /// How long a Lease holds without renewal before a standby takes over.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub lease_duration: String,
    /// How often the leader renews the Lease.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub lease_renew_interval: String,
    /// How often a standby checks whether the Lease is free.
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    pub lease_retry_interval: String,
    /// Largest proof bundle or envelope accepted from any source, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_bundle_bytes: u64,
    /// ProofVerifications verified at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: u16,
    /// How often ReplayJobs with `triggers.onNewFeedSnapshot` read their store's latest feed.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub replay_feed_poll_interval: String,
    /// Time limit of one download (bundle or key directory), retries aside.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub fetch_timeout: String,
    /// Network (CIDR) that proof and key-directory URLs may never reach, however a URL names it;
    /// repeatable, replaces the default (the link-local ranges, where clouds serve instance
    /// metadata: 169.254.0.0/16, fe80::/10, fd00:ec2::254). `none` denies nothing.
    #[arg(long, value_name = "CIDR")]
    pub fetch_deny_network: Vec<String>,
    /// How long in-flight reconciles may take to finish on SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    pub shutdown_grace: String,
    /// Log format: `text` or `json` (one object per line). Filter with RUST_LOG.
    #[arg(
        long,
        value_name = "FORMAT",
        env = "ATTESTOR_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

fn duration(flag: &str, text: &str) -> Result<Duration, CliError> {
    attestor_api::duration::parse(text)
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{flag} {text:?} is not a positive duration such as 15s, 5m or 1h"
            ))
        })
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "attestor".into());
    format!("{host}-{}", std::process::id())
}

fn lease_namespace(given: Option<String>) -> String {
    given
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|n| n.trim().to_string())
        })
        .unwrap_or_else(|| "default".into())
}

fn denied_networks(given: &[String]) -> Result<Vec<IpNetwork>, CliError> {
    if given.is_empty() {
        return Ok(default_denied_networks());
    }
    if given.iter().any(|g| g == "none") {
        if given.len() > 1 {
            return Err(CliError::Usage(
                "--fetch-deny-network none cannot be combined with networks".into(),
            ));
        }
        return Ok(Vec::new());
    }
    given
        .iter()
        .map(|g| {
            g.parse()
                .map_err(|e| CliError::Usage(format!("--fetch-deny-network: {e}")))
        })
        .collect()
}

pub fn run(args: RunArgs) -> Result<(), CliError> {
    let identity = args
        .identity
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(default_identity);
    let lease = if args.leader_elect {
        let mut lease = LeaseConfig::new(
            lease_namespace(args.lease_namespace.clone()),
            args.lease_name.clone(),
            identity.clone(),
        );
        lease.lease_duration = duration("--lease-duration", &args.lease_duration)?;
        lease.renew_interval = duration("--lease-renew-interval", &args.lease_renew_interval)?;
        lease.retry_interval = duration("--lease-retry-interval", &args.lease_retry_interval)?;
        if lease.renew_interval >= lease.lease_duration {
            return Err(CliError::Usage(format!(
                "--lease-renew-interval ({}) must be shorter than --lease-duration ({}), or the Lease lapses between renewals",
                args.lease_renew_interval, args.lease_duration
            )));
        }
        Some(lease)
    } else {
        None
    };
    let fetch = FetchConfig {
        timeout: duration("--fetch-timeout", &args.fetch_timeout)?,
        denied_networks: denied_networks(&args.fetch_deny_network)?,
        ..FetchConfig::default()
    };
    let config = OperatorConfig {
        probe_addr: args.probe_address,
        lease,
        settings: Settings {
            max_bundle_bytes: args.max_bundle_bytes,
            concurrency: args.concurrency.max(1),
            identity,
            replay_feed_poll: duration(
                "--replay-feed-poll-interval",
                &args.replay_feed_poll_interval,
            )?,
        },
        fetch,
        shutdown_grace: duration("--shutdown-grace", &args.shutdown_grace)?,
    };
    telemetry::init(args.log_format).map_err(|e| CliError::Usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(run_operator(config, CancellationToken::new()))
        .map_err(|e| CliError::Usage(e.to_string()))
}
