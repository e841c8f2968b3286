//! Issuer directories: the keys a `TrustedIssuer` publishes at its
//! `directory.url`, and a cache that never forgets good keys because a
//! server hiccuped. The format is in `docs/issuer-directory.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use attestor_core::canonical::{CanonicalError, parse_strict};
use attestor_core::digest::Sha256Digest;
use attestor_core::keys::{KeyError, PublicKey};
use attestor_core::pem::parse_pem;
use attestor_core::trust::{Purpose, TrustAnchor};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::Value;

use super::{FetchError, FetchExpect, Fetcher, human_size};

/// The largest directory accepted, in bytes.
pub const MAX_DIRECTORY_BYTES: u64 = 256 * 1024;
/// The most keys a directory may list (supported or not).
pub const MAX_DIRECTORY_KEYS: usize = 64;
/// The field named in fetch errors.
pub const DIRECTORY_FIELD: &str = "directory.url";

/// One usable key of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryKey {
    pub key_id: Sha256Digest,
    pub key: PublicKey,
    pub not_before: Option<Timestamp>,
    pub expires: Option<Timestamp>,
}

impl DirectoryKey {
    /// Whether `at` is inside the key's validity window, both ends included
    /// (as for trust anchors in `attestor-core`).
    pub fn is_valid_at(&self, at: Timestamp) -> bool {
        self.not_before.is_none_or(|nb| at >= nb) && self.expires.is_none_or(|ex| at <= ex)
    }

    /// The key as a trust anchor for attestation signing, with its validity window.
    pub fn to_trust_anchor(&self, name: impl Into<String>) -> TrustAnchor {
        TrustAnchor::from_key(name, self.key.clone())
            .with_purposes(vec![Purpose::AttestationSigning])
            .with_validity(self.not_before, self.expires)
    }
}

/// A well-formed key of an algorithm this product does not accept. It is
/// reported, never used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedKey {
    pub key_id: Sha256Digest,
    /// E.g. `RSA (1.2.840.113549.1.1.1)`.
    pub algorithm: String,
}

/// A parsed, checked issuer directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerDirectory {
    pub issuer: String,
    pub keys: Vec<DirectoryKey>,
    pub unsupported: Vec<UnsupportedKey>,
}

/// Why a directory document was refused. Indexes are 0-based positions in `keys`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    #[error(
        "the directory is {}, more than the {} limit",
        human_size(*size),
        human_size(*max)
    )]
    TooLarge { size: u64, max: u64 },

    #[error("not valid JSON: {0}")]
    Json(#[from] CanonicalError),

    #[error("not an issuer directory: {0} (see docs/issuer-directory.md)")]
    Format(String),

    #[error(
        "the directory lists {count} keys, more than the limit of {max}: publish only current keys"
    )]
    TooManyKeys { count: usize, max: usize },

    #[error("keys[{index}]: keyId {value:?} is not of the form sha256:<64 lowercase hex digits>")]
    BadKeyId { index: usize, value: String },

    #[error("keys[{index}] ({key_id}): publicKey: {source}")]
    Key {
        index: usize,
        key_id: Sha256Digest,
        source: KeyError,
    },

    #[error(
        "keys[{index}]: keyId {claimed} does not match the key, whose id is {computed} \
         (SHA-256 of its DER SubjectPublicKeyInfo): the issuer must publish the computed id"
    )]
    KeyIdMismatch {
        index: usize,
        claimed: Sha256Digest,
        computed: Sha256Digest,
    },

    #[error("keys[{second}]: key {key_id} is already listed at keys[{first}]")]
    DuplicateKeyId {
        key_id: Sha256Digest,
        first: usize,
        second: usize,
    },

    #[error("keys[{index}] ({key_id}): {field} {value:?} is not an RFC 3339 time: {detail}")]
    BadTimestamp {
        index: usize,
        key_id: Sha256Digest,
        field: &'static str,
        value: String,
        detail: String,
    },

    #[error("keys[{index}] ({key_id}): notBefore {not_before} is not before expires {expires}")]
    BadValidity {
        index: usize,
        key_id: Sha256Digest,
        not_before: Timestamp,
        expires: Timestamp,
    },

    #[error(
        "the directory is for issuer {found:?}, not {expected:?}: check directory.url and issuer \
         of the TrustedIssuer"
    )]
    IssuerMismatch { expected: String, found: String },
}

impl DirectoryError {
    /// The stable condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DirectoryError::IssuerMismatch { .. } => "IssuerMismatch",
            DirectoryError::KeyIdMismatch { .. } => "KeyIdMismatch",
            _ => "InvalidDirectory",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    issuer: String,
    /// Read one by one, so that errors name the entry.
    keys: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawKey {
    key_id: String,
    public_key: String,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// Parses and checks a directory document: strict JSON (no duplicate
/// members, no unknown members), at most [`MAX_DIRECTORY_KEYS`] keys, every
/// `keyId` equal to the id computed from its key, no key listed twice, and
/// `issuer` equal to `expected_issuer`. Keys of unsupported algorithms go to
/// [`IssuerDirectory::unsupported`]; any other bad key refuses the document.
pub fn parse_directory(
    bytes: &[u8],
    expected_issuer: &str,
) -> Result<IssuerDirectory, DirectoryError> {
    if bytes.len() as u64 > MAX_DIRECTORY_BYTES {
        return Err(DirectoryError::TooLarge {
            size: bytes.len() as u64,
            max: MAX_DIRECTORY_BYTES,
        });
    }
    let value = parse_strict(bytes)?;
    // Count before deserializing, so that a huge list is reported as such.
    if let Some(keys) = value.get("keys").and_then(Value::as_array)
        && keys.len() > MAX_DIRECTORY_KEYS
    {
        return Err(DirectoryError::TooManyKeys {
            count: keys.len(),
            max: MAX_DIRECTORY_KEYS,
        });
    }
    let raw: RawDirectory =
        serde_json::from_value(value).map_err(|e| DirectoryError::Format(e.to_string()))?;
    if raw.issuer != expected_issuer {
        return Err(DirectoryError::IssuerMismatch {
            expected: expected_issuer.to_string(),
            found: raw.issuer,
        });
    }

    let mut keys = Vec::new();
    let mut unsupported = Vec::new();
    let mut seen: HashMap<Sha256Digest, usize> = HashMap::new();
    for (index, entry) in raw.keys.into_iter().enumerate() {
        let entry: RawKey = serde_json::from_value(entry)
            .map_err(|e| DirectoryError::Format(format!("keys[{index}]: {e}")))?;
        let claimed: Sha256Digest = entry.key_id.parse().map_err(|_| DirectoryError::BadKeyId {
            index,
            value: entry.key_id.clone(),
        })?;
        // Issuer keys sign attestations: the product's own algorithms only.
        let parsed =
            PublicKey::from_pem(&entry.public_key).and_then(PublicKey::require_product_algorithm);
        let (computed, key) = match parsed {
            Ok(key) => (key.key_id(), Ok(key)),
            Err(KeyError::AlgorithmNotSupported { algorithm, .. }) => {
                // No canonical form for keys we do not parse: their id is the
                // SHA-256 of the DER as published (what attestor-core does too).
                let der = parse_pem(&entry.public_key)
                    .ok()
                    .and_then(|blocks| blocks.into_iter().next())
                    .map(|block| block.der)
                    .unwrap_or_default();
                (Sha256Digest::of(&der), Err(algorithm))
            }
            Err(source) => {
                return Err(DirectoryError::Key {
                    index,
                    key_id: claimed,
                    source,
                });
            }
        };
        if computed != claimed {
            return Err(DirectoryError::KeyIdMismatch {
                index,
                claimed,
                computed,
            });
        }
        if let Some(&first) = seen.get(&computed) {
            return Err(DirectoryError::DuplicateKeyId {
                key_id: computed,
                first,
                second: index,
            });
        }
        seen.insert(computed, index);
        let not_before = timestamp(index, computed, "notBefore", &entry.not_before)?;
        let expires = timestamp(index, computed, "expires", &entry.expires)?;
        if let (Some(nb), Some(ex)) = (not_before, expires)
            && nb >= ex
        {
            return Err(DirectoryError::BadValidity {
                index,
                key_id: computed,
                not_before: nb,
                expires: ex,
            });
        }
        match key {
            Ok(key) => keys.push(DirectoryKey {
                key_id: computed,
                key,
                not_before,
                expires,
            }),
            Err(algorithm) => unsupported.push(UnsupportedKey {
                key_id: computed,
                algorithm,
            }),
        }
    }
    Ok(IssuerDirectory {
        issuer: raw.issuer,
        keys,
        unsupported,
    })
}

fn timestamp(
    index: usize,
    key_id: Sha256Digest,
    field: &'static str,
    text: &Option<String>,
) -> Result<Option<Timestamp>, DirectoryError> {
    text.as_deref()
        .map(|t| {
            t.parse::<Timestamp>()
                .map_err(|e| DirectoryError::BadTimestamp {
                    index,
                    key_id,
                    field,
                    value: t.to_string(),
                    detail: e.to_string(),
                })
        })
        .transpose()
}

/// Why a refresh did not produce a new key set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("issuer directory {url}: {source}")]
    Invalid { url: String, source: DirectoryError },
}

impl RefreshError {
    pub fn reason(&self) -> &'static str {
        match self {
            RefreshError::Fetch(e) => e.reason(),
            RefreshError::Invalid { source, .. } => source.reason(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, RefreshError::Fetch(e) if e.is_transient())
    }
}

/// A good key set, as last fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    pub issuer: String,
    pub keys: Vec<DirectoryKey>,
    pub unsupported: Vec<UnsupportedKey>,
    /// When the document was fetched (the `now` of the refresh).
    pub fetched_at: Timestamp,
    /// SHA-256 of the document.
    pub digest: Sha256Digest,
    /// Where it came from, after redirects.
    pub final_url: String,
}

impl KeySet {
    pub fn key_ids(&self) -> Vec<Sha256Digest> {
        self.keys.iter().map(|k| k.key_id).collect()
    }
}

/// What a refresh gives the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The directory was fetched and is good: use these keys.
    Fresh(Arc<KeySet>),
    /// The refresh failed; these are the last good keys, fetched `age` ago.
    Stale {
        keys: Arc<KeySet>,
        error: RefreshError,
        age: SignedDuration,
    },
    /// The refresh failed and no good key set was ever fetched.
    Failed(RefreshError),
}

impl RefreshOutcome {
    /// The keys to use, fresh or stale.
    pub fn keys(&self) -> Option<&Arc<KeySet>> {
        match self {
            RefreshOutcome::Fresh(keys) | RefreshOutcome::Stale { keys, .. } => Some(keys),
            RefreshOutcome::Failed(_) => None,
        }
    }

    /// This refresh's error, if it failed.
    pub fn error(&self) -> Option<&RefreshError> {
        match self {
            RefreshOutcome::Fresh(_) => None,
            RefreshOutcome::Stale { error, .. } | RefreshOutcome::Failed(error) => Some(error),
        }
    }
}

/// The last failure of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub at: Timestamp,
    pub reason: &'static str,
    pub message: String,
}

/// What a controller writes into a TrustedIssuer's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryStatus {
    /// Ids of the keys in use (empty until a first success).
    pub key_ids: Vec<Sha256Digest>,
    /// Keys listed but of algorithms that are not supported.
    pub unsupported: Vec<UnsupportedKey>,
    pub last_success: Option<Timestamp>,
    pub last_attempt: Option<Timestamp>,
    /// The error of the last refresh, cleared by a success.
    pub last_error: Option<LastError>,
}

#[derive(Debug, Default)]
struct CacheEntry {
    good: Option<Arc<KeySet>>,
    last_attempt: Option<Timestamp>,
    last_error: Option<(Timestamp, RefreshError)>,
}

/// Last good key sets, one per (directory URL, expected issuer): a
/// TrustedIssuer whose `issuer` changes never inherits the keys fetched for
/// the old one. Cheap to clone; clones share the cache. No lock is held
/// while fetching.
#[derive(Debug, Clone, Default)]
pub struct DirectoryCache {
    entries: Arc<Mutex<HashMap<(String, String), CacheEntry>>>,
}

impl DirectoryCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), CacheEntry>> {
        // A panic elsewhere cannot leave an entry half-written (every update
        // is a few plain assignments), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fetches the directory at `url` and returns the keys to use. On
    /// failure the last good keys are kept and returned with the error and
    /// their age; only when there never were any is there nothing to use.
    pub async fn refresh(
        &self,
        fetcher: &Fetcher,
        url: &str,
        expected_issuer: &str,
        now: Timestamp,
    ) -> RefreshOutcome {
        let result = fetch_directory(fetcher, url, expected_issuer, now).await;
        let mut entries = self.lock();
        let entry = entries
            .entry((url.to_string(), expected_issuer.to_string()))
            .or_default();
        entry.last_attempt = Some(entry.last_attempt.map_or(now, |t| t.max(now)));
        match result {
            Ok(set) => {
                tracing::debug!(url, keys = set.keys.len(), "issuer directory refreshed");
                // A slower refresh that started earlier must not undo a newer one.
                let set = match &entry.good {
                    Some(newer) if newer.fetched_at > now => newer.clone(),
                    _ => {
                        let set = Arc::new(set);
                        entry.good = Some(set.clone());
                        set
                    }
                };
                if entry.last_error.as_ref().is_some_and(|(at, _)| *at <= now) {
                    entry.last_error = None;
                }
                RefreshOutcome::Fresh(set)
            }
            Err(error) => {
                tracing::warn!(url, error = %error, "issuer directory refresh failed");
                if entry.good.as_ref().is_none_or(|g| g.fetched_at <= now) {
                    entry.last_error = Some((now, error.clone()));
                }
                match &entry.good {
                    Some(keys) => RefreshOutcome::Stale {
                        keys: keys.clone(),
                        age: now
                            .duration_since(keys.fetched_at)
                            .max(SignedDuration::ZERO),
                        error,
                    },
                    None => RefreshOutcome::Failed(error),
                }
            }
        }
    }

    /// The last good keys, if any.
    pub fn keys(&self, url: &str, expected_issuer: &str) -> Option<Arc<KeySet>> {
        self.lock()
            .get(&(url.to_string(), expected_issuer.to_string()))
            .and_then(|e| e.good.clone())
    }

    /// What to write into status; `None` if this directory was never refreshed.
    pub fn status(&self, url: &str, expected_issuer: &str) -> Option<DirectoryStatus> {
        let entries = self.lock();
        let entry = entries.get(&(url.to_string(), expected_issuer.to_string()))?;
        Some(DirectoryStatus {
            key_ids: entry.good.as_ref().map(|g| g.key_ids()).unwrap_or_default(),
            unsupported: entry
                .good
                .as_ref()
                .map(|g| g.unsupported.clone())
                .unwrap_or_default(),
            last_success: entry.good.as_ref().map(|g| g.fetched_at),
            last_attempt: entry.last_attempt,
            last_error: entry.last_error.as_ref().map(|(at, e)| LastError {
                at: *at,
                reason: e.reason(),
                message: e.to_string(),
            }),
        })
    }

    /// Drops a directory, e.g. when its TrustedIssuer is deleted.
    pub fn forget(&self, url: &str, expected_issuer: &str) {
        self.lock()
            .remove(&(url.to_string(), expected_issuer.to_string()));
    }
}

/// Fetches and parses one directory.
pub async fn fetch_directory(
    fetcher: &Fetcher,
    url: &str,
    expected_issuer: &str,
    now: Timestamp,
) -> Result<KeySet, RefreshError> {
    let fetched = fetcher
        .fetch(
            url,
            FetchExpect::new(MAX_DIRECTORY_BYTES).for_field(DIRECTORY_FIELD),
        )
        .await?;
    let directory = parse_directory(&fetched.bytes, expected_issuer).map_err(|source| {
        RefreshError::Invalid {
            url: url.to_string(),
            source,
        }
    })?;
    Ok(KeySet {
        issuer: directory.issuer,
        keys: directory.keys,
        unsupported: directory.unsupported,
        fetched_at: now,
        digest: fetched.digest,
        final_url: fetched.final_url,
    })
}
