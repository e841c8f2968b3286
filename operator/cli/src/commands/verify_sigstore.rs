//! `attestor verify --trusted-root`: Sigstore bundles, offline.

use std::fmt::Write as _;

use attestor_core::keys::PublicKey;
use attestor_sigstore::verify::anchoring_warning;
use attestor_sigstore::{
    Artifact, IdentityRule, Matcher, Options, Policy, Thresholds, TlogPolicy, TrustedRoot,
    Verified, verify_bundle_with,
};

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

/// The keyless signers the flags name: --certificate-identity[-regexp] with
/// --certificate-oidc-issuer[-regexp], or gh's --owner/--repo/--signer-* (not both). Empty when
/// none is given; both halves of the first form are needed.
pub(crate) fn keyless_rules(args: &VerifyArgs) -> Result<Vec<IdentityRule>, CliError> {
    let (identity, issuer) = identity_flags(args)?;
    let github = args.github.policy();
    if github.is_set() {
        if identity.is_some() || issuer.is_some() {
            return Err(CliError::Usage(
                "--owner/--repo/--signer-repo/--signer-workflow name the signer as gh attestation verify does: \
                 leave out --certificate-identity and --certificate-oidc-issuer (use --cert-oidc-issuer)"
                    .into(),
            ));
        }
        return Ok(vec![github.rule().map_err(CliError::Usage)?]);
    }
    if github.cert_oidc_issuer.is_some() || github.deny_self_hosted_runners {
        return Err(CliError::Usage(
            "--cert-oidc-issuer and --deny-self-hosted-runners go with --owner or --repo".into(),
        ));
    }
    match (identity, issuer) {
        (Some(subject), Some(issuer)) => Ok(vec![IdentityRule::new(issuer, subject)]),
        (None, None) => Ok(Vec::new()),
        (Some(_), None) => Err(CliError::Usage(
            "keyless verification needs --certificate-oidc-issuer (or -regexp) too".into(),
        )),
        (None, Some(_)) => Err(CliError::Usage(
            "keyless verification needs --certificate-identity (or -regexp) too".into(),
        )),
    }
}

fn policy(args: &VerifyArgs) -> Result<Policy, CliError> {
    let identities = keyless_rules(args)?;
    let key = match args.public_keys.as_slice() {
        [] => None,
        [path] => {
            let text = read_text(path)?;
            let blocks =
                attestor_core::pem::parse_pem(&text).map_err(|e| CliError::input(path, e))?;
            let [block] = blocks.as_slice() else {
                return Err(CliError::input(path, "give exactly one PEM public key"));
            };
            Some(PublicKey::from_spki_der(&block.der).map_err(|e| CliError::input(path, e))?)
        }
        _ => {
            return Err(CliError::Usage(
                "Sigstore bundles take one --public-key".into(),
            ));
        }
    };
    match (&key, identities.is_empty()) {
        (None, true) => {
            return Err(CliError::Usage(
                "Sigstore bundles need --certificate-identity (or --certificate-identity-regexp) \
                 and --certificate-oidc-issuer, gh's --owner or --repo, or --public-key for a \
                 bundle signed with a key"
                    .into(),
            ));
        }
        (Some(_), false) => {
            return Err(CliError::Usage(
                "--public-key and --certificate-identity exclude each other".into(),
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
            Artifact::parse_digest(d).map_err(|e| CliError::Usage(format!("--artifact: {e}")))?
        }
        (None, None) => Artifact::None,
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

/// The evidence thresholds: the trusted root's defaults, then the flags.
fn options<'a>(args: &VerifyArgs, root: &TrustedRoot) -> Options<'a> {
    let implied = Options::for_root(root);
    Options {
        tlog: if args.offline {
            TlogPolicy::IfPresent
        } else {
            implied.tlog
        },
        thresholds: Thresholds {
            tlog_entries: match (
                args.evidence.insecure_ignore_tlog,
                args.evidence.tlog_threshold,
                args.offline,
            ) {
                (true, _, _) => Some(0),
                (false, Some(n), _) => Some(n),
                (false, None, true) => None,
                (false, None, false) => implied.thresholds.tlog_entries,
            },
            signed_timestamps: args
                .evidence
                .timestamp_threshold
                .or(args.evidence.use_signed_timestamps.then_some(1)),
            scts: args
                .evidence
                .sct_threshold
                .or(args.evidence.insecure_ignore_sct.then_some(0)),
        },
        min_bundle_version: match args.evidence.min_bundle_version.as_deref() {
            Some("0.2") => 2,
            Some("0.3") => 3,
            _ => 1,
        },
        ..implied
    }
}

/// Identity patterns that match more than they seem to, said on stderr (the verdict on
/// stdout is unchanged: cosign accepts the same patterns).
fn warn_unanchored(args: &VerifyArgs) {
    for (flag, pattern) in [
        (
            "--certificate-identity-regexp",
            &args.certificate_identity_regexp,
        ),
        (
            "--certificate-oidc-issuer-regexp",
            &args.certificate_oidc_issuer_regexp,
        ),
    ] {
        if let Some(w) = pattern.as_deref().and_then(anchoring_warning) {
            eprintln!("warning: {flag}: {w}");
        }
    }
}

pub fn verify(args: &VerifyArgs) -> Result<u8, CliError> {
    let policy = policy(args)?;
    warn_unanchored(args);
    let root = super::tuf::trusted_root(args)?.expect("sigstore mode");
    let bundle = read_file(bundle_path(args))?;
    match verify_bundle_with(&bundle, &root, &policy, &options(args, &root)) {
        Ok(v) => {
            match args.output {
                OutputFormat::Json => println!("{}", json(&v, args)),
                OutputFormat::Text => print!("{}", text(&v, args)),
            }
            Ok(EXIT_VERIFIED)
        }
        Err(e) if e.is_input_error() => Err(CliError::input(bundle_path(args), e)),
        // Not a verdict on the bundle: the command line left out what it needs.
        Err(e @ attestor_sigstore::SigstoreError::ArtifactRequired(_)) => Err(CliError::Usage(
            format!("{e} (--artifact-file FILE or --artifact sha256:<hex>)"),
        )),
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
        "payloadType": v.payload_type,
        "notChecked": v.unchecked,
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
    if v.timestamps > 0 {
        let _ = writeln!(out, "Timestamps:  {} RFC 3161", v.timestamps);
    }
    // An in-toto statement is the usual payload; another type is worth a line.
    if let Some(ty) = v
        .payload_type
        .as_ref()
        .filter(|t| *t != "application/vnd.in-toto+json")
    {
        let _ = writeln!(out, "Payload:     {ty}");
    }
    for what in &v.unchecked {
        let _ = writeln!(out, "Not checked: {what}");
    }
    let _ = writeln!(out, "Result:      VERIFIED");
    out
}
