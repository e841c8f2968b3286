//! `attestor inspect`.

use std::io::Write as _;
use std::path::Path;

use attestor_core::bundle::{Bundle, BundleError, ENTRIES, entry_limit};
use attestor_core::zip::{ZipArchive, ZipEntryRef, ZipError, ZipLimits};

use crate::cli::{InspectArgs, OutputFormat};
use crate::error::read_bundle;
use crate::render::human_size;
use crate::{CliError, EXIT_VERIFIED};

pub fn run(args: &InspectArgs) -> Result<u8, CliError> {
    let bytes = read_bundle(&args.bundle)?;
    let input = |e: BundleError| CliError::input(&args.bundle, e);
    let zip =
        ZipArchive::open(&bytes, &ZipLimits::default()).map_err(|e| input(BundleError::Zip(e)))?;
    // Names and declared sizes are judged before anything is inflated or
    // written: an entry the format does not know is never extracted.
    for e in zip.entries() {
        let Some(limit) = entry_limit(e.name) else {
            return Err(input(BundleError::UnexpectedEntry(e.name.to_string())));
        };
        if e.size > limit {
            let entry = ENTRIES
                .into_iter()
                .find(|n| *n == e.name)
                .unwrap_or_default();
            return Err(input(BundleError::EntryTooLarge {
                entry,
                size: e.size,
                limit,
            }));
        }
    }

    // Extract before judging the contents: a malformed bundle is exactly the
    // one someone wants to look inside.
    if let Some(dir) = &args.output_dir {
        prepare_dir(dir)?;
        for e in zip.entries() {
            extract(&args.bundle, e, &dir.join(e.name))?;
        }
    }
    let files: Vec<(String, u64)> = zip
        .entries()
        .iter()
        .map(|e| (e.name.to_string(), e.size))
        .collect();
    let bundle = Bundle::from_zip(&bytes, &ZipLimits::default()).map_err(input)?;

    let manifest_id = bundle
        .manifest_id()
        .map(|m| m.to_string())
        .unwrap_or_else(|e| format!("(cannot compute: {e})"));
    let tlog = bundle.meta.transparency_log.as_ref();
    let signers = |env: &attestor_core::dsse::Envelope| {
        env.signatures
            .iter()
            .map(|s| s.keyid.clone())
            .collect::<Vec<_>>()
    };
    match args.output {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "bundle": args.bundle.display().to_string(),
                "size": bytes.len(),
                "files": files.iter().map(|(n, s)| serde_json::json!({"name": n, "size": s})).collect::<Vec<_>>(),
                "artifactDigest": bundle.manifest.artifact_digest,
                "artifactName": bundle.manifest.artifact_name,
                "manifestId": manifest_id,
                "inputs": bundle.manifest.inputs,
                "createdAt": bundle.manifest.created_at,
                "signedAt": bundle.statement.predicate.signed_at,
                "deterministic": bundle.manifest.deterministic,
                "proofRootHash": bundle.ledger.root_hash,
                "nodeCount": bundle.ledger.node_count,
                "manifestSigners": signers(&bundle.manifest_envelope),
                "proofRootSigners": signers(&bundle.proof_root_envelope),
                "certificates": bundle.certificates.iter().map(|c| c.subject().to_string()).collect::<Vec<_>>(),
                "transparencyLog": tlog.map(|t| serde_json::json!({
                    "logId": t.log_id, "origin": t.checkpoint.origin, "logIndex": t.log_index, "treeSize": t.checkpoint.tree_size,
                })),
                "tools": bundle.meta.tools,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Text => {
            println!(
                "Bundle:        {} ({})",
                args.bundle.display(),
                human_size(bytes.len() as u64)
            );
            for (name, size) in &files {
                println!("  {name:<22} {}", human_size(*size));
            }
            println!("Artifact:      {}", bundle.manifest.artifact_digest);
            if let Some(name) = &bundle.manifest.artifact_name {
                println!("Artifact name: {name}");
            }
            println!("Manifest id:   {manifest_id}");
            let i = &bundle.manifest.inputs;
            println!(
                "Inputs:        sbom {}\n               feed {}\n               vex  {}\n               policy {}",
                i.sbom, i.feed_snapshot, i.vex, i.policy
            );
            println!("Created at:    {}", bundle.manifest.created_at);
            println!("Signed at:     {}", bundle.statement.predicate.signed_at);
            println!("Deterministic: {}", bundle.manifest.deterministic);
            println!(
                "Proof root:    {} ({} nodes)",
                bundle.ledger.root_hash, bundle.ledger.node_count
            );
            println!(
                "Signed by:     {}",
                signers(&bundle.proof_root_envelope).join(", ")
            );
            for c in &bundle.certificates {
                println!(
                    "Certificate:   {} (issuer {}, until {})",
                    c.subject(),
                    c.issuer(),
                    c.not_after()
                );
            }
            match tlog {
                Some(t) => println!(
                    "Log entry:     {} index {} of {} (log key {})",
                    t.checkpoint.origin, t.log_index, t.checkpoint.tree_size, t.log_id
                ),
                None => println!("Log entry:     none"),
            }
            if let Some(dir) = &args.output_dir {
                println!("Extracted to:  {}", dir.display());
            }
        }
    }
    Ok(EXIT_VERIFIED)
}

/// The output directory, created if missing. A symbolic link there is
/// refused: whoever can plant one could send the files anywhere.
fn prepare_dir(dir: &Path) -> Result<(), CliError> {
    let refuse = |detail: &str| CliError::input(dir, detail);
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(refuse("is a symbolic link; extract into a real directory"))
        }
        Ok(m) if !m.is_dir() => Err(refuse("exists and is not a directory")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
                path: dir.to_path_buf(),
                action: "create the directory",
                source,
            })
        }
        Err(source) => Err(CliError::Io {
            path: dir.to_path_buf(),
            action: "read the directory",
            source,
        }),
    }
}

/// Writes one entry to a file that must not exist yet.
///
/// `create_new` is O_CREAT|O_EXCL, which never follows a symbolic link at
/// the path (POSIX: it fails even on a dangling one) and never opens an
/// existing file, so neither a planted link nor a hard link to some other
/// file can be written through. The entry is streamed, not held whole; a
/// file whose entry then fails its checks is removed.
fn extract(bundle: &Path, entry: &ZipEntryRef<'_>, path: &Path) -> Result<(), CliError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::input(
                    path,
                    "already exists (or is a symbolic link); inspect never overwrites files: extract into a new or empty directory",
                )
            } else {
                CliError::Io {
                    path: path.to_path_buf(),
                    action: "create it",
                    source,
                }
            }
        })?;
    let copied = std::io::copy(&mut entry.reader(), &mut file).and_then(|_| file.flush());
    if let Err(e) = copied {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(match ZipError::from_io(&e) {
            Some(zip) => CliError::input(bundle, BundleError::Zip(zip.clone())),
            None => CliError::Io {
                path: path.to_path_buf(),
                action: "write it",
                source: e,
            },
        });
    }
    Ok(())
}
