//! Regenerates `examples/`: test-only keys and certificates, example inputs,
//! one valid bundle per signing setup, one bundle per failure mode, and
//! `examples/cases.tsv`, the table the demo and the tests run.
//!
//! Run with `make examples`. Keys and certificates are created only when
//! missing; bundles are rebuilt every time and come out byte-identical,
//! because signing is deterministic and the signing times are fixed.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use attestor::cli::{BundleCreateArgs, KeyAlgorithm, SigningArgs};
use attestor::commands::{bundle_create, keys};
use attestor_core::bundle::{self, ENTRIES};
use attestor_core::canonical;
use attestor_core::digest::Sha256Digest;
use attestor_core::dsse::Envelope;
use attestor_core::keys::SigningKey;
use attestor_core::tlog::{LocalLog, TlogEntry};
use attestor_core::zip::{ZipLimits, read_zip, write_zip};
use base64::Engine as _;
use serde_json::{Value, json};

const SIGNED_AT: &str = "2026-11-01T09:30:00Z";
const CREATED_AT: &str = "2026-11-01T09:00:00Z";

type Entries = Vec<(String, Vec<u8>)>;

struct Case {
    name: &'static str,
    exit: u8,
    reason: &'static str,
    check: &'static str,
    what: &'static str,
    args: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn ensure_key(dir: &Path, name: &str, algorithm: KeyAlgorithm) -> PathBuf {
    let path = dir.join(format!("{name}.pem"));
    if !path.exists() {
        fs::write(
            &path,
            keys::generate_pem(algorithm).expect("key generation"),
        )
        .expect("write key");
    }
    let key =
        SigningKey::from_pem(&fs::read_to_string(&path).expect("read key")).expect("parse key");
    fs::write(keys::public_path(&path), key.public_key().to_pem()).expect("write public key");
    path
}

/// P-384 is generated with ring directly: the product refuses it, which is the point of the example.
fn ensure_p384(dir: &Path) -> (PathBuf, Vec<u8>) {
    use ring::signature::{ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair};
    let path = dir.join("test-only-p384.pem");
    if !path.exists() {
        let der = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P384_SHA384_ASN1_SIGNING,
            &ring::rand::SystemRandom::new(),
        )
        .expect("p384");
        fs::write(
            &path,
            attestor_core::pem::to_pem("PRIVATE KEY", der.as_ref()),
        )
        .expect("write p384");
    }
    let pem =
        attestor_core::pem::parse_pem(&fs::read_to_string(&path).expect("read")).expect("pem");
    let pkcs8 = pem[0].der.clone();
    let pair = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P384_SHA384_ASN1_SIGNING,
        &pkcs8,
        &ring::rand::SystemRandom::new(),
    )
    .expect("p384 key");
    use ring::signature::KeyPair as _;
    // SubjectPublicKeyInfo for P-384: algorithm id-ecPublicKey + secp384r1, then the point.
    let mut spki = vec![
        0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
        0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
    ];
    spki.extend_from_slice(pair.public_key().as_ref());
    fs::write(
        dir.join("test-only-p384.pub.pem"),
        attestor_core::pem::to_pem("PUBLIC KEY", &spki),
    )
    .expect("write p384 pub");
    (path, pkcs8)
}

struct Pki {
    root_pem: PathBuf,
    chain_pem: PathBuf,
    expired_chain_pem: PathBuf,
    rogue_chain_pem: PathBuf,
    leaf_key: PathBuf,
}

fn rcgen_key(path: &Path) -> rcgen::KeyPair {
    rcgen::KeyPair::from_pem(&fs::read_to_string(path).expect("read key")).expect("rcgen key")
}

fn ca_params(
    cn: &str,
    path_len: u8,
    from: (i32, u8, u8),
    to: (i32, u8, u8),
) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "StellaOps Example (TEST ONLY)",
    );
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(path_len));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    p
}

fn leaf_params(cn: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "StellaOps Example (TEST ONLY)",
    );
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    p
}

/// Root -> intermediate -> leaf, plus an expired leaf and a leaf issued by a
/// rogue CA that copies the intermediate's name. Created once.
fn ensure_pki(keys_dir: &Path, trust_dir: &Path) -> Pki {
    let root_key_path = ensure_key(keys_dir, "test-only-ca-root", KeyAlgorithm::P256);
    let int_key_path = ensure_key(keys_dir, "test-only-ca-intermediate", KeyAlgorithm::P256);
    let rogue_key_path = ensure_key(keys_dir, "test-only-ca-rogue", KeyAlgorithm::P256);
    let leaf_key = ensure_key(keys_dir, "test-only-leaf", KeyAlgorithm::Ed25519);
    let pki = Pki {
        root_pem: trust_dir.join("test-only-root-ca.pem"),
        chain_pem: keys_dir.join("test-only-leaf.chain.pem"),
        expired_chain_pem: keys_dir.join("test-only-leaf-expired.chain.pem"),
        rogue_chain_pem: keys_dir.join("test-only-leaf-rogue.chain.pem"),
        leaf_key,
    };
    if pki.root_pem.exists()
        && pki.chain_pem.exists()
        && pki.expired_chain_pem.exists()
        && pki.rogue_chain_pem.exists()
    {
        return pki;
    }
    let root_key = rcgen_key(&root_key_path);
    let int_key = rcgen_key(&int_key_path);
    let rogue_key = rcgen_key(&rogue_key_path);
    let leaf_kp = rcgen_key(&pki.leaf_key);

    let root_params = ca_params("Example Root CA (TEST ONLY)", 1, (2026, 1, 1), (2036, 1, 1));
    let root_cert = root_params.self_signed(&root_key).expect("root");
    let root_issuer = rcgen::Issuer::from_params(&root_params, &root_key);
    let int_params = ca_params(
        "Example Signing CA (TEST ONLY)",
        0,
        (2026, 1, 1),
        (2034, 1, 1),
    );
    let int_cert = int_params
        .signed_by(&int_key, &root_issuer)
        .expect("intermediate");
    let int_issuer = rcgen::Issuer::from_params(&int_params, &int_key);
    let leaf = leaf_params("ci-signer.example (TEST ONLY)", (2026, 1, 1), (2031, 1, 1))
        .signed_by(&leaf_kp, &int_issuer)
        .expect("leaf");
    let expired = leaf_params(
        "ci-signer-2024.example (TEST ONLY)",
        (2024, 1, 1),
        (2025, 1, 1),
    )
    .signed_by(&leaf_kp, &int_issuer)
    .expect("expired leaf");
    // A CA nobody trusts, using the real intermediate's name.
    let rogue_params = ca_params(
        "Example Signing CA (TEST ONLY)",
        0,
        (2026, 1, 1),
        (2034, 1, 1),
    );
    let rogue_issuer = rcgen::Issuer::from_params(&rogue_params, &rogue_key);
    let rogue_leaf = leaf_params("ci-signer.example (TEST ONLY)", (2026, 1, 1), (2031, 1, 1))
        .signed_by(&leaf_kp, &rogue_issuer)
        .expect("rogue leaf");

    fs::write(&pki.root_pem, root_cert.pem()).expect("write root");
    fs::write(&pki.chain_pem, format!("{}{}", leaf.pem(), int_cert.pem())).expect("write chain");
    fs::write(
        &pki.expired_chain_pem,
        format!("{}{}", expired.pem(), int_cert.pem()),
    )
    .expect("write chain");
    fs::write(
        &pki.rogue_chain_pem,
        format!("{}{}", rogue_leaf.pem(), int_cert.pem()),
    )
    .expect("write chain");
    pki
}

fn write_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let files = [
        (
            "sbom.cdx.json",
            json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
            {"type": "library", "name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"},
            {"type": "library", "name": "minimist", "version": "1.2.5", "purl": "pkg:npm/minimist@1.2.5"}]}),
        ),
        (
            "feed.json",
            json!({"advisories": [
            {"id": "GHSA-35jh-r3h4-6jhm", "package": "pkg:npm/lodash", "introduced": "0", "fixed": "4.17.21", "cvss": "7.2"},
            {"id": "GHSA-xvch-5gv4-984h", "package": "pkg:npm/minimist", "introduced": "0", "fixed": "1.2.6", "cvss": "9.8"}]}),
        ),
        (
            "vex.json",
            json!({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [
            {"vulnerability": {"name": "GHSA-xvch-5gv4-984h"}, "products": [{"@id": "pkg:npm/minimist@1.2.5"}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}),
        ),
        (
            "policy.json",
            json!({"threshold": 700, "weights": {"critical": 100, "high": 100}, "vex": {"not_affected": "suppress"}}),
        ),
    ];
    let mut digests = Vec::new();
    for (name, value) in &files {
        let mut text = serde_json::to_vec_pretty(value).expect("json");
        text.push(b'\n');
        fs::write(dir.join(name), &text).expect("write input");
        digests.push(Sha256Digest::of(
            &canonical::to_canonical_bytes(value).expect("canonical"),
        ));
    }
    let manifest = json!({
        "schema": bundle::MANIFEST_SCHEMA,
        "artifactDigest": Sha256Digest::of(b"registry.example/shop/cart:1.4.2 (example image)"),
        "artifactName": "registry.example/shop/cart",
        "inputs": {"sbom": digests[0], "feedSnapshot": digests[1], "vex": digests[2], "policy": digests[3]},
        "createdAt": CREATED_AT,
        "deterministic": true,
    });
    let ledger = json!({"nodes": [
        {"kind": "inputs", "parents": [], "data": {"sbom": digests[0], "feedSnapshot": digests[1], "vex": digests[2], "policy": digests[3]}},
        {"kind": "match", "parents": [0], "data": {"component": "pkg:npm/lodash@4.17.20", "advisory": "GHSA-35jh-r3h4-6jhm", "cvssTenths": 72}},
        {"kind": "match", "parents": [0], "data": {"component": "pkg:npm/minimist@1.2.5", "advisory": "GHSA-xvch-5gv4-984h", "cvssTenths": 98}},
        {"kind": "vex", "parents": [2], "data": {"advisory": "GHSA-xvch-5gv4-984h", "status": "not_affected", "effect": "suppress"}},
        {"kind": "policy-weight", "parents": [1], "data": {"advisory": "GHSA-35jh-r3h4-6jhm", "weightPercent": 100, "points": 720}},
        {"kind": "aggregate", "parents": [4, 3], "data": {"score": 720, "threshold": 700, "verdict": "fail"}},
    ]});
    let m = dir.join("manifest.json");
    let l = dir.join("ledger.json");
    fs::write(&m, serde_json::to_vec_pretty(&manifest).expect("json")).expect("write manifest");
    fs::write(&l, serde_json::to_vec_pretty(&ledger).expect("json")).expect("write ledger");
    (m, l)
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

fn entries_of(path: &Path) -> Entries {
    read_zip(&fs::read(path).expect("read bundle"), &ZipLimits::default())
        .expect("own bundle")
        .into_iter()
        .map(|e| (e.name, e.data))
        .collect()
}

fn write_entries(path: &Path, entries: &Entries) {
    let zip = write_zip(entries.iter().map(|(n, d)| (n.as_str(), d.as_slice()))).expect("zip");
    fs::write(path, zip).expect("write bundle");
}

fn edit_json(entries: &mut Entries, name: &str, f: impl FnOnce(&mut Value)) {
    let (_, data) = entries.iter_mut().find(|(n, _)| n == name).expect("entry");
    let mut v: Value = serde_json::from_slice(data).expect("json");
    f(&mut v);
    *data = serde_json::to_vec_pretty(&v).expect("json");
    data.push(b'\n');
}

/// A stored-only ZIP with arbitrary names, duplicates included: the shapes a
/// correct writer refuses to produce.
fn raw_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        crc.sum()
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes());
            }
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&0x21u16.to_le_bytes());
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            if central {
                // Comment length, disk number, internal and external attributes.
                h.extend_from_slice(&[0; 10]);
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A phrase the case's message must contain, so each case fails for the intended reason.
fn expectation(case: &str) -> &'static str {
    match case {
        "unknown-signer" => "no trust anchor holds key",
        "tampered-signature" => "does not verify",
        "expired-key" => "expired at 2025-03-31T00:00:00Z",
        "expired-certificate" => "expired at 2025-01-01T00:00:00Z",
        "broken-chain" => "link 0",
        "unsupported-algorithm" => "ECDSA P-384",
        "tampered-manifest" => "changed after signing",
        "tampered-node" => "nodes[5]",
        "tampered-merkle-root" => "signed proof root",
        "tlog-inclusion-invalid" => "inclusion proof for entry",
        "tlog-untrusted-log" => "not signed by a trusted log key",
        "no-tlog-entry" => "no transparency-log entry",
        "timestamp-future" => "later than now",
        "timestamp-too-old" => "more than 1d",
        "timestamp-mismatch" => "meta.json says",
        "wrong-artifact" => "not the requested",
        "truncated" => "end-of-central-directory",
        "not-a-zip" => "not a ZIP archive",
        "path-traversal" => "unsafe name",
        "duplicate-entry" => "appears more than once",
        "missing-entry" => "missing the entry",
        "unexpected-entry" => "unexpected entry",
        "too-many-entries" => "100 entries",
        "oversized-entry" => "33554432-byte limit",
        "manifest-bomb" => "262144-byte limit",
        "prepended-data" => "data before the first entry",
        "malformed-envelope" => "no signatures",
        "malformed-json" => "not valid JSON",
        _ => "is verified",
    }
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attestor-examples-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn main() {
    let root = root();
    let ex = root.join("examples");
    let (keys_dir, trust_dir, inputs_dir, bundles_dir) = (
        ex.join("keys"),
        ex.join("trust"),
        ex.join("inputs"),
        ex.join("bundles"),
    );
    for d in [&keys_dir, &trust_dir, &inputs_dir, &bundles_dir] {
        fs::create_dir_all(d).expect("mkdir");
    }
    let signing = ensure_key(&keys_dir, "test-only-signing", KeyAlgorithm::P256);
    let signing_ed = ensure_key(
        &keys_dir,
        "test-only-signing-ed25519",
        KeyAlgorithm::Ed25519,
    );
    let log_key = ensure_key(&keys_dir, "test-only-log", KeyAlgorithm::Ed25519);
    let rogue_log = ensure_key(&keys_dir, "test-only-rogue-log", KeyAlgorithm::Ed25519);
    let untrusted = ensure_key(&keys_dir, "test-only-untrusted", KeyAlgorithm::P256);
    let retired = ensure_key(&keys_dir, "test-only-retired", KeyAlgorithm::P256);
    let (_p384, p384_pkcs8) = ensure_p384(&keys_dir);
    let pki = ensure_pki(&keys_dir, &trust_dir);
    let (manifest, ledger) = write_inputs(&inputs_dir);

    let pub_pem = |p: &Path| fs::read_to_string(keys::public_path(p)).expect("public key");
    let anchor_yaml = |name: &str, key: &Path, purposes: &str, window: &str| {
        let indented: String = pub_pem(key)
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect();
        format!(
            "apiVersion: attestor.stellaops.io/v1alpha1\nkind: TrustAnchor\nmetadata:\n  name: {name}\nspec:\n  # TEST-ONLY key from examples/keys: never trust it outside this demo.\n  publicKey: |\n{indented}  purposes: [{purposes}]\n{window}"
        )
    };
    fs::write(
        trust_dir.join("signing.yaml"),
        anchor_yaml(
            "example-ci-signing-2026",
            &signing,
            "AttestationSigning",
            "  notBefore: \"2025-01-01T00:00:00Z\"\n  expires: \"2027-12-31T00:00:00Z\"\n",
        ),
    )
    .expect("write anchor");
    fs::write(
        trust_dir.join("log.yaml"),
        anchor_yaml("example-transparency-log", &log_key, "TransparencyLog", ""),
    )
    .expect("write anchor");
    fs::write(
        trust_dir.join("retired-key.yaml"),
        anchor_yaml(
            "example-ci-signing-2024",
            &retired,
            "AttestationSigning",
            "  notBefore: \"2024-01-01T00:00:00Z\"\n  expires: \"2025-03-31T00:00:00Z\"\n",
        ),
    )
    .expect("write anchor");

    let log_state = bundles_dir.join(".log-state.json");
    // A log that has seen other artifacts before ours, so inclusion proofs are real paths.
    let mut earlier = LocalLog::new("transparency.example/attestations (TEST ONLY)");
    for i in 0..12u8 {
        earlier.append(format!("an earlier log entry #{i}").as_bytes());
    }
    fs::write(&log_state, serde_json::to_vec(&earlier).expect("json")).expect("write log state");
    let scratch = scratch_dir();
    let create = |out: &str,
                  key: &Path,
                  cert: Option<&Path>,
                  tlog_key: Option<&Path>,
                  signed_at: &str|
     -> PathBuf {
        let output = bundles_dir.join(out);
        // Bundles signed before the example scan ran need a manifest created before that.
        let signed: jiff::Timestamp = signed_at.parse().expect("time");
        let manifest = if signed < CREATED_AT.parse().expect("time") {
            let mut m: Value =
                serde_json::from_slice(&fs::read(&manifest).expect("read")).expect("json");
            m["createdAt"] = json!((signed - jiff::SignedDuration::from_hours(1)).to_string());
            let path = scratch.join(format!("{out}.manifest.json"));
            fs::write(&path, serde_json::to_vec_pretty(&m).expect("json")).expect("write");
            path
        } else {
            manifest.clone()
        };
        let args = BundleCreateArgs {
            manifest,
            ledger: ledger.clone(),
            signing: SigningArgs {
                key: key.to_path_buf(),
                certificate: cert.map(Path::to_path_buf),
                tlog: tlog_key.map(|_| log_state.clone()),
                tlog_key: tlog_key.map(Path::to_path_buf),
                tlog_origin: "transparency.example/attestations (TEST ONLY)".into(),
            },
            signed_at: Some(signed_at.into()),
            output: output.clone(),
        };
        bundle_create::create(&args).unwrap_or_else(|e| panic!("{out}: {e}"));
        output
    };
    let verify = |bundle: &Path, anchors: &[&Path], extra: &[&str]| -> Vec<String> {
        let mut a = vec!["verify".to_string(), "--bundle".into(), rel(bundle)];
        for t in anchors {
            a.push("--trust-anchor".into());
            a.push(rel(t));
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let signing_yaml = trust_dir.join("signing.yaml");
    let log_yaml = trust_dir.join("log.yaml");
    let std_anchors: [&Path; 2] = [&signing_yaml, &log_yaml];
    let mut cases = Vec::new();
    let mut case = |name, exit, reason, check, what, args| {
        cases.push(Case {
            name,
            exit,
            reason,
            check,
            what,
            args,
        })
    };

    // Valid bundles.
    let valid = create("valid.zip", &signing, None, Some(&log_key), SIGNED_AT);
    case(
        "valid",
        0,
        "Verified",
        "-",
        "P-256 signature, transparency-log entry, TrustAnchor YAML anchors",
        verify(&valid, &std_anchors, &[]),
    );
    let signing_pub = keys::public_path(&signing);
    let log_pub = keys::public_path(&log_key);
    case(
        "valid-pem-anchors",
        0,
        "Verified",
        "-",
        "the same bundle, anchors given as PEM public keys",
        verify(&valid, &[&signing_pub, &log_pub], &[]),
    );
    let ed = create(
        "valid-ed25519-offline.zip",
        &signing_ed,
        None,
        None,
        SIGNED_AT,
    );
    case(
        "valid-ed25519-offline",
        0,
        "Verified",
        "-",
        "Ed25519 signature, no log entry, verified --offline",
        verify(&ed, &[&keys::public_path(&signing_ed)], &["--offline"]),
    );
    let cert = create(
        "valid-certificate.zip",
        &pki.leaf_key,
        Some(&pki.chain_pem),
        None,
        SIGNED_AT,
    );
    case(
        "valid-certificate",
        0,
        "Verified",
        "-",
        "signing certificate -> intermediate -> trusted root certificate",
        verify(&cert, &[&pki.root_pem], &["--offline"]),
    );

    // Trust failures.
    let b = create(
        "unknown-signer.zip",
        &untrusted,
        None,
        Some(&log_key),
        SIGNED_AT,
    );
    case(
        "unknown-signer",
        1,
        "TrustAnchorNotFound",
        "signatureValid",
        "signed by a key no anchor holds",
        verify(&b, &std_anchors, &[]),
    );
    let b = bundles_dir.join("tampered-signature.zip");
    let mut e = entries_of(&valid);
    edit_json(&mut e, bundle::MANIFEST_DSSE, |v| {
        let sig = v["signatures"][0]["sig"].as_str().expect("sig").to_string();
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .expect("b64");
        let last = raw.len() - 3;
        raw[last] ^= 0x01;
        v["signatures"][0]["sig"] = base64::engine::general_purpose::STANDARD.encode(raw).into();
    });
    write_entries(&b, &e);
    case(
        "tampered-signature",
        1,
        "SignatureInvalid",
        "signatureValid",
        "one bit of the manifest signature flipped",
        verify(&b, &std_anchors, &[]),
    );
    let retired_yaml = trust_dir.join("retired-key.yaml");
    let b = create(
        "expired-key.zip",
        &retired,
        None,
        Some(&log_key),
        "2025-02-01T00:00:00Z",
    );
    case(
        "expired-key",
        1,
        "KeyExpired",
        "signatureValid",
        "signed by a key whose TrustAnchor expired on 2025-03-31",
        verify(&b, &[&retired_yaml, &log_yaml], &[]),
    );
    let b = create(
        "expired-certificate.zip",
        &pki.leaf_key,
        Some(&pki.expired_chain_pem),
        None,
        "2024-06-01T00:00:00Z",
    );
    case(
        "expired-certificate",
        1,
        "CertificateExpired",
        "signatureValid",
        "signing certificate expired on 2025-01-01",
        verify(&b, &[&pki.root_pem], &["--offline"]),
    );
    let b = create(
        "broken-chain.zip",
        &pki.leaf_key,
        Some(&pki.rogue_chain_pem),
        None,
        SIGNED_AT,
    );
    case(
        "broken-chain",
        1,
        "CertificateChainInvalid",
        "signatureValid",
        "signing certificate issued by a rogue CA that copies the intermediate's name",
        verify(&b, &[&pki.root_pem], &["--offline"]),
    );
    let b = bundles_dir.join("unsupported-algorithm.zip");
    let mut e = entries_of(&ed);
    let p384 = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        &p384_pkcs8,
        &ring::rand::SystemRandom::new(),
    )
    .expect("p384");
    let p384_pub = keys_dir.join("test-only-p384.pub.pem");
    let p384_id = Sha256Digest::of(
        &attestor_core::pem::parse_pem(&fs::read_to_string(&p384_pub).expect("read")).expect("pem")
            [0]
        .der,
    );
    for entry in [bundle::MANIFEST_DSSE, bundle::PROOF_ROOT_DSSE] {
        edit_json(&mut e, entry, |v| {
            let env = Envelope::from_value(v).expect("envelope");
            let sig = p384
                .sign(&ring::rand::SystemRandom::new(), &env.pae())
                .expect("sign");
            v["signatures"] = json!([{"keyid": p384_id.to_string(), "sig": base64::engine::general_purpose::STANDARD.encode(sig.as_ref())}]);
        });
    }
    write_entries(&b, &e);
    case(
        "unsupported-algorithm",
        1,
        "AlgorithmNotSupported",
        "signatureValid",
        "signed with ECDSA P-384, which is refused by name",
        verify(&b, &[&p384_pub], &["--offline"]),
    );

    // Content failures.
    let b = bundles_dir.join("tampered-manifest.zip");
    let mut e = entries_of(&valid);
    edit_json(&mut e, bundle::MANIFEST, |v| {
        v["deterministic"] = json!(false)
    });
    write_entries(&b, &e);
    case(
        "tampered-manifest",
        1,
        "ManifestMismatch",
        "idRecomputed",
        "manifest.json edited after signing",
        verify(&b, &std_anchors, &[]),
    );
    let b = bundles_dir.join("tampered-node.zip");
    let mut e = entries_of(&valid);
    edit_json(&mut e, bundle::SCORE_PROOF, |v| {
        v["nodes"][5]["data"]["score"] = json!(0)
    });
    write_entries(&b, &e);
    case(
        "tampered-node",
        1,
        "NodeIdMismatch",
        "idRecomputed",
        "a ledger node's score edited, its id left alone",
        verify(&b, &std_anchors, &[]),
    );
    let b = bundles_dir.join("tampered-merkle-root.zip");
    let mut e = entries_of(&valid);
    edit_json(&mut e, bundle::SCORE_PROOF, |v| {
        // Rewrite the last node consistently: new id, new declared root. Only the signed root still disagrees.
        let mut body = v["nodes"][5].as_object().expect("node").clone();
        body.remove("id");
        body.insert(
            "data".into(),
            json!({"score": 0, "threshold": 700, "verdict": "pass"}),
        );
        let id = bundle::node_id(&body).expect("id");
        body.insert("id".into(), json!(id));
        v["nodes"][5] = Value::Object(body);
        let ids: Vec<Sha256Digest> = v["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["id"].as_str().expect("id").parse().expect("digest"))
            .collect();
        v["rootHash"] = json!(bundle::ledger_root(&ids));
    });
    write_entries(&b, &e);
    case(
        "tampered-merkle-root",
        1,
        "MerkleRootMismatch",
        "merklePathValid",
        "the verdict node rewritten with consistent ids and root, but the signed root disagrees",
        verify(&b, &std_anchors, &[]),
    );

    // Transparency-log failures.
    let b = bundles_dir.join("tlog-inclusion-invalid.zip");
    let mut e = entries_of(&valid);
    edit_json(&mut e, bundle::META, |v| {
        let h = v["transparencyLog"]["inclusionProof"][0]
            .as_str()
            .expect("hash")
            .to_string();
        let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
        v["transparencyLog"]["inclusionProof"][0] = json!(flipped);
    });
    write_entries(&b, &e);
    case(
        "tlog-inclusion-invalid",
        1,
        "InclusionProofInvalid",
        "rekorInclusion",
        "one hash of the inclusion proof altered",
        verify(&b, &std_anchors, &[]),
    );
    let b = bundles_dir.join("tlog-untrusted-log.zip");
    let mut e = entries_of(&valid);
    let rogue_key =
        SigningKey::from_pem(&fs::read_to_string(&rogue_log).expect("read")).expect("key");
    edit_json(&mut e, bundle::META, |v| {
        let leaf = {
            let env = Envelope::from_value(
                &serde_json::from_slice::<Value>(
                    &entries_of(&valid)
                        .iter()
                        .find(|(n, _)| n == bundle::PROOF_ROOT_DSSE)
                        .expect("entry")
                        .1,
                )
                .expect("json"),
            )
            .expect("env");
            canonical::to_canonical_bytes(&env.to_value()).expect("canonical")
        };
        let mut log = LocalLog::new("transparency.example/attestations (TEST ONLY)");
        log.append(&leaf);
        let entry: TlogEntry = log.entry(0, &rogue_key).expect("entry");
        v["transparencyLog"] = serde_json::to_value(entry).expect("json");
    });
    write_entries(&b, &e);
    case(
        "tlog-untrusted-log",
        1,
        "LogKeyNotTrusted",
        "rekorInclusion",
        "log checkpoint signed by a log key that is no anchor",
        verify(&b, &std_anchors, &[]),
    );
    let b = create("no-tlog-entry.zip", &signing, None, None, SIGNED_AT);
    case(
        "no-tlog-entry",
        1,
        "TransparencyLogEntryMissing",
        "rekorInclusion",
        "no log entry and --offline not given",
        verify(&b, &std_anchors, &[]),
    );

    // Timestamp failures.
    let b = create(
        "timestamp-future.zip",
        &signing,
        None,
        Some(&log_key),
        "2027-06-01T00:00:00Z",
    );
    case(
        "timestamp-future",
        1,
        "TimestampInFuture",
        "timestampValid",
        "claims to be signed in 2027",
        verify(&b, &std_anchors, &["--at", "2026-11-23T00:00:00Z"]),
    );
    let b = create(
        "timestamp-too-old.zip",
        &signing,
        None,
        Some(&log_key),
        "2026-11-01T10:00:00Z",
    );
    case(
        "timestamp-too-old",
        1,
        "TimestampTooOld",
        "timestampValid",
        "older than the --max-age window",
        verify(
            &b,
            &std_anchors,
            &["--max-age", "24h", "--at", "2026-11-23T00:00:00Z"],
        ),
    );
    let b = bundles_dir.join("timestamp-mismatch.zip");
    let mut e = entries_of(&valid);
    edit_json(&mut e, bundle::META, |v| {
        v["signedAt"] = json!("2026-11-20T00:00:00Z")
    });
    write_entries(&b, &e);
    case(
        "timestamp-mismatch",
        1,
        "TimestampMismatch",
        "timestampValid",
        "meta.json's signedAt disagrees with the signed statement",
        verify(&b, &std_anchors, &[]),
    );
    case(
        "wrong-artifact",
        1,
        "ArtifactDigestMismatch",
        "idRecomputed",
        "a valid bundle, but for another artifact than the one asked about",
        verify(
            &valid,
            &std_anchors,
            &[
                "--artifact",
                &Sha256Digest::of(b"another image").to_string(),
            ],
        ),
    );

    // Unreadable bundles: exit 2, never a panic.
    let valid_bytes = fs::read(&valid).expect("read");
    let mut malformed = |name: &'static str, what: &'static str, bytes: Vec<u8>| {
        let p = bundles_dir.join(format!("{name}.zip"));
        fs::write(&p, bytes).expect("write");
        cases.push(Case {
            name,
            exit: 2,
            reason: "InputUnreadable",
            check: "-",
            what,
            args: verify(&p, &std_anchors, &[]),
        });
    };
    malformed(
        "truncated",
        "the first half of valid.zip",
        valid_bytes[..valid_bytes.len() / 2].to_vec(),
    );
    malformed(
        "not-a-zip",
        "a text file named .zip",
        b"this is not a proof bundle\n".to_vec(),
    );
    let e = entries_of(&valid);
    let named = |rename: &dyn Fn(&str) -> String| -> Vec<(String, Vec<u8>)> {
        e.iter().map(|(n, d)| (rename(n), d.clone())).collect()
    };
    let to_raw = |files: &[(String, Vec<u8>)]| {
        raw_zip(
            &files
                .iter()
                .map(|(n, d)| (n.as_str(), d.as_slice()))
                .collect::<Vec<_>>(),
        )
    };
    malformed(
        "path-traversal",
        "an entry named ../meta.json",
        to_raw(&named(&|n| {
            if n == bundle::META {
                format!("../{n}")
            } else {
                n.to_string()
            }
        })),
    );
    let mut dup = named(&|n| n.to_string());
    dup.push((bundle::MANIFEST.to_string(), b"{}".to_vec()));
    malformed("duplicate-entry", "manifest.json twice", to_raw(&dup));
    let missing: Vec<_> = named(&|n| n.to_string())
        .into_iter()
        .filter(|(n, _)| n != bundle::META)
        .collect();
    malformed("missing-entry", "no meta.json", to_raw(&missing));
    let mut extra = named(&|n| n.to_string());
    extra.push(("notes.txt".into(), b"hello".to_vec()));
    malformed("unexpected-entry", "an extra notes.txt", to_raw(&extra));
    let many: Vec<(String, Vec<u8>)> = (0..100)
        .map(|i| (format!("f{i}.json"), b"{}".to_vec()))
        .collect();
    malformed("too-many-entries", "100 entries", to_raw(&many));
    let zeros = vec![0u8; 40 << 20];
    let mut bomb: Vec<(&str, &[u8])> = e
        .iter()
        .filter(|(n, _)| n != bundle::SCORE_PROOF)
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    bomb.push((bundle::SCORE_PROOF, &zeros));
    malformed(
        "oversized-entry",
        "score_proof.json inflates to 40 MiB (compression bomb)",
        write_zip(bomb).expect("zip"),
    );
    // Issue 12: 33 KB that inflate to 30 MiB of `{}`, refused from the
    // declared size before anything is inflated or parsed.
    let mut braces = b"[".to_vec();
    while braces.len() < 30 << 20 {
        braces.extend_from_slice(b"{},");
    }
    braces.extend_from_slice(b"{}]");
    let mut manifest_bomb = e.clone();
    if let Some((_, d)) = manifest_bomb
        .iter_mut()
        .find(|(n, _)| n == bundle::MANIFEST)
    {
        *d = braces;
    }
    malformed(
        "manifest-bomb",
        "manifest.json inflates to 30 MiB of {} (issue 12)",
        write_zip(
            manifest_bomb
                .iter()
                .map(|(n, d)| (n.as_str(), d.as_slice())),
        )
        .expect("zip"),
    );
    malformed(
        "prepended-data",
        "valid.zip behind a shell stub, offsets adjusted (a self-extracting archive)",
        prepend(b"#!/bin/sh\nexit 0\n", &valid_bytes),
    );
    let mut bad_env = e.clone();
    edit_json(&mut bad_env, bundle::MANIFEST_DSSE, |v| {
        v["signatures"] = json!([])
    });
    malformed(
        "malformed-envelope",
        "manifest.dsse.json has no signatures",
        write_zip(bad_env.iter().map(|(n, d)| (n.as_str(), d.as_slice()))).expect("zip"),
    );
    let mut bad_json = e.clone();
    if let Some((_, d)) = bad_json.iter_mut().find(|(n, _)| n == bundle::SCORE_PROOF) {
        d.truncate(d.len() / 2);
    }
    malformed(
        "malformed-json",
        "score_proof.json cut in half",
        write_zip(bad_json.iter().map(|(n, d)| (n.as_str(), d.as_slice()))).expect("zip"),
    );
    let _ = fs::remove_file(&log_state);
    let _ = fs::remove_dir_all(&scratch);
    assert_eq!(ENTRIES.len(), 5);

    let mut tsv = String::from(
        "# name\texit\treason\tcheck\texpect (in the message)\twhat\tcommand (run from the repository root)\n",
    );
    for c in &cases {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{}\tattestor {}",
            c.name,
            c.exit,
            c.reason,
            c.check,
            expectation(c.name),
            c.what,
            c.args.join(" ")
        );
    }
    fs::write(ex.join("cases.tsv"), tsv).expect("write cases");
    println!("wrote {} cases to examples/cases.tsv", cases.len());
    write_cluster_examples(&ex, &pki);
}

/// `zip` with `stub` in front and every offset moved to match, as tools
/// that build self-extracting archives write it.
fn prepend(stub: &[u8], zip: &[u8]) -> Vec<u8> {
    let le16 = |b: &[u8], at: usize| usize::from(u16::from_le_bytes([b[at], b[at + 1]]));
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let shift = u32::try_from(stub.len()).expect("small stub");
    let mut out = stub.to_vec();
    out.extend_from_slice(zip);
    let eocd = out.len() - 22;
    let cd = le32(&out, eocd + 16) as usize + stub.len();
    let cd_offset = le32(&out, eocd + 16) + shift;
    out[eocd + 16..eocd + 20].copy_from_slice(&cd_offset.to_le_bytes());
    let mut pos = cd;
    for _ in 0..le16(&out, eocd + 10) {
        let offset = le32(&out, pos + 42) + shift;
        out[pos + 42..pos + 46].copy_from_slice(&offset.to_le_bytes());
        pos += 46 + le16(&out, pos + 28) + le16(&out, pos + 30) + le16(&out, pos + 32);
    }
    out
}

/// Indents every line of `text` by `n` spaces, for a YAML block scalar.
fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

/// The cluster examples that embed keys and bundles: `10-trustanchors.yaml` and
/// `30-proofverifications.yaml` (`00-`, `20-` and `40-` are written by hand). Regenerated with the
/// keys and bundles so that they never disagree.
fn write_cluster_examples(ex: &Path, pki: &Pki) {
    const HEADER: &str = "# Generated by `make examples` (operator/cli/examples/make_examples.rs) from\n\
         # examples/keys, examples/trust and examples/bundles. Do not edit.\n\
         # TEST-ONLY keys: never trust them outside this demo.\n";
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let keys_dir = ex.join("keys");
    let bundles_dir = ex.join("bundles");
    let anchor = |what: &str, name: &str, description: &str, material: &str, rest: &str| {
        format!(
            "---\n# Demonstrates: {what}\napiVersion: attestor.stellaops.io/v1alpha1\nkind: TrustAnchor\n\
             metadata:\n  name: {name}\nspec:\n  description: \"{description}\"\n{material}{rest}"
        )
    };
    let key = |file: &str| format!("  publicKey: |\n{}", indent(&read(&keys_dir.join(file)), 4));
    // The intermediate CA is the second certificate of the leaf's chain file.
    let chain = read(&pki.chain_pem);
    let second = chain
        .match_indices("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .map(|(i, _)| i)
        .expect("chain holds the intermediate");
    let intermediate = &chain[second..];
    let mut anchors = String::from(HEADER);
    anchors.push_str(&anchor(
        "a P-256 signing key, trusted for attestation signing from 2025 to the end of 2027,\n\
         # with an ExpiringSoon warning 60 days ahead (examples/bundles/valid.zip is signed with it).",
        "example-ci-signing-2026",
        "CI signing key of the shop pipeline (TEST ONLY)",
        &key("test-only-signing.pub.pem"),
        "  purposes: [AttestationSigning]\n  notBefore: \"2025-01-01T00:00:00Z\"\n  expires: \"2027-12-31T00:00:00Z\"\n  expiryWarning: 1440h\n",
    ));
    anchors.push_str(&anchor(
        "a transparency-log key, trusted only for log checkpoints: kept apart from signing\n\
         # keys, so a compromised log cannot forge attestations.",
        "example-transparency-log",
        "Checkpoint key of transparency.example/attestations (TEST ONLY)",
        &key("test-only-log.pub.pem"),
        "  purposes: [TransparencyLog]\n",
    ));
    anchors.push_str(&anchor(
        "a root CA certificate with its intermediate: signing certificates shipped in a\n\
         # bundle (examples/bundles/valid-certificate.zip) chain to it; purposes default to AttestationSigning.",
        "example-root-ca",
        "Example Root CA and Signing CA (TEST ONLY)",
        &format!(
            "  certificate: |\n{}  intermediates: |\n{}",
            indent(&read(&pki.root_pem), 4),
            indent(intermediate, 4)
        ),
        "",
    ));
    anchors.push_str(&anchor(
        "a retired key whose window closed on 2025-03-31: bundles signed with it fail with\n\
         # KeyExpired (examples/bundles/expired-key.zip), which is how a rotation looks.",
        "example-ci-signing-2024",
        "Retired CI signing key, replaced by example-ci-signing-2026 (TEST ONLY)",
        &key("test-only-retired.pub.pem"),
        "  purposes: [AttestationSigning]\n  notBefore: \"2024-01-01T00:00:00Z\"\n  expires: \"2025-03-31T00:00:00Z\"\n",
    ));
    fs::write(ex.join("10-trustanchors.yaml"), anchors).expect("write 10-trustanchors.yaml");

    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = |name: &str| fs::read(bundles_dir.join(name)).expect("bundle");
    let manifest: Value =
        serde_json::from_slice(&fs::read(ex.join("inputs/manifest.json")).expect("manifest"))
            .expect("json");
    let artifact = manifest["artifactDigest"]
        .as_str()
        .expect("artifactDigest")
        .to_string();
    let in_config_map = ["valid.zip", "tampered-signature.zip", "expired-key.zip"];
    let mut out = String::from(HEADER);
    out.push_str(
        "---\n# Demonstrates: proof bundles kept next to the workloads in a ConfigMap (binaryData),\n\
         # read by the ProofVerifications below through source.configMapKeyRef.\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: proof-bundles\n  namespace: shop\nbinaryData:\n",
    );
    for name in in_config_map {
        out.push_str(&format!("  {name}: {}\n", b64.encode(bundle(name))));
    }
    let pv = |what: &str, name: &str, source: &str, rest: &str| {
        format!(
            "---\n# Demonstrates: {what}\napiVersion: attestor.stellaops.io/v1alpha1\nkind: ProofVerification\n\
             metadata:\n  name: {name}\n  namespace: shop\n  labels:\n    app.kubernetes.io/part-of: shop\n\
             spec:\n  artifactDigest: {artifact}\n  image: registry.example/shop/cart:1.4.2\n\
             {source}  issuerRef:\n    name: example-ci\n{rest}"
        )
    };
    let from_config_map = |key: &str| {
        format!("  source:\n    configMapKeyRef:\n      name: proof-bundles\n      key: {key}\n")
    };
    out.push_str(&pv(
        "a valid bundle (P-256 signature, transparency-log entry) read from the ConfigMap:\n\
         # Verified=True, verified again every 12 hours.",
        "cart",
        &from_config_map("valid.zip"),
        "  reverifyInterval: 12h\n",
    ));
    out.push_str(&pv(
        "a bundle whose manifest signature had one bit flipped after signing:\n\
         # Verified=False with reason SignatureInvalid.",
        "cart-tampered-signature",
        &from_config_map("tampered-signature.zip"),
        "",
    ));
    out.push_str(&pv(
        "a bundle signed with the retired key example-ci-signing-2024:\n\
         # Verified=False with reason KeyExpired.",
        "cart-expired-key",
        &from_config_map("expired-key.zip"),
        "",
    ));
    out.push_str(&pv(
        "a bundle downloaded over HTTPS and pinned to the digest of its bytes, with a\n\
         # maximum age and a wider clock-skew allowance.",
        "cart-from-url",
        &format!(
            "  source:\n    url:\n      url: https://bundles.example/shop/cart/1.4.2/proof.zip\n      digest: {}\n",
            Sha256Digest::of(&bundle("valid.zip"))
        ),
        "  checks:\n    transparencyLog: Required\n    maxAge: 3650d\n    clockSkew: 10m\n",
    ));
    let valid_entries = entries_of(&bundles_dir.join("valid.zip"));
    let envelope = &valid_entries
        .iter()
        .find(|(n, _)| n == bundle::PROOF_ROOT_DSSE)
        .expect("proof root envelope")
        .1;
    let envelope = String::from_utf8(envelope.clone()).expect("UTF-8 JSON");
    out.push_str(&pv(
        "a bare DSSE envelope given inline (the proof-root statement of valid.zip):\n\
         # format Envelope, checked offline (transparencyLog: IfPresent).",
        "cart-inline-envelope",
        &format!(
            "  source:\n    format: Envelope\n    envelope: |\n{}",
            indent(&envelope, 6)
        ),
        "  checks:\n    transparencyLog: IfPresent\n",
    ));
    fs::write(ex.join("30-proofverifications.yaml"), out)
        .expect("write 30-proofverifications.yaml");
    println!("wrote examples/10-trustanchors.yaml and examples/30-proofverifications.yaml");
}
