//! The admitted object: which kinds have a Pod spec, where it sits in each, and its images.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ReviewError;
use super::json::{Field, Object};

/// The kinds whose Pod spec is checked. Other kinds are allowed untouched: whatever they
/// create is a Pod in the end, and Pods are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 7] = [
        Self::Pod,
        Self::Deployment,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::ReplicaSet,
        Self::Job,
        Self::CronJob,
    ];

    /// By API group and kind, whatever the version: every served version of these kinds keeps
    /// the Pod template at the same path, and with `matchPolicy: Equivalent` the API server may
    /// send any of them.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        Some(match (group, kind) {
            ("", "Pod") => Self::Pod,
            ("apps", "Deployment") => Self::Deployment,
            ("apps", "StatefulSet") => Self::StatefulSet,
            ("apps", "DaemonSet") => Self::DaemonSet,
            ("apps", "ReplicaSet") => Self::ReplicaSet,
            ("batch", "Job") => Self::Job,
            ("batch", "CronJob") => Self::CronJob,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
        }
    }

    /// The keys from the object to its Pod template; empty for a Pod, which is its own.
    fn template_path(self) -> &'static [&'static str] {
        match self {
            Self::Pod => &[],
            Self::Deployment
            | Self::StatefulSet
            | Self::DaemonSet
            | Self::ReplicaSet
            | Self::Job => &["spec", "template"],
            Self::CronJob => &["spec", "jobTemplate", "spec", "template"],
        }
    }
}

/// Which list of the Pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerList {
    Containers,
    InitContainers,
    EphemeralContainers,
}

impl ContainerList {
    pub const ALL: [ContainerList; 3] = [
        Self::Containers,
        Self::InitContainers,
        Self::EphemeralContainers,
    ];

    /// The field of the Pod spec.
    pub fn field(self) -> &'static str {
        match self {
            Self::Containers => "containers",
            Self::InitContainers => "initContainers",
            Self::EphemeralContainers => "ephemeralContainers",
        }
    }

    /// How messages call one of its containers.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Containers => "container",
            Self::InitContainers => "init container",
            Self::EphemeralContainers => "ephemeral container",
        }
    }
}

/// One container's image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerImage {
    pub list: ContainerList,
    pub name: String,
    pub image: String,
}

/// The metadata the decision reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// The object of a review whose kind has a Pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: String,
    /// The object's own metadata.
    pub metadata: ObjectMeta,
    /// The Pod template's metadata; `None` for a Pod.
    pub template_metadata: Option<ObjectMeta>,
    /// Every image of `containers`, `initContainers` and `ephemeralContainers`, in that order.
    pub containers: Vec<ContainerImage>,
}

impl Workload {
    /// The metadata every Pod of the workload carries: the template's, or the Pod's own. The
    /// break-glass annotation is read here, since only here does it reach the Pods that the
    /// workload's controller creates (which are checked again).
    pub fn pod_metadata(&self) -> &ObjectMeta {
        self.template_metadata.as_ref().unwrap_or(&self.metadata)
    }

    /// `Deployment shop/cart`, or `Pod shop/cart-7d9f-*` for a generated name.
    pub fn display_name(&self) -> String {
        let name = match (&self.metadata.name, &self.metadata.generate_name) {
            (Some(name), _) if !name.is_empty() => name.clone(),
            (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}*"),
            _ => "(unnamed)".to_string(),
        };
        format!("{} {}/{}", self.kind.as_str(), self.namespace, name)
    }
}

pub(super) fn read_workload(
    kind: WorkloadKind,
    namespace: String,
    object: Object<'_, '_>,
    max_containers: usize,
) -> Result<Workload, ReviewError> {
    let metadata = read_metadata(object.field("metadata"))?;
    let (template_metadata, containers) = at_path(object, kind.template_path(), &|template| {
        let template_metadata = match kind {
            WorkloadKind::Pod => None,
            _ => Some(read_metadata(template.field("metadata"))?),
        };
        let spec = template.field("spec").object()?;
        Ok((template_metadata, read_containers(spec, max_containers)?))
    })?;
    Ok(Workload {
        kind,
        namespace,
        metadata,
        template_metadata,
        containers,
    })
}

/// Walks `path` from `object` and hands the object there to `then`. Recursive because each
/// step's location borrows the previous one's.
fn at_path<T, F>(object: Object<'_, '_>, path: &[&str], then: &F) -> Result<T, ReviewError>
where
    F: Fn(Object<'_, '_>) -> Result<T, ReviewError>,
{
    match path.split_first() {
        None => then(object),
        Some((key, rest)) => at_path(object.field(key).object()?, rest, then),
    }
}

fn read_metadata(field: Field<'_, '_>) -> Result<ObjectMeta, ReviewError> {
    let Some(metadata) = field.optional_object()? else {
        return Ok(ObjectMeta::default());
    };
    Ok(ObjectMeta {
        name: metadata
            .field("name")
            .optional_string()?
            .map(str::to_string),
        generate_name: metadata
            .field("generateName")
            .optional_string()?
            .map(str::to_string),
        annotations: metadata.field("annotations").string_map()?,
        labels: metadata.field("labels").string_map()?,
    })
}

fn read_containers(
    spec: Object<'_, '_>,
    max_containers: usize,
) -> Result<Vec<ContainerImage>, ReviewError> {
    let containers = spec.field(ContainerList::Containers.field());
    let init = spec.field(ContainerList::InitContainers.field());
    let ephemeral = spec.field(ContainerList::EphemeralContainers.field());
    let lists: [(ContainerList, Field<'_, '_>, &[Value]); 3] = [
        (ContainerList::Containers, containers, containers.array()?),
        (
            ContainerList::InitContainers,
            init,
            init.optional_array()?.unwrap_or_default(),
        ),
        (
            ContainerList::EphemeralContainers,
            ephemeral,
            ephemeral.optional_array()?.unwrap_or_default(),
        ),
    ];
    // Counted before anything is copied, so that an oversized spec costs nothing more.
    let count: usize = lists.iter().map(|(_, _, items)| items.len()).sum();
    if count > max_containers {
        return Err(ReviewError::TooManyContainers {
            path: spec.at.render(),
            count,
            limit: max_containers,
        });
    }
    let mut images = Vec::with_capacity(count);
    for (list, field, items) in lists {
        for (index, item) in items.iter().enumerate() {
            let container = Field::new(item, field.at.index(index)).object()?;
            images.push(ContainerImage {
                list,
                name: container.field("name").non_empty_string()?.to_string(),
                image: container.field("image").non_empty_string()?.to_string(),
            });
        }
    }
    Ok(images)
}
