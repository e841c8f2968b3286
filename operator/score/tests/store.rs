//! The directory-backed snapshot store, and loading a replay's inputs from it.

mod common;

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use attestor_core::canonical::{content_id, parse_strict};
use attestor_core::digest::Sha256Digest;
use attestor_score::store::{LoadError, Selection, load_inputs};
use attestor_score::{Cause, DirStore, InputKind, Outcome, SnapshotStore, StoreError, replay};
use common::score_v1 as score;

/// Runs a future that never waits (the directory store's are ready at once).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future was not ready"),
    }
}

/// A fresh directory under cargo's per-target temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("score-store-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A store holding the four documents of the score fixture.
fn fixture_store(name: &str) -> DirStore {
    let store = DirStore::new(temp_dir(name));
    for (kind, bytes) in InputKind::ALL
        .into_iter()
        .zip(common::documents("inputs/score"))
    {
        store.put_sync(kind, &bytes).unwrap();
    }
    store
}

#[test]
fn put_stores_canonical_bytes_under_their_content_id() {
    let dir = temp_dir("put");
    let store = DirStore::new(&dir);
    let pretty = common::read("inputs/policy.json");
    let digest = ready(store.put(InputKind::Policy, &pretty)).unwrap();
    assert_eq!(digest, content_id(&parse_strict(&pretty).unwrap()).unwrap());
    assert_eq!(
        digest.to_string(),
        "sha256:b2082c6c89d6e6dffb2df514172f99c28a572f8d4e77b56efbb5607f8d36d84a"
    );

    let stored = ready(store.get(&digest)).unwrap();
    assert_eq!(
        String::from_utf8(stored).unwrap(),
        r#"{"threshold":700,"vex":{"not_affected":"suppress"},"weights":{"critical":100,"high":100}}"#
    );
    assert!(dir.join("sha256").join(digest.hex()).is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("latest/policy")).unwrap(),
        format!("{digest}\n")
    );
    assert_eq!(ready(store.latest(InputKind::Policy)).unwrap(), digest);

    // Storing again is idempotent, and no temporary file is left behind.
    assert_eq!(store.put_sync(InputKind::Policy, &pretty).unwrap(), digest);
    for sub in ["sha256", "latest"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(!name.starts_with('.'), "left behind: {sub}/{name}");
        }
    }
}

#[test]
fn latest_follows_the_last_put() {
    let store = DirStore::new(temp_dir("latest"));
    let first = store
        .put_sync(InputKind::Feed, br#"{"advisories": []}"#)
        .unwrap();
    let second = store
        .put_sync(InputKind::Feed, br#"{"advisories": [], "generation": 2}"#)
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(store.latest_sync(InputKind::Feed).unwrap(), second);
    assert!(
        store.get_sync(&first).is_ok(),
        "older snapshots stay readable"
    );
}

#[test]
fn refusals() {
    let dir = temp_dir("refusals");
    let store = DirStore::new(&dir);
    let missing = Sha256Digest::of(b"missing");
    assert_eq!(
        store.get_sync(&missing),
        Err(StoreError::NotFound { digest: missing })
    );
    assert_eq!(
        store.latest_sync(InputKind::Vex),
        Err(StoreError::NoLatest {
            kind: InputKind::Vex
        })
    );
    assert_eq!(
        store.latest_sync(InputKind::Vex).unwrap_err().to_string(),
        "the store has no latest VEX document"
    );

    let error = store
        .put_sync(InputKind::Sbom, b"{\"a\": 1, \"a\": 2}")
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::NotJson {
            kind: InputKind::Sbom,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "refusing to store the SBOM: not valid JSON: duplicate object key \"a\" at line 1 column 12"
    );

    // A corrupt object is detected on read.
    let digest = store
        .put_sync(InputKind::Vex, br#"{"statements": []}"#)
        .unwrap();
    std::fs::write(
        dir.join("sha256").join(digest.hex()),
        br#"{"statements":[{}]}"#,
    )
    .unwrap();
    let error = store.get_sync(&digest).unwrap_err();
    assert_eq!(
        error,
        StoreError::DigestMismatch {
            expected: digest,
            actual: Sha256Digest::of(br#"{"statements":[{}]}"#)
        }
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("the store's object {digest} is corrupt"))
    );
    // Storing the document again repairs the object.
    store
        .put_sync(InputKind::Vex, br#"{"statements": []}"#)
        .unwrap();
    assert_eq!(store.get_sync(&digest).unwrap(), br#"{"statements":[]}"#);

    std::fs::write(dir.join("latest/vex"), "sha256:ABC\n").unwrap();
    assert_eq!(
        store.latest_sync(InputKind::Vex),
        Err(StoreError::BadPointer {
            kind: InputKind::Vex,
            content: "sha256:ABC\n".into()
        })
    );
    assert_eq!(
        store.latest_sync(InputKind::Vex).unwrap_err().to_string(),
        "the store's latest/vex pointer is not a digest: \"sha256:ABC\\n\""
    );
}

#[test]
fn a_replay_loads_the_original_inputs_and_reproduces() {
    let store = fixture_store("original");
    let original = score(&common::inputs("inputs/score")).unwrap();
    let inputs = ready(load_inputs(&store, &original.inputs, Selection::ORIGINAL)).unwrap();
    assert_eq!(inputs.digests(), original.inputs);
    let report = replay(
        &original.proof_nodes(),
        &original.inputs,
        attestor_score::ScoreVersion::V1,
        &inputs,
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Reproduced);
}

#[test]
fn a_replay_against_the_latest_feed_finds_feed_drift() {
    let store = fixture_store("latest-feed");
    let original = score(&common::inputs("inputs/score")).unwrap();
    let mut feed: serde_json::Value =
        serde_json::from_slice(&common::read("inputs/score/feed.json")).unwrap();
    feed["advisories"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": "GHSA-new0-0000-0003", "cvss": "4.0",
            "affected": [{"package": {"purl": "pkg:cargo/smallvec"}, "versions": ["1.6.0"]}]
        }));
    let new_feed = store
        .put_sync(InputKind::Feed, &serde_json::to_vec(&feed).unwrap())
        .unwrap();

    let inputs = ready(load_inputs(
        &store,
        &original.inputs,
        Selection::LATEST_FEED,
    ))
    .unwrap();
    assert_eq!(inputs.feed.digest, new_feed);
    assert_eq!(inputs.sbom.digest, original.inputs.sbom);
    let report = replay(
        &original.proof_nodes(),
        &original.inputs,
        attestor_score::ScoreVersion::V1,
        &inputs,
    )
    .unwrap();
    assert_eq!(report.outcome, Outcome::Drifted);
    assert_eq!(report.cause, Some(Cause::Feed));
    assert_eq!(report.changed_inputs, [InputKind::Feed]);
}

#[test]
fn non_canonical_objects_are_refused_when_loading() {
    // Another producer stored pretty-printed bytes under their raw hash.
    let store = fixture_store("non-canonical");
    let pretty = common::read("inputs/score/policy.json");
    let raw = Sha256Digest::of(&pretty);
    let dir = store.root().join("sha256");
    std::fs::write(dir.join(raw.hex()), &pretty).unwrap();
    let mut manifest = score(&common::inputs("inputs/score")).unwrap().inputs;
    manifest.policy = raw;
    let error = ready(load_inputs(&store, &manifest, Selection::ORIGINAL)).unwrap_err();
    assert!(
        matches!(error, LoadError::NotCanonical { kind: InputKind::Policy, digest, .. } if digest == raw),
        "{error:?}"
    );
}

/// The store keeps the normal form: a reordered document is the same object,
/// and its bytes hash to the content id the parser computes.
#[test]
fn put_stores_the_normal_form_under_the_content_id() {
    let store = DirStore::new(temp_dir("normal-form"));
    let sbom = common::read("inputs/score/sbom.cdx.json");
    let mut reordered: serde_json::Value = serde_json::from_slice(&sbom).unwrap();
    reordered["components"].as_array_mut().unwrap().reverse();
    let reordered = serde_json::to_vec(&reordered).unwrap();
    let a = store.put_sync(InputKind::Sbom, &sbom).unwrap();
    let b = store.put_sync(InputKind::Sbom, &reordered).unwrap();
    assert_eq!(a, b);
    let parsed = common::inputs("inputs/score");
    assert_eq!(a, parsed.sbom.digest);
    let stored = store.get_sync(&a).unwrap();
    assert_eq!(Sha256Digest::of(&stored), a);
    assert_eq!(
        attestor_score::inputs::sbom::Sbom::parse(&stored)
            .unwrap()
            .digest,
        a
    );
}
