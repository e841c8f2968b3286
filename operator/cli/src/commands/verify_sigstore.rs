//! `attestor verify --trusted-root`: Sigstore bundles, offline.

use std::fmt::Write as _;

use attestor_sigstore::crypto::Key;
use attestor_sigstore::{Artifact, IdentityRule, Matcher, Policy, Verified, verify_bundle};

use crate::cli::{OutputFormat, VerifyArgs};
use crate::error::{read_file, read_text};
use crate::{CliError, EXIT_FAILED, EXIT_VERIFIED};

/// Artifacts are hashed in memory; larger ones can be verified by `--artifact sha256:…`.
const MAX_ARTIFACT_LEN: u64 = 1 << 30;

fn matcher(
    exact: &Option<String>,
    regexp: &Option<String>,
    flag: &str,
) -> Result<Option<Matcher>, CliError> {
    match (exact, regexp) {
        (Some(e), _) => Ok(Some(Matcher::Exact(e.clone()))),
        (None, Some(r)) => Matcher::regex(r)
            .map(Some)
            .map_err(|e| CliError::Usage(format!("{flag}-regexp {r:?}: {e}"))),
        (None, None) => Ok(None),
    }
}

/// `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`, compiled.
pub(crate) fn identity_flags(
    args: &VerifyArgs,
) -> Result<(Option<Matcher>, Option<Matcher>), CliError> {
    Ok((
        matcher(
            &args.certificate_identity,
            &args.certificate_identity_regexp,
            "--certificate-identity",
        )?,
        matcher(
            &args.certificate_oidc_issuer,
            &args.certificate_oidc_issuer_regexp,
            "--certificate-oidc-issuer",
        )?,
    ))
}

fn policy(args: &VerifyArgs) -> Result<Policy, CliError> {
    let (identity, issuer) = identity_flags(args)?;
    let key = match args.public_keys.as_slice() {
        [] => None,
        [path] => {
            let text = read_text(path)?;
            let blocks =
                attestor_core::pem::parse_pem(&text).map_err(|e| CliError::input(path, e))?;
            let [block] = blocks.as_slice() else {
                return Err(CliError::input(path, "give exactly one PEM public key"));
            };
            Some(Key::from_spki_der(&block.der).map_err(|e| CliError::input(path, e))?)
        }
        _ => {
            return Err(CliError::Usage(
                "Sigstore bundles take one --public-key".into(),
            ));
        }
    };
    match (&key, &identity) {
        (None, None) => {
            return Err(CliError::Usage(
                "Sigstore bundles need --certificate-identity (or --certificate-identity-regexp) \
                 and --certificate-oidc-issuer, or --public-key for a bundle signed with a key"
                    .into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "--public-key and --certificate-identity exclude each other".into(),
            ));
        }
        (None, Some(_)) if issuer.is_none() => {
            return Err(CliError::Usage(
                "keyless verification needs --certificate-oidc-issuer (or -regexp) too".into(),
            ));
        }
        _ => {}
    }
    if !args.trust_anchors.is_empty() {
        return Err(CliError::Usage(
            "--trust-anchor applies to proof bundles; Sigstore bundles trust --trusted-root".into(),
        ));
    }
    let artifact = match (&args.artifact_file, &args.artifact) {
        (Some(path), _) => {
            let len = std::fs::metadata(path)
                .map_err(|source| CliError::Io {
                    path: path.clone(),
                    action: "read it",
                    source,
                })?
                .len();
            if len > MAX_ARTIFACT_LEN {
                return Err(CliError::input(
                    path,
                    "is larger than 1 GiB: give its digest with --artifact sha256:<hex>",
                ));
            }
            Artifact::Bytes(read_file(path)?)
        }
        (None, Some(d)) => {
            let digest: attestor_core::digest::Sha256Digest = d
                .parse()
                .map_err(|e| CliError::Usage(format!("--artifact: {e}")))?;
            Artifact::Sha256(*digest.as_bytes())
        }
        (None, None) => Artifact::None,
    };
    let identities = match (identity, issuer) {
        (Some(subject), Some(issuer)) => vec![IdentityRule { issuer, subject }],
        _ => Vec::new(),
    };
    Ok(Policy {
        identities,
        key,
        artifact,
        predicate_type: args.predicate_type.clone(),
    })
}

/// The bundle file; this mode is entered only with `--bundle`.
fn bundle_path(args: &VerifyArgs) -> &std::path::Path {
    args.bundle.as_deref().unwrap_or(std::path::Path::new("-"))
}

pub fn verify(args: &VerifyArgs) -> Result<u8, CliError> {
    let policy = policy(args)?;
    if matches!(policy.artifact, Artifact::None) && policy.predicate_type.is_none() {
        return Err(CliError::Usage(
            "Sigstore bundles need --artifact-file FILE or --artifact sha256:<hex> \
             (or, for DSSE, --predicate-type)"
                .into(),
        ));
    }
    let root = super::tuf::trusted_root(args)?.expect("sigstore mode");
    let bundle = read_file(bundle_path(args))?;
    match verify_bundle(&bundle, &root, &policy) {
        Ok(v) => {
            match args.output {
                OutputFormat::Json => println!("{}", json(&v, args)),
                OutputFormat::Text => print!("{}", text(&v, args)),
            }
            Ok(EXIT_VERIFIED)
        }
        Err(e) if e.is_input_error() => Err(CliError::input(bundle_path(args), e)),
        Err(e) => {
            match args.output {
                OutputFormat::Json => {
                    let doc = serde_json::json!({
                        "verified": false,
                        "format": "sigstore",
                        "reason": e.reason(),
                        "message": e.to_string(),
                        "bundle": bundle_path(args).display().to_string(),
                    });
                    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                }
                OutputFormat::Text => {
                    println!("Bundle:      {} (Sigstore)", bundle_path(args).display());
                    println!("Result:      FAILED ({}): {e}", e.reason());
                }
            }
            Ok(EXIT_FAILED)
        }
    }
}

fn json(v: &Verified, args: &VerifyArgs) -> String {
    let doc = serde_json::json!({
        "verified": true,
        "format": "sigstore",
        "reason": "Verified",
        "bundle": bundle_path(args).display().to_string(),
        "bundleVersion": v.bundle_version,
        "content": v.content,
        "identity": v.identity,
        "issuer": v.issuer,
        "keySha256": v.key_sha256,
        "predicateType": v.predicate_type,
        "signingTimes": v.signing_times.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "rfc3161Timestamps": v.timestamps,
        "tlogEntries": v.tlog_entries.iter().map(|(log, index)| serde_json::json!({"log": log, "logIndex": index})).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn text(v: &Verified, args: &VerifyArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Bundle:      {} (Sigstore bundle v{}, {})",
        bundle_path(args).display(),
        v.bundle_version,
        v.content
    );
    if let Some(id) = &v.identity {
        let _ = writeln!(out, "Identity:    {id}");
    }
    if let Some(issuer) = &v.issuer {
        let _ = writeln!(out, "Issuer:      {issuer}");
    }
    if let Some(key) = &v.key_sha256 {
        let _ = writeln!(out, "Key:         sha256:{key}");
    }
    if let Some(pt) = &v.predicate_type {
        let _ = writeln!(out, "Predicate:   {pt}");
    }
    for t in &v.signing_times {
        let _ = writeln!(out, "Signed at:   {t}");
    }
    for (log, index) in &v.tlog_entries {
        let _ = writeln!(out, "Logged:      {log} entry {index}");
    }
    let _ = writeln!(out, "Result:      VERIFIED");
    out
}
