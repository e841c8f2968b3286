//! Prints how long one full verification of real Sigstore bundles takes (release build:
//! `cargo run --release -p attestor-sigstore --example bench_verify`).

use std::path::Path;
use std::time::Instant;

use attestor_sigstore::{Artifact, IdentityRule, Matcher, Policy, TrustedRoot, verify_bundle};

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance");
    let read = |rel: &str| std::fs::read(data.join(rel)).expect("test data");
    let artifact = read("cases/a.txt");
    let cases = [
        (
            "happy-path-v0.3 (hashedrekord, SET, proof, SCT)",
            "cases/happy-path-v0.3",
            None,
        ),
        (
            "rekor2-happy-path (Rekor v2, RFC 3161)",
            "cases/rekor2-happy-path",
            Some("trusted_root.json"),
        ),
        (
            "happy-path-intoto-in-dsse-v3 (DSSE)",
            "cases/happy-path-intoto-in-dsse-v3",
            None,
        ),
    ];
    let started = Instant::now();
    let root_bytes = read("trusted_root.public-good.json");
    let n = 200;
    for _ in 0..n {
        TrustedRoot::from_json(&root_bytes).expect("root");
    }
    println!(
        "parse public-good trusted root: {:>8.1} us",
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    for (label, dir, own_root) in cases {
        let root = match own_root {
            Some(f) => TrustedRoot::from_json(&read(&format!("{dir}/{f}"))),
            None => TrustedRoot::from_json(&root_bytes),
        }
        .expect("root");
        let bundle = read(&format!("{dir}/bundle.sigstore.json"));
        let policy = Policy {
            identities: vec![IdentityRule {
                issuer: Matcher::regex(".*").expect("pattern"),
                subject: Matcher::regex(".*").expect("pattern"),
                extensions: Vec::new(),
            }],
            key: None,
            artifact: Artifact::Bytes(artifact.clone()),
            predicate_type: None,
        };
        verify_bundle(&bundle, &root, &policy).expect("verifies");
        let started = Instant::now();
        for _ in 0..n {
            verify_bundle(&bundle, &root, &policy).expect("verifies");
        }
        println!(
            "{label:<52} {:>8.1} us per verification",
            started.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
}
