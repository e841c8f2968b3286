//! Errors of reading the four scoring inputs.
//!
//! Every error names the input it is about, the RFC 6901 JSON pointer of the
//! offending value and what is wrong with it, so that an operator can fix the
//! document without reading this crate.

use std::fmt;

use attestor_core::canonical::CanonicalError;
use serde::Serialize;

use crate::number::NumberError;
use crate::purl::PurlError;
use crate::version::VersionError;

/// The four inputs of a scan, as `manifest.json` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    Sbom,
    Feed,
    Vex,
    Policy,
}

impl InputKind {
    pub const ALL: [InputKind; 4] = [
        InputKind::Sbom,
        InputKind::Feed,
        InputKind::Vex,
        InputKind::Policy,
    ];

    /// The name used by the snapshot store (`latest/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Sbom => "sbom",
            InputKind::Feed => "feed",
            InputKind::Vex => "vex",
            InputKind::Policy => "policy",
        }
    }

    /// The member of `manifest.json` `inputs` (and of the `inputs` node) holding its digest.
    pub fn manifest_member(self) -> &'static str {
        match self {
            InputKind::Feed => "feedSnapshot",
            other => other.name(),
        }
    }

    /// The inverse of [`InputKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Sbom => "SBOM",
            InputKind::Feed => "feed snapshot",
            InputKind::Vex => "VEX document",
            InputKind::Policy => "policy",
        })
    }
}

/// An input that cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not strict JSON (syntax, duplicate keys, numbers JCS cannot represent, …).
    #[error("{kind}: not valid JSON: {source}")]
    Json {
        kind: InputKind,
        source: CanonicalError,
    },
    /// Valid JSON that is not a valid document of its kind.
    #[error("{kind}: at {}: {reason}", where_text(.pointer))]
    Invalid {
        kind: InputKind,
        /// RFC 6901 JSON pointer of the offending value (`""` is the whole document).
        pointer: String,
        reason: Reason,
    },
    /// Not a YAML document this crate reads (syntax, duplicate keys, budget).
    #[error("{kind}: not valid YAML: {message}")]
    Yaml { kind: InputKind, message: String },
    /// A document of a format that is recognised but not read.
    #[error("{kind}: {format} is not supported: {hint}")]
    Unsupported {
        kind: InputKind,
        format: &'static str,
        hint: &'static str,
    },
    /// One file of a feed container (a directory or a ZIP of OSV files):
    /// `error` points into that file.
    #[error("{}", in_file(.file, .error))]
    InFile {
        /// The file's path relative to the directory, or its ZIP entry name.
        file: String,
        error: Box<InputError>,
    },
    /// A feed container that cannot be read as a whole.
    #[error("{kind}: {problem}")]
    Container {
        kind: InputKind,
        problem: ContainerError,
    },
}

impl InputError {
    pub fn kind(&self) -> InputKind {
        match self {
            InputError::Json { kind, .. }
            | InputError::Invalid { kind, .. }
            | InputError::Yaml { kind, .. }
            | InputError::Unsupported { kind, .. }
            | InputError::Container { kind, .. } => *kind,
            InputError::InFile { error, .. } => error.kind(),
        }
    }

    /// The file of a feed container the error is about, if it is about one.
    pub fn file(&self) -> Option<&str> {
        match self {
            InputError::InFile { file, .. } => Some(file),
            _ => None,
        }
    }
}

/// `feed snapshot: file "a.json": at /id: …`: the kind first, as for every input error.
fn in_file(file: &str, error: &InputError) -> String {
    let kind = error.kind();
    let inner = error.to_string();
    let detail = inner
        .strip_prefix(&format!("{kind}: "))
        .unwrap_or(&inner)
        .to_string();
    format!("{kind}: file {file:?}: {detail}")
}

/// Why a feed container (directory or ZIP) as a whole is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    #[error("not a readable ZIP archive: {0}")]
    Zip(attestor_core::zip::ZipError),
    #[error("has more than {limit} advisory files")]
    TooManyFiles { limit: usize },
    #[error("file {file:?} has {size} bytes, more than the {limit}-byte limit per file")]
    FileTooLarge { file: String, size: u64, limit: u64 },
    #[error("the advisory files add up to more than the {limit}-byte limit ({file:?} is over it)")]
    TotalTooLarge { file: String, limit: u64 },
    #[error("{file:?} is a symbolic link to {target:?}, outside the feed directory")]
    SymlinkEscapes { file: String, target: String },
    #[error(
        "{file:?} leads to the directory {target:?} a second time (a symbolic link loop or alias)"
    )]
    DirectoryRepeated { file: String, target: String },
    #[error("directories nest deeper than {limit} levels at {file:?}")]
    TooDeep { file: String, limit: usize },
    #[error("cannot {operation} {file:?}: {message}")]
    Io {
        operation: &'static str,
        file: String,
        message: String,
    },
    #[error("advisory {id:?} is in both {first:?} and {second:?}")]
    DuplicateAdvisory {
        id: String,
        first: String,
        second: String,
    },
    #[error("holds no advisory file (*.json, *.yaml or *.yml)")]
    NoAdvisories,
}

fn where_text(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the document root"
    } else {
        pointer
    }
}

/// What is wrong with one value of an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("missing required member {member:?}")]
    Missing { member: &'static str },
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("must not be empty")]
    Empty,
    #[error("unknown member {member:?} (allowed: {allowed})")]
    UnknownMember {
        member: String,
        allowed: &'static str,
    },
    #[error("{value:?} is not one of {expected}")]
    UnknownValue {
        value: String,
        expected: &'static str,
    },
    #[error("invalid package URL {text:?}: {error}")]
    Purl { text: String, error: PurlError },
    #[error("invalid CVSS base score {text}: {error}")]
    Cvss { text: String, error: NumberError },
    #[error("invalid integer {text}: {error}")]
    Integer { text: String, error: NumberError },
    #[error("invalid {scheme} version {text:?}: {error}")]
    Version {
        scheme: &'static str,
        text: String,
        error: VersionError,
    },
    #[error("duplicate {what} {value:?} (first at {first})")]
    Duplicate {
        what: &'static str,
        value: String,
        first: String,
    },
    #[error("invalid RFC 3339 timestamp {text:?}: {error}")]
    Timestamp { text: String, error: String },
    /// A rule about how members combine, stated in full.
    #[error("{0}")]
    Rule(&'static str),
}
