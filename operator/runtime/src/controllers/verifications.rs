//! ProofVerification: settle the issuer, read the proof, run the checks, and say so in status and
//! Events. The rules are in [`crate::verification::decide`]; this is the plumbing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use attestor_api::proof_verification::ProofFormat;
use attestor_api::{ProofVerification, ProofVerificationStatus};
use attestor_core::dsse::Envelope;
use attestor_core::trust::TrustStore;
use attestor_core::verify::{VerifyOptions, verify_envelope, verify_zip};
use attestor_core::zip::ZipLimits;
use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, predicates};
use kube::{Api, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::relations::{Relations, Trigger};
use super::sources::SourceKey;
use super::{Context, ReconcileError, log_result, patch_status, timed};
use crate::registry::verdict::{
    Keyless, RegistryTrust, signing_keys, summarize, verify_candidates,
};
use crate::scope::Scope;
use crate::source::{self, SourceObjects};
use crate::verification::{Outcome, Timing, decide, registry, sigstore};
use attestor_api::proof_verification::{CandidateKindName, RegistrySource};
use attestor_core::digest::Sha256Digest;
use attestor_oci::classify::CandidateKind;
use attestor_oci::reference::ImageRef;

const NAME: &str = "proofverification";
const DEFAULT_REVERIFY: Duration = Duration::from_secs(24 * 3600);

pub fn controller(
    ctx: &Arc<Context>,
    trigger: Trigger<ProofVerification>,
    relations: Relations<ProofVerification>,
    cancel: CancellationToken,
) -> impl Stream<Item = ()> + Send + use<> {
    let trigger = trigger.predicate_filter(predicates::generation, Default::default());
    let config = kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency);
    let gone = ctx.clone();
    Controller::for_stream(trigger, ctx.verifications.clone())
        .with_config(config)
        .reconcile_on(relations)
        .graceful_shutdown_on(cancel.cancelled_owned())
        .run(reconcile, error_policy, ctx.clone())
        .map(move |result| {
            log_result(NAME, result, |obj| {
                gone.source_failure(
                    obj.namespace.as_deref().unwrap_or_default(),
                    &obj.name,
                    false,
                );
            })
        })
}

impl SourceObjects for Context {
    async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConfigMap>>, kube::Error> {
        Context::config_map(self, namespace, name).await
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, kube::Error> {
        Context::secret(self, namespace, name).await
    }
}

async fn reconcile(
    pv: Arc<ProofVerification>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    timed(&ctx.metrics, NAME, apply(&pv, &ctx)).await
}

async fn apply(pv: &ProofVerification, ctx: &Context) -> Result<Action, ReconcileError> {
    let namespace = pv.namespace().unwrap_or_default();
    let name = pv.name_any();
    let started = Instant::now();
    let now = Timestamp::now();
    let outcome = gather(pv, ctx, &namespace, now).await;
    let elapsed = started.elapsed();
    let source_failed = matches!(outcome, Outcome::SourceFailed { .. });
    let size = match &outcome {
        Outcome::Checked { size, .. } => Some(*size),
        Outcome::Unreadable { size, .. } => *size,
        _ => None,
    };
    let timing = Timing {
        reverify: attestor_api::duration::parse(&pv.spec.reverify_interval)
            .ok()
            .and_then(|d| d.try_into().ok())
            .unwrap_or(DEFAULT_REVERIFY),
        source_failures: ctx.source_failure(&namespace, &name, source_failed),
    };
    let previous = pv.status.clone().unwrap_or_default();
    let decision = decide(
        &pv.spec,
        &previous,
        pv.metadata.generation,
        outcome,
        now,
        timing,
    );
    if let Some((result, reason)) = &decision.metric {
        ctx.metrics
            .observe_verification(*result, reason, elapsed, size);
    }
    // `status.lastReplay` belongs to the ReplayJob controller (field manager
    // `attestor-replay`): never sent here, so this apply neither owns nor strips it.
    let mut status = decision.status;
    status.last_replay = None;
    let current = pv.status.clone().map(|mut s| {
        s.last_replay = None;
        s
    });
    if current.as_ref() != Some(&status) {
        write(ctx, &namespace, &name, &status).await?;
    }
    let reference = pv.object_ref(&());
    for note in decision.events {
        tracing::info!(
            verification = %format!("{namespace}/{name}"),
            event = %note.reason,
            note = %note.note,
            "verification changed"
        );
        ctx.publish(&reference, note, "Verify").await;
    }
    Ok(Action::requeue(decision.requeue_after))
}

async fn write(
    ctx: &Context,
    namespace: &str,
    name: &str,
    status: &ProofVerificationStatus,
) -> Result<(), ReconcileError> {
    let api: Api<ProofVerification> = Api::namespaced(ctx.client.clone(), namespace);
    patch_status(&api, name, status)
        .await
        .map_err(|source| ReconcileError::StatusWrite {
            kind: "ProofVerification",
            name: format!("{namespace}/{name}"),
            source,
        })
}

async fn gather(pv: &ProofVerification, ctx: &Context, namespace: &str, now: Timestamp) -> Outcome {
    let spec = &pv.spec;
    let issuer_name = spec.issuer_ref.name.clone();
    let Some(issuer) = ctx.issuers.get(&ObjectRef::new(&issuer_name)) else {
        return Outcome::IssuerNotFound {
            issuer: issuer_name,
        };
    };
    let evaluation = ctx.evaluate_issuer(&issuer, now);
    if !evaluation.is_trusted() {
        return Outcome::IssuerNotTrusted {
            issuer: issuer_name,
            reason: evaluation.trusted.reason,
            message: evaluation.trusted.message,
        };
    }
    if let Some(image) = &spec.image {
        let scope = Scope::new(&issuer.spec.scope.images);
        if !scope.covers(image) {
            return Outcome::ImageNotInScope {
                image: image.clone(),
                issuer: issuer_name,
                scope: scope.describe(),
            };
        }
    }
    if let Some(registry) = &spec.source.registry {
        return gather_registry(pv, ctx, namespace, now, registry, &issuer, evaluation).await;
    }
    let read = source::read(
        ctx,
        &ctx.fetcher,
        namespace,
        &spec.source,
        ctx.settings.max_bundle_bytes,
    )
    .await;
    // Which version of its ConfigMap or Secret this verdict is about, so that a change of it
    // re-verifies (sources.rs).
    let version = match &read {
        Ok(b) => b.object_version.clone(),
        Err(e) => e.object_version.clone(),
    };
    if let (Some(key), Some(version)) = (SourceKey::of(pv), version) {
        ctx.sources.read_by(namespace, &pv.name_any(), key, version);
    }
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            return Outcome::SourceFailed {
                reason: e.reason.to_string(),
                message: e.message,
                transient: e.transient,
            };
        }
    };
    let format = spec.source.effective_format();
    // Proof bundles and envelopes name their artifact by sha256; the API server refuses other
    // digests for them, and an object that got past it is refused here rather than verified
    // without its artifact check.
    let expected_artifact = match spec.artifact_digest.parse::<Sha256Digest>() {
        Ok(d) => Some(d),
        Err(_) if format == ProofFormat::SigstoreBundle => None,
        Err(_) => {
            return Outcome::SourceFailed {
                reason: "ArtifactDigestMismatch".into(),
                message: format!(
                    "spec.artifactDigest {:?} is not a sha256 digest, which a {format:?} names its artifact by: use the artifact's sha256",
                    spec.artifact_digest
                ),
                transient: false,
            };
        }
    };
    let options = VerifyOptions {
        at: now,
        tlog: spec.checks.transparency_log.to_core(),
        timestamps: Some(spec.checks.timestamp_window().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "spec.checks has a malformed duration; using the defaults");
            Default::default()
        })),
        expected_artifact,
    };
    let from_secret = bytes.from_secret;
    let store = evaluation.store;
    let roots = evaluation.roots;
    let identities = evaluation.identities;
    let artifact_digest = spec.artifact_digest.clone();
    let predicate_type = spec.checks.predicate_type.clone();
    let max_age = options.timestamps.and_then(|t| t.max_age);
    let tlog = options.tlog;
    // Hashing and signature checks are CPU work: keep them off the async workers.
    let checked = tokio::task::spawn_blocking(move || {
        let checked = match format {
            ProofFormat::SigstoreBundle => {
                let request = sigstore::Request {
                    artifact_digest: &artifact_digest,
                    predicate_type: predicate_type.as_deref(),
                    max_age,
                    now,
                    tlog,
                };
                let keys = signing_keys(&store, now);
                sigstore::check(&bytes.bytes, &roots, &identities, &keys, &request)
                    .map(|c| (c.report, c.keyless))
                    .map_err(|message| unreadable(&bytes.bytes, message))
            }
            ProofFormat::Bundle | ProofFormat::Envelope => {
                check(format, &bytes.bytes, &store, &options).map(|r| (r, None))
            }
        };
        checked.map(|r| (r, bytes))
    })
    .await;
    match checked {
        Ok(Ok(((report, keyless), bytes))) => Outcome::Checked {
            report: Box::new(report),
            issuer: issuer_name,
            size: bytes.bytes.len() as u64,
            digest: bytes.digest.to_string(),
            keyless,
            found: None,
        },
        Ok(Err(_)) if from_secret => Outcome::Unreadable {
            message: source::secret_unreadable(namespace, &spec.source),
            size: None,
            digest: None,
        },
        Ok(Err((message, size, digest))) => Outcome::Unreadable {
            message,
            size: Some(size),
            digest: Some(digest),
        },
        Err(e) => Outcome::Unreadable {
            message: format!("verification aborted: {e}"),
            size: None,
            digest: None,
        },
    }
}

/// `source.registry`: list what the registry holds for the digest, verify every candidate
/// with the issuer's trust (the verdict of `attestor verify --image`), report the deciding one.
async fn gather_registry(
    pv: &ProofVerification,
    ctx: &Context,
    namespace: &str,
    now: Timestamp,
    registry: &RegistrySource,
    trusted_issuer: &attestor_api::TrustedIssuer,
    evaluation: crate::trust::IssuerEvaluation,
) -> Outcome {
    let issuer = trusted_issuer.name_any();
    let issuer_secrets = &trusted_issuer.spec.registry_pull_secrets;
    let spec = &pv.spec;
    let failed = |reason: &str, message: String, transient: bool| Outcome::SourceFailed {
        reason: reason.to_string(),
        message,
        transient,
    };
    let Ok(digest) = spec.artifact_digest.parse::<Sha256Digest>() else {
        return failed(
            "InvalidImageReference",
            format!(
                "spec.artifactDigest {:?} is not a sha256 digest",
                spec.artifact_digest
            ),
            false,
        );
    };
    let Some(repository) = registry.repository.as_deref().or(spec.image.as_deref()) else {
        return failed(
            "InvalidImageReference",
            "set spec.image or spec.source.registry.repository: the registry to look in".into(),
            false,
        );
    };
    let mut image = match ImageRef::parse(repository) {
        Ok(image) => image,
        Err(e) => {
            return failed(
                "InvalidImageReference",
                format!("{repository:?} is not an image reference: {e}"),
                false,
            );
        }
    };
    image.tag = None;
    image.digest = Some(digest);
    // The ProofVerification's own Secrets first, then the issuer's: a credential is looked up
    // in that order for the registry.
    let named = registry
        .pull_secrets
        .iter()
        .map(|s| {
            (
                namespace.to_string(),
                s.name.clone(),
                "source.registry.pullSecrets".to_string(),
            )
        })
        .chain(issuer_secrets.iter().map(|s| {
            (
                s.namespace.clone(),
                s.name.clone(),
                format!("TrustedIssuer {issuer}'s spec.registryPullSecrets"),
            )
        }));
    let mut credentials = Vec::new();
    for (secret_namespace, name, field) in named {
        match ctx.secret(&secret_namespace, &name).await {
            Ok(Some(s)) => match crate::registry::pull_secret_credentials(&secret_namespace, &s) {
                Ok(c) => credentials.push(c),
                Err(message) => return failed("PullSecretInvalid", message, false),
            },
            Ok(None) => {
                return failed(
                    "PullSecretNotFound",
                    format!(
                        "Secret {secret_namespace}/{name} of {field} does not exist: create it (kubectl create secret docker-registry) or remove it from the list"
                    ),
                    false,
                );
            }
            Err(e) => {
                return failed(
                    "SourceUnavailable",
                    format!("cannot read Secret {secret_namespace}/{name}: {e}"),
                    true,
                );
            }
        }
    }
    // Unknown referrers are listed in status, never verified.
    let kinds: Vec<CandidateKind> = if registry.kinds.is_empty() {
        CandidateKind::ALL.to_vec()
    } else {
        let mut kinds: Vec<CandidateKind> = registry.kinds.iter().map(|k| kind_of(*k)).collect();
        kinds.push(CandidateKind::Unknown);
        kinds
    };
    let discovery = match ctx
        .registry
        .discover(&image, &digest, &kinds, &credentials)
        .await
    {
        Ok(d) => d,
        Err(e) => return failed(e.reason(), e.to_string(), e.is_transient()),
    };
    let options = VerifyOptions {
        at: now,
        tlog: spec.checks.transparency_log.to_core(),
        timestamps: Some(spec.checks.timestamp_window().unwrap_or_default()),
        expected_artifact: Some(digest),
    };
    let max_age = options.timestamps.and_then(|t| t.max_age);
    let keyless = Keyless {
        roots: evaluation.roots.iter().map(|r| r.root.clone()).collect(),
        identities: evaluation.identities.clone(),
    };
    let trust = RegistryTrust::new(
        evaluation.store,
        keyless,
        spec.checks.predicate_type.clone(),
        options,
    );
    let artifact_digest = spec.artifact_digest.clone();
    // Signature checks are CPU work: keep them off the async workers.
    let verdicts = tokio::task::spawn_blocking(move || {
        let verdicts = verify_candidates(&discovery, &digest, &trust);
        let summary = summarize(&verdicts);
        let found = registry::Found::new(&discovery, &verdicts);
        let request = sigstore::Request {
            artifact_digest: &artifact_digest,
            predicate_type: None,
            max_age,
            now,
            tlog: trust.options.tlog,
        };
        let report = registry::decisive_report(&verdicts, &summary, &request);
        let decisive = summary.decisive.map(|i| verdicts[i].clone());
        (summary, found, report, decisive)
    })
    .await;
    let (summary, found, report, decisive) = match verdicts {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Unreadable {
                message: format!("verification aborted: {e}"),
                size: None,
                digest: None,
            };
        }
    };
    match (report, decisive) {
        (Some(report), Some(decisive)) => Outcome::Checked {
            report: Box::new(report),
            issuer,
            size: decisive.size,
            digest: decisive.digest,
            keyless: None,
            found: Some(found),
        },
        _ => Outcome::NothingFound {
            message: summary.message,
            found,
        },
    }
}

fn kind_of(name: CandidateKindName) -> CandidateKind {
    match name {
        CandidateKindName::CosignSignature => CandidateKind::CosignSignature,
        CandidateKindName::CosignAttestation => CandidateKind::CosignAttestation,
        CandidateKindName::SigstoreBundle => CandidateKind::SigstoreBundle,
        CandidateKindName::ProofBundle => CandidateKind::ProofBundle,
    }
}

type Unreadable = (String, u64, String);

fn unreadable(bytes: &[u8], message: String) -> Unreadable {
    (
        message,
        bytes.len() as u64,
        attestor_core::digest::Sha256Digest::of(bytes).to_string(),
    )
}

/// A proof bundle or a DSSE envelope, against the issuer's keys.
fn check(
    format: ProofFormat,
    bytes: &[u8],
    store: &TrustStore,
    options: &VerifyOptions,
) -> Result<attestor_core::verify::VerificationReport, Unreadable> {
    if format == ProofFormat::Envelope {
        let envelope = Envelope::from_json(bytes)
            .map_err(|e| unreadable(bytes, format!("not a DSSE envelope: {e}")))?;
        return Ok(verify_envelope(&envelope, store, options));
    }
    // The ledger is read only once the signatures hold, so a
    // ProofVerification naming an unsigned bundle costs little.
    verify_zip(bytes, &ZipLimits::default(), store, options)
        .map_err(|e| unreadable(bytes, e.to_string()))
}

fn error_policy(pv: Arc<ProofVerification>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(
        verification = %format!("{}/{}", pv.namespace().unwrap_or_default(), pv.name_any()),
        error = %error,
        "reconcile failed; retrying"
    );
    Action::requeue(Duration::from_secs(10))
}
