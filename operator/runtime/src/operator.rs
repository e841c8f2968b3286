//! `attestor run`: probes and metrics, leader election, and the controllers while leading.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::controllers::{self, Settings};
use crate::fetch::directory::DirectoryCache;
use crate::fetch::{FetchConfig, Fetcher};
use crate::http::{self, Health};
use crate::leader::{LeaderElector, LeadershipEnd, LeaseConfig};
use crate::metrics::Metrics;

/// How `attestor run` was asked to run.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub probe_addr: SocketAddr,
    /// `None` runs the controllers at once, without a Lease (one replica only).
    pub lease: Option<LeaseConfig>,
    pub settings: Settings,
    pub fetch: FetchConfig,
    /// How long in-flight reconciles may take to finish on shutdown.
    pub shutdown_grace: Duration,
    /// The admission webhook, served by every replica whether leading or not; `None` for none.
    pub webhook: Option<crate::webhook::WebhookConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot connect to the Kubernetes API: {0}")]
    Client(#[from] crate::kube_client::ClientError),
    #[error(transparent)]
    Serve(#[from] http::ServeError),
    #[error(transparent)]
    Fetcher(#[from] crate::fetch::FetcherSetupError),
    #[error(transparent)]
    Webhook(#[from] crate::webhook::WebhookError),
}

/// Runs until SIGTERM or SIGINT (or `cancel`), then stops reconciling, releases the Lease and
/// returns.
pub async fn run(config: OperatorConfig, cancel: CancellationToken) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::new());
    let client = crate::kube_client::client(metrics.clone()).await?;
    run_with(config, client, metrics, cancel).await
}

/// [`run`] with a given client (whose requests `metrics` should count): tests point it at their
/// cluster.
pub async fn run_with(
    config: OperatorConfig,
    client: kube::Client,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    let fetcher = Fetcher::new(config.fetch.clone())?;
    let directories = DirectoryCache::new();
    let health = Arc::new(Health::new());
    health.set_ready(false, "starting");

    spawn_signal_handler(cancel.clone());
    let listener = http::bind(config.probe_addr).await?;
    tracing::info!(address = %config.probe_addr, "serving /healthz, /readyz and /metrics");
    let server = tokio::spawn(http::serve(
        listener,
        health.clone(),
        metrics.clone(),
        cancel.clone(),
    ));
    let webhook = match &config.webhook {
        Some(webhook) => Some(tokio::spawn(crate::webhook::run(
            client.clone(),
            webhook.clone(),
            crate::webhook::bind(webhook.address).await?,
            metrics.clone(),
            health.clone(),
            cancel.clone(),
        ))),
        None => None,
    };

    let term = |cancel: CancellationToken| {
        let (client, metrics, fetcher, directories, settings) = (
            client.clone(),
            metrics.clone(),
            fetcher.clone(),
            directories.clone(),
            config.settings.clone(),
        );
        tokio::spawn(controllers::run(
            client,
            metrics,
            fetcher,
            directories,
            settings,
            cancel,
        ))
    };

    match &config.lease {
        None => {
            health.set_ready(true, "running without leader election");
            metrics.set_leader(true);
            let controllers = term(cancel.clone());
            cancel.cancelled().await;
            finish(controllers, config.shutdown_grace).await;
        }
        Some(lease) => {
            let elector = LeaderElector::new(client.clone(), lease.clone());
            // A standby is healthy and ready: it answers probes and takes over when needed.
            health.set_ready(true, "standby");
            tracing::info!(lease = %format!("{}/{}", lease.namespace, lease.name), identity = %lease.identity, "waiting for the Lease");
            while let Some(mut leadership) = elector.acquire(&cancel).await {
                tracing::info!(identity = %lease.identity, "leading: starting the controllers");
                metrics.set_leader(true);
                health.set_ready(true, "leading");
                let stop = cancel.child_token();
                let controllers = term(stop.clone());
                let end = leadership.hold(&cancel).await;
                // Fencing: stop reconciling before anything else, so two replicas never write.
                stop.cancel();
                metrics.set_leader(false);
                match end {
                    LeadershipEnd::Cancelled => {
                        finish(controllers, config.shutdown_grace).await;
                        if let Err(e) = leadership.release().await {
                            tracing::warn!(error = %e, "could not release the Lease; the standby takes over when it expires");
                        } else {
                            tracing::info!("Lease released");
                        }
                        break;
                    }
                    LeadershipEnd::Lost { reason } => {
                        tracing::warn!(%reason, "lost the Lease: controllers stopped, back to standby");
                        finish(controllers, config.shutdown_grace).await;
                        health.set_ready(true, "standby");
                    }
                }
            }
        }
    }
    health.set_ready(false, "shutting down");
    cancel.cancel();
    match server.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "probe server stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "probe server task failed"),
        Ok(Ok(())) => {}
    }
    if let Some(Err(e)) = match webhook {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::warn!(error = %e, "webhook task failed");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn finish(controllers: tokio::task::JoinHandle<()>, grace: Duration) {
    match tokio::time::timeout(grace, controllers).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "controllers task failed"),
        Err(_) => tracing::warn!(
            grace = ?grace,
            "in-flight reconciles did not finish in time; stopping anyway"
        ),
    }
}

fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
            _ = cancel.cancelled() => return,
        }
        cancel.cancel();
    });
}
