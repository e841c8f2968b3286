//! `attestor score`: score four inputs and sign the proof ledger into a bundle.

use std::path::Path;

use attestor_core::digest::Sha256Digest;
use attestor_runtime::snapshot_store::{Store, open_store};
use attestor_score::{InputKind, Ledger, ScoringInputs};

use super::bundle_create::{SignOptions, sign_and_write};
use crate::CliError;
use crate::cli::ScoreArgs;
use crate::error::read_file;

/// Reads and parses the four inputs; an error names the file, the JSON pointer and the problem.
pub fn read_inputs(paths: [&Path; 4]) -> Result<([Vec<u8>; 4], ScoringInputs), CliError> {
    let [sbom, feed, vex, policy] = paths.map(read_file);
    let documents = [sbom?, feed?, vex?, policy?];
    let inputs = ScoringInputs::parse(&documents[0], &documents[1], &documents[2], &documents[3])
        .map_err(|e| {
        let path = paths[InputKind::ALL
            .iter()
            .position(|k| *k == e.kind())
            .unwrap_or(0)];
        CliError::input(path, e)
    })?;
    Ok((documents, inputs))
}

/// Opens `--store` for writing: a directory store only.
pub fn open_dir_store(flag: &str, url: &str) -> Result<attestor_score::DirStore, CliError> {
    match open_store(url).map_err(|e| CliError::Usage(format!("{flag}: {e}")))? {
        Store::Dir(store) => Ok(store),
        Store::Http(_) => Err(CliError::Usage(format!(
            "{flag} {url:?}: HTTP snapshot stores are read-only; give a directory or file:///dir"
        ))),
    }
}

pub fn score(args: &ScoreArgs) -> Result<Ledger, CliError> {
    let paths = [
        args.sbom.as_path(),
        args.feed.as_path(),
        args.vex.as_path(),
        args.policy.as_path(),
    ];
    let artifact: Sha256Digest = args
        .artifact
        .parse()
        .map_err(|e| CliError::Usage(format!("--artifact {:?}: {e}", args.artifact)))?;
    let created_at = match &args.created_at {
        Some(t) => super::parse_time("--created-at", t)?,
        None => jiff::Timestamp::now(),
    };
    let store = args
        .store
        .as_deref()
        .map(|url| open_dir_store("--store", url))
        .transpose()?;
    let (documents, inputs) = read_inputs(paths)?;
    let ledger = attestor_score::score(&inputs)
        .map_err(|e| CliError::Usage(format!("cannot score: {e}")))?;
    let manifest = ledger.manifest(&artifact, args.artifact_name.as_deref(), created_at);
    sign_and_write(
        manifest,
        ledger.node_inputs(),
        &SignOptions {
            key: &args.signing.key,
            certificate: args.signing.certificate.as_deref(),
            tlog: args.signing.tlog.as_deref(),
            tlog_key: args.signing.tlog_key.as_deref(),
            tlog_origin: &args.signing.tlog_origin,
            signed_at: created_at,
            output: &args.output,
        },
    )?;
    if let Some(store) = store {
        for ((kind, bytes), path) in InputKind::ALL.into_iter().zip(&documents).zip(paths) {
            store.put_sync(kind, bytes).map_err(|e| {
                CliError::Usage(format!(
                    "cannot put {} into the store {}: {e}",
                    path.display(),
                    store.root().display()
                ))
            })?;
        }
    }
    Ok(ledger)
}

pub fn run(args: &ScoreArgs) -> Result<(), CliError> {
    let ledger = score(args)?;
    println!("wrote {}", args.output.display());
    println!("proof root:  {}", ledger.root);
    println!(
        "score:       {} (threshold {}): {}",
        ledger.score,
        ledger.threshold,
        ledger.verdict.as_str()
    );
    println!(
        "nodes:       {} ({} findings, {} suppressed)",
        ledger.nodes.len(),
        ledger.findings,
        ledger.suppressed
    );
    if let Some(store) = &args.store {
        println!("stored in:   {store} (latest sbom, feed, vex, policy)");
    }
    Ok(())
}
