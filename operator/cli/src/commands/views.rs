//! On-call views of the cluster: `attestor trust-anchors list` and
//! `attestor verifications list`, plain tables of what `kubectl get` shows in columns, plus the
//! reason and time left that on-call asks for first.

use std::time::Duration;

use attestor_api::conditions::{EXPIRING_SOON, READY, VERIFIED};
use attestor_api::{ProofVerification, TrustAnchor};
use attestor_runtime::conditions::find;
use clap::{Args, Subcommand};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};

use crate::CliError;

#[derive(Debug, Subcommand)]
pub enum TrustAnchorsCommand {
    /// Every TrustAnchor with its Ready reason, key id and expiry.
    List,
}

#[derive(Debug, Subcommand)]
pub enum VerificationsCommand {
    /// ProofVerifications with their Verified status and reason.
    List(VerificationsListArgs),
}

#[derive(Debug, Args)]
pub struct VerificationsListArgs {
    /// Only those that are not verified (Verified is False or Unknown).
    #[arg(long)]
    pub failed: bool,
    /// The namespace; defaults to the kubeconfig context's.
    #[arg(
        long,
        short = 'n',
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
}

/// Why a command could not talk to the cluster (exit code 2).
#[derive(Debug)]
pub struct Unreachable(pub String);

/// A client from the in-cluster config or KUBECONFIG, checked by asking the API server its
/// version (so that an unreachable cluster is reported once, up front).
pub async fn connect() -> Result<Client, Unreachable> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| Unreachable(no_configuration(&e)))?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| Unreachable(format!("cannot build a client for {url}: {e}")))?;
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(Unreachable(format!(
            "the API server at {url} does not answer: {}",
            error_chain(&e)
        ))),
        Err(_) => Err(Unreachable(format!(
            "the API server at {url} does not answer within 10s"
        ))),
    }
}

/// What to do when there is no usable configuration.
const SET_KUBECONFIG: &str = "set KUBECONFIG to the cluster's kubeconfig (for the local cluster of make cluster-up: export KUBECONFIG=$PWD/e2e/kubeconfig)";

/// Why no client configuration could be loaded. kube's own message quotes each path twice
/// (`'"/path"'`) and reports the in-cluster attempt as well, which outside a Pod only adds
/// noise: the kubeconfig's problem is the one to fix.
fn no_configuration(error: &kube::config::InferConfigError) -> String {
    match std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<kube::config::KubeconfigError>())
    {
        Some(kubeconfig) => format!("{}; {SET_KUBECONFIG}", kubeconfig_problem(kubeconfig)),
        None => format!("no cluster configuration: {error}; {SET_KUBECONFIG}"),
    }
}

/// A kubeconfig's problem in plain words, each path said once, as it is.
fn kubeconfig_problem(error: &kube::config::KubeconfigError) -> String {
    use kube::config::{KubeconfigError as K, LoadDataError as L};
    let file = |what: &str, e: &L| match e {
        L::ReadFile(io, path) => format!(
            "the {what} file {} that the kubeconfig names cannot be read: {io}",
            path.display()
        ),
        other => format!("the kubeconfig's {what} is unusable: {other}"),
    };
    match error {
        K::ReadConfig(io, path) => {
            format!("the kubeconfig {} cannot be read: {io}", path.display())
        }
        K::LoadCertificateAuthority(e) => file("certificate authority", e),
        K::LoadClientCertificate(e) => file("client certificate", e),
        K::LoadClientKey(e) => file("client key", e),
        K::FindPath => "no kubeconfig: KUBECONFIG is not set and there is no home directory to find ~/.kube/config in".to_string(),
        other => format!("the kubeconfig is unusable: {other}"),
    }
}

/// Every distinct message of an error's chain: kube's outer message (`ServiceError: client
/// error (Connect)`) alone does not say what failed.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

/// Runs an async body on a fresh runtime; an unreachable cluster is exit code 2.
pub fn block_on<F>(body: F) -> Result<u8, CliError>
where
    F: std::future::Future<Output = Result<u8, Unreachable>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    match runtime.block_on(body) {
        Ok(code) => Ok(code),
        Err(Unreachable(why)) => {
            eprintln!("error: cannot reach the cluster: {why}");
            Ok(crate::EXIT_USAGE)
        }
    }
}

pub fn trust_anchors(command: &TrustAnchorsCommand) -> Result<u8, CliError> {
    let TrustAnchorsCommand::List = command;
    block_on(async {
        let client = connect().await?;
        let api: Api<TrustAnchor> = Api::all(client);
        let mut list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| Unreachable(format!("cannot list TrustAnchors: {e}")))?
            .items;
        list.sort_by_key(|a| a.name_any());
        let now = Timestamp::now();
        let mut rows = vec![row([
            "NAME",
            "READY",
            "REASON",
            "ALGORITHM",
            "KEY ID",
            "NOT AFTER",
            "EXPIRES IN",
        ])];
        for a in &list {
            let status = a.status.clone().unwrap_or_default();
            let ready = find(&status.conditions, READY);
            let mut reason = reason_of(ready);
            if find(&status.conditions, EXPIRING_SOON).is_some_and(|c| c.status == "True") {
                reason.push_str(",ExpiringSoon");
            }
            let not_after = status.not_after.as_ref().map(|t| t.0);
            rows.push(vec![
                a.name_any(),
                status_of(ready),
                reason,
                status.algorithm.unwrap_or_else(|| "-".into()),
                status
                    .key_id
                    .map(|k| short(&k, 19))
                    .unwrap_or_else(|| "-".into()),
                not_after
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into()),
                not_after
                    .map(|t| time_left(now, t))
                    .unwrap_or_else(|| "never".into()),
            ]);
        }
        print!("{}", table(&rows));
        if list.is_empty() {
            println!("(no TrustAnchors)");
        }
        Ok(crate::EXIT_VERIFIED)
    })
}

pub fn verifications(command: &VerificationsCommand) -> Result<u8, CliError> {
    let VerificationsCommand::List(args) = command;
    block_on(async {
        let client = connect().await?;
        let api: Api<ProofVerification> = if args.all_namespaces {
            Api::all(client)
        } else {
            match &args.namespace {
                Some(ns) => Api::namespaced(client, ns),
                None => Api::default_namespaced(client),
            }
        };
        let mut list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| Unreachable(format!("cannot list ProofVerifications: {e}")))?
            .items;
        list.sort_by_key(|p| (p.namespace().unwrap_or_default(), p.name_any()));
        let now = Timestamp::now();
        let mut rows = vec![row([
            "NAMESPACE",
            "NAME",
            "VERIFIED",
            "REASON",
            "IMAGE",
            "AGE",
            "MESSAGE",
        ])];
        let mut shown = 0;
        for p in &list {
            let conditions = p
                .status
                .as_ref()
                .map(|s| s.conditions.as_slice())
                .unwrap_or_default();
            let verified = find(conditions, VERIFIED);
            if args.failed && verified.is_some_and(|c| c.status == "True") {
                continue;
            }
            shown += 1;
            rows.push(vec![
                p.namespace().unwrap_or_default(),
                p.name_any(),
                status_of(verified),
                reason_of(verified),
                p.spec
                    .image
                    .clone()
                    .unwrap_or_else(|| short(&p.spec.artifact_digest, 19)),
                age(now, p),
                verified
                    .map(|c| short(&c.message.replace('\n', " "), 80))
                    .unwrap_or_default(),
            ]);
        }
        print!("{}", table(&rows));
        if shown == 0 {
            println!(
                "(no {}ProofVerifications)",
                if args.failed { "failing " } else { "" }
            );
        }
        Ok(crate::EXIT_VERIFIED)
    })
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn status_of(c: Option<&Condition>) -> String {
    c.map(|c| c.status.clone())
        .unwrap_or_else(|| "Unknown".into())
}

fn reason_of(c: Option<&Condition>) -> String {
    c.map(|c| c.reason.clone())
        .unwrap_or_else(|| "NoStatus".into())
}

/// At most `n` characters, with `…` when cut.
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `12d`, `5h`, `3m`, `40s`, or `expired 2d ago`.
pub fn time_left(now: Timestamp, then: Timestamp) -> String {
    let secs = then.as_second() - now.as_second();
    if secs < 0 {
        format!("expired {} ago", human_secs(-secs))
    } else {
        human_secs(secs)
    }
}

pub fn human_secs(secs: i64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn age<K: Resource>(now: Timestamp, obj: &K) -> String {
    obj.meta()
        .creation_timestamp
        .as_ref()
        .map(|t| human_secs((now.as_second() - t.0.as_second()).max(0)))
        .unwrap_or_else(|| "-".into())
}

/// Left-aligned columns separated by three spaces, like kubectl.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn kubeconfig_problems_name_each_path_once_and_plainly() {
        use kube::config::{KubeconfigError as K, LoadDataError as L};
        let missing = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let table: Vec<(K, String)> = vec![
            (
                K::ReadConfig(missing(), "/home/me/attestor/e2e/kubeconfig".into()),
                format!(
                    "the kubeconfig /home/me/attestor/e2e/kubeconfig cannot be read: {}",
                    missing()
                ),
            ),
            (
                K::LoadCertificateAuthority(L::ReadFile(missing(), "/etc/k/ca.crt".into())),
                format!(
                    "the certificate authority file /etc/k/ca.crt that the kubeconfig names cannot be read: {}",
                    missing()
                ),
            ),
            (
                K::LoadClientKey(L::ReadFile(missing(), "/etc/k/admin.key".into())),
                format!(
                    "the client key file /etc/k/admin.key that the kubeconfig names cannot be read: {}",
                    missing()
                ),
            ),
            (
                K::MissingClusterUrl,
                "the kubeconfig is unusable: cluster url is missing on selected cluster".into(),
            ),
        ];
        for (error, expected) in table {
            let text = super::kubeconfig_problem(&error);
            assert_eq!(text, expected);
            assert!(!text.contains('"') && !text.contains('\''), "{text}");
        }
    }

    use super::*;

    #[test]
    fn tables_align_and_times_read_well() {
        let t = table(&[row(["NAME", "READY"]), row(["root-2025", "True"])]);
        assert_eq!(t, "NAME        READY\nroot-2025   True\n");
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            time_left(now, "2026-12-15T00:00:00Z".parse().unwrap()),
            "14d"
        );
        assert_eq!(
            time_left(now, "2026-11-30T22:00:00Z".parse().unwrap()),
            "expired 2h ago"
        );
        assert_eq!(short("sha256:0123456789abcdef", 10), "sha256:01…");
    }
}
