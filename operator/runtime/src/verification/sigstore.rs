//! A Sigstore bundle in a ProofVerification: verified by `attestor_sigstore`, the same core as
//! `attestor verify --trusted-root`, and reported as the five per-check conditions the proof
//! bundle format has, so that status, Events, metrics and admission treat it like any proof.
//!
//! How the checks map: `SignatureValid` is the signature, the Fulcio chain, the SCT and the
//! identity; `IdRecomputed` is the artifact (the digest signed, or the in-toto statement's
//! subject and predicate type); `MerklePathValid` is the Rekor inclusion proof; `RekorInclusion`
//! is the log entry, its signed checkpoint and signed entry timestamp; `TimestampValid` is the
//! verified signing time (log or RFC 3161) and `spec.checks.maxAge`. The verifier stops at the
//! first failure, so after a failure the checks it did not report on are `Unknown`.

use attestor_core::verify::{CheckName, CheckOutcome, CheckStatus, VerificationReport};
use attestor_sigstore::cosign::TrustedKey;
use attestor_sigstore::{
    Artifact, IdentityRule, Options, Policy, SigstoreError, Thresholds, TlogPolicy, TrustedRoot,
    Verified, verify_bundle, verify_bundle_with,
};
use jiff::{SignedDuration, Timestamp};

use crate::trust::UsableRoot;

/// What a ProofVerification asks of its Sigstore bundle.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub artifact_digest: &'a str,
    pub predicate_type: Option<&'a str>,
    pub max_age: Option<SignedDuration>,
    pub now: Timestamp,
    /// For key-signed bundles: whether a log entry is needed (`spec.checks.transparencyLog`).
    /// Keyless bundles always need the evidence their trusted root implies.
    pub tlog: TlogPolicy,
}

/// A key the issuer trusts for attestation signing now, and until when.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub key: TrustedKey,
    pub expires: Option<Timestamp>,
}

/// Who signed a verified bundle.
enum Signer<'a> {
    Certificate(&'a UsableRoot),
    Key(&'a SigningKey),
}

/// The report, and the matched identity and OIDC issuer when it verified.
#[derive(Debug, Clone)]
pub struct Checked {
    pub report: VerificationReport,
    pub keyless: Option<(String, String)>,
}

/// Verifies `bundle` against each of the issuer's roots (the first that verifies wins). `Err`
/// is the message of a bundle that is not a readable Sigstore bundle at all.
pub fn check(
    bundle: &[u8],
    roots: &[UsableRoot],
    identities: &[IdentityRule],
    keys: &[SigningKey],
    request: &Request<'_>,
) -> Result<Checked, String> {
    let failed = |check: CheckName, reason: &str, message: String| Checked {
        report: failure(request, check, reason, message),
        keyless: None,
    };
    let artifact = match Artifact::parse_digest(request.artifact_digest) {
        Ok(a) => a,
        Err(e) => {
            return Ok(failed(
                CheckName::IdRecomputed,
                "ArtifactDigestMismatch",
                format!("spec.artifactDigest: {e}"),
            ));
        }
    };
    if attestor_sigstore::verify::is_key_signed(bundle).map_err(|e| e.to_string())? {
        return Ok(check_key_signed(bundle, roots, keys, artifact, request));
    }
    if roots.is_empty() {
        return Ok(failed(
            CheckName::SignatureValid,
            "TrustedRootMissing",
            "the issuer has no usable Sigstore trusted root to verify a Sigstore bundle against"
                .into(),
        ));
    }
    if identities.is_empty() {
        return Ok(failed(
            CheckName::SignatureValid,
            "IdentitiesMissing",
            "the issuer names no keyless identities (spec.identities), so no signing certificate can be accepted".into(),
        ));
    }
    let policy = Policy {
        identities: identities.to_vec(),
        key: None,
        artifact,
        predicate_type: request.predicate_type.map(str::to_string),
    };
    let mut first_error: Option<(SigstoreError, &UsableRoot)> = None;
    for root in roots {
        match verify_bundle(bundle, &root.root, &policy) {
            Ok(verified) => return Ok(success(request, &verified, Signer::Certificate(root))),
            Err(e) if e.is_input_error() => return Err(e.to_string()),
            Err(e) => {
                first_error.get_or_insert((e, root));
            }
        }
    }
    let (error, root) = first_error.expect("at least one root was tried");
    let also = if roots.len() > 1 {
        format!(" (and against the {} other trusted roots)", roots.len() - 1)
    } else {
        String::new()
    };
    Ok(failed(
        check_of(&error),
        error.reason(),
        format!("{error}, against trusted root {}{also}", root.anchor),
    ))
}

/// A bundle signed with a key (`cosign sign-blob --key`, `--bundle`): verified with each of the
/// issuer's attestation-signing keys; its log entries are looked up in the issuer's trusted
/// roots, and needed as `spec.checks.transparencyLog` says.
fn check_key_signed(
    bundle: &[u8],
    roots: &[UsableRoot],
    keys: &[SigningKey],
    artifact: Artifact,
    request: &Request<'_>,
) -> Checked {
    let failed = |check: CheckName, reason: &str, message: String| Checked {
        report: failure(request, check, reason, message),
        keyless: None,
    };
    if keys.is_empty() {
        return failed(
            CheckName::SignatureValid,
            "KeyMismatch",
            "the Sigstore bundle is signed with a public key, and the issuer has no attestation-signing key valid now: add the key as a TrustAnchor (purpose AttestationSigning) in the issuer's spec.anchors".into(),
        );
    }
    let empty = TrustedRoot::empty();
    let logs: Vec<&TrustedRoot> = if roots.is_empty() {
        vec![&empty]
    } else {
        roots.iter().map(|r| r.root.as_ref()).collect()
    };
    let options = Options {
        tlog: request.tlog,
        thresholds: Thresholds::default(),
        ..Options::default()
    };
    let mut signature_error = None;
    let mut other_error = None;
    for key in keys {
        let policy = Policy {
            identities: vec![],
            key: Some(key.key.key.clone()),
            artifact: artifact.clone(),
            predicate_type: request.predicate_type.map(str::to_string),
        };
        for root in &logs {
            match verify_bundle_with(bundle, root, &policy, &options) {
                Ok(verified) => return success(request, &verified, Signer::Key(key)),
                // Another key's signature: try the next key, and say so only if none verifies.
                Err(e @ SigstoreError::SignatureInvalid(_)) => {
                    signature_error.get_or_insert(e);
                }
                Err(e) => {
                    other_error.get_or_insert(e);
                }
            }
        }
    }
    // A failure past the signature (the log, the artifact) says more than "no key verifies".
    let error = other_error
        .or(signature_error)
        .expect("at least one key was tried");
    let names = keys
        .iter()
        .map(|k| k.key.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    failed(
        check_of(&error),
        error.reason(),
        format!("{error}, with the issuer's keys ({names})"),
    )
}

/// Which of the five checks a verifier error belongs to.
pub fn check_of(error: &SigstoreError) -> CheckName {
    match error {
        SigstoreError::ArtifactMismatch(_)
        | SigstoreError::StatementMismatch(_)
        | SigstoreError::ArtifactRequired(_) => CheckName::IdRecomputed,
        SigstoreError::InclusionProofInvalid(_) => CheckName::MerklePathValid,
        SigstoreError::TlogEntryInvalid(_)
        | SigstoreError::CheckpointInvalid(_)
        | SigstoreError::SetInvalid(_) => CheckName::RekorInclusion,
        SigstoreError::TimestampInvalid(_) | SigstoreError::NoSigningTime(_) => {
            CheckName::TimestampValid
        }
        SigstoreError::BundleMalformed(_)
        | SigstoreError::TrustedRoot(_)
        | SigstoreError::UnsupportedVersion(_)
        | SigstoreError::VersionNotAccepted(_)
        | SigstoreError::BundleInvalid(_)
        | SigstoreError::SignatureInvalid(_)
        | SigstoreError::CertificateChainInvalid(_)
        | SigstoreError::SctInvalid(_)
        | SigstoreError::IdentityMismatch(_)
        | SigstoreError::KeyMismatch(_) => CheckName::SignatureValid,
    }
}

pub(crate) fn outcome(
    name: CheckName,
    status: CheckStatus,
    reason: &str,
    message: String,
) -> CheckOutcome {
    CheckOutcome {
        name,
        status,
        reason: reason.into(),
        message,
        evidence: Vec::new(),
    }
}

pub(crate) fn report(
    request: &Request<'_>,
    verified: bool,
    reason: &str,
    message: String,
    checks: Vec<CheckOutcome>,
    valid_until: Option<Timestamp>,
) -> VerificationReport {
    VerificationReport {
        verified,
        reason: reason.into(),
        message,
        artifact_digest: request.artifact_digest.to_string(),
        manifest_id: String::new(),
        proof_root_hash: String::new(),
        signer: None,
        verified_at: request.now,
        valid_until,
        checks,
    }
}

pub(crate) fn failure(
    request: &Request<'_>,
    failed: CheckName,
    reason: &str,
    message: String,
) -> VerificationReport {
    let checks = CheckName::ALL
        .into_iter()
        .map(|name| {
            if name == failed {
                outcome(name, CheckStatus::Fail, reason, message.clone())
            } else {
                outcome(
                    name,
                    CheckStatus::Skipped,
                    "NotEvaluated",
                    format!(
                        "not reported: Sigstore verification stops at the first failure ({})",
                        failed.condition_type()
                    ),
                )
            }
        })
        .collect();
    report(request, false, reason, message, checks, None)
}

fn success(request: &Request<'_>, v: &Verified, signer: Signer<'_>) -> Checked {
    let identity = v.identity.clone().unwrap_or_default();
    let issuer = v.issuer.clone().unwrap_or_default();
    let (signed_by, who, valid_until, keyless) = match signer {
        Signer::Certificate(root) => (
            format!(
                "a certificate of trusted root {} for {identity} (OIDC issuer {issuer})",
                root.anchor
            ),
            format!("{identity} (OIDC issuer {issuer})"),
            root.not_after,
            Some((identity.clone(), issuer.clone())),
        ),
        Signer::Key(key) => {
            let id = format!(
                "key sha256:{} ({})",
                v.key_sha256.as_deref().unwrap_or_default(),
                key.key.name
            );
            (id.clone(), id, key.expires, None)
        }
    };
    let times = v
        .signing_times
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    // The newest verified signing time is the one maxAge judges: any of them proves the
    // signature existed then.
    let newest = v.signing_times.iter().max().copied();
    if let (Some(max_age), Some(signed)) = (request.max_age, newest)
        && request.now.duration_since(signed) > max_age
    {
        let message = format!(
            "signed at {signed}, more than spec.checks.maxAge ({}) ago",
            attestor_core::verify::format_duration(max_age)
        );
        return Checked {
            report: failure(
                request,
                CheckName::TimestampValid,
                "TimestampTooOld",
                message,
            ),
            keyless: None,
        };
    }
    let logs = log_entries(&v.tlog_entries);
    let statement = match &v.predicate_type {
        Some(pt) => format!(
            "the in-toto statement names {} as a subject, predicateType {pt}",
            request.artifact_digest
        ),
        None => format!("the signature covers {}", request.artifact_digest),
    };
    let checks = vec![
        outcome(
            CheckName::SignatureValid,
            CheckStatus::Pass,
            "Valid",
            format!(
                "Sigstore bundle v{} ({}) signed by {signed_by}",
                v.bundle_version, v.content
            ),
        ),
        outcome(
            CheckName::IdRecomputed,
            CheckStatus::Pass,
            "Match",
            statement,
        ),
        if v.tlog_entries.is_empty() {
            outcome(
                CheckName::MerklePathValid,
                CheckStatus::Skipped,
                "NoLogEntry",
                "the bundle has no transparency-log entry: its signing time rests on RFC 3161 timestamps".into(),
            )
        } else {
            outcome(
                CheckName::MerklePathValid,
                CheckStatus::Pass,
                "Valid",
                format!(
                    "the inclusion proofs (or, for v0.1 bundles, signed entry timestamps) verify: {logs}"
                ),
            )
        },
        if v.tlog_entries.is_empty() {
            outcome(
                CheckName::RekorInclusion,
                CheckStatus::Skipped,
                "NoLogEntry",
                "the bundle has no transparency-log entry".into(),
            )
        } else {
            outcome(
                CheckName::RekorInclusion,
                CheckStatus::Pass,
                "Included",
                format!("logged in {logs}"),
            )
        },
        outcome(
            CheckName::TimestampValid,
            CheckStatus::Pass,
            "Valid",
            if times.is_empty() {
                "no signing time is needed for a key-signed bundle, and none was given".into()
            } else {
                format!(
                    "signed at {times} ({} RFC 3161 timestamps){}",
                    v.timestamps,
                    if keyless.is_some() {
                        ", within the certificate's validity"
                    } else {
                        ""
                    }
                )
            },
        ),
    ];
    let message = if times.is_empty() {
        format!(
            "Sigstore bundle verified: {who} signed {}",
            request.artifact_digest
        )
    } else {
        format!(
            "Sigstore bundle verified: {who} signed {} at {times}",
            request.artifact_digest
        )
    };
    Checked {
        report: report(request, true, "Verified", message, checks, valid_until),
        keyless,
    }
}

/// `LOG entry N, LOG entry M`: verified transparency-log entries, for messages.
pub(crate) fn log_entries(entries: &[(String, i64)]) -> String {
    entries
        .iter()
        .map(|(log, index)| format!("{log} entry {index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
