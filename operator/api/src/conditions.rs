//! Condition types and reasons of each kind, as constants for the controllers and as the table
//! `docs/crds.md` is generated from.
//!
//! Every status carries `conditions` in the standard `metav1.Condition` shape: `type`, `status`
//! (`True`, `False` or `Unknown`), `reason` (CamelCase, stable, for machines), `message` (for
//! people: what happened and what to do), `lastTransitionTime` and `observedGeneration`.

/// A condition type, what it means, and the reasons it is set with.
#[derive(Debug, Clone, Copy)]
pub struct ConditionDoc {
    /// The condition `type`.
    pub type_: &'static str,
    /// What `True` means.
    pub meaning: &'static str,
    /// The reasons, with the status they go with.
    pub reasons: &'static [ReasonDoc],
}

/// One reason a condition is set with.
#[derive(Debug, Clone, Copy)]
pub struct ReasonDoc {
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// The reason, CamelCase.
    pub reason: &'static str,
    /// When it is used.
    pub meaning: &'static str,
}

const fn r(status: &'static str, reason: &'static str, meaning: &'static str) -> ReasonDoc {
    ReasonDoc {
        status,
        reason,
        meaning,
    }
}

/// `TrustAnchor` is usable. The `READY` column.
pub const READY: &str = "Ready";
/// `TrustAnchor` expires within `spec.expiryWarning`.
pub const EXPIRING_SOON: &str = "ExpiringSoon";
/// `TrustedIssuer` may vouch for images. The `TRUSTED` column.
pub const TRUSTED: &str = "Trusted";
/// `ProofVerification`: the bundle verified. The `VERIFIED` and `REASON` columns.
pub const VERIFIED: &str = "Verified";
/// `ProofVerification`: the bundle could be read from its source.
pub const SOURCE_AVAILABLE: &str = "SourceAvailable";
/// `ReplayJob`: the last run completed.
pub const LAST_RUN_SUCCEEDED: &str = "LastRunSucceeded";
/// `ReplayJob`: a run is in progress.
pub const RUNNING: &str = "Running";

/// Conditions of a `TrustAnchor`.
pub const TRUST_ANCHOR: &[ConditionDoc] = &[
    ConditionDoc {
        type_: READY,
        meaning: "the key or certificate parses, uses a supported algorithm and is within its validity window; signatures can be verified with it",
        reasons: &[
            r("True", "Valid", "usable now"),
            r(
                "False",
                "InvalidKey",
                "`spec.publicKey` is not a well-formed PEM SubjectPublicKeyInfo",
            ),
            r(
                "False",
                "InvalidCertificate",
                "`spec.certificate` or `spec.intermediates` is not a well-formed PEM X.509 certificate",
            ),
            r(
                "False",
                "AlgorithmNotSupported",
                "the key is well-formed but neither ECDSA P-256 nor Ed25519",
            ),
            r(
                "False",
                "NotYetValid",
                "`spec.notBefore` (or the certificate's not-before) is in the future",
            ),
            r(
                "False",
                "Expired",
                "`spec.expires` (or the certificate's not-after) has passed: add the successor key and retire this one",
            ),
        ],
    },
    ConditionDoc {
        type_: EXPIRING_SOON,
        meaning: "the anchor expires within `spec.expiryWarning`: rotate now",
        reasons: &[
            r(
                "True",
                "ExpiresSoon",
                "`status.notAfter` is less than `spec.expiryWarning` away",
            ),
            r(
                "False",
                "NotExpiringSoon",
                "more than `spec.expiryWarning` remains, or the anchor has already expired (see `Ready`)",
            ),
            r(
                "False",
                "NoExpiry",
                "neither `spec.expires` nor a certificate bounds the anchor's validity",
            ),
        ],
    },
];

/// Conditions of a `TrustedIssuer`.
pub const TRUSTED_ISSUER: &[ConditionDoc] = &[ConditionDoc {
    type_: TRUSTED,
    meaning: "the issuer is approved and at least one of its keys is usable: ProofVerifications naming it can pass",
    reasons: &[
        r(
            "True",
            "Approved",
            "`spec.approval` is set and keys are available",
        ),
        r(
            "False",
            "ApprovalMissing",
            "`spec.approval` is missing: an unapproved issuer is never trusted",
        ),
        r(
            "False",
            "AnchorNotFound",
            "a TrustAnchor named in `spec.anchors` does not exist",
        ),
        r(
            "False",
            "AnchorNotReady",
            "a TrustAnchor named in `spec.anchors` is not `Ready`",
        ),
        r(
            "False",
            "KeyFetchFailed",
            "`spec.directory.url` could not be read and no keys were fetched before (`status.lastKeyFetchError`)",
        ),
        r(
            "False",
            "NoKeys",
            "neither the anchors nor the directory provide a usable key",
        ),
    ],
}];

/// The five checks of docs/proof-bundle-format.md section 10 as `ProofVerification`
/// condition types, their passing reasons and failure reasons.
pub const CHECKS: &[(&str, &str, &[&str])] = &[
    (
        "SignatureValid",
        "SignatureVerified",
        &[
            "PayloadTypeMismatch",
            "TrustAnchorNotFound",
            "SignatureInvalid",
            "KeyExpired",
            "KeyNotYetValid",
            "CertificateExpired",
            "CertificateNotYetValid",
            "CertificateChainInvalid",
            "AlgorithmNotSupported",
        ],
    ),
    (
        "IdRecomputed",
        "IdsMatch",
        &[
            "ArtifactDigestMismatch",
            "ManifestNotCanonicalizable",
            "ManifestMismatch",
            "ManifestIdMismatch",
            "StatementTypeMismatch",
            "SubjectMismatch",
            "NodeCountMismatch",
            "NodeIdMismatch",
            "ParentMissing",
            "NodeIdDuplicate",
        ],
    ),
    (
        "MerklePathValid",
        "RootMatches",
        &["EmptyLedger", "MerkleRootMismatch"],
    ),
    (
        "RekorInclusion",
        "InclusionVerified",
        &[
            "TransparencyLogEntryMissing",
            "CheckpointMalformed",
            "LogKeyNotTrusted",
            "CheckpointSignatureInvalid",
            "LogIdMismatch",
            "InclusionProofInvalid",
            "KeyExpired",
        ],
    ),
    (
        "TimestampValid",
        "WithinWindow",
        &[
            "TimestampMismatch",
            "TimestampOrderInvalid",
            "TimestampInFuture",
            "TimestampTooOld",
            "SignedOutsideKeyValidity",
        ],
    ),
];

/// Conditions of a `ProofVerification` besides the five checks (see [`CHECKS`]).
pub const PROOF_VERIFICATION: &[ConditionDoc] = &[
    ConditionDoc {
        type_: VERIFIED,
        meaning: "the bundle was read, the issuer is trusted for the image, and no check failed",
        reasons: &[
            r(
                "True",
                "Verified",
                "every check passed or was skipped by `spec.checks`. With `source.registry`, a verdict also stands, stale, while the registry cannot be read: until `source.registry.staleGracePeriod` has passed since `status.staleSince` (the message says until when)",
            ),
            r(
                "False",
                "<check failure reason>",
                "the failure reason of the first failing check, in the order SignatureValid, IdRecomputed, MerklePathValid, RekorInclusion, TimestampValid (e.g. `SignatureInvalid`, `NodeIdMismatch`)",
            ),
            r(
                "False",
                "SourceUnavailable",
                "the bundle could not be read (see `SourceAvailable`)",
            ),
            r(
                "False",
                "NoSignaturesFound",
                "`source.registry`: the registry holds no cosign signature, attestation, Sigstore bundle or proof bundle (of the kinds in `source.registry.kinds`) for the digest. Next: sign the image by digest (`cosign sign`, `cosign attest`, `attestor push`) into the same repository, or set `source.registry.repository` where the signatures are stored; looked at again after 30 s, then less often, at most every 10 min",
            ),
            r(
                "False",
                "<registry reason>",
                "`source.registry` could not be read and no verdict stands (see `SourceAvailable`): `RegistryUnavailable`, `RegistryAuthFailed`, `RateLimited`, `RegistryResponseInvalid`, `ImageNotFound`, `RegistryAddressDenied`, `PullSecretNotFound`, `PullSecretInvalid`, `InvalidImageReference`",
            ),
            r(
                "False",
                "<candidate reason>",
                "`source.registry`: no candidate verified; the reason of the first that failed (e.g. `SignatureInvalid`, `KeyMismatch`, `ImageDigestMismatch`, `StatementMismatch`, `PayloadInvalid`, `CandidateMalformed`, `IdentityMismatch`); `status.candidates` lists each with its reason",
            ),
            r(
                "False",
                "InputUnreadable",
                "the bundle was read but is not a well-formed proof bundle or envelope",
            ),
            r(
                "False",
                "IssuerNotFound",
                "`spec.issuerRef` names no TrustedIssuer",
            ),
            r(
                "False",
                "IssuerNotTrusted",
                "the TrustedIssuer is not `Trusted` (for example not approved)",
            ),
            r(
                "False",
                "ImageNotInScope",
                "`spec.image` matches none of the issuer's `scope.images`",
            ),
            r("Unknown", "Pending", "not verified yet"),
        ],
    },
    ConditionDoc {
        type_: SOURCE_AVAILABLE,
        meaning: "the bundle or envelope was read from `spec.source`",
        reasons: &[
            r(
                "True",
                "Fetched",
                "read, and matching `source.url.digest` when given; for `source.registry`, the registry answered (the message says how many candidates it holds; `status.candidates` lists them)",
            ),
            r(
                "False",
                "ConfigMapNotFound",
                "the ConfigMap of `source.configMapKeyRef` does not exist",
            ),
            r(
                "False",
                "SecretNotFound",
                "the Secret of `source.secretKeyRef` does not exist",
            ),
            r(
                "False",
                "KeyNotFound",
                "the ConfigMap or Secret has no such key",
            ),
            r(
                "False",
                "SourceUnavailable",
                "`source.url` could not be downloaded (connection, TLS, timeout, HTTP error or a bad redirect) after the retries",
            ),
            r(
                "False",
                "SourceNotFound",
                "`source.url` answered 404 or 410",
            ),
            r(
                "False",
                "SourceTooLarge",
                "the proof is larger than the operator's `--max-bundle-bytes`",
            ),
            r(
                "False",
                "InvalidSourceUrl",
                "`source.url` is malformed, not http(s), carries credentials, or reaches a denied network (by default every address that is not globally reachable; `--fetch-allow-network` admits one)",
            ),
            r(
                "False",
                "SourceHostReserved",
                "the host of `source.url` (or of a redirect) is a name reserved for documentation or tests (`.example`, `.test`, `.invalid`, `example.com`, `example.net`, `example.org` and names under them, RFC 2606/6761): refused without a DNS query, and not retried",
            ),
            r(
                "False",
                "DigestMismatch",
                "the downloaded bytes do not match `source.url.digest`",
            ),
            r(
                "False",
                "RegistryUnavailable",
                "`source.registry`: the registry could not be reached, timed out or kept answering 5xx after the retries. Next: check that it is up and reachable from the operator (and its address allowed: `--fetch-allow-network`); a verdict already reached stands meanwhile",
            ),
            r(
                "False",
                "RegistryAuthFailed",
                "`source.registry`: the registry or its token service refused the credentials, or asked for some and none were given. Next: name a `kubernetes.io/dockerconfigjson` Secret that may pull the repository in `source.registry.pullSecrets`",
            ),
            r(
                "False",
                "RateLimited",
                "`source.registry`: the registry answered 429 for longer than the operator waits. Next: authenticate (`pullSecrets`) for a higher limit, or read through a mirror (`--registry-mirror`); retried with backoff",
            ),
            r(
                "False",
                "RegistryResponseInvalid",
                "`source.registry`: the registry sent a malformed or oversized manifest, index or blob, or one whose bytes do not match its digest. Next: report it to the registry's operators; it is not retried until the next recheck",
            ),
            r(
                "False",
                "ImageNotFound",
                "`source.registry`: the repository or the digest does not exist in the registry. Next: check `spec.image` (or `source.registry.repository`) and `spec.artifactDigest`",
            ),
            r(
                "False",
                "RegistryAddressDenied",
                "`source.registry`: the registry's address (or a redirect's, e.g. blob storage) is in a denied network. Next: allow it with `--fetch-allow-network` if it is trusted",
            ),
            r(
                "False",
                "PullSecretNotFound",
                "a Secret of `source.registry.pullSecrets` does not exist in the namespace",
            ),
            r(
                "False",
                "PullSecretInvalid",
                "a Secret of `source.registry.pullSecrets` is not of type `kubernetes.io/dockerconfigjson` with a `.dockerconfigjson` key holding a docker config.json (`kubectl create secret docker-registry`)",
            ),
            r(
                "False",
                "InvalidImageReference",
                "`source.registry.repository` (or `spec.image`) is not an image reference",
            ),
        ],
    },
];

/// Conditions of a `ReplayJob`.
pub const REPLAY_JOB: &[ConditionDoc] = &[
    ConditionDoc {
        type_: READY,
        meaning: "the job is valid and will run on its schedule or trigger",
        reasons: &[
            r(
                "True",
                "Scheduled",
                "the next run is at `status.nextRunTime`",
            ),
            r(
                "True",
                "WaitingForTrigger",
                "no schedule: runs when a new feed snapshot appears",
            ),
            r(
                "True",
                "Suspended",
                "`spec.suspend` is true: no new runs start",
            ),
            r(
                "False",
                "InvalidSchedule",
                "`spec.schedule` has the right shape but is not a valid cron expression",
            ),
            r(
                "False",
                "InvalidTimeZone",
                "`spec.timeZone` is not a known IANA time zone",
            ),
            r(
                "False",
                "StoreUnavailable",
                "`spec.store.url` cannot be read",
            ),
            r(
                "False",
                "InvalidSelector",
                "`spec.selector` is not a valid label selector",
            ),
            r("False", "InvalidMaxAge", "`spec.maxAge` is not a duration"),
        ],
    },
    ConditionDoc {
        type_: RUNNING,
        meaning: "a run is in progress in the leading operator replica",
        reasons: &[
            r(
                "True",
                "Running",
                "a run is replaying proofs (`status.lastRun`)",
            ),
            r("False", "Idle", "no run is in progress"),
        ],
    },
    ConditionDoc {
        type_: LAST_RUN_SUCCEEDED,
        meaning: "the last run replayed every selected verification (drift is a finding, not a failure: see `status.drifted`)",
        reasons: &[
            r("True", "AllReproduced", "every replayed proof root matched"),
            r(
                "True",
                "DriftDetected",
                "the run completed and some proof roots changed",
            ),
            r(
                "False",
                "ReplayFailed",
                "some replays could not be run (`status.lastRun.failed`)",
            ),
            r(
                "False",
                "DeadlineExceeded",
                "the run could not start within `spec.startingDeadlineSeconds`",
            ),
            r(
                "False",
                "Cancelled",
                "the run was cancelled (`concurrencyPolicy: Replace`, deletion, or the operator stopping)",
            ),
            r("Unknown", "NeverRun", "the job has not run yet"),
        ],
    },
];
