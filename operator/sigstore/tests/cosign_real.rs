//! Real cosign v3.1.3 output, as two real registries served it (tests/data/cosign/SOURCES.md):
//! every candidate verifies with the key that signed it, and tampered copies fail with
//! their reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attestor_core::digest::Sha256Digest;
use attestor_sigstore::TlogPolicy;
use attestor_sigstore::cosign::{
    self, COSIGN_SIGN_PREDICATE, Format, Kind, Outcome, Trust, TrustedKey,
};
use serde_json::Value;

const SLSA: &str = "https://slsa.dev/provenance/v1";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn trust(key_file: &str) -> Trust {
    let pem = String::from_utf8(read(&data().join(key_file))).unwrap();
    Trust {
        keys: vec![TrustedKey::from_pem(key_file, &pem).unwrap()],
        roots: vec![],
        identities: vec![],
        predicate_type: None,
        tlog: TlogPolicy::IfPresent,
    }
}

/// One stored candidate: its layer's media type, annotations and blob.
struct Candidate {
    name: String,
    media_type: String,
    annotations: BTreeMap<String, String>,
    layer: Vec<u8>,
    image: Sha256Digest,
}

impl Candidate {
    fn verify(&self, trust: &Trust) -> Outcome {
        cosign::verify_layer(
            &self.media_type,
            &self.annotations,
            &self.layer,
            &self.image,
            trust,
        )
    }
}

fn candidates() -> Vec<Candidate> {
    let mut out = Vec::new();
    for registry in ["plain", "referrers"] {
        for dir in ["legacy", "bundle", "both"] {
            let dir = data().join(registry).join(dir);
            let image_ref = String::from_utf8(read(&dir.join("image-ref"))).unwrap();
            let image: Sha256Digest = image_ref
                .trim()
                .rsplit_once('@')
                .unwrap()
                .1
                .parse()
                .unwrap();
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter_map(|n| n.strip_suffix(".layer0.blob").map(str::to_string))
                .collect();
            names.sort();
            for name in names {
                let manifest: Value =
                    serde_json::from_slice(&read(&dir.join(format!("{name}.manifest.json"))))
                        .unwrap();
                let layers = manifest["layers"].as_array().unwrap();
                assert_eq!(layers.len(), 1, "{name}");
                let layer = read(&dir.join(format!("{name}.layer0.blob")));
                // What the registry client checks before it hands the layer over.
                assert_eq!(
                    layers[0]["digest"].as_str().unwrap(),
                    Sha256Digest::of(&layer).to_string()
                );
                let annotations = layers[0]["annotations"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Candidate {
                    name: format!(
                        "{registry}/{}/{name}",
                        dir.file_name().unwrap().to_str().unwrap()
                    ),
                    media_type: layers[0]["mediaType"].as_str().unwrap().to_string(),
                    annotations,
                    layer,
                    image,
                });
            }
        }
    }
    assert_eq!(out.len(), 16, "every stored candidate is read");
    out
}

#[test]
fn every_real_cosign_candidate_verifies_with_its_key() {
    let trust = trust("cosign.pub");
    let mut seen = BTreeMap::new();
    for c in candidates() {
        let out = c.verify(&trust);
        assert!(out.verified, "{}: {out:#?}", c.name);
        assert_eq!(out.reason, "Verified");
        let format = out.format.unwrap();
        let kind = out.kind.unwrap();
        match format {
            Format::SimpleSigning => {
                assert_eq!(kind, Kind::Signature);
                assert!(
                    out.docker_reference
                        .as_deref()
                        .is_some_and(|r| r.starts_with("127.0.0.1:")),
                    "{out:?}"
                );
            }
            Format::DsseEnvelope => {
                assert_eq!(kind, Kind::Attestation);
                assert_eq!(out.predicate_type.as_deref(), Some(SLSA));
            }
            Format::SigstoreBundle => match kind {
                Kind::Signature => {
                    assert_eq!(out.predicate_type.as_deref(), Some(COSIGN_SIGN_PREDICATE))
                }
                Kind::Attestation => assert_eq!(out.predicate_type.as_deref(), Some(SLSA)),
            },
        }
        assert!(out.tlog_entries.is_empty() && out.signing_time.is_none());
        *seen.entry((format.as_str(), kind.as_str())).or_insert(0) += 1;
    }
    // Each layout, in both registries: legacy and both dirs hold a .sig and an .att each,
    // bundle and both dirs a bundle signature and a bundle attestation each.
    assert_eq!(
        seen,
        BTreeMap::from([
            (("DsseEnvelope", "Attestation"), 4),
            (("SigstoreBundle", "Attestation"), 4),
            (("SigstoreBundle", "Signature"), 4),
            (("SimpleSigning", "Signature"), 4),
        ])
    );
}

#[test]
fn real_candidates_fail_with_another_key_another_image_or_a_required_log() {
    let other = trust("other.pub");
    let wrong_image: Sha256Digest =
        "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822"
            .parse()
            .unwrap();
    let mut required = trust("cosign.pub");
    required.tlog = TlogPolicy::Required;
    for mut c in candidates() {
        let out = c.verify(&other);
        assert_eq!(out.reason, "SignatureInvalid", "{}: {out:#?}", c.name);
        let out = c.verify(&required);
        assert_eq!(out.reason, "TlogEntryInvalid", "{}: {out:#?}", c.name);
        c.image = wrong_image;
        let out = c.verify(&trust("cosign.pub"));
        assert_eq!(out.reason, "ImageDigestMismatch", "{}: {out:#?}", c.name);
        assert!(out.message.contains(". Next: "));
    }
}

#[test]
fn real_candidates_with_a_required_predicate_type() {
    let mut slsa = trust("cosign.pub");
    slsa.predicate_type = Some(SLSA.into());
    for c in candidates() {
        let out = c.verify(&slsa);
        let expected = match out.kind {
            Some(Kind::Attestation) => "Verified",
            _ => "StatementMismatch",
        };
        assert_eq!(out.reason, expected, "{}: {out:#?}", c.name);
    }
}

#[test]
fn tampered_real_candidates_fail() {
    let trust = trust("cosign.pub");
    for c in candidates() {
        match c.media_type.as_str() {
            cosign::SIMPLE_SIGNING => {
                // The payload, one digest digit changed.
                let text = String::from_utf8(c.layer.clone()).unwrap();
                let hex = c.image.hex();
                let swapped = format!(
                    "{}{}",
                    &hex[..63],
                    if hex.ends_with('0') { '1' } else { '0' }
                );
                let tampered = text.replace(&hex, &swapped);
                let out = cosign::verify_layer(
                    &c.media_type,
                    &c.annotations,
                    tampered.as_bytes(),
                    &c.image,
                    &trust,
                );
                assert_eq!(out.reason, "SignatureInvalid", "{}: {out:#?}", c.name);
                // The signature annotation, truncated.
                let mut ann = c.annotations.clone();
                let sig = ann.get_mut(cosign::ANNOTATION_SIGNATURE).unwrap();
                sig.truncate(sig.len() - 3);
                let out = cosign::verify_layer(&c.media_type, &ann, &c.layer, &c.image, &trust);
                assert_eq!(out.reason, "CandidateMalformed", "{}: {out:#?}", c.name);
            }
            _ => {
                // The in-toto statement inside the envelope, re-encoded with another subject.
                let mut doc: Value = serde_json::from_slice(&c.layer).unwrap();
                let env = if doc.get("dsseEnvelope").is_some() {
                    &mut doc["dsseEnvelope"]
                } else {
                    &mut doc
                };
                let payload = base64_decode(env["payload"].as_str().unwrap());
                let text = String::from_utf8(payload).unwrap();
                let tampered = text.replace(&c.image.hex()[..8], "00000000");
                assert_ne!(tampered, text);
                env["payload"] = Value::String(base64_encode(tampered.as_bytes()));
                let layer = serde_json::to_vec(&doc).unwrap();
                let out =
                    cosign::verify_layer(&c.media_type, &c.annotations, &layer, &c.image, &trust);
                assert_eq!(out.reason, "SignatureInvalid", "{}: {out:#?}", c.name);
                // Truncated.
                let out = cosign::verify_layer(
                    &c.media_type,
                    &c.annotations,
                    &c.layer[..c.layer.len() - 2],
                    &c.image,
                    &trust,
                );
                let expected = if c.media_type == cosign::DSSE_ENVELOPE {
                    "CandidateMalformed"
                } else {
                    "BundleMalformed"
                };
                assert_eq!(out.reason, expected, "{}: {out:#?}", c.name);
            }
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
