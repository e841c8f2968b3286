//! `attestor push` and `attestor pull` against the two real local registries of
//! `e2e/registry.sh` (distribution's registry without the referrers API, and a registry that
//! serves it), and the classification of what real cosign stores there.
//!
//! Needs `eval "$(e2e/registry.sh env)"` (ATTESTOR_REGISTRY_PLAIN, ATTESTOR_REGISTRY_REFERRERS,
//! and ATTESTOR_TOOLS_BIN for cosign); skips with one line without them, fails under CI=true.

mod run;

use std::path::PathBuf;

use attestor_oci::classify::CandidateKind;
use attestor_oci::reference::ImageRef;
use attestor_runtime::fetch::{FetchConfig, Fetcher};
use attestor_runtime::registry::{RegistryClient, RegistryConfig, Source};
use run::{attestor, code, repo, text};

/// The registries, or `None` (after saying why) when they are not running here.
fn registries(test: &str) -> Option<(String, String)> {
    match (
        std::env::var("ATTESTOR_REGISTRY_PLAIN"),
        std::env::var("ATTESTOR_REGISTRY_REFERRERS"),
    ) {
        (Ok(plain), Ok(referrers)) if !plain.is_empty() && !referrers.is_empty() => {
            Some((plain, referrers))
        }
        _ => {
            let why = "ATTESTOR_REGISTRY_PLAIN/ATTESTOR_REGISTRY_REFERRERS unset (run e2e/registry.sh up and eval \"$(e2e/registry.sh env)\")";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: {why}, and CI=true forbids skipping");
            }
            println!("skipping {test}: {why}");
            None
        }
    }
}

fn client(host: &str) -> RegistryClient {
    let fetcher = Fetcher::new(FetchConfig {
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        proxy_from_env: false,
        ..FetchConfig::default()
    })
    .unwrap();
    RegistryClient::new(
        fetcher,
        RegistryConfig {
            plain_http: vec![host.to_string()],
            ..RegistryConfig::default()
        },
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh image in `host`, pushed by the client itself; its reference pinned by digest.
fn push_image(host: &str, name: &str) -> ImageRef {
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let image = ImageRef::parse(&format!("{host}/attestor-it/{name}:v1")).unwrap();
    let digest = runtime()
        .block_on(
            client(host).push_image(
                &image,
                format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"{unique}\"}}")
                    .as_bytes(),
                &[unique.as_bytes()],
                &[],
            ),
        )
        .unwrap_or_else(|e| panic!("pushing a test image to {host}: {e}"));
    image.with_digest(digest)
}

fn registry_flags(host: &str) -> Vec<String> {
    vec![
        "--plain-http".into(),
        host.into(),
        "--fetch-allow-network".into(),
        "127.0.0.0/8".into(),
        "--registry-config".into(),
        repo()
            .join("operator/cli/tests/data/empty-docker-config.json")
            .display()
            .to_string(),
    ]
}

fn run_with(args: &[&str], flags: &[String]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(flags.iter().map(String::as_str));
    attestor(&all)
}

#[test]
fn push_and_pull_a_proof_bundle_on_both_real_registries() {
    let Some((plain, referrers)) =
        registries("push_and_pull_a_proof_bundle_on_both_real_registries")
    else {
        return;
    };
    let bundle = repo().join("examples/bundles/valid.zip");
    let original = std::fs::read(&bundle).unwrap();
    for (host, indexed_by, source) in [
        (&plain, "the fallback tag sha256-", Source::FallbackTag),
        (
            &referrers,
            "the registry's referrers API",
            Source::Referrers,
        ),
    ] {
        let image = push_image(host, "app");
        let reference = image.to_string();
        let flags = registry_flags(host);

        // Nothing published yet.
        let out = run_with(&["pull", &reference, "--output", "/dev/null"], &flags);
        assert_eq!(code(&out), 1, "{host}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("reason: NoSignaturesFound"),
            "{}",
            text(&out.stderr)
        );

        let out = run_with(
            &["push", "--bundle", bundle.to_str().unwrap(), &reference],
            &flags,
        );
        assert_eq!(
            code(&out),
            0,
            "{host}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(stdout.contains(indexed_by), "{host}: {stdout}");

        let dir = tempfile::tempdir().unwrap();
        let output: PathBuf = dir.path().join("pulled.zip");
        let out = run_with(
            &["pull", &reference, "--output", output.to_str().unwrap()],
            &flags,
        );
        assert_eq!(
            code(&out),
            0,
            "{host}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&output).unwrap(),
            original,
            "{host}: the same bytes"
        );

        // The library sees the same, found the expected way.
        let digest = image.digest.unwrap();
        let found = runtime()
            .block_on(client(host).discover(&image, &digest, &CandidateKind::ALL, &[]))
            .unwrap();
        assert_eq!(found.source, source, "{host}");
        assert_eq!(found.candidates.len(), 1, "{host}: {:?}", found.candidates);
        assert_eq!(found.candidates[0].kind, CandidateKind::ProofBundle);
    }
}

#[test]
fn bad_usage_and_unreachable_registries_have_their_exit_codes() {
    let out = attestor(&[
        "push",
        "--bundle",
        "examples/bundles/valid.zip",
        "reg.example/app:v1",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("pin the image by digest"),
        "{}",
        text(&out.stderr)
    );
    let digest = "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822";
    let out = attestor(&[
        "push",
        "--bundle",
        "examples/bundles/not-a-zip.zip",
        &format!("reg.example/app@{digest}"),
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("not a proof bundle"),
        "{}",
        text(&out.stderr)
    );
    let out = attestor(&[
        "pull",
        &format!("127.0.0.1:9/app@{digest}"),
        "--output",
        "/dev/null",
        "--plain-http",
        "127.0.0.1:9",
        "--registry-mirror",
        "nonsense",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("--registry-mirror"),
        "{}",
        text(&out.stderr)
    );
    // Loopback without --fetch-allow-network: refused by the address policy, exit 1.
    let out = attestor(&[
        "pull",
        &format!("127.0.0.1:9/app@{digest}"),
        "--output",
        "/dev/null",
        "--plain-http",
        "127.0.0.1:9",
        "--registry-config",
        "operator/cli/tests/data/empty-docker-config.json",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("reason: RegistryAddressDenied"), "{stderr}");
    assert!(stderr.contains("--fetch-allow-network"), "{stderr}");
    // Allowed, but nothing listens: RegistryUnavailable.
    let out = attestor(&[
        "pull",
        &format!("127.0.0.1:9/app@{digest}"),
        "--output",
        "/dev/null",
        "--plain-http",
        "127.0.0.1:9",
        "--fetch-allow-network",
        "127.0.0.0/8",
        "--registry-config",
        "operator/cli/tests/data/empty-docker-config.json",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("reason: RegistryUnavailable"),
        "{}",
        text(&out.stderr)
    );
}

/// cosign from the test tools, or `None` (after saying why).
fn cosign(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("ATTESTOR_TOOLS_BIN")
        .map(|bin| PathBuf::from(bin).join("cosign"))
        .filter(|p| p.exists());
    if found.is_none() {
        let why = "ATTESTOR_TOOLS_BIN/cosign not found (e2e/registry.sh env sets it once e2e/tools.sh built it)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: {why}, and CI=true forbids skipping");
        }
        println!("skipping {test}: {why}");
    }
    found
}

/// Runs cosign offline in `dir` (its own HOME, TUF root and docker config, every outgoing
/// HTTPS request sent to a closed port; the registries are plain HTTP on loopback).
fn run_cosign(cosign: &PathBuf, dir: &std::path::Path, host: &str, args: &[&str]) {
    let registry_host = host.split(':').next().unwrap();
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(dir.join("docker/config.json"), "{}").unwrap();
    let out = std::process::Command::new(cosign)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_YES", "true")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("http_proxy", "http://127.0.0.1:9")
        .env("NO_PROXY", registry_host)
        .env("no_proxy", registry_host)
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cosign {}: {}{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn what_real_cosign_stores_is_found_and_classified_on_both_registries() {
    let test = "what_real_cosign_stores_is_found_and_classified_on_both_registries";
    let Some((plain, referrers)) = registries(test) else {
        return;
    };
    let Some(cosign) = cosign(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_cosign(&cosign, dir.path(), &plain, &["generate-key-pair"]);
    std::fs::write(
        dir.path().join("predicate.json"),
        r#"{"buildDefinition":{"buildType":"https://attestor.local/it/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://attestor.local/it"}}}"#,
    )
    .unwrap();
    for (host, listing) in [
        (&plain, Source::FallbackTag),
        (&referrers, Source::Referrers),
    ] {
        for new_bundle in [true, false] {
            let image = push_image(host, if new_bundle { "bundle" } else { "legacy" });
            let reference = image.to_string();
            let format = format!("--new-bundle-format={new_bundle}");
            let common = [
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "--use-signing-config=false",
                "--allow-http-registry",
                "--allow-insecure-registry",
                format.as_str(),
            ];
            let mut sign = vec!["sign"];
            sign.extend(common);
            sign.push(&reference);
            run_cosign(&cosign, dir.path(), host, &sign);
            let mut attest = vec!["attest"];
            attest.extend(common);
            attest.extend(["--type", "slsaprovenance1", "--predicate", "predicate.json"]);
            attest.push(&reference);
            run_cosign(&cosign, dir.path(), host, &attest);

            let digest = image.digest.unwrap();
            let found = runtime()
                .block_on(client(host).discover(&image, &digest, &CandidateKind::ALL, &[]))
                .unwrap_or_else(|e| panic!("{host} {format}: {e}"));
            let mut kinds: Vec<(CandidateKind, Source)> = found
                .candidates
                .iter()
                .map(|c| (c.kind, c.source))
                .collect();
            kinds.sort_by_key(|(k, _)| *k);
            println!(
                "{host} {format}: {} requests, found {kinds:?}",
                found.requests
            );
            let expected = if new_bundle {
                vec![
                    (CandidateKind::SigstoreBundle, listing),
                    (CandidateKind::SigstoreBundle, listing),
                ]
            } else {
                vec![
                    (CandidateKind::CosignSignature, Source::LegacySignatureTag),
                    (
                        CandidateKind::CosignAttestation,
                        Source::LegacyAttestationTag,
                    ),
                ]
            };
            assert_eq!(kinds, expected, "{host} {format}");
            assert_eq!(found.source, listing, "{host} {format}");
            for c in &found.candidates {
                assert_eq!(c.layers.len(), 1, "{host} {format}: {c:?}");
                assert!(!c.layers[0].1.is_empty());
            }
        }
    }
}

/// `cosign verify` (or `verify-attestation`) on `reference` with `key`: did it verify?
fn cosign_verifies(cosign: &PathBuf, dir: &std::path::Path, host: &str, args: &[&str]) -> bool {
    let registry_host = host.split(':').next().unwrap();
    std::process::Command::new(cosign)
        .args(args)
        .args(["--insecure-ignore-tlog=true", "--allow-http-registry"])
        .current_dir(dir)
        .env("HOME", dir)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .env("NO_PROXY", registry_host)
        .env("no_proxy", registry_host)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn verify_image_decides_as_cosign_verify_does_on_both_real_registries() {
    let test = "verify_image_decides_as_cosign_verify_does_on_both_real_registries";
    let Some((plain, referrers)) = registries(test) else {
        return;
    };
    let Some(cosign) = cosign(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_cosign(&cosign, dir.path(), &plain, &["generate-key-pair"]);
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    run_cosign(
        &cosign,
        &dir.path().join("other"),
        &plain,
        &["generate-key-pair"],
    );
    std::fs::write(
        dir.path().join("predicate.json"),
        r#"{"buildDefinition":{"buildType":"https://attestor.local/it/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://attestor.local/it"}}}"#,
    )
    .unwrap();
    let key = dir.path().join("cosign.pub").display().to_string();
    let other = dir.path().join("other/cosign.pub").display().to_string();
    for host in [&plain, &referrers] {
        let flags = registry_flags(host);
        // Unsigned: both refuse; ours says why.
        let unsigned = push_image(host, "unsigned").to_string();
        assert!(!cosign_verifies(
            &cosign,
            dir.path(),
            host,
            &["verify", "--key", &key, &unsigned]
        ));
        let out = run_with(
            &[
                "verify",
                "--image",
                &unsigned,
                "--public-key",
                &key,
                "--offline",
            ],
            &flags,
        );
        assert_eq!(code(&out), 1, "{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            text(&out.stdout).contains("FAILED (NoSignaturesFound)"),
            "{}",
            text(&out.stdout)
        );

        for new_bundle in [true, false] {
            let image = push_image(host, "signed").to_string();
            let format = format!("--new-bundle-format={new_bundle}");
            let common = [
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "--use-signing-config=false",
                "--allow-http-registry",
                "--allow-insecure-registry",
                format.as_str(),
            ];
            let mut sign = vec!["sign"];
            sign.extend(common);
            sign.push(&image);
            run_cosign(&cosign, dir.path(), host, &sign);
            let mut attest = vec!["attest"];
            attest.extend(common);
            attest.extend(["--type", "slsaprovenance1", "--predicate", "predicate.json"]);
            attest.push(&image);
            run_cosign(&cosign, dir.path(), host, &attest);

            for (trusted, expect) in [(&key, true), (&other, false)] {
                let what = format!("{host} {format} key {trusted}");
                assert_eq!(
                    cosign_verifies(
                        &cosign,
                        dir.path(),
                        host,
                        &["verify", "--key", trusted, &image]
                    ),
                    expect,
                    "cosign: {what}"
                );
                let out = run_with(
                    &[
                        "verify",
                        "--image",
                        &image,
                        "--public-key",
                        trusted,
                        "--offline",
                    ],
                    &flags,
                );
                let stdout = text(&out.stdout);
                assert_eq!(
                    code(&out) == 0,
                    expect,
                    "{what}: {stdout}{}",
                    text(&out.stderr)
                );
                if !expect {
                    assert!(stdout.contains("Next:"), "{what}: {stdout}");
                }
                // The attestation alone, by predicate type, as cosign verify-attestation.
                assert_eq!(
                    cosign_verifies(
                        &cosign,
                        dir.path(),
                        host,
                        &[
                            "verify-attestation",
                            "--key",
                            trusted,
                            "--type",
                            "slsaprovenance1",
                            &image
                        ]
                    ),
                    expect,
                    "cosign verify-attestation: {what}"
                );
                let out = run_with(
                    &[
                        "verify",
                        "--image",
                        &image,
                        "--public-key",
                        trusted,
                        "--offline",
                        "--predicate-type",
                        "https://slsa.dev/provenance/v1",
                        "--output",
                        "json",
                    ],
                    &flags,
                );
                let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{what}: {e}: {}", text(&out.stdout)));
                assert_eq!(doc["verified"], expect, "{what}: {doc:#}");
                assert_eq!(code(&out) == 0, expect, "{what}");
                assert!(doc["candidates"].as_array().unwrap().len() >= 2, "{doc:#}");
            }
            // Without --offline a key-signed image with no log entry fails, as cosign does
            // without --insecure-ignore-tlog.
            let out = run_with(&["verify", "--image", &image, "--public-key", &key], &flags);
            assert_eq!(code(&out), 1, "{}", text(&out.stdout));
        }
    }
    // Bad usage: a tag, not a digest; no trust; both --bundle and --image.
    let tag = format!("{plain}/attestor-it/signed:v1");
    let out = attestor(&["verify", "--image", &tag, "--public-key", &key]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pin the image by digest"));
    let pinned = format!("{plain}/attestor-it/signed@sha256:{}", "0".repeat(64));
    let out = attestor(&["verify", "--image", &pinned]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("say whom to trust"),
        "{}",
        text(&out.stderr)
    );
    let out = attestor(&[
        "verify",
        "--image",
        &pinned,
        "--bundle",
        "x.zip",
        "--public-key",
        &key,
    ]);
    assert_eq!(code(&out), 2);
}
