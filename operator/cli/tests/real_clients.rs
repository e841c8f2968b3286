//! Real bundles from other Sigstore clients' test suites (tests/data/real-clients/SOURCES.md),
//! each verified by `attestor verify` with the policy its client's test uses: the verdict must
//! be the client's, except for the differences docs/sigstore.md documents, listed below with
//! their reason. Prints the agreement figure.

mod run;

use std::path::{Path, PathBuf};

use run::{attestor, code, repo};
use serde_json::Value;

/// Where the verdict deliberately differs from the client's test, and why (docs/sigstore.md,
/// "Differences from other clients").
const DOCUMENTED: &[(&str, &str)] = &[
    (
        "sigstore-java/v3-foreign-tsr",
        "an RFC 3161 timestamp over other bytes is not counted, as sigstore-go decides; the log entry's time suffices",
    ),
    (
        "sigstore-java/v3-invalid-tsr",
        "a timestamp that does not verify is not counted, as in sigstore-go",
    ),
    (
        "sigstore-python/tsa-duplicate",
        "a second timestamp by the same authority is not counted, as in sigstore-go",
    ),
    (
        "sigstore-python/tsa-no-authorities",
        "a timestamp no authority of the root vouches for is not counted, as in sigstore-go",
    ),
    (
        "sigstore-go/public-key-validity",
        "the key's validity window lives in sigstore-go's trusted material; --public-key has none",
    ),
];

fn data() -> PathBuf {
    repo().join("operator/cli/tests/data/real-clients")
}

fn cases() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for client in std::fs::read_dir(data()).unwrap().flatten() {
        if !client.path().is_dir() || client.file_name() == "roots" {
            continue;
        }
        for case in std::fs::read_dir(client.path()).unwrap().flatten() {
            if case.path().join("case.json").exists() {
                out.push(case.path());
            }
        }
    }
    out.sort();
    out
}

fn verdict(dir: &Path, case: &Value) -> i32 {
    let s = |k: &str| case[k].as_str().map(str::to_string);
    let p = |f: &str| dir.join(f).display().to_string();
    let mut args: Vec<String> = vec!["verify".into(), "--bundle".into(), p("bundle.json")];
    args.push("--trusted-root".into());
    args.push(
        data()
            .join("roots")
            .join(s("root").expect("a root"))
            .display()
            .to_string(),
    );
    if dir.join("artifact").exists() {
        args.extend(["--artifact-file".into(), p("artifact")]);
    }
    for (key, flag) in [
        ("digest", "--artifact"),
        ("identity", "--certificate-identity"),
        ("identityRegexp", "--certificate-identity-regexp"),
        ("issuer", "--certificate-oidc-issuer"),
        ("issuerRegexp", "--certificate-oidc-issuer-regexp"),
        ("predicateType", "--predicate-type"),
    ] {
        if let Some(v) = s(key) {
            args.extend([flag.to_string(), v]);
        }
    }
    if let Some(key) = s("key") {
        args.extend(["--public-key".into(), p(&key)]);
    }
    for extra in case["args"].as_array().into_iter().flatten() {
        args.push(extra.as_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    code(&attestor(&args))
}

#[test]
fn verdicts_agree_with_the_clients_own_tests() {
    let cases = cases();
    assert!(cases.len() >= 100, "the real-client set holds 100+ cases");
    let (mut agree, mut documented, mut wrong) = (0, 0, Vec::new());
    for dir in &cases {
        let name = dir.strip_prefix(data()).unwrap().display().to_string();
        let case: Value =
            serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let rc = verdict(dir, &case);
        let expect_pass = case["expect"] == "pass";
        if rc == 2 && expect_pass {
            wrong.push(format!("{name}: usage error or unreadable input"));
            continue;
        }
        let same = (rc == 0) == expect_pass;
        match (same, DOCUMENTED.iter().find(|(n, _)| *n == name)) {
            (true, None) => agree += 1,
            (false, Some(_)) => documented += 1,
            (true, Some(_)) => wrong.push(format!(
                "{name}: now agrees with its client: remove it from DOCUMENTED and docs/sigstore.md"
            )),
            (false, None) => wrong.push(format!("{name}: expected {}, exit {rc}", case["expect"])),
        }
    }
    // Straight to stderr, past the test harness's capture, so `cargo test` shows the figure.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "real-clients: {agree} of {} agree with their client's test, {documented} documented differences",
        cases.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
