//! `attestor run`: the operator process.

use std::net::SocketAddr;
use std::time::Duration;

use attestor_runtime::controllers::Settings;
use attestor_runtime::fetch::{FetchConfig, IpNetwork, default_denied_networks};
use attestor_runtime::leader::LeaseConfig;
use attestor_runtime::operator::{OperatorConfig, run as run_operator};
use attestor_runtime::telemetry::{self, LogFormat};
use attestor_runtime::webhook::certs::subject_alt_names;
use attestor_runtime::webhook::server::MAX_ADMISSION_WAIT;
use attestor_runtime::webhook::{CertMode, WebhookConfig};
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
    /// How often the ConfigMaps and Secrets that ProofVerifications read are checked for changes
    /// (one metadata GET per named object): the operator may only `get` them, not watch them.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub source_poll_interval: String,
    /// Time limit of one download (bundle or key directory), retries aside.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub fetch_timeout: String,
    /// Network (CIDR) that proof, key-directory and snapshot-store URLs may not reach, however
    /// a URL names it; repeatable, replaces the default: every address that is not globally
    /// reachable (loopback, RFC 1918, 100.64.0.0/10, 0.0.0.0/8, link-local, IPv6 ULA,
    /// multicast and reserved ranges; IPv6 forms carrying such an IPv4 address, NAT64, 6to4
    /// and Teredo, are judged by it). `none` denies nothing.
    #[arg(long, value_name = "CIDR")]
    pub fetch_deny_network: Vec<String>,
    /// Network (CIDR) that URLs may reach although a denied network holds it, e.g. an in-cluster
    /// snapshot store or key directory (10.96.0.0/12); repeatable. It allows exactly the
    /// addresses it holds (not the NAT64 or 6to4 forms of them).
    #[arg(long, value_name = "CIDR")]
    pub fetch_allow_network: Vec<String>,
    /// Create ProofVerifications for image digests in use that have none, where a trusted
    /// TrustedIssuer with `spec.discovery` covers the image (only the leader creates them; every
    /// replica's webhook hands digests over). `--discovery=false` turns it off (and the
    /// operator then needs no access to Pods).
    #[arg(long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL")]
    pub discovery: bool,
    /// A discovered ProofVerification is removed this long after no Pod or admission request
    /// used its digest.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub discovery_gc_after: String,
    /// Read a registry through a mirror, for ProofVerifications with `source.registry`:
    /// `docker.io=mirror.example:5000` (air-gapped clusters). Repeatable.
    #[arg(long, value_name = "FROM=TO")]
    pub registry_mirror: Vec<String>,
    /// A registry (HOST:PORT) spoken to over plain HTTP, e.g. an in-cluster test registry.
    /// Repeatable; every other registry is HTTPS.
    #[arg(long, value_name = "HOST:PORT")]
    pub registry_plain_http: Vec<String>,
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
    /// Serve the validating admission webhook (on every replica, leading or not).
    #[arg(long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL")]
    pub webhook: bool,
    /// Address of the webhook's HTTPS server (POST /validate).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub webhook_address: SocketAddr,
    /// `self-signed`: the operator makes its CA and certificate (Secret
    /// attestor-operator-webhook-tls in its namespace) and keeps the caBundle of
    /// --webhook-configuration current; `files`: tls.crt and tls.key from --webhook-cert-dir.
    #[arg(long, value_name = "MODE", default_value = "self-signed", value_parser = ["self-signed", "files"])]
    pub webhook_cert_mode: String,
    /// Directory of tls.crt and tls.key in `files` mode (e.g. a cert-manager Secret's volume).
    #[arg(long, value_name = "DIR")]
    pub webhook_cert_dir: Option<std::path::PathBuf>,
    /// The Secret (in the operator's namespace) holding the self-signed CA and certificate.
    #[arg(long, value_name = "NAME", default_value = attestor_runtime::webhook::certs::TLS_SECRET)]
    pub webhook_tls_secret: String,
    /// The ValidatingWebhookConfiguration whose caBundle is kept current in self-signed mode.
    #[arg(long, value_name = "NAME", default_value = "attestor-operator")]
    pub webhook_configuration: String,
    /// The webhook's Service: the certificate names NAME.NS.svc and NAME.NS.svc.cluster.local.
    #[arg(long, value_name = "NAME", default_value = "attestor-operator-webhook")]
    pub webhook_service: String,
    /// An extra name (DNS name or IP address) of the self-signed certificate; repeatable.
    #[arg(long = "webhook-dns-name", value_name = "NAME")]
    pub webhook_dns_names: Vec<String>,
    /// Let the attestor.stellaops.io/break-glass annotation admit failing images in enforce
    /// namespaces (with a Warning Event and a metric).
    #[arg(long, action = ArgAction::Set, default_value_t = false, value_name = "BOOL")]
    pub allow_break_glass: bool,
    /// Let ReplayJobs name `file://` snapshot stores, read from this process's own filesystem.
    /// Off by default: anyone who may create a ReplayJob could make the operator read its own
    /// files. For a store mounted into the operator, or a local demo.
    #[arg(long, action = ArgAction::Set, default_value_t = false, value_name = "BOOL")]
    pub allow_file_stores: bool,
    /// A namespace whose ProofVerifications count for workloads of every namespace; repeatable.
    #[arg(long = "shared-proof-namespace", value_name = "NS")]
    pub shared_proof_namespaces: Vec<String>,
    /// How long a review waits for a proof still being verified (at most 8s; keep it below the
    /// webhook's timeoutSeconds).
    #[arg(long, value_name = "DURATION", default_value = "3s")]
    pub admission_wait: String,
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
    networks("--fetch-deny-network", given)
}

fn networks(flag: &str, given: &[String]) -> Result<Vec<IpNetwork>, CliError> {
    given
        .iter()
        .map(|g| {
            g.parse()
                .map_err(|e| CliError::Usage(format!("{flag}: {e}")))
        })
        .collect()
}

fn webhook_config(args: &RunArgs, identity: &str) -> Result<Option<WebhookConfig>, CliError> {
    if !args.webhook {
        return Ok(None);
    }
    let namespace = lease_namespace(args.lease_namespace.clone());
    let cert_mode = match (args.webhook_cert_mode.as_str(), &args.webhook_cert_dir) {
        ("files", Some(dir)) => CertMode::Files { dir: dir.clone() },
        ("files", None) => {
            return Err(CliError::Usage(
                "--webhook-cert-mode files needs --webhook-cert-dir (the directory of tls.crt and tls.key)".into(),
            ));
        }
        _ => CertMode::SelfSigned {
            configuration: args.webhook_configuration.clone(),
            secret: args.webhook_tls_secret.clone(),
            names: subject_alt_names(&args.webhook_service, &namespace, &args.webhook_dns_names),
        },
    };
    let admission_wait = duration("--admission-wait", &args.admission_wait)?;
    if admission_wait > MAX_ADMISSION_WAIT {
        return Err(CliError::Usage(format!(
            "--admission-wait {} is over {MAX_ADMISSION_WAIT:?}: the API server would give up on the webhook first",
            args.admission_wait
        )));
    }
    Ok(Some(WebhookConfig {
        address: args.webhook_address,
        cert_mode,
        namespace,
        allow_break_glass: args.allow_break_glass,
        shared_proof_namespaces: args.shared_proof_namespaces.clone(),
        admission_wait,
        identity: identity.to_string(),
        cert_interval: Duration::from_secs(30),
    }))
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
    let webhook = webhook_config(&args, &identity)?;
    let fetch = FetchConfig {
        timeout: duration("--fetch-timeout", &args.fetch_timeout)?,
        denied_networks: denied_networks(&args.fetch_deny_network)?,
        allowed_networks: networks("--fetch-allow-network", &args.fetch_allow_network)?,
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
            source_poll: duration("--source-poll-interval", &args.source_poll_interval)?,
            allow_file_stores: args.allow_file_stores,
            registry: super::registry::registry_config(
                &args.registry_mirror,
                &args.registry_plain_http,
                "--registry-plain-http",
            )?,
            discovery: if args.discovery {
                Some(
                    attestor_runtime::controllers::discovery::DiscoverySettings {
                        gc_after: duration("--discovery-gc-after", &args.discovery_gc_after)?,
                        ..Default::default()
                    },
                )
            } else {
                None
            },
        },
        fetch,
        shutdown_grace: duration("--shutdown-grace", &args.shutdown_grace)?,
        webhook,
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
