//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "attestor",
    version,
    about = "Verify signed attestations and score proofs, offline or in a Kubernetes cluster.",
    after_help = "Exit codes: 0 verified, 1 verification failed, 2 bad usage or unreadable input."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify a proof bundle against trust anchors, with no network access.
    // Boxed: the largest arguments by far (clippy::large_enum_variant).
    Verify(Box<VerifyArgs>),
    /// Show what a proof bundle holds and optionally extract its files.
    Inspect(InspectArgs),
    /// Create proof bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Score an SBOM against an advisory feed, a VEX document and a policy, and sign the
    /// proof ledger into a proof bundle.
    Score(ScoreArgs),
    /// Recompute a proof bundle's score from a snapshot store and explain any drift.
    #[command(
        after_help = "Exit codes: 0 reproduced, 1 drifted, 2 bad usage or unreadable input \
(a missing snapshot, a bad digest, a malformed input, or with --trust-anchor a bundle that does \
not verify)."
    )]
    Replay(ReplayArgs),
    /// Generate key pairs for signing bundles and log checkpoints.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the CustomResourceDefinitions of TrustAnchor, TrustedIssuer, ProofVerification
    /// and ReplayJob as multi-document YAML (install with `kubectl apply --server-side -f -`).
    Crd(CrdArgs),
    /// Run the operator: the TrustAnchor, TrustedIssuer and ProofVerification controllers, with
    /// leader election, probes and metrics. Uses the in-cluster config or KUBECONFIG.
    Run(Box<crate::commands::run::RunArgs>),
    /// Check an installation (CRDs, trust, failing proofs, leader, webhook CA, replays) and
    /// print each problem with its fix. Exit 0 healthy, 1 problems found, 2 cluster unreachable.
    Doctor(crate::commands::doctor::DoctorArgs),
    /// TrustAnchors in the cluster.
    #[command(subcommand)]
    TrustAnchors(crate::commands::views::TrustAnchorsCommand),
    /// ProofVerifications in the cluster.
    #[command(subcommand)]
    Verifications(crate::commands::views::VerificationsCommand),
    /// Publish a proof bundle to a registry as an OCI artifact referring to an image digest.
    #[command(
        after_help = "Exit codes: 0 pushed, 1 the registry refused or failed, 2 bad usage or unreadable input."
    )]
    Push(crate::commands::registry::PushArgs),
    /// Fetch the proof bundle published for an image digest (the newest, if several).
    #[command(
        after_help = "Exit codes: 0 written, 1 none found or the registry failed, 2 bad usage or unreadable input."
    )]
    Pull(crate::commands::registry::PullArgs),
}

#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Instead of printing, write one file per CRD into this directory, named
    /// `<plural>.attestor.stellaops.io.yaml` (what `make crds` does for `crds/`).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The proof bundle (ZIP) to verify.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "image",
        conflicts_with = "image"
    )]
    pub bundle: Option<PathBuf>,
    /// Instead of a file: find what the registry holds for this image (OCI referrers, the
    /// fallback tag, cosign's .sig and .att tags) and verify it, as `cosign verify IMAGE`
    /// does: cosign signatures and attestations, Sigstore bundles and proof bundles. Pin it
    /// by digest: REGISTRY/REPOSITORY@sha256:...
    #[arg(long, value_name = "REF@sha256:...")]
    pub image: Option<String>,
    /// With --image: consider only candidates of this kind (CosignSignature,
    /// CosignAttestation, SigstoreBundle, ProofBundle). Repeatable; default all.
    #[arg(long = "kind", value_name = "KIND", requires = "image")]
    pub kinds: Vec<String>,
    #[command(flatten)]
    pub registry: crate::commands::registry::RegistryArgs,
    /// A trust anchor: a PEM file of public keys and/or root certificates, or
    /// a TrustAnchor YAML manifest (validity window and purposes honoured). Repeatable.
    #[arg(long = "trust-anchor", value_name = "FILE")]
    pub trust_anchors: Vec<PathBuf>,
    /// A PEM public key trusted for attestation signing only. Repeatable.
    #[arg(long = "public-key", value_name = "PEM")]
    pub public_keys: Vec<PathBuf>,
    /// Do not require a transparency-log entry; one present in the bundle is still verified.
    #[arg(long)]
    pub offline: bool,
    /// Run only these optional checks (rekorInclusion, timestampValid) besides
    /// signatureValid, idRecomputed and merklePathValid, which always run. Repeatable.
    #[arg(long = "check", value_name = "NAME")]
    pub checks: Vec<String>,
    /// The bundle must be about this artifact digest (sha256:...; for Sigstore bundles
    /// also sha384:... or sha512:...).
    #[arg(long, alias = "artifact-digest", value_name = "DIGEST")]
    pub artifact: Option<String>,
    /// Verify a Sigstore bundle (`*.sigstore.json`, v0.1-v0.3) against this Sigstore
    /// trusted root (trusted_root.json) instead of a proof bundle against trust anchors.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["tuf_mirror", "tuf_repository"])]
    pub trusted_root: Option<PathBuf>,
    /// Instead of --trusted-root: fetch the Sigstore trusted root (trusted_root.json) through
    /// TUF from this mirror (metadata at the URL, targets under targets/), every TUF rule
    /// enforced (root rotation, expiry, rollback, thresholds, target hashes). Needs --tuf-root.
    /// Fetched under the address policy (--fetch-allow-network for private mirrors).
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "tuf_repository",
        requires = "tuf_root"
    )]
    pub tuf_mirror: Option<String>,
    /// Like --tuf-mirror, from an offline copy of the repository in this directory.
    #[arg(long, value_name = "DIR", requires = "tuf_root")]
    pub tuf_repository: Option<PathBuf>,
    /// The TUF root.json trusted to start from (obtained out of band).
    #[arg(long, value_name = "FILE")]
    pub tuf_root: Option<PathBuf>,
    /// Where the TUF state (newest root, last timestamp and snapshot) is kept between runs,
    /// against rollback. Default: ~/.cache/attestor/tuf/<hash of the mirror or directory>.
    #[arg(long, value_name = "DIR")]
    pub tuf_state: Option<PathBuf>,
    /// Sigstore: the signing certificate's SAN (URI or email) must be exactly this.
    #[arg(
        long,
        value_name = "IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,
    /// Sigstore: the signing certificate's SAN must match this regular expression (RE2
    /// syntax, matched anywhere unless anchored with ^...$, as in cosign).
    #[arg(long, value_name = "REGEX")]
    pub certificate_identity_regexp: Option<String>,
    /// Sigstore: the certificate's OIDC issuer extension must be exactly this.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// Sigstore: the certificate's OIDC issuer must match this regular expression (RE2
    /// syntax, matched anywhere unless anchored with ^...$, as in cosign).
    #[arg(long, value_name = "REGEX")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub github: GitHubArgs,
    /// Sigstore: the signed artifact file (for DSSE, a subject of the in-toto statement).
    #[arg(long, value_name = "FILE", conflicts_with = "artifact")]
    pub artifact_file: Option<PathBuf>,
    /// Sigstore: the in-toto statement's predicateType must be this
    /// (e.g. https://slsa.dev/provenance/v1).
    #[arg(long, value_name = "URI")]
    pub predicate_type: Option<String>,
    /// Fail bundles signed longer ago than this (e.g. 720h, 30d).
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Tolerated clock difference between signer and verifier.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub clock_skew: String,
    /// Verify as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// Add the evidence behind each check: key ids, hashes compared.
    #[arg(long, short)]
    pub verbose: bool,
}

/// GitHub artifact attestations: the signer named as `gh attestation verify` names it,
/// instead of --certificate-identity and --certificate-oidc-issuer.
#[derive(Debug, Args, Default, Clone)]
pub struct GitHubArgs {
    /// The artifact was built from a repository of this GitHub owner (the certificate's
    /// SourceRepositoryOwnerURI), signed by a workflow under it unless --signer-* say otherwise.
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// The artifact was built from this repository (SourceRepositoryURI).
    #[arg(long, value_name = "OWNER/REPO")]
    pub repo: Option<String>,
    /// A reusable workflow of this repository signed.
    #[arg(long, value_name = "OWNER/REPO", conflicts_with = "signer_workflow")]
    pub signer_repo: Option<String>,
    /// This workflow signed: [HOST/]OWNER/REPO/.github/workflows/FILE, a pattern as gh takes it.
    #[arg(long, value_name = "WORKFLOW")]
    pub signer_workflow: Option<String>,
    /// The OIDC issuer (default GitHub Actions'; a GHE.com tenant has its own).
    #[arg(long, value_name = "URL")]
    pub cert_oidc_issuer: Option<String>,
    /// Only attestations signed on GitHub-hosted runners (RunnerEnvironment github-hosted).
    #[arg(long)]
    pub deny_self_hosted_runners: bool,
}

impl GitHubArgs {
    pub fn policy(&self) -> attestor_sigstore::github::GitHubPolicy {
        attestor_sigstore::github::GitHubPolicy {
            owner: self.owner.clone(),
            repo: self.repo.clone(),
            signer_repo: self.signer_repo.clone(),
            signer_workflow: self.signer_workflow.clone(),
            cert_oidc_issuer: self.cert_oidc_issuer.clone(),
            deny_self_hosted_runners: self.deny_self_hosted_runners,
        }
    }
}

/// How much evidence a Sigstore bundle must carry, named as sigstore-go's verifier options
/// and, for the same meaning, as cosign's flags.
#[derive(Debug, Args, Default, Clone)]
pub struct EvidenceArgs {
    /// Sigstore: verified transparency-log entries required (sigstore-go's
    /// WithTransparencyLog). Default: 1 when the trusted root lists a log, else 0.
    #[arg(long, value_name = "N")]
    pub tlog_threshold: Option<usize>,
    /// Sigstore: verified RFC 3161 timestamps required, one per timestamp authority
    /// (WithSignedTimestamps). Default: 1 when the trusted root has timestamp
    /// authorities and no log (GitHub's instance), else 0.
    #[arg(long, value_name = "N")]
    pub timestamp_threshold: Option<usize>,
    /// Sigstore: verified SCTs required in the signing certificate
    /// (WithSignedCertificateTimestamps). Default: 1 when the trusted root has CT logs.
    #[arg(long, value_name = "N")]
    pub sct_threshold: Option<usize>,
    /// cosign's name for --tlog-threshold 0.
    #[arg(long, conflicts_with = "tlog_threshold")]
    pub insecure_ignore_tlog: bool,
    /// cosign's name for --timestamp-threshold 1.
    #[arg(long, conflicts_with = "timestamp_threshold")]
    pub use_signed_timestamps: bool,
    /// cosign's name for --sct-threshold 0.
    #[arg(long, conflicts_with = "sct_threshold")]
    pub insecure_ignore_sct: bool,
    /// The oldest Sigstore bundle version accepted: 0.1 (default), 0.2 (what
    /// `gh attestation verify` accepts) or 0.3.
    #[arg(long, value_name = "VERSION", value_parser = ["0.1", "0.2", "0.3"])]
    pub min_bundle_version: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Extract the bundle's files into this directory (created if missing).
    /// Existing files and symbolic links are never written through: the
    /// command fails instead.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Sign a scan manifest and a proof ledger into a proof bundle.
    Create(BundleCreateArgs),
}

/// How a bundle is signed and logged: shared by `bundle create` and `score`.
#[derive(Debug, Args, Clone)]
pub struct SigningArgs {
    /// Private key (PKCS#8 PEM, P-256 or Ed25519; or SEC1 "EC PRIVATE KEY").
    #[arg(long, value_name = "PEM")]
    pub key: PathBuf,
    /// Signing certificate for the key, followed by intermediates (PEM).
    #[arg(long, value_name = "PEM")]
    pub certificate: Option<PathBuf>,
    /// Local transparency log state file (JSON); created if missing. Needs --tlog-key.
    #[arg(long, value_name = "FILE", requires = "tlog_key")]
    pub tlog: Option<PathBuf>,
    /// Private key that signs the log checkpoint.
    #[arg(long, value_name = "PEM", requires = "tlog")]
    pub tlog_key: Option<PathBuf>,
    /// Origin (name) of a new local log.
    #[arg(long, value_name = "NAME", default_value = "attestor.local/log")]
    pub tlog_origin: String,
}

#[derive(Debug, Args, Clone)]
pub struct BundleCreateArgs {
    /// The scan manifest (JSON, schema stellaops.io/scan-manifest/v1).
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// The proof ledger: {"nodes": [{"kind", "parents", "data"}]} where parents are
    /// indexes of earlier nodes or their ids. Ids and the Merkle root are computed.
    #[arg(long, value_name = "FILE")]
    pub ledger: PathBuf,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Signing time to record (RFC 3339); defaults to now.
    #[arg(long, value_name = "TIME")]
    pub signed_at: Option<String>,
    /// Where to write the bundle.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct ScoreArgs {
    /// The SBOM of the artifact: CycloneDX JSON, SPDX 2.2/2.3 JSON or SPDX 3.0
    /// JSON-LD (told by content).
    #[arg(long, value_name = "FILE")]
    pub sbom: PathBuf,
    /// The advisory feed snapshot: a directory or ZIP of OSV files (one
    /// advisory per .json, .yaml or .yml file, like OSV's all.zip exports), one
    /// OSV file, a JSON array of advisories, or a {"advisories": [...]} document.
    #[arg(long, value_name = "DIR|ZIP|FILE")]
    pub feed: PathBuf,
    /// The VEX document: OpenVEX, CSAF 2.0 VEX or CycloneDX VEX (a CycloneDX
    /// SBOM with vulnerabilities[].analysis may be given as both --sbom and --vex).
    #[arg(long, value_name = "FILE")]
    pub vex: PathBuf,
    /// The scoring policy (JSON, see docs/scoring.md section 9).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Digest of the scanned artifact (sha256:...).
    #[arg(long, value_name = "DIGEST")]
    pub artifact: String,
    /// Name of the artifact, recorded as the manifest's artifactName.
    #[arg(long, value_name = "NAME")]
    pub artifact_name: Option<String>,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// When the scan ran (RFC 3339), the manifest's createdAt and the signing time;
    /// defaults to now.
    #[arg(long, value_name = "TIME")]
    pub created_at: Option<String>,
    /// Where to write the bundle.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Also put the four inputs (in normal form) into this directory snapshot store
    /// (a path or file:///dir) and point its latest/<kind> at them.
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ReplayArgs {
    /// The proof bundle (ZIP) whose ledger is replayed. Its signature is not verified
    /// unless --trust-anchor is given.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Snapshot store holding the inputs: a directory, file:///dir or an http(s):// base URL.
    #[arg(long, value_name = "DIR|URL")]
    pub store: Option<String>,
    /// Use the feed snapshot the bundle names instead of the store's latest feed (all four
    /// inputs as scored: a reproducibility check).
    #[arg(long, conflicts_with = "feed_snapshot")]
    pub use_original_snapshots: bool,
    /// Use this feed snapshot from the store (sha256:...) instead of the latest.
    #[arg(long, value_name = "DIGEST")]
    pub feed_snapshot: Option<String>,
    /// Use this SBOM file instead of the bundle's.
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// Use this feed instead of a snapshot from the store: any form `score --feed`
    /// takes (a directory or ZIP of OSV files, an OSV file, a feed document).
    #[arg(long, value_name = "DIR|ZIP|FILE", conflicts_with_all = ["feed_snapshot", "use_original_snapshots"])]
    pub feed: Option<PathBuf>,
    /// Use this VEX file instead of the bundle's.
    #[arg(long, value_name = "FILE")]
    pub vex: Option<PathBuf>,
    /// Use this policy file instead of the bundle's.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// List the changed proof nodes and the input that caused each.
    #[arg(long)]
    pub diff: bool,
    /// Verify the bundle first (offline, as `attestor verify --offline`) against this trust
    /// anchor (PEM or TrustAnchor YAML). Repeatable.
    #[arg(long = "trust-anchor", value_name = "FILE")]
    pub trust_anchors: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a private key (PKCS#8 PEM) and its public key (PEM).
    Generate(KeysGenerateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    P256,
    Ed25519,
}

#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    #[arg(long, value_enum, default_value = "p256")]
    pub algorithm: KeyAlgorithm,
    /// Private key output; the public key goes to the same path with `.pub` before the extension.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}
