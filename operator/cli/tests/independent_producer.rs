//! Bundles made by an independent producer (`tests/independent/make_bundle.py`,
//! Python standard library + the `openssl` CLI, written from
//! `docs/proof-bundle-format.md` alone) must verify, and its deliberately broken
//! variants must fail with the check and reason the spec's section 10 names.
//!
//! Needs `python3` and `openssl` on PATH. Without them the tests print why and
//! pass, except when `CI=true`, where a missing tool is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CHECKS: [&str; 5] = [
    "signatureValid",
    "idRecomputed",
    "merklePathValid",
    "rekorInclusion",
    "timestampValid",
];
const SIGNED_AT: &str = "2026-11-01T09:30:00Z";
const VERIFY_AT: &str = "2026-11-23T00:00:00Z";
const P256: &str = "test-only-signing";
const ED25519: &str = "test-only-signing-ed25519";
const LOG: &str = "test-only-log";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn key(name: &str) -> PathBuf {
    repo().join("examples/keys").join(format!("{name}.pem"))
}

fn public_key(name: &str) -> PathBuf {
    repo().join("examples/keys").join(format!("{name}.pub.pem"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn runs(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// True when python3 and openssl are usable. Otherwise prints a one-line reason
/// and returns false, or panics when running in CI.
fn tools_present(test: &str) -> bool {
    let missing: Vec<&str> = [("python3", "--version"), ("openssl", "version")]
        .into_iter()
        .filter(|(cmd, arg)| !runs(cmd, arg))
        .map(|(cmd, _)| cmd)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(" and ");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {what} not found on PATH, and CI=true forbids skipping");
    }
    println!("skipping {test}: {what} not found on PATH (with CI=true this fails)");
    false
}

/// What one producer run should make.
struct Spec<'a> {
    signing_key: &'a str,
    /// (log size, 0-based log index) of a transparency-log entry, signed by `log_key`.
    log: Option<(u64, u64)>,
    log_key: &'a str,
    tamper: Option<&'a str>,
    extra: &'a [&'a str],
    manifest: Option<PathBuf>,
    ledger: Option<PathBuf>,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            signing_key: P256,
            log: Some((7, 3)),
            log_key: LOG,
            tamper: None,
            extra: &[],
            manifest: None,
            ledger: None,
        }
    }
}

/// Runs the Python producer; returns the bundle path and the ids it printed.
fn produce(dir: &Path, name: &str, spec: &Spec) -> (PathBuf, Value) {
    let out = dir.join(format!("{name}.zip"));
    let manifest = spec
        .manifest
        .clone()
        .unwrap_or_else(|| repo().join("examples/inputs/manifest.json"));
    let ledger = spec
        .ledger
        .clone()
        .unwrap_or_else(|| repo().join("examples/inputs/ledger.json"));
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("operator/cli/tests/independent/make_bundle.py"))
        .arg("--manifest")
        .arg(&manifest)
        .arg("--ledger")
        .arg(&ledger)
        .arg("--key")
        .arg(key(spec.signing_key))
        .args(["--signed-at", SIGNED_AT])
        .arg("--out")
        .arg(&out);
    if let Some((size, index)) = spec.log {
        cmd.arg("--log-key")
            .arg(key(spec.log_key))
            .args(["--log-size", &size.to_string()])
            .args(["--log-index", &index.to_string()]);
    }
    if let Some(kind) = spec.tamper {
        cmd.args(["--tamper", kind]);
    }
    cmd.args(spec.extra);
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{name}: producer failed: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: producer output is not JSON ({e}): {}",
            text(&o.stdout)
        )
    });
    (out, printed)
}

/// Runs `attestor verify --output json`; returns the exit code and the report.
fn verify(name: &str, bundle: &Path, anchors: &[&str], offline: bool) -> (i32, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_attestor"));
    cmd.arg("verify").arg("--bundle").arg(bundle);
    for a in anchors {
        cmd.arg("--trust-anchor").arg(public_key(a));
    }
    cmd.args(["--output", "json", "--at", VERIFY_AT]);
    if offline {
        cmd.arg("--offline");
    }
    let o: Output = cmd.current_dir(repo()).output().unwrap();
    let code = o.status.code().expect("exited normally, not by a signal");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: verify output is not JSON ({e}), exit {code}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        )
    });
    (code, report)
}

/// (status, reason) of every check, in the fixed order of section 10.
fn checks(name: &str, report: &Value) -> Vec<(String, String)> {
    let list = report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: report has no checks: {report:#}"));
    CHECKS
        .iter()
        .map(|want| {
            let c = list
                .iter()
                .find(|c| c["name"] == *want)
                .unwrap_or_else(|| panic!("{name}: check {want} missing from {report:#}"));
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Asserts the bundle verifies: exit 0 and every check passes, except
/// rekorInclusion, which is skipped when there is no log entry and `offline`.
fn assert_verifies(name: &str, bundle: &Path, anchors: &[&str], offline: bool, has_log: bool) {
    let (code, report) = verify(name, bundle, anchors, offline);
    assert_eq!(code, 0, "{name}: expected exit 0: {report:#}");
    assert_eq!(report["verified"], true, "{name}: {report:#}");
    for (check, (status, reason)) in CHECKS.iter().zip(checks(name, &report)) {
        let want = if *check == "rekorInclusion" && !has_log {
            "skipped"
        } else {
            "pass"
        };
        assert_eq!(
            status, want,
            "{name}: {check} is {status} ({reason}), expected {want}: {report:#}"
        );
    }
}

/// Asserts exit 1 with exactly `check` failing for `reason`; the rest pass
/// (rekorInclusion may be skipped when offline without a log entry), except
/// that a failed signature leaves the ledger checks skipped, not read.
fn assert_fails(
    name: &str,
    bundle: &Path,
    anchors: &[&str],
    offline: bool,
    check: &str,
    reason: &str,
) {
    let (code, report) = verify(name, bundle, anchors, offline);
    assert_eq!(code, 1, "{name}: expected exit 1: {report:#}");
    assert_eq!(report["verified"], false, "{name}: {report:#}");
    for (c, (status, why)) in CHECKS.iter().zip(checks(name, &report)) {
        if *c == check {
            assert_eq!(
                (status.as_str(), why.as_str()),
                ("fail", reason),
                "{name}: {c}: {report:#}"
            );
        } else if check == "signatureValid" && ["idRecomputed", "merklePathValid"].contains(c) {
            // An unauthenticated bundle's ledger is never read.
            assert_eq!(
                (status.as_str(), why.as_str()),
                ("skipped", "NotAuthenticated"),
                "{name}: {c}: {report:#}"
            );
        } else {
            let ok = status == "pass" || (offline && *c == "rekorInclusion" && status == "skipped");
            assert!(
                ok,
                "{name}: {c} is {status} ({why}), only {check} should fail: {report:#}"
            );
        }
    }
}

#[test]
fn untampered_bundles_verify_with_and_without_a_log_entry() {
    if !tools_present("untampered_bundles_verify_with_and_without_a_log_entry") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for signer in [P256, ED25519] {
        // With a transparency-log entry: every check passes, online.
        let spec = Spec {
            signing_key: signer,
            ..Spec::default()
        };
        let name = format!("{signer}-logged");
        let (bundle, printed) = produce(dir.path(), &name, &spec);
        assert_verifies(&name, &bundle, &[signer, LOG], false, true);

        // The verifier computed the same ids as the producer.
        let (_, report) = verify(&name, &bundle, &[signer, LOG], false);
        assert_eq!(report["manifestId"], printed["manifestId"], "{name}");
        assert_eq!(report["proofRootHash"], printed["proofRootHash"], "{name}");
        assert_eq!(
            report["signer"]["keyId"], printed["keyId"],
            "{name}: key id"
        );

        // Without one: verifies offline, and online it is missing.
        let spec = Spec {
            signing_key: signer,
            log: None,
            ..Spec::default()
        };
        let name = format!("{signer}-unlogged");
        let (bundle, _) = produce(dir.path(), &name, &spec);
        assert_verifies(&name, &bundle, &[signer, LOG], true, false);
        assert_fails(
            &format!("{name}-online"),
            &bundle,
            &[signer, LOG],
            false,
            "rekorInclusion",
            "TransparencyLogEntryMissing",
        );
    }
}

#[test]
fn tampered_bundles_fail_the_documented_check() {
    if !tools_present("tampered_bundles_fail_the_documented_check") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table: [(&str, &str, &str); 8] = [
        ("manifest", "idRecomputed", "ManifestMismatch"),
        ("node", "idRecomputed", "NodeIdMismatch"),
        ("root", "merklePathValid", "MerkleRootMismatch"),
        ("signature", "signatureValid", "SignatureInvalid"),
        ("statement-signature", "signatureValid", "SignatureInvalid"),
        ("inclusion", "rekorInclusion", "InclusionProofInvalid"),
        ("checkpoint", "rekorInclusion", "CheckpointSignatureInvalid"),
        ("meta-time", "timestampValid", "TimestampMismatch"),
    ];
    for signer in [P256, ED25519] {
        for (kind, check, reason) in table {
            let spec = Spec {
                signing_key: signer,
                tamper: Some(kind),
                ..Spec::default()
            };
            let name = format!("{signer}-tamper-{kind}");
            let (bundle, _) = produce(dir.path(), &name, &spec);
            assert_fails(&name, &bundle, &[signer, LOG], false, check, reason);

            // The same breakage without a log entry, verified offline.
            if check != "rekorInclusion" {
                let spec = Spec {
                    signing_key: signer,
                    tamper: Some(kind),
                    log: None,
                    ..Spec::default()
                };
                let name = format!("{name}-unlogged");
                let (bundle, _) = produce(dir.path(), &name, &spec);
                assert_fails(&name, &bundle, &[signer, LOG], true, check, reason);
            }
        }
    }

    // A checkpoint signed by a key that is not a trust anchor.
    let spec = Spec {
        log_key: "test-only-rogue-log",
        ..Spec::default()
    };
    let (bundle, _) = produce(dir.path(), "rogue-log", &spec);
    assert_fails(
        "rogue-log",
        &bundle,
        &[P256, LOG],
        false,
        "rekorInclusion",
        "LogKeyNotTrusted",
    );
}

#[test]
fn inclusion_proofs_for_every_position_shape() {
    if !tools_present("inclusion_proofs_for_every_position_shape") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for size in [1u64, 2, 3, 5, 7, 8, 9, 64, 1000] {
        let mut indexes = vec![0, size / 2, size - 1];
        indexes.dedup();
        for index in indexes {
            let spec = Spec {
                log: Some((size, index)),
                ..Spec::default()
            };
            let name = format!("log-{index}-of-{size}");
            let (bundle, _) = produce(dir.path(), &name, &spec);
            assert_verifies(&name, &bundle, &[P256, LOG], false, true);
        }
    }
}

#[test]
fn encodings_the_spec_allows_verify() {
    if !tools_present("encodings_the_spec_allows_verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let variants: [(&str, &[&str]); 7] = [
        // Section 2: files may be pretty-printed.
        ("pretty", &["--pretty"]),
        // Section 1: URL-safe and unpadded base64 inside DSSE envelopes.
        ("base64-url", &["--b64", "url"]),
        ("base64-unpadded", &["--b64", "nopad"]),
        // Section 8: ECDSA signatures in the 64-byte r||s form.
        ("ecdsa-raw", &["--ecdsa-raw"]),
        // Sections 4 and 9: unknown envelope members are ignored by the
        // signature check but are part of the log leaf.
        ("envelope-extra", &["--envelope-extra"]),
        // Section 6: the statement payload need not be canonical.
        ("statement-noncanonical", &["--statement-noncanonical"]),
        // Section 4: keyid may be empty.
        ("empty-keyid", &["--empty-keyid"]),
    ];
    for (name, extra) in variants {
        let spec = Spec {
            extra,
            ..Spec::default()
        };
        let (bundle, _) = produce(dir.path(), name, &spec);
        assert_verifies(name, &bundle, &[P256, LOG], false, true);
    }

    // Section 9: the checkpoint may be signed with either algorithm (P-256 here,
    // in both signature forms).
    for (name, extra) in [
        ("p256-log", &[][..]),
        ("p256-log-raw", &["--ecdsa-raw"][..]),
    ] {
        let spec = Spec {
            signing_key: ED25519,
            log_key: P256,
            extra,
            ..Spec::default()
        };
        let (bundle, _) = produce(dir.path(), name, &spec);
        assert_verifies(name, &bundle, &[ED25519, P256], false, true);
    }
}

/// Section 1: RFC 8785 beyond the ASCII-and-integers shortcut: non-ASCII member
/// names ordered by UTF-16 code units (U+1F600 sorts before U+FB33), escapes,
/// and numbers in their ECMAScript form. Manifest id and node ids must agree.
const MANIFEST_EDGES: &str = r#"{
  "schema": "stellaops.io/scan-manifest/v1",
  "artifactDigest": "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822",
  "artifactName": "registry.example/shop/caf\u00e9",
  "inputs": {
    "sbom": "sha256:7eaf488ddc22385e1f7954c1497fce838b479a79497ea8cb8777c745097d6c5b",
    "feedSnapshot": "sha256:34f308a4c384f3bba5e4688ae5a97146da97c07184c861674f84827e9f7318ba",
    "vex": "sha256:6027b86175955920184faa421c8ed153ac3b37f5ee82696c1df923df573b084b",
    "policy": "sha256:b2082c6c89d6e6dffb2df514172f99c28a572f8d4e77b56efbb5607f8d36d84a"
  },
  "createdAt": "2026-11-01T09:00:00Z",
  "deterministic": true,
  "x-edges": {
    "\ufb33": "hebrew", "\ud83d\ude00": "emoji", "\u20ac": "euro", "\u0080": "c1", "\r": "cr", "1": "one",
    "text": "tab\t nl\n ctl\u0001\u001f del\u007f ls\u2028 slash/ quote\" backslash\\",
    "numbers": [0.1, 1E21, 1e-7, 0.000001, 5e-324, -0.0, 333333333.3333333, 9007199254740992, -9007199254740992, 72.0, 1e2, 1.7976931348623157e308, 4.5e-322, -2.5]
  }
}"#;

const LEDGER_EDGES: &str = r#"{"nodes": [
  {"kind": "inputs", "parents": [], "data": {"sbom": "sha256:7eaf488ddc22385e1f7954c1497fce838b479a79497ea8cb8777c745097d6c5b"}},
  {"kind": "match", "parents": [0], "data": {"\ufb33": 1, "\ud83d\ude00": 2, "\u00e9": [0.1, 1E21, 1e-7, -0.0, 72.0]}, "note": "extra member \u00fc"},
  {"kind": "aggregate", "parents": [1, 0], "data": null}
]}"#;

#[test]
fn canonical_json_edge_cases_agree() {
    if !tools_present("canonical_json_edge_cases_agree") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest-edges.json");
    let ledger = dir.path().join("ledger-edges.json");
    std::fs::write(&manifest, MANIFEST_EDGES).unwrap();
    std::fs::write(&ledger, LEDGER_EDGES).unwrap();
    for pretty in [false, true] {
        let spec = Spec {
            manifest: Some(manifest.clone()),
            ledger: Some(ledger.clone()),
            extra: if pretty { &["--pretty"] } else { &[] },
            ..Spec::default()
        };
        let name = format!("edges-pretty-{pretty}");
        let (bundle, printed) = produce(dir.path(), &name, &spec);
        assert_verifies(&name, &bundle, &[P256, LOG], false, true);
        let (_, report) = verify(&name, &bundle, &[P256, LOG], false);
        assert_eq!(report["manifestId"], printed["manifestId"], "{name}");
        assert_eq!(report["proofRootHash"], printed["proofRootHash"], "{name}");
    }
}
