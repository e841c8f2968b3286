//! Human and machine renderings of a verification report.

use std::fmt::Write as _;
use std::path::Path;

use attestor_core::verify::{CheckStatus, VerificationReport};

pub fn report_json(report: &VerificationReport, bundle: &Path, verbose: bool) -> String {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("bundle".into(), bundle.display().to_string().into());
        if !verbose && let Some(checks) = obj.get_mut("checks").and_then(|c| c.as_array_mut()) {
            for c in checks.iter_mut().filter_map(|c| c.as_object_mut()) {
                c.remove("evidence");
            }
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Sizes as people read them: `812 B`, `3.2 KiB`, `1.4 MiB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub fn report_text(report: &VerificationReport, bundle: &Path, size: u64, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Bundle:      {} ({})",
        bundle.display(),
        human_size(size)
    );
    let _ = writeln!(out, "Artifact:    {}", report.artifact_digest);
    let _ = writeln!(out, "Manifest:    {}", report.manifest_id);
    let _ = writeln!(out, "Proof root:  {}", report.proof_root_hash);
    if let Some(s) = &report.signer {
        let _ = writeln!(
            out,
            "Signer:      {} ({}, trust anchor {})",
            s.key_id, s.algorithm, s.anchor
        );
    }
    if let Some(until) = report.valid_until {
        let _ = writeln!(out, "Valid until: {until}");
    }
    let _ = writeln!(out, "Checks:");
    for c in &report.checks {
        let mark = match c.status {
            CheckStatus::Pass => "PASS",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skipped => "SKIP",
        };
        let _ = writeln!(
            out,
            "  {mark}  {:<16} {:<28} {}",
            c.name.as_str(),
            c.reason,
            c.message
        );
        if verbose {
            for (k, v) in &c.evidence {
                let _ = writeln!(out, "          {k}: {v}");
            }
        }
    }
    if report.verified {
        let _ = writeln!(out, "Result:      VERIFIED");
    } else {
        let _ = writeln!(
            out,
            "Result:      FAILED ({}): {}",
            report.reason, report.message
        );
    }
    out
}
