//! Feed snapshots in their published forms: a directory (JSON and YAML, as a
//! checkout of an advisory database), a ZIP (as OSV's `all.zip` exports), a
//! bare array, one advisory, and the feed document; and what each refuses.
//!
//! `tests/data/feeds/dir` holds the advisories; `all.zip`, `feed.json` and
//! `array.json` hold the same advisories, written by another tool (Python's
//! `zipfile`, streaming, so with data descriptors like OSV's exporter).

use std::path::{Path, PathBuf};

use attestor_core::zip::{ZipError, write_zip};
use attestor_score::inputs::container::{FeedForm, FeedLimits, load_bytes, load_path};
use attestor_score::{ContainerError, DirStore, InputError, InputKind, Reason};

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/feeds")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap()
}

/// A fresh directory under cargo's per-target temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("score-feeds-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const ADVISORY: &str = r#"{"id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-01-01T00:00:00Z",
  "severity": [{"type": "CVSS_V3", "score": "7.5"}],
  "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]}"#;

fn advisory(id: &str) -> String {
    ADVISORY.replace("GHSA-aaaa-bbbb-cccc", id)
}

const LIMITS: FeedLimits = FeedLimits {
    max_files: 1_000,
    max_file_size: 1024 * 1024,
    max_total_size: 8 * 1024 * 1024,
    max_depth: 16,
};

fn ids(feed: &attestor_score::inputs::feed::Feed) -> Vec<&str> {
    feed.advisories.iter().map(|a| a.id.as_str()).collect()
}

#[test]
fn every_form_of_the_same_advisories_has_one_address() {
    let dir = load_path(&data("dir"), &LIMITS).unwrap();
    assert_eq!(dir.form, FeedForm::Directory);
    assert_eq!(dir.files, 5);
    assert_eq!(dir.skipped, 2, "README.md and .hidden.json");
    assert_eq!(
        ids(&dir.feed),
        [
            "GHSA-35jh-r3h4-6jhm",
            "GHSA-9wx4-h78v-vm56",
            "PYSEC-2023-74",
            "PYSEC-2024-4"
        ],
        "sorted by id, the withdrawn advisory dropped"
    );

    let zip = load_path(&data("all.zip"), &LIMITS).unwrap();
    assert_eq!((zip.form, zip.files, zip.skipped), (FeedForm::Zip, 5, 0));
    let array = load_path(&data("array.json"), &LIMITS).unwrap();
    assert_eq!(array.form, FeedForm::Array);
    let document = load_path(&data("feed.json"), &LIMITS).unwrap();
    assert_eq!(document.form, FeedForm::Document);
    assert!(document.assembled.is_none(), "stored as given");

    for other in [&zip, &array, &document] {
        assert_eq!(other.feed.digest, dir.feed.digest);
        assert_eq!(ids(&other.feed), ids(&dir.feed));
    }
    // The address is that of the assembled document, which reads back as a
    // feed document with the same address.
    let assembled = dir.assembled.as_deref().unwrap();
    assert_eq!(zip.assembled.as_deref(), Some(assembled));
    assert_eq!(
        attestor_core::digest::Sha256Digest::of(assembled),
        dir.feed.digest
    );
    let again = load_bytes(assembled, &LIMITS).unwrap();
    assert_eq!(again.form, FeedForm::Document);
    assert_eq!(again.feed.digest, dir.feed.digest);
}

#[test]
fn file_names_and_order_do_not_change_the_address() {
    let a = temp_dir("names-a");
    write(&a, "one.json", &advisory("GHSA-1111-1111-1111"));
    write(&a, "two.json", &advisory("GHSA-2222-2222-2222"));
    let b = temp_dir("names-b");
    write(&b, "x/z.json", &advisory("GHSA-1111-1111-1111"));
    write(&b, "a.json", &advisory("GHSA-2222-2222-2222"));
    let a = load_path(&a, &LIMITS).unwrap();
    let b = load_path(&b, &LIMITS).unwrap();
    assert_eq!(a.feed.digest, b.feed.digest);
    assert_eq!(a.assembled, b.assembled);

    let zip = write_zip([
        ("b.json", advisory("GHSA-2222-2222-2222").as_bytes()),
        ("a.json", advisory("GHSA-1111-1111-1111").as_bytes()),
    ])
    .unwrap();
    assert_eq!(
        load_bytes(&zip, &LIMITS).unwrap().feed.digest,
        a.feed.digest
    );
}

#[test]
fn one_yaml_advisory_and_one_json_advisory_load_alone() {
    let yaml = load_path(&data("dir/vulns/jinja2/PYSEC-2024-4.yaml"), &LIMITS).unwrap();
    assert_eq!(yaml.form, FeedForm::Advisory);
    assert_eq!(ids(&yaml.feed), ["PYSEC-2024-4"]);
    let advisory = &yaml.feed.advisories[0];
    assert_eq!(advisory.aliases, ["CVE-2024-22195", "GHSA-h5c8-rqwp-cp95"]);
    assert_eq!(advisory.affected[0].versions.len(), 9);

    let json = load_path(&data("dir/ghsa/GHSA-9wx4-h78v-vm56.json"), &LIMITS).unwrap();
    assert_eq!(json.form, FeedForm::Advisory);
    assert_eq!(ids(&json.feed), ["GHSA-9wx4-h78v-vm56"]);
}

#[test]
fn a_snapshot_store_keeps_the_assembled_document() {
    let store_dir = temp_dir("store");
    let store = DirStore::new(&store_dir);
    let zip = read("all.zip");
    let digest = store.put_sync(InputKind::Feed, &zip).unwrap();
    let expected = load_path(&data("dir"), &LIMITS).unwrap();
    assert_eq!(digest, expected.feed.digest);
    let stored = store.get_sync(&digest).unwrap();
    assert_eq!(Some(stored.as_slice()), expected.assembled.as_deref());
    // YAML and arrays too; a feed document is stored in its normal form, as before.
    let yaml = read("dir/vulns/jinja2/PYSEC-2024-4.yaml");
    let yaml_digest = store.put_sync(InputKind::Feed, &yaml).unwrap();
    assert_eq!(yaml_digest, load_bytes(&yaml, &LIMITS).unwrap().feed.digest);
    assert_eq!(
        store
            .put_sync(InputKind::Feed, &read("array.json"))
            .unwrap(),
        digest
    );
    assert_eq!(
        store.put_sync(InputKind::Feed, &read("feed.json")).unwrap(),
        digest
    );
    let error = store
        .put_sync(InputKind::Feed, b"id: [unterminated\n")
        .unwrap_err();
    assert!(
        matches!(&error, attestor_score::StoreError::NotAssembled { .. }),
        "{error}"
    );
}

fn problem(error: InputError) -> ContainerError {
    match error {
        InputError::Container { kind, problem } => {
            assert_eq!(kind, InputKind::Feed);
            problem
        }
        other => panic!("expected a container error, got {other}"),
    }
}

/// The error of the file `file`, which must be the one named.
fn in_file(error: InputError, file: &str) -> InputError {
    assert_eq!(error.kind(), InputKind::Feed);
    match error {
        InputError::InFile { file: named, error } => {
            assert_eq!(named, file);
            *error
        }
        other => panic!("expected an error in {file}, got {other}"),
    }
}

#[test]
fn a_malformed_file_is_named() {
    let dir = temp_dir("truncated-json");
    write(&dir, "a/ok.json", &advisory("GHSA-1111-1111-1111"));
    write(&dir, "a/bad.json", &ADVISORY[..40]);
    let error = load_path(&dir, &LIMITS).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("feed snapshot: file \"a/bad.json\": not valid JSON"),
        "{message}"
    );
    assert!(matches!(
        in_file(error, "a/bad.json"),
        InputError::Json { .. }
    ));

    let dir = temp_dir("truncated-yaml");
    write(
        &dir,
        "PYSEC-1.yaml",
        "id: PYSEC-1\naffected:\n- package: {name: x\n",
    );
    let error = load_path(&dir, &LIMITS).unwrap_err();
    assert!(matches!(
        in_file(error, "PYSEC-1.yaml"),
        InputError::Yaml { .. }
    ));

    // An unquoted YAML number where OSV has a version string.
    let dir = temp_dir("wrong-type");
    let text = std::fs::read_to_string(data("dir/vulns/requests/PYSEC-2023-74.yaml"))
        .unwrap()
        .replace("introduced: 2.3.0", "introduced: 2.3");
    write(&dir, "vulns/PYSEC-2023-74.yaml", &text);
    let error = in_file(
        load_path(&dir, &LIMITS).unwrap_err(),
        "vulns/PYSEC-2023-74.yaml",
    );
    match error {
        InputError::Invalid {
            pointer, reason, ..
        } => {
            assert_eq!(pointer, "/affected/0/ranges/1/events/0/introduced");
            assert!(matches!(reason, Reason::WrongType { .. }), "{reason}");
        }
        other => panic!("{other}"),
    }

    // Duplicate keys are refused in YAML as in JSON.
    let dir = temp_dir("yaml-duplicate-key");
    write(&dir, "x.yml", "id: A\nid: B\n");
    let error = in_file(load_path(&dir, &LIMITS).unwrap_err(), "x.yml");
    assert!(matches!(error, InputError::Yaml { .. }), "{error}");

    // A file that is not an advisory.
    let dir = temp_dir("not-an-advisory");
    write(&dir, "list.json", "[1, 2]");
    let error = in_file(load_path(&dir, &LIMITS).unwrap_err(), "list.json");
    assert!(matches!(error, InputError::Invalid { .. }), "{error}");
}

#[test]
fn a_malformed_zip_entry_is_named() {
    let bad = ADVISORY.replace("\"7.5\"", "[]");
    let zip = write_zip([
        ("GHSA-1.json", advisory("GHSA-1").as_bytes()),
        ("GHSA-2.json", bad.as_bytes()),
        ("README.txt", b"skipped".as_slice()),
    ])
    .unwrap();
    let error = in_file(load_bytes(&zip, &LIMITS).unwrap_err(), "GHSA-2.json");
    match error {
        InputError::Invalid { pointer, .. } => assert_eq!(pointer, "/severity/0/score"),
        other => panic!("{other}"),
    }
    let yaml = write_zip([("PYSEC-1.yaml", b"id: [".as_slice())]).unwrap();
    assert!(matches!(
        in_file(load_bytes(&yaml, &LIMITS).unwrap_err(), "PYSEC-1.yaml"),
        InputError::Yaml { .. }
    ));
}

#[test]
fn a_bare_array_names_the_element() {
    let text = format!("[{}, {{\"id\": 7}}]", advisory("GHSA-1111-1111-1111"));
    match load_bytes(text.as_bytes(), &LIMITS).unwrap_err() {
        InputError::Invalid { pointer, .. } => assert_eq!(pointer, "/1/id"),
        other => panic!("{other}"),
    }
    let text = format!(
        "[{}, {}]",
        advisory("GHSA-1111-1111-1111"),
        advisory("GHSA-1111-1111-1111")
    );
    assert_eq!(
        problem(load_bytes(text.as_bytes(), &LIMITS).unwrap_err()),
        ContainerError::DuplicateAdvisory {
            id: "GHSA-1111-1111-1111".into(),
            first: "/0".into(),
            second: "/1".into(),
        }
    );
}

#[test]
fn an_advisory_in_two_files_is_refused() {
    let dir = temp_dir("duplicate");
    write(
        &dir,
        "b/GHSA-1111-1111-1111.yaml",
        &advisory("GHSA-1111-1111-1111"),
    );
    write(
        &dir,
        "a/GHSA-1111-1111-1111.json",
        &advisory("GHSA-1111-1111-1111"),
    );
    let error = load_path(&dir, &LIMITS).unwrap_err();
    assert_eq!(
        error.to_string(),
        "feed snapshot: advisory \"GHSA-1111-1111-1111\" is in both \
         \"a/GHSA-1111-1111-1111.json\" and \"b/GHSA-1111-1111-1111.yaml\""
    );
}

#[test]
fn limits_are_enforced() {
    let dir = temp_dir("many");
    for i in 0..4 {
        write(&dir, &format!("{i}.json"), &advisory(&format!("GHSA-{i}")));
    }
    let few = FeedLimits {
        max_files: 3,
        ..LIMITS
    };
    assert_eq!(
        problem(load_path(&dir, &few).unwrap_err()),
        ContainerError::TooManyFiles { limit: 3 }
    );
    // Hidden or not, entries count while a directory is listed.
    let hidden = temp_dir("many-hidden");
    for i in 0..4 {
        write(&hidden, &format!(".{i}"), "");
    }
    assert_eq!(
        problem(load_path(&hidden, &few).unwrap_err()),
        ContainerError::TooManyFiles { limit: 3 }
    );
    let small = FeedLimits {
        max_file_size: 100,
        ..LIMITS
    };
    assert!(matches!(
        problem(load_path(&dir, &small).unwrap_err()),
        ContainerError::FileTooLarge { file, limit: 100, .. } if file == "0.json"
    ));
    let one_file = ADVISORY.len() as u64;
    let total = FeedLimits {
        max_total_size: 2 * one_file + 10,
        ..LIMITS
    };
    assert!(matches!(
        problem(load_path(&dir, &total).unwrap_err()),
        ContainerError::TotalTooLarge { file, .. } if file == "2.json"
    ));
    let shallow = FeedLimits {
        max_depth: 1,
        ..LIMITS
    };
    let deep = temp_dir("deep");
    write(&deep, "a/b/c.json", &advisory("GHSA-1"));
    assert!(matches!(
        problem(load_path(&deep, &shallow).unwrap_err()),
        ContainerError::TooDeep { file, limit: 1 } if file == "a/b"
    ));

    // ZIPs: the same caps, checked by the bounded reader before inflating.
    let names: Vec<String> = (0..4).map(|i| format!("{i}.json")).collect();
    let bodies: Vec<String> = (0..4).map(|i| advisory(&format!("GHSA-{i}"))).collect();
    let zip = write_zip(
        names
            .iter()
            .zip(&bodies)
            .map(|(n, b)| (n.as_str(), b.as_bytes())),
    )
    .unwrap();
    assert_eq!(load_bytes(&zip, &LIMITS).unwrap().files, 4);
    assert!(matches!(
        problem(load_bytes(&zip, &few).unwrap_err()),
        ContainerError::Zip(ZipError::TooManyEntries { count: 4, limit: 3 })
    ));
    assert!(matches!(
        problem(load_bytes(&zip, &small).unwrap_err()),
        ContainerError::Zip(ZipError::EntryTooLarge { .. })
    ));
    assert!(matches!(
        problem(load_bytes(&zip, &total).unwrap_err()),
        ContainerError::Zip(ZipError::TotalTooLarge { .. })
    ));
    // Truncated: the end record is gone.
    assert!(matches!(
        problem(load_bytes(&zip[..zip.len() - 10], &LIMITS).unwrap_err()),
        ContainerError::Zip(_)
    ));
}

#[test]
fn containers_without_advisories_are_refused() {
    let dir = temp_dir("empty");
    write(&dir, "README.md", "no advisories here");
    assert_eq!(
        problem(load_path(&dir, &LIMITS).unwrap_err()),
        ContainerError::NoAdvisories
    );
    let zip = write_zip([("README.md", b"x".as_slice())]).unwrap();
    assert_eq!(
        problem(load_bytes(&zip, &LIMITS).unwrap_err()),
        ContainerError::NoAdvisories
    );
}

#[cfg(unix)]
#[test]
fn symbolic_links_must_stay_inside_the_directory() {
    use std::os::unix::fs::symlink;
    let outside = temp_dir("outside");
    write(&outside, "GHSA-9.json", &advisory("GHSA-9"));
    let dir = temp_dir("links");
    write(&dir, "real/GHSA-1.json", &advisory("GHSA-1"));
    symlink(dir.join("real/GHSA-1.json"), dir.join("alias.txt")).unwrap();
    // A link inside the directory to a file is read under its own name (here
    // it is not an advisory file by name, so it is skipped).
    let loaded = load_path(&dir, &LIMITS).unwrap();
    assert_eq!((loaded.files, loaded.skipped), (1, 1));

    symlink(outside.join("GHSA-9.json"), dir.join("escape.json")).unwrap();
    assert!(matches!(
        problem(load_path(&dir, &LIMITS).unwrap_err()),
        ContainerError::SymlinkEscapes { file, .. } if file == "escape.json"
    ));
    std::fs::remove_file(dir.join("escape.json")).unwrap();

    symlink(&dir, dir.join("real/loop")).unwrap();
    assert!(matches!(
        problem(load_path(&dir, &LIMITS).unwrap_err()),
        ContainerError::DirectoryRepeated { file, .. } if file == "real/loop"
    ));
}

#[test]
fn the_feed_document_keeps_its_v1_errors() {
    // An object that is not an advisory (no "id") is read as a feed document.
    let error = load_bytes(br#"{"advisory": []}"#, &LIMITS).unwrap_err();
    assert_eq!(
        error.to_string(),
        "feed snapshot: at the document root: missing required member \"advisories\""
    );
}
