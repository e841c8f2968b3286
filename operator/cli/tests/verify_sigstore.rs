//! `attestor verify --trusted-root`: Sigstore bundles, exit codes and outputs.

mod run;

use run::{attestor, code, repo, text};

use serde_json::Value;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn data(rel: &str) -> String {
    repo()
        .join("operator/sigstore/tests/data/sigstore-conformance")
        .join(rel)
        .display()
        .to_string()
}

fn verify(case: &str, extra: &[&str]) -> std::process::Output {
    let bundle = data(&format!("cases/{case}/bundle.sigstore.json"));
    let own = data(&format!("cases/{case}/trusted_root.json"));
    let root = if std::path::Path::new(&own).exists() {
        own
    } else {
        data("trusted_root.public-good.json")
    };
    let artifact = data("cases/a.txt");
    let mut args = vec![
        "verify",
        "--bundle",
        &bundle,
        "--trusted-root",
        &root,
        "--artifact-file",
        &artifact,
    ];
    args.extend_from_slice(extra);
    attestor(&args)
}

#[test]
fn keyless_bundle_verifies_with_exact_or_regex_identity() {
    let out = verify(
        "happy-path-v0.3",
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Result:      VERIFIED"), "{stdout}");
    assert!(
        stdout.contains(&format!("Identity:    {IDENTITY}")),
        "{stdout}"
    );

    let out = verify(
        "happy-path-v0.3",
        &[
            "--certificate-identity-regexp",
            "https://github.com/sigstore-conformance/.*",
            "--certificate-oidc-issuer",
            ISSUER,
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["bundleVersion"], "0.3");
    assert_eq!(json["tlogEntries"][0]["log"], "https://rekor.sigstore.dev");
}

#[test]
fn failures_exit_1_with_their_reason_and_bad_input_exits_2() {
    let out = verify(
        "happy-path-v0.3",
        &[
            "--certificate-identity",
            "https://github.com/someone/else",
            "--certificate-oidc-issuer",
            ISSUER,
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&out), 1);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], false);
    assert_eq!(json["reason"], "IdentityMismatch");

    let out = verify(
        "invalid-ct-key_fail",
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stdout).contains("FAILED (SctInvalid)"),
        "{}",
        text(&out.stdout)
    );

    let out = verify(
        "bundle-malformed-json_fail",
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code(&out), 2, "unreadable bundles are input errors");

    // Usage: keyless needs an issuer; identity flags need --trusted-root.
    let out = verify("happy-path-v0.3", &["--certificate-identity", IDENTITY]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("--certificate-oidc-issuer"),
        "{}",
        text(&out.stderr)
    );
    let out = attestor(&[
        "verify",
        "--bundle",
        "x.zip",
        "--certificate-identity",
        IDENTITY,
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("--trusted-root"),
        "{}",
        text(&out.stderr)
    );
    let out = verify(
        "happy-path-v0.3",
        &[
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code(&out), 2, "a bad pattern is a usage error");
}

#[test]
fn key_signed_bundles_verify_with_public_key() {
    let key = data("cases/managed-key-happy-path/key.pub");
    let out = verify("managed-key-happy-path", &["--public-key", &key]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("Key:         sha256:"));
}
