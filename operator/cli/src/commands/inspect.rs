//! `attestor inspect`.

use attestor_core::bundle::Bundle;
use attestor_core::zip::{ZipLimits, read_zip};

use crate::cli::{InspectArgs, OutputFormat};
use crate::error::{read_file, write_file};
use crate::render::human_size;
use crate::{CliError, EXIT_VERIFIED};

pub fn run(args: &InspectArgs) -> Result<u8, CliError> {
    let bytes = read_file(&args.bundle)?;
    let limits = ZipLimits::default();
    let entries = read_zip(&bytes, &limits).map_err(|e| CliError::input(&args.bundle, e))?;

    // Extract before judging the contents: a malformed bundle is exactly the
    // one someone wants to look inside. `read_zip` has already refused unsafe names.
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
            path: dir.clone(),
            action: "create the directory",
            source,
        })?;
        for e in &entries {
            write_file(&dir.join(&e.name), &e.data)?;
        }
    }
    let files: Vec<(String, usize)> = entries
        .iter()
        .map(|e| (e.name.clone(), e.data.len()))
        .collect();
    let bundle = Bundle::from_entries(entries.into_iter().map(|e| (e.name, e.data)))
        .map_err(|e| CliError::input(&args.bundle, e))?;

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
                "proofRootHash": bundle.score_proof.root_hash,
                "nodeCount": bundle.score_proof.nodes.len(),
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
                println!("  {name:<22} {}", human_size(*size as u64));
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
                bundle.score_proof.root_hash,
                bundle.score_proof.nodes.len()
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
