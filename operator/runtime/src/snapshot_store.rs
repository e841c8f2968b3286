//! Snapshot stores by URL: the directory store of `attestor-score` for
//! `file://` URLs and plain paths, and [`HttpStore`] for `http(s)://` bases.
//!
//! Both have the layout of docs/scoring.md, section 15: `<base>/sha256/<hex>`
//! holds the canonical bytes of an input's normal form, `<base>/latest/<kind>`
//! the text `sha256:<hex>` of the latest input of a kind. [`open_store`] is what
//! the CLI (`attestor replay --store`) and the ReplayJob controller call.

use std::future::Future;
use std::path::PathBuf;

use attestor_core::digest::Sha256Digest;
use attestor_score::InputKind;
use attestor_score::store::{
    DirStore, SnapshotStore, StoreError, object_path, parse_pointer, pointer_path,
};

use crate::fetch::{FetchConfig, FetchError, FetchExpect, Fetcher};

/// The largest object fetched from an HTTP store: a whole advisory feed
/// snapshot must fit. 256 MiB.
pub const MAX_OBJECT_BYTES: u64 = 256 * 1024 * 1024;
/// The largest `latest/<kind>` pointer accepted (it is 72 bytes or so).
pub const MAX_POINTER_BYTES: u64 = 1024;
/// Named in fetch errors: where the store URL came from.
pub const STORE_FIELD: &str = "the snapshot store URL";

/// A read-only snapshot store over HTTP(S), fetched with the runtime
/// [`Fetcher`] (size limits, timeouts, retries, and the object's digest as
/// the fetch's SHA-256 pin).
#[derive(Debug, Clone)]
pub struct HttpStore {
    base: String,
    fetcher: Fetcher,
    max_object_bytes: u64,
}

impl HttpStore {
    /// A store at `base` (an `http://` or `https://` URL; a trailing `/` is
    /// dropped). The URL itself is checked by the fetcher on first use.
    pub fn new(base: &str, fetcher: Fetcher) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            fetcher,
            max_object_bytes: MAX_OBJECT_BYTES,
        }
    }

    /// Lowers (or raises) the size limit of objects.
    pub fn with_max_object_bytes(mut self, max: u64) -> Self {
        self.max_object_bytes = max;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    async fn get_object(&self, digest: Sha256Digest) -> Result<Vec<u8>, StoreError> {
        let url = self.url(&object_path(&digest));
        let expect = FetchExpect::new(self.max_object_bytes)
            .with_digest(digest)
            .for_field(STORE_FIELD);
        match self.fetcher.fetch(&url, expect).await {
            Ok(fetched) => Ok(fetched.bytes),
            Err(FetchError::Http {
                status: 404 | 410, ..
            }) => Err(StoreError::NotFound { digest }),
            Err(FetchError::DigestMismatch { actual, .. }) => Err(StoreError::DigestMismatch {
                expected: digest,
                actual,
            }),
            Err(e) => Err(unavailable(&url, &e)),
        }
    }

    async fn get_latest(&self, kind: InputKind) -> Result<Sha256Digest, StoreError> {
        let url = self.url(&pointer_path(kind));
        let expect = FetchExpect::new(MAX_POINTER_BYTES).for_field(STORE_FIELD);
        match self.fetcher.fetch(&url, expect).await {
            Ok(fetched) => parse_pointer(kind, &fetched.bytes),
            Err(FetchError::Http {
                status: 404 | 410, ..
            }) => Err(StoreError::NoLatest { kind }),
            Err(e) => Err(unavailable(&url, &e)),
        }
    }
}

fn unavailable(url: &str, error: &FetchError) -> StoreError {
    StoreError::Unavailable {
        location: url.to_string(),
        message: error.to_string(),
        transient: error.is_transient(),
    }
}

impl SnapshotStore for HttpStore {
    fn get(
        &self,
        digest: &Sha256Digest,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send {
        self.get_object(*digest)
    }

    fn latest(
        &self,
        kind: InputKind,
    ) -> impl Future<Output = Result<Sha256Digest, StoreError>> + Send {
        self.get_latest(kind)
    }

    /// HTTP stores are read-only here: whatever publishes the feed writes them.
    fn put(
        &self,
        kind: InputKind,
        _bytes: &[u8],
    ) -> impl Future<Output = Result<Sha256Digest, StoreError>> + Send {
        std::future::ready(Err(StoreError::Unavailable {
            location: self.url(&pointer_path(kind)),
            message: "HTTP snapshot stores are read-only; write to a directory store (file://) \
                      and serve it"
                .into(),
            transient: false,
        }))
    }
}

/// A store opened by [`open_store`].
#[derive(Debug, Clone)]
pub enum Store {
    Dir(DirStore),
    Http(HttpStore),
}

impl Store {
    /// Where the store is, for messages: the directory or the base URL.
    pub fn location(&self) -> String {
        match self {
            Store::Dir(s) => s.root().display().to_string(),
            Store::Http(s) => s.base().to_string(),
        }
    }
}

impl SnapshotStore for Store {
    async fn get(&self, digest: &Sha256Digest) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Dir(s) => s.get_sync(digest),
            Store::Http(s) => s.get_object(*digest).await,
        }
    }

    async fn latest(&self, kind: InputKind) -> Result<Sha256Digest, StoreError> {
        match self {
            Store::Dir(s) => s.latest_sync(kind),
            Store::Http(s) => s.get_latest(kind).await,
        }
    }

    async fn put(&self, kind: InputKind, bytes: &[u8]) -> Result<Sha256Digest, StoreError> {
        match self {
            Store::Dir(s) => s.put_sync(kind, bytes),
            Store::Http(s) => s.put(kind, bytes).await,
        }
    }
}

/// A store URL that cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenStoreError {
    #[error(
        "snapshot store {url:?}: scheme \"{scheme}\" is not supported: give file:///dir, a directory path, or an http(s):// URL"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("snapshot store {url:?}: {detail}")]
    InvalidUrl { url: String, detail: String },
    #[error("snapshot store {url:?}: {detail}")]
    Setup { url: String, detail: String },
}

/// Opens the store at `url`: `file:///dir` or a plain path (a [`DirStore`],
/// nothing is created until the first put), or an `http://` / `https://`
/// base (an [`HttpStore`] with a default [`Fetcher`] that denies no network: this is
/// the command line's entry, where the user fetches a URL they typed with their own
/// network identity; the operator passes its own fetcher, with its network policy, to
/// [`open_store_with`]).
pub fn open_store(url: &str) -> Result<Store, OpenStoreError> {
    open_store_with(url, None)
}

/// [`open_store`], sharing `fetcher` (and its connection pool) for HTTP stores.
pub fn open_store_with(url: &str, fetcher: Option<&Fetcher>) -> Result<Store, OpenStoreError> {
    let invalid = |detail: &str| OpenStoreError::InvalidUrl {
        url: url.to_string(),
        detail: detail.to_string(),
    };
    if url.is_empty() {
        return Err(invalid("is empty"));
    }
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(Store::Dir(DirStore::new(PathBuf::from(url))));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
            let path = parsed.to_file_path().map_err(|()| {
                invalid("a file:// URL must be file:///absolute/path (no host, no query)")
            })?;
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(invalid("a file:// URL must not have a query or fragment"));
            }
            Ok(Store::Dir(DirStore::new(path)))
        }
        "http" | "https" => {
            let fetcher = match fetcher {
                Some(f) => f.clone(),
                None => {
                    let config = FetchConfig {
                        denied_networks: Vec::new(),
                        ..FetchConfig::default()
                    };
                    Fetcher::new(config).map_err(|e| OpenStoreError::Setup {
                        url: url.to_string(),
                        detail: e.to_string(),
                    })?
                }
            };
            Ok(Store::Http(HttpStore::new(url, fetcher)))
        }
        other => Err(OpenStoreError::UnsupportedScheme {
            url: url.to_string(),
            scheme: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_directories_by_path_and_file_url() {
        match open_store("/var/lib/snapshots").unwrap() {
            Store::Dir(s) => assert_eq!(s.root(), std::path::Path::new("/var/lib/snapshots")),
            other => panic!("{other:?}"),
        }
        match open_store("file:///var/lib/snap%20shots").unwrap() {
            Store::Dir(s) => assert_eq!(s.root(), std::path::Path::new("/var/lib/snap shots")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open_store("file://host/dir"),
            Err(OpenStoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            open_store("s3://bucket/x"),
            Err(OpenStoreError::UnsupportedScheme { .. })
        ));
        assert!(open_store("").is_err());
    }
}
