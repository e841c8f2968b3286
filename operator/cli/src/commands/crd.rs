//! `attestor crd`: the CustomResourceDefinitions, generated from the types in `attestor-api`.

use std::io::Write as _;
use std::path::Path;

use crate::CliError;
use crate::cli::CrdArgs;
use crate::error::write_file;

pub fn run(args: &CrdArgs) -> Result<(), CliError> {
    match &args.output_dir {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(attestor_api::crds_yaml().as_bytes())
                .map_err(|source| CliError::Io {
                    path: "standard output".into(),
                    action: "write to it",
                    source,
                })
        }
        Some(dir) => write_dir(dir),
    }
}

/// Writes one file per CRD and removes files of CRDs of this group that no longer exist, so
/// that the directory holds exactly what the types define.
pub fn write_dir(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
        path: dir.to_path_buf(),
        action: "create it",
        source,
    })?;
    let suffix = format!(".{}.yaml", attestor_api::GROUP);
    let crds = attestor_api::crds();
    let wanted: Vec<String> = crds.iter().map(attestor_api::crd_file_name).collect();
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Io {
        path: dir.to_path_buf(),
        action: "list it",
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(&suffix) && !wanted.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(|source| CliError::Io {
                path: entry.path(),
                action: "remove it",
                source,
            })?;
        }
    }
    for (crd, name) in crds.iter().zip(&wanted) {
        write_file(&dir.join(name), attestor_api::crd_yaml(crd).as_bytes())?;
    }
    Ok(())
}
