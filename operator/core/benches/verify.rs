//! `make bench`: verification throughput on one core, printed next to
//! `openssl speed ecdsap256` measured in the same run.
//!
//! Figures, not assertions: these machines are shared, so the numbers are
//! for reading and comparing, never for failing a build.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use attestor_core::bundle::{Bundle, BundleSpec, NodeInput, build_bundle};
use attestor_core::digest::Sha256Digest;
use attestor_core::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use attestor_core::keys::SigningKey;
use attestor_core::tlog::LocalLog;
use attestor_core::trust::{Purpose, TrustAnchor, TrustStore};
use attestor_core::verify::{VerifyOptions, verify_bundle, verify_zip};
use attestor_core::zip::ZipLimits;
use serde_json::json;

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

fn seconds() -> Duration {
    let s = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

/// Runs `f` repeatedly for the configured time and returns operations per second.
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let budget = seconds();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// `openssl speed` verify/s for ECDSA P-256, or `None` when openssl is missing.
fn openssl_verify_rate() -> Option<f64> {
    let secs = seconds().as_secs().max(1).to_string();
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &secs, "ecdsap256"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("ecdsa") && l.contains("nistp256"))?;
    line.split_whitespace().last()?.parse().ok()
}

fn statement() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.example/app", "digest": {"sha256": Sha256Digest::of(b"image").hex()}}],
        "predicateType": "https://stellaops.io/attestations/score-proof/v1",
        "predicate": {"manifestId": Sha256Digest::of(b"m"), "proofRootHash": Sha256Digest::of(b"r"), "nodeCount": 3, "signedAt": "2026-11-01T09:30:00Z"}
    }))
    .unwrap()
}

fn main() {
    let at: jiff::Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
    let p256 = SigningKey::from_pem(P256).unwrap();
    let ed = SigningKey::from_pem(ED25519).unwrap();
    let trust = TrustStore::new(vec![
        TrustAnchor::from_key("signing", p256.public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
        TrustAnchor::from_key("signing-ed25519", ed.public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
        TrustAnchor::from_key("log", ed.public_key()).with_purposes(vec![Purpose::TransparencyLog]),
    ]);
    println!(
        "attestor verification benchmark ({}s per figure, one thread)",
        seconds().as_secs_f64()
    );

    let envelope_json =
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, statement(), &[&p256]).to_json_pretty();
    let envelope = Envelope::from_json(&envelope_json).unwrap();
    let ours = rate(|| {
        black_box(
            trust
                .verify_envelope(black_box(&envelope), &[], Purpose::AttestationSigning, at)
                .unwrap(),
        );
    });
    let parsed = rate(|| {
        let e = Envelope::from_json(black_box(&envelope_json)).unwrap();
        black_box(
            trust
                .verify_envelope(&e, &[], Purpose::AttestationSigning, at)
                .unwrap(),
        );
    });
    let ed_env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, statement(), &[&ed]);
    let ed_rate = rate(|| {
        black_box(
            trust
                .verify_envelope(black_box(&ed_env), &[], Purpose::AttestationSigning, at)
                .unwrap(),
        );
    });

    // The p256 crate on the same envelope, for comparison with the ring hot path.
    let pae = envelope.pae();
    let sig = p256::ecdsa::Signature::from_der(&envelope.signatures[0].sig).unwrap();
    let vk = match &p256 {
        SigningKey::P256(k) => *k.verifying_key(),
        SigningKey::Ed25519(_) => unreachable!(),
    };
    let pure_rust = rate(|| {
        use p256::ecdsa::signature::Verifier as _;
        vk.verify(black_box(&pae), black_box(&sig)).unwrap();
    });

    let mut log = LocalLog::new("bench.example/log");
    for i in 0..1000u32 {
        log.append(&i.to_be_bytes());
    }
    let mut nodes: Vec<NodeInput> = Vec::new();
    for i in 0..50 {
        let parents = nodes
            .last()
            .map(|n| vec![n.id().unwrap()])
            .unwrap_or_default();
        nodes.push(NodeInput {
            kind: "match".into(),
            parents,
            data: json!({"advisory": format!("GHSA-{i}"), "cvssTenths": 70 + i}),
        });
    }
    let manifest = json!({
        "schema": "stellaops.io/scan-manifest/v1",
        "artifactDigest": Sha256Digest::of(b"image"),
        "inputs": {"sbom": Sha256Digest::of(b"s"), "feedSnapshot": Sha256Digest::of(b"f"), "vex": Sha256Digest::of(b"v"), "policy": Sha256Digest::of(b"p")},
        "createdAt": "2026-11-01T09:00:00Z",
        "deterministic": true
    });
    let spec = BundleSpec {
        manifest,
        nodes,
        signed_at: "2026-11-01T09:30:00Z".parse().unwrap(),
        tools: BTreeMap::new(),
        certificates: vec![],
        transparency_log: Some((&mut log, &ed)),
    };
    let zip = build_bundle(spec, &p256).unwrap().zip;
    let opts = VerifyOptions::at(at);
    let limits = ZipLimits::default();
    assert!(verify_bundle(&Bundle::from_zip(&zip, &limits).unwrap(), &trust, &opts).verified);
    let bundles = rate(|| {
        let b = Bundle::from_zip(black_box(&zip), &limits).unwrap();
        black_box(verify_bundle(&b, &trust, &opts));
    });
    // What `attestor verify` and the controller run: signatures first.
    let zipped = rate(|| {
        black_box(verify_zip(black_box(&zip), &limits, &trust, &opts).unwrap());
    });
    // Signed by no trusted key: refused before the ledger is read.
    let untrusted = TrustStore::new(vec![]);
    assert!(
        !verify_zip(&zip, &limits, &untrusted, &opts)
            .unwrap()
            .verified
    );
    let refused = rate(|| {
        black_box(verify_zip(black_box(&zip), &limits, &untrusted, &opts).unwrap());
    });

    let openssl = openssl_verify_rate();
    println!();
    println!("{:<58} {:>12}", "figure", "per second");
    println!(
        "{:<58} {:>12.0}",
        "P-256 DSSE envelope verify (parsed envelope, ring)", ours
    );
    println!(
        "{:<58} {:>12.0}",
        "P-256 DSSE envelope parse + verify (JSON in)", parsed
    );
    println!(
        "{:<58} {:>12.0}",
        "P-256 signature verify with the p256 crate (reference)", pure_rust
    );
    println!("{:<58} {:>12.0}", "Ed25519 DSSE envelope verify", ed_rate);
    println!(
        "{:<58} {:>12.0}",
        format!(
            "whole bundle read + 5 checks ({} bytes, 50 nodes, tlog)",
            zip.len()
        ),
        bundles
    );
    println!(
        "{:<58} {:>12.0}",
        "same bundle through verify_zip (signatures first)", zipped
    );
    println!(
        "{:<58} {:>12.0}",
        "same bundle, no trusted signer (ledger not read)", refused
    );
    match openssl {
        Some(o) => {
            println!(
                "{:<58} {:>12.0}",
                "openssl speed ecdsap256 verify/s (same run)", o
            );
            println!();
            println!(
                "P-256 envelope verification vs OpenSSL on this core: {:.2}x",
                ours / o
            );
        }
        None => println!("openssl speed: not available on this machine"),
    }
}
