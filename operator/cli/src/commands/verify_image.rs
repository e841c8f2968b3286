//! `attestor verify --image REF@sha256:…`: what `cosign verify IMAGE` does, with this project's
//! reasons and exit codes. Discovery is the operator's ([`RegistryClient::discover`]) and so is
//! the verdict ([`attestor_runtime::registry::verdict`]): the command line and a cluster decide
//! alike.

use std::fmt::Write as _;
use std::sync::Arc;

use attestor_oci::classify::CandidateKind;
use attestor_runtime::registry::Discovery;
use attestor_runtime::registry::verdict::{
    CandidateVerdict, Keyless, RegistryTrust, Summary, summarize, verify_candidates,
};
use attestor_sigstore::TrustedRoot;

use super::registry::{client, credentials, pinned_image, registry_failure, runtime};
use super::verify_sigstore::keyless_rules;
use crate::anchors::load_trust_store;
use crate::cli::{OutputFormat, VerifyArgs};
use crate::{CliError, EXIT_FAILED, EXIT_VERIFIED};

/// The kinds a user may ask for; `Unknown` referrers are always listed, never verified.
const KINDS: [CandidateKind; 4] = [
    CandidateKind::CosignSignature,
    CandidateKind::CosignAttestation,
    CandidateKind::SigstoreBundle,
    CandidateKind::ProofBundle,
];

fn kinds(args: &VerifyArgs) -> Result<Vec<CandidateKind>, CliError> {
    let mut out: Vec<CandidateKind> = if args.kinds.is_empty() {
        KINDS.to_vec()
    } else {
        args.kinds
            .iter()
            .map(|k| {
                CandidateKind::parse(k)
                    .filter(|k| *k != CandidateKind::Unknown)
                    .ok_or_else(|| {
                        CliError::Usage(format!(
                            "--kind {k:?}: give one of {}",
                            KINDS.map(CandidateKind::as_str).join(", ")
                        ))
                    })
            })
            .collect::<Result<_, _>>()?
    };
    out.push(CandidateKind::Unknown);
    Ok(out)
}

/// The issuer's trust as flags give it: keys (`--public-key`, `--trust-anchor`) for key-signed
/// candidates and proof bundles, a trusted root with identities for keyless ones.
fn trust(args: &VerifyArgs) -> Result<RegistryTrust, CliError> {
    let options = super::verify::options(args)?;
    if options.expected_artifact.is_some() || args.artifact_file.is_some() {
        return Err(CliError::Usage(
            "--artifact and --artifact-file apply to files: with --image the artifact is the image digest".into(),
        ));
    }
    // Keyless-only trust has no keys; load_trust_store insists on some.
    let store = if args.trust_anchors.is_empty() && args.public_keys.is_empty() {
        attestor_core::trust::TrustStore::default()
    } else {
        load_trust_store(&args.trust_anchors, &args.public_keys)?
    };
    let identities = keyless_rules(args)?;
    let roots: Vec<Arc<TrustedRoot>> = super::tuf::trusted_root(args)?
        .into_iter()
        .map(Arc::new)
        .collect();
    if !identities.is_empty() && roots.is_empty() {
        return Err(CliError::Usage(
            "--certificate-identity needs --trusted-root (the trusted_root.json of the Sigstore \
             instance that issued the certificate)"
                .into(),
        ));
    }
    if store.anchors().is_empty() && identities.is_empty() {
        return Err(CliError::Usage(
            "say whom to trust: --public-key or --trust-anchor for key-signed images, or \
             --trusted-root with --certificate-identity and --certificate-oidc-issuer for keyless ones"
                .into(),
        ));
    }
    Ok(RegistryTrust::new(
        store,
        Keyless { roots, identities },
        args.predicate_type.clone(),
        options,
    ))
}

pub fn verify(args: &VerifyArgs) -> Result<u8, CliError> {
    let text = args.image.as_deref().expect("image mode");
    let image = pinned_image(text)?;
    let digest = image.digest.expect("pinned");
    let kinds = kinds(args)?;
    let trust = trust(args)?;
    let credentials = credentials(&args.registry)?;
    let client = client(&args.registry)?;
    let discovery =
        match runtime()?.block_on(client.discover(&image, &digest, &kinds, &credentials)) {
            Ok(d) => d,
            Err(e) => {
                if matches!(args.output, OutputFormat::Json) {
                    let doc = serde_json::json!({
                        "verified": false,
                        "image": text,
                        "reason": e.reason(),
                        "message": e.to_string(),
                    });
                    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                }
                return Ok(registry_failure(&e));
            }
        };
    let verdicts = verify_candidates(&discovery, &digest, &trust);
    let summary = summarize(&verdicts);
    match args.output {
        OutputFormat::Json => println!("{}", json(text, &discovery, &verdicts, &summary)),
        OutputFormat::Text => print!(
            "{}",
            render_text(text, &discovery, &verdicts, &summary, args.verbose)
        ),
    }
    Ok(if summary.verified {
        EXIT_VERIFIED
    } else {
        EXIT_FAILED
    })
}

fn json(
    image: &str,
    discovery: &Discovery,
    verdicts: &[CandidateVerdict],
    summary: &Summary,
) -> String {
    let doc = serde_json::json!({
        "verified": summary.verified,
        "image": image,
        "reason": summary.reason,
        "message": summary.message,
        "listedVia": discovery.source.as_str(),
        "requests": discovery.requests,
        "truncated": discovery.truncated,
        "candidates": verdicts.iter().map(|v| serde_json::json!({
            "digest": v.digest,
            "kind": v.kind.as_str(),
            "foundVia": v.source.as_str(),
            "verified": v.verified,
            "reason": v.reason,
            "message": v.message,
            "signer": v.signer,
            "predicateType": v.predicate_type,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn render_text(
    image: &str,
    discovery: &Discovery,
    verdicts: &[CandidateVerdict],
    summary: &Summary,
    verbose: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Image:       {image}");
    let _ = writeln!(
        out,
        "Found:       {} candidate(s) via {} ({} requests){}",
        verdicts.len(),
        match discovery.source.as_str() {
            "referrers" => "the referrers API",
            _ => "the fallback tag",
        },
        discovery.requests,
        if discovery.truncated {
            "; more were listed than examined"
        } else {
            ""
        }
    );
    for (i, v) in verdicts.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} {:<17} {:<20} {}{}",
            v.digest,
            v.kind.as_str(),
            v.source.as_str(),
            v.reason,
            v.signer
                .as_ref()
                .filter(|_| v.verified)
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        );
        if verbose || (!v.verified && summary.decisive == Some(i)) {
            let _ = writeln!(out, "      {}", v.message);
        }
    }
    // The deciding candidate's message is printed under it; the result line only names it.
    match (summary.verified, summary.decisive) {
        (true, _) => {
            let _ = writeln!(out, "Result:      VERIFIED");
        }
        (false, Some(i)) => {
            let _ = writeln!(
                out,
                "Result:      FAILED ({}): no candidate verified; the first failure is {}",
                summary.reason, verdicts[i].digest
            );
        }
        (false, None) => {
            let _ = writeln!(
                out,
                "Result:      FAILED ({}): {}",
                summary.reason, summary.message
            );
        }
    }
    out
}
