//! The admission decision: a pure function of the review, the index, the configuration and
//! the time. The rules and the message catalogue are in docs/admission.md.

mod message;
mod verdict;

pub use verdict::{Discovery, ImageOutcome, ImageVerdict, ProofRef, discovered_proof_name};

use std::fmt;

use crate::config::Config;
use crate::digest::Digest;
use crate::index::{ENFORCEMENT_LABEL, Enforcement, Index};
use crate::review::{ReviewRequest, Target, Workload};
use crate::text::bounded_line;
use message::{Enforcing, bounded_warnings, denial, warning_line};

/// On the Pod template (or a Pod): its value says why the images are admitted anyway.
pub const BREAK_GLASS_ANNOTATION: &str = "attestor.stellaops.io/break-glass";

/// A break-glass reason, as recorded in Events and audit annotations.
const MAX_BREAK_GLASS_REASON_BYTES: usize = 256;

/// Why a decision came out as it did: stable, for metrics and audit annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Every image has a usable proof.
    Allowed,
    /// DELETE, CONNECT, a kind without a Pod spec, or a subresource that adds no image.
    NotApplicable,
    /// The namespace is exempt by configuration.
    Exempt,
    /// The namespace has no enforcement label.
    NotGated,
    /// The namespace's enforcement label is neither `enforce` nor `warn`: not gated, warned.
    EnforcementLabelInvalid,
    // The failures of images, in the order the rules are checked: a decision with several is
    // named after the first, so that waiting (Pending) is only ever the reason when nothing
    // else is wrong.
    NotPinned,
    ProofMissing,
    ProofFailed,
    IssuerNotFound,
    IssuerNotTrusted,
    OutOfScope,
    ProofExpired,
    Pending,
    /// Admitted by the break-glass annotation despite failing images.
    BreakGlass,
    /// The review could not be read (see [`crate::MalformedReview`]).
    Malformed,
}

impl Reason {
    pub const ALL: [Reason; 15] = [
        Self::Allowed,
        Self::NotApplicable,
        Self::Exempt,
        Self::NotGated,
        Self::EnforcementLabelInvalid,
        Self::NotPinned,
        Self::ProofMissing,
        Self::ProofFailed,
        Self::IssuerNotFound,
        Self::IssuerNotTrusted,
        Self::OutOfScope,
        Self::ProofExpired,
        Self::Pending,
        Self::BreakGlass,
        Self::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "Allowed",
            Self::NotApplicable => "NotApplicable",
            Self::Exempt => "Exempt",
            Self::NotGated => "NotGated",
            Self::EnforcementLabelInvalid => "EnforcementLabelInvalid",
            Self::NotPinned => "NotPinned",
            Self::ProofMissing => "ProofMissing",
            Self::ProofFailed => "ProofFailed",
            Self::IssuerNotFound => "IssuerNotFound",
            Self::IssuerNotTrusted => "IssuerNotTrusted",
            Self::OutOfScope => "OutOfScope",
            Self::ProofExpired => "ProofExpired",
            Self::Pending => "Pending",
            Self::BreakGlass => "BreakGlass",
            Self::Malformed => "Malformed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a gated namespace treats images without a usable proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Enforce,
    Warn,
}

/// The break-glass annotation admitted failing images: the caller records an Event on the
/// object and counts it in a metric, unless `record` is false (a dry run has no side effects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassUse {
    /// The annotation's value, on one line and bounded.
    pub reason: String,
    /// What the decision would have been without it.
    pub overridden: Reason,
    pub record: bool,
}

/// What a decision waits for: the index learning about these may change it, so a caller may
/// wait a short bounded time for the index to change and decide again. After that time the
/// decision as it stands is final: it already says what to answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitingOn {
    /// Digests whose proofs are all still being verified, sorted.
    pub digests: Vec<Digest>,
    /// The workload's namespace, when the index has not seen it yet.
    pub namespace: Option<String>,
}

impl WaitingOn {
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty() && self.namespace.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    /// `None` when the namespace is not gated (or the review not applicable).
    pub mode: Option<Mode>,
    /// The denial, for `status.message`; `None` when allowed.
    pub message: Option<String>,
    /// Admission warnings, each at most 256 bytes.
    pub warnings: Vec<String>,
    /// Every checked image, in the order of the Pod spec.
    pub images: Vec<ImageVerdict>,
    pub break_glass: Option<BreakGlassUse>,
    /// `None` when waiting cannot change the decision.
    pub waiting_on: Option<WaitingOn>,
}

impl Decision {
    fn allow(reason: Reason) -> Self {
        Self {
            allowed: true,
            reason,
            mode: None,
            message: None,
            warnings: Vec::new(),
            images: Vec::new(),
            break_glass: None,
            waiting_on: None,
        }
    }

    /// 403 for a denial.
    pub fn status_code(&self) -> Option<u16> {
        (!self.allowed).then_some(403)
    }

    /// Digests whose verification the decision waits for (see [`WaitingOn`]).
    pub fn pending_digests(&self) -> &[Digest] {
        self.waiting_on
            .as_ref()
            .map_or(&[], |waiting| waiting.digests.as_slice())
    }

    /// Whether deciding again after the index changed may give another answer.
    pub fn is_final(&self) -> bool {
        self.waiting_on.is_none()
    }

    /// What discovery should look for: each image that has no proof and that a discovering
    /// issuer covers, with the ProofVerification to create. Empty unless enforcing or warning.
    pub fn discoveries(&self) -> impl Iterator<Item = (&ImageVerdict, &Discovery)> {
        self.images.iter().filter_map(|v| match &v.outcome {
            ImageOutcome::ProofMissing {
                discovery: Some(d), ..
            } => Some((v, d)),
            _ => None,
        })
    }
}

/// Decides a review. `now` is unix seconds. Never panics, and costs a few hash lookups per
/// image.
pub fn decide(request: &ReviewRequest, index: &Index, config: &Config, now: i64) -> Decision {
    let workload = match &request.target {
        Target::Untouched(_) => return Decision::allow(Reason::NotApplicable),
        Target::Workload(workload) => workload,
    };
    let namespace = workload.namespace.as_str();
    if config.is_exempt(namespace) {
        return Decision::allow(Reason::Exempt);
    }
    let (mode, enforcing) = match gate(namespace, index) {
        Gate::Checked(mode, enforcing) => (mode, enforcing),
        Gate::NotGated => return Decision::allow(Reason::NotGated),
        Gate::InvalidLabel(value) => return invalid_label(namespace, value),
    };
    let images: Vec<ImageVerdict> = workload
        .containers
        .iter()
        .map(|container| ImageVerdict {
            container: container.clone(),
            outcome: verdict::judge(container, namespace, index, config, now),
        })
        .collect();
    let failures = sorted_failures(&images);
    let break_glass = BreakGlassAnnotation::read(workload);
    let answer = match failures.iter().map(|v| v.outcome.reason()).min() {
        None => all_usable(&break_glass),
        Some(reason) if mode == Mode::Warn => warn(reason, &failures),
        Some(reason) => enforce(
            reason,
            workload,
            &failures,
            enforcing,
            &break_glass,
            config,
            request.dry_run,
        ),
    };
    // Warn mode never waits: the images are admitted either way, and waiting would only delay
    // the caller to tidy a warning.
    let waiting = WaitingOn {
        digests: pending_digests(&failures),
        namespace: matches!(enforcing, Enforcing::Assumed).then(|| namespace.to_string()),
    };
    let waiting_on =
        (mode == Mode::Enforce && !failures.is_empty() && !waiting.is_empty()).then_some(waiting);
    Decision {
        allowed: answer.allowed,
        reason: answer.reason,
        mode: Some(mode),
        message: answer.message,
        warnings: bounded_warnings(answer.warnings),
        images,
        break_glass: answer.break_glass,
        waiting_on,
    }
}

/// How the workload's namespace is gated.
enum Gate<'i> {
    Checked(Mode, Enforcing),
    NotGated,
    InvalidLabel(&'i str),
}

fn gate<'i>(namespace: &str, index: &'i Index) -> Gate<'i> {
    match index.enforcement(namespace) {
        Some(Enforcement::Enforce) => Gate::Checked(Mode::Enforce, Enforcing::ByLabel),
        Some(Enforcement::Warn) => Gate::Checked(Mode::Warn, Enforcing::ByLabel),
        // The webhook's namespaceSelector sends only labelled namespaces, so an unknown one is
        // one the index has not caught up with. Guessing `warn` could let images into an
        // enforcing namespace; the decision waits for the namespace instead.
        None => Gate::Checked(Mode::Enforce, Enforcing::Assumed),
        Some(Enforcement::NotGated) => Gate::NotGated,
        Some(Enforcement::Invalid(value)) => Gate::InvalidLabel(value),
    }
}

fn invalid_label(namespace: &str, value: &str) -> Decision {
    let mut decision = Decision::allow(Reason::EnforcementLabelInvalid);
    decision.warnings.push(bounded_line(
        &format!(
            "attestor: namespace {namespace} has {ENFORCEMENT_LABEL}={value:?}, which is neither enforce nor warn: images are not checked"
        ),
        message::MAX_WARNING_BYTES,
    ));
    decision
}

/// The images without a usable proof, by container name first: names are unique within a
/// Pod, so the order of the Pod spec does not show in messages.
fn sorted_failures(images: &[ImageVerdict]) -> Vec<&ImageVerdict> {
    let mut failures: Vec<&ImageVerdict> = images
        .iter()
        .filter(|verdict| !verdict.outcome.is_verified())
        .collect();
    failures.sort_by(|a, b| {
        let (a, b) = (&a.container, &b.container);
        (&a.name, a.list, &a.image).cmp(&(&b.name, b.list, &b.image))
    });
    failures
}

/// The parts of a decision that depend on the mode.
struct Answer {
    allowed: bool,
    reason: Reason,
    message: Option<String>,
    warnings: Vec<String>,
    break_glass: Option<BreakGlassUse>,
}

fn all_usable(break_glass: &BreakGlassAnnotation<'_>) -> Answer {
    let mut warnings = Vec::new();
    if !matches!(break_glass, BreakGlassAnnotation::Absent) {
        warnings.push(format!(
            "attestor: every image has a usable proof, so the {BREAK_GLASS_ANNOTATION} annotation is not needed: remove it"
        ));
    }
    Answer {
        allowed: true,
        reason: Reason::Allowed,
        message: None,
        warnings,
        break_glass: None,
    }
}

fn warn(reason: Reason, failures: &[&ImageVerdict]) -> Answer {
    Answer {
        allowed: true,
        reason,
        message: None,
        warnings: failures
            .iter()
            .filter_map(|verdict| warning_line("warn", verdict))
            .collect(),
        break_glass: None,
    }
}

fn enforce(
    reason: Reason,
    workload: &Workload,
    failures: &[&ImageVerdict],
    enforcing: Enforcing,
    break_glass: &BreakGlassAnnotation<'_>,
    config: &Config,
    dry_run: bool,
) -> Answer {
    let note = match (break_glass, config.break_glass_allowed()) {
        (BreakGlassAnnotation::Requested(why), true) => {
            return break_glass_used(reason, failures, why, dry_run);
        }
        (BreakGlassAnnotation::Absent, _) => None,
        (_, false) => Some(format!(
            "break-glass is disabled in this cluster: the {BREAK_GLASS_ANNOTATION} annotation has no effect"
        )),
        (BreakGlassAnnotation::Empty, true) => Some(format!(
            "the {BREAK_GLASS_ANNOTATION} annotation is empty: its value must say why the images are admitted"
        )),
        (BreakGlassAnnotation::OnWorkloadOnly, true) => Some(format!(
            "the {BREAK_GLASS_ANNOTATION} annotation must be on the Pod template (spec.template.metadata.annotations), which every Pod carries, not on the {} itself",
            workload.kind.as_str()
        )),
    };
    Answer {
        allowed: false,
        reason,
        message: Some(denial(workload, failures, enforcing, note.as_slice())),
        warnings: Vec::new(),
        break_glass: None,
    }
}

fn break_glass_used(
    overridden: Reason,
    failures: &[&ImageVerdict],
    why: &str,
    dry_run: bool,
) -> Answer {
    let why = bounded_line(why, MAX_BREAK_GLASS_REASON_BYTES);
    let mut warnings = vec![bounded_line(
        &format!(
            "attestor (break-glass): {} image(s) admitted without a usable proof because {BREAK_GLASS_ANNOTATION} says: {why}",
            failures.len()
        ),
        message::MAX_WARNING_BYTES,
    )];
    warnings.extend(
        failures
            .iter()
            .filter_map(|verdict| warning_line("break-glass", verdict)),
    );
    Answer {
        allowed: true,
        reason: Reason::BreakGlass,
        message: None,
        warnings,
        break_glass: Some(BreakGlassUse {
            reason: why,
            overridden,
            record: !dry_run,
        }),
    }
}

/// The digests to wait for, when every failure is a pending proof: if anything else is wrong
/// the denial stands whatever the verifications conclude.
fn pending_digests(failures: &[&ImageVerdict]) -> Vec<Digest> {
    let mut digests = Vec::new();
    for verdict in failures {
        match &verdict.outcome {
            // Not a digest discovery is only now asked for: the request that starts discovery
            // is answered at once (it names the proof to wait for); the proof, once created,
            // is Pending, and requests then wait for it (`--admission-wait`).
            ImageOutcome::Pending { digest, .. } => digests.push(*digest),
            _ => return Vec::new(),
        }
    }
    digests.sort_unstable();
    digests.dedup();
    digests
}

/// What the workload says about break-glass.
enum BreakGlassAnnotation<'w> {
    Absent,
    Requested(&'w str),
    Empty,
    /// On the workload's own metadata, where its Pods do not inherit it from.
    OnWorkloadOnly,
}

impl<'w> BreakGlassAnnotation<'w> {
    fn read(workload: &'w Workload) -> Self {
        match workload
            .pod_metadata()
            .annotations
            .get(BREAK_GLASS_ANNOTATION)
        {
            Some(value) if value.trim().is_empty() => Self::Empty,
            Some(value) => Self::Requested(value.trim()),
            None if workload.template_metadata.is_some()
                && workload
                    .metadata
                    .annotations
                    .contains_key(BREAK_GLASS_ANNOTATION) =>
            {
                Self::OnWorkloadOnly
            }
            None => Self::Absent,
        }
    }
}
