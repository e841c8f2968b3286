//! `attestor verify`.

use std::collections::HashSet;

use attestor_core::digest::Sha256Digest;
use attestor_core::verify::{CheckName, TimestampWindow, TlogPolicy, VerifyOptions, verify_zip};
use attestor_core::zip::ZipLimits;

use crate::anchors::load_trust_store;
use crate::cli::{OutputFormat, VerifyArgs};
use crate::error::read_bundle;
use crate::{CliError, EXIT_FAILED, EXIT_VERIFIED, render};
use attestor_api::duration::parse as parse_duration;

/// Turns the flags into verification options.
pub fn options(args: &VerifyArgs) -> Result<VerifyOptions, CliError> {
    let at = match &args.at {
        Some(t) => super::parse_time("--at", t)?,
        None => jiff::Timestamp::now(),
    };
    let mut requested = HashSet::new();
    for name in &args.checks {
        let check = CheckName::parse(name).ok_or_else(|| {
            CliError::Usage(format!(
                "--check {name:?} is not a check; the checks are {}",
                CheckName::ALL.map(CheckName::as_str).join(", ")
            ))
        })?;
        requested.insert(check);
    }
    let wants = |c: CheckName| requested.is_empty() || requested.contains(&c);
    let tlog = match (wants(CheckName::RekorInclusion), args.offline) {
        (false, _) => TlogPolicy::Skip,
        (true, true) => TlogPolicy::IfPresent,
        (true, false) => TlogPolicy::Required,
    };
    let timestamps = if wants(CheckName::TimestampValid) {
        Some(TimestampWindow {
            max_age: args
                .max_age
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(CliError::Usage)?,
            clock_skew: parse_duration(&args.clock_skew).map_err(CliError::Usage)?,
        })
    } else {
        None
    };
    let expected_artifact = args
        .artifact
        .as_deref()
        .map(|a| a.parse::<Sha256Digest>())
        .transpose()
        .map_err(|e| CliError::Usage(format!("--artifact: {e}")))?;
    Ok(VerifyOptions {
        at,
        tlog,
        timestamps,
        expected_artifact,
    })
}

pub fn run(args: &VerifyArgs) -> Result<u8, CliError> {
    let result = verify(args);
    if let (Err(e), OutputFormat::Json) = (&result, args.output) {
        // Machine readers get a verdict on stdout even when the input is unreadable.
        let doc = serde_json::json!({
            "verified": false,
            "reason": e.reason(),
            "message": e.to_string(),
            "bundle": args.bundle.as_ref().map(|b| b.display().to_string()),
            "image": args.image,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    result
}

fn verify(args: &VerifyArgs) -> Result<u8, CliError> {
    let Some(bundle) = &args.bundle else {
        return super::verify_image::verify(args);
    };
    if super::tuf::given(args) {
        return super::verify_sigstore::verify(args);
    }
    for (flag, given) in [
        (
            "--certificate-identity",
            args.certificate_identity.is_some(),
        ),
        (
            "--certificate-identity-regexp",
            args.certificate_identity_regexp.is_some(),
        ),
        (
            "--certificate-oidc-issuer",
            args.certificate_oidc_issuer.is_some(),
        ),
        (
            "--certificate-oidc-issuer-regexp",
            args.certificate_oidc_issuer_regexp.is_some(),
        ),
        ("--artifact-file", args.artifact_file.is_some()),
        ("--predicate-type", args.predicate_type.is_some()),
    ] {
        if given {
            return Err(CliError::Usage(format!(
                "{flag} applies to Sigstore bundles: give --trusted-root too"
            )));
        }
    }
    let opts = options(args)?;
    let trust = load_trust_store(&args.trust_anchors, &args.public_keys)?;
    let bytes = read_bundle(bundle)?;
    // Authenticates before the ledger is read: an unsigned bundle costs
    // only its small entries.
    let report = verify_zip(&bytes, &ZipLimits::default(), &trust, &opts)
        .map_err(|e| CliError::input(bundle, e))?;
    match args.output {
        OutputFormat::Json => println!("{}", render::report_json(&report, bundle, args.verbose)),
        OutputFormat::Text => print!(
            "{}",
            render::report_text(&report, bundle, bytes.len() as u64, args.verbose)
        ),
    }
    Ok(if report.verified {
        EXIT_VERIFIED
    } else {
        EXIT_FAILED
    })
}
