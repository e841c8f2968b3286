//! Feed snapshots in the forms advisories are published in: one JSON feed
//! document (`{"advisories": [...]}`), a bare JSON array of advisories, one
//! advisory, or a directory or ZIP archive of OSV files (one advisory per
//! `.json`, `.yaml` or `.yml` file, as OSV's per-ecosystem `all.zip` exports
//! and PyPA's advisory-database are), each read under [`FeedLimits`].
//!
//! Every form but the feed document is **assembled** into the feed document
//! `{"advisories": [...]}` holding the same advisories: its content id is the
//! snapshot's address, and its canonical bytes are what a snapshot store keeps.
//! So the address depends on the advisories only, never on the container,
//! the file names or their order (docs/scoring.md, section 7).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Read as _;
use std::path::{Path as FsPath, PathBuf};

use attestor_core::canonical;
use attestor_core::digest::Sha256Digest;
use attestor_core::zip::{ZipLimits, read_zip};
use serde_json::Value;

use super::feed::{self, Advisory, Feed};
use crate::error::{ContainerError, InputError, InputKind};
use crate::json::Reader;

/// The per-advisory parser every file goes through (errors point into the file).
use feed::osv_advisory_from_value as parse_advisory;

const KIND: InputKind = InputKind::Feed;
const READER: Reader = Reader { kind: KIND };

/// Caps on what reading one feed container may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// Regular files in a directory (advisory files or not), entries of a ZIP.
    pub max_files: usize,
    /// Bytes of one file (of one ZIP entry, uncompressed).
    pub max_file_size: u64,
    /// Bytes of all advisory files together (of all ZIP entries, uncompressed).
    pub max_total_size: u64,
    /// Directory levels below the feed directory.
    pub max_depth: usize,
}

impl Default for FeedLimits {
    /// Room for a whole ecosystem's export (PyPI's is ~20,000 files, the
    /// largest ones a few hundred thousand) with single advisories of up to
    /// 16 MiB (kernel advisories list thousands of versions), while the
    /// parsed feed still fits a CLI's or a pod's memory.
    fn default() -> Self {
        Self {
            max_files: 1_000_000,
            max_file_size: 16 * 1024 * 1024,
            max_total_size: 2 * 1024 * 1024 * 1024,
            max_depth: 16,
        }
    }
}

impl FeedLimits {
    fn zip(&self) -> ZipLimits {
        ZipLimits {
            max_entries: self.max_files,
            max_entry_size: self.max_file_size,
            max_total_size: self.max_total_size,
        }
    }
}

/// How a snapshot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedForm {
    /// One JSON (or YAML) feed document with an `advisories` array.
    Document,
    /// A bare JSON (or YAML) array of advisories.
    Array,
    /// One advisory (an OSV file given on its own).
    Advisory,
    Directory,
    Zip,
}

/// A feed snapshot read from any of its forms.
#[derive(Debug, Clone)]
pub struct FeedSnapshot {
    pub feed: Feed,
    pub form: FeedForm,
    /// The canonical bytes of the assembled feed document (its SHA-256 is
    /// `feed.digest`), for every form but a JSON feed document, whose own
    /// bytes a snapshot store normalizes.
    pub assembled: Option<Vec<u8>>,
    /// Advisory files read (directories and ZIPs), or advisories (arrays).
    pub files: usize,
    /// Files of a directory or ZIP that are not advisory files (other
    /// extensions, hidden names, special files): skipped, and counted so that
    /// a wrong path is noticed.
    pub skipped: usize,
}

impl FeedSnapshot {
    /// What to put into a snapshot store: the assembled document, else the
    /// document as given.
    pub fn store_bytes<'a>(&'a self, original: &'a [u8]) -> &'a [u8] {
        self.assembled.as_deref().unwrap_or(original)
    }
}

/// Reads a snapshot from bytes: a ZIP archive, a JSON document (feed
/// document, array or advisory) or a YAML one.
pub fn load_bytes(bytes: &[u8], limits: &FeedLimits) -> Result<FeedSnapshot, InputError> {
    if is_zip(bytes) {
        return load_zip(bytes, limits);
    }
    let (value, yaml) = if looks_like_json(bytes) {
        (
            canonical::parse_strict(bytes)
                .map_err(|source| InputError::Json { kind: KIND, source })?,
            false,
        )
    } else {
        (yaml_value(bytes)?, true)
    };
    load_value(value, yaml)
}

/// Reads a snapshot from a path: a directory of OSV files, or a file that
/// [`load_bytes`] reads.
pub fn load_path(path: &FsPath, limits: &FeedLimits) -> Result<FeedSnapshot, InputError> {
    let meta = fs::metadata(path).map_err(|e| io("read", &path.display().to_string(), &e))?;
    if meta.is_dir() {
        return load_dir(path, limits);
    }
    let name = path.display().to_string();
    let bytes = read_bounded(path, &name, meta.len(), limits.max_total_size)?;
    load_bytes(&bytes, limits)
}

/// Whether a parsed JSON document is one OSV advisory rather than a feed
/// document: an object with `id` and without `advisories`.
pub fn is_one_advisory(value: &Value) -> bool {
    matches!(value, Value::Object(top) if top.contains_key("id") && !top.contains_key("advisories"))
}

/// Reads a snapshot from a parsed JSON (`yaml` false) or YAML document.
pub fn load_value(value: Value, yaml: bool) -> Result<FeedSnapshot, InputError> {
    let one_advisory = is_one_advisory(&value);
    match value {
        Value::Array(items) => {
            let mut files = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let advisory = read_advisory(item).map_err(|e| under_index(e, i))?;
                files.push((format!("/{i}"), advisory));
            }
            assemble(files, FeedForm::Array, 0)
        }
        value if one_advisory => {
            let advisory = read_advisory(value)?;
            assemble(vec![(String::new(), advisory)], FeedForm::Advisory, 0)
        }
        // Everything else is read as a feed document, and refused as one.
        value => {
            let digest = READER.content_id(&value)?;
            let feed = Feed::from_value(&value, digest)?;
            let assembled = if yaml {
                Some(
                    crate::normalize::normal_bytes(KIND, &value)
                        .map_err(|source| InputError::Json { kind: KIND, source })?,
                )
            } else {
                None
            };
            let files = feed.advisories.len();
            Ok(FeedSnapshot {
                feed,
                form: FeedForm::Document,
                assembled,
                files,
                skipped: 0,
            })
        }
    }
}

/// One advisory, parsed, with the canonical bytes of its normal form.
struct Read {
    advisory: Advisory,
    normal: Vec<u8>,
}

fn read_advisory(mut value: Value) -> Result<Read, InputError> {
    let advisory = parse_advisory(&value)?;
    let json = |source| InputError::Json { kind: KIND, source };
    if let Value::Object(object) = &mut value {
        crate::normalize::feed_advisory(object).map_err(json)?;
    }
    let normal = canonical::to_canonical_bytes(&value).map_err(json)?;
    Ok(Read { advisory, normal })
}

/// An error in element `i` of a bare array: its pointer, from the array.
fn under_index(error: InputError, i: usize) -> InputError {
    match error {
        InputError::Invalid {
            kind,
            pointer,
            reason,
        } => InputError::Invalid {
            kind,
            pointer: format!("/{i}{pointer}"),
            reason,
        },
        other => other,
    }
}

/// Checks that ids are unique and builds the feed and its assembled
/// document from advisories named by where they came from.
fn assemble(
    mut files: Vec<(String, Read)>,
    form: FeedForm,
    skipped: usize,
) -> Result<FeedSnapshot, InputError> {
    // Refused rather than resolved by `modified`: two files naming one id
    // mean a mirror caught mid-update or two sources merged by hand, and
    // either choice would score something nobody published as one snapshot.
    files.sort_by(|a, b| a.1.advisory.id.cmp(&b.1.advisory.id).then(a.0.cmp(&b.0)));
    if let Some(pair) = files
        .windows(2)
        .find(|w| w[0].1.advisory.id == w[1].1.advisory.id)
    {
        return Err(InputError::Container {
            kind: KIND,
            problem: ContainerError::DuplicateAdvisory {
                id: pair[0].1.advisory.id.clone(),
                first: pair[0].0.clone(),
                second: pair[1].0.clone(),
            },
        });
    }
    let count = files.len();
    let mut normals: Vec<Vec<u8>> = Vec::with_capacity(count);
    let mut parsed = Vec::with_capacity(count);
    for (_, read) in files {
        normals.push(read.normal);
        parsed.push(read.advisory);
    }
    // The canonical bytes of the normal form of {"advisories": [...]}: one
    // member, whose array is sorted by its elements' canonical bytes.
    normals.sort_unstable();
    let size = normals.iter().map(|n| n.len() + 1).sum::<usize>() + 16;
    let mut document = Vec::with_capacity(size);
    document.extend_from_slice(b"{\"advisories\":[");
    for (i, normal) in normals.iter().enumerate() {
        if i > 0 {
            document.push(b',');
        }
        document.extend_from_slice(normal);
    }
    document.extend_from_slice(b"]}");
    let digest = Sha256Digest::of(&document);
    Ok(FeedSnapshot {
        feed: Feed::from_advisories(parsed, digest)?,
        form,
        assembled: Some(document),
        files: count,
        skipped,
    })
}

/// Whether a name is an advisory file, by its extension; `None` for other files.
fn advisory_format(name: &str) -> Option<bool> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Some(false)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(true)
    } else {
        None
    }
}

/// Hidden files and directories (`.git`, editors' and macOS's `._x.json`,
/// `__MACOSX`) are never advisories.
fn hidden(component: &str) -> bool {
    component.starts_with('.') || component == "__MACOSX"
}

/// Parses one advisory file; errors name the file.
fn read_file(name: &str, bytes: &[u8], yaml: bool) -> Result<Read, InputError> {
    let in_file = |error: InputError| InputError::InFile {
        file: name.to_string(),
        error: Box::new(error),
    };
    let value = if yaml {
        yaml_value(bytes).map_err(in_file)?
    } else {
        canonical::parse_strict(bytes)
            .map_err(|source| in_file(InputError::Json { kind: KIND, source }))?
    };
    read_advisory(value).map_err(in_file)
}

fn load_zip(bytes: &[u8], limits: &FeedLimits) -> Result<FeedSnapshot, InputError> {
    let entries = read_zip(bytes, &limits.zip()).map_err(|e| InputError::Container {
        kind: KIND,
        problem: ContainerError::Zip(e),
    })?;
    let mut files = Vec::new();
    let mut skipped = 0;
    for entry in entries {
        let format = advisory_format(&entry.name).filter(|_| !entry.name.split('/').any(hidden));
        match format {
            Some(yaml) => {
                let read = read_file(&entry.name, &entry.data, yaml)?;
                files.push((entry.name, read));
            }
            None => skipped += 1,
        }
    }
    if files.is_empty() {
        return Err(no_advisories());
    }
    assemble(files, FeedForm::Zip, skipped)
}

fn no_advisories() -> InputError {
    InputError::Container {
        kind: KIND,
        problem: ContainerError::NoAdvisories,
    }
}

/// State of one directory walk.
struct Walk<'l> {
    limits: &'l FeedLimits,
    root: PathBuf,
    visited: HashSet<PathBuf>,
    seen_files: usize,
    total: u64,
    files: Vec<(String, Read)>,
    skipped: usize,
}

fn load_dir(dir: &FsPath, limits: &FeedLimits) -> Result<FeedSnapshot, InputError> {
    let root = fs::canonicalize(dir).map_err(|e| io("resolve", &dir.display().to_string(), &e))?;
    let mut walk = Walk {
        limits,
        root: root.clone(),
        visited: HashSet::from([root.clone()]),
        seen_files: 0,
        total: 0,
        files: Vec::new(),
        skipped: 0,
    };
    walk.dir(&root, "", 0)?;
    if walk.files.is_empty() {
        return Err(no_advisories());
    }
    assemble(walk.files, FeedForm::Directory, walk.skipped)
}

impl Walk<'_> {
    /// Reads `path` (the directory `prefix` names, relative to the root) in
    /// name order, so that errors and limits are hit the same way every time.
    fn dir(&mut self, path: &FsPath, prefix: &str, depth: usize) -> Result<(), InputError> {
        if depth > self.limits.max_depth {
            return Err(container(ContainerError::TooDeep {
                file: prefix.to_string(),
                limit: self.limits.max_depth,
            }));
        }
        let shown = if prefix.is_empty() { "." } else { prefix };
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| io("list", shown, &e))? {
            let entry = entry.map_err(|e| io("list", shown, &e))?;
            // Names are held to be sorted: a directory of more entries than
            // files are allowed in all is refused before it is held.
            if names.len() >= self.limits.max_files {
                return Err(container(ContainerError::TooManyFiles {
                    limit: self.limits.max_files,
                }));
            }
            names.push(entry.file_name());
        }
        names.sort();
        for name in names {
            let text = name.to_string_lossy().into_owned();
            if hidden(&text) {
                // Counted, not walked: a `.git` directory is one skipped entry.
                self.skipped += 1;
                continue;
            }
            let relative = if prefix.is_empty() {
                text.clone()
            } else {
                format!("{prefix}/{text}")
            };
            let full = path.join(&name);
            let mut meta = fs::symlink_metadata(&full).map_err(|e| io("read", &relative, &e))?;
            let mut target = full.clone();
            if meta.file_type().is_symlink() {
                target = fs::canonicalize(&full).map_err(|e| io("resolve", &relative, &e))?;
                if !target.starts_with(&self.root) {
                    return Err(container(ContainerError::SymlinkEscapes {
                        file: relative,
                        target: target.display().to_string(),
                    }));
                }
                meta = fs::metadata(&target).map_err(|e| io("read", &relative, &e))?;
            }
            if meta.is_dir() {
                let canonical =
                    fs::canonicalize(&target).map_err(|e| io("resolve", &relative, &e))?;
                if !self.visited.insert(canonical.clone()) {
                    return Err(container(ContainerError::DirectoryRepeated {
                        file: relative,
                        target: canonical.display().to_string(),
                    }));
                }
                self.dir(&target, &relative, depth + 1)?;
                continue;
            }
            if !meta.is_file() {
                self.skipped += 1;
                continue;
            }
            self.seen_files += 1;
            if self.seen_files > self.limits.max_files {
                return Err(container(ContainerError::TooManyFiles {
                    limit: self.limits.max_files,
                }));
            }
            let Some(yaml) = advisory_format(&text) else {
                self.skipped += 1;
                continue;
            };
            if meta.len() > self.limits.max_file_size {
                return Err(container(ContainerError::FileTooLarge {
                    file: relative,
                    size: meta.len(),
                    limit: self.limits.max_file_size,
                }));
            }
            let bytes = read_bounded(&target, &relative, meta.len(), self.limits.max_file_size)?;
            self.total += bytes.len() as u64;
            if self.total > self.limits.max_total_size {
                return Err(container(ContainerError::TotalTooLarge {
                    file: relative,
                    limit: self.limits.max_total_size,
                }));
            }
            let read = read_file(&relative, &bytes, yaml)?;
            self.files.push((relative, read));
        }
        Ok(())
    }
}

/// Reads at most `limit` bytes of a file whose size was `expected`: a file
/// that grows while it is read is refused, not read without bound.
fn read_bounded(
    path: &FsPath,
    name: &str,
    expected: u64,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    let too_large = |size| {
        container(ContainerError::FileTooLarge {
            file: name.to_string(),
            size,
            limit,
        })
    };
    if expected > limit {
        return Err(too_large(expected));
    }
    let file = File::open(path).map_err(|e| io("open", name, &e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io("read", name, &e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// A YAML document as the JSON value it denotes, held to the same rules as
/// JSON input (the strict parser's nesting and integer limits), so that a YAML
/// advisory and its JSON rendering are the same advisory with the same address.
fn yaml_value(bytes: &[u8]) -> Result<Value, InputError> {
    let yaml = |message: String| InputError::Yaml {
        kind: KIND,
        message,
    };
    // serde-saphyr's defaults refuse duplicate keys, non-finite numbers and
    // alias bombs, and bound depth and node count.
    let value: Value = serde_saphyr::from_slice(bytes).map_err(|e| yaml(e.to_string()))?;
    let json = serde_json::to_vec(&value).map_err(|e| yaml(e.to_string()))?;
    canonical::parse_strict(&json).map_err(|source| InputError::Json { kind: KIND, source })
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// JSON documents start with `{` or `[` (after whitespace); anything else is
/// read as YAML, whose flow style is a superset that JSON input never needs.
fn looks_like_json(bytes: &[u8]) -> bool {
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[') | None
    ) || bytes.starts_with(b"\xEF\xBB\xBF")
}

fn container(problem: ContainerError) -> InputError {
    InputError::Container {
        kind: KIND,
        problem,
    }
}

fn io(operation: &'static str, file: &str, error: &std::io::Error) -> InputError {
    container(ContainerError::Io {
        operation,
        file: file.to_string(),
        message: error.to_string(),
    })
}
