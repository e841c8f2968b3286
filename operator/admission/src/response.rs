//! The AdmissionReview v1 response the API server expects back, as JSON bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::decide::{Decision, Reason};
use crate::review::{MalformedReview, ReviewError};
use crate::text::bounded_line;

/// Keeps a malformed-review message (which may quote a serde error) bounded.
const MAX_MALFORMED_MESSAGE_BYTES: usize = 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionReview<'a> {
    api_version: &'static str,
    kind: &'static str,
    response: AdmissionResponse<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionResponse<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    /// The API server adds these to the audit event, keyed `<webhook name>/<key>`, so an audit
    /// log says why each request was admitted or not.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    audit_annotations: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize)]
struct Status<'a> {
    code: u16,
    reason: &'static str,
    message: &'a str,
}

/// The response to a decided review (`uid` is [`crate::ReviewRequest::uid`]).
pub fn review_response(uid: &str, decision: &Decision) -> Vec<u8> {
    let mut audit_annotations = BTreeMap::from([("reason", decision.reason.as_str())]);
    if let Some(break_glass) = &decision.break_glass {
        audit_annotations.insert("break-glass", &break_glass.reason);
    }
    let status = decision.status_code().map(|code| Status {
        code,
        reason: "Forbidden",
        message: decision.message.as_deref().unwrap_or_default(),
    });
    encode(&AdmissionReview {
        api_version: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: AdmissionResponse {
            uid,
            allowed: decision.allowed,
            status,
            warnings: &decision.warnings,
            audit_annotations,
        },
    })
}

/// How to answer a review that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// HTTP 200 with this AdmissionReview body, which denies with code 400.
    Review(Vec<u8>),
    /// No uid could be read, so no AdmissionReview can answer: an HTTP error with this status
    /// (400, or 413 for a body over the limit) and text. The API server then applies the
    /// webhook's failurePolicy.
    HttpError { status: u16, message: String },
}

impl MalformedReview {
    pub fn reason(&self) -> Reason {
        Reason::Malformed
    }

    pub fn reply(&self) -> Reply {
        let message = bounded_line(
            &format!("attestor: malformed AdmissionReview: {}", self.error),
            MAX_MALFORMED_MESSAGE_BYTES,
        );
        let Some(uid) = &self.uid else {
            let status = match self.error {
                ReviewError::BodyTooLarge { .. } => 413,
                _ => 400,
            };
            return Reply::HttpError { status, message };
        };
        Reply::Review(encode(&AdmissionReview {
            api_version: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: AdmissionResponse {
                uid,
                allowed: false,
                status: Some(Status {
                    code: 400,
                    reason: "BadRequest",
                    message: &message,
                }),
                warnings: &[],
                audit_annotations: BTreeMap::from([("reason", Reason::Malformed.as_str())]),
            },
        }))
    }
}

fn encode(review: &AdmissionReview<'_>) -> Vec<u8> {
    // Strings, booleans, integers and string-keyed maps: serde_json cannot fail on them.
    serde_json::to_vec(review).expect("an AdmissionReview of strings always serializes")
}
