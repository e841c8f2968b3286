//! `attestor score`: score four inputs and sign the proof ledger into a bundle.

use std::path::Path;

use attestor_core::digest::Sha256Digest;
use attestor_runtime::snapshot_store::{Store, open_store};
use attestor_score::inputs::container::{self, FeedForm, FeedLimits};
use attestor_score::inputs::policy::Policy;
use attestor_score::inputs::sbom::Sbom;
use attestor_score::inputs::vex::Vex;
use attestor_score::{InputKind, Ledger, ScoringInputs};

use super::bundle_create::{SignOptions, sign_and_write};
use crate::CliError;
use crate::cli::ScoreArgs;
use crate::error::read_file;

/// The four inputs as read: the documents to put into a store and the parsed inputs.
pub struct ReadInputs {
    /// What a snapshot store keeps of each input; for a feed directory, ZIP
    /// or YAML file, the assembled feed document.
    pub documents: [Vec<u8>; 4],
    pub inputs: ScoringInputs,
    pub feed_form: FeedForm,
    pub feed_files: usize,
    pub feed_skipped: usize,
}

/// Reads and parses the four inputs; an error names the file (for a feed
/// directory or ZIP, also the advisory file), the JSON pointer and the problem.
/// The feed may be a directory, a ZIP archive, YAML or JSON.
pub fn read_inputs(paths: [&Path; 4]) -> Result<ReadInputs, CliError> {
    let [sbom_path, feed_path, vex_path, policy_path] = paths;
    let sbom = read_file(sbom_path)?;
    let vex = read_file(vex_path)?;
    let policy = read_file(policy_path)?;
    let snapshot = container::load_path(feed_path, &FeedLimits::default())
        .map_err(|e| CliError::input(feed_path, e))?;
    let inputs = ScoringInputs {
        sbom: Sbom::parse(&sbom).map_err(|e| CliError::input(sbom_path, e))?,
        vex: Vex::parse(&vex).map_err(|e| CliError::input(vex_path, e))?,
        policy: Policy::parse(&policy).map_err(|e| CliError::input(policy_path, e))?,
        feed: snapshot.feed,
    };
    let feed = match snapshot.assembled {
        Some(assembled) => assembled,
        None => read_file(feed_path)?,
    };
    Ok(ReadInputs {
        documents: [sbom, feed, vex, policy],
        inputs,
        feed_form: snapshot.form,
        feed_files: snapshot.files,
        feed_skipped: snapshot.skipped,
    })
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

pub fn score(args: &ScoreArgs) -> Result<(Ledger, ReadInputs), CliError> {
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
    let read = read_inputs(paths)?;
    let ledger = attestor_score::score(&read.inputs)
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
        for ((kind, bytes), path) in InputKind::ALL.into_iter().zip(&read.documents).zip(paths) {
            store.put_sync(kind, bytes).map_err(|e| {
                CliError::Usage(format!(
                    "cannot put {} into the store {}: {e}",
                    path.display(),
                    store.root().display()
                ))
            })?;
        }
    }
    Ok((ledger, read))
}

/// A CycloneDX SBOM's own VEX analyses are applied beside the VEX input
/// (score version 2): said, with how many became statements, so that their
/// effect on the score is never a surprise.
fn embedded_vex_line(read: &ReadInputs) -> Option<String> {
    let sbom = &read.inputs.sbom;
    let vex = sbom.embedded.vex()?;
    Some(format!(
        "embedded vex: {} CycloneDX VEX analyses in the SBOM ({} statements; {} product \
         references without a package URL), applied with the VEX input's",
        sbom.embedded_vex,
        vex.statements.len(),
        vex.unresolved
    ))
}

pub fn run(args: &ScoreArgs) -> Result<(), CliError> {
    let (ledger, read) = score(args)?;
    println!("wrote {}", args.output.display());
    let feed = &read.inputs.feed;
    let form = match read.feed_form {
        FeedForm::Document => "feed document".to_string(),
        FeedForm::Array => format!("array of {}", read.feed_files),
        FeedForm::Advisory => "one advisory".to_string(),
        FeedForm::Directory | FeedForm::Zip => {
            let what = if read.feed_form == FeedForm::Zip {
                "ZIP"
            } else {
                "directory"
            };
            format!(
                "{what} of {} advisory files, {} other files skipped",
                read.feed_files, read.feed_skipped
            )
        }
    };
    println!(
        "feed:        {} ({} advisories in effect; {form})",
        feed.digest,
        feed.advisories.len()
    );
    let sbom = &read.inputs.sbom;
    println!(
        "sbom:        {} ({}, {} components; {} without a package URL skipped)",
        sbom.digest,
        sbom.format.name(),
        sbom.components.len(),
        sbom.skipped
    );
    let vex = &read.inputs.vex;
    println!(
        "vex:         {} ({}, {} statements; {} product references without a package URL)",
        vex.digest,
        vex.format.name(),
        vex.statements.len(),
        vex.unresolved
    );
    if let Some(line) = embedded_vex_line(&read) {
        println!("{line}");
    }
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
