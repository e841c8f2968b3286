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

fn attest(bundle: &str, root: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "verify",
        "--bundle",
        bundle,
        "--trusted-root",
        root,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    args.extend_from_slice(extra);
    attestor(&args)
}

/// GitHub's instance for private repositories: no log, an RFC 3161 timestamp only. The real
/// Rekor v2 conformance bundle, its entry removed, against its root without logs.
#[test]
fn timestamp_only_bundles_and_evidence_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let case = "cases/rekor2-timestamp-with-embedded-cert";
    let mut bundle: Value = serde_json::from_slice(
        &std::fs::read(data(&format!("{case}/bundle.sigstore.json"))).unwrap(),
    )
    .unwrap();
    bundle["verificationMaterial"]["tlogEntries"] = Value::Array(vec![]);
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(data(&format!("{case}/trusted_root.json"))).unwrap())
            .unwrap();
    let logged_root = dir.path().join("logged-root.json");
    std::fs::write(&logged_root, serde_json::to_vec(&root).unwrap()).unwrap();
    root["tlogs"] = Value::Array(vec![]);
    let (b, r) = (dir.path().join("b.json"), dir.path().join("root.json"));
    std::fs::write(&b, serde_json::to_vec(&bundle).unwrap()).unwrap();
    std::fs::write(&r, serde_json::to_vec(&root).unwrap()).unwrap();
    let (b, r, logged_root) = (
        b.to_str().unwrap(),
        r.to_str().unwrap(),
        logged_root.to_str().unwrap(),
    );
    let artifact = data("cases/a.txt");

    let out = attest(b, r, &["--artifact-file", &artifact]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Timestamps:  1 RFC 3161"),
        "{}",
        text(&out.stdout)
    );
    // Against a root with logs an entry is required, unless the policy says otherwise, in
    // sigstore-go's words or cosign's.
    let out = attest(b, logged_root, &["--artifact-file", &artifact]);
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stdout).contains("TlogEntryInvalid"),
        "{}",
        text(&out.stdout)
    );
    for flags in [
        &["--tlog-threshold", "0", "--timestamp-threshold", "1"][..],
        &["--insecure-ignore-tlog", "--use-signed-timestamps"][..],
    ] {
        let mut args = vec!["--artifact-file", artifact.as_str()];
        args.extend_from_slice(flags);
        let out = attest(b, logged_root, &args);
        assert_eq!(code(&out), 0, "{flags:?}: {}", text(&out.stdout));
    }
    let out = attest(
        b,
        r,
        &["--artifact-file", &artifact, "--timestamp-threshold", "2"],
    );
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stdout).contains("TimestampInvalid"),
        "{}",
        text(&out.stdout)
    );
    let out = attest(b, r, &["--tlog-threshold", "0", "--insecure-ignore-tlog"]);
    assert_eq!(code(&out), 2, "conflicting flags are a usage error");

    // The artifact by digest, in the algorithm the bundle signed, or another.
    let body = std::fs::read(&artifact).unwrap();
    use sha2::Digest as _;
    let sha256 = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
    let sha384 = format!("sha384:{}", hex::encode(sha2::Sha384::digest(&body)));
    let out = attest(b, r, &["--artifact", &sha256]);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let out = attest(b, r, &["--artifact", &sha384]);
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stdout).contains("give the artifact file or its sha256 digest"),
        "{}",
        text(&out.stdout)
    );
    for bad in ["sha512:abc", "md5:00", "sha256"] {
        let out = attest(b, r, &["--artifact", bad]);
        assert_eq!(code(&out), 2, "{bad}");
    }
    // A message signature without its artifact is a usage error, not a verdict.
    let out = attest(b, r, &[]);
    assert_eq!(code(&out), 2, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stderr).contains("ArtifactRequired") || text(&out.stderr).contains("artifact"),
        "{}",
        text(&out.stderr)
    );
}

/// A DSSE envelope verified with no artifact says what that leaves unchecked; an unanchored
/// identity pattern is used as cosign uses it, with a warning.
#[test]
fn artifact_free_envelopes_and_unanchored_patterns() {
    let bundle = data("cases/happy-path-intoto-in-dsse-v3/bundle.sigstore.json");
    let root = data("trusted_root.public-good.json");
    let out = attest(&bundle, &root, &["--output", "json"]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["payloadType"], "application/vnd.in-toto+json");
    assert!(
        json["notChecked"][0]
            .as_str()
            .unwrap()
            .contains("not bound to any artifact"),
        "{json}"
    );
    // With the artifact, nothing is left out.
    let out = attest(
        &bundle,
        &root,
        &["--artifact-file", &data("cases/a.txt"), "--output", "json"],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["notChecked"], Value::Array(vec![]), "{json}");

    let out = attestor(&[
        "verify",
        "--bundle",
        &bundle,
        "--trusted-root",
        &root,
        "--certificate-identity-regexp",
        "extremely-dangerous-oidc-beacon",
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: --certificate-identity-regexp")
            && text(&out.stderr).contains("anchored at neither end"),
        "{}",
        text(&out.stderr)
    );
    let out = attestor(&[
        "verify",
        "--bundle",
        &bundle,
        "--trusted-root",
        &root,
        "--certificate-identity-regexp",
        "^https://github\\.com/sigstore-conformance/.*$",
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    assert_eq!(code(&out), 0);
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

/// gh attestation verify accepts bundles from 0.2 on: the same policy, a verdict (exit 1).
#[test]
fn min_bundle_version_refuses_older_bundles_as_a_verdict() {
    let id = [
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    let out = verify(
        "happy-path-v0.1",
        &[&id[..], &["--min-bundle-version", "0.1"]].concat(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let out = verify(
        "happy-path-v0.1",
        &[&id[..], &["--min-bundle-version", "0.2"]].concat(),
    );
    assert_eq!(code(&out), 1, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("BundleVersionNotAccepted"),
        "{}",
        text(&out.stdout)
    );
    let out = verify(
        "happy-path-v0.3",
        &[&id[..], &["--min-bundle-version", "0.2"]].concat(),
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let out = verify(
        "happy-path-v0.3",
        &[&id[..], &["--min-bundle-version", "1.0"]].concat(),
    );
    assert_eq!(code(&out), 2);
}

/// gh's flags: the owner and repository are the certificate's Fulcio extensions, not only its
/// SAN; the flags do not mix with --certificate-identity.
#[test]
fn github_attestation_flags_check_the_source_repository() {
    let dir = repo().join("operator/cli/tests/data/real-clients");
    let case = dir.join("cli/owner-sigstore");
    let c: Value = serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
    let root = dir.join("roots").join(c["root"].as_str().unwrap());
    let bundle = case.join("bundle.json");
    let (bundle, root) = (bundle.to_str().unwrap(), root.to_str().unwrap());
    let digest = c["digest"].as_str().map(String::from);
    let artifact = case.join("artifact");
    let mut base = vec!["verify", "--bundle", bundle, "--trusted-root", root];
    let artifact = artifact.to_str().unwrap().to_string();
    match &digest {
        Some(d) => base.extend(["--artifact", d.as_str()]),
        None => base.extend(["--artifact-file", artifact.as_str()]),
    }
    let run = |extra: &[&str]| {
        let mut args = base.clone();
        args.extend_from_slice(extra);
        attestor(&args)
    };
    for ok in [
        &["--owner", "sigstore"][..],
        &["--owner", "Sigstore"][..],
        &["--repo", "sigstore/sigstore-js"][..],
        &[
            "--owner",
            "sigstore",
            "--signer-workflow",
            "sigstore/sigstore-js/.github/workflows/",
        ][..],
    ] {
        let out = run(ok);
        assert_eq!(
            code(&out),
            0,
            "{ok:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    for (bad, why) in [
        (&["--owner", "fakeowner"][..], "IdentityMismatch"),
        (&["--repo", "sigstore/fakerepo"][..], "IdentityMismatch"),
        (
            &["--owner", "sigstore", "--signer-repo", "sigstore/other"][..],
            "IdentityMismatch",
        ),
        (
            &[
                "--owner",
                "sigstore",
                "--cert-oidc-issuer",
                "https://token.actions.acme.ghe.com",
            ][..],
            "IdentityMismatch",
        ),
    ] {
        let out = run(bad);
        assert_eq!(code(&out), 1, "{bad:?}: {}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains(why),
            "{bad:?}: {}",
            text(&out.stdout)
        );
    }
    // The owner check reads the certificate, not the SAN: an owner whose workflows signed but
    // whose repository did not build the artifact is refused with the extension named.
    let out = run(&[
        "--owner",
        "sigstore",
        "--repo",
        "sigstore/sigstore-js",
        "--signer-repo",
        "sigstore/sigstore-js",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    for usage in [
        &["--owner", "a/b"][..],
        &["--owner", "x", "--repo", "y/z"][..],
        &[
            "--owner",
            "sigstore",
            "--certificate-identity",
            "x",
            "--certificate-oidc-issuer",
            "y",
        ][..],
        &["--cert-oidc-issuer", "https://x"][..],
    ] {
        assert_eq!(code(&run(usage)), 2, "{usage:?}");
    }
}
