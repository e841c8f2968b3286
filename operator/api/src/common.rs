//! Field shapes shared by the kinds: durations, digests, references.

use kube::KubeSchema;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// Durations are written as one or more `<number><unit>` groups, units `ms`, `s`, `m`, `h`, `d`:
/// `90s`, `30m`, `24h`, `7d`, `1h30m`. No spaces, no signs, no fractions.
pub const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h|d))+$";

/// A content digest: `sha256:` and 64 lowercase hexadecimal digits.
pub const DIGEST_PATTERN: &str = r"^sha256:[a-f0-9]{64}$";

/// An artifact digest: `sha256:`, `sha384:` or `sha512:` and the digest in lowercase hex.
pub const ARTIFACT_DIGEST_PATTERN: &str =
    r"^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$";

/// An `http://` or `https://` URL without spaces.
pub const HTTP_URL_PATTERN: &str = r"^https?://[^\s]+$";

/// A Kubernetes object name (DNS subdomain).
pub const NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

/// A key of a ConfigMap or Secret.
pub const DATA_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";

/// A key in a ConfigMap (`data` or `binaryData`) or a Secret, in the object's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DataKeyRef {
    /// Name of the ConfigMap or Secret, in the same namespace as the referring object.
    #[schemars(length(min = 1, max = 253), regex(pattern = NAME_PATTERN))]
    pub name: String,
    /// Key whose value is read, e.g. `bundle.zip`.
    #[schemars(length(min = 1, max = 253), regex(pattern = DATA_KEY_PATTERN))]
    pub key: String,
}

/// A namespaced object by namespace and name (from a cluster-scoped object).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NamespacedRef {
    /// The object's namespace.
    #[schemars(length(min = 1, max = 63), regex(pattern = NAME_PATTERN))]
    pub namespace: String,
    /// The object's name.
    #[schemars(length(min = 1, max = 253), regex(pattern = NAME_PATTERN))]
    pub name: String,
}

/// A reference to a cluster-scoped object by name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// Name of the referenced object.
    #[schemars(length(min = 1, max = 253), regex(pattern = NAME_PATTERN))]
    pub name: String,
}

/// Schema of an optional enum field: the enum's values, nullable, and no description of its own,
/// so that the field's doc comment is the description `kubectl explain` shows (the derived schema
/// of an `Option<Enum>` would carry the enum type's description instead).
pub(crate) fn optional_enum<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<T>();
    if let Some(reference) = schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .map(String::from)
    {
        let name = reference.rsplit('/').next().unwrap_or_default().to_string();
        if let Some(defined) = generator.definitions().get(&name) {
            schema = Schema::try_from(defined.clone()).expect("a schema");
        }
    }
    schema.remove("description");
    schema.remove("title");
    schema.insert("nullable".into(), true.into());
    schema
}
