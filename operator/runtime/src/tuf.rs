//! Sigstore trusted roots kept current through TUF: the client workflow of
//! [`attestor_sigstore::tuf`] driven over a source of repository files.
//!
//! A source is a mirror (fetched with the operator's one [`Fetcher`], so the address policy,
//! limits and retries of every other fetch apply), a directory holding a copy of the
//! repository, or the files of a ConfigMap (air-gapped sites). A refresh is all or nothing:
//! it returns the verified target and the state to keep for the next one (the root reached,
//! the timestamp and snapshot for rollback checks), or a [`TufError`] with a stable reason,
//! and the caller keeps what it had (the last good root).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attestor_sigstore::tuf::{MAX_ROOT_ROTATIONS, TrustedMetadata, TufError, root_version};
use jiff::Timestamp;

use crate::fetch::{FetchError, FetchExpect, Fetcher};

/// The largest root file read (Sigstore's is a few KiB).
pub const MAX_ROOT_BYTES: u64 = 512 * 1024;
/// The largest timestamp read.
pub const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;
/// The largest snapshot or targets file read when the metadata naming it gives no length.
pub const MAX_METADATA_BYTES: u64 = 8 * 1024 * 1024;
/// The largest target read, whatever length its metadata lists.
pub const MAX_TARGET_BYTES: u64 = 16 * 1024 * 1024;

/// Where the repository's files come from.
#[derive(Debug, Clone)]
pub enum TufSource {
    /// A mirror: metadata under `metadata_url`, targets under `targets_url` (both ending in
    /// `/`). `field` names where the URL was configured, for error messages.
    Mirror {
        fetcher: Fetcher,
        metadata_url: String,
        targets_url: String,
        field: &'static str,
    },
    /// A copy of the repository in a directory: metadata at the top, targets under `targets/`
    /// (the layout a mirror serves, and that `tuf`'s `repository/` directory has).
    Directory(PathBuf),
    /// The files of a copy, by name (a ConfigMap's keys, which cannot hold `/`): metadata by
    /// file name, targets by their name (or `HASH.NAME`) without the `targets/` directory.
    Files(BTreeMap<String, Vec<u8>>),
}

impl TufSource {
    /// A mirror whose targets are under `targets/` of its base URL, as Sigstore's are.
    pub fn mirror(fetcher: Fetcher, base_url: &str, field: &'static str) -> Self {
        let base = if base_url.ends_with('/') {
            base_url.to_string()
        } else {
            format!("{base_url}/")
        };
        Self::Mirror {
            fetcher,
            targets_url: format!("{base}targets/"),
            metadata_url: base,
            field,
        }
    }

    /// A metadata file, `None` when the repository does not have it.
    async fn metadata(&self, name: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, TufError> {
        self.get(name, false, max_bytes).await
    }

    /// A metadata file the workflow requires.
    async fn required(&self, name: &str, max_bytes: u64) -> Result<Vec<u8>, TufError> {
        self.metadata(name, max_bytes)
            .await?
            .ok_or_else(|| TufError::Unreachable {
                file: name.to_string(),
                detail: format!("{} has no such file", self.describe()),
            })
    }

    async fn get(
        &self,
        name: &str,
        target: bool,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, TufError> {
        // Target names come from signed metadata, but a signed "../x" must still not leave
        // the repository.
        if name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(TufError::Unreachable {
                file: name.to_string(),
                detail: "not a plain relative path".into(),
            });
        }
        let unreachable = |detail: String| TufError::Unreachable {
            file: name.to_string(),
            detail,
        };
        match self {
            TufSource::Mirror {
                fetcher,
                metadata_url,
                targets_url,
                field,
            } => {
                let base = if target { targets_url } else { metadata_url };
                let url = format!("{base}{name}");
                match fetcher
                    .fetch(&url, FetchExpect::new(max_bytes).for_field(field))
                    .await
                {
                    Ok(fetched) => Ok(Some(fetched.bytes)),
                    // Object stores answer 403 for a missing object when listing is not
                    // allowed; both mean "no such version" to the root walk.
                    Err(FetchError::Http {
                        status: 403 | 404 | 410,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(unreachable(e.to_string())),
                }
            }
            TufSource::Directory(dir) => {
                let path = if target {
                    dir.join("targets").join(name)
                } else {
                    dir.join(name)
                };
                read_bounded(&path, max_bytes).map_err(unreachable)
            }
            TufSource::Files(files) => {
                let Some(bytes) = files.get(name) else {
                    return Ok(None);
                };
                if bytes.len() as u64 > max_bytes {
                    return Err(unreachable(format!(
                        "{} bytes, more than the {max_bytes} allowed",
                        bytes.len()
                    )));
                }
                Ok(Some(bytes.clone()))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            TufSource::Mirror { metadata_url, .. } => format!("the mirror {metadata_url}"),
            TufSource::Directory(dir) => format!("the directory {}", dir.display()),
            TufSource::Files(files) => format!("the offline copy ({} files)", files.len()),
        }
    }
}

fn read_bounded(path: &Path, max_bytes: u64) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!(
            "{}: more than the {max_bytes} bytes allowed",
            path.display()
        ));
    }
    Ok(Some(bytes))
}

/// What a refresh keeps for the next one. Empty before the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TufState {
    /// The newest root reached (a later refresh starts from it rather than the pinned one).
    pub root: Option<Vec<u8>>,
    /// The last timestamp and snapshot trusted: nothing older is taken again.
    pub timestamp: Option<Vec<u8>>,
    pub snapshot: Option<Vec<u8>>,
}

impl TufState {
    const FILES: [&str; 3] = ["root.json", "timestamp.json", "snapshot.json"];

    /// The state stored in `dir` (empty when the directory or a file is absent).
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let read = |name: &str| match std::fs::read(dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        Ok(Self {
            root: read(Self::FILES[0])?,
            timestamp: read(Self::FILES[1])?,
            snapshot: read(Self::FILES[2])?,
        })
    }

    /// Stores the state in `dir` (created if needed), each file replaced atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in Self::FILES
            .iter()
            .zip([&self.root, &self.timestamp, &self.snapshot])
        {
            let Some(bytes) = bytes else { continue };
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, dir.join(name))?;
        }
        Ok(())
    }
}

/// A successful refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The target's bytes, verified against the targets metadata.
    pub target: Vec<u8>,
    /// What to pass to the next refresh.
    pub state: TufState,
    pub root_version: u64,
    pub timestamp_version: u64,
    /// The earliest expiry of the metadata trusted: refresh again before it.
    pub expires: Timestamp,
}

/// Runs the TUF client workflow against `source`, from `pinned_root` (or the newer root in
/// `previous`), with rollback checks against `previous`, and returns target `target_name`.
pub async fn refresh(
    source: &TufSource,
    pinned_root: &[u8],
    previous: &TufState,
    target_name: &str,
    now: Timestamp,
) -> Result<Refreshed, TufError> {
    let mut trusted = start(pinned_root, previous.root.as_deref())?;
    // 5.3: follow the root chain.
    for _ in 0..MAX_ROOT_ROTATIONS {
        let next = format!("{}.root.json", trusted.root_version() + 1);
        match source.metadata(&next, MAX_ROOT_BYTES).await? {
            Some(bytes) => trusted.update_root(&bytes)?,
            None => break,
        }
    }
    // The baseline for rollback: kept only if the current keys signed it (after a rotation of
    // the timestamp or snapshot keys there is none, as the spec has it).
    if let Some(bytes) = &previous.timestamp
        && let Err(e) = trusted.remember_timestamp(bytes)
    {
        tracing::info!(error = %e, "the previous TUF timestamp is not a rollback baseline");
    }
    if let Some(bytes) = &previous.snapshot
        && let Err(e) = trusted.remember_snapshot(bytes)
    {
        tracing::info!(error = %e, "the previous TUF snapshot is not a rollback baseline");
    }
    // 5.4 – 5.6.
    let timestamp = source
        .required("timestamp.json", MAX_TIMESTAMP_BYTES)
        .await?;
    trusted.update_timestamp(&timestamp, now)?;
    let snapshot = source
        .required(&trusted.snapshot_path()?, MAX_METADATA_BYTES)
        .await?;
    trusted.update_snapshot(&snapshot, now)?;
    let targets = source
        .required(&trusted.targets_path()?, MAX_METADATA_BYTES)
        .await?;
    trusted.update_targets(&targets, now)?;
    // 5.7: the target, under any of its names, checked against its entry.
    let length = trusted.target(target_name)?.length;
    if length > MAX_TARGET_BYTES {
        return Err(TufError::TargetMismatch {
            name: target_name.to_string(),
            detail: format!("listed as {length} bytes, more than the {MAX_TARGET_BYTES} allowed"),
        });
    }
    let mut bytes = None;
    let paths = trusted.target_paths(target_name)?;
    for path in &paths {
        if let Some(found) = source.get(path, true, length).await? {
            bytes = Some(found);
            break;
        }
    }
    let target = bytes.ok_or_else(|| TufError::Unreachable {
        file: format!("targets/{}", paths.join(" or targets/")),
        detail: format!("{} has no such file", source.describe()),
    })?;
    trusted.verify_target(target_name, &target)?;
    Ok(Refreshed {
        target,
        root_version: trusted.root_version(),
        timestamp_version: trusted.timestamp_version().unwrap_or_default(),
        expires: trusted.expires(),
        state: TufState {
            root: Some(trusted.root_json().to_vec()),
            timestamp: trusted.timestamp_json().map(<[u8]>::to_vec),
            snapshot: trusted.snapshot_json().map(<[u8]>::to_vec),
        },
    })
}

/// The root to start from: the stored one when it is newer than the pinned one and still
/// verifies (the state is ours, but a damaged file must not wedge every refresh).
fn start(pinned: &[u8], stored: Option<&[u8]>) -> Result<TrustedMetadata, TufError> {
    let pinned_version = root_version(pinned)?;
    if let Some(stored) = stored
        && root_version(stored).is_ok_and(|v| v > pinned_version)
    {
        match TrustedMetadata::new(stored) {
            Ok(trusted) => return Ok(trusted),
            Err(e) => {
                tracing::warn!(error = %e, "the stored TUF root does not verify; starting from the pinned root")
            }
        }
    }
    TrustedMetadata::new(pinned)
}

/// The last good refresh of one repository, kept by a long-running caller (the controller)
/// between refreshes and used whatever later refreshes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastGood {
    pub refreshed: Refreshed,
    pub at: Timestamp,
}

/// What a caller does after a refresh attempt: pure, so that the policy of keeping the last
/// good root is tested without a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    /// The root to use from now on: the new one, or the last good one after a failure.
    pub kept: Option<LastGood>,
    /// Whether the root in use is current (this attempt succeeded).
    pub current: bool,
    /// `TufRefreshed` or the [`TufError`] reason.
    pub reason: &'static str,
    pub message: String,
    /// An Event when the root in use changed (first root, a new root version, a new target),
    /// or the attempt failed.
    pub event: Option<crate::verification::EventNote>,
    /// When to try again.
    pub next_attempt: Timestamp,
}

/// The reason of a successful refresh.
pub const REFRESHED: &str = "TufRefreshed";

/// Decides what a refresh attempt at `now` means, given the last good one. Success replaces
/// it and schedules the next refresh after `interval`, or before the metadata expires if that
/// is sooner. Failure keeps it and retries sooner: after `interval / 4` (at least a minute),
/// since a mirror that was unreachable or stale may be fixed any moment.
pub fn decide_refresh(
    last_good: Option<&LastGood>,
    attempt: Result<Refreshed, TufError>,
    now: Timestamp,
    interval: jiff::SignedDuration,
) -> RefreshOutcome {
    let minute = jiff::SignedDuration::from_secs(60);
    let interval = interval.max(minute);
    match attempt {
        Ok(refreshed) => {
            let changed = match last_good {
                None => Some("first trusted root".to_string()),
                Some(old) if old.refreshed.root_version != refreshed.root_version => Some(format!(
                    "TUF root version {} → {}",
                    old.refreshed.root_version, refreshed.root_version
                )),
                Some(old) if old.refreshed.target != refreshed.target => {
                    Some("a new trusted_root.json".to_string())
                }
                Some(_) => None,
            };
            let message = format!(
                "TUF root version {}, timestamp version {}; metadata valid until {}",
                refreshed.root_version, refreshed.timestamp_version, refreshed.expires
            );
            let next_attempt = (now + interval).min(refreshed.expires).max(now + minute);
            RefreshOutcome {
                event: changed.map(|what| crate::verification::EventNote {
                    warning: false,
                    reason: REFRESHED.into(),
                    note: format!("{what}: {message}"),
                }),
                kept: Some(LastGood { refreshed, at: now }),
                current: true,
                reason: REFRESHED,
                message,
                next_attempt,
            }
        }
        Err(e) => {
            let keeping = match last_good {
                Some(old) => format!(
                    "keeping the trusted root of {} (TUF root version {})",
                    old.at, old.refreshed.root_version
                ),
                None => "no trusted root yet".to_string(),
            };
            let message = format!("{e}; {keeping}");
            RefreshOutcome {
                kept: last_good.cloned(),
                current: false,
                reason: e.reason(),
                event: Some(crate::verification::EventNote {
                    warning: true,
                    reason: e.reason().into(),
                    note: message.clone(),
                }),
                message,
                next_attempt: now + (interval / 4).max(minute),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use attestor_sigstore::tuf::{Role, reason};
    use jiff::SignedDuration;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn refreshed(root_version: u64, target: &str, expires: &str) -> Refreshed {
        Refreshed {
            target: target.as_bytes().to_vec(),
            state: TufState::default(),
            root_version,
            timestamp_version: 7,
            expires: at(expires),
        }
    }

    #[test]
    fn the_last_good_root_is_kept_through_failures() {
        let hour = SignedDuration::from_hours(1);
        let now = at("2030-01-01T00:00:00Z");
        let good = LastGood {
            refreshed: refreshed(1, "root-a", "2030-01-02T00:00:00Z"),
            at: at("2029-12-31T00:00:00Z"),
        };
        let expired = TufError::Expired {
            role: Role::Timestamp,
            version: 8,
            expires: at("2029-12-31T12:00:00Z"),
            now,
        };
        struct Case {
            what: &'static str,
            last: Option<LastGood>,
            attempt: Result<Refreshed, TufError>,
            kept: Option<(u64, &'static str)>,
            reason: &'static str,
            event: Option<&'static str>,
            next: &'static str,
        }
        let cases = [
            Case {
                what: "first success",
                last: None,
                attempt: Ok(refreshed(1, "root-a", "2030-01-02T00:00:00Z")),
                kept: Some((1, "root-a")),
                reason: REFRESHED,
                event: Some("first trusted root"),
                next: "2030-01-01T01:00:00Z",
            },
            Case {
                what: "same root again: no Event",
                last: Some(good.clone()),
                attempt: Ok(refreshed(1, "root-a", "2030-01-02T00:00:00Z")),
                kept: Some((1, "root-a")),
                reason: REFRESHED,
                event: None,
                next: "2030-01-01T01:00:00Z",
            },
            Case {
                what: "rotation",
                last: Some(good.clone()),
                attempt: Ok(refreshed(2, "root-a", "2030-01-02T00:00:00Z")),
                kept: Some((2, "root-a")),
                reason: REFRESHED,
                event: Some("TUF root version 1 → 2"),
                next: "2030-01-01T01:00:00Z",
            },
            Case {
                what: "new target, refreshed before the metadata expires",
                last: Some(good.clone()),
                attempt: Ok(refreshed(1, "root-b", "2030-01-01T00:30:00Z")),
                kept: Some((1, "root-b")),
                reason: REFRESHED,
                event: Some("a new trusted_root.json"),
                next: "2030-01-01T00:30:00Z",
            },
            Case {
                what: "expired timestamp keeps the last good root",
                last: Some(good.clone()),
                attempt: Err(expired.clone()),
                kept: Some((1, "root-a")),
                reason: reason::METADATA_EXPIRED,
                event: Some("keeping the trusted root of 2029-12-31T00:00:00Z"),
                next: "2030-01-01T00:15:00Z",
            },
            Case {
                what: "rollback before any success",
                last: None,
                attempt: Err(TufError::Rollback {
                    role: Role::Timestamp,
                    trusted: 3,
                    new: 2,
                }),
                kept: None,
                reason: reason::ROLLBACK,
                event: Some("no trusted root yet"),
                next: "2030-01-01T00:15:00Z",
            },
        ];
        for case in cases {
            let out = decide_refresh(case.last.as_ref(), case.attempt, now, hour);
            let kept = out.kept.as_ref().map(|k| {
                (
                    k.refreshed.root_version,
                    std::str::from_utf8(&k.refreshed.target).unwrap(),
                )
            });
            assert_eq!(kept, case.kept, "{}", case.what);
            assert_eq!(out.reason, case.reason, "{}", case.what);
            assert_eq!(out.current, case.reason == REFRESHED, "{}", case.what);
            match (case.event, &out.event) {
                (None, None) => {}
                (Some(want), Some(event)) => {
                    assert!(event.note.contains(want), "{}: {}", case.what, event.note);
                    assert_eq!(event.warning, !out.current, "{}", case.what);
                    assert_eq!(event.reason, case.reason, "{}", case.what);
                }
                (want, got) => panic!("{}: event {want:?}, got {got:?}", case.what),
            }
            assert_eq!(out.next_attempt, at(case.next), "{}", case.what);
        }
    }
}
