//! Reading an `admission.k8s.io/v1` AdmissionReview body into what the decision needs: who asks
//! (uid, operation, dry run), about what (kind, subresource, namespace), and the images of the
//! object's Pod spec with where each came from. Anything malformed is a [`MalformedReview`]
//! that says what is wrong and where.

mod json;
mod workload;

pub use workload::{ContainerImage, ContainerList, ObjectMeta, Workload, WorkloadKind};

use serde_json::Value;

use json::Object;

/// The API server's own default limit on a request body; a review wraps one object.
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Far above any real Pod (tens of containers at most) yet small enough to keep the work and
/// the message of one decision bounded.
pub const DEFAULT_MAX_CONTAINERS: usize = 256;

/// Bounds on what one review may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Over `containers`, `initContainers` and `ephemeralContainers` together.
    pub max_containers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_containers: DEFAULT_MAX_CONTAINERS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "CREATE" => Self::Create,
            "UPDATE" => Self::Update,
            "DELETE" => Self::Delete,
            "CONNECT" => Self::Connect,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
        }
    }
}

/// `request.kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// `request.resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersionResource {
    pub group: String,
    pub version: String,
    pub resource: String,
}

/// A well-formed review.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReviewRequest {
    /// Echoed in the response, which the API server matches by it.
    pub uid: String,
    pub operation: Operation,
    pub kind: GroupVersionKind,
    pub resource: Option<GroupVersionResource>,
    pub sub_resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// A dry run is decided the same way, but must have no side effects.
    pub dry_run: bool,
    pub target: Target,
}

/// What the decision looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Pod spec to check. For UPDATE this is the new object: see docs/admission.md.
    Workload(Box<Workload>),
    /// Nothing to check: allowed untouched.
    Untouched(Untouched),
}

/// Why a review is allowed without looking at its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untouched {
    /// DELETE and CONNECT run no new image.
    Operation(Operation),
    /// A kind without a Pod spec of its own.
    Kind,
    /// A subresource other than a Pod's `ephemeralcontainers` (`status`, `scale`, `binding`,
    /// `eviction`, `resize`…) cannot add an image.
    Subresource,
}

/// What is wrong with a review body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("the request body is {size} bytes, over the limit of {limit} bytes")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("the request body is not JSON: {0}")]
    NotJson(String),
    #[error("the request body is {found}, not apiVersion admission.k8s.io/v1 kind AdmissionReview")]
    NotAdmissionReview { found: String },
    #[error("{path} is missing")]
    Missing { path: String },
    #[error("{path} is empty")]
    Empty { path: String },
    #[error("{path} is not {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("{path} is {value:?}, not one of CREATE, UPDATE, DELETE, CONNECT")]
    UnknownOperation { path: String, value: String },
    #[error("{path} has {count} containers in all, over the limit of {limit}")]
    TooManyContainers {
        path: String,
        count: usize,
        limit: usize,
    },
}

/// A review that cannot be decided, and its uid when one could be read: with a uid the answer
/// is an AdmissionReview denying with code 400, without one only an HTTP error is possible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct MalformedReview {
    pub uid: Option<String>,
    pub error: ReviewError,
}

/// Parses and checks a review body. Nothing here allocates in proportion to the body beyond
/// the JSON tree itself, and the body is refused before parsing when over `limits`.
pub fn parse_review(body: &[u8], limits: &Limits) -> Result<ReviewRequest, MalformedReview> {
    if body.len() > limits.max_body_bytes {
        return Err(MalformedReview {
            uid: None,
            error: ReviewError::BodyTooLarge {
                size: body.len(),
                limit: limits.max_body_bytes,
            },
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| MalformedReview {
        uid: None,
        error: ReviewError::NotJson(e.to_string()),
    })?;
    read_review(&value, limits).map_err(|error| MalformedReview {
        uid: readable_uid(&value),
        error,
    })
}

/// The uid, if the body has one where a review keeps it, whatever else is wrong.
fn readable_uid(value: &Value) -> Option<String> {
    let uid = value.get("request")?.get("uid")?.as_str()?;
    (!uid.is_empty()).then(|| uid.to_string())
}

fn read_review(value: &Value, limits: &Limits) -> Result<ReviewRequest, ReviewError> {
    let body = Object::body(value)?;
    let api_version = body.field("apiVersion").optional_string()?;
    let kind = body.field("kind").optional_string()?;
    if (api_version, kind) != (Some("admission.k8s.io/v1"), Some("AdmissionReview")) {
        return Err(ReviewError::NotAdmissionReview {
            found: format!(
                "apiVersion {} kind {}",
                quoted_or_none(api_version),
                quoted_or_none(kind)
            ),
        });
    }
    let request = body.field("request").object()?;
    let uid = request.field("uid").non_empty_string()?.to_string();
    let operation_field = request.field("operation");
    let operation_text = operation_field.string()?;
    let operation =
        Operation::parse(operation_text).ok_or_else(|| ReviewError::UnknownOperation {
            path: operation_field.at.render(),
            value: crate::text::clip(operation_text, 40).into_owned(),
        })?;
    let kind = read_kind(request.field("kind").object()?)?;
    let resource = request
        .field("resource")
        .optional_object()?
        .map(read_resource)
        .transpose()?;
    let sub_resource = request
        .field("subResource")
        .optional_string()?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let namespace = request
        .field("namespace")
        .optional_string()?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let name = request
        .field("name")
        .optional_string()?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let dry_run = request.field("dryRun").optional_bool()?.unwrap_or(false);

    let target = match untouched(operation, &kind, sub_resource.as_deref()) {
        Ok(workload_kind) => {
            let namespace_field = request.field("namespace");
            // Every checked kind is namespaced, and the API server always says where.
            let namespace = namespace.clone().ok_or_else(|| ReviewError::Missing {
                path: namespace_field.at.render(),
            })?;
            let object = request.field("object").object()?;
            Target::Workload(Box::new(workload::read_workload(
                workload_kind,
                namespace,
                object,
                limits.max_containers,
            )?))
        }
        Err(untouched) => Target::Untouched(untouched),
    };
    Ok(ReviewRequest {
        uid,
        operation,
        kind,
        resource,
        sub_resource,
        namespace,
        name,
        dry_run,
        target,
    })
}

/// The kind to check, or why there is nothing to check. Decided before the object is read, so
/// that a DELETE (whose object is null) or an unrelated kind is never refused as malformed.
fn untouched(
    operation: Operation,
    kind: &GroupVersionKind,
    sub_resource: Option<&str>,
) -> Result<WorkloadKind, Untouched> {
    if matches!(operation, Operation::Delete | Operation::Connect) {
        return Err(Untouched::Operation(operation));
    }
    let workload_kind =
        WorkloadKind::from_group_kind(&kind.group, &kind.kind).ok_or(Untouched::Kind)?;
    match sub_resource {
        None => Ok(workload_kind),
        Some("ephemeralcontainers") if workload_kind == WorkloadKind::Pod => Ok(workload_kind),
        Some(_) => Err(Untouched::Subresource),
    }
}

fn read_kind(kind: Object<'_, '_>) -> Result<GroupVersionKind, ReviewError> {
    Ok(GroupVersionKind {
        // The core group is "", which some encoders omit.
        group: kind
            .field("group")
            .optional_string()?
            .unwrap_or_default()
            .to_string(),
        version: kind.field("version").string()?.to_string(),
        kind: kind.field("kind").non_empty_string()?.to_string(),
    })
}

fn read_resource(resource: Object<'_, '_>) -> Result<GroupVersionResource, ReviewError> {
    Ok(GroupVersionResource {
        group: resource
            .field("group")
            .optional_string()?
            .unwrap_or_default()
            .to_string(),
        version: resource
            .field("version")
            .optional_string()?
            .unwrap_or_default()
            .to_string(),
        resource: resource
            .field("resource")
            .optional_string()?
            .unwrap_or_default()
            .to_string(),
    })
}

fn quoted_or_none(text: Option<&str>) -> String {
    text.map_or_else(
        || "none".to_string(),
        |t| format!("{:?}", crate::text::clip(t, 60)),
    )
}
