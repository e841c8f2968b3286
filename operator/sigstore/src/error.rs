/// Why a Sigstore bundle did not verify. `reason()` is the stable string used in
/// reports; `is_input_error()` separates unreadable input (exit 2) from failed
/// verification (exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigstoreError {
    #[error("the Sigstore bundle is unreadable: {0}")]
    BundleMalformed(String),
    #[error("the trusted root is unreadable: {0}")]
    TrustedRoot(String),
    #[error(
        "the bundle's media type {0:?} is not a supported Sigstore bundle version (0.1, 0.2, 0.3)"
    )]
    UnsupportedVersion(String),
    #[error("the bundle is invalid: {0}")]
    BundleInvalid(String),
    #[error("signature does not verify: {0}")]
    SignatureInvalid(String),
    #[error("the artifact does not match the bundle: {0}")]
    ArtifactMismatch(String),
    #[error(
        "the signing certificate does not chain to a certificate authority of the trusted root: {0}"
    )]
    CertificateChainInvalid(String),
    #[error("the signing certificate has no valid SCT from a CT log of the trusted root: {0}")]
    SctInvalid(String),
    #[error("the signing identity does not match the policy: {0}")]
    IdentityMismatch(String),
    #[error("transparency log entry: {0}")]
    TlogEntryInvalid(String),
    #[error("transparency log inclusion proof: {0}")]
    InclusionProofInvalid(String),
    #[error("transparency log checkpoint: {0}")]
    CheckpointInvalid(String),
    #[error("signed entry timestamp: {0}")]
    SetInvalid(String),
    #[error("RFC 3161 timestamp: {0}")]
    TimestampInvalid(String),
    #[error("no verified signing time: {0}")]
    NoSigningTime(String),
    #[error("in-toto statement: {0}")]
    StatementMismatch(String),
    #[error("key: {0}")]
    KeyMismatch(String),
    #[error("the artifact is needed: {0}")]
    ArtifactRequired(String),
    #[error("the bundle's version is older than the policy accepts: {0}")]
    VersionNotAccepted(String),
}

impl SigstoreError {
    pub fn reason(&self) -> &'static str {
        match self {
            SigstoreError::BundleMalformed(_) => "BundleMalformed",
            SigstoreError::TrustedRoot(_) => "TrustedRootInvalid",
            SigstoreError::UnsupportedVersion(_) => "BundleVersionUnsupported",
            SigstoreError::BundleInvalid(_) => "BundleInvalid",
            SigstoreError::SignatureInvalid(_) => "SignatureInvalid",
            SigstoreError::ArtifactMismatch(_) => "ArtifactDigestMismatch",
            SigstoreError::CertificateChainInvalid(_) => "CertificateChainInvalid",
            SigstoreError::SctInvalid(_) => "SctInvalid",
            SigstoreError::IdentityMismatch(_) => "IdentityMismatch",
            SigstoreError::TlogEntryInvalid(_) => "TlogEntryInvalid",
            SigstoreError::InclusionProofInvalid(_) => "InclusionProofInvalid",
            SigstoreError::CheckpointInvalid(_) => "CheckpointInvalid",
            SigstoreError::SetInvalid(_) => "SignedEntryTimestampInvalid",
            SigstoreError::TimestampInvalid(_) => "TimestampInvalid",
            SigstoreError::NoSigningTime(_) => "SigningTimeNotVerified",
            SigstoreError::StatementMismatch(_) => "StatementMismatch",
            SigstoreError::KeyMismatch(_) => "KeyMismatch",
            SigstoreError::ArtifactRequired(_) => "ArtifactRequired",
            SigstoreError::VersionNotAccepted(_) => "BundleVersionNotAccepted",
        }
    }

    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            SigstoreError::BundleMalformed(_)
                | SigstoreError::TrustedRoot(_)
                | SigstoreError::UnsupportedVersion(_)
        )
    }
}
