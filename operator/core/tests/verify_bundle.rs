//! End-to-end verification of bundles built in memory: every check's pass
//! path and its failure reasons, and robustness against hostile input.

use std::collections::BTreeMap;

use attestor_core::bundle::{Bundle, BundleSpec, NodeInput, build_bundle};
use attestor_core::digest::Sha256Digest;
use attestor_core::keys::SigningKey;
use attestor_core::tlog::LocalLog;
use attestor_core::trust::{Purpose, TrustAnchor, TrustStore};
use attestor_core::verify::{
    CheckName, CheckStatus, NOT_AUTHENTICATED, TimestampWindow, TlogPolicy, VerificationReport,
    VerifyOptions, verify_bundle, verify_zip,
};
use attestor_core::zip::{ZipLimits, read_zip, write_zip};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9UP3aRNcWOQ8CqVH
NsUzgDw0yZ7YTfTMQSRaK8pTSbGhRANCAAQEq/0INesNF+rNfBomyKuYeTKe8UHq
7PplbErNqGoyEOzaQx83dHaO+vIWLWfvxvJCDANBeAabLktqC7B5qrlo
-----END PRIVATE KEY-----
";
const ED25519: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINDvMSPJkOkP7xBXPshJ8geYVRxokV/Qj1paRTeDiT15
-----END PRIVATE KEY-----
";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn signer() -> SigningKey {
    SigningKey::from_pem(P256).unwrap()
}

fn log_key() -> SigningKey {
    SigningKey::from_pem(ED25519).unwrap()
}

fn manifest() -> Value {
    json!({
        "schema": "stellaops.io/scan-manifest/v1",
        "artifactDigest": Sha256Digest::of(b"image"),
        "artifactName": "registry.example/app",
        "inputs": {
            "sbom": Sha256Digest::of(b"sbom"),
            "feedSnapshot": Sha256Digest::of(b"feed"),
            "vex": Sha256Digest::of(b"vex"),
            "policy": Sha256Digest::of(b"policy"),
        },
        "createdAt": "2026-11-01T09:00:00Z",
        "deterministic": true,
        "extension": {"unicode": "h\u{e9}llo \u{1f600}", "number": 0.5}
    })
}

fn nodes() -> Vec<NodeInput> {
    let first = NodeInput {
        kind: "inputs".into(),
        parents: vec![],
        data: json!({"n": 1}),
    };
    let first_id = first.id().unwrap();
    let second = NodeInput {
        kind: "match".into(),
        parents: vec![first_id],
        data: json!({"advisory": "A-1", "cvssTenths": 75}),
    };
    let second_id = second.id().unwrap();
    let third = NodeInput {
        kind: "aggregate".into(),
        parents: vec![first_id, second_id],
        data: json!({"score": 750}),
    };
    vec![first, second, third]
}

/// A bundle signed by the P-256 key, logged by the Ed25519 log key.
fn build(signed_at: &str, with_log: bool) -> Vec<u8> {
    let mut log = LocalLog::new("test.example/log");
    log.append(b"an earlier entry");
    let log_key = log_key();
    let spec = BundleSpec {
        manifest: manifest(),
        nodes: nodes(),
        signed_at: ts(signed_at),
        tools: BTreeMap::new(),
        certificates: vec![],
        transparency_log: with_log.then_some((&mut log, &log_key)),
    };
    build_bundle(spec, &signer()).unwrap().zip
}

fn trust() -> TrustStore {
    TrustStore::new(vec![
        TrustAnchor::from_key("signing", signer().public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ])
}

fn opts() -> VerifyOptions {
    VerifyOptions::at(ts("2026-11-23T00:00:00Z"))
}

fn parse(zip: &[u8]) -> Bundle {
    Bundle::from_zip(zip, &ZipLimits::default()).unwrap()
}

/// The bundle with its `score_proof.json` edited by `edit`.
fn with_ledger(zip: &[u8], edit: impl FnOnce(&mut Value)) -> Bundle {
    let mut edit = Some(edit);
    let entries = read_zip(zip, &ZipLimits::default()).unwrap();
    Bundle::from_entries(entries.into_iter().map(|e| {
        if e.name != "score_proof.json" {
            return (e.name, e.data);
        }
        let mut v: Value = serde_json::from_slice(&e.data).unwrap();
        (edit.take().unwrap())(&mut v);
        (e.name, serde_json::to_vec(&v).unwrap())
    }))
    .unwrap()
}

fn verify(bundle: &Bundle, trust: &TrustStore, opts: &VerifyOptions) -> VerificationReport {
    let report = verify_bundle(bundle, trust, opts);
    assert_eq!(report.checks.len(), 5, "every check is always reported");
    report
}

#[track_caller]
fn assert_fails(report: &VerificationReport, check: CheckName, reason: &str) {
    let c = report.check(check).unwrap();
    assert_eq!(
        (c.status, c.reason.as_str()),
        (CheckStatus::Fail, reason),
        "{}: {}",
        check.as_str(),
        c.message
    );
    assert!(!report.verified);
}

#[test]
fn the_report_reason_is_the_first_failing_check() {
    let mut bundle = with_ledger(&build("2026-11-01T09:30:00Z", true), |l| {
        l["rootHash"] = json!(Sha256Digest::of(b"x"))
    });
    bundle.meta.signed_at = "2026-11-02T00:00:00Z".parse().unwrap();
    let r = verify(&bundle, &trust(), &opts());
    assert_eq!(r.reason, "MerkleRootMismatch");
    assert!(r.message.starts_with("merklePathValid: "), "{}", r.message);
    assert_eq!(
        r.check(CheckName::TimestampValid).unwrap().reason,
        "TimestampMismatch"
    );
}

#[test]
fn a_valid_bundle_passes_every_check() {
    let zip = build("2026-11-01T09:30:00Z", true);
    let report = verify(&parse(&zip), &trust(), &opts());
    assert!(report.verified, "{report:#?}");
    assert_eq!(report.reason, "Verified");
    assert!(
        report.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{report:#?}"
    );
    assert_eq!(
        report.signer.as_ref().unwrap().key_id,
        signer().public_key().key_id().to_string()
    );
    assert_eq!(
        report.artifact_digest,
        Sha256Digest::of(b"image").to_string()
    );
    assert!(
        report
            .check(CheckName::SignatureValid)
            .unwrap()
            .evidence
            .iter()
            .any(|(k, _)| k.contains("signer"))
    );
}

#[test]
fn building_is_deterministic() {
    assert_eq!(
        build("2026-11-01T09:30:00Z", true),
        build("2026-11-01T09:30:00Z", true)
    );
}

#[test]
fn signature_failures_have_their_own_reasons() {
    let bundle = parse(&build("2026-11-01T09:30:00Z", true));

    let other = TrustStore::new(vec![
        TrustAnchor::from_key("other", log_key().public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    let r = verify(&bundle, &other, &opts());
    assert_fails(&r, CheckName::SignatureValid, "TrustAnchorNotFound");
    assert!(
        r.message
            .contains(&signer().public_key().key_id().to_string()),
        "names the missing key: {}",
        r.message
    );

    let expired = TrustStore::new(vec![
        TrustAnchor::from_key("old", signer().public_key())
            .with_validity(None, Some(ts("2026-06-01T00:00:00Z"))),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    let r = verify(&bundle, &expired, &opts());
    assert_fails(&r, CheckName::SignatureValid, "KeyExpired");
    assert!(r.message.contains("2026-06-01T00:00:00Z"), "{}", r.message);

    let future = TrustStore::new(vec![
        TrustAnchor::from_key("next", signer().public_key())
            .with_validity(Some(ts("2027-01-01T00:00:00Z")), None),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    assert_fails(
        &verify(&bundle, &future, &opts()),
        CheckName::SignatureValid,
        "KeyNotYetValid",
    );

    // A log-only anchor must not vouch for attestations.
    let log_only = TrustStore::new(vec![
        TrustAnchor::from_key("signing-as-log", signer().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    assert_fails(
        &verify(&bundle, &log_only, &opts()),
        CheckName::SignatureValid,
        "TrustAnchorNotFound",
    );

    let mut tampered = bundle.clone();
    tampered.manifest_envelope.signatures[0].sig[10] ^= 1;
    assert_fails(
        &verify(&tampered, &trust(), &opts()),
        CheckName::SignatureValid,
        "SignatureInvalid",
    );

    let mut retyped = bundle.clone();
    retyped.proof_root_envelope.payload_type = "application/json".into();
    assert_fails(
        &verify(&retyped, &trust(), &opts()),
        CheckName::SignatureValid,
        "PayloadTypeMismatch",
    );
}

#[test]
fn a_wrong_keyid_hint_does_not_hide_a_valid_signature() {
    let mut bundle = parse(&build("2026-11-01T09:30:00Z", true));
    for env in [
        &mut bundle.manifest_envelope,
        &mut bundle.proof_root_envelope,
    ] {
        env.signatures[0].keyid = "not-a-key-id".into();
    }
    assert!(verify(&bundle, &trust(), &opts()).verified);
}

#[test]
fn rotation_overlap_keeps_old_and_new_keys_valid() {
    // Two anchors for the same key material under different windows: the
    // verification succeeds while one of them is valid.
    let bundle = parse(&build("2026-11-01T09:30:00Z", true));
    let store = TrustStore::new(vec![
        TrustAnchor::from_key("2025", signer().public_key())
            .with_validity(None, Some(ts("2026-01-01T00:00:00Z"))),
        TrustAnchor::from_key("2026", signer().public_key())
            .with_validity(Some(ts("2025-12-01T00:00:00Z")), None),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    let r = verify(&bundle, &store, &opts());
    assert!(r.verified, "{r:#?}");
    assert_eq!(r.signer.unwrap().anchor, "2026");
}

#[test]
fn content_failures_have_their_own_reasons() {
    let bundle = parse(&build("2026-11-01T09:30:00Z", true));

    let mut m = bundle.clone();
    m.manifest_value["deterministic"] = json!(false);
    assert_fails(
        &verify(&m, &trust(), &opts()),
        CheckName::IdRecomputed,
        "ManifestMismatch",
    );

    let zip = build("2026-11-01T09:30:00Z", true);
    let n = with_ledger(&zip, |l| {
        l["nodes"][1]["data"] = json!({"advisory": "A-1", "cvssTenths": 10})
    });
    assert_fails(
        &verify(&n, &trust(), &opts()),
        CheckName::IdRecomputed,
        "NodeIdMismatch",
    );

    let p = with_ledger(&zip, |l| l["nodes"].as_array_mut().unwrap().swap(0, 1));
    let r = verify(&p, &trust(), &opts());
    assert_fails(&r, CheckName::IdRecomputed, "ParentMissing");
    assert_fails(&r, CheckName::MerklePathValid, "MerkleRootMismatch");

    let d = with_ledger(&zip, |l| {
        let nodes = l["nodes"].as_array_mut().unwrap();
        nodes[1] = nodes[0].clone();
    });
    assert_fails(
        &verify(&d, &trust(), &opts()),
        CheckName::IdRecomputed,
        "NodeIdDuplicate",
    );

    let c = with_ledger(&zip, |l| l["manifestId"] = json!(Sha256Digest::of(b"x")));
    assert_fails(
        &verify(&c, &trust(), &opts()),
        CheckName::IdRecomputed,
        "ManifestIdMismatch",
    );

    let r = with_ledger(&zip, |l| l["rootHash"] = json!(Sha256Digest::of(b"x")));
    assert_fails(
        &verify(&r, &trust(), &opts()),
        CheckName::MerklePathValid,
        "MerkleRootMismatch",
    );

    let e = with_ledger(&zip, |l| l["nodes"] = json!([]));
    let r = verify(&e, &trust(), &opts());
    assert_fails(&r, CheckName::MerklePathValid, "EmptyLedger");
    assert_fails(&r, CheckName::IdRecomputed, "NodeCountMismatch");

    let mut o = opts();
    o.expected_artifact = Some(Sha256Digest::of(b"another image"));
    assert_fails(
        &verify(&bundle, &trust(), &o),
        CheckName::IdRecomputed,
        "ArtifactDigestMismatch",
    );
}

#[test]
fn transparency_log_policy() {
    let logged = parse(&build("2026-11-01T09:30:00Z", true));
    let unlogged = parse(&build("2026-11-01T09:30:00Z", false));
    let mut o = opts();
    assert_fails(
        &verify(&unlogged, &trust(), &o),
        CheckName::RekorInclusion,
        "TransparencyLogEntryMissing",
    );
    o.tlog = TlogPolicy::IfPresent;
    let r = verify(&unlogged, &trust(), &o);
    assert!(r.verified);
    assert_eq!(
        r.check(CheckName::RekorInclusion).unwrap().status,
        CheckStatus::Skipped
    );
    // Offline still verifies an entry that is there.
    let mut bad = logged.clone();
    bad.meta.transparency_log.as_mut().unwrap().log_index = 0;
    assert_fails(
        &verify(&bad, &trust(), &o),
        CheckName::RekorInclusion,
        "InclusionProofInvalid",
    );
    o.tlog = TlogPolicy::Skip;
    assert!(verify(&bad, &trust(), &o).verified);
    let no_log_anchor = TrustStore::new(vec![
        TrustAnchor::from_key("signing", signer().public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
    ]);
    assert_fails(
        &verify(&logged, &no_log_anchor, &opts()),
        CheckName::RekorInclusion,
        "LogKeyNotTrusted",
    );
}

#[test]
fn timestamp_window() {
    let at = opts();
    assert_fails(
        &verify(&parse(&build("2026-11-24T00:00:00Z", true)), &trust(), &at),
        CheckName::TimestampValid,
        "TimestampInFuture",
    );
    // Within the clock skew is fine.
    assert!(verify(&parse(&build("2026-11-23T00:04:00Z", true)), &trust(), &at).verified);
    assert_fails(
        &verify(&parse(&build("2026-11-01T08:00:00Z", true)), &trust(), &at),
        CheckName::TimestampValid,
        "TimestampOrderInvalid",
    );
    let mut aged = opts();
    aged.timestamps = Some(TimestampWindow {
        max_age: Some(SignedDuration::from_hours(24)),
        ..Default::default()
    });
    assert_fails(
        &verify(
            &parse(&build("2026-11-01T09:30:00Z", true)),
            &trust(),
            &aged,
        ),
        CheckName::TimestampValid,
        "TimestampTooOld",
    );

    let mut meta = parse(&build("2026-11-01T09:30:00Z", true));
    meta.meta.signed_at = ts("2026-11-02T00:00:00Z");
    assert_fails(
        &verify(&meta, &trust(), &at),
        CheckName::TimestampValid,
        "TimestampMismatch",
    );

    let window = TrustStore::new(vec![
        TrustAnchor::from_key("k", signer().public_key())
            .with_validity(Some(ts("2026-11-10T00:00:00Z")), None),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    assert_fails(
        &verify(&parse(&build("2026-11-01T09:30:00Z", true)), &window, &at),
        CheckName::TimestampValid,
        "SignedOutsideKeyValidity",
    );
    let mut skip = opts();
    skip.timestamps = None;
    assert!(
        verify(
            &parse(&build("2026-11-24T00:00:00Z", true)),
            &trust(),
            &skip
        )
        .verified
    );
}

#[test]
fn structural_problems_are_errors_not_panics() {
    let zip = build("2026-11-01T09:30:00Z", true);
    for len in 0..zip.len() {
        assert!(
            Bundle::from_zip(&zip[..len], &ZipLimits::default()).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    let entries = read_zip(&zip, &ZipLimits::default()).unwrap();
    for skip in 0..entries.len() {
        let rest: Vec<_> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, e)| (e.name.clone(), e.data.clone()))
            .collect();
        let err = Bundle::from_entries(rest).unwrap_err().to_string();
        assert!(err.contains(&entries[skip].name), "{err}");
    }
    let mut extra: Vec<_> = entries
        .iter()
        .map(|e| (e.name.clone(), e.data.clone()))
        .collect();
    extra.push(("extra.txt".into(), vec![]));
    assert!(
        Bundle::from_entries(extra)
            .unwrap_err()
            .to_string()
            .contains("extra.txt")
    );
}

/// A tiny deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_entries_never_panic_and_never_verify_when_signed_content_changes() {
    let zip = build("2026-11-01T09:30:00Z", true);
    let entries = read_zip(&zip, &ZipLimits::default()).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut parsed = 0;
    for round in 0..3000 {
        let target = rng.below(entries.len());
        let mut mutated: Vec<(String, Vec<u8>)> = entries
            .iter()
            .map(|e| (e.name.clone(), e.data.clone()))
            .collect();
        let data = &mut mutated[target].1;
        match round % 3 {
            0 => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.truncate(rng.below(data.len())),
            _ => {
                let i = rng.below(data.len());
                let j = rng.below(data.len());
                data.swap(i, j);
            }
        }
        if mutated[target].1 == entries[target].data {
            continue;
        }
        let ledger = mutated[2].1.clone();
        if let Ok(bundle) = Bundle::from_entries(mutated) {
            parsed += 1;
            let report = verify_bundle(&bundle, &trust(), &opts());
            // meta.json is unsigned: whitespace and some edits to it are harmless.
            if entries[target].name != "meta.json" && report.verified {
                // The only harmless change to a signed entry is one the JSON parser cannot see.
                // DSSE keyids are unauthenticated hints, so they are left out of the comparison.
                let before = without_keyids(serde_json::from_slice(&entries[target].data).unwrap());
                let after = without_keyids(
                    serde_json::from_slice(&bundle_entry(&bundle, &entries[target].name, &ledger))
                        .unwrap_or(Value::Null),
                );
                assert_eq!(
                    before, after,
                    "round {round}: a semantic change to {} still verified",
                    entries[target].name
                );
            }
        }
    }
    assert!(
        parsed > 100,
        "mutations should often still parse ({parsed})"
    );
}

fn without_keyids(mut v: Value) -> Value {
    if let Some(sigs) = v.get_mut("signatures").and_then(Value::as_array_mut) {
        for s in sigs.iter_mut().filter_map(Value::as_object_mut) {
            s.remove("keyid");
        }
    }
    v
}

/// The entry as the parsed bundle holds it (the ledger is not kept, so it
/// is taken as given: `ledger`).
fn bundle_entry(bundle: &Bundle, name: &str, ledger: &[u8]) -> Vec<u8> {
    match name {
        "manifest.json" => serde_json::to_vec(&bundle.manifest_value).unwrap(),
        "manifest.dsse.json" => serde_json::to_vec(&bundle.manifest_envelope.to_value()).unwrap(),
        "proof_root.dsse.json" => serde_json::to_vec(&bundle.proof_root_envelope_value).unwrap(),
        "score_proof.json" => ledger.to_vec(),
        _ => vec![],
    }
}

#[test]
fn random_bytes_are_never_a_bundle() {
    let mut rng = Rng(42);
    for len in [0usize, 1, 21, 22, 100, 1000, 5000] {
        for _ in 0..50 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert!(Bundle::from_zip(&bytes, &ZipLimits::default()).is_err());
        }
    }
    // A well-formed ZIP of garbage JSON.
    let garbage = write_zip([("manifest.json", &b"{"[..]), ("meta.json", b"[]")]).unwrap();
    assert!(Bundle::from_zip(&garbage, &ZipLimits::default()).is_err());
}

/// The archive with entry `name` replaced by `edit` of its bytes.
fn with_entry(zip: &[u8], name: &str, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut edit = Some(edit);
    let entries: Vec<(String, Vec<u8>)> = read_zip(zip, &ZipLimits::default())
        .unwrap()
        .into_iter()
        .map(|e| {
            let data = if e.name == name {
                (edit.take().unwrap())(e.data)
            } else {
                e.data
            };
            (e.name, data)
        })
        .collect();
    write_zip(entries.iter().map(|(n, d)| (n.as_str(), d.as_slice()))).unwrap()
}

/// manifest.dsse.json with one bit of its signature flipped.
fn forge_manifest_signature(entry: Vec<u8>) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: Value = serde_json::from_slice(&entry).unwrap();
    let mut sig = b64
        .decode(v["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    sig[10] ^= 1;
    v["signatures"][0]["sig"] = json!(b64.encode(sig));
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn verify_zip_reports_as_verify_bundle_when_the_signatures_hold() {
    let valid = build("2026-11-01T09:30:00Z", true);
    let altered_node = with_entry(&valid, "score_proof.json", |d| {
        let mut v: Value = serde_json::from_slice(&d).unwrap();
        v["nodes"][1]["data"]["cvssTenths"] = json!(10);
        serde_json::to_vec(&v).unwrap()
    });
    let other_root = with_entry(&valid, "score_proof.json", |d| {
        let mut v: Value = serde_json::from_slice(&d).unwrap();
        v["rootHash"] = json!(Sha256Digest::of(b"x"));
        serde_json::to_vec(&v).unwrap()
    });
    let mut old = opts();
    old.timestamps = Some(TimestampWindow {
        max_age: Some(SignedDuration::from_hours(24)),
        clock_skew: SignedDuration::from_mins(5),
    });
    let cases = [
        (&valid, opts(), "Verified"),
        (&altered_node, opts(), "NodeIdMismatch"),
        (&other_root, opts(), "MerkleRootMismatch"),
        (&valid, old, "TimestampTooOld"),
    ];
    for (zip, opts, reason) in cases {
        let direct = verify_bundle(&parse(zip), &trust(), &opts);
        let report = verify_zip(zip, &ZipLimits::default(), &trust(), &opts).unwrap();
        assert_eq!(report.reason, reason, "{report:#?}");
        assert_eq!(report, direct);
    }
    // A ledger that cannot be read is the input error it always was, once
    // the signatures hold.
    let broken = with_entry(&valid, "score_proof.json", |_| b"{\"nodes\": [".to_vec());
    let err = verify_zip(&broken, &ZipLimits::default(), &trust(), &opts()).unwrap_err();
    assert_eq!(
        Some(err),
        Bundle::from_zip(&broken, &ZipLimits::default()).err()
    );
}

#[test]
fn an_unauthenticated_bundle_is_refused_without_reading_its_ledger() {
    let valid = build("2026-11-01T09:30:00Z", true);
    let forged = with_entry(&valid, "manifest.dsse.json", forge_manifest_signature);
    // Its ledger is not JSON at all, and larger than the rest of the bundle:
    // reading it would end in an input error.
    let garbage: Vec<u8> = (0..4_000_000u32)
        .map(|i| b'[' + (i.wrapping_mul(2_654_435_761) >> 29) as u8)
        .collect();
    let forged_garbage = with_entry(&forged, "score_proof.json", |_| garbage.clone());
    let unreadable = Bundle::from_zip(&forged_garbage, &ZipLimits::default()).unwrap_err();
    assert!(
        unreadable.to_string().contains("score_proof.json"),
        "{unreadable}"
    );
    let other_signer = TrustStore::new(vec![
        TrustAnchor::from_key("other", log_key().public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
        TrustAnchor::from_key("log", log_key().public_key())
            .with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    let cases = [
        (&forged_garbage, trust(), "SignatureInvalid"),
        (&forged, trust(), "SignatureInvalid"),
        (&valid, other_signer.clone(), "TrustAnchorNotFound"),
        (
            &with_entry(&valid, "score_proof.json", |_| garbage.clone()),
            other_signer,
            "TrustAnchorNotFound",
        ),
    ];
    for (zip, trust, reason) in cases {
        let r = verify_zip(zip, &ZipLimits::default(), &trust, &opts()).unwrap();
        assert_eq!(r.checks.len(), 5, "every check is always reported");
        assert_fails(&r, CheckName::SignatureValid, reason);
        assert_eq!(r.reason, reason);
        assert!(r.message.starts_with("signatureValid: "), "{}", r.message);
        assert!(r.signer.is_none());
        for check in [CheckName::IdRecomputed, CheckName::MerklePathValid] {
            let c = r.check(check).unwrap();
            assert_eq!(
                (c.status, c.reason.as_str()),
                (CheckStatus::Skipped, NOT_AUTHENTICATED),
                "{}: {}",
                check.as_str(),
                c.message
            );
            assert!(
                c.message.contains("score_proof.json was not read")
                    && c.message.contains("signatureValid"),
                "{}",
                c.message
            );
        }
        // What needs no ledger is checked as before.
        assert_eq!(
            r.check(CheckName::RekorInclusion).unwrap().status,
            CheckStatus::Pass
        );
        assert_eq!(
            r.check(CheckName::TimestampValid).unwrap().status,
            CheckStatus::Pass
        );
        assert_eq!(
            r.manifest_id,
            parse(&valid).manifest_id().unwrap().to_string()
        );
        assert_eq!(
            r.proof_root_hash,
            parse(&valid)
                .statement
                .predicate
                .proof_root_hash
                .to_string()
        );
    }

    // A manifest edited after signing still says so, ledger unread.
    let edited = with_entry(&forged, "manifest.json", |d| {
        let mut v: Value = serde_json::from_slice(&d).unwrap();
        v["deterministic"] = json!(false);
        serde_json::to_vec(&v).unwrap()
    });
    let r = verify_zip(&edited, &ZipLimits::default(), &trust(), &opts()).unwrap();
    assert_eq!(r.reason, "SignatureInvalid");
    assert_fails(&r, CheckName::IdRecomputed, "ManifestMismatch");
    assert_eq!(
        r.check(CheckName::MerklePathValid).unwrap().reason,
        NOT_AUTHENTICATED
    );
}
