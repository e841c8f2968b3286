//! The verification core of a TUF client (The Update Framework, spec 1.0 §5), for one thing:
//! fetching Sigstore's `trusted_root.json` from a TUF repository with every rule of the
//! client workflow enforced:
//!
//! - the root chain `N+1.root.json`, … each signed by a threshold of the keys of the root
//!   before it *and* of its own, with versions one apart;
//! - the expiry of every role (the final root, timestamp, snapshot, targets);
//! - rollback: a timestamp, snapshot or targets older than the last one trusted is refused;
//! - consistency: the snapshot is the version (and, when given, the length and hashes) the
//!   timestamp names, the targets the version the snapshot names;
//! - the target's length and every hash its metadata lists.
//!
//! Pure like the rest of this crate: the caller fetches the files (from a mirror, a directory
//! or a ConfigMap) and passes the current time. [`TrustedMetadata`] is fed in the order of the
//! workflow; each `update_*` either takes the new file or returns a [`TufError`] and leaves
//! what was trusted unchanged.
//!
//! Not supported: delegated targets roles (Sigstore publishes `trusted_root.json` in the
//! top-level targets) and RSA keys (Sigstore and go-tuf use ECDSA and Ed25519). A key of an
//! unsupported type is skipped, so it counts towards no threshold.

mod canonical;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest as _;

use attestor_core::keys::{HashAlg, KeyType, PublicKey, SignatureScheme};

pub use canonical::canonical;

/// The file Sigstore publishes its trusted root as, in its TUF repositories.
pub const SIGSTORE_TRUSTED_ROOT: &str = "trusted_root.json";

/// How many root versions one refresh follows at most (the spec's suggested bound): a mirror
/// cannot keep a client walking forever.
pub const MAX_ROOT_ROTATIONS: u64 = 256;

/// The stable reasons of [`TufError::reason`], as conditions and reports show them.
pub mod reason {
    pub const METADATA_INVALID: &str = "TufMetadataInvalid";
    pub const THRESHOLD_NOT_MET: &str = "TufThresholdNotMet";
    pub const METADATA_EXPIRED: &str = "TufMetadataExpired";
    pub const ROLLBACK: &str = "TufRollback";
    pub const METADATA_MISMATCH: &str = "TufMetadataMismatch";
    pub const TARGET_NOT_FOUND: &str = "TufTargetNotFound";
    pub const TARGET_MISMATCH: &str = "TufTargetMismatch";
    pub const UNREACHABLE: &str = "TufUnreachable";
}

/// A top-level role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Root,
    Timestamp,
    Snapshot,
    Targets,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Timestamp => "timestamp",
            Role::Snapshot => "snapshot",
            Role::Targets => "targets",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a refresh failed. The caller keeps what it trusted before (the last good root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TufError {
    #[error("TUF {role} metadata is invalid: {detail}")]
    Invalid { role: Role, detail: String },
    #[error(
        "TUF {role} metadata version {version}: {valid} valid signature(s) by the {signer}'s {role} keys, {threshold} required"
    )]
    ThresholdNotMet {
        role: Role,
        version: u64,
        /// Whose keys were required, e.g. "root version 1".
        signer: String,
        valid: u64,
        threshold: u64,
    },
    #[error("TUF {role} metadata version {version} expired at {expires} (now {now})")]
    Expired {
        role: Role,
        version: u64,
        expires: Timestamp,
        now: Timestamp,
    },
    #[error(
        "TUF {role} version {new} is older than version {trusted} already trusted: a rollback is refused"
    )]
    Rollback { role: Role, trusted: u64, new: u64 },
    #[error("TUF {role} metadata does not match what {named_by} says of it: {detail}")]
    Mismatch {
        role: Role,
        named_by: Role,
        detail: String,
    },
    #[error("TUF target {name:?} is not in the repository's targets metadata: {detail}")]
    TargetNotFound { name: String, detail: String },
    #[error("TUF target {name:?} does not match its targets metadata: {detail}")]
    TargetMismatch { name: String, detail: String },
    #[error("TUF repository: cannot read {file}: {detail}")]
    Unreachable { file: String, detail: String },
}

impl TufError {
    pub fn reason(&self) -> &'static str {
        match self {
            TufError::Invalid { .. } => reason::METADATA_INVALID,
            TufError::ThresholdNotMet { .. } => reason::THRESHOLD_NOT_MET,
            TufError::Expired { .. } => reason::METADATA_EXPIRED,
            TufError::Rollback { .. } => reason::ROLLBACK,
            TufError::Mismatch { .. } => reason::METADATA_MISMATCH,
            TufError::TargetNotFound { .. } => reason::TARGET_NOT_FOUND,
            TufError::TargetMismatch { .. } => reason::TARGET_MISMATCH,
            TufError::Unreachable { .. } => reason::UNREACHABLE,
        }
    }
}

// ---- metadata ------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
struct KeyDef {
    keytype: String,
    scheme: String,
    keyval: KeyVal,
}

#[derive(Debug, Clone, Deserialize)]
struct KeyVal {
    public: String,
}

#[derive(Debug, Clone, Deserialize)]
struct RoleDef {
    keyids: Vec<String>,
    threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct RootMeta {
    version: u64,
    expires: String,
    keys: BTreeMap<String, KeyDef>,
    roles: BTreeMap<String, RoleDef>,
    #[serde(default)]
    consistent_snapshot: bool,
}

/// A metadata file's entry in the timestamp (`snapshot.json`) or the snapshot (`targets.json`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MetaFile {
    pub version: u64,
    #[serde(default)]
    pub length: Option<u64>,
    #[serde(default)]
    pub hashes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
struct MetaListing {
    version: u64,
    expires: String,
    meta: BTreeMap<String, MetaFile>,
}

/// A target's entry in the targets metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TargetFile {
    pub length: u64,
    pub hashes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct TargetsMeta {
    version: u64,
    expires: String,
    targets: BTreeMap<String, TargetFile>,
    #[serde(default)]
    delegations: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct Signature {
    keyid: String,
    sig: String,
}

/// A metadata file as read: its role's fields, the canonical bytes they were signed as, and
/// the signatures.
#[derive(Debug, Clone)]
struct Parsed<T> {
    meta: T,
    signed: Vec<u8>,
    signatures: Vec<Signature>,
    version: u64,
    expires: Timestamp,
    /// The file as served, kept to be stored as the client's state.
    bytes: Vec<u8>,
}

trait Versioned {
    fn version(&self) -> u64;
    fn expires(&self) -> &str;
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn version(&self) -> u64 { self.version }
            fn expires(&self) -> &str { &self.expires }
        }
    )*};
}
versioned!(RootMeta, MetaListing, TargetsMeta);

fn parse<T: for<'de> Deserialize<'de> + Versioned>(
    role: Role,
    bytes: &[u8],
) -> Result<Parsed<T>, TufError> {
    let invalid = |detail: String| TufError::Invalid { role, detail };
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let Value::Object(mut doc) = doc else {
        return Err(invalid("not a JSON object".into()));
    };
    let signed = doc
        .remove("signed")
        .ok_or_else(|| invalid("no \"signed\" object".into()))?;
    let signatures: Vec<Signature> = serde_json::from_value(
        doc.remove("signatures")
            .ok_or_else(|| invalid("no \"signatures\" list".into()))?,
    )
    .map_err(|e| invalid(format!("\"signatures\": {e}")))?;
    let kind = signed.get("_type").and_then(Value::as_str);
    if kind != Some(role.name()) {
        return Err(invalid(format!(
            "\"_type\" is {kind:?}, expected \"{}\"",
            role.name()
        )));
    }
    let spec = signed
        .get("spec_version")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no \"spec_version\"".into()))?;
    // Spec 1.x: a client refuses metadata of another major version.
    if spec.split('.').next() != Some("1") {
        return Err(invalid(format!(
            "spec_version {spec:?} is not 1.x, the version this client implements"
        )));
    }
    let canonical_bytes = canonical(&signed).map_err(invalid)?;
    let meta: T = serde_json::from_value(signed).map_err(|e| invalid(e.to_string()))?;
    let expires = meta
        .expires()
        .parse::<Timestamp>()
        .map_err(|e| invalid(format!("\"expires\" {:?}: {e}", meta.expires())))?;
    if meta.version() == 0 {
        return Err(invalid("version 0 (versions start at 1)".into()));
    }
    Ok(Parsed {
        version: meta.version(),
        expires,
        meta,
        signed: canonical_bytes,
        signatures,
        bytes: bytes.to_vec(),
    })
}

// ---- keys and signatures -------------------------------------------------------------------

/// A TUF key we can verify with, and the scheme it signs with; `None` for a key type or
/// scheme this client does not support (it then counts towards no threshold).
fn usable_key(def: &KeyDef) -> Option<(PublicKey, SignatureScheme)> {
    match (def.keytype.as_str(), def.scheme.as_str()) {
        ("ed25519", "ed25519") => {
            let raw = hex::decode(def.keyval.public.trim()).ok()?;
            Some((
                PublicKey::from_ed25519_bytes(&raw).ok()?,
                SignatureScheme::Ed25519,
            ))
        }
        (
            "ecdsa" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384",
            scheme @ ("ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384"),
        ) => {
            let blocks = attestor_core::pem::parse_pem(&def.keyval.public).ok()?;
            let [block] = blocks.as_slice() else {
                return None;
            };
            let key = PublicKey::from_spki_der(&block.der).ok()?;
            match (scheme, key.key_type()) {
                ("ecdsa-sha2-nistp256", KeyType::EcdsaP256) => {
                    Some((key, SignatureScheme::Ecdsa(HashAlg::Sha256)))
                }
                ("ecdsa-sha2-nistp384", KeyType::EcdsaP384) => {
                    Some((key, SignatureScheme::Ecdsa(HashAlg::Sha384)))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Checks that `role`'s threshold of `signer`'s keys for it signed `file`. Each key counts
/// once, however many signatures or key ids name it.
fn verify_role<T>(role: Role, signer: &Parsed<RootMeta>, file: &Parsed<T>) -> Result<(), TufError> {
    let def = signer
        .meta
        .roles
        .get(role.name())
        .ok_or_else(|| TufError::Invalid {
            role: Role::Root,
            detail: format!(
                "root version {} defines no \"{}\" role",
                signer.version, role
            ),
        })?;
    if def.threshold == 0 {
        return Err(TufError::Invalid {
            role: Role::Root,
            detail: format!(
                "root version {} gives the {role} role a threshold of 0",
                signer.version
            ),
        });
    }
    let allowed: BTreeSet<&str> = def.keyids.iter().map(String::as_str).collect();
    let mut counted_ids = BTreeSet::new();
    let mut counted_keys = BTreeSet::new();
    for s in &file.signatures {
        if !allowed.contains(s.keyid.as_str()) || counted_ids.contains(s.keyid.as_str()) {
            continue;
        }
        let Some((key, scheme)) = signer.meta.keys.get(&s.keyid).and_then(usable_key) else {
            continue;
        };
        if counted_keys.contains(key.spki_der()) {
            continue;
        }
        let Ok(sig) = hex::decode(s.sig.trim()) else {
            continue;
        };
        if key.verify_signature(scheme, &file.signed, &sig).is_ok() {
            counted_ids.insert(s.keyid.as_str());
            counted_keys.insert(key.spki_der().to_vec());
        }
    }
    let valid = counted_ids.len() as u64;
    if valid < def.threshold {
        return Err(TufError::ThresholdNotMet {
            role,
            version: file.version,
            signer: format!("root version {}", signer.version),
            valid,
            threshold: def.threshold,
        });
    }
    Ok(())
}

fn check_expiry<T>(role: Role, file: &Parsed<T>, now: Timestamp) -> Result<(), TufError> {
    if file.expires <= now {
        return Err(TufError::Expired {
            role,
            version: file.version,
            expires: file.expires,
            now,
        });
    }
    Ok(())
}

/// Checks `bytes` against the length and the hashes listed for them; at least one listed hash
/// must be one we compute when `require_hash`.
fn check_length_and_hashes(
    bytes: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
    require_hash: bool,
) -> Result<(), String> {
    if let Some(length) = length
        && bytes.len() as u64 != length
    {
        return Err(format!("{} bytes, {length} expected", bytes.len() as u64));
    }
    let mut checked = 0;
    for (alg, want) in hashes.into_iter().flatten() {
        let got = match alg.as_str() {
            "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
            "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
            _ => continue,
        };
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(format!("{alg} is {got}, {want} expected"));
        }
        checked += 1;
    }
    if require_hash && checked == 0 {
        return Err("no sha256 or sha512 hash is listed for it".into());
    }
    Ok(())
}

// ---- the trusted set -----------------------------------------------------------------------

/// What the last successful refresh trusted, as versions: a new timestamp, snapshot or
/// targets older than these is a rollback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Previous {
    timestamp: Option<u64>,
    /// The snapshot version the previous timestamp named.
    snapshot: Option<u64>,
    /// The metadata versions the previous snapshot listed (`targets.json`, …).
    targets: BTreeMap<String, u64>,
}

/// The metadata trusted so far in one refresh, in the order of the client workflow.
#[derive(Debug, Clone)]
pub struct TrustedMetadata {
    root: Parsed<RootMeta>,
    timestamp: Option<Parsed<MetaListing>>,
    snapshot: Option<Parsed<MetaListing>>,
    targets: Option<Parsed<TargetsMeta>>,
    previous: Previous,
}

impl TrustedMetadata {
    /// Starts from a trusted root (pinned by the operator, or the last one a refresh
    /// reached): it must be signed by a threshold of its own root keys. Its expiry is checked
    /// once the chain has been followed ([`TrustedMetadata::update_timestamp`]), since an
    /// expired root may well have a successor.
    pub fn new(root_json: &[u8]) -> Result<Self, TufError> {
        let root = parse::<RootMeta>(Role::Root, root_json)?;
        verify_role(Role::Root, &root, &root)?;
        Ok(Self {
            root,
            timestamp: None,
            snapshot: None,
            targets: None,
            previous: Previous::default(),
        })
    }

    /// Takes the next root version (`N+1.root.json`): it must be exactly one version newer
    /// and signed by a threshold of both the trusted root's root keys and its own.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        if self.timestamp.is_some() {
            return Err(TufError::Invalid {
                role: Role::Root,
                detail: "a root update after the timestamp (the workflow updates the root first)"
                    .into(),
            });
        }
        let new = parse::<RootMeta>(Role::Root, bytes)?;
        verify_role(Role::Root, &self.root, &new)?;
        verify_role(Role::Root, &new, &new)?;
        let expected = self.root.version + 1;
        if new.version < expected {
            return Err(TufError::Rollback {
                role: Role::Root,
                trusted: self.root.version,
                new: new.version,
            });
        }
        if new.version != expected {
            return Err(TufError::Invalid {
                role: Role::Root,
                detail: format!(
                    "{expected}.root.json holds version {}, not {expected}",
                    new.version
                ),
            });
        }
        self.root = new;
        Ok(())
    }

    /// Records the timestamp of the last successful refresh, for the rollback checks. It is
    /// taken only if the current root's timestamp keys signed it (its expiry does not
    /// matter); an error (e.g. after the timestamp keys were rotated) means there is no
    /// timestamp baseline, which the caller may log and go on without, as the spec does.
    pub fn remember_timestamp(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let old = parse::<MetaListing>(Role::Timestamp, bytes)?;
        verify_role(Role::Timestamp, &self.root, &old)?;
        self.previous.timestamp = Some(old.version);
        self.previous.snapshot = old.meta.meta.get("snapshot.json").map(|m| m.version);
        Ok(())
    }

    /// Records the snapshot of the last successful refresh, like
    /// [`TrustedMetadata::remember_timestamp`].
    pub fn remember_snapshot(&mut self, bytes: &[u8]) -> Result<(), TufError> {
        let old = parse::<MetaListing>(Role::Snapshot, bytes)?;
        verify_role(Role::Snapshot, &self.root, &old)?;
        self.previous.targets = old
            .meta
            .meta
            .iter()
            .map(|(name, m)| (name.clone(), m.version))
            .collect();
        Ok(())
    }

    /// Takes a new timestamp, once the root chain has been followed: the final root must not
    /// have expired, the timestamp must be signed by its timestamp keys, not older than the
    /// previous one (nor name an older snapshot), and not expired.
    pub fn update_timestamp(&mut self, bytes: &[u8], now: Timestamp) -> Result<(), TufError> {
        check_expiry(Role::Root, &self.root, now)?;
        let new = parse::<MetaListing>(Role::Timestamp, bytes)?;
        verify_role(Role::Timestamp, &self.root, &new)?;
        if let Some(trusted) = self.previous.timestamp
            && new.version < trusted
        {
            return Err(TufError::Rollback {
                role: Role::Timestamp,
                trusted,
                new: new.version,
            });
        }
        let snapshot = new
            .meta
            .meta
            .get("snapshot.json")
            .ok_or_else(|| TufError::Invalid {
                role: Role::Timestamp,
                detail: "it lists no snapshot.json".into(),
            })?;
        if let Some(trusted) = self.previous.snapshot
            && snapshot.version < trusted
        {
            return Err(TufError::Rollback {
                role: Role::Snapshot,
                trusted,
                new: snapshot.version,
            });
        }
        check_expiry(Role::Timestamp, &new, now)?;
        self.timestamp = Some(new);
        Ok(())
    }

    /// Metadata `role` as the entry of `named_by` describes it: its length and hashes when
    /// listed, the root's signatures for the role, and the version named.
    fn take_named<T: for<'de> Deserialize<'de> + Versioned>(
        &self,
        role: Role,
        named_by: Role,
        named: &MetaFile,
        bytes: &[u8],
    ) -> Result<Parsed<T>, TufError> {
        check_length_and_hashes(bytes, named.length, named.hashes.as_ref(), false).map_err(
            |detail| TufError::Mismatch {
                role,
                named_by,
                detail,
            },
        )?;
        let new = parse::<T>(role, bytes)?;
        verify_role(role, &self.root, &new)?;
        if new.version != named.version {
            return Err(TufError::Mismatch {
                role,
                named_by,
                detail: format!(
                    "version {}, the {named_by} names version {}",
                    new.version, named.version
                ),
            });
        }
        Ok(new)
    }

    /// Takes the snapshot the timestamp names: its length and hashes when the timestamp lists
    /// them, its signature, its version, no targets metadata older than in the previous
    /// snapshot, and its expiry.
    pub fn update_snapshot(&mut self, bytes: &[u8], now: Timestamp) -> Result<(), TufError> {
        let named = self.snapshot_meta()?.clone();
        let new: Parsed<MetaListing> =
            self.take_named(Role::Snapshot, Role::Timestamp, &named, bytes)?;
        for (name, &trusted) in &self.previous.targets {
            match new.meta.meta.get(name) {
                Some(m) if m.version >= trusted => {}
                Some(m) => {
                    return Err(TufError::Rollback {
                        role: Role::Targets,
                        trusted,
                        new: m.version,
                    });
                }
                None => {
                    return Err(TufError::Invalid {
                        role: Role::Snapshot,
                        detail: format!(
                            "{name} (version {trusted} in the previous snapshot) is no longer listed"
                        ),
                    });
                }
            }
        }
        check_expiry(Role::Snapshot, &new, now)?;
        self.snapshot = Some(new);
        Ok(())
    }

    /// Takes the top-level targets the snapshot names: length and hashes when listed,
    /// signature, version, expiry.
    pub fn update_targets(&mut self, bytes: &[u8], now: Timestamp) -> Result<(), TufError> {
        let named = self.targets_meta()?.clone();
        let new: Parsed<TargetsMeta> =
            self.take_named(Role::Targets, Role::Snapshot, &named, bytes)?;
        check_expiry(Role::Targets, &new, now)?;
        self.targets = Some(new);
        Ok(())
    }

    /// The entry of target `name` in the trusted targets metadata.
    pub fn target(&self, name: &str) -> Result<&TargetFile, TufError> {
        let targets = self
            .targets
            .as_ref()
            .ok_or_else(|| TufError::TargetNotFound {
                name: name.to_string(),
                detail: "no targets metadata has been verified yet".into(),
            })?;
        targets.meta.targets.get(name).ok_or_else(|| {
            let delegated = if targets.meta.delegations.is_some() {
                " (delegated targets roles are not searched)"
            } else {
                ""
            };
            TufError::TargetNotFound {
                name: name.to_string(),
                detail: format!(
                    "targets version {} lists {} target(s), not this one{delegated}",
                    targets.version,
                    targets.meta.targets.len()
                ),
            }
        })
    }

    /// Checks downloaded target bytes against the length and every hash their entry lists.
    pub fn verify_target(&self, name: &str, bytes: &[u8]) -> Result<(), TufError> {
        let file = self.target(name)?;
        check_length_and_hashes(bytes, Some(file.length), Some(&file.hashes), true).map_err(
            |detail| TufError::TargetMismatch {
                name: name.to_string(),
                detail,
            },
        )
    }

    /// The names under which the repository serves target `name`: `HASH.NAME` in its
    /// directory for each listed hash when the root asks for consistent snapshots, else
    /// `NAME` (relative to the targets base).
    pub fn target_paths(&self, name: &str) -> Result<Vec<String>, TufError> {
        let file = self.target(name)?;
        if !self.root.meta.consistent_snapshot {
            return Ok(vec![name.to_string()]);
        }
        let (dir, base) = match name.rsplit_once('/') {
            Some((dir, base)) => (format!("{dir}/"), base),
            None => (String::new(), name),
        };
        Ok(["sha256", "sha512"]
            .iter()
            .filter_map(|alg| file.hashes.get(*alg))
            .map(|hash| format!("{dir}{}.{base}", hash.trim().to_ascii_lowercase()))
            .collect())
    }

    /// The file the snapshot is served as: `V.snapshot.json` with consistent snapshots.
    pub fn snapshot_path(&self) -> Result<String, TufError> {
        let named = self.snapshot_meta()?;
        Ok(if self.root.meta.consistent_snapshot {
            format!("{}.snapshot.json", named.version)
        } else {
            "snapshot.json".into()
        })
    }

    /// The file the targets metadata is served as: `V.targets.json` with consistent snapshots.
    pub fn targets_path(&self) -> Result<String, TufError> {
        let named = self.targets_meta()?;
        Ok(if self.root.meta.consistent_snapshot {
            format!("{}.targets.json", named.version)
        } else {
            "targets.json".into()
        })
    }

    fn snapshot_meta(&self) -> Result<&MetaFile, TufError> {
        let timestamp = self.timestamp.as_ref().ok_or_else(|| TufError::Invalid {
            role: Role::Snapshot,
            detail: "no timestamp has been verified yet".into(),
        })?;
        // update_timestamp took only a timestamp that lists it.
        timestamp
            .meta
            .meta
            .get("snapshot.json")
            .ok_or_else(|| TufError::Invalid {
                role: Role::Timestamp,
                detail: "it lists no snapshot.json".into(),
            })
    }

    fn targets_meta(&self) -> Result<&MetaFile, TufError> {
        let snapshot = self.snapshot.as_ref().ok_or_else(|| TufError::Invalid {
            role: Role::Targets,
            detail: "no snapshot has been verified yet".into(),
        })?;
        snapshot
            .meta
            .meta
            .get("targets.json")
            .ok_or_else(|| TufError::Invalid {
                role: Role::Snapshot,
                detail: "it lists no targets.json".into(),
            })
    }

    /// The version of the trusted root.
    pub fn root_version(&self) -> u64 {
        self.root.version
    }

    /// The trusted root as served, to be stored as the start of the next refresh.
    pub fn root_json(&self) -> &[u8] {
        &self.root.bytes
    }

    /// The trusted timestamp as served, to be remembered for the next refresh.
    pub fn timestamp_json(&self) -> Option<&[u8]> {
        self.timestamp.as_ref().map(|t| t.bytes.as_slice())
    }

    /// The trusted snapshot as served, to be remembered for the next refresh.
    pub fn snapshot_json(&self) -> Option<&[u8]> {
        self.snapshot.as_ref().map(|t| t.bytes.as_slice())
    }

    /// The version of the trusted timestamp, once there is one.
    pub fn timestamp_version(&self) -> Option<u64> {
        self.timestamp.as_ref().map(|t| t.version)
    }

    /// The earliest expiry among the trusted roles: the refresh must succeed again before it.
    pub fn expires(&self) -> Timestamp {
        [
            Some(self.root.expires),
            self.timestamp.as_ref().map(|t| t.expires),
            self.snapshot.as_ref().map(|t| t.expires),
            self.targets.as_ref().map(|t| t.expires),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.root.expires)
    }
}

/// The version of a root file, read without verifying it (to choose between a pinned root and
/// a stored one, both of which the caller already trusts).
pub fn root_version(root_json: &[u8]) -> Result<u64, TufError> {
    Ok(parse::<RootMeta>(Role::Root, root_json)?.version)
}

#[cfg(test)]
mod tests;
