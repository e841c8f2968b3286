//! Verdicts on real cosign v3.1.3 output (operator/sigstore/tests/data/cosign, as two real
//! registries served it) and on this repository's example proof bundles.

use std::path::{Path, PathBuf};

use attestor_core::digest::Sha256Digest;
use attestor_core::keys::PublicKey;
use attestor_core::trust::{AnchorMaterial, Purpose, TrustAnchor, TrustStore};
use attestor_core::verify::{TlogPolicy as CoreTlog, VerifyOptions, verify_zip};
use attestor_core::zip::ZipLimits;
use attestor_oci::artifact::PROOF_BUNDLE_LAYER;
use attestor_oci::classify::CandidateKind;
use attestor_oci::manifest::Descriptor;
use jiff::Timestamp;
use serde_json::Value;

use super::*;
use crate::registry::{Candidate, Discovery, Source};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cosign_data() -> PathBuf {
    repo().join("operator/sigstore/tests/data/cosign")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn anchor(pem: &Path, not_before: Option<&str>, expires: Option<&str>) -> TrustAnchor {
    let text = String::from_utf8(read(pem)).unwrap();
    TrustAnchor {
        name: pem.file_name().unwrap().to_string_lossy().into_owned(),
        material: AnchorMaterial::Key(PublicKey::from_pem(&text).unwrap()),
        purposes: vec![Purpose::AttestationSigning],
        not_before: not_before.map(|t| t.parse().unwrap()),
        expires: expires.map(|t| t.parse().unwrap()),
    }
}

fn now() -> Timestamp {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

fn trust(anchors: Vec<TrustAnchor>) -> RegistryTrust {
    RegistryTrust::new(
        TrustStore::new(anchors),
        Keyless::default(),
        None,
        VerifyOptions {
            at: now(),
            tlog: CoreTlog::IfPresent,
            timestamps: None,
            expected_artifact: None,
        },
    )
}

/// The candidate stored as `<dir>/<label>.*`, and the image digest it is about.
fn stored(
    dir: &str,
    label: &str,
    kind: CandidateKind,
    source: Source,
) -> (Candidate, Sha256Digest) {
    let dir = cosign_data().join(dir);
    let image_ref = String::from_utf8(read(&dir.join("image-ref"))).unwrap();
    let image: Sha256Digest = image_ref
        .trim()
        .rsplit_once('@')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let manifest_bytes = read(&dir.join(format!("{label}.manifest.json")));
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let layer: Descriptor = serde_json::from_value(manifest["layers"][0].clone()).unwrap();
    let blob = read(&dir.join(format!("{label}.layer0.blob")));
    let candidate = Candidate {
        descriptor: Descriptor::of(manifest["mediaType"].as_str().unwrap(), &manifest_bytes),
        kind,
        source,
        manifest: None,
        note: None,
        layers: vec![(layer, blob)],
    };
    (candidate, image)
}

fn discovery(candidates: Vec<Candidate>) -> Discovery {
    Discovery {
        candidates,
        source: Source::Referrers,
        requests: 0,
        truncated: false,
    }
}

#[test]
fn real_cosign_candidates_verify_with_the_anchor_key_and_not_with_another() {
    let cases = [
        (
            "plain/legacy",
            "legacy-sig",
            CandidateKind::CosignSignature,
            Source::LegacySignatureTag,
        ),
        (
            "plain/legacy",
            "legacy-att",
            CandidateKind::CosignAttestation,
            Source::LegacyAttestationTag,
        ),
        (
            "referrers/bundle",
            "referrer0",
            CandidateKind::SigstoreBundle,
            Source::Referrers,
        ),
        (
            "plain/bundle",
            "fallback0",
            CandidateKind::SigstoreBundle,
            Source::FallbackTag,
        ),
    ];
    let good = trust(vec![anchor(&cosign_data().join("cosign.pub"), None, None)]);
    let bad = trust(vec![anchor(&cosign_data().join("other.pub"), None, None)]);
    for (dir, label, kind, source) in cases {
        let (candidate, image) = stored(dir, label, kind, source);
        let v = verify_candidate(&candidate, &image, &good);
        assert!(v.verified, "{dir}/{label}: {v:#?}");
        assert_eq!(v.reason, "Verified");
        assert!(
            v.signer
                .as_deref()
                .is_some_and(|s| s.contains("cosign.pub")),
            "{v:?}"
        );
        let summary = summarize(&[v]);
        assert!(summary.verified);
        assert!(
            summary.message.contains(kind.as_str()),
            "{}",
            summary.message
        );

        let v = verify_candidate(&candidate, &image, &bad);
        assert!(!v.verified, "{dir}/{label}");
        assert_ne!(v.reason, "Verified");
        assert!(v.message.contains("Next:"), "{}", v.message);
        let summary = summarize(std::slice::from_ref(&v));
        assert!(!summary.verified);
        assert_eq!(summary.reason, v.reason);

        // The same signature about another digest: copied or replayed.
        let other: Sha256Digest = Sha256Digest::of(b"another image");
        let v = verify_candidate(&candidate, &other, &good);
        assert!(!v.verified, "{dir}/{label}");
        assert_eq!(v.reason, "ImageDigestMismatch", "{dir}/{label}: {v:?}");
    }
}

#[test]
fn an_anchor_outside_its_validity_window_is_not_offered_to_cosign() {
    let (candidate, image) = stored(
        "plain/legacy",
        "legacy-sig",
        CandidateKind::CosignSignature,
        Source::LegacySignatureTag,
    );
    let key = cosign_data().join("cosign.pub");
    for (not_before, expires) in [
        (None, Some("2026-11-30T00:00:00Z")),
        (Some("2026-12-02T00:00:00Z"), None),
    ] {
        let t = trust(vec![anchor(&key, not_before, expires)]);
        assert!(t.cosign.keys.is_empty());
        let v = verify_candidate(&candidate, &image, &t);
        assert!(!v.verified);
    }
    let t = trust(vec![anchor(
        &key,
        Some("2026-11-01T00:00:00Z"),
        Some("2027-01-01T00:00:00Z"),
    )]);
    assert_eq!(t.cosign.keys.len(), 1);
    let v = verify_candidate(&candidate, &image, &t);
    assert!(v.verified);
    assert_eq!(
        v.valid_until,
        Some("2027-01-01T00:00:00Z".parse().unwrap()),
        "the verdict ends with the key's anchor"
    );
    // A transparency-log key is never a signing key.
    let mut log = anchor(&key, None, None);
    log.purposes = vec![Purpose::TransparencyLog];
    assert!(trust(vec![log]).cosign.keys.is_empty());
}

#[test]
fn one_verified_candidate_decides_and_unknown_referrers_never_do() {
    let (good, image) = stored(
        "referrers/bundle",
        "referrer0",
        CandidateKind::SigstoreBundle,
        Source::Referrers,
    );
    let mut tampered = good.clone();
    tampered.layers[0].1[10] ^= 1;
    let unknown = Candidate {
        kind: CandidateKind::Unknown,
        note: Some("an SPDX SBOM (application/spdx+json)".into()),
        ..good.clone()
    };
    let t = trust(vec![anchor(&cosign_data().join("cosign.pub"), None, None)]);
    let verdicts = verify_candidates(
        &discovery(vec![unknown.clone(), tampered.clone(), good]),
        &image,
        &t,
    );
    assert_eq!(verdicts[0].reason, "CandidateUnsupported");
    assert!(verdicts[0].message.contains("SBOM"));
    assert!(!verdicts[1].verified);
    let summary = summarize(&verdicts);
    assert!(summary.verified);
    assert_eq!(summary.decisive, Some(2));

    // Without the good one, the tampered candidate's reason decides, not the SBOM's.
    let verdicts = verify_candidates(&discovery(vec![unknown.clone(), tampered]), &image, &t);
    let summary = summarize(&verdicts);
    assert!(!summary.verified);
    assert_eq!(summary.decisive, Some(1));
    assert_eq!(summary.reason, verdicts[1].reason);

    // Only an SBOM: nothing to verify.
    let summary = summarize(&verify_candidates(&discovery(vec![unknown]), &image, &t));
    assert_eq!(summary.reason, "NoSignaturesFound");
    assert!(
        summary.message.contains("1 referrer(s) of other kinds"),
        "{}",
        summary.message
    );
    let summary = summarize(&[]);
    assert_eq!(summary.reason, "NoSignaturesFound");
    assert!(summary.message.contains("Next:"));
}

#[test]
fn a_candidate_without_layers_is_malformed_not_a_panic() {
    let (mut candidate, image) = stored(
        "plain/legacy",
        "legacy-sig",
        CandidateKind::CosignSignature,
        Source::LegacySignatureTag,
    );
    candidate.layers.clear();
    let v = verify_candidate(&candidate, &image, &trust(vec![]));
    assert_eq!(v.reason, "CandidateMalformed");
    assert!(v.message.contains("Next:"));
}

#[test]
fn a_proof_bundle_candidate_is_verified_against_the_store_for_this_digest() {
    let bundle = read(&repo().join("examples/bundles/valid-ed25519-offline.zip"));
    let key = repo().join("examples/keys/test-only-signing-ed25519.pub.pem");
    let t = trust(vec![anchor(&key, None, None)]);
    let artifact: Sha256Digest = verify_zip(&bundle, &ZipLimits::default(), &t.store, &t.options)
        .unwrap()
        .artifact_digest
        .parse()
        .unwrap();
    let layer = Descriptor::of(PROOF_BUNDLE_LAYER, &bundle);
    let candidate = Candidate {
        descriptor: Descriptor::of("application/vnd.oci.image.manifest.v1+json", b"{}"),
        kind: CandidateKind::ProofBundle,
        source: Source::Referrers,
        manifest: None,
        note: None,
        layers: vec![(layer, bundle.clone())],
    };
    let v = verify_candidate(&candidate, &artifact, &t);
    assert!(v.verified, "{v:#?}");
    assert!(v.report.as_ref().is_some_and(|r| r.verified));
    assert!(v.signer.is_some());

    // The same bundle does not vouch for another digest.
    let v = verify_candidate(&candidate, &Sha256Digest::of(b"other"), &t);
    assert!(!v.verified);
    assert_eq!(v.reason, "ArtifactDigestMismatch", "{v:?}");

    // A wrong key, and a truncated bundle.
    let v = verify_candidate(
        &candidate,
        &artifact,
        &trust(vec![anchor(&cosign_data().join("cosign.pub"), None, None)]),
    );
    assert!(!v.verified);
    let mut truncated = candidate.clone();
    truncated.layers[0].1.truncate(bundle.len() / 2);
    let v = verify_candidate(&truncated, &artifact, &t);
    assert_eq!(v.reason, "InputUnreadable");
    assert!(v.message.contains("Next:"));
}
