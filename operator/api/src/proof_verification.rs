//! `ProofVerification`: verify one proof bundle for one artifact, and keep it verified.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    ARTIFACT_DIGEST_PATTERN, DIGEST_PATTERN, DURATION_PATTERN, DataKeyRef, HTTP_URL_PATTERN,
    ObjectRef,
};

/// Which artifact, which proof, which issuer, and how strictly to check.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "attestor.stellaops.io",
    version = "v1alpha1",
    kind = "ProofVerification",
    plural = "proofverifications",
    shortname = "pvf",
    category = "attestor",
    namespaced,
    status = "ProofVerificationStatus",
    derive = "PartialEq",
    doc = "Verifies a proof bundle, a bare DSSE envelope or a Sigstore bundle for one artifact digest against a TrustedIssuer (its keys, certificates or keyless identities), reports the five checks as conditions, and verifies again every reverifyInterval.",
    printcolumn(
        name = "Verified",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Verified\")].status",
        description = "Whether the proof verified"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Verified\")].reason",
        description = "Verified, or why not"
    ),
    printcolumn(
        name = "Digest",
        type_ = "string",
        json_path = ".spec.artifactDigest",
        description = "The artifact the proof is about"
    ),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        json_path = ".spec.issuerRef.name",
        description = "The TrustedIssuer the proof must come from"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("!has(self.checks) || !has(self.checks.predicateType) || has(self.source.registry) || (has(self.source.format) && self.source.format == 'SigstoreBundle')")
        .message("spec.checks.predicateType applies to Sigstore bundles and registry sources: set spec.source.format to SigstoreBundle, use spec.source.registry, or remove it"),
    validation = Rule::new("self.artifactDigest.startsWith('sha256:') || (has(self.source.format) && self.source.format == 'SigstoreBundle')")
        .message("spec.artifactDigest: sha384 and sha512 digests are for Sigstore bundles (spec.source.format: SigstoreBundle); proof bundles, envelopes and registry images are addressed by their sha256"),
    validation = Rule::new("!has(self.source.registry) || has(self.image) || has(self.source.registry.repository)")
        .message("spec.source.registry needs an image to look in: set spec.image or spec.source.registry.repository"),
    validation = Rule::new("!has(self.source.format) || self.source.format != 'SigstoreBundle' || !has(self.checks) || !has(self.checks.transparencyLog) || self.checks.transparencyLog != 'Skip'")
        .message("a Sigstore bundle's transparency-log entries and timestamps are always verified: spec.checks.transparencyLog cannot be Skip with format SigstoreBundle (IfPresent lets a key-signed bundle made offline verify)"),
)]
#[serde(rename_all = "camelCase")]
pub struct ProofVerificationSpec {
    /// The artifact the proof must be about: `sha256:` and 64 lowercase hex digits (for an
    /// image, its manifest digest); for a Sigstore bundle also `sha384:` (96) or `sha512:`
    /// (128 digits), matched against the bundle's message digest or an in-toto subject in
    /// that algorithm. Immutable: verify another artifact with another object.
    #[schemars(regex(pattern = ARTIFACT_DIGEST_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf")
        .message("spec.artifactDigest is immutable: create another ProofVerification for another artifact"))]
    pub artifact_digest: String,
    /// The image reference the artifact is deployed as, e.g. `registry.example/shop/cart:1.4.2`;
    /// must be within the issuer's `scope.images`. Optional: without it only the digest is
    /// checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub image: Option<String>,
    /// Where the proof bundle or envelope is read from.
    pub source: ProofSource,
    /// The TrustedIssuer whose anchors the proof is verified against.
    pub issuer_ref: ObjectRef,
    /// Which optional checks run and their limits.
    #[serde(default)]
    pub checks: ProofChecks,
    /// How often a verified proof is verified again, so that expired keys and revoked issuers
    /// show up. A duration such as `24h` (units ms, s, m, h, d).
    #[serde(default = "default_reverify_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub reverify_interval: String,
}

fn default_reverify_interval() -> String {
    "24h".into()
}

/// Where to read the proof from: exactly one of `url`, `configMapKeyRef`, `secretKeyRef` or
/// `envelope`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("[has(self.url), has(self.configMapKeyRef), has(self.secretKeyRef), has(self.envelope), has(self.registry)].filter(x, x).size() == 1")
        .message("give exactly one of source.url, source.configMapKeyRef, source.secretKeyRef, source.envelope or source.registry"),
    validation = Rule::new("!has(self.registry) || !has(self.format)")
        .message("source.registry finds and classifies what the registry holds itself: remove source.format"),
    validation = Rule::new("!has(self.envelope) || !has(self.format) || self.format == 'Envelope'")
        .message("source.envelope is a DSSE envelope: set source.format to Envelope or leave it out"),
)]
#[serde(rename_all = "camelCase")]
pub struct ProofSource {
    /// Download the proof from a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<UrlSource>,
    /// Read the proof from a ConfigMap key (`binaryData` for a ZIP bundle, `data` for an
    /// envelope) in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<DataKeyRef>,
    /// Read the proof from a Secret key in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<DataKeyRef>,
    /// Find the proof in the image's OCI registry: cosign signatures and attestations (the
    /// `.sig`/`.att` tags), Sigstore bundles and proof bundles that refer to
    /// `spec.artifactDigest` (the referrers API, or its fallback tag). Verified when one of
    /// them satisfies the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySource>,
    /// A DSSE envelope (JSON) given inline; implies `format: Envelope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1048576))]
    pub envelope: Option<String>,
    /// What the source holds: `Bundle` (a proof bundle ZIP), `Envelope` (one DSSE envelope,
    /// JSON) or `SigstoreBundle` (a Sigstore bundle, `*.sigstore.json`, v0.1 to v0.3). When left
    /// out: `Envelope` for an inline `envelope`, `Bundle` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::optional_enum::<ProofFormat>")]
    pub format: Option<ProofFormat>,
}

impl ProofSource {
    /// The format in effect: the given one, else `Envelope` for an inline envelope and `Bundle`
    /// for everything else.
    pub fn effective_format(&self) -> ProofFormat {
        self.format.unwrap_or(if self.envelope.is_some() {
            ProofFormat::Envelope
        } else {
            ProofFormat::Bundle
        })
    }
}

/// Where in a registry to look, with which credentials, and how long a verdict outlives an
/// outage.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegistrySource {
    /// The repository to look in, e.g. `registry.example/shop/cart` (no tag or digest: it is
    /// pinned to `spec.artifactDigest`). Defaults to `spec.image`'s repository. Set it when
    /// signatures are stored apart from the image (cosign's `COSIGN_REPOSITORY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new("!self.contains('@')")
        .message("source.registry.repository names a repository: drop the digest (spec.artifactDigest pins it)"))]
    pub repository: Option<String>,
    /// Which kinds of candidate count: `CosignSignature`, `CosignAttestation`,
    /// `SigstoreBundle`, `ProofBundle`. Empty: all four.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub kinds: Vec<CandidateKindName>,
    /// `kubernetes.io/dockerconfigjson` Secrets in this namespace whose credentials are used
    /// for the registry (as a Pod's `imagePullSecrets`). None: anonymous.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub pull_secrets: Vec<ObjectRef>,
    /// While the registry cannot be read (down, rate limiting, credentials refused), a proof
    /// already `Verified` stays so, marked stale, for this long from the first failure; then it
    /// turns False. A duration such as `24h`.
    #[serde(default = "default_stale_grace")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub stale_grace_period: String,
}

fn default_stale_grace() -> String {
    "24h".into()
}

/// A kind of thing a registry holds about an image digest.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateKindName {
    /// cosign's simple-signing signature (the `sha256-<hex>.sig` tag).
    CosignSignature,
    /// cosign's DSSE in-toto attestation (the `sha256-<hex>.att` tag).
    CosignAttestation,
    /// A Sigstore bundle referrer (cosign v3, GitHub artifact attestations).
    SigstoreBundle,
    /// This project's proof bundle, published by `attestor push`.
    ProofBundle,
}

/// A proof to download.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UrlSource {
    /// `https://` (or `http://`) URL of the bundle or envelope.
    #[schemars(length(max = 2048), regex(pattern = HTTP_URL_PATTERN))]
    pub url: String,
    /// When set, the downloaded bytes must have this digest (`sha256:` and 64 lowercase hex
    /// digits), so a changed file is noticed before it is parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DIGEST_PATTERN))]
    pub digest: Option<String>,
}

/// What a proof source holds.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofFormat {
    /// A proof bundle: a ZIP archive as specified in docs/proof-bundle-format.md.
    Bundle,
    /// A single DSSE envelope (JSON).
    Envelope,
    /// A Sigstore bundle (`application/vnd.dev.sigstore.bundle*+json`, v0.1 to v0.3), verified
    /// against the Sigstore trusted roots and keyless identities of the issuer.
    SigstoreBundle,
}

/// The optional checks and their limits.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProofChecks {
    /// What to do about the transparency-log entry: `Required` (it must be present and
    /// verify), `IfPresent` (verify it when the bundle has one: air-gapped sites) or `Skip`.
    /// For a Sigstore bundle this applies to key-signed bundles (`Skip` is refused); a keyless
    /// one always needs the evidence its trusted root implies (a log entry, or for a root
    /// without logs an RFC 3161 timestamp).
    #[serde(default)]
    pub transparency_log: TransparencyLogPolicy,
    /// Proofs signed longer ago than this fail with `TimestampTooOld`. A duration such as `30d`
    /// (units ms, s, m, h, d); unset accepts any age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub max_age: Option<String>,
    /// Tolerated clock difference between signer and verifier. A duration such as `5m`.
    #[serde(default = "default_clock_skew")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub clock_skew: String,
    /// For a Sigstore bundle: the in-toto statement's `predicateType` must be exactly this,
    /// e.g. `https://slsa.dev/provenance/v1`. A bundle that signs the artifact directly (a
    /// message signature, no statement) then fails with `StatementMismatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub predicate_type: Option<String>,
}

impl Default for ProofChecks {
    fn default() -> Self {
        Self {
            transparency_log: TransparencyLogPolicy::default(),
            max_age: None,
            clock_skew: default_clock_skew(),
            predicate_type: None,
        }
    }
}

fn default_clock_skew() -> String {
    "5m".into()
}

/// What to do about the transparency-log entry of a bundle.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TransparencyLogPolicy {
    /// The bundle must carry a log entry, and it must verify.
    #[default]
    Required,
    /// Verify the entry when the bundle has one; skip the check otherwise (offline sites).
    IfPresent,
    /// Do not look at the log entry.
    Skip,
}

impl TransparencyLogPolicy {
    /// The verification core's policy.
    pub fn to_core(self) -> attestor_core::verify::TlogPolicy {
        match self {
            TransparencyLogPolicy::Required => attestor_core::verify::TlogPolicy::Required,
            TransparencyLogPolicy::IfPresent => attestor_core::verify::TlogPolicy::IfPresent,
            TransparencyLogPolicy::Skip => attestor_core::verify::TlogPolicy::Skip,
        }
    }
}

impl ProofChecks {
    /// The verification core's timestamp window; `Err` names a malformed duration (which the
    /// API server's pattern refuses, so only hand-built specs can have one).
    pub fn timestamp_window(&self) -> Result<attestor_core::verify::TimestampWindow, String> {
        Ok(attestor_core::verify::TimestampWindow {
            max_age: self
                .max_age
                .as_deref()
                .map(crate::duration::parse)
                .transpose()?,
            clock_skew: crate::duration::parse(&self.clock_skew)?,
        })
    }
}

/// The result of verifying the proof.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProofVerificationStatus {
    /// `Verified`, `SourceAvailable` and one per check: `SignatureValid`, `IdRecomputed`,
    /// `MerklePathValid`, `RekorInclusion`, `TimestampValid` (`Unknown` when skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Content id of the bundle's scan manifest (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_id: Option<String>,
    /// The signed Merkle root of the proof ledger (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_root_hash: Option<String>,
    /// Key id of the key that signed the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_key_id: Option<String>,
    /// For a keyless Sigstore bundle: the signing certificate's SAN that matched the issuer's
    /// `spec.identities`, e.g. a GitHub Actions workflow ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_identity: Option<String>,
    /// For a keyless Sigstore bundle: the OIDC issuer named in the signing certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_oidc_issuer: Option<String>,
    /// When the proof was last verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Time>,
    /// Until when the verification holds: the earliest expiry of the signing key, its
    /// certificates and its anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Time>,
    /// Size of the bundle in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_size: Option<i64>,
    /// Digest of the bundle's bytes (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_digest: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// For `source.registry`: what the registry held for the digest (the first 16), and how
    /// each fared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateStatus>,
    /// For `source.registry`: how many candidates were found in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_found: Option<i32>,
    /// Since when the source cannot be read while the last `Verified` verdict stands (stale);
    /// unset when the source was read at the last verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_since: Option<Time>,
    /// The last time a ReplayJob replayed this proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_replay: Option<LastReplay>,
}

/// One thing a registry held for the digest.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CandidateStatus {
    /// The candidate manifest's digest.
    pub digest: String,
    /// `CosignSignature`, `CosignAttestation`, `SigstoreBundle`, `ProofBundle` or `Unknown`.
    pub kind: String,
    /// How it was found: `referrers`, `fallbackTag`, `legacySignatureTag`,
    /// `legacyAttestationTag`.
    pub found_via: String,
    /// `Verified`, or why not (e.g. `SignatureInvalid`, `ImageDigestMismatch`).
    pub reason: String,
    /// Who signed it, when it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// The outcome of the last replay of a proof.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LastReplay {
    /// When the replay ran.
    pub time: Time,
    /// `Reproduced` (same proof root), `Drifted` (another root) or `Failed` (could not replay).
    pub result: ReplayResult,
    /// The proof root the replay computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_hash: Option<String>,
    /// The proof root before the replay (the signed one, or that of the previous replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_root_hash: Option<String>,
    /// For `Drifted`: which input changed the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::common::optional_enum::<DriftCause>")]
    pub cause: Option<DriftCause>,
    /// For `Failed`: why the replay could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// SHA-256 over the manifest id and the content ids of the four inputs the replay used;
    /// `skipUnchanged` skips the proof while it stays the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
}

/// The outcome of replaying one proof.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayResult {
    /// The replay computed the same proof root.
    Reproduced,
    /// The replay computed another proof root.
    Drifted,
    /// The replay could not be run.
    Failed,
}

/// Which input made a replayed score drift.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriftCause {
    /// The advisory feed snapshot changed (new or updated advisories).
    Feed,
    /// The VEX statements changed.
    Vex,
    /// The scoring policy changed.
    Policy,
    /// The SBOM changed.
    Sbom,
    /// The cause could not be attributed to one input.
    Unknown,
}
