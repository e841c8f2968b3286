//! `TrustedIssuer`: who may vouch for which images.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::{DURATION_PATTERN, HTTP_URL_PATTERN, NAME_PATTERN};

/// The issuer's identity, where its keys come from, who approved it and which images it may
/// vouch for.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "attestor.stellaops.io",
    version = "v1alpha1",
    kind = "TrustedIssuer",
    plural = "trustedissuers",
    shortname = "ti",
    category = "attestor",
    status = "TrustedIssuerStatus",
    derive = "PartialEq",
    doc = "An issuer of attestations (a CI system, a vendor) whose proofs are accepted for the images in its scope, verified against its trust anchors or the keys its directory publishes. An issuer without spec.approval is never trusted.",
    printcolumn(
        name = "Trusted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Trusted\")].status",
        description = "Whether proofs by this issuer can pass"
    ),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        json_path = ".spec.issuer",
        description = "The issuer identity"
    ),
    printcolumn(
        name = "Keys",
        type_ = "integer",
        json_path = ".status.keyCount",
        description = "Number of usable keys"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("(has(self.anchors) && size(self.anchors) > 0) || has(self.directory)")
        .message("give spec.anchors (TrustAnchor names) or spec.directory (a key directory URL), or both"),
    validation = Rule::new("!has(self.identities) || size(self.identities) == 0 || (has(self.anchors) && size(self.anchors) > 0)")
        .message("spec.identities need spec.anchors naming a TrustAnchor with a spec.sigstoreTrustedRoot"),
)]
#[serde(rename_all = "camelCase")]
pub struct TrustedIssuerSpec {
    /// The issuer's identity, e.g. `https://ci.example/shop` or `vendor.example`, as reports,
    /// events and the `ISSUER` column show it.
    #[schemars(length(min = 1, max = 1024))]
    pub issuer: String,
    /// Names of the TrustAnchors this issuer signs with (`AttestationSigning`) and whose
    /// transparency log it uses (`TransparencyLog`). Give `anchors`, `directory` or both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 253), regex(pattern = NAME_PATTERN)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub anchors: Vec<String>,
    /// Keyless signers: the workload identities whose short-lived Fulcio certificates (from a
    /// `sigstoreTrustedRoot` anchor in `anchors`) may sign this issuer's Sigstore bundles. A
    /// certificate must match one entry: its OIDC issuer extension and one of its SANs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub identities: Vec<KeylessIdentity>,
    /// GitHub artifact attestations, named as `gh attestation verify` names the signer
    /// (`--owner`, `--repo`, `--signer-repo`, `--signer-workflow`, `--cert-oidc-issuer`,
    /// `--deny-self-hosted-runners`): one more keyless identity, which also requires the
    /// certificate's SourceRepositoryOwnerURI (and SourceRepositoryURI) as gh does. Needs a
    /// `sigstoreTrustedRoot` anchor: public-good Sigstore for public repositories, GitHub's
    /// own trusted root for private ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GitHubAttestations>,
    /// A key directory the issuer publishes its current public keys at, fetched every
    /// `refreshInterval`. Give `anchors`, `directory` or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<KeyDirectory>,
    /// Who approved trusting this issuer, and why. Without approval the issuer is never
    /// trusted: declaring it is not enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Which images this issuer may vouch for.
    pub scope: IssuerScope,
    /// Find this issuer's proofs in the registry by itself: in namespaces that opt in to
    /// admission, every image digest of a workload that is in `scope` and has no
    /// ProofVerification gets one (labelled `attestor.stellaops.io/discovered`, with
    /// `source.registry`), removed again some time after no workload uses the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Discovery>,
    /// `kubernetes.io/dockerconfigjson` Secrets (by namespace and name, e.g. in the operator's
    /// namespace) whose credentials read this issuer's signatures from registries, for every
    /// ProofVerification with `source.registry` naming this issuer, discovered ones included;
    /// a ProofVerification's own `pullSecrets` (or its workload's) are tried first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub registry_pull_secrets: Vec<crate::common::NamespacedRef>,
}

/// How an issuer's proofs are discovered in registries.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// Whether discovery is on.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Which kinds of candidate count (`CosignSignature`, `CosignAttestation`,
    /// `SigstoreBundle`, `ProofBundle`); empty: all four. Copied to the discovered
    /// ProofVerifications' `source.registry.kinds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub kinds: Vec<crate::proof_verification::CandidateKindName>,
    /// The discovered ProofVerifications' `spec.checks.transparencyLog`: `Required` (the
    /// default: signatures must be in a transparency log), `IfPresent` (signatures made with
    /// `--tlog-upload=false`, air-gapped sites) or `Skip`.
    #[serde(default)]
    pub transparency_log: crate::proof_verification::TransparencyLogPolicy,
    /// The discovered ProofVerifications' `spec.checks.predicateType`: only in-toto
    /// attestations of this type count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub predicate_type: Option<String>,
}

fn default_true() -> bool {
    true
}

/// The signer of GitHub artifact attestations, as `gh attestation verify` names it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.owner) || has(self.repo)")
    .message("github needs owner or repo (OWNER/REPO): the repository the artifact was built from"))]
#[x_kube(validation = Rule::new("!(has(self.signerRepo) && has(self.signerWorkflow))")
    .message("github: give at most one of signerRepo and signerWorkflow"))]
#[serde(rename_all = "camelCase")]
pub struct GitHubAttestations {
    /// The owner (user or organisation) of the repository the artifact was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
    pub owner: Option<String>,
    /// `OWNER/REPO`: the repository the artifact was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 3, max = 200),
        regex(pattern = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    )]
    pub repo: Option<String>,
    /// `OWNER/REPO` of the reusable workflow that signs (default: the build repository's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 3, max = 200),
        regex(pattern = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    )]
    pub signer_repo: Option<String>,
    /// `[HOST/]OWNER/REPO/.github/workflows/FILE`: the workflow that signs, a pattern as gh
    /// takes it (matched from the start of the SAN after `https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub signer_workflow: Option<String>,
    /// The OIDC issuer; default GitHub Actions' (`https://token.actions.githubusercontent.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub cert_oidc_issuer: Option<String>,
    /// Only attestations made on GitHub-hosted runners.
    #[serde(default)]
    pub deny_self_hosted_runners: bool,
}

/// A keyless signer: an OIDC issuer and the certificate subject it vouches for.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.subject) != has(self.subjectRegExp)")
    .message("give exactly one of subject or subjectRegExp"))]
#[serde(rename_all = "camelCase")]
pub struct KeylessIdentity {
    /// The OIDC issuer the certificate's issuer extension must name exactly, e.g.
    /// `https://token.actions.githubusercontent.com`.
    #[schemars(length(min = 1, max = 1024))]
    pub issuer: String,
    /// The SAN (URI or email) the certificate must carry exactly, e.g. the workflow ref
    /// `https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub subject: Option<String>,
    /// A regular expression a SAN must match, meaning what it means in cosign and
    /// policy-controller: RE2 syntax, matched anywhere in the SAN unless anchored, e.g.
    /// `^https://github\.com/org/repo/\.github/workflows/release\.yml@refs/tags/v.*$`. An
    /// unanchored pattern is used as written and warned about in the `Trusted` message; one
    /// that does not compile makes the issuer `Trusted=False` (`IdentityInvalid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub subject_reg_exp: Option<String>,
}

/// Where an issuer publishes its keys.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyDirectory {
    /// URL of the key directory, `https://` (or `http://` for tests and air-gapped mirrors).
    #[schemars(length(max = 2048), regex(pattern = HTTP_URL_PATTERN))]
    pub url: String,
    /// How often the directory is fetched again. A duration such as `1h` or `30m` (units ms, s,
    /// m, h, d).
    #[serde(default = "default_refresh_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub refresh_interval: String,
}

fn default_refresh_interval() -> String {
    "1h".into()
}

/// A recorded decision to trust an issuer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Who approved, e.g. a person or team (`security-team@example.com`).
    #[schemars(length(min = 1, max = 256))]
    pub approved_by: String,
    /// Why the issuer is trusted, e.g. a ticket or review reference.
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    /// When the approval was given (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Time>,
}

/// The images an issuer may vouch for.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerScope {
    /// Image name patterns without tag or digest, e.g. `registry.example/shop/*`, where `*`
    /// matches any characters within one path segment; `*` alone means every image. At least
    /// one.
    #[schemars(
        length(min = 1, max = 256),
        inner(length(min = 1, max = 512), regex(pattern = r"^\S+$"))
    )]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub images: Vec<String>,
}

/// What the controller found out about the issuer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrustedIssuerStatus {
    /// `Trusted`, one entry per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Key ids (`sha256:…`) of the usable keys, from the anchors and the directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_ids: Vec<String>,
    /// Number of usable keys (the length of `keyIds`), for the `KEYS` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_count: Option<i32>,
    /// Number of Sigstore trusted roots usable now (from `sigstoreTrustedRoot` anchors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root_count: Option<i32>,
    /// When the directory was last fetched successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key_fetch_time: Option<Time>,
    /// Why the last directory fetch failed; cleared by a successful fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key_fetch_error: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
