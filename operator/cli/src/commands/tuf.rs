//! Where `attestor verify` gets a Sigstore trusted root: a file (`--trusted-root`), or through
//! TUF from a mirror (`--tuf-mirror URL --tuf-root root.json`) or an offline copy of the
//! repository (`--tuf-repository DIR --tuf-root root.json`).
//!
//! The TUF state (the root reached, the last timestamp and snapshot, against rollback) is kept
//! in `--tuf-state DIR`, by default `~/.cache/attestor/tuf/<hash of the source>`; it is
//! written only after a refresh succeeded.

use std::path::{Path, PathBuf};

use attestor_runtime::fetch::{FetchConfig, Fetcher};
use attestor_runtime::tuf::{TufSource, TufState, refresh};
use attestor_sigstore::TrustedRoot;
use attestor_sigstore::tuf::SIGSTORE_TRUSTED_ROOT;

use crate::CliError;
use crate::cli::VerifyArgs;
use crate::error::read_file;

/// True when the arguments name a Sigstore trusted root in any form.
pub(crate) fn given(args: &VerifyArgs) -> bool {
    args.trusted_root.is_some() || args.tuf_mirror.is_some() || args.tuf_repository.is_some()
}

/// The trusted root the arguments name, `None` when they name none.
pub(crate) fn trusted_root(args: &VerifyArgs) -> Result<Option<TrustedRoot>, CliError> {
    if let Some(path) = &args.trusted_root {
        let root =
            TrustedRoot::from_json(&read_file(path)?).map_err(|e| CliError::input(path, e))?;
        return Ok(Some(root));
    }
    let (source, id, shown) = match (&args.tuf_mirror, &args.tuf_repository) {
        (Some(url), None) => {
            let allowed = super::registry::allowed_networks(&args.registry)?;
            let fetcher = Fetcher::new(FetchConfig {
                allowed_networks: allowed,
                ..FetchConfig::default()
            })
            .map_err(|e| CliError::Usage(e.to_string()))?;
            (
                TufSource::mirror(fetcher, url, "--tuf-mirror"),
                format!("mirror {url}"),
                PathBuf::from(url),
            )
        }
        (None, Some(dir)) => {
            let absolute = std::fs::canonicalize(dir).map_err(|source| CliError::Io {
                path: dir.clone(),
                action: "open the TUF repository",
                source,
            })?;
            (
                TufSource::Directory(absolute.clone()),
                format!("directory {}", absolute.display()),
                dir.clone(),
            )
        }
        _ => return Ok(None),
    };
    let pinned_path = args.tuf_root.as_ref().ok_or_else(|| {
        CliError::Usage(
            "--tuf-mirror and --tuf-repository need --tuf-root FILE: the root.json you trust \
             (obtained out of band; the repository's own copy proves nothing)"
                .into(),
        )
    })?;
    let pinned = read_file(pinned_path)?;
    let state_dir = args.tuf_state.clone().or_else(|| default_state_dir(&id));
    let previous = match &state_dir {
        Some(dir) => TufState::load(dir).map_err(|source| CliError::Io {
            path: dir.clone(),
            action: "read the TUF state",
            source,
        })?,
        None => TufState::default(),
    };
    let now = jiff::Timestamp::now();
    let refreshed = crate::commands::registry::runtime()?
        .block_on(refresh(
            &source,
            &pinned,
            &previous,
            SIGSTORE_TRUSTED_ROOT,
            now,
        ))
        .map_err(|e| CliError::input(&shown, format!("{e} (reason: {})", e.reason())))?;
    if let Some(dir) = &state_dir {
        refreshed.state.save(dir).map_err(|source| CliError::Io {
            path: dir.clone(),
            action: "write the TUF state",
            source,
        })?;
    }
    let root = TrustedRoot::from_json(&refreshed.target).map_err(|e| {
        CliError::input(
            &shown,
            format!("the TUF target {SIGSTORE_TRUSTED_ROOT}: {e}"),
        )
    })?;
    Ok(Some(root))
}

/// `~/.cache/attestor/tuf/<sha256 of the source, 16 hex>`, or nothing without a home.
fn default_state_dir(id: &str) -> Option<PathBuf> {
    let cache = match std::env::var_os("ATTESTOR_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&std::env::var_os("HOME")?).join(".cache/attestor"),
    };
    let hash = attestor_core::digest::Sha256Digest::of(id.as_bytes()).hex();
    Some(cache.join("tuf").join(&hash[..16]))
}
