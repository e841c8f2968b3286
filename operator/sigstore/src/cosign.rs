//! What cosign stores in an OCI registry for an image digest, verified offline: the
//! registry client finds and fetches each candidate (a manifest with one layer) and hands
//! over the layer's media type, the layer descriptor's annotations and the layer bytes.
//!
//! Three layouts, classified by the layer's media type:
//!
//! - **Simple signing** (`sha256-<hex>.sig` tag, [`SIMPLE_SIGNING`]): the layer is the signed
//!   message, a JSON payload naming the image digest (`critical.image.docker-manifest-digest`);
//!   the signature is the annotation `dev.cosignproject.cosign/signature` (base64).
//! - **DSSE attestation** (`sha256-<hex>.att` tag, [`DSSE_ENVELOPE`]): the layer is a DSSE
//!   envelope around an in-toto statement, one of whose subjects must be the image digest.
//! - **Sigstore bundle** ([`SIGSTORE_BUNDLE_V03`], the OCI 1.1 referrers cosign v3 pushes by
//!   default, and GitHub's attestations): the layer is a Sigstore bundle. cosign v3 `sign`
//!   writes a DSSE envelope around an in-toto statement whose subject is the image digest
//!   and whose predicate type is [`COSIGN_SIGN_PREDICATE`] (an empty predicate); `attest`
//!   writes the same with the user's predicate. A message-signature bundle is read as a
//!   signature over the image manifest (its digest is the image digest).
//!
//! The legacy layouts keep keyless material in annotations: the Fulcio leaf
//! (`dev.sigstore.cosign/certificate`, PEM), its chain (`dev.sigstore.cosign/chain`, PEM,
//! parsed but not used: trust comes from the trusted root only, as for bundles), the Rekor
//! v1 entry with its signed entry timestamp (`dev.sigstore.cosign/bundle`) and an RFC 3161
//! timestamp (`dev.sigstore.cosign/rfc3161timestamp`). They are turned into the bundle
//! model and verified by [`crate::verify`], so the signature, the log entry's body, the SET,
//! the timestamps, the chain, the SCT and the identity are checked by the same code as a
//! Sigstore bundle's.

use std::collections::BTreeMap;
use std::sync::Arc;

use attestor_core::digest::Sha256Digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cert::Cert;
use crate::error::SigstoreError;
use crate::model::{
    B64, Bundle, CertificateChain, DsseEnvelope, InclusionPromise, Int64, KindVersion, LogId,
    MessageSignature, PublicKeyIdentifier, RawBytes, Rfc3161Timestamp, TimestampVerificationData,
    TlogEntry, VerificationMaterial,
};
use crate::root::TrustedRoot;
use crate::verify::{
    Artifact, IdentityRule, Options, Policy, TlogPolicy, Verified, parse_bundle, verify_parsed,
};
use attestor_core::keys::PublicKey;

/// The layer of a `.sig` tag: cosign's simple-signing payload.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer of a `.att` tag: a DSSE envelope.
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The layer (and artifactType) of a Sigstore bundle referrer.
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The predicate type of the statement cosign v3 `sign` signs (new bundle format).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// `critical.type` of a simple-signing payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
pub const ANNOTATION_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// Layers larger than this are refused before they are parsed (a bundle's own bound).
pub const MAX_LAYER_LEN: usize = crate::verify::MAX_BUNDLE_LEN;
/// A simple-signing payload is a few hundred bytes; cosign's `-a` annotations add a few more.
pub const MAX_PAYLOAD_LEN: usize = 1024 * 1024;
/// One annotation value (the Rekor bundle holds a certificate twice base64-encoded: < 16 KiB).
pub const MAX_ANNOTATION_LEN: usize = 256 * 1024;
const MAX_CHAIN: usize = 8;
const IN_TOTO: &str = "application/vnd.in-toto+json";
const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v0.1",
    "https://in-toto.io/Statement/v1",
];

/// How a candidate is stored, from its layer's media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    SimpleSigning,
    DsseEnvelope,
    SigstoreBundle,
}

impl Format {
    /// The format of a layer media type; `None` for anything else (not a cosign layer).
    /// Compared as media types are (case-insensitive, parameters aside); a Sigstore bundle's
    /// version is then read from the bundle's own `mediaType`.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        let lower = media_type.to_ascii_lowercase();
        let essence = lower.split(';').next().unwrap_or_default().trim();
        match essence {
            SIMPLE_SIGNING => Some(Format::SimpleSigning),
            DSSE_ENVELOPE => Some(Format::DsseEnvelope),
            "application/vnd.dev.sigstore.bundle+json" => Some(Format::SigstoreBundle),
            e if e.starts_with("application/vnd.dev.sigstore.bundle.v0.")
                && e.ends_with("+json") =>
            {
                Some(Format::SigstoreBundle)
            }
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::SimpleSigning => "SimpleSigning",
            Format::DsseEnvelope => "DsseEnvelope",
            Format::SigstoreBundle => "SigstoreBundle",
        }
    }
}

/// What a candidate claims: a signature of the image, or an attestation about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    Signature,
    Attestation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Signature => "Signature",
            Kind::Attestation => "Attestation",
        }
    }
}

/// A public key the issuer trusts, with the name it is reported under (a TrustAnchor's).
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub name: String,
    pub key: PublicKey,
}

impl TrustedKey {
    /// Reads one PEM `PUBLIC KEY` (ECDSA P-256/P-384, Ed25519, RSA).
    pub fn from_pem(name: &str, pem: &str) -> Result<Self, String> {
        let blocks = attestor_core::pem::parse_pem(pem).map_err(|e| e.to_string())?;
        let [block] = blocks.as_slice() else {
            return Err(format!("expected one PEM block, found {}", blocks.len()));
        };
        if block.label != "PUBLIC KEY" {
            return Err(format!("expected a PUBLIC KEY, found {}", block.label));
        }
        let key = PublicKey::from_spki_der(&block.der).map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.to_string(),
            key,
        })
    }

    /// `sha256:<hex>` of the DER SubjectPublicKeyInfo.
    pub fn id(&self) -> String {
        key_id(&self.key)
    }
}

fn key_id(key: &PublicKey) -> String {
    key.key_id().to_string()
}

/// An issuer's trust, as the bundle verifier takes it.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Key-signed candidates must verify with one of these.
    pub keys: Vec<TrustedKey>,
    /// Keyless candidates chain to one of these (the first that verifies wins); key-signed
    /// candidates' log entries are looked up in them.
    pub roots: Vec<Arc<TrustedRoot>>,
    /// Keyless candidates' certificates must match one of these.
    pub identities: Vec<IdentityRule>,
    /// When set, only an in-toto statement with this predicate type satisfies the trust.
    pub predicate_type: Option<String>,
    /// `Required`: a Rekor entry (verified against `roots`). `IfPresent`: entries verified when
    /// present (what `cosign sign --tlog-upload=false` produces verifies with a key).
    /// `Skip`: entries ignored. Keyless candidates always need a verified signing time.
    pub tlog: TlogPolicy,
}

/// Who signed. JSON: `{"key": {"id", "name"}}` or `{"identity": {"subject", "issuer"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Signer {
    /// A trusted key: its `sha256:<hex>` SPKI digest and the name it was given.
    Key { id: String, name: String },
    /// A Fulcio certificate: the SAN that matched and the OIDC issuer.
    Identity {
        subject: String,
        issuer: Option<String>,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Key { id, name } => write!(f, "key {id} ({name})"),
            Signer::Identity {
                subject,
                issuer: Some(issuer),
            } => write!(f, "{subject} (issuer {issuer})"),
            Signer::Identity {
                subject,
                issuer: None,
            } => write!(f, "{subject}"),
        }
    }
}

/// The verdict on one candidate (serialized in camelCase for `--output json` and status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// `None` when the layer's media type is not a cosign layer.
    pub format: Option<Format>,
    /// `None` when the candidate was not readable enough to say.
    pub kind: Option<Kind>,
    pub verified: bool,
    /// `Verified`, or the stable reason it is not.
    pub reason: &'static str,
    /// What was verified, or what failed followed by `. Next: <what to do>`.
    pub message: String,
    pub signer: Option<Signer>,
    /// The in-toto statement's predicate type (`COSIGN_SIGN_PREDICATE` for a cosign v3
    /// signature); `None` for simple signing.
    pub predicate_type: Option<String>,
    /// The earliest verified signing time (Rekor integrated time or RFC 3161 genTime).
    pub signing_time: Option<Timestamp>,
    /// Verified log entries: (log base URL, log index).
    pub tlog_entries: Vec<(String, i64)>,
    /// A simple-signing payload's `critical.identity.docker-reference` (not checked).
    pub docker_reference: Option<String>,
}

/// Why a candidate did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignError {
    #[error("{0}")]
    Sigstore(SigstoreError),
    #[error("layer media type {0:?} is not a cosign signature, attestation or Sigstore bundle")]
    Unsupported(String),
    #[error("the candidate is unreadable: {0}")]
    Malformed(String),
    #[error("the signed payload is not what cosign signs: {0}")]
    PayloadInvalid(String),
    #[error("the candidate is not about this image: {0}")]
    ImageDigestMismatch(String),
    #[error(
        "the candidate is signed with a certificate, and the trust names no Sigstore trusted root"
    )]
    TrustedRootMissing,
    #[error("the candidate is signed with a certificate, and the trust names no identity")]
    IdentitiesMissing,
}

impl From<SigstoreError> for CosignError {
    fn from(e: SigstoreError) -> Self {
        match e {
            SigstoreError::ArtifactMismatch(m) => CosignError::ImageDigestMismatch(m),
            other => CosignError::Sigstore(other),
        }
    }
}

impl CosignError {
    pub fn reason(&self) -> &'static str {
        match self {
            CosignError::Sigstore(e) => e.reason(),
            CosignError::Unsupported(_) => "CandidateUnsupported",
            CosignError::Malformed(_) => "CandidateMalformed",
            CosignError::PayloadInvalid(_) => "PayloadInvalid",
            CosignError::ImageDigestMismatch(_) => "ImageDigestMismatch",
            CosignError::TrustedRootMissing => "TrustedRootMissing",
            CosignError::IdentitiesMissing => "IdentitiesMissing",
        }
    }
}

/// The next step for a reason, as the last sentence of an [`Outcome`]'s message.
pub fn next_step(reason: &str) -> &'static str {
    match reason {
        "CandidateUnsupported" => "ignore this referrer, or sign the image with cosign",
        "CandidateMalformed" | "BundleMalformed" | "BundleVersionUnsupported" | "BundleInvalid" => {
            "the signature in the registry is damaged or was not written by cosign: sign the image again"
        }
        "PayloadInvalid" => {
            "the signed payload is not a cosign image signature or in-toto statement: sign the image again with cosign"
        }
        "ImageDigestMismatch" => {
            "this signature was made for another image digest (copied or replayed): sign this digest"
        }
        "KeyMismatch" => "give the public key that signed the image, or sign it with a trusted key",
        "SignatureInvalid" => {
            "the image is signed by a key or certificate that is not trusted, or the signature was altered: sign it with a trusted key, or trust the key that signed it"
        }
        "TrustedRootMissing" => {
            "add the trusted_root.json of the Sigstore instance that signed (a TrustAnchor's sigstoreTrustedRoot, or --trusted-root)"
        }
        "IdentitiesMissing" => {
            "declare which identities may sign (certificate identity and OIDC issuer)"
        }
        "IdentityMismatch" => {
            "the image was signed by another workload identity: sign it from the expected workflow, or add its identity"
        }
        "CertificateChainInvalid" | "SctInvalid" => {
            "use the trusted_root.json of the Sigstore instance that signed (public-good and staging differ)"
        }
        "StatementMismatch" => {
            "attest the image with the required predicate type (cosign attest --type), or change the required type"
        }
        "TlogEntryInvalid"
        | "InclusionProofInvalid"
        | "CheckpointInvalid"
        | "SignedEntryTimestampInvalid" => {
            "check that the trusted root lists the Rekor log that logged the signature, or sign again with the log upload enabled; else treat the signature as tampered"
        }
        "TimestampInvalid" | "SigningTimeNotVerified" => {
            "a keyless signature needs a Rekor entry or an RFC 3161 timestamp from an authority of the trusted root: sign again with one"
        }
        "TrustedRootInvalid" => "fix the trusted root",
        _ => "sign the image again with cosign and verify it with `attestor verify --image`",
    }
}

impl Outcome {
    fn failed(format: Option<Format>, kind: Option<Kind>, e: &CosignError) -> Self {
        let reason = e.reason();
        Outcome {
            format,
            kind,
            verified: false,
            reason,
            message: format!("{e}. Next: {}", next_step(reason)),
            signer: None,
            predicate_type: None,
            signing_time: None,
            tlog_entries: vec![],
            docker_reference: None,
        }
    }
}

/// Verifies one candidate layer for `image`: dispatches on `media_type` (the layer's).
pub fn verify_layer(
    media_type: &str,
    annotations: &BTreeMap<String, String>,
    layer: &[u8],
    image: &Sha256Digest,
    trust: &Trust,
) -> Outcome {
    match Format::from_media_type(media_type) {
        Some(Format::SimpleSigning) => verify_simple_signing(annotations, layer, image, trust),
        Some(Format::DsseEnvelope) => verify_dsse_attestation(annotations, layer, image, trust),
        Some(Format::SigstoreBundle) => verify_bundle_layer(layer, image, trust),
        None => Outcome::failed(
            None,
            None,
            &CosignError::Unsupported(media_type.to_string()),
        ),
    }
}

/// A `.sig` candidate: `payload` is the layer (the signed message), the signature and any
/// keyless material are in `annotations`.
pub fn verify_simple_signing(
    annotations: &BTreeMap<String, String>,
    payload: &[u8],
    image: &Sha256Digest,
    trust: &Trust,
) -> Outcome {
    let format = Some(Format::SimpleSigning);
    let kind = Some(Kind::Signature);
    let result = (|| {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(CosignError::Malformed(format!(
                "the payload is {} bytes, more than {MAX_PAYLOAD_LEN}",
                payload.len()
            )));
        }
        let signature = match annotation(annotations, ANNOTATION_SIGNATURE)? {
            Some(s) if !s.is_empty() => STANDARD.decode(s).map_err(|e| {
                CosignError::Malformed(format!("{ANNOTATION_SIGNATURE} is not base64: {e}"))
            })?,
            _ => {
                return Err(CosignError::Malformed(format!(
                    "the layer has no {ANNOTATION_SIGNATURE} annotation"
                )));
            }
        };
        let material = LegacyMaterial::read(annotations)?;
        let bundle = material.into_bundle(
            Some(MessageSignature {
                message_digest: None,
                signature: B64(signature),
            }),
            None,
        );
        let policy_predicate = None;
        let (verified, signer) = verify_with_trust(
            &bundle,
            Artifact::Bytes(payload.to_vec()),
            policy_predicate,
            trust,
            None,
        )?;
        let parsed = SimpleSigningPayload::parse(payload)?;
        let digest: Sha256Digest = parsed
            .critical
            .image
            .docker_manifest_digest
            .parse()
            .map_err(|_| {
                CosignError::PayloadInvalid(format!(
                    "docker-manifest-digest {:?} is not a sha256 digest",
                    parsed.critical.image.docker_manifest_digest
                ))
            })?;
        if digest != *image {
            return Err(CosignError::ImageDigestMismatch(format!(
                "the payload signs {digest}, not {image}"
            )));
        }
        if let Some(want) = &trust.predicate_type {
            return Err(CosignError::Sigstore(SigstoreError::StatementMismatch(
                format!(
                    "this is a signature, with no predicate; predicate type {want:?} is required"
                ),
            )));
        }
        Ok((verified, signer, parsed.critical.identity.docker_reference))
    })();
    match result {
        Ok((verified, signer, reference)) => {
            let mut out = success(format, kind, image, verified, signer);
            out.docker_reference = Some(reference);
            out
        }
        Err(e) => Outcome::failed(format, kind, &e),
    }
}

/// A `.att` candidate: `envelope` is the layer (a DSSE envelope around an in-toto statement);
/// keyless material is in `annotations`.
pub fn verify_dsse_attestation(
    annotations: &BTreeMap<String, String>,
    envelope: &[u8],
    image: &Sha256Digest,
    trust: &Trust,
) -> Outcome {
    let format = Some(Format::DsseEnvelope);
    let kind = Some(Kind::Attestation);
    let result = (|| {
        if envelope.len() > MAX_LAYER_LEN {
            return Err(CosignError::Malformed(format!(
                "the envelope is {} bytes, more than {MAX_LAYER_LEN}",
                envelope.len()
            )));
        }
        let env: DsseEnvelope = serde_json::from_slice(envelope).map_err(|e| {
            CosignError::Malformed(format!("the layer is not a DSSE envelope: {e}"))
        })?;
        check_statement_shape(&env)?;
        let material = LegacyMaterial::read(annotations)?;
        let bundle = material.into_bundle(None, Some(env));
        // cosign timestamps an attestation's whole envelope (sigstore-go: the signature).
        verify_with_trust(
            &bundle,
            Artifact::sha256(*image.as_bytes()),
            trust.predicate_type.clone(),
            trust,
            Some(envelope),
        )
    })();
    match result {
        Ok((verified, signer)) => success(format, kind, image, verified, signer),
        Err(e) => Outcome::failed(format, kind, &e),
    }
}

/// A Sigstore bundle referrer: `layer` is the bundle JSON.
pub fn verify_bundle_layer(layer: &[u8], image: &Sha256Digest, trust: &Trust) -> Outcome {
    let format = Some(Format::SigstoreBundle);
    let mut kind = None;
    let result = (|| {
        let (bundle, version) = parse_bundle(layer)?;
        kind = Some(match &bundle.dsse_envelope {
            Some(env) => {
                let predicate = check_statement_shape(env)?;
                if predicate == COSIGN_SIGN_PREDICATE {
                    Kind::Signature
                } else {
                    Kind::Attestation
                }
            }
            None => Kind::Signature,
        });
        verify_versioned(
            &bundle,
            version,
            Artifact::sha256(*image.as_bytes()),
            trust.predicate_type.clone(),
            trust,
            None,
        )
    })();
    match result {
        Ok((verified, signer)) => success(format, kind, image, verified, signer),
        Err(e) => Outcome::failed(format, kind, &e),
    }
}

fn success(
    format: Option<Format>,
    kind: Option<Kind>,
    image: &Sha256Digest,
    v: Verified,
    signer: Signer,
) -> Outcome {
    let what = match (format, kind) {
        (Some(Format::SimpleSigning), _) => "cosign signature".to_string(),
        (_, Some(Kind::Signature)) => "signature".to_string(),
        _ => format!(
            "attestation ({})",
            v.predicate_type.as_deref().unwrap_or("no predicate type")
        ),
    };
    let logged = match v.tlog_entries.as_slice() {
        [] => "not in a transparency log".to_string(),
        entries => entries
            .iter()
            .map(|(log, index)| format!("logged in {log} entry {index}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let signing_time = v.signing_times.iter().min().copied();
    let at = signing_time.map_or(String::new(), |t| format!(", signed at {t}"));
    Outcome {
        format,
        kind,
        verified: true,
        reason: "Verified",
        message: format!("{what} of {image} by {signer} verified ({logged}{at})"),
        signer: Some(signer),
        predicate_type: v.predicate_type,
        signing_time,
        tlog_entries: v.tlog_entries,
        docker_reference: None,
    }
}

fn annotation<'a>(
    annotations: &'a BTreeMap<String, String>,
    name: &str,
) -> Result<Option<&'a str>, CosignError> {
    match annotations.get(name) {
        Some(v) if v.len() > MAX_ANNOTATION_LEN => Err(CosignError::Malformed(format!(
            "{name} is {} bytes, more than {MAX_ANNOTATION_LEN}",
            v.len()
        ))),
        Some(v) => Ok(Some(v.as_str())),
        None => Ok(None),
    }
}

/// Keyless material from a legacy layer's annotations.
struct LegacyMaterial {
    leaf: Option<Vec<u8>>,
    entry: Option<TlogEntry>,
    timestamp: Option<Vec<u8>>,
}

/// cosign's `dev.sigstore.cosign/bundle`: a Rekor v1 entry as Rekor returned it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfc3161Annotation {
    #[serde(rename = "SignedRFC3161Timestamp")]
    signed_rfc3161_timestamp: String,
}

fn certificates(name: &str, pem: &str) -> Result<Vec<Vec<u8>>, CosignError> {
    let bad = |m: String| CosignError::Malformed(format!("{name}: {m}"));
    let blocks = attestor_core::pem::parse_pem(pem).map_err(|e| bad(e.to_string()))?;
    if blocks.is_empty() || blocks.len() > MAX_CHAIN {
        return Err(bad(format!(
            "{} PEM blocks, expected 1 to {MAX_CHAIN}",
            blocks.len()
        )));
    }
    blocks
        .into_iter()
        .map(|b| {
            if b.label != "CERTIFICATE" {
                return Err(bad(format!("a {} block, expected CERTIFICATE", b.label)));
            }
            Cert::from_der(&b.der).map_err(|e| bad(e.to_string()))?;
            Ok(b.der)
        })
        .collect()
}

impl LegacyMaterial {
    fn read(annotations: &BTreeMap<String, String>) -> Result<Self, CosignError> {
        let bad = |name: &str, m: String| CosignError::Malformed(format!("{name}: {m}"));
        let leaf = match annotation(annotations, ANNOTATION_CERTIFICATE)? {
            Some(pem) if !pem.is_empty() => {
                let certs = certificates(ANNOTATION_CERTIFICATE, pem)?;
                if certs.len() != 1 {
                    return Err(bad(
                        ANNOTATION_CERTIFICATE,
                        format!("{} certificates, expected the leaf only", certs.len()),
                    ));
                }
                certs.into_iter().next()
            }
            _ => None,
        };
        // The chain is read (so that a damaged one is reported) but not used: the
        // trusted root's certificate authorities are the only trust.
        if let Some(pem) = annotation(annotations, ANNOTATION_CHAIN)?
            && !pem.is_empty()
        {
            if leaf.is_none() {
                return Err(bad(
                    ANNOTATION_CHAIN,
                    "a chain without a certificate".into(),
                ));
            }
            certificates(ANNOTATION_CHAIN, pem)?;
        }
        let entry = match annotation(annotations, ANNOTATION_BUNDLE)? {
            Some(json) if !json.is_empty() => Some(rekor_entry(json)?),
            _ => None,
        };
        let timestamp = match annotation(annotations, ANNOTATION_RFC3161)? {
            Some(json) if !json.is_empty() => {
                let ts: Rfc3161Annotation = serde_json::from_str(json)
                    .map_err(|e| bad(ANNOTATION_RFC3161, e.to_string()))?;
                Some(
                    STANDARD
                        .decode(&ts.signed_rfc3161_timestamp)
                        .map_err(|e| bad(ANNOTATION_RFC3161, format!("not base64: {e}")))?,
                )
            }
            _ => None,
        };
        Ok(Self {
            leaf,
            entry,
            timestamp,
        })
    }

    /// The bundle model a Sigstore bundle v0.1 with this material would be.
    fn into_bundle(self, ms: Option<MessageSignature>, dsse: Option<DsseEnvelope>) -> Bundle {
        let keyless = self.leaf.is_some();
        Bundle {
            media_type: "application/vnd.dev.sigstore.bundle+json;version=0.1".into(),
            verification_material: VerificationMaterial {
                x509_certificate_chain: self.leaf.map(|der| CertificateChain {
                    certificates: vec![RawBytes {
                        raw_bytes: B64(der),
                    }],
                }),
                certificate: None,
                public_key: (!keyless).then(|| PublicKeyIdentifier {
                    hint: String::new(),
                }),
                tlog_entries: self.entry.into_iter().collect(),
                timestamp_verification_data: self.timestamp.map(|t| TimestampVerificationData {
                    rfc3161_timestamps: vec![Rfc3161Timestamp {
                        signed_timestamp: B64(t),
                    }],
                }),
            },
            message_signature: ms,
            dsse_envelope: dsse,
        }
    }
}

fn rekor_entry(json: &str) -> Result<TlogEntry, CosignError> {
    let bad = |m: String| CosignError::Malformed(format!("{ANNOTATION_BUNDLE}: {m}"));
    let rb: RekorBundle = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let set = STANDARD
        .decode(&rb.signed_entry_timestamp)
        .map_err(|e| bad(format!("SignedEntryTimestamp is not base64: {e}")))?;
    let body = STANDARD
        .decode(&rb.payload.body)
        .map_err(|e| bad(format!("Payload.body is not base64: {e}")))?;
    let log_id = hex::decode(&rb.payload.log_id)
        .map_err(|e| bad(format!("Payload.logID is not hex: {e}")))?;
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("Payload.body is not JSON: {e}")))?;
    let field = |k: &str| {
        parsed
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("Payload.body has no {k}")))
    };
    Ok(TlogEntry {
        log_index: Int64(rb.payload.log_index),
        log_id: LogId {
            key_id: B64(log_id),
        },
        kind_version: KindVersion {
            kind: field("kind")?,
            version: field("apiVersion")?,
        },
        integrated_time: Int64(rb.payload.integrated_time),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: B64(set),
        }),
        inclusion_proof: None,
        canonicalized_body: B64(body),
    })
}

/// cosign's simple-signing payload, read strictly: unknown members of `critical` (and at the
/// top level) are refused, as the containers/image signature format requires.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimpleSigningPayload {
    critical: Critical,
    /// Free-form (cosign's `-a key=value` annotations); must be an object or null.
    #[serde(default)]
    #[allow(dead_code)]
    optional: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    identity: CriticalIdentity,
    image: CriticalImage,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CriticalIdentity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CriticalImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

impl SimpleSigningPayload {
    fn parse(payload: &[u8]) -> Result<Self, CosignError> {
        let p: SimpleSigningPayload = serde_json::from_slice(payload)
            .map_err(|e| CosignError::PayloadInvalid(e.to_string()))?;
        if p.critical.kind != SIMPLE_SIGNING_TYPE {
            return Err(CosignError::PayloadInvalid(format!(
                "critical.type is {:?}, expected {SIMPLE_SIGNING_TYPE:?}",
                p.critical.kind
            )));
        }
        Ok(p)
    }
}

/// The envelope must hold an in-toto statement; returns its predicate type.
fn check_statement_shape(env: &DsseEnvelope) -> Result<String, CosignError> {
    let bad = |m: String| CosignError::PayloadInvalid(m);
    if env.payload_type != IN_TOTO {
        return Err(bad(format!(
            "the DSSE payload type is {:?}, expected {IN_TOTO:?}",
            env.payload_type
        )));
    }
    let v: Value = serde_json::from_slice(&env.payload.0)
        .map_err(|e| bad(format!("the in-toto statement is not JSON: {e}")))?;
    let ty = v.get("_type").and_then(Value::as_str);
    if !ty.is_some_and(|t| STATEMENT_TYPES.contains(&t)) {
        return Err(bad(format!(
            "the statement's _type is {ty:?}, not an in-toto Statement"
        )));
    }
    if !v.get("subject").is_some_and(Value::is_array) {
        return Err(bad("the statement has no subject list".into()));
    }
    v.get("predicateType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad("the statement has no predicateType".into()))
}

/// A legacy layout is verified as a v0.1 bundle would be (a SET, no inclusion proof).
fn verify_with_trust(
    bundle: &Bundle,
    artifact: Artifact,
    predicate_type: Option<String>,
    trust: &Trust,
    timestamped_alternative: Option<&[u8]>,
) -> Result<(Verified, Signer), CosignError> {
    verify_versioned(
        bundle,
        1,
        artifact,
        predicate_type,
        trust,
        timestamped_alternative,
    )
}

fn verify_versioned(
    bundle: &Bundle,
    version: u8,
    artifact: Artifact,
    predicate_type: Option<String>,
    trust: &Trust,
    timestamped_alternative: Option<&[u8]>,
) -> Result<(Verified, Signer), CosignError> {
    let options = Options {
        tlog: trust.tlog,
        timestamped_alternative,
        ..Options::default()
    };
    let key_signed = bundle.verification_material.public_key.is_some();
    if !key_signed {
        if trust.roots.is_empty() {
            return Err(CosignError::TrustedRootMissing);
        }
        if trust.identities.is_empty() {
            return Err(CosignError::IdentitiesMissing);
        }
        let policy = Policy {
            identities: trust.identities.clone(),
            key: None,
            artifact,
            predicate_type,
        };
        let mut first = None;
        for root in &trust.roots {
            match verify_parsed(bundle, version, root, &policy, &options) {
                Ok(v) => {
                    let signer = Signer::Identity {
                        subject: v.identity.clone().unwrap_or_default(),
                        issuer: v.issuer.clone(),
                    };
                    return Ok((v, signer));
                }
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        return Err(first.expect("at least one root").into());
    }
    if trust.keys.is_empty() {
        return Err(CosignError::Sigstore(SigstoreError::KeyMismatch(
            "the candidate is signed with a public key, and no public key is trusted".into(),
        )));
    }
    let empty = TrustedRoot::empty();
    let roots: Vec<&TrustedRoot> = if trust.roots.is_empty() {
        vec![&empty]
    } else {
        trust.roots.iter().map(|r| r.as_ref()).collect()
    };
    let mut other = None;
    for tk in &trust.keys {
        let policy = Policy {
            identities: vec![],
            key: Some(tk.key.clone()),
            artifact: artifact.clone(),
            predicate_type: predicate_type.clone(),
        };
        for root in &roots {
            match verify_parsed(bundle, version, root, &policy, &options) {
                Ok(v) => {
                    let signer = Signer::Key {
                        id: tk.id(),
                        name: tk.name.clone(),
                    };
                    return Ok((v, signer));
                }
                // A key that did not make this signature says nothing about the candidate.
                Err(SigstoreError::SignatureInvalid(_)) => break,
                Err(e) => {
                    other.get_or_insert(e);
                }
            }
        }
    }
    Err(match other {
        Some(e) => e.into(),
        None => CosignError::Sigstore(SigstoreError::SignatureInvalid(format!(
            "not signed by any of the {} trusted public key(s) ({})",
            trust.keys.len(),
            trust
                .keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    })
}
