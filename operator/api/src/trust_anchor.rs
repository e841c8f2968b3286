//! `TrustAnchor`: a key or root certificate the cluster trusts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::DURATION_PATTERN;

/// The key or certificate, what it may vouch for, and when. The field names are those of
/// `attestor_core::trust::AnchorSpec`: `attestor verify --trust-anchor FILE.yaml` reads the same
/// documents, so an air-gapped site verifies against exactly what Git declares.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "attestor.stellaops.io",
    version = "v1alpha1",
    kind = "TrustAnchor",
    plural = "trustanchors",
    shortname = "ta",
    category = "attestor",
    status = "TrustAnchorStatus",
    derive = "PartialEq",
    doc = "A public key or root certificate trusted for attestation signing and/or transparency-log checkpoints, optionally within a validity window. `attestor verify --trust-anchor FILE.yaml` reads the same documents.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the anchor can verify signatures now"
    ),
    printcolumn(
        name = "Key ID",
        type_ = "string",
        json_path = ".status.keyId",
        description = "sha256 of the DER SubjectPublicKeyInfo"
    ),
    printcolumn(
        name = "Algorithm",
        type_ = "string",
        json_path = ".status.algorithm",
        description = "Signature algorithm of the key"
    ),
    printcolumn(
        name = "Expires",
        type_ = "string",
        json_path = ".status.notAfter",
        description = "Effective end of validity (spec.expires or the certificate's not-after, whichever is earlier)"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("[has(self.publicKey), has(self.certificate), has(self.sigstoreTrustedRoot)].filter(x, x).size() == 1")
        .message("give exactly one of spec.publicKey, spec.certificate or spec.sigstoreTrustedRoot"),
    validation = Rule::new("!has(self.intermediates) || has(self.certificate)")
        .message("spec.intermediates needs spec.certificate: intermediates only build paths to a certificate anchor"),
    validation = Rule::new("!has(self.notBefore) || !has(self.expires) || self.notBefore < self.expires")
        .message("spec.notBefore must be before spec.expires"),
)]
#[serde(rename_all = "camelCase")]
pub struct TrustAnchorSpec {
    /// A PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`), ECDSA P-256 or Ed25519. Give
    /// exactly one of `publicKey`, `certificate` or `sigstoreTrustedRoot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN PUBLIC KEY-----')")
        .message("spec.publicKey must be a PEM public key starting with -----BEGIN PUBLIC KEY-----"))]
    pub public_key: Option<String>,
    /// A PEM X.509 certificate (`-----BEGIN CERTIFICATE-----`): a root CA that signing
    /// certificates chain to, or a pinned signing certificate. Give exactly one of `publicKey`,
    /// `certificate` or `sigstoreTrustedRoot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')")
        .message("spec.certificate must be a PEM certificate starting with -----BEGIN CERTIFICATE-----"))]
    pub certificate: Option<String>,
    /// A Sigstore trusted root (`trusted_root.json`, media type
    /// `application/vnd.dev.sigstore.trustedroot+json;version=0.1` or `…trustedroot.v0.2+json`):
    /// Fulcio CAs, Rekor logs, CT logs and timestamp authorities, each with its validity window.
    /// Sigstore bundles of the TrustedIssuers that list this anchor are verified against it, and
    /// their signer must be one of the issuer's `spec.identities`. `purposes` does not apply: the
    /// root says what each of its keys is for. Give exactly one of `publicKey`, `certificate` or
    /// `sigstoreTrustedRoot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 262144))]
    pub sigstore_trusted_root: Option<String>,
    /// PEM intermediate CA certificates that may be used to build paths from signing
    /// certificates to `certificate`. Only with `certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 262144))]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')")
        .message("spec.intermediates must be PEM certificates starting with -----BEGIN CERTIFICATE-----"))]
    pub intermediates: Option<String>,
    /// What the anchor may vouch for. Keep signing keys and log keys apart: a log key that could
    /// also sign attestations would let a compromised log forge them.
    #[serde(default = "default_purposes")]
    #[schemars(length(min = 1, max = 2))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub purposes: Vec<Purpose>,
    /// Signatures made before this time (RFC 3339) are not trusted with this anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// The anchor is not trusted after this time (RFC 3339). A certificate's own not-after
    /// applies too; the earlier of the two is `status.notAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Time>,
    /// How long before the anchor expires the `ExpiringSoon` condition turns `True`. A duration
    /// such as `720h` or `30d` (units ms, s, m, h, d).
    #[serde(default = "default_expiry_warning")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub expiry_warning: String,
    /// What this anchor is for and who owns the key, for people reading the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
}

/// What an anchor may vouch for.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Signatures on attestations (the DSSE envelopes of a proof bundle).
    AttestationSigning,
    /// Signed checkpoints of a transparency log.
    TransparencyLog,
}

impl Purpose {
    /// The spelling in YAML, `AttestationSigning` or `TransparencyLog`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::AttestationSigning => "AttestationSigning",
            Purpose::TransparencyLog => "TransparencyLog",
        }
    }

    /// The verification core's purpose.
    pub fn to_core(self) -> attestor_core::trust::Purpose {
        match self {
            Purpose::AttestationSigning => attestor_core::trust::Purpose::AttestationSigning,
            Purpose::TransparencyLog => attestor_core::trust::Purpose::TransparencyLog,
        }
    }
}

fn default_purposes() -> Vec<Purpose> {
    vec![Purpose::AttestationSigning]
}

fn default_expiry_warning() -> String {
    "720h".into()
}

impl TrustAnchorSpec {
    /// The verification core's form of this spec, the same that `attestor verify` reads from a
    /// TrustAnchor YAML file.
    pub fn to_core(&self) -> attestor_core::trust::AnchorSpec {
        attestor_core::trust::AnchorSpec {
            public_key: self.public_key.clone(),
            certificate: self.certificate.clone(),
            intermediates: self.intermediates.clone(),
            purposes: self
                .purposes
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
            not_before: self.not_before.as_ref().map(|t| t.0),
            expires: self.expires.as_ref().map(|t| t.0),
        }
    }
}

/// What the controller found out about the anchor.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrustAnchorStatus {
    /// `Ready` and `ExpiringSoon`, one entry per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Key id: `sha256:` and the hex SHA-256 of the DER SubjectPublicKeyInfo (of the
    /// certificate's key for a certificate anchor), as DSSE signatures name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Signature algorithm of the key, e.g. `ecdsa-p256-sha256` or `ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// SHA-256 fingerprint of the certificate's DER, for certificate anchors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Effective start of validity: the later of `spec.notBefore` and the certificate's
    /// not-before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// Effective end of validity: the earlier of `spec.expires` and the certificate's not-after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// For a `sigstoreTrustedRoot` anchor: how many authorities and logs the root holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore: Option<SigstoreRootSummary>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// What a Sigstore trusted root holds (entries whose key type the verifier does not support are
/// not counted: they cannot verify anything).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SigstoreRootSummary {
    /// Fulcio certificate authorities.
    pub certificate_authorities: i32,
    /// Rekor transparency logs.
    pub transparency_logs: i32,
    /// Certificate-transparency logs (for the SCTs in signing certificates).
    pub ct_logs: i32,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: i32,
}
