//! The admission decision of the attestor webhook, as a pure domain: parse an
//! `admission.k8s.io/v1` AdmissionReview ([`parse_review`]), decide it against an in-memory
//! [`Index`] of ProofVerifications, TrustedIssuers and Namespaces ([`decide`]), and answer
//! ([`review_response`], or [`MalformedReview::reply`]). No Kubernetes client, no network and
//! no clock: the caller feeds the index from its watches and passes the time in.
//!
//! The rules, the namespace label, the break-glass annotation and the message catalogue are in
//! docs/admission.md.
//!
//! A webhook handler, in outline:
//!
//! ```
//! use attestor_admission::{Config, Index, Limits, Reply, decide, parse_review, review_response};
//!
//! fn handle(body: &[u8], index: &Index, config: &Config, now: i64) -> Reply {
//!     let request = match parse_review(body, &Limits::default()) {
//!         Ok(request) => request,
//!         // A review denying with 400 when the uid was readable, else an HTTP error.
//!         Err(malformed) => return malformed.reply(),
//!     };
//!     let decision = decide(&request, index, config, now);
//!     // While `!decision.is_final()`: wait (bounded) for `index.revision()` to move, then
//!     // decide again. Then count `decision.reason`, and record an Event for
//!     // `decision.break_glass` when its `record` is set.
//!     Reply::Review(review_response(&request.uid, &decision))
//! }
//!
//! let reply = handle(b"{}", &Index::new(), &Config::new("attestor-system"), 0);
//! assert!(matches!(reply, Reply::HttpError { status: 400, .. }));
//! ```

mod config;
mod decide;
mod digest;
mod index;
mod reference;
mod response;
mod review;
pub mod scope;
mod text;

pub use config::{ALWAYS_EXEMPT, Config};
pub use decide::{
    BREAK_GLASS_ANNOTATION, BreakGlassUse, Decision, Discovery, ImageOutcome, ImageVerdict, Mode,
    ProofRef, Reason, WaitingOn, decide, discovered_proof_name,
};
pub use digest::{Digest, DigestError};
pub use index::{
    ENFORCEMENT_LABEL, Enforcement, Index, Issuer, IssuerFacts, NamespaceFacts, VerificationFacts,
    Verified,
};
pub use reference::{ImageReference, NotPinned};
pub use response::{Reply, review_response};
pub use review::{
    ContainerImage, ContainerList, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONTAINERS,
    GroupVersionKind, GroupVersionResource, Limits, MalformedReview, ObjectMeta, Operation,
    ReviewError, ReviewRequest, Target, Untouched, Workload, WorkloadKind, parse_review,
};
