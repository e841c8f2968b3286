//! `make bench`: Sigstore bundle verifications per second on one core, for each real
//! bundle the tests keep; e2e/bench-sigstore.sh prints them beside sigstore-go's on
//! the same bundles (e2e/go/tools/sigstorebench, which loads the same set).
//!
//! The bundles: every sigstore-conformance case that must verify
//! (tests/data/sigstore-conformance/cases/*, not *_fail) with the case's trusted root,
//! artifact, identity or key as tests/conformance.rs reads them, and cosign v3's
//! key-signed bundles without a log entry (tests/data/cosign/plain/bundle/fallback*).
//! The timed work is what `attestor verify-sigstore` does per bundle: parse the bundle
//! JSON and verify it; the trusted root is parsed once, outside the loop, as sigstore-go
//! holds its TrustedMaterial.
//!
//! Figures, not assertions: these machines are shared, so the numbers are for reading
//! and comparing, never for failing a build; they are per second of this process's CPU
//! time, which load on the other cores moves less than wall-clock time. Each row of the table is
//! `<kind> <bundles per second>`, which e2e/bench-sigstore.sh reads. An argument times only
//! the kinds containing it (`cargo bench -p attestor-sigstore --bench verify -- rekor2`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use attestor_core::keys::{HashAlg, PublicKey, SignatureScheme};
use attestor_sigstore::cert::Cert;
use attestor_sigstore::{
    Artifact, IdentityRule, Matcher, Options, Policy, TlogPolicy, TrustedRoot, verify_bundle_with,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The conformance suite's defaults (its cases/README.md).
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// cosign v3's bundles (kind, path under tests/data/cosign): signed with cosign.pub, no
/// log entry; the in-toto subject is the image digest in the directory's image-ref.
const COSIGN: &[(&str, &str)] = &[
    (
        "cosign-v3-key-attestation",
        "plain/bundle/fallback0.layer0.blob",
    ),
    (
        "cosign-v3-key-signature",
        "plain/bundle/fallback1.layer0.blob",
    ),
];

fn seconds() -> Duration {
    let s = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

/// CPU time this process has run (/proc/self/schedstat, nanoseconds): the machines are
/// shared, and a figure per CPU-second does not move with the load as one per wall-clock
/// second does. The bench is one thread, so the process's time is the thread's.
fn cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/self/schedstat")
        .expect("/proc/self/schedstat (Linux) gives the CPU time the figures are per");
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("/proc/self/schedstat starts with the nanoseconds on a CPU");
    Duration::from_nanos(ns)
}

/// Runs `f` repeatedly for the configured CPU time and returns operations per CPU-second.
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let budget = seconds();
    let start = cpu_time();
    let mut n = 0u64;
    while cpu_time() - start < budget {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / (cpu_time() - start).as_secs_f64()
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn key(pem_file: &Path) -> PublicKey {
    let text = String::from_utf8(read(pem_file)).unwrap();
    let blocks = attestor_core::pem::parse_pem(&text).unwrap();
    PublicKey::from_spki_der(&blocks[0].der).unwrap()
}

/// One bundle and all its verification needs but the bundle itself.
struct Case {
    kind: String,
    json: Vec<u8>,
    root: TrustedRoot,
    policy: Policy,
    tlog: TlogPolicy,
}

impl Case {
    fn verify(&self) -> Result<attestor_sigstore::Verified, attestor_sigstore::SigstoreError> {
        let options = Options {
            tlog: self.tlog,
            ..Options::default()
        };
        verify_bundle_with(black_box(&self.json), &self.root, &self.policy, &options)
    }
}

fn conformance_case(dir: &Path, public_good: &[u8]) -> Case {
    let cases = dir.parent().unwrap();
    let root_json = match std::fs::read(dir.join("trusted_root.json")) {
        Ok(json) => json,
        Err(_) => public_good.to_vec(),
    };
    let artifact = match std::fs::read(dir.join("artifact")) {
        Ok(bytes) => bytes,
        Err(_) => read(&cases.join("a.txt")),
    };
    let text = |f: &str, default: &str| {
        std::fs::read_to_string(dir.join(f)).map_or(default.to_string(), |s| s.trim().to_string())
    };
    let (identities, key) = if dir.join("key.pub").exists() {
        (vec![], Some(key(&dir.join("key.pub"))))
    } else {
        let rule = IdentityRule {
            issuer: Matcher::Exact(text("issuer", ISSUER)),
            subject: Matcher::Exact(text("identity", IDENTITY)),
            extensions: Vec::new(),
        };
        (vec![rule], None)
    };
    Case {
        kind: dir.file_name().unwrap().to_string_lossy().into_owned(),
        json: read(&dir.join("bundle.sigstore.json")),
        root: TrustedRoot::from_json(&root_json).unwrap(),
        policy: Policy {
            identities,
            key,
            artifact: Artifact::Bytes(artifact),
            predicate_type: None,
        },
        // As `attestor verify-sigstore` does: a log entry is required.
        tlog: TlogPolicy::Required,
    }
}

/// A cosign v3 key-signed bundle with no log entry, as `cosign verify --key
/// --insecure-ignore-tlog` verifies it (what attestor's cosign module does for a key
/// trusted without a log).
fn cosign_case(kind: &str, file: &str, public_good: &[u8]) -> Case {
    let dir = data().join("cosign");
    let path = dir.join(file);
    let image_ref = String::from_utf8(read(&path.parent().unwrap().join("image-ref"))).unwrap();
    let (_, hex_digest) = image_ref.trim().rsplit_once("@sha256:").unwrap();
    let digest: [u8; 32] = hex::decode(hex_digest).unwrap().try_into().unwrap();
    Case {
        kind: kind.to_string(),
        json: read(&path),
        root: TrustedRoot::from_json(public_good).unwrap(),
        policy: Policy {
            identities: vec![],
            key: Some(key(&dir.join("cosign.pub"))),
            artifact: Artifact::sha256(digest),
            predicate_type: None,
        },
        tlog: TlogPolicy::IfPresent,
    }
}

fn cases() -> Vec<Case> {
    let conformance = data().join("sigstore-conformance");
    let public_good = read(&conformance.join("trusted_root.public-good.json"));
    let mut out: Vec<Case> = std::fs::read_dir(conformance.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.to_string_lossy().ends_with("_fail"))
        .map(|dir| conformance_case(&dir, &public_good))
        .collect();
    out.extend(
        COSIGN
            .iter()
            .map(|(kind, file)| cosign_case(kind, file, &public_good)),
    );
    out.sort_by(|a, b| a.kind.cmp(&b.kind));
    out
}

fn main() {
    // Like libtest: `cargo bench --bench verify -- rekor2` times only the kinds naming
    // rekor2 (cargo itself passes `--bench`).
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let mut cases = cases();
    cases.retain(|c| filter.as_ref().is_none_or(|f| c.kind.contains(f.as_str())));
    // The same successful work as sigstore-go's: every bundle must verify.
    for case in &cases {
        if let Err(e) = case.verify() {
            panic!("{} does not verify: {e}", case.kind);
        }
    }
    println!(
        "attestor-sigstore bundle verification benchmark ({}s of CPU per figure, one thread, {} bundles)",
        seconds().as_secs_f64(),
        cases.len()
    );
    println!();
    println!("{:<44} {:>12}", "kind", "per CPU-s");
    for case in &cases {
        let per_second = rate(|| {
            black_box(case.verify().unwrap());
        });
        println!("{:<44} {:>12.1}", case.kind, per_second);
    }
    if filter.is_none() {
        for (kind, per_second) in primitives() {
            println!("{kind:<44} {per_second:>12.1}");
        }
    }
}

/// The two signature checks a keyless bundle's cost is made of, on real data: the Fulcio
/// intermediate's ECDSA P-384 (SHA-384) signature on happy-path-v0.3's leaf, and the leaf's
/// ECDSA P-256 (SHA-256) signature on a.txt. Rows named `ecdsa-*`: e2e/bench-sigstore.sh
/// prints them apart from the bundles (sigstorebench times the same two).
fn primitives() -> Vec<(&'static str, f64)> {
    let conformance = data().join("sigstore-conformance");
    let root =
        TrustedRoot::from_json(&read(&conformance.join("trusted_root.public-good.json"))).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&read(
        &conformance.join("cases/happy-path-v0.3/bundle.sigstore.json"),
    ))
    .unwrap();
    let b64 = |path: &[&str]| {
        let v = path.iter().fold(&bundle, |v, k| &v[k]);
        STANDARD.decode(v.as_str().unwrap()).unwrap()
    };
    let leaf_der = b64(&["verificationMaterial", "certificate", "rawBytes"]);
    let leaf = Cert::from_der(&leaf_der).unwrap();
    let leaf_signature = {
        use x509_parser::prelude::FromDer as _;
        let (_, x) = x509_parser::certificate::X509Certificate::from_der(&leaf_der).unwrap();
        x.signature_value.data.to_vec()
    };
    let p384 = SignatureScheme::Ecdsa(HashAlg::Sha384);
    let signed_by = |issuer: &Cert| {
        issuer
            .key
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|k| {
                k.verify_signature(p384, &leaf.tbs, &leaf_signature)
                    .map_err(|e| e.to_string())
            })
    };
    let intermediate = root
        .cas
        .iter()
        .map(|ca| &ca.chain[0])
        .find(|issuer| signed_by(issuer).is_ok())
        .expect("the leaf's issuer is in the public-good root");
    let signature = b64(&["messageSignature", "signature"]);
    let artifact = read(&conformance.join("cases/a.txt"));
    let leaf_key = leaf.key.clone().unwrap();
    let p256 = SignatureScheme::Ecdsa(HashAlg::Sha256);
    leaf_key
        .verify_signature(p256, &artifact, &signature)
        .unwrap();
    vec![
        (
            "ecdsa-p384-sha384-verify",
            rate(|| signed_by(black_box(intermediate)).unwrap()),
        ),
        (
            "ecdsa-p256-sha256-verify",
            rate(|| {
                leaf_key
                    .verify_signature(p256, black_box(&artifact), &signature)
                    .unwrap()
            }),
        ),
    ]
}
