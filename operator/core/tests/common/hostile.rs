//! Hostile bundles, shared by the allocation test (`tests/hostile_memory.rs`)
//! and the RSS/time figures (`benches/hostile.rs`).
//!
//! Each case starts from a validly signed bundle and replaces one entry (or
//! the archive framing) with something built to make the verifier allocate
//! or spin: the shapes of issue 12. `scale` divides the size of the cases
//! that are large only to take time (1 = at the limits), so the test can
//! run them quickly in a debug build; the cases that stress memory per
//! byte are always at their entry's limit.
#![allow(dead_code)]

use std::collections::BTreeMap;

use attestor_core::bundle::{
    BundleSpec, ENTRY_LIMITS, MAX_BUNDLE_BYTES, MAX_NODES, MAX_PARENTS, NodeInput, build_bundle,
};
use attestor_core::digest::Sha256Digest;
use attestor_core::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use attestor_core::keys::SigningKey;
use attestor_core::ledger_reader::MAX_NODE_BYTES;
use attestor_core::trust::{Purpose, TrustAnchor, TrustStore};
use attestor_core::verify::{TlogPolicy, VerifyOptions};
use attestor_core::zip::{ZipLimits, read_zip, write_zip};
use serde_json::json;

pub const P256: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9UP3aRNcWOQ8CqVH
NsUzgDw0yZ7YTfTMQSRaK8pTSbGhRANCAAQEq/0INesNF+rNfBomyKuYeTKe8UHq
7PplbErNqGoyEOzaQx83dHaO+vIWLWfvxvJCDANBeAabLktqC7B5qrlo
-----END PRIVATE KEY-----
";

pub fn key() -> SigningKey {
    SigningKey::from_pem(P256).unwrap()
}

pub fn trust() -> TrustStore {
    TrustStore::new(vec![
        TrustAnchor::from_key("signer", key().public_key())
            .with_purposes(vec![Purpose::AttestationSigning]),
    ])
}

pub fn opts() -> VerifyOptions {
    let mut o = VerifyOptions::at("2026-11-02T00:00:00Z".parse().unwrap());
    o.tlog = TlogPolicy::IfPresent;
    o
}

/// What verifying a case must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An input error (CLI exit 2).
    Unreadable,
    /// Read, but a check fails (CLI exit 1).
    Fails,
    Verified,
}

pub const CASES: &[&str] = &[
    "issue-12: manifest.json of 30 MiB of {}",
    "manifest.json at its limit of [{},{},...]",
    "manifest.json at its limit of [[[[...]]]]",
    "manifest.json big but valid JSON (long string)",
    "manifest.dsse.json payload at its limit",
    "proof_root.dsse.json statement payload of [{},...]",
    "meta.json at its limit of [{},...]",
    "score_proof.json nodes of {} (deflate bomb)",
    "score_proof.json of whitespace (deflate bomb)",
    "score_proof.json long string member",
    "score_proof.json MAX_NODES minimal nodes with right ids",
    "score_proof.json more than MAX_NODES nodes",
    "score_proof.json nodes with MAX_PARENTS parents",
    "score_proof.json nodes with data of [{},...] at the node limit",
    "score_proof.json node deeper than the nesting limit",
    "score_proof.json barely compressible, near the bundle file limit",
    "duplicate entries",
    "64 small entries",
    "declared size smaller than the data",
    "declared size larger than the data",
];

/// The nodes of the largest ledger, as `attestor bundle create` writes it
/// (pretty-printed, about 355 bytes a node), that fits the ledger's entry limit.
pub const VALID_LEDGER_NODES: usize = 70_000;

/// The five entries of a small, valid, signed bundle.
pub fn base_entries() -> Vec<(String, Vec<u8>)> {
    let zip = valid_bundle(3);
    read_zip(&zip, &ZipLimits::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.data))
        .collect()
}

fn manifest() -> serde_json::Value {
    json!({
        "schema": "stellaops.io/scan-manifest/v1",
        "artifactDigest": Sha256Digest::of(b"image"),
        "inputs": {"sbom": Sha256Digest::of(b"s"), "feedSnapshot": Sha256Digest::of(b"f"), "vex": Sha256Digest::of(b"v"), "policy": Sha256Digest::of(b"p")},
        "createdAt": "2026-11-01T09:00:00Z",
        "deterministic": true
    })
}

/// A validly signed bundle whose ledger has `nodes` nodes, each naming the
/// one before it, as `attestor bundle create` writes them (pretty-printed).
pub fn valid_bundle(nodes: usize) -> Vec<u8> {
    let mut inputs: Vec<NodeInput> = Vec::with_capacity(nodes);
    let mut last: Option<Sha256Digest> = None;
    for i in 0..nodes {
        let node = NodeInput {
            kind: "match".into(),
            parents: last.into_iter().collect(),
            data: json!({"advisory": format!("GHSA-{i:08}"), "component": "pkg:npm/x@1", "cvssTenths": 72}),
        };
        last = Some(node.id().unwrap());
        inputs.push(node);
    }
    let spec = BundleSpec {
        manifest: manifest(),
        nodes: inputs,
        signed_at: "2026-11-01T09:30:00Z".parse().unwrap(),
        tools: BTreeMap::new(),
        certificates: vec![],
        transparency_log: None,
    };
    build_bundle(spec, &key()).unwrap().zip
}

fn limit(name: &str) -> usize {
    ENTRY_LIMITS.iter().find(|(n, _)| *n == name).unwrap().1 as usize
}

fn replace(entries: &[(String, Vec<u8>)], name: &str, data: Vec<u8>) -> Vec<u8> {
    let mut data = Some(data);
    let entries: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|(n, d)| {
            if n == name {
                (n.clone(), data.take().unwrap())
            } else {
                (n.clone(), d.clone())
            }
        })
        .collect();
    write_zip(entries.iter().map(|(n, d)| (n.as_str(), d.as_slice()))).unwrap()
}

/// `[{},{},...]`, exactly `len` bytes (len odd, at least 3).
fn braces(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.push(b'[');
    while v.len() + 3 < len {
        v.extend_from_slice(b"{},");
    }
    v.extend_from_slice(b"{}");
    while v.len() + 1 < len {
        v.push(b' ');
    }
    v.push(b']');
    v
}

const LEDGER_HEAD: &str = r#"{"schema":"stellaops.io/score-proof/v1","manifestId":"sha256:0000000000000000000000000000000000000000000000000000000000000000","rootHash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","nodes":["#;

/// A minimal node with the right id; its canonical body is
/// `{"data":<i>,"kind":"k","parents":[<parents>]}`.
fn minimal_node(i: usize, parents: &[String]) -> (String, String) {
    let list = parents
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(",");
    let body = format!(r#"{{"data":{i},"kind":"k","parents":[{list}]}}"#);
    let id = Sha256Digest::of(body.as_bytes()).to_string();
    (
        format!(r#"{{"data":{i},"id":"{id}","kind":"k","parents":[{list}]}}"#),
        id,
    )
}

/// The case's archive and what verifying it must end in.
pub fn case(name: &str, scale: usize) -> (Vec<u8>, Expect) {
    use Expect::*;
    let base = base_entries();
    let scaled = |n: usize| (n / scale.max(1)).max(1024);
    let ledger_limit = limit("score_proof.json");
    match name {
        "issue-12: manifest.json of 30 MiB of {}" => (
            replace(&base, "manifest.json", braces(30 * 1024 * 1024 + 1)),
            Unreadable,
        ),
        "manifest.json at its limit of [{},{},...]" => (
            replace(&base, "manifest.json", braces(limit("manifest.json") - 1)),
            Unreadable,
        ),
        "manifest.json at its limit of [[[[...]]]]" => {
            let half = limit("manifest.json") / 2;
            let mut v = vec![b'['; half];
            v.extend(std::iter::repeat_n(b']', half));
            (replace(&base, "manifest.json", v), Unreadable)
        }
        "manifest.json big but valid JSON (long string)" => {
            let mut m = manifest();
            m["padding"] = json!("a".repeat(limit("manifest.json") - 600));
            (
                replace(&base, "manifest.json", serde_json::to_vec(&m).unwrap()),
                Fails,
            )
        }
        "manifest.dsse.json payload at its limit" => {
            use base64::Engine as _;
            let payload = braces(limit("manifest.dsse.json") / 4 * 3 - 1024);
            let env = json!({
                "payloadType": "application/vnd.stellaops.scan-manifest.v1+json",
                "payload": base64::engine::general_purpose::STANDARD.encode(payload),
                "signatures": [{"keyid": "", "sig": "AAAA"}],
            });
            (
                replace(
                    &base,
                    "manifest.dsse.json",
                    serde_json::to_vec(&env).unwrap(),
                ),
                Fails,
            )
        }
        "proof_root.dsse.json statement payload of [{},...]" => {
            use base64::Engine as _;
            let payload = braces(limit("proof_root.dsse.json") / 4 * 3 - 1024);
            let env = json!({
                "payloadType": "application/vnd.in-toto+json",
                "payload": base64::engine::general_purpose::STANDARD.encode(payload),
                "signatures": [{"keyid": "", "sig": "AAAA"}],
            });
            (
                replace(
                    &base,
                    "proof_root.dsse.json",
                    serde_json::to_vec(&env).unwrap(),
                ),
                Unreadable,
            )
        }
        "meta.json at its limit of [{},...]" => {
            let mut v = br#"{"schema":"stellaops.io/bundle-meta/v1","x":"#.to_vec();
            v.extend(braces(limit("meta.json") - v.len() - 1));
            v.push(b'}');
            (replace(&base, "meta.json", v), Unreadable)
        }
        "score_proof.json nodes of {} (deflate bomb)" => {
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            let b = braces(scaled(ledger_limit) - v.len() - 1);
            v.extend_from_slice(&b[1..]);
            v.push(b'}');
            (replace(&base, "score_proof.json", v), Unreadable)
        }
        "score_proof.json of whitespace (deflate bomb)" => {
            let mut v = b"{".to_vec();
            v.resize(scaled(ledger_limit) - 1, b' ');
            v.push(b'}');
            (replace(&base, "score_proof.json", v), Unreadable)
        }
        "score_proof.json long string member" => {
            let mut v = br#"{"x":""#.to_vec();
            v.resize(scaled(ledger_limit) - 2, b'a');
            v.extend_from_slice(b"\"}");
            (replace(&base, "score_proof.json", v), Unreadable)
        }
        "score_proof.json MAX_NODES minimal nodes with right ids"
        | "score_proof.json more than MAX_NODES nodes" => {
            let count = if name.contains("more than") {
                MAX_NODES + 1
            } else {
                MAX_NODES
            };
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            for i in 0..count {
                if i > 0 {
                    v.push(b',');
                }
                v.extend_from_slice(minimal_node(i, &[]).0.as_bytes());
            }
            v.extend_from_slice(b"]}");
            // The statement claims the same count, re-signed, so every id
            // is checked.
            let entries = with_node_count(&base, count as u64);
            (
                replace(&entries, "score_proof.json", v),
                if count > MAX_NODES { Unreadable } else { Fails },
            )
        }
        "score_proof.json nodes with MAX_PARENTS parents" => {
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            let (first, id) = minimal_node(0, &[]);
            v.extend_from_slice(first.as_bytes());
            let parents = vec![id; MAX_PARENTS];
            let mut i = 1;
            while v.len() + MAX_PARENTS * 74 < scaled(ledger_limit) {
                v.push(b',');
                v.extend_from_slice(minimal_node(i, &parents).0.as_bytes());
                i += 1;
            }
            v.extend_from_slice(b"]}");
            let entries = with_node_count(&base, i as u64);
            (replace(&entries, "score_proof.json", v), Fails)
        }
        "score_proof.json nodes with data of [{},...] at the node limit" => {
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            // Each node's id is right, and the statement claims them all,
            // so every node is parsed, canonicalized and hashed.
            let data = braces(MAX_NODE_BYTES - 200);
            let body = [
                br#"{"data":"#.as_slice(),
                &data,
                br#","kind":"k","parents":[]}"#,
            ]
            .concat();
            let id = Sha256Digest::of(&body).to_string();
            let mut count = 0;
            while v.len() + MAX_NODE_BYTES < scaled(ledger_limit) {
                if count > 0 {
                    v.push(b',');
                }
                v.extend_from_slice(
                    format!(r#"{{"id":"{id}","kind":"k","parents":[],"data":"#).as_bytes(),
                );
                v.extend_from_slice(&data);
                v.push(b'}');
                count += 1;
            }
            v.extend_from_slice(b"]}");
            let entries = with_node_count(&base, count);
            (replace(&entries, "score_proof.json", v), Fails)
        }
        "score_proof.json node deeper than the nesting limit" => {
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            v.extend_from_slice(br#"{"id":"sha256:0000000000000000000000000000000000000000000000000000000000000000","kind":"k","parents":[],"data":"#);
            let depth = MAX_NODE_BYTES / 2 - 200;
            v.extend(std::iter::repeat_n(b'[', depth));
            v.extend(std::iter::repeat_n(b']', depth));
            v.extend_from_slice(b"}]}");
            (replace(&base, "score_proof.json", v), Unreadable)
        }
        "score_proof.json barely compressible, near the bundle file limit" => {
            // Random printable text deflates by a fifth at most, so the
            // archive is nearly as large as a bundle file may be, and is in
            // memory alongside everything else.
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            let target = scaled(ledger_limit);
            assert!(ledger_limit <= MAX_BUNDLE_BYTES as usize * 5 / 4);
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut i = 0;
            while v.len() + 70_000 < target {
                if i > 0 {
                    v.push(b',');
                }
                v.extend_from_slice(br#"{"id":"sha256:0000000000000000000000000000000000000000000000000000000000000000","kind":"k","parents":[],"data":""#);
                for _ in 0..65_536 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    v.push(b'#' + (x % 56) as u8);
                }
                v.extend_from_slice(b"\"}");
                i += 1;
            }
            v.extend_from_slice(b"]}");
            (replace(&base, "score_proof.json", v), Fails)
        }
        "duplicate entries" => {
            let mut entries = base.clone();
            entries.push(entries[0].clone());
            let mut zip = write_zip(entries.iter().enumerate().map(|(i, (n, d))| {
                (
                    if i == 5 { "manifest.jsoN" } else { n.as_str() },
                    d.as_slice(),
                )
            }))
            .unwrap();
            // Same length, so only the name bytes change.
            let at = zip
                .windows(13)
                .rposition(|w| w == b"manifest.jsoN")
                .unwrap();
            zip[at + 12] = b'n';
            let at = zip.windows(13).position(|w| w == b"manifest.jsoN").unwrap();
            zip[at + 12] = b'n';
            (zip, Unreadable)
        }
        "64 small entries" => {
            let mut entries = base.clone();
            for i in 0..59 {
                entries.push((format!("extra-{i}.json"), braces(1023)));
            }
            (
                write_zip(entries.iter().map(|(n, d)| (n.as_str(), d.as_slice()))).unwrap(),
                Unreadable,
            )
        }
        "declared size smaller than the data" | "declared size larger than the data" => {
            let mut v = LEDGER_HEAD.as_bytes().to_vec();
            let b = braces(scaled(ledger_limit) - v.len() - 1);
            v.extend_from_slice(&b[1..]);
            v.push(b'}');
            let actual = v.len() as u32;
            let mut zip = replace(&base, "score_proof.json", v);
            let declared: u32 = if name.contains("smaller") {
                4096
            } else {
                actual + 4096
            };
            patch_uncompressed_size(&mut zip, "score_proof.json", declared);
            (zip, Unreadable)
        }
        other => panic!("no hostile case {other:?}"),
    }
}

/// The entries with the statement's `nodeCount` changed and signed again by
/// [`key`]: a ledger is only read once the signatures hold, so the cases
/// that stress its reading must come from a trusted signer.
fn with_node_count(entries: &[(String, Vec<u8>)], count: u64) -> Vec<(String, Vec<u8>)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    entries
        .iter()
        .map(|(n, d)| {
            if n != "proof_root.dsse.json" {
                return (n.clone(), d.clone());
            }
            let env: serde_json::Value = serde_json::from_slice(d).unwrap();
            let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
            let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            st["predicate"]["nodeCount"] = json!(count);
            let signed = Envelope::sign(
                PAYLOAD_TYPE_IN_TOTO,
                serde_json::to_vec(&st).unwrap(),
                &[&key()],
            );
            (n.clone(), signed.to_json_pretty())
        })
        .collect()
}

/// Sets the uncompressed size of entry `name` in both its headers.
fn patch_uncompressed_size(zip: &mut [u8], name: &str, size: u32) {
    let le16 = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let eocd = zip.len() - 22;
    let mut pos = le32(zip, eocd + 16);
    for _ in 0..le16(zip, eocd + 10) {
        let name_len = le16(zip, pos + 28);
        if &zip[pos + 46..pos + 46 + name_len] == name.as_bytes() {
            let local = le32(zip, pos + 42);
            zip[pos + 24..pos + 28].copy_from_slice(&size.to_le_bytes());
            zip[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
            return;
        }
        pos += 46 + name_len + le16(zip, pos + 30) + le16(zip, pos + 32);
    }
    panic!("no entry {name}");
}
