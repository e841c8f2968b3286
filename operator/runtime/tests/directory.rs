//! Issuer directories: parsing, and the cache that keeps good keys.

mod support;

use std::sync::{Arc, Mutex};

use attestor_core::digest::Sha256Digest;
use attestor_core::keys::{Algorithm, PublicKey};
use attestor_core::pem::parse_pem;
use attestor_core::trust::Purpose;
use attestor_runtime::fetch::FetchError;
use attestor_runtime::fetch::directory::{
    DirectoryCache, DirectoryError, MAX_DIRECTORY_KEYS, RefreshError, RefreshOutcome,
    parse_directory,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use support::{Reply, TestServer, fetcher, test_config};

const ISSUER: &str = "https://ci.example.test/attestor";

/// A fresh key's PEM and id.
struct TestKey {
    pem: String,
    id: Sha256Digest,
}

fn key(alg: &'static rcgen::SignatureAlgorithm) -> TestKey {
    let pem = rcgen::KeyPair::generate_for(alg)
        .expect("generate")
        .public_key_pem();
    let id = match PublicKey::from_pem(&pem) {
        Ok(k) => k.key_id(),
        // Unsupported algorithms: SHA-256 of the DER as published.
        Err(_) => Sha256Digest::of(&parse_pem(&pem).unwrap()[0].der),
    };
    TestKey { pem, id }
}

fn p256() -> TestKey {
    key(&rcgen::PKCS_ECDSA_P256_SHA256)
}

fn entry(k: &TestKey) -> Value {
    json!({"keyId": k.id.to_string(), "publicKey": k.pem})
}

fn doc(issuer: &str, keys: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"issuer": issuer, "keys": keys})).unwrap()
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn a_valid_directory_gives_its_keys_with_their_windows() {
    let a = p256();
    let b = key(&rcgen::PKCS_ED25519);
    let mut eb = entry(&b);
    eb["notBefore"] = json!("2026-01-01T00:00:00Z");
    eb["expires"] = json!("2027-01-01T00:00:00+01:00");
    let dir = parse_directory(&doc(ISSUER, vec![entry(&a), eb]), ISSUER).unwrap();
    assert_eq!(dir.issuer, ISSUER);
    assert!(dir.unsupported.is_empty());
    assert_eq!(dir.keys.len(), 2);
    assert_eq!(dir.keys[0].key_id, a.id);
    assert_eq!(
        dir.keys[0].key.product_algorithm(),
        Ok(Algorithm::EcdsaP256Sha256)
    );
    assert_eq!(dir.keys[0].not_before, None);
    assert_eq!(dir.keys[1].key_id, b.id);
    assert_eq!(dir.keys[1].key.product_algorithm(), Ok(Algorithm::Ed25519));
    assert_eq!(dir.keys[1].not_before, Some(ts("2026-01-01T00:00:00Z")));
    assert_eq!(dir.keys[1].expires, Some(ts("2026-12-31T23:00:00Z")));

    assert!(!dir.keys[1].is_valid_at(ts("2025-12-31T23:59:59Z")));
    assert!(dir.keys[1].is_valid_at(ts("2026-06-01T00:00:00Z")));
    assert!(dir.keys[1].is_valid_at(ts("2026-12-31T23:00:00Z")));
    assert!(!dir.keys[1].is_valid_at(ts("2026-12-31T23:00:01Z")));
    let anchor = dir.keys[1].to_trust_anchor("issuer/ci");
    assert_eq!(anchor.key_id(), Some(b.id));
    assert_eq!(anchor.purposes, vec![Purpose::AttestationSigning]);
    assert_eq!(anchor.expires, Some(ts("2026-12-31T23:00:00Z")));
}

#[test]
fn an_empty_key_list_is_a_valid_directory() {
    // An issuer that revokes every key must be able to say so.
    let dir = parse_directory(&doc(ISSUER, vec![]), ISSUER).unwrap();
    assert!(dir.keys.is_empty());
}

#[test]
fn duplicate_json_members_are_refused() {
    let k = p256();
    let text = format!(
        r#"{{"issuer": "{ISSUER}", "issuer": "https://evil.test", "keys": [{}]}}"#,
        entry(&k)
    );
    let err = parse_directory(text.as_bytes(), ISSUER).unwrap_err();
    assert!(matches!(err, DirectoryError::Json(_)), "{err:?}");
    assert!(
        err.to_string().contains("duplicate object key \"issuer\""),
        "{err}"
    );
    assert_eq!(err.reason(), "InvalidDirectory");

    let text = format!(
        r#"{{"issuer": "{ISSUER}", "keys": [{{"keyId": "{}", "keyId": "{}", "publicKey": {:?}}}]}}"#,
        k.id, k.id, k.pem
    );
    let err = parse_directory(text.as_bytes(), ISSUER).unwrap_err();
    assert!(
        err.to_string().contains("duplicate object key \"keyId\""),
        "{err}"
    );
}

#[test]
fn a_key_id_that_is_not_the_keys_is_refused() {
    let a = p256();
    let b = p256();
    let mut e = entry(&a);
    e["keyId"] = json!(b.id.to_string());
    let err = parse_directory(&doc(ISSUER, vec![entry(&b), e]), ISSUER).unwrap_err();
    assert_eq!(
        err,
        DirectoryError::KeyIdMismatch {
            index: 1,
            claimed: b.id,
            computed: a.id,
        }
    );
    assert!(
        err.to_string().starts_with(&format!(
            "keys[1]: keyId {} does not match the key, whose id is {}",
            b.id, a.id
        )),
        "{err}"
    );
    assert_eq!(err.reason(), "KeyIdMismatch");
}

#[test]
fn a_directory_for_another_issuer_is_refused() {
    let err =
        parse_directory(&doc("https://other.test", vec![entry(&p256())]), ISSUER).unwrap_err();
    assert_eq!(
        err,
        DirectoryError::IssuerMismatch {
            expected: ISSUER.into(),
            found: "https://other.test".into(),
        }
    );
    assert_eq!(err.reason(), "IssuerMismatch");
    assert!(
        err.to_string()
            .contains("not \"https://ci.example.test/attestor\""),
        "{err}"
    );
}

#[test]
fn at_most_64_keys() {
    let keys: Vec<TestKey> = (0..MAX_DIRECTORY_KEYS).map(|_| p256()).collect();
    let entries: Vec<Value> = keys.iter().map(entry).collect();
    let dir = parse_directory(&doc(ISSUER, entries.clone()), ISSUER).unwrap();
    assert_eq!(dir.keys.len(), 64);

    let mut too_many = entries;
    too_many.push(entry(&p256()));
    let err = parse_directory(&doc(ISSUER, too_many), ISSUER).unwrap_err();
    assert_eq!(err, DirectoryError::TooManyKeys { count: 65, max: 64 });
    assert_eq!(err.reason(), "InvalidDirectory");
}

#[test]
fn keys_of_unsupported_algorithms_are_reported_not_dropped() {
    let good = p256();
    let p384 = key(&rcgen::PKCS_ECDSA_P384_SHA384);
    let dir = parse_directory(&doc(ISSUER, vec![entry(&p384), entry(&good)]), ISSUER).unwrap();
    assert_eq!(dir.keys.len(), 1);
    assert_eq!(dir.keys[0].key_id, good.id);
    assert_eq!(dir.unsupported.len(), 1);
    assert_eq!(dir.unsupported[0].key_id, p384.id);
    assert!(
        dir.unsupported[0].algorithm.starts_with("ECDSA P-384"),
        "{}",
        dir.unsupported[0].algorithm
    );

    // Their ids are checked too.
    let mut wrong = entry(&p384);
    wrong["keyId"] = json!(good.id.to_string());
    let err = parse_directory(&doc(ISSUER, vec![wrong]), ISSUER).unwrap_err();
    assert!(
        matches!(err, DirectoryError::KeyIdMismatch { index: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn a_key_listed_twice_is_refused() {
    let k = p256();
    let err = parse_directory(&doc(ISSUER, vec![entry(&k), entry(&k)]), ISSUER).unwrap_err();
    assert_eq!(
        err,
        DirectoryError::DuplicateKeyId {
            key_id: k.id,
            first: 0,
            second: 1
        }
    );
}

#[test]
fn bad_entries_are_refused_with_their_index() {
    let k = p256();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"keyId": "sha256:ABC", "publicKey": k.pem}),
            "keys[0]: keyId \"sha256:ABC\" is not of the form",
        ),
        (
            json!({"keyId": k.id.to_string(), "publicKey": "-----BEGIN PUBLIC KEY-----\nAAAA\n"}),
            "keys[0] (sha256:",
        ),
        (
            json!({"keyId": k.id.to_string(), "publicKey": k.pem, "notBefore": "yesterday"}),
            "notBefore \"yesterday\" is not an RFC 3339 time",
        ),
        (
            json!({"keyId": k.id.to_string(), "publicKey": k.pem,
                   "notBefore": "2027-01-01T00:00:00Z", "expires": "2026-01-01T00:00:00Z"}),
            "notBefore 2027-01-01T00:00:00Z is not before expires 2026-01-01T00:00:00Z",
        ),
        (
            json!({"keyId": k.id.to_string(), "publicKey": 42}),
            "keys[0]: invalid type: integer `42`, expected a string",
        ),
        // A typo must not silently make a key never expire.
        (
            json!({"keyId": k.id.to_string(), "publicKey": k.pem, "expire": "2026-01-01T00:00:00Z"}),
            "not an issuer directory: keys[0]: unknown field `expire`",
        ),
    ];
    for (e, fragment) in cases {
        let err = parse_directory(&doc(ISSUER, vec![e.clone()]), ISSUER).unwrap_err();
        assert!(err.to_string().contains(fragment), "{e}: {err}");
        assert_eq!(err.reason(), "InvalidDirectory", "{e}");
    }
}

#[test]
fn garbage_is_refused() {
    let big = vec![b' '; 256 * 1024 + 1];
    for bytes in [
        &b""[..],
        b"\x00\xffgarbage",
        b"<html>502 Bad Gateway</html>",
        b"[]",
        b"null",
        br#"{"issuer": "x"}"#,
        br#"{"keys": []}"#,
        br#"{"issuer": 7, "keys": []}"#,
        br#"{"issuer": "x", "keys": {}}"#,
        br#"{"issuer": "x", "keys": [], "extra": true}"#,
        br#"{"issuer": "x", "keys": []} trailing"#,
        &big,
    ] {
        let err = parse_directory(bytes, "x").unwrap_err();
        assert_eq!(
            err.reason(),
            "InvalidDirectory",
            "{:?}: {err}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        );
    }
}

/// A server whose answer the test changes between refreshes.
struct Switchable {
    server: TestServer,
    reply: Arc<Mutex<Reply>>,
}

impl Switchable {
    async fn new(first: Reply) -> Self {
        let reply = Arc::new(Mutex::new(first));
        let shared = reply.clone();
        let server = TestServer::http(move |_| shared.lock().unwrap().clone()).await;
        Switchable { server, reply }
    }

    fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }
}

#[tokio::test]
async fn a_first_failure_leaves_no_keys_and_says_why() {
    let s = Switchable::new(Reply::status(500)).await;
    let url = s.server.url("/directory.json");
    let cache = DirectoryCache::new();
    let now = ts("2026-11-01T00:00:00Z");
    let outcome = cache
        .refresh(&fetcher(test_config(&[])), &url, ISSUER, now)
        .await;
    let RefreshOutcome::Failed(err) = &outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(outcome.keys().is_none());
    assert!(
        matches!(
            err,
            RefreshError::Fetch(FetchError::Http {
                status: 500,
                attempts: 3,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "GET {url}: HTTP 500 Internal Server Error (3 attempts): "
        )),
        "{err}"
    );
    assert_eq!(err.reason(), "SourceUnavailable");
    assert!(err.is_transient());

    let status = cache.status(&url, ISSUER).unwrap();
    assert!(status.key_ids.is_empty());
    assert_eq!(status.last_success, None);
    assert_eq!(status.last_attempt, Some(now));
    let last = status.last_error.unwrap();
    assert_eq!(last.at, now);
    assert_eq!(last.reason, "SourceUnavailable");
    assert!(last.message.contains("HTTP 500"), "{}", last.message);
}

#[tokio::test]
async fn the_cache_keeps_good_keys_across_failures_and_replaces_them_on_success() {
    let a = p256();
    let b = p256();
    let s = Switchable::new(Reply::ok(doc(ISSUER, vec![entry(&a)]))).await;
    let url = s.server.url("/directory.json");
    let f = fetcher(test_config(&[]));
    let cache = DirectoryCache::new();
    let t0 = ts("2026-11-01T00:00:00Z");

    // 1. First success.
    let outcome = cache.refresh(&f, &url, ISSUER, t0).await;
    let RefreshOutcome::Fresh(keys) = &outcome else {
        panic!("expected Fresh, got {outcome:?}");
    };
    assert_eq!(keys.key_ids(), vec![a.id]);
    assert_eq!(keys.fetched_at, t0);
    assert_eq!(keys.final_url, url);

    // 2. The server fails: the keys stay, with the error and their age.
    s.set(Reply::status(503));
    let t1 = ts("2026-11-01T02:00:00Z");
    let outcome = cache.refresh(&f, &url, ISSUER, t1).await;
    let RefreshOutcome::Stale { keys, error, age } = &outcome else {
        panic!("expected Stale, got {outcome:?}");
    };
    assert_eq!(keys.key_ids(), vec![a.id]);
    assert_eq!(*age, SignedDuration::from_hours(2));
    assert_eq!(error.reason(), "SourceUnavailable");
    assert!(error.to_string().contains("HTTP 503"), "{error}");
    let status = cache.status(&url, ISSUER).unwrap();
    assert_eq!(status.key_ids, vec![a.id]);
    assert_eq!(status.last_success, Some(t0));
    assert_eq!(status.last_attempt, Some(t1));
    assert_eq!(status.last_error.as_ref().map(|e| e.at), Some(t1));

    // 3. The server serves a broken document: still the old keys.
    s.set(Reply::ok(doc("https://impostor.test", vec![entry(&b)])));
    let t2 = ts("2026-11-01T03:00:00Z");
    let outcome = cache.refresh(&f, &url, ISSUER, t2).await;
    assert_eq!(outcome.keys().unwrap().key_ids(), vec![a.id]);
    assert_eq!(outcome.error().unwrap().reason(), "IssuerMismatch");
    assert!(
        outcome.error().unwrap().to_string().starts_with(&format!(
            "issuer directory {url}: the directory is for issuer"
        )),
        "{}",
        outcome.error().unwrap()
    );

    // 4. A good document with new keys replaces the old ones and clears the error.
    s.set(Reply::ok(doc(ISSUER, vec![entry(&b)])));
    let t3 = ts("2026-11-01T04:00:00Z");
    let outcome = cache.refresh(&f, &url, ISSUER, t3).await;
    let RefreshOutcome::Fresh(keys) = &outcome else {
        panic!("expected Fresh, got {outcome:?}");
    };
    assert_eq!(keys.key_ids(), vec![b.id]);
    let status = cache.status(&url, ISSUER).unwrap();
    assert_eq!(status.key_ids, vec![b.id]);
    assert_eq!(status.last_success, Some(t3));
    assert_eq!(status.last_error, None);
    assert_eq!(cache.keys(&url, ISSUER).unwrap().key_ids(), vec![b.id]);
}

#[tokio::test]
async fn keys_are_cached_per_expected_issuer() {
    let a = p256();
    let s = Switchable::new(Reply::ok(doc(ISSUER, vec![entry(&a)]))).await;
    let url = s.server.url("/directory.json");
    let f = fetcher(test_config(&[]));
    let cache = DirectoryCache::new();
    let now = ts("2026-11-01T00:00:00Z");
    assert!(matches!(
        cache.refresh(&f, &url, ISSUER, now).await,
        RefreshOutcome::Fresh(_)
    ));
    // The same URL for another issuer must not inherit the keys.
    let outcome = cache.refresh(&f, &url, "https://other.test", now).await;
    let RefreshOutcome::Failed(err) = &outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert_eq!(err.reason(), "IssuerMismatch");
    assert!(!err.is_transient());

    cache.forget(&url, ISSUER);
    assert!(cache.keys(&url, ISSUER).is_none());
    assert!(cache.status(&url, ISSUER).is_none());
}

#[tokio::test]
async fn unsupported_keys_reach_the_status() {
    let good = p256();
    let p384 = key(&rcgen::PKCS_ECDSA_P384_SHA384);
    let s = Switchable::new(Reply::ok(doc(ISSUER, vec![entry(&good), entry(&p384)]))).await;
    let url = s.server.url("/directory.json");
    let cache = DirectoryCache::new();
    let outcome = cache
        .refresh(
            &fetcher(test_config(&[])),
            &url,
            ISSUER,
            ts("2026-11-01T00:00:00Z"),
        )
        .await;
    assert_eq!(outcome.keys().unwrap().key_ids(), vec![good.id]);
    let status = cache.status(&url, ISSUER).unwrap();
    assert_eq!(status.key_ids, vec![good.id]);
    assert_eq!(status.unsupported.len(), 1);
    assert_eq!(status.unsupported[0].key_id, p384.id);
}

#[tokio::test]
async fn an_oversized_directory_is_not_read() {
    let s = Switchable::new(Reply::ok(vec![b' '; 300 * 1024])).await;
    let url = s.server.url("/directory.json");
    let outcome = DirectoryCache::new()
        .refresh(
            &fetcher(test_config(&[])),
            &url,
            ISSUER,
            ts("2026-11-01T00:00:00Z"),
        )
        .await;
    let err = outcome.error().unwrap();
    assert_eq!(err.reason(), "SourceTooLarge");
    assert!(
        err.to_string().contains("more than the 256 KiB limit")
            && err.to_string().contains("directory.url"),
        "{err}"
    );
}

#[test]
fn the_example_in_the_format_document_parses() {
    let text = include_str!("../../../docs/issuer-directory.md");
    let json = text
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a json block in docs/issuer-directory.md");
    let dir = parse_directory(json.as_bytes(), "https://ci.example.com/attestor").unwrap();
    let ids: Vec<String> = dir.keys.iter().map(|k| k.key_id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "sha256:70e46bba7abd14165fed60389e2f99d5128aff88f8bff8977da200a293e17262",
            "sha256:2d8925a58367a0a9c6039f8f7fb6e5c8552505bb02f735e8274949eb9a1e63d5",
        ]
    );
    assert_eq!(dir.keys[0].expires, Some(ts("2027-12-31T00:00:00Z")));
}
