//! Content-addressed snapshot stores: where replays fetch the inputs a
//! manifest names, and the latest ones.
//!
//! Layout (the same for a directory and for HTTP, see docs/scoring.md):
//! `<base>/sha256/<hex>` holds the canonical JSON bytes whose SHA-256 is
//! `<hex>`, and `<base>/latest/<kind>` holds the text `sha256:<hex>` of the
//! latest object of that kind.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use attestor_core::bundle::ManifestInputs;
use attestor_core::canonical::{self, CanonicalError};
use attestor_core::digest::Sha256Digest;

use crate::error::{InputError, InputKind};
use crate::inputs::{ScoringInputs, container};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the store has no object {digest}")]
    NotFound { digest: Sha256Digest },
    #[error("the store's object {expected} is corrupt: its bytes hash to {actual}")]
    DigestMismatch {
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
    #[error("the store has no latest {kind}")]
    NoLatest { kind: InputKind },
    #[error("the store's latest/{} pointer is not a digest: {content:?}", .kind.name())]
    BadPointer { kind: InputKind, content: String },
    #[error("refusing to store the {kind}: not valid JSON: {source}")]
    NotJson {
        kind: InputKind,
        source: CanonicalError,
    },
    /// A feed in another form than one JSON document (a ZIP, YAML, an array,
    /// one advisory) that cannot be assembled into a feed document.
    #[error("refusing to store the {kind}: {source}")]
    NotAssembled {
        kind: InputKind,
        source: Box<InputError>,
    },
    #[error("{operation} {}: {message}", .path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        message: String,
    },
    /// For stores elsewhere (HTTP): the backend could not be reached or refused.
    #[error("store {location}: {message}")]
    Unavailable {
        location: String,
        message: String,
        transient: bool,
    },
}

/// A content-addressed store of input snapshots.
///
/// `get` must return exactly the bytes whose SHA-256 is `digest`
/// ([`verify_object`] checks that); `put` stores the canonical JSON form of
/// `bytes` under its content id, then points `latest/<kind>` at it.
pub trait SnapshotStore {
    fn get(
        &self,
        digest: &Sha256Digest,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    fn latest(
        &self,
        kind: InputKind,
    ) -> impl Future<Output = Result<Sha256Digest, StoreError>> + Send;

    fn put(
        &self,
        kind: InputKind,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Sha256Digest, StoreError>> + Send;
}

/// Checks that `bytes` are the object `digest` names.
pub fn verify_object(digest: &Sha256Digest, bytes: &[u8]) -> Result<(), StoreError> {
    let actual = Sha256Digest::of(bytes);
    if actual == *digest {
        Ok(())
    } else {
        Err(StoreError::DigestMismatch {
            expected: *digest,
            actual,
        })
    }
}

/// Reads the text of a `latest/<kind>` pointer: `sha256:<hex>`, optionally
/// followed by one line break.
pub fn parse_pointer(kind: InputKind, text: &[u8]) -> Result<Sha256Digest, StoreError> {
    let bad = || StoreError::BadPointer {
        kind,
        content: String::from_utf8_lossy(text).chars().take(100).collect(),
    };
    let text = std::str::from_utf8(text).map_err(|_| bad())?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    text.parse().map_err(|_| bad())
}

/// The relative URL path (or file path) of an object: `sha256/<hex>`.
pub fn object_path(digest: &Sha256Digest) -> String {
    format!("sha256/{}", digest.hex())
}

/// The relative URL path (or file path) of a pointer: `latest/<kind>`.
pub fn pointer_path(kind: InputKind) -> String {
    format!("latest/{}", kind.name())
}

/// The bytes `put` stores, and their digest: the canonical JSON of the
/// document's normal form ([`crate::normalize`]), so that the digest is the
/// document's content id. A feed in another form (a ZIP or YAML of OSV files,
/// a bare array, one advisory) is stored as its assembled feed document
/// ([`crate::inputs::container`]), whose content id is the snapshot's.
pub fn canonical_object(
    kind: InputKind,
    bytes: &[u8],
) -> Result<(Vec<u8>, Sha256Digest), StoreError> {
    let assembled = |snapshot: Result<container::FeedSnapshot, InputError>| {
        let snapshot = snapshot.map_err(|e| StoreError::NotAssembled {
            kind,
            source: Box::new(e),
        })?;
        let digest = snapshot.feed.digest;
        snapshot
            .assembled
            .map(|bytes| (bytes, digest))
            .ok_or(StoreError::NotAssembled {
                kind,
                source: Box::new(InputError::Unsupported {
                    kind,
                    format: "this feed form",
                    hint: "give a feed document, an array or advisory files",
                }),
            })
    };
    let limits = container::FeedLimits::default();
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if kind == InputKind::Feed && first.is_some_and(|b| *b != b'{') {
        return assembled(container::load_bytes(bytes, &limits));
    }
    let not_json = |source| StoreError::NotJson { kind, source };
    let value = canonical::parse_strict(bytes).map_err(not_json)?;
    if kind == InputKind::Feed && container::is_one_advisory(&value) {
        return assembled(container::load_value(value, false));
    }
    let canonical = crate::normalize::normal_bytes(kind, &value).map_err(not_json)?;
    let digest = Sha256Digest::of(&canonical);
    Ok((canonical, digest))
}

/// A store in a local directory (a `file://` store URL).
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

/// Makes temporary file names unique within the process; the pid makes them
/// unique across processes sharing the directory.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DirStore {
    /// A store rooted at `root`. Nothing is created until the first `put`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// [`SnapshotStore::get`], synchronously.
    pub fn get_sync(&self, digest: &Sha256Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.root.join(object_path(digest));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { digest: *digest });
            }
            Err(e) => return Err(io_error("cannot read", &path, &e)),
        };
        verify_object(digest, &bytes)?;
        Ok(bytes)
    }

    /// [`SnapshotStore::latest`], synchronously.
    pub fn latest_sync(&self, kind: InputKind) -> Result<Sha256Digest, StoreError> {
        let path = self.root.join(pointer_path(kind));
        match std::fs::read(&path) {
            Ok(text) => parse_pointer(kind, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NoLatest { kind })
            }
            Err(e) => Err(io_error("cannot read", &path, &e)),
        }
    }

    /// [`SnapshotStore::put`], synchronously. The object is written before the
    /// pointer, each to a temporary file renamed into place, so a reader never
    /// sees a partial file or a pointer to a missing object.
    pub fn put_sync(&self, kind: InputKind, bytes: &[u8]) -> Result<Sha256Digest, StoreError> {
        let (canonical, digest) = canonical_object(kind, bytes)?;
        let object = self.root.join(object_path(&digest));
        // An object already there is kept unless it is damaged: rewriting it repairs the store.
        let intact =
            std::fs::read(&object).is_ok_and(|bytes| verify_object(&digest, &bytes).is_ok());
        if !intact {
            write_atomically(&object, &canonical)?;
        }
        let pointer = self.root.join(pointer_path(kind));
        write_atomically(&pointer, format!("{digest}\n").as_bytes())?;
        Ok(digest)
    }
}

impl SnapshotStore for DirStore {
    fn get(
        &self,
        digest: &Sha256Digest,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send {
        std::future::ready(self.get_sync(digest))
    }

    fn latest(
        &self,
        kind: InputKind,
    ) -> impl Future<Output = Result<Sha256Digest, StoreError>> + Send {
        std::future::ready(self.latest_sync(kind))
    }

    fn put(
        &self,
        kind: InputKind,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Sha256Digest, StoreError>> + Send {
        std::future::ready(self.put_sync(kind, bytes))
    }
}

fn io_error(operation: &'static str, path: &Path, error: &std::io::Error) -> StoreError {
    StoreError::Io {
        operation,
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, &e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file =
            std::fs::File::create(&temp).map_err(|e| io_error("cannot create", &temp, &e))?;
        file.write_all(bytes)
            .map_err(|e| io_error("cannot write", &temp, &e))?;
        // Durable before it becomes visible: a crash must not leave a named, empty object.
        file.sync_all()
            .map_err(|e| io_error("cannot sync", &temp, &e))?;
        std::fs::rename(&temp, path).map_err(|e| io_error("cannot rename into", path, &e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Which inputs a replay takes from the store's `latest` pointers instead of
/// the digests the manifest names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    pub latest_sbom: bool,
    pub latest_feed: bool,
    pub latest_vex: bool,
    pub latest_policy: bool,
}

impl Selection {
    /// Everything as the manifest names it: checks reproducibility.
    pub const ORIGINAL: Selection = Selection {
        latest_sbom: false,
        latest_feed: false,
        latest_vex: false,
        latest_policy: false,
    };
    /// The latest feed with the original SBOM, VEX and policy: finds drift from new advisories.
    pub const LATEST_FEED: Selection = Selection {
        latest_feed: true,
        ..Selection::ORIGINAL
    };

    fn latest(&self, kind: InputKind) -> bool {
        match kind {
            InputKind::Sbom => self.latest_sbom,
            InputKind::Feed => self.latest_feed,
            InputKind::Vex => self.latest_vex,
            InputKind::Policy => self.latest_policy,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Input(#[from] InputError),
    /// The bytes hash to the digest but are not the canonical JSON of the
    /// document's normal form, so its content id (what manifests name) is another.
    #[error(
        "the store's {kind} {digest} is not in normal form (canonical JSON with unordered arrays sorted; its content id is {content_id})"
    )]
    NotCanonical {
        kind: InputKind,
        digest: Sha256Digest,
        content_id: Sha256Digest,
    },
}

/// Fetches and parses the inputs of a replay: each as `manifest` names it, or
/// the store's latest where `selection` says so.
pub async fn load_inputs<S: SnapshotStore>(
    store: &S,
    manifest: &ManifestInputs,
    selection: Selection,
) -> Result<ScoringInputs, LoadError> {
    let mut documents = Vec::with_capacity(4);
    let mut digests = Vec::with_capacity(4);
    for kind in InputKind::ALL {
        let digest = if selection.latest(kind) {
            store.latest(kind).await?
        } else {
            digest_of(manifest, kind)
        };
        documents.push(store.get(&digest).await?);
        digests.push(digest);
    }
    let inputs = ScoringInputs::parse(&documents[0], &documents[1], &documents[2], &documents[3])?;
    let parsed = inputs.digests();
    for (kind, digest) in InputKind::ALL.into_iter().zip(digests) {
        let content_id = digest_of(&parsed, kind);
        if content_id != digest {
            return Err(LoadError::NotCanonical {
                kind,
                digest,
                content_id,
            });
        }
    }
    Ok(inputs)
}

fn digest_of(inputs: &ManifestInputs, kind: InputKind) -> Sha256Digest {
    match kind {
        InputKind::Sbom => inputs.sbom,
        InputKind::Feed => inputs.feed_snapshot,
        InputKind::Vex => inputs.vex,
        InputKind::Policy => inputs.policy,
    }
}
