//! `attestor doctor`: checks an installation and prints each problem with its fix.
//!
//! Exit codes: 0 healthy, 1 problems found (warnings included), 2 the cluster cannot be reached.

use std::collections::BTreeMap;

use attestor_api::conditions::{EXPIRING_SOON, LAST_RUN_SUCCEEDED, READY, TRUSTED, VERIFIED};
use attestor_api::{ProofVerification, ReplayJob, TrustAnchor, TrustedIssuer};
use attestor_core::x509::parse_pem_certificates;
use attestor_runtime::conditions::find;
use clap::Args;
use jiff::Timestamp;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::views::{block_on, connect, human_secs, short, time_left};
use crate::CliError;

const CRDS: [&str; 4] = [
    "trustanchors.attestor.stellaops.io",
    "trustedissuers.attestor.stellaops.io",
    "proofverifications.attestor.stellaops.io",
    "replayjobs.attestor.stellaops.io",
];
const RUNBOOKS: &str = "docs/runbooks.md";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check the ProofVerifications and ReplayJobs of this namespace only (TrustAnchors and
    /// TrustedIssuers are cluster-scoped and always checked).
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// The leader Lease's name.
    #[arg(long, value_name = "NAME", default_value = "attestor-operator")]
    pub lease_name: String,
    /// The leader Lease's namespace; by default every namespace is searched.
    #[arg(long, value_name = "NS")]
    pub lease_namespace: Option<String>,
    /// The admission webhook's ValidatingWebhookConfiguration.
    #[arg(long, value_name = "NAME", default_value = "attestor-operator")]
    pub webhook_configuration: String,
    /// A ReplayJob is late when its nextRunTime is this far in the past.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub replay_late_after: String,
    /// A webhook CA expiring within this is reported.
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub certificate_warning: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub level: Level,
    /// What was checked, e.g. `TrustAnchor root-2024`.
    pub subject: String,
    pub message: String,
    /// What to do; empty for `Ok`.
    pub fix: String,
}

impl Finding {
    fn ok(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            level: Level::Ok,
            subject: subject.into(),
            message: message.into(),
            fix: String::new(),
        }
    }
    fn warn(
        subject: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            level: Level::Warn,
            subject: subject.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
    fn fail(
        subject: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            level: Level::Fail,
            subject: subject.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

fn seconds(flag: &str, text: &str) -> Result<i64, CliError> {
    attestor_api::duration::parse(text)
        .ok()
        .and_then(|d| std::time::Duration::try_from(d).ok())
        .map(|d| d.as_secs() as i64)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{flag} {text:?} is not a duration such as 10m, 1h or 7d"
            ))
        })
}

pub fn run(args: &DoctorArgs) -> Result<u8, CliError> {
    let late = seconds("--replay-late-after", &args.replay_late_after)?;
    let cert_warning = seconds("--certificate-warning", &args.certificate_warning)?;
    block_on(async {
        let client = connect().await?;
        let findings = diagnose(&client, args, late, cert_warning, Timestamp::now()).await;
        print!("{}", render(&findings));
        Ok(if findings.iter().any(|f| f.level != Level::Ok) {
            crate::EXIT_FAILED
        } else {
            crate::EXIT_VERIFIED
        })
    })
}

/// The findings, in the order checked.
pub async fn diagnose(
    client: &Client,
    args: &DoctorArgs,
    late: i64,
    cert_warning: i64,
    now: Timestamp,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let installed = check_crds(client, &mut out).await;
    let has = |plural: &str| installed.iter().any(|c| c.starts_with(plural));
    // What the objects say about an operator reconciling them: without leader election there
    // is no Lease, and this is the only evidence.
    let mut reconciled = Vec::new();
    if has("trustanchors.") {
        reconciled.extend(check_anchors(client, now, &mut out).await);
    }
    if has("trustedissuers.") {
        reconciled.extend(check_issuers(client, &mut out).await);
    }
    if has("proofverifications.") {
        reconciled
            .extend(check_verifications(client, args.namespace.as_deref(), now, &mut out).await);
    }
    // ReplayJobs are reported last, as before, but counted before the Lease is judged.
    let mut replay_out = Vec::new();
    if has("replayjobs.") {
        reconciled.extend(
            check_replay_jobs(
                client,
                args.namespace.as_deref(),
                now,
                late,
                &mut replay_out,
            )
            .await,
        );
    }
    check_lease(client, args, now, &reconciled, &mut out).await;
    check_webhook(
        client,
        &args.webhook_configuration,
        now,
        cert_warning,
        &mut out,
    )
    .await;
    out.extend(replay_out);
    out
}

/// How many objects of one kind an operator has reconciled: those whose
/// `status.observedGeneration` is their `metadata.generation` (every controller writes it with
/// each status, whatever the outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// The kind, plural: `ProofVerifications`.
    pub kind: &'static str,
    pub reconciled: usize,
    pub total: usize,
    /// A few of those not reconciled (yet), as `Kind ns/name`, for the message.
    pub waiting: Vec<String>,
}

impl Reconciled {
    fn new(kind: &'static str) -> Self {
        Self {
            kind,
            reconciled: 0,
            total: 0,
            waiting: Vec::new(),
        }
    }

    /// Counts one object; `name` is shown when it is not reconciled.
    fn count(
        &mut self,
        generation: Option<i64>,
        observed: Option<i64>,
        name: impl FnOnce() -> String,
    ) {
        self.total += 1;
        if observed.is_some() && observed == generation {
            self.reconciled += 1;
        } else if self.waiting.len() < 3 {
            self.waiting.push(name());
        }
    }
}

/// One block per finding: `ok`, `WARN` or `FAIL`, the subject and message, then `fix:`.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let tag = match f.level {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!("{tag}  {}: {}\n", f.subject, f.message));
        if !f.fix.is_empty() {
            out.push_str(&format!("      fix: {}\n", f.fix));
        }
    }
    let fails = findings.iter().filter(|f| f.level == Level::Fail).count();
    let warns = findings.iter().filter(|f| f.level == Level::Warn).count();
    if fails + warns == 0 {
        out.push_str("\nhealthy: no problems found\n");
    } else {
        out.push_str(&format!(
            "\n{fails} problem(s), {warns} warning(s); runbooks: {RUNBOOKS}\n"
        ));
    }
    out
}

async fn check_crds(client: &Client, out: &mut Vec<Finding>) -> Vec<String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut installed = Vec::new();
    let mut missing = Vec::new();
    for name in CRDS {
        match api.get_opt(name).await {
            Ok(Some(crd)) => {
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                if established {
                    installed.push(name.to_string());
                } else {
                    missing.push(format!("{name} (not Established)"));
                }
            }
            Ok(None) => missing.push(name.to_string()),
            Err(e) => {
                out.push(Finding::fail(
                    "CRDs",
                    format!("cannot read CustomResourceDefinition {name}: {e}"),
                    "run doctor with permission to get customresourcedefinitions",
                ));
                return CRDS.iter().map(|s| s.to_string()).collect();
            }
        }
    }
    if missing.is_empty() {
        out.push(Finding::ok("CRDs", "all 4 attestor CRDs are installed"));
    } else {
        out.push(Finding::fail(
            "CRDs",
            format!("not installed: {}", missing.join(", ")),
            "kubectl apply --server-side -f crds/ (make cluster-up and the Helm chart install them too)",
        ));
    }
    installed
}

async fn check_anchors(
    client: &Client,
    now: Timestamp,
    out: &mut Vec<Finding>,
) -> Option<Reconciled> {
    let api: Api<TrustAnchor> = Api::all(client.clone());
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(e) => {
            out.push(cannot_list("TrustAnchors", &e));
            return None;
        }
    };
    let mut reconciled = Reconciled::new("TrustAnchors");
    let mut healthy = 0;
    for a in &list {
        let subject = format!("TrustAnchor {}", a.name_any());
        let status = a.status.clone().unwrap_or_default();
        reconciled.count(a.metadata.generation, status.observed_generation, || {
            subject.clone()
        });
        match find(&status.conditions, READY) {
            None => out.push(Finding::warn(
                subject,
                "no Ready condition yet",
                NO_CONDITION_YET,
            )),
            Some(c) if c.status != "True" => out.push(Finding::fail(
                subject,
                format!("not Ready: {}: {}", c.reason, one_line(&c.message)),
                anchor_fix(&c.reason),
            )),
            Some(_) => {
                if let Some(c) =
                    find(&status.conditions, EXPIRING_SOON).filter(|c| c.status == "True")
                {
                    let left = status
                        .not_after
                        .as_ref()
                        .map(|t| format!(" (expires in {})", time_left(now, t.0)))
                        .unwrap_or_default();
                    out.push(Finding::warn(
                        subject,
                        format!("ExpiringSoon{left}: {}", one_line(&c.message)),
                        "rotate now: create the successor TrustAnchor and add it to the issuers' spec.anchors next to this one",
                    ));
                } else {
                    healthy += 1;
                }
            }
        }
    }
    if list.is_empty() {
        out.push(Finding::warn(
            "TrustAnchors",
            "none exist: no proof can verify",
            "create the TrustAnchors of your signers (see examples/)",
        ));
    } else if healthy > 0 {
        out.push(Finding::ok(
            "TrustAnchors",
            format!("{healthy} of {} Ready and not expiring soon", list.len()),
        ));
    }
    Some(reconciled)
}

fn anchor_fix(reason: &str) -> &'static str {
    match reason {
        "Expired" => {
            "add the successor TrustAnchor, reference it from the TrustedIssuers' spec.anchors, then delete or retire this one"
        }
        "NotYetValid" => "wait until spec.notBefore, or correct it",
        "InvalidKey" => "put a whole PEM public key (-----BEGIN PUBLIC KEY-----) in spec.publicKey",
        "InvalidCertificate" => {
            "put whole PEM certificates in spec.certificate / spec.intermediates"
        }
        "AlgorithmNotSupported" => "use an ECDSA P-256 or Ed25519 key",
        _ => "kubectl describe trustanchor NAME; see docs/runbooks.md#trustanchor",
    }
}

async fn check_issuers(client: &Client, out: &mut Vec<Finding>) -> Option<Reconciled> {
    let api: Api<TrustedIssuer> = Api::all(client.clone());
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(e) => {
            out.push(cannot_list("TrustedIssuers", &e));
            return None;
        }
    };
    let mut reconciled = Reconciled::new("TrustedIssuers");
    let mut trusted = 0;
    for i in &list {
        reconciled.count(
            i.metadata.generation,
            i.status.as_ref().and_then(|s| s.observed_generation),
            || format!("TrustedIssuer {}", i.name_any()),
        );
        let conditions = i
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        for warning in attestor_runtime::trust::identity_warnings(&i.spec) {
            out.push(Finding::warn(
                format!("TrustedIssuer {}", i.name_any()),
                warning,
                "anchor the pattern with ^ and $ (it means what it means in cosign and policy-controller: matched anywhere)",
            ));
        }
        match find(conditions, TRUSTED) {
            Some(c) if c.status == "True" => trusted += 1,
            Some(c) => out.push(Finding::fail(
                format!("TrustedIssuer {}", i.name_any()),
                format!("not Trusted: {}: {}", c.reason, one_line(&c.message)),
                issuer_fix(&c.reason),
            )),
            None => out.push(Finding::warn(
                format!("TrustedIssuer {}", i.name_any()),
                "no Trusted condition yet",
                NO_CONDITION_YET,
            )),
        }
    }
    if trusted > 0 || list.is_empty() {
        out.push(Finding::ok(
            "TrustedIssuers",
            format!("{trusted} of {} Trusted", list.len()),
        ));
    }
    Some(reconciled)
}

fn issuer_fix(reason: &str) -> &'static str {
    match reason {
        "ApprovalMissing" => {
            "review the issuer, then set spec.approval.approvedBy and spec.approval.reason"
        }
        "AnchorNotFound" => "create the TrustAnchor named in spec.anchors, or fix the name",
        "AnchorNotReady" => "fix the TrustAnchor named in spec.anchors (see its Ready reason)",
        "KeyFetchFailed" => {
            "check spec.directory.url from the operator's network (egress, proxy, TLS); see status.lastKeyFetchError"
        }
        "NoKeys" => "add a TrustAnchor to spec.anchors or publish keys in the directory",
        _ => "kubectl describe trustedissuer NAME; see docs/runbooks.md#trustedissuer",
    }
}

async fn check_verifications(
    client: &Client,
    namespace: Option<&str>,
    now: Timestamp,
    out: &mut Vec<Finding>,
) -> Option<Reconciled> {
    let api: Api<ProofVerification> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(e) => {
            out.push(cannot_list("ProofVerifications", &e));
            return None;
        }
    };
    let mut reconciled = Reconciled::new("ProofVerifications");
    // reason -> (names, one message)
    let mut failing: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    let mut pending = Vec::new();
    let mut verified = 0;
    for p in &list {
        let name = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
        reconciled.count(
            p.metadata.generation,
            p.status.as_ref().and_then(|s| s.observed_generation),
            || format!("ProofVerification {name}"),
        );
        let conditions = p
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        match find(conditions, VERIFIED) {
            Some(c) if c.status == "True" => verified += 1,
            Some(c) if c.status == "False" => {
                let e = failing
                    .entry(c.reason.clone())
                    .or_insert_with(|| (Vec::new(), one_line(&c.message)));
                e.0.push(name);
            }
            _ => {
                // Pending for more than five minutes is worth a look.
                let old = p
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .is_some_and(|t| now.as_second() - t.0.as_second() > 300);
                if old {
                    pending.push(name);
                }
            }
        }
    }
    let scope = namespace.map_or("all namespaces".to_string(), |ns| format!("namespace {ns}"));
    for (reason, (names, message)) in &failing {
        out.push(Finding::fail(
            format!("ProofVerifications {reason}"),
            format!(
                "{} failing in {scope}: {}{} (e.g. {})",
                names.len(),
                names.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if names.len() > 5 { ", …" } else { "" },
                short(message, 200)
            ),
            verification_fix(reason),
        ));
    }
    if !pending.is_empty() {
        out.push(Finding::warn(
            "ProofVerifications Pending",
            format!(
                "{} not verified after 5 minutes: {}",
                pending.len(),
                pending
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "check that an operator runs (the Lease finding below) and its logs",
        ));
    }
    if failing.is_empty() && pending.is_empty() {
        out.push(Finding::ok(
            "ProofVerifications",
            format!("{verified} of {} verified in {scope}", list.len()),
        ));
    }
    Some(reconciled)
}

/// The fix for a ProofVerification's Verified reason (docs/runbooks.md#proofverification),
/// for own proof bundles and Sigstore bundles alike.
pub fn verification_fix(reason: &str) -> &'static str {
    match reason {
        "SourceUnavailable" => {
            "fix spec.source as its SourceAvailable condition says (ConfigMap, Secret or key missing, URL unreachable or a placeholder host, digest mismatch): kubectl describe proofverification -n NS NAME"
        }
        "InputUnreadable" => {
            "the source is not a proof bundle, DSSE envelope or Sigstore bundle: check it with attestor inspect --bundle FILE (attestor verify --bundle FILE for a .sigstore.json)"
        }
        "IssuerNotFound" => {
            "create the TrustedIssuer named in spec.issuerRef, or fix spec.issuerRef"
        }
        "IssuerNotTrusted" => "fix the TrustedIssuer (see its Trusted reason above)",
        "ImageNotInScope" => {
            "pull the image from a name the issuer's scope.images covers, or widen the scope"
        }
        "SignatureInvalid" => {
            "treat the bundle as tampered: re-create and re-sign it from the original inputs, and find out who altered it"
        }
        "TrustAnchorNotFound" => {
            "the signer's key is not trusted: add its TrustAnchor to the issuer, or re-sign the bundle"
        }
        "KeyExpired"
        | "KeyNotYetValid"
        | "CertificateExpired"
        | "CertificateNotYetValid"
        | "SignedOutsideKeyValidity" => "rotate the TrustAnchor and re-sign with a current key",
        "CertificateChainInvalid" | "SctInvalid" => {
            "include the intermediates and check the anchor's root; for a Sigstore bundle, use the trusted root of the instance that signed it (public-good and staging differ)"
        }
        "AlgorithmNotSupported" => "sign with an ECDSA P-256 or Ed25519 key",
        "ArtifactDigestMismatch" => "attach the proof of this artifact digest",
        "TransparencyLogEntryMissing" => {
            "publish the bundle to the transparency log, or relax spec.checks.transparencyLog"
        }
        "LogKeyNotTrusted" => "add a TrustAnchor with purpose TransparencyLog for the log's key",
        "TimestampTooOld" => "re-sign the proof, or raise spec.checks.maxAge",
        "TimestampInFuture" => "fix the signer's clock",
        "IdentityMismatch" => {
            "point spec.source at the bundle the expected workflow signed, or, after review, add the signer's issuer and subject to the TrustedIssuer's spec.identities"
        }
        "IdentitiesMissing" | "TrustedRootMissing" => {
            "for keyless Sigstore bundles the TrustedIssuer needs spec.identities and a TrustAnchor with spec.sigstoreTrustedRoot in spec.anchors"
        }
        "StatementMismatch" => {
            "compare spec.checks.predicateType with the attestation's predicateType (the statement must also name spec.artifactDigest)"
        }
        "TlogEntryInvalid"
        | "CheckpointInvalid"
        | "SignedEntryTimestampInvalid"
        | "TimestampInvalid"
        | "SigningTimeNotVerified" => {
            "check that the TrustAnchor's trusted root lists the log and timestamp authority the bundle names; otherwise treat it as tampered (docs/runbooks.md#sigstore-bundles-sourceformat-sigstorebundle)"
        }
        "BundleInvalid" | "KeyMismatch" => {
            "treat the Sigstore bundle as tampered: fetch it again from its publisher"
        }
        _ => {
            "the bundle does not match what was signed: re-create it with attestor bundle create; reproduce with attestor verify --bundle FILE -v"
        }
    }
}

async fn check_lease(
    client: &Client,
    args: &DoctorArgs,
    now: Timestamp,
    reconciled: &[Reconciled],
    out: &mut Vec<Finding>,
) {
    let api: Api<Lease> = match &args.lease_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let lp = ListParams::default().fields(&format!("metadata.name={}", args.lease_name));
    let leases = match api.list(&lp).await {
        Ok(l) => l.items,
        Err(e) => return out.push(cannot_list("Leases", &e)),
    };
    if leases.is_empty() {
        return out.push(no_lease_finding(&args.lease_name, reconciled));
    }
    for lease in &leases {
        out.push(lease_finding(lease, now));
    }
}

/// The two ways to run an operator, as the README shows them.
const START_OPERATOR: &str = "start an operator: `attestor run --leader-elect=false` (as in the README; with leader election on, the default, it creates this Lease), or install it with the Helm chart: `helm install attestor charts/attestor-operator -n attestor-system --create-namespace`";

/// What a missing leader-election Lease means, judged by the objects: an operator run with
/// `--leader-elect=false` (the README's way) holds no Lease, so its absence alone is not a
/// problem; objects that no operator reconciled are.
pub fn no_lease_finding(lease_name: &str, kinds: &[Reconciled]) -> Finding {
    let subject = format!("Lease {lease_name}");
    let total: usize = kinds.iter().map(|k| k.total).sum();
    let reconciled: usize = kinds.iter().map(|k| k.reconciled).sum();
    let counts = kinds
        .iter()
        .filter(|k| k.total > 0)
        .map(|k| format!("{} of {} {}", k.reconciled, k.total, k.kind))
        .collect::<Vec<_>>()
        .join(", ");
    if total == 0 {
        Finding::warn(
            subject,
            "no leader-election Lease, and no attestor objects that would show an operator at work",
            format!(
                "{START_OPERATOR}; then apply your TrustAnchors, TrustedIssuers and ProofVerifications (see examples/)"
            ),
        )
    } else if reconciled == 0 {
        Finding::fail(
            subject,
            format!(
                "no leader-election Lease, and no operator has reconciled any attestor object ({counts}; status.observedGeneration is not metadata.generation): no operator is running"
            ),
            START_OPERATOR,
        )
    } else if reconciled < total {
        let waiting = kinds
            .iter()
            .flat_map(|k| k.waiting.iter().cloned())
            .take(3)
            .collect::<Vec<_>>()
            .join(", ");
        Finding::warn(
            subject,
            format!(
                "no leader-election Lease; an operator without leader election (--leader-elect=false) has reconciled {counts}, not yet {waiting}{}",
                if total - reconciled > 3 { ", …" } else { "" }
            ),
            format!(
                "run doctor again in a minute: an operator that runs catches up within seconds; if these stay unreconciled, none runs: {START_OPERATOR}"
            ),
        )
    } else {
        Finding::ok(
            subject,
            format!(
                "no leader-election Lease: an operator without leader election (--leader-elect=false) has reconciled every attestor object ({counts})"
            ),
        )
    }
}

/// Whether a leader Lease has a holder that renewed it within its duration.
pub fn lease_finding(lease: &Lease, now: Timestamp) -> Finding {
    let ns = lease.namespace().unwrap_or_default();
    let subject = format!("Lease {ns}/{}", lease.name_any());
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.filter(|h| !h.is_empty());
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let renewed = spec.renew_time.map(|t| t.0);
    let age = renewed.map(|r| now.as_second() - r.as_second());
    match (holder, age) {
        (Some(h), Some(age)) if age <= duration => Finding::ok(
            subject,
            format!("leader {h}, renewed {} ago", human_secs(age.max(0))),
        ),
        (Some(h), Some(age)) => Finding::fail(
            subject,
            format!(
                "no leader: {h} last renewed {} ago, longer than the lease duration ({duration}s)",
                human_secs(age)
            ),
            format!(
                "the holder is gone or stuck: kubectl -n {ns} get pods, and their logs; a standby takes over after the lease duration; without replicas, start an operator (attestor run, or the Helm chart)"
            ),
        ),
        _ => Finding::fail(
            subject,
            "no leader: the Lease has no holder",
            format!(
                "kubectl -n {ns} get pods: are operator replicas running? Check their logs and RBAC on leases"
            ),
        ),
    }
}

/// For an object without its condition: nothing has judged it yet.
const NO_CONDITION_YET: &str =
    "is an operator running? (see the Lease finding below; `attestor run` or the Helm chart)";

async fn check_webhook(
    client: &Client,
    name: &str,
    now: Timestamp,
    warning: i64,
    out: &mut Vec<Finding>,
) {
    let subject = format!("ValidatingWebhookConfiguration {name}");
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let vwc = match api.get_opt(name).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return out.push(Finding::fail(
                subject,
                "not found: admission is not enforced anywhere",
                "register the webhook: the Helm chart does (webhook.enabled, on by default); with `attestor run`, apply a ValidatingWebhookConfiguration as in the README (see docs/admission.md); if yours has another name: attestor doctor --webhook-configuration NAME",
            ));
        }
        Err(e) => return out.push(cannot_list(&subject, &e)),
    };
    let webhooks = vwc.webhooks.unwrap_or_default();
    if webhooks.is_empty() {
        return out.push(Finding::fail(
            subject,
            "has no webhooks",
            "apply it again with its webhook (helm upgrade for the chart's, or the manifest of the README), or delete it",
        ));
    }
    for w in &webhooks {
        let sub = format!("{subject} webhook {}", w.name);
        let Some(bundle) = w
            .client_config
            .ca_bundle
            .as_ref()
            .filter(|b| !b.0.is_empty())
        else {
            out.push(Finding::fail(
                sub,
                "caBundle is empty: the API server cannot call the webhook",
                "self-signed mode: start an operator whose --webhook-configuration names this configuration (the default is attestor-operator): it writes the caBundle as soon as it runs; cert-manager mode: check the cainjector and the Certificate",
            ));
            continue;
        };
        out.push(check_ca_bundle(sub, &bundle.0, now, warning));
    }
}

/// Whether a caBundle is PEM certificates of which one is a CA (or self-signed) and current.
pub fn check_ca_bundle(subject: String, pem: &[u8], now: Timestamp, warning: i64) -> Finding {
    let fix_cert = "self-signed mode: the operator renews its CA before expiry and rewrites the caBundle at once: check that it runs and its logs (its Secret attestor-operator-webhook-tls, <release>-webhook-tls with the chart, is in its namespace); cert-manager mode: kubectl describe certificate, and the cainjector's logs";
    let Ok(text) = std::str::from_utf8(pem) else {
        return Finding::fail(subject, "caBundle is not PEM text", fix_cert);
    };
    let certs = match parse_pem_certificates(text) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => return Finding::fail(subject, "caBundle holds no certificate", fix_cert),
        Err(e) => {
            return Finding::fail(subject, format!("caBundle is not valid PEM: {e}"), fix_cert);
        }
    };
    let Some(ca) = certs
        .iter()
        .filter(|c| c.is_ca() || c.is_self_issued())
        .max_by_key(|c| c.not_after())
    else {
        return Finding::fail(
            subject,
            "caBundle holds no CA or self-signed certificate",
            fix_cert,
        );
    };
    let left = ca.not_after().as_second() - now.as_second();
    if left < 0 {
        Finding::fail(
            subject,
            format!(
                "the caBundle CA {} expired at {}",
                ca.subject(),
                ca.not_after()
            ),
            fix_cert,
        )
    } else if ca.not_before() > now {
        Finding::fail(
            subject,
            format!(
                "the caBundle CA {} is not valid before {}",
                ca.subject(),
                ca.not_before()
            ),
            fix_cert,
        )
    } else if left < warning {
        Finding::warn(
            subject,
            format!(
                "the caBundle CA {} expires in {}",
                ca.subject(),
                human_secs(left)
            ),
            fix_cert,
        )
    } else {
        Finding::ok(
            subject,
            format!(
                "caBundle CA {} valid until {}",
                ca.subject(),
                ca.not_after()
            ),
        )
    }
}

async fn check_replay_jobs(
    client: &Client,
    namespace: Option<&str>,
    now: Timestamp,
    late: i64,
    out: &mut Vec<Finding>,
) -> Option<Reconciled> {
    let api: Api<ReplayJob> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(e) => {
            out.push(cannot_list("ReplayJobs", &e));
            return None;
        }
    };
    let mut reconciled = Reconciled::new("ReplayJobs");
    let mut healthy = 0;
    for j in &list {
        reconciled.count(
            j.metadata.generation,
            j.status.as_ref().and_then(|s| s.observed_generation),
            || {
                format!(
                    "ReplayJob {}/{}",
                    j.namespace().unwrap_or_default(),
                    j.name_any()
                )
            },
        );
        let findings = replay_job_findings(j, now, late);
        if findings.is_empty() {
            healthy += 1;
        }
        out.extend(findings);
    }
    if healthy > 0 || list.is_empty() {
        out.push(Finding::ok(
            "ReplayJobs",
            format!("{healthy} of {} on time and without drift", list.len()),
        ));
    }
    Some(reconciled)
}

/// What is wrong with one ReplayJob: late (nextRunTime more than `late` seconds ago, not
/// suspended), drift in its last run, a failed last run, or not Ready. Empty when healthy.
pub fn replay_job_findings(j: &ReplayJob, now: Timestamp, late: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let subject = format!(
        "ReplayJob {}/{}",
        j.namespace().unwrap_or_default(),
        j.name_any()
    );
    let status = j.status.clone().unwrap_or_default();
    if !j.spec.suspend
        && let Some(next) = status.next_run_time.as_ref().map(|t| t.0)
        && now.as_second() - next.as_second() > late
    {
        out.push(Finding::fail(
            subject.clone(),
            format!(
                "late: nextRunTime {next} passed {} ago",
                human_secs(now.as_second() - next.as_second())
            ),
            "check that an operator runs (the Lease finding above) and the replay queue (replay_queue_depth); docs/runbooks.md#attestorreplayqueuebacklog",
        ));
    }
    let last = find(&status.conditions, LAST_RUN_SUCCEEDED);
    let drifted = status.last_run.as_ref().map_or(0, |r| r.drifted);
    if drifted > 0 || last.is_some_and(|c| c.reason == "DriftDetected") {
        out.push(Finding::warn(
            subject.clone(),
            format!(
                "drift in the last run: {drifted} proof root(s) changed{}",
                status
                    .drifted
                    .first()
                    .map(|d| format!(" (e.g. {}: {:?})", d.verification, d.cause))
                    .unwrap_or_default()
            ),
            "see status.drifted and docs/scoring.md: decide whether the changed input (feed, policy) is intended",
        ));
    }
    if let Some(c) = last.filter(|c| c.status == "False") {
        out.push(Finding::fail(
            subject.clone(),
            format!("last run {}: {}", c.reason, one_line(&c.message)),
            "see status.lastRun and score_replay_failures_total by reason; the operator's logs",
        ));
    }
    if let Some(c) = find(&status.conditions, READY).filter(|c| c.status == "False") {
        out.push(Finding::fail(
            subject.clone(),
            format!("not Ready: {}: {}", c.reason, one_line(&c.message)),
            "fix spec.schedule / spec.timeZone / spec.store as the message says",
        ));
    }
    out
}

fn cannot_list(what: &str, e: &kube::Error) -> Finding {
    Finding::fail(
        what.to_string(),
        format!("cannot read: {e}"),
        "run doctor with read access to it (kubectl auth can-i list ...)",
    )
}

fn one_line(s: &str) -> String {
    short(&s.replace('\n', " "), 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(days: i64) -> String {
        let mut params = rcgen::CertificateParams::new(vec!["attestor".into()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let now = std::time::SystemTime::now();
        let (a, b) = if days >= 0 {
            (
                now - std::time::Duration::from_secs(3600),
                now + std::time::Duration::from_secs(days as u64 * 86_400),
            )
        } else {
            (
                now - std::time::Duration::from_secs((-days) as u64 * 86_400 * 2),
                now - std::time::Duration::from_secs((-days) as u64 * 86_400),
            )
        };
        params.not_before = a.into();
        params.not_after = b.into();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn ca_bundles_are_checked_for_pem_ca_and_expiry() {
        let now = Timestamp::now();
        let week = 7 * 86_400;
        let ok = check_ca_bundle("w".into(), self_signed(90).as_bytes(), now, week);
        assert_eq!(ok.level, Level::Ok, "{ok:?}");
        let soon = check_ca_bundle("w".into(), self_signed(3).as_bytes(), now, week);
        assert_eq!(soon.level, Level::Warn, "{soon:?}");
        let expired = check_ca_bundle("w".into(), self_signed(-1).as_bytes(), now, week);
        assert_eq!(expired.level, Level::Fail);
        assert!(expired.message.contains("expired"), "{expired:?}");
        let junk = check_ca_bundle("w".into(), b"not pem", now, week);
        assert_eq!(junk.level, Level::Fail);
    }

    fn replay_job(suspend: bool, status: serde_json::Value) -> ReplayJob {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1", "kind": "ReplayJob",
            "metadata": {"name": "nightly", "namespace": "shop"},
            "spec": {"schedule": "0 3 * * *", "suspend": suspend,
                     "store": {"url": "https://replay-store.example/shop"}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn replay_jobs_late_or_drifting_are_reported() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let drifted = serde_json::json!({
            "nextRunTime": "2026-12-01T03:00:00Z",
            "lastRun": {"startTime": "2026-11-30T03:00:00Z", "total": 10, "reproduced": 8,
                        "drifted": 2, "failed": 0, "skipped": 0},
            "conditions": [{"type": "LastRunSucceeded", "status": "True", "reason": "DriftDetected",
                            "message": "2 of 10 drifted", "lastTransitionTime": "2026-11-30T03:05:00Z"}],
        });
        let f = replay_job_findings(&replay_job(false, drifted.clone()), now, 600);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].level, Level::Fail);
        assert!(
            f[0].message
                .starts_with("late: nextRunTime 2026-12-01T03:00:00Z passed 9h ago"),
            "{f:?}"
        );
        assert_eq!(f[1].level, Level::Warn);
        assert!(
            f[1].message
                .contains("drift in the last run: 2 proof root(s)"),
            "{f:?}"
        );
        // Suspended jobs are not late; a next run within the margin is not late either.
        let f = replay_job_findings(&replay_job(true, drifted), now, 600);
        assert_eq!(f.len(), 1, "{f:?}");
        let on_time = serde_json::json!({"nextRunTime": "2026-12-01T11:55:00Z"});
        assert!(replay_job_findings(&replay_job(false, on_time), now, 600).is_empty());
    }

    #[test]
    fn a_lease_not_renewed_within_its_duration_means_no_leader() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let lease = |holder: &str, renewed: &str| -> Lease {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "attestor-operator", "namespace": "attestor-system"},
                "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                         "renewTime": renewed},
            }))
            .unwrap()
        };
        let f = lease_finding(&lease("pod-a", "2026-12-01T11:59:55.000000Z"), now);
        assert_eq!(f.level, Level::Ok, "{f:?}");
        assert!(f.message.contains("leader pod-a, renewed 5s ago"), "{f:?}");
        let f = lease_finding(&lease("pod-a", "2026-12-01T11:58:00.000000Z"), now);
        assert_eq!(f.level, Level::Fail);
        assert!(
            f.message
                .starts_with("no leader: pod-a last renewed 2m ago"),
            "{f:?}"
        );
        let f = lease_finding(&lease("", "2026-12-01T11:59:59.000000Z"), now);
        assert_eq!(f.level, Level::Fail);
    }

    #[test]
    fn a_missing_lease_is_judged_by_what_the_objects_show() {
        let kind =
            |kind: &'static str, reconciled: usize, total: usize, waiting: &[&str]| Reconciled {
                kind,
                reconciled,
                total,
                waiting: waiting.iter().map(|w| w.to_string()).collect(),
            };
        // (facts, level, message, whether the fix names both ways to run an operator)
        let table: Vec<(Vec<Reconciled>, Level, &str, bool)> = vec![
            // The README's way: attestor run --leader-elect=false reconciled everything.
            (
                vec![
                    kind("TrustAnchors", 4, 4, &[]),
                    kind("TrustedIssuers", 3, 3, &[]),
                    kind("ProofVerifications", 7, 7, &[]),
                    kind("ReplayJobs", 1, 1, &[]),
                ],
                Level::Ok,
                "no leader-election Lease: an operator without leader election (--leader-elect=false) has reconciled every attestor object (4 of 4 TrustAnchors, 3 of 3 TrustedIssuers, 7 of 7 ProofVerifications, 1 of 1 ReplayJobs)",
                false,
            ),
            // Kinds without objects are left out of the counts.
            (
                vec![
                    kind("TrustAnchors", 0, 0, &[]),
                    kind("ProofVerifications", 2, 2, &[]),
                ],
                Level::Ok,
                "no leader-election Lease: an operator without leader election (--leader-elect=false) has reconciled every attestor object (2 of 2 ProofVerifications)",
                false,
            ),
            // Nothing reconciled: no operator runs.
            (
                vec![
                    kind("TrustAnchors", 0, 2, &["TrustAnchor a"]),
                    kind("ProofVerifications", 0, 5, &["ProofVerification shop/cart"]),
                ],
                Level::Fail,
                "no leader-election Lease, and no operator has reconciled any attestor object (0 of 2 TrustAnchors, 0 of 5 ProofVerifications; status.observedGeneration is not metadata.generation): no operator is running",
                true,
            ),
            // Some reconciled: an operator catching up, or one that stopped.
            (
                vec![
                    kind("TrustAnchors", 2, 2, &[]),
                    kind(
                        "ProofVerifications",
                        3,
                        7,
                        &[
                            "ProofVerification shop/a",
                            "ProofVerification shop/b",
                            "ProofVerification shop/c",
                        ],
                    ),
                ],
                Level::Warn,
                "no leader-election Lease; an operator without leader election (--leader-elect=false) has reconciled 2 of 2 TrustAnchors, 3 of 7 ProofVerifications, not yet ProofVerification shop/a, ProofVerification shop/b, ProofVerification shop/c, …",
                true,
            ),
            (
                vec![kind("ReplayJobs", 1, 2, &["ReplayJob shop/nightly"])],
                Level::Warn,
                "no leader-election Lease; an operator without leader election (--leader-elect=false) has reconciled 1 of 2 ReplayJobs, not yet ReplayJob shop/nightly",
                true,
            ),
            // No objects at all: nothing to tell from.
            (
                vec![kind("TrustAnchors", 0, 0, &[])],
                Level::Warn,
                "no leader-election Lease, and no attestor objects that would show an operator at work",
                true,
            ),
            (
                vec![],
                Level::Warn,
                "no leader-election Lease, and no attestor objects that would show an operator at work",
                true,
            ),
        ];
        for (facts, level, message, both_ways) in table {
            let f = no_lease_finding("attestor-operator", &facts);
            assert_eq!(f.subject, "Lease attestor-operator");
            assert_eq!((f.level, f.message.as_str()), (level, message), "{facts:?}");
            if both_ways {
                for way in [
                    "`attestor run --leader-elect=false`",
                    "`helm install attestor charts/attestor-operator -n attestor-system --create-namespace`",
                ] {
                    assert!(f.fix.contains(way), "{way} in {}", f.fix);
                }
            } else {
                assert!(f.fix.is_empty(), "{f:?}");
            }
        }
    }

    #[test]
    fn objects_count_as_reconciled_when_the_status_observed_their_generation() {
        let mut r = Reconciled::new("ProofVerifications");
        // (metadata.generation, status.observedGeneration)
        for (i, (generation, observed)) in [
            (Some(1), Some(1)),
            (Some(3), Some(3)),
            (Some(2), Some(1)), // edited since
            (Some(1), None),    // never reconciled
            (None, None),
        ]
        .into_iter()
        .enumerate()
        {
            r.count(generation, observed, || format!("pv-{i}"));
        }
        assert_eq!((r.reconciled, r.total), (2, 5));
        assert_eq!(r.waiting, ["pv-2", "pv-3", "pv-4"]);
    }

    #[test]
    fn render_prints_fixes_and_a_summary() {
        let text = render(&[
            Finding::ok("CRDs", "all 4 attestor CRDs are installed"),
            Finding::fail(
                "TrustAnchor old",
                "not Ready: Expired: gone",
                anchor_fix("Expired"),
            ),
        ]);
        assert!(text.contains(
            "FAIL  TrustAnchor old: not Ready: Expired: gone\n      fix: add the successor"
        ));
        assert!(text.contains("1 problem(s), 0 warning(s)"));
        assert!(render(&[]).contains("healthy"));
    }
}
