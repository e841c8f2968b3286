//! cosign's registry layouts: simple signing (`.sig`), DSSE attestations (`.att`) and
//! Sigstore bundle referrers, key-signed and keyless, and one reason per way they fail.
//!
//! Keyless vectors are built here: a test certificate authority (rcgen), a Fulcio-like leaf
//! with an embedded SCT from a test CT log, and Rekor entries with signed entry timestamps
//! from a test Rekor key, all named by a trusted root written for the test. Real cosign
//! output is in `tests/data/cosign/` (see SOURCES.md there).

use std::collections::BTreeMap;
use std::sync::Arc;

use attestor_core::digest::Sha256Digest;
use attestor_sigstore::cert::Cert;
use attestor_sigstore::cosign::{
    self, ANNOTATION_BUNDLE, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_SIGNATURE,
    COSIGN_SIGN_PREDICATE, DSSE_ENVELOPE, Format, Kind, Outcome, SIGSTORE_BUNDLE_V03,
    SIMPLE_SIGNING, Signer, Trust, TrustedKey,
};
use attestor_sigstore::{IdentityRule, Matcher, TlogPolicy, TrustedRoot, der, sct};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PublicKeyData, SanType, SerialNumber, SigningKey, date_time_ymd,
};
use serde_json::json;
use sha2::Digest as _;

const IMAGE: &str = "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822";
const OTHER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
const SUBJECT: &str =
    "https://github.com/example/shop/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// 2026-01-01T00:10:00Z: inside the leaf's validity (the first day of 2026).
const INTEGRATED: i64 = 1_767_226_200;
const SLSA: &str = "https://slsa.dev/provenance/v1";

fn image() -> Sha256Digest {
    IMAGE.parse().unwrap()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(b).into()
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

fn sign(k: &KeyPair, msg: &[u8]) -> Vec<u8> {
    SigningKey::sign(k, msg).unwrap()
}

fn trusted(k: &KeyPair, name: &str) -> TrustedKey {
    TrustedKey::from_pem(name, &k.public_key_pem()).unwrap()
}

fn payload(digest: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"registry.test/shop/cart"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"ci":"yes"}}}}"#
    )
    .into_bytes()
}

fn statement(digest: &str, predicate_type: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.test/shop/cart", "digest": {"sha256": hex}}],
        "predicateType": predicate_type,
        "predicate": {}
    }))
    .unwrap()
}

fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    attestor_core::dsse::pae(payload_type, payload)
}

/// A DSSE envelope (as the `.att` layer and the bundle's `dsseEnvelope` spell it) and its
/// signature.
fn envelope(k: &KeyPair, payload_type: &str, payload: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let sig = sign(k, &pae(payload_type, payload));
    (
        json!({
            "payloadType": payload_type,
            "payload": b64(payload),
            "signatures": [{"keyid": "", "sig": b64(&sig)}]
        }),
        sig,
    )
}

/// A test Sigstore instance: CA, CT log and Rekor keys, and its trusted root.
struct Instance {
    ca_key: KeyPair,
    ca_params: CertificateParams,
    ca_der: Vec<u8>,
    ct_key: KeyPair,
    rekor_key: KeyPair,
}

fn log_id(k: &KeyPair) -> [u8; 32] {
    sha256(&k.subject_public_key_info())
}

impl Instance {
    fn new() -> Self {
        let ca_key = key();
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "test fulcio");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.not_before = date_time_ymd(2025, 1, 1);
        ca_params.not_after = date_time_ymd(2030, 1, 1);
        let ca_der = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
        Instance {
            ca_key,
            ca_params,
            ca_der,
            ct_key: key(),
            rekor_key: key(),
        }
    }

    fn root(&self) -> TrustedRoot {
        let log = |k: &KeyPair, url: &str| {
            json!({
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(&k.subject_public_key_info()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2025-01-01T00:00:00Z"}
                },
                "logId": {"keyId": b64(&log_id(k))}
            })
        };
        let doc = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(&self.rekor_key, "https://rekor.test")],
            "certificateAuthorities": [{
                "uri": "https://fulcio.test",
                "certChain": {"certificates": [{"rawBytes": b64(&self.ca_der)}]},
                "validFor": {"start": "2025-01-01T00:00:00Z"}
            }],
            "ctlogs": [log(&self.ct_key, "https://ct.test")],
            "timestampAuthorities": []
        });
        TrustedRoot::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap()
    }

    /// A Fulcio-like leaf for `subject` with an SCT from the test CT log.
    fn leaf(&self, subject: &str) -> (KeyPair, Vec<u8>) {
        let leaf_key = key();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.serial_number = Some(SerialNumber::from(42u64));
        params.not_before = date_time_ymd(2026, 1, 1);
        params.not_after = date_time_ymd(2026, 1, 2);
        params.subject_alt_names = vec![SanType::URI(subject.try_into().unwrap())];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            der::encode(0x0c, ISSUER.as_bytes()),
        )];
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let pre = params.signed_by(&leaf_key, &issuer).unwrap();
        let pre_tbs = Cert::from_der(pre.der()).unwrap().tbs;
        // RFC 6962 precertificate entry, signed by the CT log.
        let ts_ms: u64 = (INTEGRATED as u64 - 60) * 1000;
        let mut msg = vec![0u8, 0u8];
        msg.extend_from_slice(&ts_ms.to_be_bytes());
        msg.extend_from_slice(&1u16.to_be_bytes());
        msg.extend_from_slice(&sha256(&self.ca_key.subject_public_key_info()));
        msg.extend_from_slice(&(pre_tbs.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&pre_tbs);
        msg.extend_from_slice(&[0, 0]);
        let sig = sign(&self.ct_key, &msg);
        let mut one = vec![0u8];
        one.extend_from_slice(&log_id(&self.ct_key));
        one.extend_from_slice(&ts_ms.to_be_bytes());
        one.extend_from_slice(&[0, 0, 4, 3]);
        one.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        one.extend_from_slice(&sig);
        let mut list = ((one.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&(one.len() as u16).to_be_bytes());
        list.extend_from_slice(&one);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                der::encode(0x04, &list),
            ));
        let leaf = params.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
        assert_eq!(
            sct::precert_tbs(&Cert::from_der(&leaf).unwrap().tbs).unwrap(),
            pre_tbs,
            "the SCT must cover the final certificate's TBS without the SCT list"
        );
        (leaf_key, leaf)
    }

    /// cosign's `dev.sigstore.cosign/bundle` for `body`, signed by `rekor` (the SET).
    fn rekor_bundle(&self, rekor: &KeyPair, body: &serde_json::Value) -> String {
        let body = serde_json::to_vec(body).unwrap();
        let id = hex::encode(log_id(&self.rekor_key));
        let set = json!({
            "body": b64(&body),
            "integratedTime": INTEGRATED,
            "logID": id,
            "logIndex": 7,
        });
        let signed = attestor_core::canonical::to_canonical_bytes(&set).unwrap();
        serde_json::to_string(&json!({
            "SignedEntryTimestamp": b64(&sign(rekor, &signed)),
            "Payload": {"body": b64(&body), "integratedTime": INTEGRATED, "logIndex": 7, "logID": id}
        }))
        .unwrap()
    }
}

fn pem_b64(label: &str, der: &[u8]) -> String {
    b64(attestor_core::pem::to_pem(label, der).as_bytes())
}

fn hashedrekord(content: &[u8], sig: &[u8], signer_pem_b64: &str) -> serde_json::Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256(content))}},
            "signature": {"content": b64(sig), "publicKey": {"content": signer_pem_b64}}
        }
    })
}

fn dsse_body(payload: &[u8], sig: &[u8], signer_pem_b64: &str) -> serde_json::Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(payload))},
            "signatures": [{"signature": b64(sig), "verifier": signer_pem_b64}]
        }
    })
}

fn key_trust(keys: Vec<TrustedKey>, tlog: TlogPolicy) -> Trust {
    Trust {
        keys,
        roots: vec![],
        identities: vec![],
        predicate_type: None,
        tlog,
    }
}

fn keyless_trust(root: TrustedRoot) -> Trust {
    Trust {
        keys: vec![],
        roots: vec![Arc::new(root)],
        identities: vec![IdentityRule {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::regex(r"https://github\.com/example/shop/.*").unwrap(),
            extensions: Vec::new(),
        }],
        predicate_type: None,
        tlog: TlogPolicy::Required,
    }
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[track_caller]
fn assert_reason(out: &Outcome, reason: &str) {
    assert_eq!(out.reason, reason, "{out:#?}");
    assert_eq!(out.verified, reason == "Verified", "{out:#?}");
    if !out.verified {
        assert!(out.message.contains(". Next: "), "{}", out.message);
    }
}

// ---- simple signing, key-signed ----

fn key_signed_sig(k: &KeyPair, digest: &str) -> (Vec<u8>, BTreeMap<String, String>) {
    let p = payload(digest);
    let sig = sign(k, &p);
    (p, annotations(&[(ANNOTATION_SIGNATURE, &b64(&sig))]))
}

#[test]
fn a_key_signed_simple_signing_payload_verifies_offline() {
    let k = key();
    let (p, ann) = key_signed_sig(&k, IMAGE);
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let out = cosign::verify_layer(SIMPLE_SIGNING, &ann, &p, &image(), &trust);
    assert_reason(&out, "Verified");
    assert_eq!(out.format, Some(Format::SimpleSigning));
    assert_eq!(out.kind, Some(Kind::Signature));
    assert_eq!(
        out.docker_reference.as_deref(),
        Some("registry.test/shop/cart")
    );
    assert_eq!(out.predicate_type, None);
    assert_eq!(out.signing_time, None);
    let Some(Signer::Key { id, name }) = &out.signer else {
        panic!("{out:?}")
    };
    assert_eq!(name, "ci-key");
    assert_eq!(id, &trusted(&k, "x").id());
    assert!(
        out.message.contains("not in a transparency log"),
        "{}",
        out.message
    );
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["format"], "SimpleSigning");
    assert_eq!(json["kind"], "Signature");
    assert_eq!(json["reason"], "Verified");
    assert_eq!(json["signer"]["key"]["name"], "ci-key");
    assert_eq!(json["dockerReference"], "registry.test/shop/cart");
}

#[test]
fn a_key_signed_signature_without_log_entry_fails_when_the_log_is_required() {
    let k = key();
    let (p, ann) = key_signed_sig(&k, IMAGE);
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::Required);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "TlogEntryInvalid");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let (signer, other) = (key(), key());
    let (p, ann) = key_signed_sig(&signer, IMAGE);
    let trust = key_trust(vec![trusted(&other, "ci-key")], TlogPolicy::IfPresent);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "SignatureInvalid");
    assert!(out.message.contains("ci-key"), "{}", out.message);
    // Any one of several trusted keys is enough.
    let trust = key_trust(
        vec![trusted(&other, "old"), trusted(&signer, "new")],
        TlogPolicy::IfPresent,
    );
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "Verified");
    assert!(matches!(&out.signer, Some(Signer::Key { name, .. }) if name == "new"));
}

#[test]
fn a_key_signed_signature_needs_a_trusted_key() {
    let k = key();
    let (p, ann) = key_signed_sig(&k, IMAGE);
    let out = cosign::verify_simple_signing(
        &ann,
        &p,
        &image(),
        &key_trust(vec![], TlogPolicy::IfPresent),
    );
    assert_reason(&out, "KeyMismatch");
}

#[test]
fn a_tampered_payload_is_refused() {
    let k = key();
    let (mut p, ann) = key_signed_sig(&k, IMAGE);
    let at = p.len() - 5;
    p[at] ^= 1;
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "SignatureInvalid");
}

#[test]
fn a_signature_of_another_image_is_refused() {
    let k = key();
    let (p, ann) = key_signed_sig(&k, OTHER);
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "ImageDigestMismatch");
    assert!(out.message.contains(OTHER), "{}", out.message);
}

#[test]
fn malformed_signature_annotations_are_refused_as_malformed() {
    let k = key();
    let (p, _) = key_signed_sig(&k, IMAGE);
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    for ann in [
        annotations(&[]),
        annotations(&[(ANNOTATION_SIGNATURE, "")]),
        annotations(&[(ANNOTATION_SIGNATURE, "not base64!")]),
        annotations(&[
            (ANNOTATION_SIGNATURE, "AAAA"),
            (
                ANNOTATION_BUNDLE,
                r#"{"SignedEntryTimestamp": "AAAA", "Payload": {"body""#,
            ),
        ]),
        annotations(&[
            (ANNOTATION_SIGNATURE, "AAAA"),
            (
                ANNOTATION_CERTIFICATE,
                "-----BEGIN CERTIFICATE-----\nAAAA\n",
            ),
        ]),
        annotations(&[
            (ANNOTATION_SIGNATURE, "AAAA"),
            (
                ANNOTATION_CHAIN,
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ),
        ]),
    ] {
        let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
        assert_reason(&out, "CandidateMalformed");
    }
}

#[test]
fn validly_signed_payloads_that_are_not_cosign_payloads_are_refused() {
    let k = key();
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let good = String::from_utf8(payload(IMAGE)).unwrap();
    let cases = [
        // Wrong critical.type.
        good.replace(
            "cosign container image signature",
            "atomic container signature",
        ),
        // Truncated JSON.
        good[..good.len() - 10].to_string(),
        // An unknown critical member.
        good.replace(r#""type":"#, r#""extra":1,"type":"#),
        // No docker-reference.
        good.replace(
            r#""docker-reference":"registry.test/shop/cart""#,
            r#""x":"y""#,
        ),
        // Not a sha256 digest.
        good.replace(IMAGE, "sha512:abcd"),
        // optional must be an object or null.
        good.replace(r#"{"ci":"yes"}"#, "[1]"),
    ];
    for p in cases {
        let sig = sign(&k, p.as_bytes());
        let ann = annotations(&[(ANNOTATION_SIGNATURE, &b64(&sig))]);
        let out = cosign::verify_simple_signing(&ann, p.as_bytes(), &image(), &trust);
        assert_reason(&out, "PayloadInvalid");
    }
}

#[test]
fn a_signature_does_not_satisfy_a_required_predicate_type() {
    let k = key();
    let (p, ann) = key_signed_sig(&k, IMAGE);
    let mut trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    trust.predicate_type = Some(SLSA.into());
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "StatementMismatch");
}

#[test]
fn layer_media_types_are_compared_as_media_types() {
    for (mt, format) in [
        (SIMPLE_SIGNING, Some(Format::SimpleSigning)),
        (
            "Application/Vnd.Dev.Cosign.Simplesigning.v1+JSON",
            Some(Format::SimpleSigning),
        ),
        (DSSE_ENVELOPE, Some(Format::DsseEnvelope)),
        (SIGSTORE_BUNDLE_V03, Some(Format::SigstoreBundle)),
        (
            "application/vnd.dev.sigstore.bundle+json; version=0.2",
            Some(Format::SigstoreBundle),
        ),
        (
            "application/vnd.dev.sigstore.bundle.v0.4+json",
            Some(Format::SigstoreBundle),
        ),
        ("application/vnd.in-toto+json", None),
        ("application/vnd.oci.image.layer.v1.tar+gzip", None),
    ] {
        assert_eq!(Format::from_media_type(mt), format, "{mt}");
    }
}

#[test]
fn an_unknown_layer_media_type_is_unsupported() {
    let out = cosign::verify_layer(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &annotations(&[]),
        b"",
        &image(),
        &key_trust(vec![], TlogPolicy::IfPresent),
    );
    assert_reason(&out, "CandidateUnsupported");
    assert_eq!(out.format, None);
}

#[test]
fn oversized_inputs_are_refused_before_parsing() {
    let k = key();
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let big = vec![b' '; cosign::MAX_PAYLOAD_LEN + 1];
    let out = cosign::verify_simple_signing(
        &annotations(&[(ANNOTATION_SIGNATURE, "AAAA")]),
        &big,
        &image(),
        &trust,
    );
    assert_reason(&out, "CandidateMalformed");
    let huge = "A".repeat(cosign::MAX_ANNOTATION_LEN + 4);
    let (p, _) = key_signed_sig(&k, IMAGE);
    let out = cosign::verify_simple_signing(
        &annotations(&[(ANNOTATION_SIGNATURE, &huge)]),
        &p,
        &image(),
        &trust,
    );
    assert_reason(&out, "CandidateMalformed");
}

// ---- simple signing with a Rekor entry ----

#[test]
fn a_key_signed_signature_with_a_rekor_entry_verifies_its_set() {
    let inst = Instance::new();
    let k = key();
    let p = payload(IMAGE);
    let sig = sign(&k, &p);
    let body = hashedrekord(&p, &sig, &b64(k.public_key_pem().as_bytes()));
    let ann = annotations(&[
        (ANNOTATION_SIGNATURE, &b64(&sig)),
        (
            ANNOTATION_BUNDLE,
            &inst.rekor_bundle(&inst.rekor_key, &body),
        ),
    ]);
    let mut trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::Required);
    // Without the log in a trusted root, the entry cannot be verified.
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "TlogEntryInvalid");
    trust.roots = vec![Arc::new(inst.root())];
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "Verified");
    assert_eq!(
        out.tlog_entries,
        vec![("https://rekor.test".to_string(), 7)]
    );
    assert_eq!(out.signing_time.unwrap().as_second(), INTEGRATED);

    // A SET by a key that is not the log's.
    let forged = inst.rekor_bundle(&key(), &body);
    let ann = annotations(&[
        (ANNOTATION_SIGNATURE, &b64(&sig)),
        (ANNOTATION_BUNDLE, &forged),
    ]);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "SignedEntryTimestampInvalid");

    // An entry that logs another payload.
    let other = hashedrekord(
        b"another payload",
        &sig,
        &b64(k.public_key_pem().as_bytes()),
    );
    let ann = annotations(&[
        (ANNOTATION_SIGNATURE, &b64(&sig)),
        (
            ANNOTATION_BUNDLE,
            &inst.rekor_bundle(&inst.rekor_key, &other),
        ),
    ]);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "TlogEntryInvalid");
}

// ---- simple signing, keyless ----

fn keyless_sig(
    inst: &Instance,
    subject: &str,
    digest: &str,
) -> (Vec<u8>, BTreeMap<String, String>) {
    let (leaf_key, leaf) = inst.leaf(subject);
    let p = payload(digest);
    let sig = sign(&leaf_key, &p);
    let body = hashedrekord(&p, &sig, &pem_b64("CERTIFICATE", &leaf));
    let chain = attestor_core::pem::to_pem("CERTIFICATE", &inst.ca_der);
    let ann = annotations(&[
        (ANNOTATION_SIGNATURE, &b64(&sig)),
        (
            ANNOTATION_CERTIFICATE,
            &attestor_core::pem::to_pem("CERTIFICATE", &leaf),
        ),
        (ANNOTATION_CHAIN, &chain),
        (
            ANNOTATION_BUNDLE,
            &inst.rekor_bundle(&inst.rekor_key, &body),
        ),
    ]);
    (p, ann)
}

#[test]
fn a_keyless_simple_signing_signature_verifies_with_its_identity() {
    let inst = Instance::new();
    let (p, ann) = keyless_sig(&inst, SUBJECT, IMAGE);
    let trust = keyless_trust(inst.root());
    let out = cosign::verify_layer(SIMPLE_SIGNING, &ann, &p, &image(), &trust);
    assert_reason(&out, "Verified");
    assert_eq!(
        out.signer,
        Some(Signer::Identity {
            subject: SUBJECT.into(),
            issuer: Some(ISSUER.into())
        })
    );
    assert_eq!(out.signing_time.unwrap().as_second(), INTEGRATED);
    assert_eq!(
        out.tlog_entries,
        vec![("https://rekor.test".to_string(), 7)]
    );
}

#[test]
fn keyless_failures_have_their_reasons() {
    let inst = Instance::new();
    let root = inst.root();

    // Another workload identity.
    let (p, ann) = keyless_sig(
        &inst,
        "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main",
        IMAGE,
    );
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &keyless_trust(root.clone()));
    assert_reason(&out, "IdentityMismatch");

    // Signed for another image.
    let (p, ann) = keyless_sig(&inst, SUBJECT, OTHER);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &keyless_trust(root.clone()));
    assert_reason(&out, "ImageDigestMismatch");

    // A certificate from another CA (another test instance).
    let (p, ann) = keyless_sig(&inst, SUBJECT, IMAGE);
    let other = Instance::new();
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &keyless_trust(other.root()));
    // Its Rekor log is not in the other root either: the entry is refused first.
    assert_reason(&out, "TlogEntryInvalid");

    // No log entry: nothing proves when the short-lived certificate was used.
    let mut bare = ann.clone();
    bare.remove(ANNOTATION_BUNDLE);
    let mut trust = keyless_trust(root.clone());
    trust.tlog = TlogPolicy::IfPresent;
    let out = cosign::verify_simple_signing(&bare, &p, &image(), &trust);
    assert_reason(&out, "SigningTimeNotVerified");
    let out = cosign::verify_simple_signing(&bare, &p, &image(), &keyless_trust(root.clone()));
    assert_reason(&out, "TlogEntryInvalid");

    // Trust without a root, or without identities.
    let mut trust = keyless_trust(root.clone());
    trust.roots.clear();
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "TrustedRootMissing");
    let mut trust = keyless_trust(root.clone());
    trust.identities.clear();
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &trust);
    assert_reason(&out, "IdentitiesMissing");

    // The certificate annotation swapped for another leaf of the same CA: the signature
    // no longer verifies with its key.
    let (_, leaf2) = inst.leaf(SUBJECT);
    let mut swapped = ann.clone();
    swapped.insert(
        ANNOTATION_CERTIFICATE.into(),
        attestor_core::pem::to_pem("CERTIFICATE", &leaf2),
    );
    let out = cosign::verify_simple_signing(&swapped, &p, &image(), &keyless_trust(root));
    assert_reason(&out, "SignatureInvalid");
}

#[test]
fn a_certificate_chain_of_another_ca_is_refused() {
    // Rekor and CT are trusted, but the CA is not: only the trusted root's CAs count,
    // whatever chain the annotation carries.
    let inst = Instance::new();
    let other_ca = Instance::new();
    let rogue = Instance {
        ct_key: KeyPair::from_pem(&inst.ct_key.serialize_pem()).unwrap(),
        rekor_key: KeyPair::from_pem(&inst.rekor_key.serialize_pem()).unwrap(),
        ..other_ca
    };
    let (p, ann) = keyless_sig(&rogue, SUBJECT, IMAGE);
    let out = cosign::verify_simple_signing(&ann, &p, &image(), &keyless_trust(inst.root()));
    assert_reason(&out, "CertificateChainInvalid");
}

// ---- DSSE attestations (.att) ----

#[test]
fn a_key_signed_legacy_attestation_verifies_and_reports_its_predicate_type() {
    let k = key();
    let (env, _) = envelope(&k, "application/vnd.in-toto+json", &statement(IMAGE, SLSA));
    let layer = serde_json::to_vec(&env).unwrap();
    let mut trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    trust.predicate_type = Some(SLSA.into());
    let ann = annotations(&[(ANNOTATION_SIGNATURE, ""), ("predicateType", SLSA)]);
    let out = cosign::verify_layer(DSSE_ENVELOPE, &ann, &layer, &image(), &trust);
    assert_reason(&out, "Verified");
    assert_eq!(out.kind, Some(Kind::Attestation));
    assert_eq!(out.predicate_type.as_deref(), Some(SLSA));

    trust.predicate_type = Some("https://spdx.dev/Document".into());
    let out = cosign::verify_layer(DSSE_ENVELOPE, &ann, &layer, &image(), &trust);
    assert_reason(&out, "StatementMismatch");

    trust.predicate_type = None;
    let out = cosign::verify_layer(DSSE_ENVELOPE, &ann, &layer, &OTHER.parse().unwrap(), &trust);
    assert_reason(&out, "ImageDigestMismatch");

    let trust = key_trust(vec![trusted(&key(), "other")], TlogPolicy::IfPresent);
    let out = cosign::verify_layer(DSSE_ENVELOPE, &ann, &layer, &image(), &trust);
    assert_reason(&out, "SignatureInvalid");
}

#[test]
fn malformed_attestations_are_refused() {
    let k = key();
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let ann = annotations(&[]);
    let check = |layer: &[u8], reason: &str| {
        let out = cosign::verify_dsse_attestation(&ann, layer, &image(), &trust);
        assert_reason(&out, reason);
    };
    let (env, _) = envelope(&k, "application/vnd.in-toto+json", &statement(IMAGE, SLSA));
    let good = serde_json::to_vec(&env).unwrap();
    check(&good[..good.len() / 2], "CandidateMalformed");
    check(b"[]", "CandidateMalformed");
    let mut bad_b64 = env.clone();
    bad_b64["payload"] = json!("%%%");
    check(&serde_json::to_vec(&bad_b64).unwrap(), "CandidateMalformed");
    // A payload that is not an in-toto statement, validly signed.
    let (env, _) = envelope(&k, "text/plain", b"hello");
    check(&serde_json::to_vec(&env).unwrap(), "PayloadInvalid");
    let (env, _) = envelope(&k, "application/vnd.in-toto+json", b"{\"_type\": 1");
    check(&serde_json::to_vec(&env).unwrap(), "PayloadInvalid");
    let (env, _) = envelope(
        &k,
        "application/vnd.in-toto+json",
        br#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x"}"#,
    );
    check(&serde_json::to_vec(&env).unwrap(), "PayloadInvalid");
    // Two signatures.
    let (mut env, _) = envelope(&k, "application/vnd.in-toto+json", &statement(IMAGE, SLSA));
    let sig = env["signatures"][0].clone();
    env["signatures"] = json!([sig.clone(), sig]);
    check(&serde_json::to_vec(&env).unwrap(), "BundleInvalid");
}

#[test]
fn a_keyless_legacy_attestation_verifies_with_its_dsse_entry() {
    let inst = Instance::new();
    let (leaf_key, leaf) = inst.leaf(SUBJECT);
    let st = statement(IMAGE, SLSA);
    let (env, sig) = envelope(&leaf_key, "application/vnd.in-toto+json", &st);
    let layer = serde_json::to_vec(&env).unwrap();
    let body = dsse_body(&st, &sig, &pem_b64("CERTIFICATE", &leaf));
    let ann = annotations(&[
        (ANNOTATION_SIGNATURE, ""),
        (
            ANNOTATION_CERTIFICATE,
            &attestor_core::pem::to_pem("CERTIFICATE", &leaf),
        ),
        (
            ANNOTATION_BUNDLE,
            &inst.rekor_bundle(&inst.rekor_key, &body),
        ),
    ]);
    let mut trust = keyless_trust(inst.root());
    trust.predicate_type = Some(SLSA.into());
    let out = cosign::verify_dsse_attestation(&ann, &layer, &image(), &trust);
    assert_reason(&out, "Verified");
    assert!(matches!(&out.signer, Some(Signer::Identity { subject, .. }) if subject == SUBJECT));
    assert_eq!(out.predicate_type.as_deref(), Some(SLSA));

    // cosign v2 logged attestations as intoto 0.0.2 (signature and PEM base64-encoded twice).
    let intoto = json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {"content": {
            "envelope": {
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{
                    "sig": b64(b64(&sig).as_bytes()),
                    "publicKey": pem_b64("CERTIFICATE", &leaf)
                }]
            },
            "hash": {"algorithm": "sha256", "value": hex::encode(sha256(&layer))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(&st))}
        }}
    });
    let mut v2 = ann.clone();
    v2.insert(
        ANNOTATION_BUNDLE.into(),
        inst.rekor_bundle(&inst.rekor_key, &intoto),
    );
    let out = cosign::verify_dsse_attestation(&v2, &layer, &image(), &trust);
    assert_reason(&out, "Verified");

    // The entry of another attestation (another payload) does not vouch for this one.
    let other = dsse_body(b"{}", &sig, &pem_b64("CERTIFICATE", &leaf));
    let mut ann2 = ann.clone();
    ann2.insert(
        ANNOTATION_BUNDLE.into(),
        inst.rekor_bundle(&inst.rekor_key, &other),
    );
    let out = cosign::verify_dsse_attestation(&ann2, &layer, &image(), &trust);
    assert_reason(&out, "TlogEntryInvalid");
}

// ---- Sigstore bundle referrers (cosign v3) ----

fn key_bundle(k: &KeyPair, predicate_type: &str, digest: &str) -> Vec<u8> {
    let (env, _) = envelope(
        k,
        "application/vnd.in-toto+json",
        &statement(digest, predicate_type),
    );
    serde_json::to_vec(&json!({
        "mediaType": SIGSTORE_BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": "abc"}},
        "dsseEnvelope": env
    }))
    .unwrap()
}

#[test]
fn a_key_signed_bundle_referrer_verifies_as_a_signature_or_an_attestation() {
    let k = key();
    let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
    let ann = annotations(&[]);
    let sig = key_bundle(&k, COSIGN_SIGN_PREDICATE, IMAGE);
    let out = cosign::verify_layer(SIGSTORE_BUNDLE_V03, &ann, &sig, &image(), &trust);
    assert_reason(&out, "Verified");
    assert_eq!(out.format, Some(Format::SigstoreBundle));
    assert_eq!(out.kind, Some(Kind::Signature));
    assert_eq!(out.predicate_type.as_deref(), Some(COSIGN_SIGN_PREDICATE));

    let att = key_bundle(&k, SLSA, IMAGE);
    let out = cosign::verify_layer(SIGSTORE_BUNDLE_V03, &ann, &att, &image(), &trust);
    assert_reason(&out, "Verified");
    assert_eq!(out.kind, Some(Kind::Attestation));

    let out = cosign::verify_bundle_layer(&key_bundle(&k, SLSA, OTHER), &image(), &trust);
    assert_reason(&out, "ImageDigestMismatch");
    let out = cosign::verify_bundle_layer(&att[..att.len() - 3], &image(), &trust);
    assert_reason(&out, "BundleMalformed");
    let other = key_trust(vec![trusted(&key(), "other")], TlogPolicy::IfPresent);
    let out = cosign::verify_bundle_layer(&sig, &image(), &other);
    assert_reason(&out, "SignatureInvalid");
    let required = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::Required);
    let out = cosign::verify_bundle_layer(&sig, &image(), &required);
    assert_reason(&out, "TlogEntryInvalid");
}

// ---- RFC 3161 timestamps in annotations (a real Sigstore staging signature) ----

/// The sigstore-conformance `rekor2-happy-path` signature over `a.txt`, laid out as a `.sig`
/// candidate: certificate and RFC 3161 token in annotations, no Rekor v1 entry. Everything
/// verifies (signature, token, chain at its genTime, SCT, identity) until the payload, which
/// is `a.txt` and not a simple-signing payload.
#[test]
fn an_rfc3161_annotation_gives_a_keyless_signature_its_signing_time() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sigstore-conformance/cases");
    let bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("rekor2-happy-path/bundle.sigstore.json")).unwrap(),
    )
    .unwrap();
    let root = TrustedRoot::from_json(
        &std::fs::read(dir.join("rekor2-happy-path/trusted_root.json")).unwrap(),
    )
    .unwrap();
    let text = |v: &serde_json::Value| v.as_str().unwrap().replace('\n', "");
    let vm = &bundle["verificationMaterial"];
    let cert = STANDARD
        .decode(text(&vm["certificate"]["rawBytes"]))
        .unwrap();
    let token = text(&vm["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]);
    let sig = text(&bundle["messageSignature"]["signature"]);
    let artifact = std::fs::read(dir.join("a.txt")).unwrap();
    let mut ann = annotations(&[
        (ANNOTATION_SIGNATURE, &sig),
        (
            ANNOTATION_CERTIFICATE,
            &attestor_core::pem::to_pem("CERTIFICATE", &cert),
        ),
        (
            cosign::ANNOTATION_RFC3161,
            &json!({ "SignedRFC3161Timestamp": token }).to_string(),
        ),
    ]);
    let mut trust = keyless_trust(root);
    trust.identities = vec![IdentityRule {
        issuer: Matcher::Exact(ISSUER.into()),
        subject: Matcher::regex("https://github.com/sigstore-conformance/.*").unwrap(),
        extensions: Vec::new(),
    }];
    trust.tlog = TlogPolicy::IfPresent;
    let out = cosign::verify_simple_signing(&ann, &artifact, &image(), &trust);
    assert_reason(&out, "PayloadInvalid");

    // Without the token nothing dates the signature.
    let token = ann.remove(cosign::ANNOTATION_RFC3161).unwrap();
    let out = cosign::verify_simple_signing(&ann, &artifact, &image(), &trust);
    assert_reason(&out, "SigningTimeNotVerified");
    // A token over another signature.
    let mut raw: serde_json::Value = serde_json::from_str(&token).unwrap();
    let mut der = STANDARD
        .decode(raw["SignedRFC3161Timestamp"].as_str().unwrap())
        .unwrap();
    let n = der.len();
    der[n - 1] ^= 1;
    raw["SignedRFC3161Timestamp"] = json!(b64(&der));
    ann.insert(cosign::ANNOTATION_RFC3161.into(), raw.to_string());
    let out = cosign::verify_simple_signing(&ann, &artifact, &image(), &trust);
    assert_reason(&out, "TimestampInvalid");
    ann.insert(cosign::ANNOTATION_RFC3161.into(), "{\"Signed".into());
    let out = cosign::verify_simple_signing(&ann, &artifact, &image(), &trust);
    assert_reason(&out, "CandidateMalformed");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Byte mutations of every input never panic; the unmutated candidates still verify.
    #[test]
    fn mutated_candidates_never_panic(pos in proptest::prelude::any::<proptest::sample::Index>(), byte in proptest::prelude::any::<u8>(), which in 0usize..4) {
        let k = KeyPair::from_pem(FIXED_KEY).unwrap();
        let trust = key_trust(vec![trusted(&k, "ci-key")], TlogPolicy::IfPresent);
        let p = payload(IMAGE);
        let sig = b64(&sign(&k, &p));
        let (env, _) = envelope(&k, "application/vnd.in-toto+json", &statement(IMAGE, SLSA));
        let att = serde_json::to_vec(&env).unwrap();
        let bundle = key_bundle(&k, COSIGN_SIGN_PREDICATE, IMAGE);
        let mut inputs = [p.clone(), sig.clone().into_bytes(), att.clone(), bundle.clone()];
        let target = &mut inputs[which];
        let i = pos.index(target.len());
        let changed = target[i] != byte;
        target[i] = byte;
        let [p2, sig2, att2, bundle2] = inputs;
        let ann = annotations(&[(ANNOTATION_SIGNATURE, &String::from_utf8_lossy(&sig2))]);
        let outs = [
            cosign::verify_simple_signing(&ann, &p2, &image(), &trust),
            cosign::verify_dsse_attestation(&annotations(&[]), &att2, &image(), &trust),
            cosign::verify_bundle_layer(&bundle2, &image(), &trust),
        ];
        let mutated = match which { 0 | 1 => 0, 2 => 1, _ => 2 };
        // The payload is signed verbatim and the signature annotation is strict base64:
        // any change to either must fail. (In the JSON layers a few bytes are not signed,
        // e.g. a DSSE keyid or a bundle's key hint.)
        if changed && which < 2 {
            proptest::prop_assert!(!outs[0].verified, "{:?}", outs[0]);
        }
        for (i, o) in outs.iter().enumerate() {
            if i != mutated {
                proptest::prop_assert!(o.verified, "{o:?}");
            }
        }
    }
}

/// A fixed P-256 key for the property test (so that each case does not generate one).
const FIXED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgT3KDeiphGlEPoou0
3l95b7REVCSoyPhBfV7A1zrGk0WhRANCAATg0kPhGGTvJCVrtAPZZwJiiV2Mg2aC
J2dsr0r6r0Nnt3+5k4m6JpzGnGY0qOFbgYZjBmXcG9USoXLOx4bgDaH7
-----END PRIVATE KEY-----
";
