//! Classification of what real cosign v3.1.3 wrote to the two local registries (key-signed,
//! offline): new-format Sigstore bundles listed by the referrers API and by the fallback tag of
//! a registry without it, and the legacy `.sig` (simple signing) and `.att` (DSSE) manifests.
//! The manifests are the registries' bytes as served, so their digests are those listed.

use attestor_oci::Sha256Digest;
use attestor_oci::classify::{CandidateKind, classify};
use attestor_oci::manifest::{
    Limits, Manifest, OCI_INDEX, OCI_MANIFEST, parse_index, parse_manifest,
};

const SUBJECT: &str = "sha256:66a3866d40db35c85590c88d34c6d14f669cc034151bfd588d3cde71264d8e8c";

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/cosign-v3.1.3/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn image(name: &str) -> attestor_oci::manifest::ImageManifest {
    match parse_manifest(name, &sample(name), Some(OCI_MANIFEST), &Limits::default()).unwrap() {
        Manifest::Image(m) => m,
        Manifest::Index(_) => panic!("{name} is an index"),
    }
}

#[test]
fn bundle_referrers_are_listed_and_classified_as_sigstore_bundles() {
    for (index, prefix) in [
        ("referrers-index.json", "referrers-bundle"),
        ("plain-fallback-index.json", "plain-bundle"),
    ] {
        let listed = parse_index(index, &sample(index), &Limits::default()).unwrap();
        assert_eq!(listed.media_type.as_deref(), Some(OCI_INDEX));
        assert_eq!(listed.manifests.len(), 2, "a signature and an attestation");
        for (i, descriptor) in listed.manifests.iter().enumerate() {
            let name = format!("{prefix}{i}.manifest.json");
            let bytes = sample(&name);
            assert_eq!(
                descriptor.sha256().unwrap(),
                Sha256Digest::of(&bytes),
                "{name} is the manifest {index} lists"
            );
            let m = image(&name);
            assert_eq!(m.subject.as_ref().unwrap().digest, SUBJECT);
            let c = classify(&m);
            assert_eq!(c.kind, CandidateKind::SigstoreBundle, "{name}: {c:?}");
            assert_eq!(c.layers, vec![0]);
            assert_eq!(c.note, None);
        }
        // cosign v3 signs and attests alike as DSSE in a bundle; the predicate type tells.
        let types: Vec<&str> = listed
            .manifests
            .iter()
            .map(|d| d.annotations["dev.sigstore.bundle.predicateType"].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "https://sigstore.dev/cosign/sign/v1",
                "https://slsa.dev/provenance/v1"
            ]
        );
    }
}

#[test]
fn legacy_tags_are_simple_signing_and_dsse() {
    let sig = image("legacy-sig.manifest.json");
    let c = classify(&sig);
    assert_eq!(c.kind, CandidateKind::CosignSignature);
    assert_eq!(c.layers, vec![0]);
    assert!(sig.subject.is_none(), "legacy tags carry no subject");
    let att = image("legacy-att.manifest.json");
    let c = classify(&att);
    assert_eq!(c.kind, CandidateKind::CosignAttestation);
    assert_eq!(
        att.layers[0].annotations["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
}
