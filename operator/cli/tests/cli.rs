//! The `attestor` command as a user runs it: every documented example case,
//! usage errors, and the create -> inspect -> verify round trip.

mod run;

use run::{attestor, code, repo, text};

use serde_json::Value;

struct Case {
    name: String,
    exit: i32,
    reason: String,
    check: String,
    expect: String,
    args: Vec<String>,
}

fn cases() -> Vec<Case> {
    let table = std::fs::read_to_string(repo().join("examples/cases.tsv")).unwrap();
    table
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 7, "malformed row: {l}");
            Case {
                name: cols[0].into(),
                exit: cols[1].parse().unwrap(),
                reason: cols[2].into(),
                check: cols[3].into(),
                expect: cols[4].into(),
                args: cols[6]
                    .strip_prefix("attestor ")
                    .unwrap()
                    .split(' ')
                    .map(String::from)
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn every_example_case_ends_as_documented() {
    let cases = cases();
    assert!(cases.len() >= 25, "the example table lost cases");
    for case in &cases {
        let mut args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        args.extend(["--output", "json"]);
        let out = attestor(&args);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e}): {}",
                case.name,
                text(&out.stdout)
            )
        });
        assert_eq!(
            code(&out),
            case.exit,
            "{}: {}",
            case.name,
            text(&out.stdout)
        );
        assert_eq!(json["reason"], case.reason.as_str(), "{}", case.name);
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains(&case.expect),
            "{}: {message:?} lacks {:?}",
            case.name,
            case.expect
        );
        match case.exit {
            0 => {
                assert_eq!(json["verified"], true);
                let checks = json["checks"].as_array().unwrap();
                assert_eq!(checks.len(), 5);
                assert!(
                    checks.iter().all(|c| c["status"] != "fail"),
                    "{}",
                    case.name
                );
                for mandatory in ["signatureValid", "idRecomputed", "merklePathValid"] {
                    assert!(
                        checks
                            .iter()
                            .any(|c| c["name"] == mandatory && c["status"] == "pass"),
                        "{}: {mandatory}",
                        case.name
                    );
                }
            }
            1 => {
                assert_eq!(json["verified"], false);
                let failed = json["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == case.check.as_str())
                    .unwrap();
                assert_eq!(failed["status"], "fail", "{}", case.name);
                assert_eq!(failed["reason"], case.reason.as_str(), "{}", case.name);
            }
            _ => {
                assert_eq!(json["verified"], false);
                // Text mode names the file on stderr.
                let plain = attestor(&case.args.iter().map(String::as_str).collect::<Vec<_>>());
                assert_eq!(code(&plain), 2);
                let err = text(&plain.stderr);
                assert!(
                    err.starts_with("error: ") && err.contains(&case.args[2]),
                    "{}: {err}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn verbose_text_output_shows_evidence() {
    let out = attestor(&[
        "verify",
        "--bundle",
        "examples/bundles/valid.zip",
        "--trust-anchor",
        "examples/trust/signing.yaml",
        "--trust-anchor",
        "examples/trust/log.yaml",
        "--verbose",
    ]);
    assert_eq!(code(&out), 0);
    let s = text(&out.stdout);
    for needle in [
        "Result:      VERIFIED",
        "computed root:",
        "manifest.dsse.json signer:",
        "log index:",
        "PASS  rekorInclusion",
    ] {
        assert!(s.contains(needle), "{needle:?} missing from:\n{s}");
    }
    let quiet = attestor(&[
        "verify",
        "--bundle",
        "examples/bundles/valid.zip",
        "--trust-anchor",
        "examples/trust/signing.yaml",
        "--trust-anchor",
        "examples/trust/log.yaml",
    ]);
    assert!(!text(&quiet.stdout).contains("computed root:"));
}

#[test]
fn check_selection_skips_only_optional_checks() {
    let out = attestor(&[
        "verify",
        "--bundle",
        "examples/bundles/no-tlog-entry.zip",
        "--trust-anchor",
        "examples/trust/signing.yaml",
        "--check",
        "timestampValid",
        "--output",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out.stdout));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |name: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("rekorInclusion"), "skipped");
    assert_eq!(status("signatureValid"), "pass");
    // Naming a mandatory check does not switch the others off.
    let out = attestor(&[
        "verify",
        "--bundle",
        "examples/bundles/tampered-node.zip",
        "--trust-anchor",
        "examples/trust/signing.yaml",
        "--offline",
        "--check",
        "signatureValid",
    ]);
    assert_eq!(code(&out), 1);
}

#[test]
fn usage_errors_exit_2_and_say_what_to_fix() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["verify", "--bundle", "examples/bundles/valid.zip"],
            "no trust anchors given",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/trust/signing.yaml",
                "--check",
                "signature",
            ],
            "is not a check",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/trust/signing.yaml",
                "--at",
                "yesterday",
            ],
            "RFC 3339",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/trust/signing.yaml",
                "--max-age",
                "10 days",
            ],
            "invalid duration",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/trust/signing.yaml",
                "--artifact",
                "sha256:abc",
            ],
            "--artifact",
        ),
        (
            &[
                "verify",
                "--bundle",
                "no/such/bundle.zip",
                "--trust-anchor",
                "examples/trust/signing.yaml",
            ],
            "no/such/bundle.zip",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/cases.tsv",
            ],
            "examples/cases.tsv",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/inputs/manifest.json",
            ],
            "expected TrustAnchor",
        ),
        (
            &[
                "verify",
                "--bundle",
                "examples/bundles/valid.zip",
                "--trust-anchor",
                "examples/keys/test-only-signing.pem",
            ],
            "neither \"PUBLIC KEY\" nor \"CERTIFICATE\"",
        ),
        (&["verify"], "--bundle"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let out = attestor(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    }
}

#[test]
fn malformed_trust_anchor_documents_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        (
            "no-spec.yaml",
            "apiVersion: attestor.stellaops.io/v1alpha1\nkind: TrustAnchor\nmetadata: {name: x}\n",
            "has no spec",
        ),
        (
            "both.yaml",
            "apiVersion: attestor.stellaops.io/v1alpha1\nkind: TrustAnchor\nmetadata: {name: x}\nspec:\n  publicKey: a\n  certificate: b\n",
            "not both",
        ),
        (
            "purpose.yaml",
            &format!(
                "apiVersion: attestor.stellaops.io/v1alpha1\nkind: TrustAnchor\nmetadata: {{name: x}}\nspec:\n  purposes: [Everything]\n  publicKey: |\n{}",
                indent(
                    &std::fs::read_to_string(
                        repo().join("examples/keys/test-only-signing.pub.pem")
                    )
                    .unwrap()
                )
            ),
            "unknown purpose",
        ),
        (
            "version.yaml",
            "apiVersion: v1\nkind: TrustAnchor\nspec: {}\n",
            "apiVersion",
        ),
        (
            "broken.pem",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n",
            "no matching",
        ),
        ("garbage.yaml", ": : :\n\t- [", "neither PEM nor"),
    ];
    for (name, content, needle) in bad {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = attestor(&[
            "verify",
            "--bundle",
            "examples/bundles/valid.zip",
            "--trust-anchor",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 2, "{name}");
        let err = text(&out.stderr);
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
    }
}

fn indent(pem: &str) -> String {
    pem.lines().map(|l| format!("    {l}\n")).collect()
}

#[test]
fn keys_create_inspect_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    assert_eq!(
        code(&attestor(&[
            "keys",
            "generate",
            "--algorithm",
            "p256",
            "--out",
            &p("signer.pem")
        ])),
        0
    );
    assert_eq!(
        code(&attestor(&[
            "keys",
            "generate",
            "--algorithm",
            "ed25519",
            "--out",
            &p("log.pem")
        ])),
        0
    );
    let again = attestor(&["keys", "generate", "--out", &p("signer.pem")]);
    assert_eq!(code(&again), 2, "refuses to overwrite a key");

    let create = |out: &str| {
        attestor(&[
            "bundle",
            "create",
            "--manifest",
            "examples/inputs/manifest.json",
            "--ledger",
            "examples/inputs/ledger.json",
            "--key",
            &p("signer.pem"),
            "--tlog",
            &p("log.json"),
            "--tlog-key",
            &p("log.pem"),
            "--signed-at",
            "2026-11-02T00:00:00Z",
            "--output",
            &p(out),
        ])
    };
    let out = create("a.zip");
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("proof root:"));
    let verify = attestor(&[
        "verify",
        "--bundle",
        &p("a.zip"),
        "--trust-anchor",
        &p("signer.pub.pem"),
        "--trust-anchor",
        &p("log.pub.pem"),
        "--at",
        "2026-11-03T00:00:00Z",
    ]);
    assert_eq!(code(&verify), 0, "{}", text(&verify.stdout));

    // The log grows: the second bundle is entry 1 of 2, and still verifies.
    assert_eq!(code(&create("b.zip")), 0);
    let log: Value = serde_json::from_slice(&std::fs::read(p("log.json")).unwrap()).unwrap();
    assert_eq!(log["leaves"].as_array().unwrap().len(), 2);

    let inspect = attestor(&[
        "inspect",
        "--bundle",
        &p("b.zip"),
        "--output-dir",
        &p("extracted"),
        "--output",
        "json",
    ]);
    assert_eq!(code(&inspect), 0, "{}", text(&inspect.stderr));
    let json: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(json["transparencyLog"]["logIndex"], 1);
    assert_eq!(json["nodeCount"], 6);
    for f in [
        "manifest.json",
        "manifest.dsse.json",
        "score_proof.json",
        "proof_root.dsse.json",
        "meta.json",
    ] {
        assert!(
            dir.path().join("extracted").join(f).is_file(),
            "{f} not extracted"
        );
    }
    let text_inspect = attestor(&["inspect", "--bundle", &p("b.zip")]);
    assert!(text(&text_inspect.stdout).contains("Log entry:"));
}

#[test]
fn bundle_create_is_reproducible_and_refuses_bad_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let create = |ledger: &str, out: &str| {
        attestor(&[
            "bundle",
            "create",
            "--manifest",
            "examples/inputs/manifest.json",
            "--ledger",
            ledger,
            "--key",
            "examples/keys/test-only-signing.pem",
            "--signed-at",
            "2026-11-02T00:00:00Z",
            "--output",
            &p(out),
        ])
    };
    assert_eq!(code(&create("examples/inputs/ledger.json", "1.zip")), 0);
    assert_eq!(code(&create("examples/inputs/ledger.json", "2.zip")), 0);
    assert_eq!(
        std::fs::read(p("1.zip")).unwrap(),
        std::fs::read(p("2.zip")).unwrap(),
        "same inputs, same bytes"
    );

    let bad = [
        (
            r#"{"nodes":[{"kind":"a","parents":[0]}]}"#,
            "is not the index of an earlier node",
        ),
        (r#"{"nodes":[{"parents":[]}]}"#, "kind"),
        (r#"{"nodes":[{"kind":"a","extra":1}]}"#, "unexpected member"),
        (r#"{"nodes":[]}"#, "ledger is empty"),
        (
            r#"{"nodes":[{"kind":"a"},{"kind":"a"}]}"#,
            "duplicates an earlier node",
        ),
        (
            r#"{"nodes":[{"kind":"a","data":{"k":1,"k":2}}]}"#,
            "duplicate object key",
        ),
        (r#"[1,2"#, "not valid JSON"),
    ];
    for (i, (ledger, needle)) in bad.iter().enumerate() {
        let path = p(&format!("ledger{i}.json"));
        std::fs::write(&path, ledger).unwrap();
        let out = create(&path, "x.zip");
        assert_eq!(code(&out), 2, "{ledger}");
        assert!(
            text(&out.stderr).contains(needle),
            "{ledger}: {}",
            text(&out.stderr)
        );
    }
    let wrong_cert = attestor(&[
        "bundle",
        "create",
        "--manifest",
        "examples/inputs/manifest.json",
        "--ledger",
        "examples/inputs/ledger.json",
        "--key",
        "examples/keys/test-only-signing.pem",
        "--certificate",
        "examples/keys/test-only-leaf.chain.pem",
        "--output",
        &p("c.zip"),
    ]);
    assert_eq!(code(&wrong_cert), 2);
    assert!(text(&wrong_cert.stderr).contains("is not for the signing key"));
}

#[test]
fn crd_prints_the_definitions_and_writes_what_crds_holds() {
    let o = attestor(&["crd"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let printed = text(&o.stdout);
    assert_eq!(printed, attestor_api::crds_yaml());
    assert_eq!(printed.matches("kind: CustomResourceDefinition").count(), 4);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.attestor.stellaops.io.yaml"), "stale").unwrap();
    let out = dir.path().to_str().unwrap();
    let o = attestor(&["crd", "--output-dir", out]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "proofverifications.attestor.stellaops.io.yaml",
            "replayjobs.attestor.stellaops.io.yaml",
            "trustanchors.attestor.stellaops.io.yaml",
            "trustedissuers.attestor.stellaops.io.yaml",
        ]
    );
    for name in written {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&name)).unwrap(),
            std::fs::read_to_string(repo().join("crds").join(&name)).unwrap(),
            "crds/{name} is stale: run `make crds`"
        );
    }
}

/// The cluster manifest of TrustAnchors is a `--trust-anchor` file too, and the bundles the
/// ProofVerification examples point at end the way their comments say.
#[test]
fn cluster_trust_anchors_verify_the_example_bundles_as_the_examples_say() {
    for (bundle, extra, want_exit, want_reason) in [
        ("valid.zip", None, 0, "Verified"),
        ("valid-certificate.zip", Some("--offline"), 0, "Verified"),
        ("tampered-signature.zip", None, 1, "SignatureInvalid"),
        ("expired-key.zip", None, 1, "KeyExpired"),
    ] {
        let path = format!("examples/bundles/{bundle}");
        let mut args = vec![
            "verify",
            "--bundle",
            &path,
            "--trust-anchor",
            "examples/10-trustanchors.yaml",
            "--output",
            "json",
        ];
        args.extend(extra);
        let o = attestor(&args);
        assert_eq!(code(&o), want_exit, "{bundle}: {}", text(&o.stderr));
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["reason"], want_reason, "{bundle}");
    }
}

#[test]
fn run_refuses_bad_flags_before_touching_a_cluster() {
    for (args, phrase) in [
        (
            &["run", "--fetch-deny-network", "169.254.1.0/16"][..],
            "host bits are set",
        ),
        (
            &[
                "run",
                "--fetch-deny-network",
                "none",
                "--fetch-deny-network",
                "10.0.0.0/8",
            ][..],
            "cannot be combined",
        ),
        (
            &["run", "--fetch-allow-network", "10.96.0.1/12"][..],
            "--fetch-allow-network: \"10.96.0.1/12\" is not an IP network: host bits are set",
        ),
        (
            &["run", "--fetch-allow-network", "my-store.svc"][..],
            "not an IPv4 or IPv6 address",
        ),
        (
            &["run", "--lease-duration", "soon"][..],
            "not a positive duration",
        ),
        (
            &[
                "run",
                "--lease-duration",
                "5s",
                "--lease-renew-interval",
                "10s",
            ][..],
            "must be shorter than --lease-duration",
        ),
    ] {
        let out = attestor(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(phrase),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn inspect_never_writes_through_a_symlink_or_over_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("manifest.json")).unwrap();
    let bundle = repo().join("examples/bundles/valid.zip");
    let o = attestor(&[
        "inspect",
        "--bundle",
        bundle.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("never overwrites"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    // A dangling link is not followed either (O_CREAT|O_EXCL).
    let out2 = dir.path().join("out2");
    std::fs::create_dir(&out2).unwrap();
    let target = dir.path().join("created-through-link");
    std::os::unix::fs::symlink(&target, out2.join("meta.json")).unwrap();
    let o = attestor(&[
        "inspect",
        "--bundle",
        bundle.to_str().unwrap(),
        "--output-dir",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(!target.exists());

    // The output directory itself may not be a link.
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let linked = dir.path().join("linked");
    std::os::unix::fs::symlink(&real, &linked).unwrap();
    let o = attestor(&[
        "inspect",
        "--bundle",
        bundle.to_str().unwrap(),
        "--output-dir",
        linked.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("symbolic link"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
}

#[test]
fn inspect_refuses_unknown_entries_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let bundle = repo().join("examples/bundles/unexpected-entry.zip");
    let o = attestor(&[
        "inspect",
        "--bundle",
        bundle.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("unexpected entry"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !out.exists(),
        "nothing is created for a bundle with an unknown entry"
    );
}
