//! `attestor verify --tuf-repository DIR | --tuf-mirror URL --tuf-root root.json`: the Sigstore
//! trusted root through TUF, from a repository made by go-tuf's CLI (ATTESTOR_TOOLS_BIN/tuf,
//! built by e2e/tools.sh). Skips with one line without it, fails under CI=true.

mod run;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use run::{attestor, code, repo, text};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn tuf_cli(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("ATTESTOR_TOOLS_BIN")
        .map(|bin| PathBuf::from(bin).join("tuf"))
        .filter(|p| p.exists());
    if found.is_none() {
        let why = "ATTESTOR_TOOLS_BIN/tuf not found (e2e/tools.sh builds it)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: {why}, and CI=true forbids skipping");
        }
        println!("skipping {test}: {why}");
    }
    found
}

fn data(rel: &str) -> PathBuf {
    repo()
        .join("operator/sigstore/tests/data/sigstore-conformance")
        .join(rel)
}

fn tuf(cli: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(cli)
        .arg("--insecure-plaintext")
        .arg("-d")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "tuf {args:?}: {}", text(&out.stderr));
}

/// A go-tuf repository in `dir` whose `trusted_root.json` is Sigstore's public-good root.
fn make_repo(cli: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    tuf(cli, dir, &["init"]);
    for role in ["root", "targets", "snapshot", "timestamp"] {
        // Each gen-key also sets the root's expiry, to its role's default unless told.
        tuf(cli, dir, &["gen-key", "--expires=365", role]);
    }
    std::fs::create_dir_all(dir.join("staged/targets")).unwrap();
    std::fs::copy(
        data("trusted_root.public-good.json"),
        dir.join("staged/targets/trusted_root.json"),
    )
    .unwrap();
    tuf(cli, dir, &["add", "trusted_root.json"]);
    publish(cli, dir);
    dir.join("repository")
}

fn publish(cli: &Path, dir: &Path) {
    tuf(cli, dir, &["snapshot"]);
    tuf(cli, dir, &["timestamp"]);
    tuf(cli, dir, &["commit"]);
}

/// `attestor verify` of the conformance suite's happy-path bundle with `source` flags.
fn verify(source: &[&str]) -> std::process::Output {
    let bundle = data("cases/happy-path-v0.3/bundle.sigstore.json");
    let artifact = data("cases/a.txt");
    let mut args = vec![
        "verify",
        "--bundle",
        bundle.to_str().unwrap(),
        "--artifact-file",
        artifact.to_str().unwrap(),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    args.extend_from_slice(source);
    attestor(&args)
}

/// Serves `root` over HTTP/1.0 on 127.0.0.1 from a thread, one connection at a time.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let path = line
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let reply = match std::fs::read(root.join(path)) {
                Ok(body) => [
                    format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes(),
                    body,
                ]
                .concat(),
                Err(_) => {
                    b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&reply);
        }
    });
    url
}

#[test]
fn verify_takes_the_trusted_root_through_tuf_and_refuses_a_rollback() {
    let Some(cli) = tuf_cli("verify_takes_the_trusted_root_through_tuf_and_refuses_a_rollback")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repository = make_repo(&cli, &dir.path().join("tuf"));
    let pinned = dir.path().join("pinned-root.json");
    std::fs::copy(repository.join("1.root.json"), &pinned).unwrap();
    let state = dir.path().join("state");
    let old_timestamp = std::fs::read(repository.join("timestamp.json")).unwrap();
    publish(&cli, &dir.path().join("tuf"));

    let offline = [
        "--tuf-repository",
        repository.to_str().unwrap(),
        "--tuf-root",
        pinned.to_str().unwrap(),
        "--tuf-state",
        state.to_str().unwrap(),
    ];
    let out = verify(&offline);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Result:      VERIFIED"));
    assert!(state.join("timestamp.json").exists(), "the state is kept");

    // The copy is replaced by an older one: refused against the state, with its reason.
    std::fs::write(repository.join("timestamp.json"), &old_timestamp).unwrap();
    let out = verify(&offline);
    assert_eq!(code(&out), 2, "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("TufRollback"), "{stderr}");

    // From a mirror on loopback: refused by the address policy unless allowed.
    let served = dir.path().join("served");
    make_repo(&cli, &dir.path().join("served-tuf"));
    std::fs::rename(dir.path().join("served-tuf/repository"), &served).unwrap();
    std::fs::copy(served.join("1.root.json"), &pinned).unwrap();
    let url = serve(served);
    let state = dir.path().join("mirror-state");
    let mirror = [
        "--tuf-mirror",
        &url,
        "--tuf-root",
        pinned.to_str().unwrap(),
        "--tuf-state",
        state.to_str().unwrap(),
    ];
    let out = verify(&mirror);
    assert_eq!(code(&out), 2, "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("TufUnreachable"), "{stderr}");
    let out = verify(&[&mirror[..], &["--fetch-allow-network", "127.0.0.0/8"]].concat());
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    // Without --tuf-root the source alone is refused.
    let out = verify(&["--tuf-repository", repository.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).contains("--tuf-root"),
        "{}",
        text(&out.stderr)
    );
}
