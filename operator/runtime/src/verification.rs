//! From what happened while verifying a ProofVerification to what its status, Events, metrics
//! and next reconcile should be. Pure: the controller gathers the facts (issuer, source, report)
//! and applies the decision, so every rule here is tested without an API server.

use std::time::Duration;

use attestor_api::conditions::{SOURCE_AVAILABLE, VERIFIED};
use attestor_api::proof_verification::{ProofVerificationSpec, ProofVerificationStatus};
use attestor_core::verify::{CheckName, CheckStatus, VerificationReport};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::conditions::{self, Decided, Status};
use crate::metrics::VerificationResult;

/// What the controller found out.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `spec.issuerRef` names no TrustedIssuer.
    IssuerNotFound { issuer: String },
    /// The TrustedIssuer exists but is not `Trusted`.
    IssuerNotTrusted {
        issuer: String,
        reason: String,
        message: String,
    },
    /// `spec.image` is outside the issuer's scope.
    ImageNotInScope {
        image: String,
        issuer: String,
        scope: String,
    },
    /// The proof could not be read. `reason` is the `SourceAvailable` reason.
    SourceFailed {
        reason: String,
        message: String,
        transient: bool,
    },
    /// The proof was read but is not a proof bundle / envelope. Size and digest are `None`
    /// when they must not be shown (a Secret's contents) or are unknown.
    Unreadable {
        message: String,
        size: Option<u64>,
        digest: Option<String>,
    },
    /// The checks ran.
    Checked {
        report: Box<VerificationReport>,
        issuer: String,
        size: u64,
        digest: String,
        /// The certificate identity and OIDC issuer of a verified keyless Sigstore bundle.
        keyless: Option<(String, String)>,
        /// For `source.registry`: what the registry held (the report is the deciding
        /// candidate's).
        found: Option<registry::Found>,
    },
    /// `source.registry`: the registry answered, and holds nothing of a wanted kind.
    NothingFound {
        message: String,
        found: registry::Found,
    },
}

/// An Event to publish on the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventNote {
    pub warning: bool,
    pub reason: String,
    pub note: String,
}

/// What to do.
#[derive(Debug, Clone)]
pub struct Decision {
    pub status: ProofVerificationStatus,
    pub events: Vec<EventNote>,
    /// For `proof_verification_total`; `None` when no verification was attempted.
    pub metric: Option<(VerificationResult, String)>,
    pub requeue_after: Duration,
}

/// How the next reconcile is timed.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `spec.reverifyInterval`.
    pub reverify: Duration,
    /// Consecutive source failures so far, this one included (for the backoff).
    pub source_failures: u32,
}

/// Failures that time alone does not fix are still looked at again this often, so that a fixed
/// bundle at the same URL is noticed without an edit to the object.
const FAILED_RECHECK: Duration = Duration::from_secs(3600);
const MIN_BACKOFF: Duration = Duration::from_secs(5);
/// A digest with nothing in the registry is looked at again this soon at first: CI usually
/// pushes the signature moments after the image, and discovery creates the object as soon as it
/// is deployed. The longer nothing is found, the rarer the look (a quarter of the time so far, at
/// most [`NOTHING_FOUND_MAX_RECHECK`]), so that many unsigned digests do not load the registry.
const NOTHING_FOUND_RECHECK: Duration = Duration::from_secs(30);
const NOTHING_FOUND_MAX_RECHECK: Duration = Duration::from_secs(600);
/// `source.registry.staleGracePeriod` when it cannot be read (the API server's pattern
/// refuses such values, so only hand-built specs have one).
const DEFAULT_STALE_GRACE: Duration = Duration::from_secs(24 * 3600);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub fn decide(
    spec: &ProofVerificationSpec,
    previous: &ProofVerificationStatus,
    generation: Option<i64>,
    outcome: Outcome,
    now: Timestamp,
    timing: Timing,
) -> Decision {
    let mut status = previous.clone();
    status.observed_generation = generation;
    let failed_recheck = timing.reverify.min(FAILED_RECHECK);
    let sigstore = spec.source.effective_format()
        == attestor_api::proof_verification::ProofFormat::SigstoreBundle
        || spec.source.registry.is_some();
    let from_registry = spec.source.registry.is_some();
    // What the registry held, when it was read this time; a failed read keeps the last list.
    let mut listed: Option<Option<registry::Found>> = Some(None);
    status.stale_since = None;
    let (decided, metric, requeue_after) = match outcome {
        Outcome::SourceFailed {
            reason,
            message,
            transient,
        } => {
            let backoff = backoff(timing.source_failures);
            let source = Decided::new(SOURCE_AVAILABLE, Status::False, &reason, &message);
            let requeue = if transient {
                backoff
            } else {
                failed_recheck.max(backoff)
            };
            listed = None;
            let stale_since = previous.stale_since.as_ref().map_or(now, |t| t.0);
            let grace = stale_grace(spec);
            let within_grace = grace.is_none_or(|g| {
                now.duration_since(stale_since) <= g.try_into().unwrap_or(jiff::SignedDuration::MAX)
            });
            if still_holds(previous, generation, now) && within_grace {
                status.stale_since = Some(Time(stale_since));
                // An outage of the source says nothing about the proof verified before: keep the
                // verdict (until it expires) and report the outage beside it.
                let verified = conditions::find(&previous.conditions, VERIFIED)
                    .map(|c| {
                        Decided::new(
                            VERIFIED,
                            Status::True,
                            &c.reason,
                            format!(
                                "verified at {}; the source cannot be read right now ({reason}), so the last verdict stands{}: see SourceAvailable",
                                previous.verified_at.as_ref().map(|t| t.0.to_string()).unwrap_or_default(),
                                match grace {
                                    Some(g) => format!(
                                        ", stale since {stale_since}, until {} (source.registry.staleGracePeriod)",
                                        stale_since.checked_add(jiff::SignedDuration::try_from(g).unwrap_or(jiff::SignedDuration::MAX)).map(|t| t.to_string()).unwrap_or_default()
                                    ),
                                    None => String::new(),
                                }
                            ),
                        )
                    })
                    .expect("still_holds checked Verified");
                (
                    vec![verified, source],
                    Some((VerificationResult::Unavailable, reason)),
                    requeue,
                )
            } else {
                // A registry's own reason (RegistryUnavailable, RateLimited, ...) is what a
                // denied deployment should name; other sources keep the one summary reason.
                let verdict_reason = if from_registry {
                    reason.as_str()
                } else {
                    "SourceUnavailable"
                };
                let expired = if previous.stale_since.is_some() && !within_grace {
                    " (the last verdict was stale for longer than source.registry.staleGracePeriod)"
                } else {
                    ""
                };
                let mut decided = vec![
                    Decided::new(
                        VERIFIED,
                        Status::False,
                        verdict_reason,
                        format!("the proof could not be read{expired}: {message}"),
                    ),
                    source,
                ];
                decided.extend(checks_not_run("the proof could not be read"));
                clear_results(&mut status);
                (
                    decided,
                    Some((VerificationResult::Unavailable, reason)),
                    requeue,
                )
            }
        }
        Outcome::IssuerNotFound { issuer } => {
            clear_results(&mut status);
            let mut decided = vec![Decided::new(
                VERIFIED,
                Status::False,
                "IssuerNotFound",
                format!(
                    "TrustedIssuer {issuer} not found: create it (kubectl get trustedissuers lists those that exist) or fix spec.issuerRef.name"
                ),
            )];
            decided.push(not_read());
            decided.extend(checks_not_run("the issuer is unknown"));
            (decided, None, failed_recheck)
        }
        Outcome::IssuerNotTrusted {
            issuer,
            reason,
            message,
        } => {
            clear_results(&mut status);
            let mut decided = vec![Decided::new(
                VERIFIED,
                Status::False,
                "IssuerNotTrusted",
                format!(
                    "TrustedIssuer {issuer} is not trusted ({reason}: {message}): kubectl describe trustedissuer {issuer}"
                ),
            )];
            decided.push(not_read());
            decided.extend(checks_not_run("the issuer is not trusted"));
            (decided, None, failed_recheck)
        }
        Outcome::ImageNotInScope {
            image,
            issuer,
            scope,
        } => {
            clear_results(&mut status);
            let mut decided = vec![Decided::new(
                VERIFIED,
                Status::False,
                "ImageNotInScope",
                format!(
                    "image {image} is outside the scope of TrustedIssuer {issuer} ({scope}): use an issuer trusted for this image, or widen spec.scope.images after review"
                ),
            )];
            decided.push(not_read());
            decided.extend(checks_not_run("the image is outside the issuer's scope"));
            (decided, None, failed_recheck)
        }
        Outcome::Unreadable {
            message,
            size,
            digest,
        } => {
            clear_results(&mut status);
            status.bundle_size = size.map(|s| s as i64);
            status.bundle_digest = digest;
            status.verified_at = Some(Time(now));
            let format = spec.source.effective_format();
            let mut decided = vec![
                Decided::new(
                    VERIFIED,
                    Status::False,
                    "InputUnreadable",
                    format!(
                        "{message}: the source must hold a {} ({}); re-create it (`attestor bundle create`, or the Sigstore client that signed it), or set spec.source.format",
                        match format {
                            attestor_api::proof_verification::ProofFormat::Bundle =>
                                "proof bundle ZIP",
                            attestor_api::proof_verification::ProofFormat::Envelope =>
                                "DSSE envelope (JSON)",
                            attestor_api::proof_verification::ProofFormat::SigstoreBundle =>
                                "Sigstore bundle (JSON, v0.1 to v0.3)",
                        },
                        "docs/proof-bundle-format.md"
                    ),
                ),
                match size {
                    Some(size) => fetched(size),
                    None => Decided::new(
                        SOURCE_AVAILABLE,
                        Status::True,
                        "Fetched",
                        "read the source (its size is not shown)",
                    ),
                },
            ];
            decided.extend(checks_not_run("the proof is unreadable"));
            (
                decided,
                Some((VerificationResult::Failed, "InputUnreadable".to_string())),
                failed_recheck,
            )
        }
        Outcome::NothingFound { message, found } => {
            clear_results(&mut status);
            status.verified_at = Some(Time(now));
            let mut decided = vec![
                Decided::new(
                    VERIFIED,
                    Status::False,
                    crate::registry::reason::NO_SIGNATURES_FOUND,
                    message,
                ),
                Decided::new(SOURCE_AVAILABLE, Status::True, "Fetched", found.describe()),
            ];
            decided.extend(checks_not_run("nothing to verify was found"));
            listed = Some(Some(found));
            (
                decided,
                Some((
                    VerificationResult::Failed,
                    crate::registry::reason::NO_SIGNATURES_FOUND.to_string(),
                )),
                nothing_found_recheck(previous, now).min(failed_recheck),
            )
        }
        Outcome::Checked {
            report,
            issuer,
            size,
            digest,
            keyless,
            found,
        } => {
            let source_message = found
                .as_ref()
                .map_or_else(|| format!("read {size} bytes"), registry::Found::describe);
            listed = Some(found);
            (status.signer_identity, status.signer_oidc_issuer) = keyless.unzip();
            status.manifest_id = non_empty(&report.manifest_id);
            status.proof_root_hash = non_empty(&report.proof_root_hash);
            status.signer_key_id = report.signer.as_ref().map(|s| s.key_id.clone());
            status.verified_at = Some(Time(report.verified_at));
            status.valid_until = report.valid_until.map(Time);
            status.bundle_size = Some(size as i64);
            status.bundle_digest = Some(digest);
            let verified = if report.verified {
                let signer = report
                    .signer
                    .as_ref()
                    .map(|s| format!("; signed by key {} (trust anchor {})", s.key_id, s.anchor))
                    .unwrap_or_default();
                let until = report
                    .valid_until
                    .map(|t| format!("; holds until {t}"))
                    .unwrap_or_default();
                Decided::new(
                    VERIFIED,
                    Status::True,
                    "Verified",
                    format!("{}{signer}{until}", report.message),
                )
            } else {
                Decided::new(
                    VERIFIED,
                    Status::False,
                    &report.reason,
                    with_next_step(&report.message, &report.reason, &issuer, sigstore),
                )
            };
            let mut decided = vec![
                verified,
                Decided::new(SOURCE_AVAILABLE, Status::True, "Fetched", source_message),
            ];
            decided.extend(report.checks.iter().map(|c| {
                let status = match c.status {
                    CheckStatus::Pass => Status::True,
                    CheckStatus::Fail => Status::False,
                    CheckStatus::Skipped => Status::Unknown,
                };
                Decided::new(c.name.condition_type(), status, &c.reason, &c.message)
            }));
            let requeue = if report.verified {
                let until_expiry = report
                    .valid_until
                    .map(|t| now.duration_until(t).unsigned_abs() + Duration::from_secs(1));
                until_expiry.map_or(timing.reverify, |d| d.min(timing.reverify))
            } else {
                failed_recheck
            };
            let result = if report.verified {
                VerificationResult::Verified
            } else {
                VerificationResult::Failed
            };
            (decided, Some((result, report.reason.clone())), requeue)
        }
    };
    if let Some(found) = listed {
        (status.candidates, status.candidates_found) = match found {
            Some(f) => (
                f.candidates,
                Some(i32::try_from(f.total).unwrap_or(i32::MAX)),
            ),
            None => (Vec::new(), None),
        };
    }
    status.conditions = conditions::merge(&previous.conditions, &decided, generation, now);
    let events = transitions(previous, &status);
    Decision {
        status,
        events,
        metric,
        requeue_after,
    }
}

/// A verdict that a source outage must not overturn: `Verified=True` for this generation, and
/// not past its validity.
fn still_holds(
    previous: &ProofVerificationStatus,
    generation: Option<i64>,
    now: Timestamp,
) -> bool {
    conditions::is_true(&previous.conditions, VERIFIED)
        && previous.observed_generation == generation
        && previous.valid_until.as_ref().is_none_or(|t| t.0 > now)
}

/// When to look again at a digest the registry holds nothing for: see [`NOTHING_FOUND_RECHECK`].
fn nothing_found_recheck(previous: &ProofVerificationStatus, now: Timestamp) -> Duration {
    let since = conditions::find(&previous.conditions, VERIFIED)
        .filter(|c| c.reason == crate::registry::reason::NO_SIGNATURES_FOUND)
        .map(|c| c.last_transition_time.0);
    let waited = since.map_or(Duration::ZERO, |t| now.duration_since(t).unsigned_abs());
    (waited / 4).clamp(NOTHING_FOUND_RECHECK, NOTHING_FOUND_MAX_RECHECK)
}

/// `source.registry.staleGracePeriod`; `None` for other sources, whose last verdict stands
/// until it expires.
fn stale_grace(spec: &ProofVerificationSpec) -> Option<Duration> {
    let registry = spec.source.registry.as_ref()?;
    Some(
        attestor_api::duration::parse(&registry.stale_grace_period)
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(DEFAULT_STALE_GRACE),
    )
}

fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    (MIN_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn clear_results(status: &mut ProofVerificationStatus) {
    status.manifest_id = None;
    status.proof_root_hash = None;
    status.signer_key_id = None;
    status.signer_identity = None;
    status.signer_oidc_issuer = None;
    status.valid_until = None;
    status.bundle_size = None;
    status.bundle_digest = None;
}

fn fetched(size: u64) -> Decided {
    Decided::new(
        SOURCE_AVAILABLE,
        Status::True,
        "Fetched",
        format!("read {size} bytes"),
    )
}

fn not_read() -> Decided {
    Decided::new(
        SOURCE_AVAILABLE,
        Status::Unknown,
        "NotRead",
        "the proof is not read until the issuer question is settled (see Verified)",
    )
}

fn checks_not_run(why: &str) -> impl Iterator<Item = Decided> + '_ {
    CheckName::ALL.into_iter().map(move |c| {
        Decided::new(
            c.condition_type(),
            Status::Unknown,
            "NotRun",
            format!("not run: {why}"),
        )
    })
}

/// The failure message with what to do about it in a cluster.
fn with_next_step(message: &str, reason: &str, issuer: &str, sigstore: bool) -> String {
    let step = match reason {
        "IdentityMismatch" => format!(
            "the bundle was signed by another workload identity: point spec.source at the bundle the expected workflow signed, or, after review, add the signer's issuer and subject to TrustedIssuer {issuer}'s spec.identities"
        ),
        "IdentitiesMissing" => format!(
            "list the keyless signers (issuer and subject or subjectRegExp) in TrustedIssuer {issuer}'s spec.identities"
        ),
        "TrustedRootMissing" => format!(
            "add a TrustAnchor with spec.sigstoreTrustedRoot (the trusted_root.json of the Sigstore instance that signed) and list it in TrustedIssuer {issuer}'s spec.anchors"
        ),
        "StatementMismatch" => {
            "compare spec.checks.predicateType with the attestation's predicateType (the statement must also name spec.artifactDigest as a subject)".to_string()
        }
        "CertificateChainInvalid" | "SctInvalid" if sigstore => format!(
            "the certificate is not from a CA (or CT log) of the trusted roots of TrustedIssuer {issuer}: use the trusted_root.json of the Sigstore instance that signed (public-good and staging differ)"
        ),
        "TlogEntryInvalid" | "InclusionProofInvalid" | "CheckpointInvalid"
        | "SignedEntryTimestampInvalid" | "TimestampInvalid" | "SigningTimeNotVerified"
            if sigstore =>
        {
            "the bundle's log entry or timestamps do not verify against the trusted root: check that the trusted root lists the log and timestamp authority that the bundle names, else treat the bundle as tampered".to_string()
        }
        "SignatureInvalid" | "BundleInvalid" | "KeyMismatch" if sigstore => {
            "treat the bundle as tampered: fetch it again from its publisher and verify it offline with `attestor verify --trusted-root`".to_string()
        }
        "TrustAnchorNotFound" => format!(
            "list that TrustAnchor in TrustedIssuer {issuer}'s spec.anchors (or publish the key in its directory)"
        ),
        "SignatureInvalid" | "PayloadTypeMismatch" => {
            "treat the bundle as tampered: re-create and re-sign it from the original inputs"
                .to_string()
        }
        "KeyExpired" | "CertificateExpired" => {
            "re-sign the proof with a current key, and keep the old anchor only for the rotation overlap".to_string()
        }
        "KeyNotYetValid" | "CertificateNotYetValid" | "TimestampInFuture" => {
            "check the signer's clock and the TrustAnchor's spec.notBefore (tolerance: spec.checks.clockSkew)".to_string()
        }
        "CertificateChainInvalid" => {
            "ship the signing certificate's intermediates in the bundle or in the TrustAnchor's spec.intermediates".to_string()
        }
        "AlgorithmNotSupported" => "sign with an ECDSA P-256 or Ed25519 key".to_string(),
        "ArtifactDigestMismatch" | "SubjectMismatch" => {
            "point spec.source at the proof for spec.artifactDigest".to_string()
        }
        "TransparencyLogEntryMissing" => {
            "re-create the bundle with a log entry, or set spec.checks.transparencyLog: IfPresent for offline sites".to_string()
        }
        "LogKeyNotTrusted" => format!(
            "add the log's key as a TrustAnchor with purposes [TransparencyLog] and list it in TrustedIssuer {issuer}'s spec.anchors"
        ),
        "TimestampTooOld" => {
            "produce a fresh proof, or raise spec.checks.maxAge".to_string()
        }
        "SignedOutsideKeyValidity" => {
            "re-sign with a key that is valid at the signing time".to_string()
        }
        _ => "the bundle was altered or built wrong: re-create it with `attestor bundle create` and check it with `attestor verify`".to_string(),
    };
    format!("{message}. Next: {step}")
}

/// Events for changes a person should notice: reaching a verdict, changing it, losing the source.
fn transitions(
    before: &ProofVerificationStatus,
    after: &ProofVerificationStatus,
) -> Vec<EventNote> {
    let mut events = Vec::new();
    let old = conditions::find(&before.conditions, VERIFIED);
    let new = conditions::find(&after.conditions, VERIFIED);
    if let Some(new) = new {
        let changed = old.is_none_or(|o| o.status != new.status || o.reason != new.reason);
        if changed {
            events.push(if new.status == "True" {
                EventNote {
                    warning: false,
                    reason: "Verified".into(),
                    note: new.message.clone(),
                }
            } else {
                EventNote {
                    warning: true,
                    reason: "VerificationFailed".into(),
                    note: format!("{}: {}", new.reason, new.message),
                }
            });
        }
    }
    let old = conditions::find(&before.conditions, SOURCE_AVAILABLE);
    let new = conditions::find(&after.conditions, SOURCE_AVAILABLE);
    if let Some(new) = new
        && new.status == "False"
        && old.is_none_or(|o| o.status != "False" || o.reason != new.reason)
        && conditions::is_true(&after.conditions, VERIFIED)
    {
        // When the verdict flips too, VerificationFailed already says it; this is for the
        // outage that leaves the verdict standing.
        events.push(EventNote {
            warning: true,
            reason: "SourceUnavailable".into(),
            note: format!("{}: {}", new.reason, new.message),
        });
    }
    events
}

pub mod registry;
pub mod sigstore;

#[cfg(test)]
mod tests;
