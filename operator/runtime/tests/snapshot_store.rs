//! `HttpStore` against a tiny HTTP server on 127.0.0.1 serving a directory
//! store's files, and `open_store` for every kind of store URL.

mod support;

use std::path::PathBuf;

use attestor_core::digest::Sha256Digest;
use attestor_runtime::snapshot_store::{HttpStore, Store, open_store, open_store_with};
use attestor_score::store::{LoadError, Selection, load_inputs};
use attestor_score::{DirStore, InputKind, ScoreVersion, SnapshotStore, StoreError, score_as};
use support::{Reply, TestServer, fetcher, test_config};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/inputs")
}

/// A directory store holding examples/inputs, and the manifest's inputs.
fn filled_store(name: &str) -> DirStore {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("http-store-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let store = DirStore::new(&dir);
    for (kind, file) in
        InputKind::ALL
            .into_iter()
            .zip(["sbom.cdx.json", "feed.json", "vex.json", "policy.json"])
    {
        store
            .put_sync(kind, &std::fs::read(examples().join(file)).unwrap())
            .unwrap();
    }
    store
}

/// Serves `root` read-only: `GET /<path>` is the file, else 404.
async fn serve(root: PathBuf) -> TestServer {
    TestServer::http(move |request| {
        let path = request.path.trim_start_matches("/store/");
        if path.contains("..") {
            return Reply::status(400);
        }
        match std::fs::read(root.join(path)) {
            Ok(bytes) => Reply::ok(bytes),
            Err(_) => Reply::status(404),
        }
    })
    .await
}

fn manifest_inputs() -> attestor_core::bundle::ManifestInputs {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples().join("manifest.json")).unwrap()).unwrap();
    serde_json::from_value(manifest["inputs"].clone()).unwrap()
}

#[tokio::test]
async fn loads_a_replay_s_inputs_over_http() {
    let dir = filled_store("load");
    let server = serve(dir.root().to_path_buf()).await;
    let store = HttpStore::new(&server.url("/store/"), fetcher(test_config(&[])));
    let manifest = manifest_inputs();
    assert_eq!(
        store.latest(InputKind::Feed).await.unwrap(),
        manifest.feed_snapshot
    );
    let inputs = load_inputs(&store, &manifest, Selection::LATEST_FEED)
        .await
        .unwrap();
    assert_eq!(inputs.digests(), manifest);
    // The example bundle's ledger (score version 1, docs/scoring.md section 13).
    let ledger = score_as(&inputs, ScoreVersion::V1).unwrap();
    assert_eq!(
        ledger.root.to_string(),
        "sha256:ec26a1279fda62fc833f4bd1e14d88324cc615cdc30d1123dac650342b3edc43"
    );
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.contains(&"/store/latest/feed".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&format!("/store/sha256/{}", manifest.sbom.hex())),
        "{paths:?}"
    );
}

#[tokio::test]
async fn missing_objects_and_pointers_are_typed() {
    let server = TestServer::http(|_| Reply::status(404)).await;
    let store = HttpStore::new(&server.url("/s"), fetcher(test_config(&[])));
    let digest = Sha256Digest::of(b"nothing");
    assert_eq!(
        store.get(&digest).await,
        Err(StoreError::NotFound { digest })
    );
    assert_eq!(
        store.latest(InputKind::Vex).await,
        Err(StoreError::NoLatest {
            kind: InputKind::Vex
        })
    );
    let err = load_inputs(&store, &manifest_inputs(), Selection::ORIGINAL)
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoadError::Store(StoreError::NotFound { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn corrupt_objects_bad_pointers_and_oversized_bodies_are_refused() {
    let server = TestServer::http(|request| {
        if request.path.starts_with("/s/latest/") {
            Reply::ok("sha256:not-a-digest\n")
        } else {
            Reply::ok("{\"tampered\":true}")
        }
    })
    .await;
    let store = HttpStore::new(&server.url("/s"), fetcher(test_config(&[])));
    let digest = Sha256Digest::of(b"{}");
    assert_eq!(
        store.get(&digest).await,
        Err(StoreError::DigestMismatch {
            expected: digest,
            actual: Sha256Digest::of(b"{\"tampered\":true}"),
        })
    );
    assert!(matches!(
        store.latest(InputKind::Feed).await,
        Err(StoreError::BadPointer {
            kind: InputKind::Feed,
            ..
        })
    ));
    let small =
        HttpStore::new(&server.url("/s"), fetcher(test_config(&[]))).with_max_object_bytes(4);
    match small.get(&digest).await {
        Err(StoreError::Unavailable {
            message, transient, ..
        }) => {
            assert!(!transient);
            assert!(message.contains("snapshot store URL"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.put(InputKind::Feed, b"{}").await,
        Err(StoreError::Unavailable {
            transient: false,
            ..
        })
    ));
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_transient() {
    let server = TestServer::http(|_| Reply::status(503)).await;
    let store = HttpStore::new(&server.url("/s"), fetcher(test_config(&[])));
    match store.latest(InputKind::Feed).await {
        Err(StoreError::Unavailable {
            location,
            transient,
            ..
        }) => {
            assert!(transient);
            assert_eq!(location, server.url("/s/latest/feed"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 3, "retried by the fetcher");
}

#[tokio::test]
async fn open_store_dispatches_on_the_url() {
    let dir = filled_store("open");
    let by_path = open_store(dir.root().to_str().unwrap()).unwrap();
    let url = format!("file://{}", dir.root().display());
    let by_url = open_store(&url).unwrap();
    let manifest = manifest_inputs();
    for store in [&by_path, &by_url] {
        assert!(matches!(store, Store::Dir(_)));
        assert_eq!(store.latest(InputKind::Sbom).await.unwrap(), manifest.sbom);
        assert!(store.get(&manifest.policy).await.is_ok());
    }

    let server = serve(dir.root().to_path_buf()).await;
    let fetcher = fetcher(test_config(&[]));
    let http = open_store_with(&server.url("/store"), Some(&fetcher)).unwrap();
    assert!(matches!(http, Store::Http(_)));
    assert_eq!(http.location(), server.url("/store"));
    let inputs = load_inputs(&http, &manifest, Selection::ORIGINAL)
        .await
        .unwrap();
    assert_eq!(inputs.digests(), manifest);

    // The command line's store (`open_store`, no fetcher given) denies no network: the user
    // fetches a URL they typed, with their own identity. The operator's fetcher denies loopback.
    let cli = open_store(&server.url("/store")).unwrap();
    assert_eq!(cli.latest(InputKind::Sbom).await.unwrap(), manifest.sbom);
    let mut operator = test_config(&[]);
    operator.allowed_networks.clear();
    let operator =
        open_store_with(&server.url("/store"), Some(&support::fetcher(operator))).unwrap();
    let err = operator
        .latest(InputKind::Sbom)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("denied network 127.0.0.0/8"), "{err}");
}
