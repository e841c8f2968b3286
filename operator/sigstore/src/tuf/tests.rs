//! The client rules on repositories signed here (Ed25519 and ECDSA P-256 keys from ring).
//! The same rules against repositories made by a real TUF implementation (go-tuf's CLI) are
//! tested in attestor-runtime's `tests/tuf.rs`.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use super::*;

const NOW: &str = "2030-01-01T00:00:00Z";
const LATER: &str = "2031-01-01T00:00:00Z";
const EARLIER: &str = "2029-01-01T00:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

enum Signer {
    Ed(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

/// A signing key and its TUF key id (any unique string: ids are not recomputed by clients).
struct TestKey {
    id: String,
    signer: Signer,
}

impl TestKey {
    fn ed25519(id: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self {
            id: id.into(),
            signer: Signer::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()),
        }
    }

    fn p256(id: &str) -> Self {
        let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Self {
            id: id.into(),
            signer: Signer::P256(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()),
        }
    }

    fn public(&self) -> Value {
        match &self.signer {
            Signer::Ed(k) => json!({
                "keytype": "ed25519", "scheme": "ed25519",
                "keyval": {"public": hex::encode(k.public_key().as_ref())}
            }),
            Signer::P256(k) => {
                let mut spki =
                    hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
                spki.extend_from_slice(k.public_key().as_ref());
                json!({
                    "keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                    "keyval": {"public": attestor_core::pem::to_pem("PUBLIC KEY", &spki)}
                })
            }
        }
    }

    fn sign(&self, message: &[u8]) -> String {
        match &self.signer {
            Signer::Ed(k) => hex::encode(k.sign(message).as_ref()),
            Signer::P256(k) => hex::encode(k.sign(&SystemRandom::new(), message).unwrap().as_ref()),
        }
    }
}

/// Signs `signed` with `keys`, as a metadata file.
fn file(signed: Value, keys: &[&TestKey]) -> Vec<u8> {
    let message = canonical(&signed).unwrap();
    let signatures: Vec<Value> = keys
        .iter()
        .map(|k| json!({"keyid": k.id, "sig": k.sign(&message)}))
        .collect();
    // Pretty-printed, as a mirror may serve it: what is signed is the canonical form.
    serde_json::to_vec_pretty(&json!({"signed": signed, "signatures": signatures})).unwrap()
}

/// The keys of a small repository: one per role, thresholds of 1 unless a test changes them.
struct Keys {
    root: Vec<TestKey>,
    root_threshold: u64,
    timestamp: TestKey,
    snapshot: TestKey,
    targets: TestKey,
}

impl Keys {
    fn new() -> Self {
        Self {
            root: vec![TestKey::ed25519("root-1")],
            root_threshold: 1,
            timestamp: TestKey::p256("timestamp-1"),
            snapshot: TestKey::ed25519("snapshot-1"),
            targets: TestKey::ed25519("targets-1"),
        }
    }

    fn root_signed(&self, version: u64, expires: &str) -> Value {
        let mut keys = serde_json::Map::new();
        for k in self
            .root
            .iter()
            .chain([&self.timestamp, &self.snapshot, &self.targets])
        {
            keys.insert(k.id.clone(), k.public());
        }
        json!({
            "_type": "root", "spec_version": "1.0.31", "version": version, "expires": expires,
            "consistent_snapshot": true, "keys": keys,
            "roles": {
                "root": {"keyids": self.root.iter().map(|k| &k.id).collect::<Vec<_>>(), "threshold": self.root_threshold},
                "timestamp": {"keyids": [self.timestamp.id], "threshold": 1},
                "snapshot": {"keyids": [self.snapshot.id], "threshold": 1},
                "targets": {"keyids": [self.targets.id], "threshold": 1},
            }
        })
    }

    fn root(&self, version: u64) -> Vec<u8> {
        file(
            self.root_signed(version, LATER),
            &self.root.iter().collect::<Vec<_>>(),
        )
    }
}

const TARGET: &[u8] =
    br#"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#;

fn targets(version: u64, expires: &str, target: &[u8]) -> Value {
    json!({
        "_type": "targets", "spec_version": "1.0", "version": version, "expires": expires,
        "targets": {SIGSTORE_TRUSTED_ROOT: {
            "length": target.len(),
            "hashes": {"sha256": hex::encode(sha2::Sha256::digest(target))},
        }}
    })
}

fn listing(kind: &str, version: u64, expires: &str, name: &str, of: u64) -> Value {
    json!({
        "_type": kind, "spec_version": "1.0", "version": version, "expires": expires,
        "meta": {name: {"version": of}}
    })
}

/// Timestamp `t`, snapshot `s`, targets `g`, as files signed by `keys`.
fn chain(keys: &Keys, t: u64, s: u64, g: u64) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        file(
            listing("timestamp", t, LATER, "snapshot.json", s),
            &[&keys.timestamp],
        ),
        file(
            listing("snapshot", s, LATER, "targets.json", g),
            &[&keys.snapshot],
        ),
        file(targets(g, LATER, TARGET), &[&keys.targets]),
    )
}

/// Runs the workflow on `root` and the three files, then checks the target.
fn refresh(
    root: &[u8],
    (timestamp, snapshot, targets): &(Vec<u8>, Vec<u8>, Vec<u8>),
) -> Result<TrustedMetadata, TufError> {
    let mut trusted = TrustedMetadata::new(root)?;
    trusted.update_timestamp(timestamp, now())?;
    trusted.update_snapshot(snapshot, now())?;
    trusted.update_targets(targets, now())?;
    trusted.verify_target(SIGSTORE_TRUSTED_ROOT, TARGET)?;
    Ok(trusted)
}

#[test]
fn a_signed_repository_yields_its_target() {
    let keys = Keys::new();
    let trusted = refresh(&keys.root(1), &chain(&keys, 1, 1, 1)).unwrap();
    assert_eq!(trusted.root_version(), 1);
    assert_eq!(trusted.snapshot_path().unwrap(), "1.snapshot.json");
    assert_eq!(trusted.targets_path().unwrap(), "1.targets.json");
    let hash = hex::encode(sha2::Sha256::digest(TARGET));
    assert_eq!(
        trusted.target_paths(SIGSTORE_TRUSTED_ROOT).unwrap(),
        vec![format!("{hash}.{SIGSTORE_TRUSTED_ROOT}")]
    );
    assert_eq!(trusted.expires(), LATER.parse::<Timestamp>().unwrap());
}

#[test]
fn each_rule_has_its_reason() {
    let keys = Keys::new();
    let other = Keys::new();
    let good = chain(&keys, 2, 2, 2);
    let (t, s, g) = good.clone();
    type Case = (
        &'static str,
        Vec<u8>,
        (Vec<u8>, Vec<u8>, Vec<u8>),
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "timestamp signed by a key the root does not name",
            keys.root(1),
            (chain(&other, 2, 2, 2).0, s.clone(), g.clone()),
            reason::THRESHOLD_NOT_MET,
        ),
        (
            "expired timestamp",
            keys.root(1),
            (
                file(
                    listing("timestamp", 2, EARLIER, "snapshot.json", 2),
                    &[&keys.timestamp],
                ),
                s.clone(),
                g.clone(),
            ),
            reason::METADATA_EXPIRED,
        ),
        (
            "expired root",
            file(keys.root_signed(1, EARLIER), &[&keys.root[0]]),
            good.clone(),
            reason::METADATA_EXPIRED,
        ),
        (
            "expired targets",
            keys.root(1),
            (
                t.clone(),
                s.clone(),
                file(targets(2, EARLIER, TARGET), &[&keys.targets]),
            ),
            reason::METADATA_EXPIRED,
        ),
        (
            "snapshot older than the timestamp names",
            keys.root(1),
            (t.clone(), chain(&keys, 2, 1, 2).1, g.clone()),
            reason::METADATA_MISMATCH,
        ),
        (
            "targets signed by the snapshot key",
            keys.root(1),
            (
                t.clone(),
                s.clone(),
                file(targets(2, LATER, TARGET), &[&keys.snapshot]),
            ),
            reason::THRESHOLD_NOT_MET,
        ),
        (
            "target listed with other bytes' hash",
            keys.root(1),
            (
                t.clone(),
                s.clone(),
                file(targets(2, LATER, b"{}"), &[&keys.targets]),
            ),
            reason::TARGET_MISMATCH,
        ),
        (
            "a timestamp in place of the snapshot",
            keys.root(1),
            (t.clone(), t.clone(), g.clone()),
            reason::METADATA_INVALID,
        ),
    ];
    for (what, root, files, want) in cases {
        let e = refresh(&root, &files).expect_err(what);
        assert_eq!(e.reason(), want, "{what}: {e}");
    }
}

#[test]
fn a_tampered_signed_part_breaks_the_signature() {
    let keys = Keys::new();
    let (t, s, g) = chain(&keys, 1, 1, 1);
    let mut doc: Value = serde_json::from_slice(&t).unwrap();
    doc["signed"]["meta"]["snapshot.json"]["version"] = json!(7);
    let t = serde_json::to_vec(&doc).unwrap();
    let e = refresh(&keys.root(1), &(t, s, g)).unwrap_err();
    assert_eq!(e.reason(), reason::THRESHOLD_NOT_MET, "{e}");
}

#[test]
fn a_key_counts_once_towards_a_threshold() {
    let mut keys = Keys::new();
    keys.root_threshold = 2;
    let signed = keys.root_signed(1, LATER);
    // One key's signature twice.
    let e =
        TrustedMetadata::new(&file(signed.clone(), &[&keys.root[0], &keys.root[0]])).unwrap_err();
    assert!(
        matches!(
            e,
            TufError::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{e}"
    );
    // One key under two ids.
    let mut doc = signed;
    doc["keys"]["root-1-again"] = doc["keys"]["root-1"].clone();
    doc["roles"]["root"]["keyids"] = json!(["root-1", "root-1-again"]);
    let message = canonical(&doc).unwrap();
    let sig = keys.root[0].sign(&message);
    let bytes = serde_json::to_vec(&json!({"signed": doc, "signatures": [
        {"keyid": "root-1", "sig": sig},
        {"keyid": "root-1-again", "sig": sig},
    ]}))
    .unwrap();
    let e = TrustedMetadata::new(&bytes).unwrap_err();
    assert!(
        matches!(
            e,
            TufError::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_threshold_of_zero_is_refused() {
    let mut keys = Keys::new();
    keys.root_threshold = 0;
    let e = TrustedMetadata::new(&keys.root(1)).unwrap_err();
    assert_eq!(e.reason(), reason::METADATA_INVALID, "{e}");
    assert!(e.to_string().contains("threshold of 0"), "{e}");
}

#[test]
fn the_root_chain_needs_the_old_and_the_new_keys() {
    let mut keys = Keys::new();
    let v1 = keys.root(1);
    let old = std::mem::replace(&mut keys.root, vec![TestKey::ed25519("root-2")]);
    let v2_signed = keys.root_signed(2, LATER);

    let mut trusted = TrustedMetadata::new(&v1).unwrap();
    let e = trusted
        .update_root(&file(v2_signed.clone(), &[&keys.root[0]]))
        .unwrap_err();
    assert!(
        matches!(&e, TufError::ThresholdNotMet { signer, .. } if signer == "root version 1"),
        "{e}"
    );
    let e = trusted
        .update_root(&file(v2_signed.clone(), &[&old[0]]))
        .unwrap_err();
    assert!(
        matches!(&e, TufError::ThresholdNotMet { signer, .. } if signer == "root version 2"),
        "{e}"
    );
    assert_eq!(trusted.root_version(), 1, "a refused root changes nothing");

    trusted
        .update_root(&file(v2_signed, &[&old[0], &keys.root[0]]))
        .unwrap();
    assert_eq!(trusted.root_version(), 2);
    // Version 3 given in place of 2 is refused whoever signed it, and so is 2 again.
    let v3 = file(keys.root_signed(4, LATER), &[&keys.root[0]]);
    assert_eq!(
        trusted.update_root(&v3).unwrap_err().reason(),
        reason::METADATA_INVALID
    );
    let again = file(keys.root_signed(2, LATER), &[&keys.root[0]]);
    assert_eq!(
        trusted.update_root(&again).unwrap_err().reason(),
        reason::ROLLBACK
    );
    // The old root keys no longer sign the timestamp's key set: the new chain verifies.
    let (t, s, g) = chain(&keys, 1, 1, 1);
    trusted.update_timestamp(&t, now()).unwrap();
    trusted.update_snapshot(&s, now()).unwrap();
    trusted.update_targets(&g, now()).unwrap();
    trusted
        .verify_target(SIGSTORE_TRUSTED_ROOT, TARGET)
        .unwrap();
}

#[test]
fn older_metadata_than_remembered_is_a_rollback() {
    let keys = Keys::new();
    let (t3, s3, _) = chain(&keys, 3, 3, 3);
    let remembered = |trusted: &mut TrustedMetadata| {
        trusted.remember_timestamp(&t3).unwrap();
        trusted.remember_snapshot(&s3).unwrap();
    };
    type Case = (&'static str, (u64, u64, u64), Option<&'static str>);
    let cases: &[Case] = &[
        ("same versions", (3, 3, 3), None),
        ("newer", (4, 4, 4), None),
        ("older timestamp", (2, 3, 3), Some(reason::ROLLBACK)),
        (
            "timestamp naming an older snapshot",
            (4, 2, 3),
            Some(reason::ROLLBACK),
        ),
        (
            "snapshot naming older targets",
            (4, 4, 2),
            Some(reason::ROLLBACK),
        ),
    ];
    for (what, (t, s, g), want) in cases {
        let (tf, sf, gf) = chain(&keys, *t, *s, *g);
        let mut trusted = TrustedMetadata::new(&keys.root(1)).unwrap();
        remembered(&mut trusted);
        let result = trusted
            .update_timestamp(&tf, now())
            .and_then(|()| trusted.update_snapshot(&sf, now()))
            .and_then(|()| trusted.update_targets(&gf, now()));
        match want {
            None => result.unwrap_or_else(|e| panic!("{what}: {e}")),
            Some(want) => assert_eq!(result.unwrap_err().reason(), *want, "{what}"),
        }
    }
    // A remembered timestamp the current keys did not sign is no baseline at all.
    let mut trusted = TrustedMetadata::new(&keys.root(1)).unwrap();
    let foreign = chain(&Keys::new(), 9, 9, 9);
    assert!(trusted.remember_timestamp(&foreign.0).is_err());
    trusted
        .update_timestamp(&chain(&keys, 1, 1, 1).0, now())
        .unwrap();
}

#[test]
fn unsupported_or_bad_input_is_invalid() {
    let keys = Keys::new();
    let mut signed = keys.root_signed(1, LATER);
    signed["spec_version"] = json!("2.0");
    let e = TrustedMetadata::new(&file(signed, &[&keys.root[0]])).unwrap_err();
    assert!(e.to_string().contains("not 1.x"), "{e}");
    for bytes in [&b"not json"[..], b"[]", br#"{"signed": {}}"#] {
        let e = TrustedMetadata::new(bytes).unwrap_err();
        assert_eq!(e.reason(), reason::METADATA_INVALID, "{e}");
    }
    let mut signed = keys.root_signed(1, LATER);
    signed["version"] = json!(1.5);
    let e = TrustedMetadata::new(&file_unchecked(signed)).unwrap_err();
    assert_eq!(e.reason(), reason::METADATA_INVALID, "{e}");
}

/// A file with no signatures, for input that cannot even be canonicalised.
fn file_unchecked(signed: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"signed": signed, "signatures": []})).unwrap()
}
