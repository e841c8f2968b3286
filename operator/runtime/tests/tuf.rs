//! The TUF client against repositories made by a real TUF implementation: go-tuf v0.7's `tuf`
//! CLI, built by e2e/tools.sh (ATTESTOR_TOOLS_BIN, set by `e2e/registry.sh env` and
//! `e2e/with-registries.sh`). Repositories are served over HTTP on 127.0.0.1 through the
//! operator's fetcher (loopback allowed explicitly), and read offline from their directory
//! and as ConfigMap-like files. Skips with one line without the tool, fails under CI=true.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use attestor_runtime::tuf::{Refreshed, TufSource, TufState, refresh};
use attestor_sigstore::TrustedRoot;
use attestor_sigstore::tuf::{Role, SIGSTORE_TRUSTED_ROOT, TufError, reason};
use jiff::{SignedDuration, Timestamp};
use support::{Reply, TestServer, fetcher, test_config};

/// The target: Sigstore's public-good trusted root, as the conformance suite ships it.
const PUBLIC_GOOD: &[u8] =
    include_bytes!("../../sigstore/tests/data/sigstore-conformance/trusted_root.public-good.json");

/// go-tuf's CLI from the test tools, or `None` (after saying why).
fn tuf_cli(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("ATTESTOR_TOOLS_BIN")
        .map(|bin| PathBuf::from(bin).join("tuf"))
        .filter(|p| p.exists());
    if found.is_none() {
        let why = "ATTESTOR_TOOLS_BIN/tuf not found (e2e/tools.sh builds it; `e2e/tools.sh path` prints the directory)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: {why}, and CI=true forbids skipping");
        }
        println!("skipping {test}: {why}");
    }
    found
}

/// A TUF repository managed by go-tuf's CLI in a temporary directory (keys unencrypted).
struct Repo {
    cli: PathBuf,
    dir: tempfile::TempDir,
}

impl Repo {
    /// A repository with one key per role (root valid 365 days; go-tuf's defaults for the others:
    /// targets 3 months, snapshot 7 days, timestamp 1 day) and Sigstore's public-good root as
    /// `trusted_root.json`.
    fn new(cli: &Path) -> Self {
        let repo = Self {
            cli: cli.to_path_buf(),
            dir: tempfile::tempdir().unwrap(),
        };
        repo.tuf(&["init"]);
        for role in ["root", "targets", "snapshot", "timestamp"] {
            // Each gen-key also sets the root's expiry, to its role's default unless told.
            repo.tuf(&["gen-key", "--expires=365", role]);
        }
        let staged = repo.dir.path().join("staged/targets");
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join(SIGSTORE_TRUSTED_ROOT), PUBLIC_GOOD).unwrap();
        repo.tuf(&["add", SIGSTORE_TRUSTED_ROOT]);
        repo.publish(&[]);
        repo
    }

    fn tuf(&self, args: &[&str]) -> String {
        let out = Command::new(&self.cli)
            .arg("--insecure-plaintext")
            .arg("-d")
            .arg(self.dir.path())
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "tuf {args:?}: {text}");
        text
    }

    /// A new snapshot and timestamp (`timestamp_args` e.g. `--expires=10`), committed.
    fn publish(&self, timestamp_args: &[&str]) {
        self.tuf(&["snapshot"]);
        self.tuf(&[&["timestamp"], timestamp_args].concat());
        self.tuf(&["commit"]);
    }

    /// The published repository (metadata at the top, targets under `targets/`).
    fn repository(&self) -> PathBuf {
        self.dir.path().join("repository")
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.repository().join(name)).unwrap()
    }

    fn put(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.repository().join(name), bytes).unwrap();
    }

    /// The root an operator pins: version 1.
    fn pinned(&self) -> Vec<u8> {
        self.file("1.root.json")
    }

    fn key_ids(&self, role: &str) -> Vec<String> {
        let root: serde_json::Value = serde_json::from_slice(&self.file("root.json")).unwrap();
        root["signed"]["roles"][role]["keyids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// The copy as a ConfigMap holds it: every file by its name, targets without `targets/`.
    fn as_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        for dir in [self.repository(), self.repository().join("targets")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_file() {
                    let name = entry.file_name().into_string().unwrap();
                    files.insert(name, std::fs::read(entry.path()).unwrap());
                }
            }
        }
        files
    }
}

/// Serves `repo`'s published directory as it is at each request.
async fn serve(repo: &Repo) -> TestServer {
    let root = repo.repository();
    TestServer::http(move |req| {
        let path = root.join(req.path.trim_start_matches('/'));
        match std::fs::read(&path) {
            Ok(bytes) => Reply::ok(bytes),
            Err(_) => Reply::status(404),
        }
    })
    .await
}

fn mirror(server: &TestServer) -> TufSource {
    TufSource::mirror(
        fetcher(test_config(&[])),
        &server.url("/"),
        "spec.sigstoreTrustedRoot.tuf.mirror",
    )
}

fn days(n: i64) -> Timestamp {
    Timestamp::now() + SignedDuration::from_hours(24 * n)
}

async fn get(
    source: &TufSource,
    pinned: &[u8],
    state: &TufState,
    now: Timestamp,
) -> Result<Refreshed, TufError> {
    refresh(source, pinned, state, SIGSTORE_TRUSTED_ROOT, now).await
}

#[tokio::test]
async fn the_trusted_root_comes_from_a_mirror_a_directory_and_configmap_files() {
    let Some(cli) = tuf_cli("the_trusted_root_comes_from_a_mirror_a_directory_and_configmap_files")
    else {
        return;
    };
    let repo = Repo::new(&cli);
    let server = serve(&repo).await;
    let sources = [
        ("mirror", mirror(&server)),
        ("directory", TufSource::Directory(repo.repository())),
        ("files", TufSource::Files(repo.as_files())),
    ];
    for (what, source) in &sources {
        let got = get(
            source,
            &repo.pinned(),
            &TufState::default(),
            Timestamp::now(),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got.target, PUBLIC_GOOD, "{what}");
        assert_eq!((got.root_version, got.timestamp_version), (1, 1), "{what}");
        TrustedRoot::from_json(&got.target).unwrap();
        // The state kept: the root reached and the metadata for the rollback checks.
        assert_eq!(got.state.root.as_deref(), Some(&repo.file("root.json")[..]));
        assert_eq!(
            got.state.timestamp.as_deref(),
            Some(&repo.file("timestamp.json")[..])
        );
        // go-tuf's timestamp expires first (1 day).
        assert!(
            got.expires < days(2) && got.expires > Timestamp::now(),
            "{what}"
        );
    }
    // Consistent snapshots: the mirror was asked for versioned metadata and the hashed target.
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/2.root.json".to_string()), "{paths:?}");
    assert!(paths.contains(&"/1.snapshot.json".to_string()), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/targets/") && p.ends_with(".trusted_root.json")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn the_mirror_is_fetched_under_the_address_policy() {
    let Some(cli) = tuf_cli("the_mirror_is_fetched_under_the_address_policy") else {
        return;
    };
    let repo = Repo::new(&cli);
    let server = serve(&repo).await;
    let mut config = test_config(&[]);
    config.allowed_networks.clear();
    let source = TufSource::mirror(fetcher(config), &server.url("/"), "--tuf-mirror");
    let e = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.reason(), reason::UNREACHABLE, "{e}");
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
    assert_eq!(server.hits(), 0, "nothing may reach a denied address");
}

#[tokio::test]
async fn a_root_rotation_is_followed_and_must_be_signed_by_the_old_keys() {
    let Some(cli) = tuf_cli("a_root_rotation_is_followed_and_must_be_signed_by_the_old_keys")
    else {
        return;
    };
    let repo = Repo::new(&cli);
    let source = TufSource::Directory(repo.repository());
    let first = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap();

    // Rotate: a new root key, the old one revoked; go-tuf signs 2.root.json with both.
    let old = repo.key_ids("root");
    repo.tuf(&["gen-key", "--expires=365", "root"]);
    repo.tuf(&["revoke-key", "root", &old[0]]);
    repo.tuf(&["sign", "root.json"]);
    repo.publish(&[]);
    assert_ne!(repo.key_ids("root"), old);

    for (what, state) in [
        ("from the stored state", &first.state),
        ("from the pinned root alone", &TufState::default()),
    ] {
        let got = get(&source, &repo.pinned(), state, Timestamp::now())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got.root_version, 2, "{what}");
        assert_eq!(got.target, PUBLIC_GOOD, "{what}");
    }

    // 2.root.json without the old key's signature: the chain breaks at version 1.
    let mut root2: serde_json::Value = serde_json::from_slice(&repo.file("2.root.json")).unwrap();
    root2["signatures"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["keyid"] != old[0].as_str());
    repo.put("2.root.json", &serde_json::to_vec(&root2).unwrap());
    let e = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, TufError::ThresholdNotMet { role: Role::Root, signer, .. } if signer == "root version 1"),
        "{e}"
    );
    assert_eq!(e.reason(), reason::THRESHOLD_NOT_MET);
}

#[tokio::test]
async fn an_expired_timestamp_is_refused_and_the_last_good_state_kept() {
    let Some(cli) = tuf_cli("an_expired_timestamp_is_refused_and_the_last_good_state_kept") else {
        return;
    };
    let repo = Repo::new(&cli);
    let server = serve(&repo).await;
    let source = mirror(&server);
    let good = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap();
    // Two days on, go-tuf's one-day timestamp has expired (the snapshot's 7 days have not).
    let e = get(&source, &repo.pinned(), &good.state, days(2))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            TufError::Expired {
                role: Role::Timestamp,
                version: 1,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.reason(), reason::METADATA_EXPIRED);
    // The caller still has `good`; once the repository publishes a fresh timestamp, the
    // refresh from that state succeeds.
    repo.tuf(&["timestamp", "--expires=10"]);
    repo.tuf(&["commit"]);
    let later = get(&source, &repo.pinned(), &good.state, days(2))
        .await
        .unwrap();
    assert_eq!(later.timestamp_version, 2);
    assert_eq!(later.target, good.target);
}

#[tokio::test]
async fn a_rollback_to_older_metadata_is_refused() {
    let Some(cli) = tuf_cli("a_rollback_to_older_metadata_is_refused") else {
        return;
    };
    let repo = Repo::new(&cli);
    let server = serve(&repo).await;
    let source = mirror(&server);
    let old_timestamp = repo.file("timestamp.json");
    repo.publish(&[]);
    let current = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap();
    assert_eq!(current.timestamp_version, 2);

    // The mirror (or an attacker in front of it) serves the previous timestamp again.
    repo.put("timestamp.json", &old_timestamp);
    let e = get(&source, &repo.pinned(), &current.state, Timestamp::now())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            TufError::Rollback {
                role: Role::Timestamp,
                trusted: 2,
                new: 1
            }
        ),
        "{e}"
    );
    assert_eq!(e.reason(), reason::ROLLBACK);
    // Without the state there is nothing to compare with: the old timestamp is valid on its
    // own, which is why the state is kept between refreshes.
    get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap();

    // The state survives a restart of a CLI through its directory.
    let dir = tempfile::tempdir().unwrap();
    current.state.save(dir.path()).unwrap();
    let loaded = TufState::load(dir.path()).unwrap();
    assert_eq!(loaded, current.state);
    let e = get(&source, &repo.pinned(), &loaded, Timestamp::now())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), reason::ROLLBACK, "{e}");
}

#[tokio::test]
async fn a_tampered_target_or_a_foreign_signature_is_refused() {
    let Some(cli) = tuf_cli("a_tampered_target_or_a_foreign_signature_is_refused") else {
        return;
    };
    let repo = Repo::new(&cli);
    let source = TufSource::Directory(repo.repository());

    // A target file changed in place (same length), as a compromised mirror would serve it.
    let targets_dir = repo.repository().join("targets");
    let served: Vec<PathBuf> = std::fs::read_dir(&targets_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for path in &served {
        let mut bytes = std::fs::read(path).unwrap();
        let i = bytes.iter().position(|b| *b == b'{').unwrap();
        bytes[i] = b'[';
        std::fs::write(path, bytes).unwrap();
    }
    let e = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.reason(), reason::TARGET_MISMATCH, "{e}");
    assert!(e.to_string().contains("sha512"), "{e}");

    // A timestamp signed by another repository's key: the threshold of the root's timestamp
    // keys is not met.
    let other = Repo::new(&cli);
    repo.put("timestamp.json", &other.file("timestamp.json"));
    let e = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            TufError::ThresholdNotMet {
                role: Role::Timestamp,
                valid: 0,
                threshold: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_threshold_of_two_needs_two_keys() {
    let Some(cli) = tuf_cli("a_threshold_of_two_needs_two_keys") else {
        return;
    };
    let repo = Repo::new(&cli);
    // Two timestamp keys and a threshold of 2, published by go-tuf (root version 2).
    repo.tuf(&["gen-key", "--expires=365", "timestamp"]);
    repo.tuf(&["set-threshold", "timestamp", "2"]);
    repo.tuf(&["sign", "root.json"]);
    repo.publish(&[]);
    let source = TufSource::Directory(repo.repository());
    let got = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap();
    assert_eq!(got.root_version, 2);

    // The same timestamp with one of its two signatures dropped.
    let mut timestamp: serde_json::Value =
        serde_json::from_slice(&repo.file("timestamp.json")).unwrap();
    let signatures = timestamp["signatures"].as_array_mut().unwrap();
    assert_eq!(signatures.len(), 2);
    signatures.pop();
    repo.put("timestamp.json", &serde_json::to_vec(&timestamp).unwrap());
    let e = get(
        &source,
        &repo.pinned(),
        &TufState::default(),
        Timestamp::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            TufError::ThresholdNotMet {
                role: Role::Timestamp,
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{e}"
    );
}
