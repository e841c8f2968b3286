//! A ProofVerification with `source.registry`: the registry's candidates, verified by
//! [`crate::registry::verdict`] (the same verdict as `attestor verify --image`), turned into the
//! five per-check conditions every proof reports, and the list of what was found for status.
//!
//! A proof bundle candidate brings its own report. A cosign candidate maps as Sigstore bundles
//! do (see [`super::sigstore`]): `SignatureValid` is the signature and who signed,
//! `IdRecomputed` the image digest the payload names, `MerklePathValid` and `RekorInclusion`
//! the log entries when there are any, `TimestampValid` the verified signing time.

use attestor_api::proof_verification::CandidateStatus;
use attestor_core::verify::{CheckName, CheckStatus, VerificationReport};

use super::sigstore::{Request, failure, log_entries, outcome, report};
use crate::registry::Discovery;
use crate::registry::verdict::{CandidateVerdict, Summary};

/// Candidates listed in status at most: enough to see what a repository holds, bounded so a
/// repository with thousands of referrers cannot grow the object.
pub const MAX_LISTED: usize = 16;

/// What the registry held, for status.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub candidates: Vec<CandidateStatus>,
    /// All candidates examined (the list is capped at [`MAX_LISTED`]).
    pub total: usize,
    /// `referrers` or `fallbackTag`.
    pub via: &'static str,
    pub requests: u32,
    /// More were listed than examined.
    pub truncated: bool,
}

impl Found {
    pub fn new(discovery: &Discovery, verdicts: &[CandidateVerdict]) -> Self {
        Self {
            candidates: verdicts
                .iter()
                .take(MAX_LISTED)
                .map(|v| CandidateStatus {
                    digest: v.digest.clone(),
                    kind: v.kind.as_str().to_string(),
                    found_via: v.source.as_str().to_string(),
                    reason: v.reason.clone(),
                    signer: v.signer.clone().filter(|_| v.verified),
                })
                .collect(),
            total: verdicts.len(),
            via: discovery.source.as_str(),
            requests: discovery.requests,
            truncated: discovery.truncated,
        }
    }

    /// For `SourceAvailable`'s message.
    pub fn describe(&self) -> String {
        format!(
            "the registry holds {} candidate(s) for the digest (listed via {}, {} requests{})",
            self.total,
            if self.via == "referrers" {
                "the referrers API"
            } else {
                "the fallback tag"
            },
            self.requests,
            if self.truncated {
                "; more were listed than examined"
            } else {
                ""
            }
        )
    }
}

/// The report for the deciding candidate. `None` when nothing of a wanted kind was found.
pub fn decisive_report(
    verdicts: &[CandidateVerdict],
    summary: &Summary,
    request: &Request<'_>,
) -> Option<VerificationReport> {
    let v = &verdicts[summary.decisive?];
    if let Some(report) = &v.report {
        return Some((**report).clone());
    }
    Some(if v.verified {
        verified(v, request)
    } else {
        let message = format!("{} {}: {}", v.kind.as_str(), v.digest, v.message);
        failure(request, check_of(&v.reason), &v.reason, message)
    })
}

/// Which check a cosign candidate's failure belongs to.
fn check_of(reason: &str) -> CheckName {
    match reason {
        "ImageDigestMismatch" | "StatementMismatch" | "PayloadInvalid" => CheckName::IdRecomputed,
        "InclusionProofInvalid" => CheckName::MerklePathValid,
        "TlogEntryInvalid" | "CheckpointInvalid" | "SignedEntryTimestampInvalid" => {
            CheckName::RekorInclusion
        }
        "TimestampInvalid" | "SigningTimeNotVerified" | "TimestampTooOld" => {
            CheckName::TimestampValid
        }
        _ => CheckName::SignatureValid,
    }
}

fn verified(v: &CandidateVerdict, request: &Request<'_>) -> VerificationReport {
    let logs = log_entries(&v.tlog_entries);
    let signer = v
        .signer
        .clone()
        .unwrap_or_else(|| "a trusted signer".into());
    if let (Some(max_age), Some(signed)) = (request.max_age, v.signing_time)
        && request.now.duration_since(signed) > max_age
    {
        return failure(
            request,
            CheckName::TimestampValid,
            "TimestampTooOld",
            format!(
                "{} {} was signed at {signed}, more than spec.checks.maxAge ({}) ago",
                v.kind.as_str(),
                v.digest,
                attestor_core::verify::format_duration(max_age)
            ),
        );
    }
    let logged = |name: CheckName, pass_reason: &str, text: String| {
        if v.tlog_entries.is_empty() {
            outcome(
                name,
                CheckStatus::Skipped,
                "NoLogEntry",
                "the signature has no transparency-log entry (signed with --tlog-upload=false, or the log is not trusted: spec.checks.transparencyLog decides)".into(),
            )
        } else {
            outcome(name, CheckStatus::Pass, pass_reason, text)
        }
    };
    let checks = vec![
        outcome(
            CheckName::SignatureValid,
            CheckStatus::Pass,
            "Valid",
            format!("{} {} signed by {signer}", v.kind.as_str(), v.digest),
        ),
        outcome(
            CheckName::IdRecomputed,
            CheckStatus::Pass,
            "Match",
            match &v.predicate_type {
                Some(pt) => format!(
                    "the in-toto statement names {} as a subject, predicateType {pt}",
                    request.artifact_digest
                ),
                None => format!("the signed payload names {}", request.artifact_digest),
            },
        ),
        logged(
            CheckName::MerklePathValid,
            "Valid",
            format!("the inclusion proofs verify: {logs}"),
        ),
        logged(
            CheckName::RekorInclusion,
            "Included",
            format!("logged in {logs}"),
        ),
        match v.signing_time {
            Some(t) => outcome(
                CheckName::TimestampValid,
                CheckStatus::Pass,
                "Valid",
                format!("signed at {t}"),
            ),
            None => outcome(
                CheckName::TimestampValid,
                CheckStatus::Skipped,
                "NoSigningTime",
                "no verified signing time: a key-signed signature without a log entry or timestamp"
                    .into(),
            ),
        },
    ];
    let message = format!(
        "{} {} ({}) verified: signed by {signer}",
        v.kind.as_str(),
        v.digest,
        v.source.as_str()
    );
    report(request, true, "Verified", message, checks, v.valid_until)
}
