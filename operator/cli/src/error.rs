use std::path::PathBuf;

/// Errors that stop a command before it can give a verdict: bad usage or
/// unreadable input. They always name the file and what was wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{}: {detail}", path.display())]
    Input { path: PathBuf, detail: String },
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
}

impl CliError {
    pub fn input(path: impl Into<PathBuf>, detail: impl ToString) -> Self {
        CliError::Input {
            path: path.into(),
            detail: detail.to_string(),
        }
    }

    /// The stable reason reported in JSON output.
    pub fn reason(&self) -> &'static str {
        match self {
            CliError::Usage(_) => "BadUsage",
            CliError::Input { .. } | CliError::Io { .. } => "InputUnreadable",
        }
    }
}

/// Reads a file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Io {
        path: path.to_path_buf(),
        action: "read it",
        source,
    })
}

/// Reads a proof bundle, refusing files larger than any bundle may be
/// before reading them (and while reading, should the file grow).
pub fn read_bundle(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    use attestor_core::bundle::{BundleError, MAX_BUNDLE_BYTES};
    use std::io::Read as _;
    let io = |source| CliError::Io {
        path: path.to_path_buf(),
        action: "read it",
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let too_large = |size| {
        CliError::input(
            path,
            BundleError::BundleTooLarge {
                size,
                limit: MAX_BUNDLE_BYTES,
            },
        )
    };
    let declared = file.metadata().map_err(io)?.len();
    if declared > MAX_BUNDLE_BYTES {
        return Err(too_large(declared));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    file.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads a UTF-8 text file, naming it in the error.
pub fn read_text(path: &std::path::Path) -> Result<String, CliError> {
    String::from_utf8(read_file(path)?).map_err(|_| CliError::input(path, "is not UTF-8 text"))
}

/// Writes a file, naming it in the error.
pub fn write_file(path: &std::path::Path, data: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, data).map_err(|source| CliError::Io {
        path: path.to_path_buf(),
        action: "write it",
        source,
    })
}
