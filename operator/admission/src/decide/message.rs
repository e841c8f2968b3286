//! The words of a decision: the problem of each image, the denial that lists them and the
//! warnings. Deterministic (images sorted by the caller, nothing iterated in hash order) and
//! bounded, whatever the object holds.

use super::verdict::{ImageOutcome, ImageVerdict};
use crate::index::ENFORCEMENT_LABEL;
use crate::reference::ImageReference;
use crate::review::Workload;
use crate::text::{bounded_line, clip};

/// The whole denial. The API server passes it to the client after `admission webhook "…"
/// denied the request: `; a few kilobytes list dozens of images and stay readable.
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;
/// One line of a denial.
const MAX_LINE_BYTES: usize = 512;
/// The API server may truncate longer warnings.
pub(crate) const MAX_WARNING_BYTES: usize = 256;
/// Clients print every warning; past a screenful they stop helping.
pub(crate) const MAX_WARNINGS: usize = 16;
/// An image reference inside a line.
const MAX_IMAGE_BYTES: usize = 200;
/// Room kept for the "… and N more" line.
const OMISSION_RESERVE: usize = 48;

/// What is wrong with one image, `None` when nothing is.
pub(crate) fn problem(outcome: &ImageOutcome) -> Option<String> {
    Some(match outcome {
        ImageOutcome::Verified { .. } => return None,
        ImageOutcome::NotPinned {
            repository,
            bad_digest: None,
        } => format!("not pinned by digest: use {repository}@sha256:…"),
        ImageOutcome::NotPinned {
            repository,
            bad_digest: Some(error),
        } => format!("not pinned by digest ({error}): use {repository}@sha256:…"),
        ImageOutcome::ProofMissing {
            digest,
            namespaces,
            discovery: None,
        } => format!(
            "no ProofVerification for {digest} in namespace(s) {}: create one",
            namespaces.join(", ")
        ),
        ImageOutcome::ProofMissing {
            digest,
            discovery: Some(discovery),
            ..
        } => format!(
            "no proof yet: ProofVerification {} is being created by discovery to verify what the registry holds for {digest} (TrustedIssuer {}): retry in a few seconds",
            discovery.proof, discovery.issuer
        ),
        ImageOutcome::ProofFailed {
            proof,
            reason,
            message,
        } => match (reason.is_empty(), message.is_empty()) {
            (false, false) => format!("ProofVerification {proof} failed: {reason}: {message}"),
            (false, true) => format!("ProofVerification {proof} failed: {reason}"),
            (true, _) => format!("ProofVerification {proof} failed: {message}"),
        },
        ImageOutcome::IssuerNotFound { proof, issuer } => {
            format!("issuer {issuer} of ProofVerification {proof} does not exist")
        }
        ImageOutcome::IssuerNotTrusted { issuer, reason, .. } if reason.is_empty() => {
            format!("issuer {issuer} is not trusted")
        }
        ImageOutcome::IssuerNotTrusted { issuer, reason, .. } => {
            format!("issuer {issuer} is not trusted ({reason})")
        }
        ImageOutcome::OutOfScope {
            issuer,
            scope,
            image,
            ..
        } => format!("issuer {issuer}'s scope ({scope}) does not cover image {image}"),
        ImageOutcome::ProofExpired { expired_at, .. } => format!(
            "proof expired at {}: re-verify or re-sign",
            rfc3339(*expired_at)
        ),
        ImageOutcome::Pending {
            proof,
            digest,
            stale_status,
        } => format!(
            "ProofVerification {proof} for {digest} is still being verified{}: retry shortly",
            if *stale_status {
                " (its status predates its latest spec)"
            } else {
                ""
            }
        ),
    })
}

/// `2026-11-01T09:30:00Z`.
pub(crate) fn rfc3339(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .map_or_else(|_| format!("unix time {unix_seconds}"), |t| t.to_string())
}

/// `container "cart" (registry.example/shop/cart@sha256:…): <problem>; see kubectl describe …`.
pub(crate) fn denial_line(verdict: &ImageVerdict) -> Option<String> {
    let problem = problem(&verdict.outcome)?;
    let container = &verdict.container;
    let mut line = format!(
        "{} {:?} ({}): {problem}",
        container.list.noun(),
        clip(&container.name, 80),
        clip(&container.image, MAX_IMAGE_BYTES),
    );
    if let Some(proof) = verdict.outcome.proof() {
        line.push_str("; see ");
        line.push_str(&proof.describe_command());
    }
    Some(bounded_line(&line, MAX_LINE_BYTES))
}

/// Like [`denial_line`] within [`MAX_WARNING_BYTES`]: the image without its digest (a problem
/// that needs the digest quotes it), and the describe command only when it fits.
pub(crate) fn warning_line(context: &str, verdict: &ImageVerdict) -> Option<String> {
    let problem = problem(&verdict.outcome)?;
    let container = &verdict.container;
    let image = ImageReference::split(&container.image).without_digest();
    let line = format!(
        "attestor ({context}): {} {:?} ({}): {problem}",
        container.list.noun(),
        clip(&container.name, 64),
        clip(image, 96),
    );
    let with_command = verdict
        .outcome
        .proof()
        .map(|proof| format!("{line}; see {}", proof.describe_command()))
        .filter(|long| long.len() <= MAX_WARNING_BYTES);
    Some(bounded_line(
        with_command.as_deref().unwrap_or(&line),
        MAX_WARNING_BYTES,
    ))
}

/// At most [`MAX_WARNINGS`], the last saying how many were left out.
pub(crate) fn bounded_warnings(mut warnings: Vec<String>) -> Vec<String> {
    if warnings.len() > MAX_WARNINGS {
        let omitted = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!(
            "attestor: … and {omitted} more image(s) without a usable proof"
        ));
    }
    warnings
}

/// How the namespace came to be enforcing, for the denial's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enforcing {
    ByLabel,
    /// The index has not seen the namespace: see docs/admission.md.
    Assumed,
}

/// The denial: a head line, one line per offending image (sorted by the caller), and notes
/// (break-glass), within [`MAX_MESSAGE_BYTES`].
pub(crate) fn denial(
    workload: &Workload,
    failures: &[&ImageVerdict],
    enforcing: Enforcing,
    notes: &[String],
) -> String {
    let why = match enforcing {
        Enforcing::ByLabel => format!(
            "namespace {} enforces verified images ({ENFORCEMENT_LABEL}=enforce)",
            workload.namespace
        ),
        Enforcing::Assumed => format!(
            "namespace {} is not known to the attestor yet and is treated as enforcing (retry shortly)",
            workload.namespace
        ),
    };
    let mut message = bounded_line(
        &format!(
            "{}: {} of {} image(s) have no usable proof, and {why}:",
            workload.display_name(),
            failures.len(),
            workload.containers.len(),
        ),
        MAX_LINE_BYTES,
    );
    let notes: Vec<String> = notes
        .iter()
        .map(|note| bounded_line(note, MAX_LINE_BYTES))
        .collect();
    let notes_bytes: usize = notes.iter().map(|note| note.len() + 1).sum();
    let budget = MAX_MESSAGE_BYTES.saturating_sub(notes_bytes + OMISSION_RESERVE);
    let mut omitted = 0usize;
    for line in failures.iter().filter_map(|verdict| denial_line(verdict)) {
        // Once one line is left out all later ones are too, so the list stays a prefix.
        if omitted == 0 && message.len() + 3 + line.len() <= budget {
            message.push_str("\n- ");
            message.push_str(&line);
        } else {
            omitted += 1;
        }
    }
    if omitted > 0 {
        message.push_str(&format!("\n- … and {omitted} more image(s)"));
    }
    for note in notes {
        message.push('\n');
        message.push_str(&note);
    }
    message
}
