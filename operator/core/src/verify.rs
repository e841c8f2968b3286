//! The five checks and the verification report.
//!
//! Every check always appears in the report, passed, failed or skipped, with a
//! stable reason and a message saying what to do; a failing check never hides
//! the others, because an operator fixing one problem wants to see them all.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use serde_json::Value;

use crate::bundle::{
    Bundle, BundleError, BundleMeta, LedgerSummary, MANIFEST_DSSE, MANIFEST_PAYLOAD_TYPE,
    OpenedBundle, PREDICATE_TYPE, PROOF_ROOT_DSSE, STATEMENT_TYPE, ScanManifest, SignedEntries,
    Statement, StatementError,
};
use crate::canonical;
use crate::digest::Sha256Digest;
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::trust::{Purpose, TrustStore, VerifiedSigner};
use crate::x509::Certificate;
use crate::zip::ZipLimits;

/// The checks, by their stable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CheckName {
    #[serde(rename = "signatureValid")]
    SignatureValid,
    #[serde(rename = "idRecomputed")]
    IdRecomputed,
    #[serde(rename = "merklePathValid")]
    MerklePathValid,
    #[serde(rename = "rekorInclusion")]
    RekorInclusion,
    #[serde(rename = "timestampValid")]
    TimestampValid,
}

impl CheckName {
    pub const ALL: [CheckName; 5] = [
        CheckName::SignatureValid,
        CheckName::IdRecomputed,
        CheckName::MerklePathValid,
        CheckName::RekorInclusion,
        CheckName::TimestampValid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::SignatureValid => "signatureValid",
            CheckName::IdRecomputed => "idRecomputed",
            CheckName::MerklePathValid => "merklePathValid",
            CheckName::RekorInclusion => "rekorInclusion",
            CheckName::TimestampValid => "timestampValid",
        }
    }

    /// The Kubernetes condition type for this check.
    pub fn condition_type(self) -> &'static str {
        match self {
            CheckName::SignatureValid => "SignatureValid",
            CheckName::IdRecomputed => "IdRecomputed",
            CheckName::MerklePathValid => "MerklePathValid",
            CheckName::RekorInclusion => "RekorInclusion",
            CheckName::TimestampValid => "TimestampValid",
        }
    }

    /// Signature, ids and Merkle root are what make a bundle mean anything;
    /// they can never be skipped on request. (The ledger checks are reported
    /// `Skipped` with reason `NotAuthenticated` when [`verify_zip`] did not
    /// read the ledger because the signatures failed, which fails the
    /// verification anyway.)
    pub fn skippable(self) -> bool {
        matches!(self, CheckName::RekorInclusion | CheckName::TimestampValid)
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    pub name: CheckName,
    pub status: CheckStatus,
    pub reason: String,
    pub message: String,
    /// Key ids, hashes compared and other evidence, shown with `--verbose`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<(String, String)>,
}

impl CheckOutcome {
    fn pass(name: CheckName, reason: &str, message: impl Into<String>) -> Self {
        Self {
            name,
            status: CheckStatus::Pass,
            reason: reason.into(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    fn fail(name: CheckName, reason: &str, message: impl Into<String>) -> Self {
        Self {
            name,
            status: CheckStatus::Fail,
            reason: reason.into(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    fn skipped(name: CheckName, reason: &str, message: impl Into<String>) -> Self {
        Self {
            name,
            status: CheckStatus::Skipped,
            reason: reason.into(),
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.evidence.push((key.to_string(), value.to_string()));
        self
    }
}

/// What to do about the transparency log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlogPolicy {
    /// The bundle must carry a log entry, and it must verify.
    Required,
    /// Offline sites: verify the entry when the bundle has one, skip otherwise.
    IfPresent,
    /// Do not look at the log entry at all.
    Skip,
}

/// The accepted window for the signed timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampWindow {
    /// Bundles signed longer ago than this fail; `None` accepts any age.
    pub max_age: Option<SignedDuration>,
    /// Tolerated clock difference between signer and verifier.
    pub clock_skew: SignedDuration,
}

impl Default for TimestampWindow {
    fn default() -> Self {
        Self {
            max_age: None,
            clock_skew: SignedDuration::from_mins(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The verification time: validity periods and ages are judged against it.
    pub at: Timestamp,
    pub tlog: TlogPolicy,
    /// `None` skips the timestamp check.
    pub timestamps: Option<TimestampWindow>,
    /// When set, the bundle must be about this artifact.
    pub expected_artifact: Option<Sha256Digest>,
}

impl VerifyOptions {
    pub fn at(at: Timestamp) -> Self {
        Self {
            at,
            tlog: TlogPolicy::Required,
            timestamps: Some(TimestampWindow::default()),
            expected_artifact: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerSummary {
    pub key_id: String,
    pub algorithm: String,
    pub anchor: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificate_path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationReport {
    pub verified: bool,
    /// `Verified`, or the reason of the first failed check.
    pub reason: String,
    pub message: String,
    pub artifact_digest: String,
    pub manifest_id: String,
    pub proof_root_hash: String,
    pub signer: Option<SignerSummary>,
    pub verified_at: Timestamp,
    /// When the trust behind this result runs out (key or certificate expiry).
    pub valid_until: Option<Timestamp>,
    pub checks: Vec<CheckOutcome>,
}

impl VerificationReport {
    pub fn check(&self, name: CheckName) -> Option<&CheckOutcome> {
        self.checks.iter().find(|c| c.name == name)
    }
}

fn summarize(s: &VerifiedSigner) -> SignerSummary {
    SignerSummary {
        key_id: s.key_id.to_string(),
        algorithm: s.algorithm.to_string(),
        anchor: s.anchor.clone(),
        certificate_path: s.certificate_path.clone(),
    }
}

/// The reason of the ledger checks when the ledger was not read.
pub const NOT_AUTHENTICATED: &str = "NotAuthenticated";

/// Runs every check on a parsed bundle.
///
/// The bundle's ledger has been read already, signed or not; to verify
/// untrusted bytes, [`verify_zip`] spends nothing on the ledger of a bundle
/// whose signatures fail.
pub fn verify_bundle(
    bundle: &Bundle,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> VerificationReport {
    let parts = Parts::of_bundle(bundle);
    let signature = check_signatures(&parts, trust, opts);
    run_checks(&parts, Some(&bundle.ledger), signature, trust, opts)
}

/// Reads and verifies a bundle from ZIP bytes, authenticating it before
/// its ledger is read.
///
/// The archive's structure and every entry but `score_proof.json` are read
/// first (all bounded by [`crate::bundle::ENTRY_LIMITS`] to well under a
/// megabyte); then both envelopes' signatures are checked; only when they
/// hold is the ledger streamed and the report the one [`verify_bundle`]
/// gives. When they do not, the ledger is not read at all: the report still
/// has every check, signature failing, and those that need the ledger
/// (`merklePathValid`, and `idRecomputed` when the signed entries agree
/// among themselves) skipped with reason [`NOT_AUTHENTICATED`].
///
/// An error is an unreadable bundle, as from [`Bundle::from_zip`]; a ledger
/// that cannot be read is only an error once the signatures hold.
pub fn verify_zip(
    archive: &[u8],
    limits: &ZipLimits,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerificationReport, BundleError> {
    let opened = OpenedBundle::open(archive, limits)?;
    let signature = check_signatures(&Parts::of_signed(&opened.signed), trust, opts);
    if signature.0.status != CheckStatus::Pass {
        let parts = Parts::of_signed(&opened.signed);
        return Ok(run_checks(&parts, None, signature, trust, opts));
    }
    let bundle = opened.read_ledger()?;
    let parts = Parts::of_bundle(&bundle);
    Ok(run_checks(
        &parts,
        Some(&bundle.ledger),
        signature,
        trust,
        opts,
    ))
}

/// What the checks read of a bundle, borrowed from a [`Bundle`] or from
/// the [`SignedEntries`] of one whose ledger is not read.
struct Parts<'b> {
    manifest_value: &'b Value,
    manifest: &'b ScanManifest,
    manifest_envelope: &'b Envelope,
    proof_root_envelope: &'b Envelope,
    proof_root_envelope_value: &'b Value,
    statement: &'b Statement,
    meta: &'b BundleMeta,
    certificates: &'b [Certificate],
}

impl<'b> Parts<'b> {
    fn of_bundle(b: &'b Bundle) -> Self {
        Self {
            manifest_value: &b.manifest_value,
            manifest: &b.manifest,
            manifest_envelope: &b.manifest_envelope,
            proof_root_envelope: &b.proof_root_envelope,
            proof_root_envelope_value: &b.proof_root_envelope_value,
            statement: &b.statement,
            meta: &b.meta,
            certificates: &b.certificates,
        }
    }

    fn of_signed(s: &'b SignedEntries) -> Self {
        Self {
            manifest_value: &s.manifest_value,
            manifest: &s.manifest,
            manifest_envelope: &s.manifest_envelope,
            proof_root_envelope: &s.proof_root_envelope,
            proof_root_envelope_value: &s.proof_root_envelope_value,
            statement: &s.statement,
            meta: &s.meta,
            certificates: &s.certificates,
        }
    }
}

/// The checks after the signature's, on `ledger` when it was read.
fn run_checks(
    parts: &Parts<'_>,
    ledger: Option<&LedgerSummary>,
    (signature, signers): (CheckOutcome, Vec<VerifiedSigner>),
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> VerificationReport {
    let (ids, manifest_id) = check_ids(parts, ledger, opts);
    let (merkle, root) = match ledger {
        Some(ledger) => check_merkle(parts, ledger),
        // Named as the statement claims it, like a bare envelope's: nothing
        // recomputed it, and the failed signature says it is not vouched for.
        None => (
            CheckOutcome::skipped(
                CheckName::MerklePathValid,
                NOT_AUTHENTICATED,
                "score_proof.json was not read, because the bundle's signatures did not verify (see signatureValid): the ledger's root is not recomputed; fix what signatureValid reports (trust the signer's anchor, or re-create and sign the bundle) and verify again",
            ),
            parts.statement.predicate.proof_root_hash,
        ),
    };
    let (tlog, log_signer) = check_tlog(parts, trust, opts);
    let timestamp = check_timestamps(parts, opts, &signers);
    report(
        [signature, ids, merkle, tlog, timestamp],
        signers,
        log_signer,
        Named {
            artifact_digest: parts.manifest.artifact_digest.to_string(),
            manifest_id: manifest_id.map(|m| m.to_string()).unwrap_or_default(),
            proof_root_hash: root.to_string(),
        },
        opts,
    )
}

/// Runs every check on a bare DSSE envelope holding the proof-root statement
/// (what `proof_root.dsse.json` is inside a bundle).
///
/// No ledger, manifest, certificates or log entry travel with it, so the
/// signature, the statement and the signing time are checked,
/// `merklePathValid` is skipped (`NoLedger`) and `rekorInclusion` fails when
/// a log entry is required. The report names the manifest id and proof root
/// as signed: nothing here recomputes them.
pub fn verify_envelope(
    envelope: &Envelope,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> VerificationReport {
    let statement = Statement::from_payload(&envelope.payload);
    let (signature, signers) = check_envelope_signature(envelope, trust, opts);
    let (ids, artifact) = check_statement(&statement, opts);
    let signed = statement.as_ref().ok().map(|st| &st.predicate);
    let merkle = CheckOutcome::skipped(
        CheckName::MerklePathValid,
        "NoLedger",
        match signed {
            Some(p) => format!(
                "a bare envelope carries no ledger: the signed proof root {} is reported but not recomputed; verify the full proof bundle to check it",
                p.proof_root_hash
            ),
            None => "a bare envelope carries no ledger, and this one holds no proof root (see idRecomputed); verify the full proof bundle".to_string(),
        },
    );
    let tlog = tlog_without_entry(
        opts,
        "a bare envelope carries no transparency-log entry: verify the proof bundle, which carries it, or set checks.transparencyLog to IfPresent or Skip (CLI: --offline)",
        "offline verification, and a bare envelope carries no transparency-log entry",
    );
    let timestamp = match &statement {
        Ok(st) => check_signing_time(
            opts,
            "envelope",
            st.predicate.signed_at,
            None,
            &signers,
            |_| None,
        ),
        Err(_) => CheckOutcome::skipped(
            CheckName::TimestampValid,
            &ids.reason,
            "the envelope's payload is not the score-proof statement, so there is no signing time to check (see idRecomputed)",
        ),
    };
    let digest = |d: Option<Sha256Digest>| d.map(|d| d.to_string()).unwrap_or_default();
    report(
        [signature, ids, merkle, tlog, timestamp],
        signers,
        None,
        Named {
            artifact_digest: digest(artifact),
            manifest_id: digest(signed.map(|p| p.manifest_id)),
            proof_root_hash: digest(signed.map(|p| p.proof_root_hash)),
        },
        opts,
    )
}

/// What a report is about, besides its checks.
struct Named {
    artifact_digest: String,
    manifest_id: String,
    proof_root_hash: String,
}

/// The verdict of the checks: the first failing one gives the reason.
fn report(
    checks: [CheckOutcome; 5],
    signers: Vec<VerifiedSigner>,
    log_signer: Option<VerifiedSigner>,
    named: Named,
    opts: &VerifyOptions,
) -> VerificationReport {
    let failed = checks.iter().find(|c| c.status == CheckStatus::Fail);
    let verified = failed.is_none();
    let (reason, message) = match failed {
        Some(c) => (
            c.reason.clone(),
            format!("{}: {}", c.name.as_str(), c.message),
        ),
        None => (
            "Verified".to_string(),
            format!("artifact {} is verified", named.artifact_digest),
        ),
    };
    // Only a trusted signature makes the signer and its validity worth reporting.
    let signers = if checks[0].status == CheckStatus::Pass {
        signers
    } else {
        Vec::new()
    };
    let valid_until = signers
        .iter()
        .chain(log_signer.iter())
        .filter_map(|s| s.valid_until)
        .min();
    VerificationReport {
        verified,
        reason,
        message,
        artifact_digest: named.artifact_digest,
        manifest_id: named.manifest_id,
        proof_root_hash: named.proof_root_hash,
        signer: signers.first().map(summarize),
        verified_at: opts.at,
        valid_until,
        checks: checks.into(),
    }
}

/// Verifies one envelope, which must have `payload_type`: its trusted signer,
/// or the failed signature check naming `entry`.
fn verify_signed(
    entry: &str,
    envelope: &Envelope,
    payload_type: &str,
    certificates: &[Certificate],
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<VerifiedSigner, CheckOutcome> {
    const C: CheckName = CheckName::SignatureValid;
    if envelope.payload_type != payload_type {
        return Err(CheckOutcome::fail(
            C,
            "PayloadTypeMismatch",
            format!(
                "{entry} has payloadType {:?}, expected {payload_type:?}: a signature made for another kind of document is not accepted",
                envelope.payload_type
            ),
        ));
    }
    trust
        .verify_envelope(envelope, certificates, Purpose::AttestationSigning, opts.at)
        .map_err(|failure| CheckOutcome::fail(C, failure.reason(), format!("{entry}: {failure}")))
}

/// Adds each signer, labelled by the entry it signed, to the evidence.
fn signer_evidence(
    mut outcome: CheckOutcome,
    signed_by: &[(&str, VerifiedSigner)],
) -> CheckOutcome {
    for (entry, s) in signed_by {
        outcome = outcome.with(
            &format!("{entry} signer"),
            format!("{} ({}, anchor {})", s.key_id, s.algorithm, s.anchor),
        );
        if !s.certificate_path.is_empty() {
            outcome = outcome.with(
                &format!("{entry} certificate path"),
                s.certificate_path.join(" -> "),
            );
        }
    }
    outcome
}

fn check_signatures(
    bundle: &Parts<'_>,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> (CheckOutcome, Vec<VerifiedSigner>) {
    const C: CheckName = CheckName::SignatureValid;
    let envelopes = [
        (
            MANIFEST_DSSE,
            bundle.manifest_envelope,
            MANIFEST_PAYLOAD_TYPE,
        ),
        (
            PROOF_ROOT_DSSE,
            bundle.proof_root_envelope,
            PAYLOAD_TYPE_IN_TOTO,
        ),
    ];
    // Each signer with the entry it signed, so evidence is labelled right
    // even when only one of the two envelopes verified.
    let mut signed_by: Vec<(&str, VerifiedSigner)> = Vec::new();
    let mut outcome = None;
    for (entry, envelope, payload_type) in envelopes {
        match verify_signed(
            entry,
            envelope,
            payload_type,
            bundle.certificates,
            trust,
            opts,
        ) {
            Ok(signer) => signed_by.push((entry, signer)),
            Err(failed) => {
                outcome.get_or_insert(failed);
            }
        }
    }
    let outcome = outcome.unwrap_or_else(|| {
        let s = &signed_by[0].1;
        let same = signed_by.iter().all(|(_, o)| o.key_id == s.key_id);
        let who = if same {
            format!("key {}", s.key_id)
        } else {
            "trusted keys".to_string()
        };
        CheckOutcome::pass(
            C,
            "SignatureVerified",
            format!(
                "both envelopes are signed by {who} (trust anchor {})",
                s.anchor
            ),
        )
    });
    let outcome = signer_evidence(outcome, &signed_by);
    (outcome, signed_by.into_iter().map(|(_, s)| s).collect())
}

/// The signature check of a bare envelope: the same rules as for the
/// proof-root envelope of a bundle, without certificates.
fn check_envelope_signature(
    envelope: &Envelope,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> (CheckOutcome, Vec<VerifiedSigner>) {
    const ENTRY: &str = "envelope";
    match verify_signed(ENTRY, envelope, PAYLOAD_TYPE_IN_TOTO, &[], trust, opts) {
        Ok(s) => {
            let outcome = CheckOutcome::pass(
                CheckName::SignatureValid,
                "SignatureVerified",
                format!(
                    "the envelope is signed by key {} (trust anchor {})",
                    s.key_id, s.anchor
                ),
            );
            (signer_evidence(outcome, &[(ENTRY, s.clone())]), vec![s])
        }
        Err(mut failed) => {
            if failed.reason == "TrustAnchorNotFound" {
                failed.message.push_str(
                    "; a bare envelope carries no certificates, so a signing key certified by a CA is only trusted through the proof bundle, whose meta.json ships the certificate chain",
                );
            }
            (failed, Vec::new())
        }
    }
}

/// The identity check; without `ledger` (not read, because the signatures
/// failed) only what the signed entries show among themselves.
fn check_ids(
    bundle: &Parts<'_>,
    ledger: Option<&LedgerSummary>,
    opts: &VerifyOptions,
) -> (CheckOutcome, Option<Sha256Digest>) {
    const C: CheckName = CheckName::IdRecomputed;
    let manifest_bytes = match canonical::to_canonical_bytes(bundle.manifest_value) {
        Ok(b) => b,
        Err(e) => {
            return (
                CheckOutcome::fail(
                    C,
                    "ManifestNotCanonicalizable",
                    format!("manifest.json: {e}"),
                ),
                None,
            );
        }
    };
    let manifest_id = Sha256Digest::of(&manifest_bytes);
    let fail =
        |reason: &str, message: String| (CheckOutcome::fail(C, reason, message), Some(manifest_id));
    let st = bundle.statement;
    let m = bundle.manifest;

    if let Some(expected) = opts.expected_artifact
        && expected != m.artifact_digest
    {
        return fail(
            "ArtifactDigestMismatch",
            format!(
                "the bundle is about artifact {}, not the requested {expected}",
                m.artifact_digest
            ),
        );
    }
    if bundle.manifest_envelope.payload != manifest_bytes {
        return fail(
            "ManifestMismatch",
            format!(
                "manifest.dsse.json signs manifest {}, but manifest.json is {manifest_id}: the manifest was changed after signing; re-create the bundle",
                Sha256Digest::of(&bundle.manifest_envelope.payload)
            ),
        );
    }
    if let Some(ledger) = ledger
        && ledger.manifest_id != manifest_id
    {
        return fail(
            "ManifestIdMismatch",
            format!(
                "score_proof.json names manifest {}, but manifest.json is {manifest_id}",
                ledger.manifest_id
            ),
        );
    }
    if let Some(message) = statement_type_mismatch(&st.statement_type, &st.predicate_type) {
        return fail("StatementTypeMismatch", message);
    }
    if st.predicate.manifest_id != manifest_id {
        return fail(
            "ManifestIdMismatch",
            format!(
                "the signed statement names manifest {}, but manifest.json is {manifest_id}",
                st.predicate.manifest_id
            ),
        );
    }
    let hex = m.artifact_digest.hex();
    if !st
        .subject
        .iter()
        .any(|s| s.digest.get("sha256") == Some(&hex))
    {
        return fail(
            "SubjectMismatch",
            format!(
                "the signed statement's subject does not include artifact {} named by manifest.json",
                m.artifact_digest
            ),
        );
    }
    let Some(ledger) = ledger else {
        let outcome = CheckOutcome::skipped(
            C,
            NOT_AUTHENTICATED,
            format!(
                "manifest id {manifest_id} matches the signed copies, but score_proof.json was not read, because the bundle's signatures did not verify (see signatureValid): the ledger's node ids are not recomputed; fix what signatureValid reports and verify again"
            ),
        )
        .with("manifest id", manifest_id)
        .with("artifact digest", m.artifact_digest);
        return (outcome, Some(manifest_id));
    };
    if st.predicate.node_count != ledger.node_count {
        return fail(
            "NodeCountMismatch",
            format!(
                "the signed statement counts {} ledger nodes, score_proof.json has {}",
                st.predicate.node_count, ledger.node_count
            ),
        );
    }
    if let Some(problem) = &ledger.problem {
        return fail(problem.reason, problem.message.clone());
    }
    let outcome = CheckOutcome::pass(
        C,
        "IdsMatch",
        format!(
            "manifest id {manifest_id} and {} ledger node ids recomputed",
            ledger.node_count
        ),
    )
    .with("manifest id", manifest_id)
    .with("artifact digest", m.artifact_digest)
    .with("ledger nodes", ledger.node_count);
    (outcome, Some(manifest_id))
}

/// What is wrong when a statement is not the score-proof statement.
fn statement_type_mismatch(statement_type: &str, predicate_type: &str) -> Option<String> {
    (statement_type != STATEMENT_TYPE || predicate_type != PREDICATE_TYPE).then(|| {
        format!(
            "the signed statement is {statement_type:?} with predicate {predicate_type:?}; expected {STATEMENT_TYPE:?} with {PREDICATE_TYPE:?}"
        )
    })
}

/// The identity check of a bare envelope: only what the statement alone can
/// show (its type and its subject). Also returns the artifact the report
/// names: the requested one when the statement is about it, else the first subject.
fn check_statement(
    statement: &Result<Statement, StatementError>,
    opts: &VerifyOptions,
) -> (CheckOutcome, Option<Sha256Digest>) {
    const C: CheckName = CheckName::IdRecomputed;
    let st = match statement {
        Ok(st) => st,
        Err(
            e @ StatementError::OtherType {
                statement_type,
                predicate_type,
            },
        ) => {
            let message = statement_type_mismatch(statement_type, predicate_type)
                .unwrap_or_else(|| e.to_string());
            return (
                CheckOutcome::fail(C, "StatementTypeMismatch", message),
                None,
            );
        }
        Err(e) => {
            return (
                CheckOutcome::fail(
                    C,
                    "StatementMalformed",
                    format!(
                        "the envelope's {e}: a bare envelope must sign the proof-root statement of a proof bundle (proof_root.dsse.json)"
                    ),
                ),
                None,
            );
        }
    };
    let subjects: Vec<Sha256Digest> = st
        .subject
        .iter()
        .filter_map(|s| Sha256Digest::from_hex(s.digest.get("sha256")?).ok())
        .collect();
    let artifact = opts
        .expected_artifact
        .filter(|a| subjects.contains(a))
        .or(subjects.first().copied());
    let fail = |reason: &str, message: String| (CheckOutcome::fail(C, reason, message), artifact);
    if let Some(message) = statement_type_mismatch(&st.statement_type, &st.predicate_type) {
        return fail("StatementTypeMismatch", message);
    }
    let Some(artifact) = artifact else {
        return fail(
            "SubjectMismatch",
            "the signed statement's subject has no sha256 digest: it does not name the artifact it is about".to_string(),
        );
    };
    let list = subjects.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Some(expected) = opts.expected_artifact
        && expected != artifact
    {
        return fail(
            "ArtifactDigestMismatch",
            format!(
                "the envelope is about artifact {}, not the requested {expected}",
                list.join(", ")
            ),
        );
    }
    let p = &st.predicate;
    let mut outcome = CheckOutcome::pass(
        C,
        "StatementChecked",
        format!(
            "the signed statement is a score proof about artifact {artifact}; its manifest id {} and {} ledger nodes are reported as signed, not recomputed: a bare envelope carries neither the manifest nor the ledger",
            p.manifest_id, p.node_count
        ),
    )
    .with("artifact digest", artifact)
    .with("signed manifest id", p.manifest_id)
    .with("signed ledger nodes", p.node_count);
    if opts.expected_artifact.is_none() && list.len() > 1 {
        outcome = outcome.with(
            "subjects",
            format!(
                "{} (no artifact was requested: the report names the first)",
                list.join(", ")
            ),
        );
    }
    (outcome, Some(artifact))
}

fn check_merkle(bundle: &Parts<'_>, proof: &LedgerSummary) -> (CheckOutcome, Sha256Digest) {
    const C: CheckName = CheckName::MerklePathValid;
    let computed = proof.computed_root;
    if proof.node_count == 0 {
        return (
            CheckOutcome::fail(
                C,
                "EmptyLedger",
                "score_proof.json has no nodes: there is nothing to prove",
            ),
            computed,
        );
    }
    let signed = bundle.statement.predicate.proof_root_hash;
    let outcome = if proof.root_hash != computed {
        CheckOutcome::fail(
            C,
            "MerkleRootMismatch",
            format!(
                "score_proof.json declares root {} but its nodes hash to {computed}",
                proof.root_hash
            ),
        )
    } else if signed != computed {
        CheckOutcome::fail(
            C,
            "MerkleRootMismatch",
            format!(
                "the signed proof root is {signed} but the ledger hashes to {computed}: the ledger was altered after signing"
            ),
        )
    } else {
        CheckOutcome::pass(
            C,
            "RootMatches",
            format!(
                "ledger of {} nodes hashes to the signed root {computed}",
                proof.node_count
            ),
        )
    };
    (
        outcome
            .with("declared root", proof.root_hash)
            .with("signed root", signed)
            .with("computed root", computed),
        computed,
    )
}

fn check_tlog(
    bundle: &Parts<'_>,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> (CheckOutcome, Option<VerifiedSigner>) {
    const C: CheckName = CheckName::RekorInclusion;
    let entry = match &bundle.meta.transparency_log {
        Some(entry) if opts.tlog != TlogPolicy::Skip => entry,
        _ => {
            return (
                tlog_without_entry(
                    opts,
                    "the bundle carries no transparency-log entry: re-create it with a log entry, or allow offline verification",
                    "offline verification and the bundle carries no transparency-log entry",
                ),
                None,
            );
        }
    };
    let leaf = match canonical::to_canonical_bytes(bundle.proof_root_envelope_value) {
        Ok(l) => l,
        Err(e) => {
            return (
                CheckOutcome::fail(
                    C,
                    "InclusionProofInvalid",
                    format!("proof_root.dsse.json: {e}"),
                ),
                None,
            );
        }
    };
    let evidence = |o: CheckOutcome| {
        o.with("log id", &entry.log_id)
            .with("log origin", &entry.checkpoint.origin)
            .with("log index", entry.log_index)
            .with("tree size", entry.checkpoint.tree_size)
            .with("checkpoint root", hex::encode(entry.checkpoint.root_hash))
    };
    match entry.verify(&leaf, trust, opts.at) {
        Ok(signer) => (
            evidence(CheckOutcome::pass(
                C,
                "InclusionVerified",
                format!(
                    "entry {} is included in {} at tree size {}, checkpoint signed by {}",
                    entry.log_index,
                    entry.checkpoint.origin,
                    entry.checkpoint.tree_size,
                    signer.key_id
                ),
            )),
            Some(signer),
        ),
        Err(e) => (
            evidence(CheckOutcome::fail(C, e.reason(), e.to_string())),
            None,
        ),
    }
}

/// The log check when there is no entry to verify (or it is not wanted):
/// `required` and `offline` say why there is none.
fn tlog_without_entry(opts: &VerifyOptions, required: &str, offline: &str) -> CheckOutcome {
    const C: CheckName = CheckName::RekorInclusion;
    match opts.tlog {
        TlogPolicy::Skip => CheckOutcome::skipped(
            C,
            "NotRequested",
            "transparency-log inclusion was not requested",
        ),
        TlogPolicy::Required => CheckOutcome::fail(C, "TransparencyLogEntryMissing", required),
        TlogPolicy::IfPresent => CheckOutcome::skipped(C, "Offline", offline),
    }
}

fn check_timestamps(
    bundle: &Parts<'_>,
    opts: &VerifyOptions,
    signers: &[VerifiedSigner],
) -> CheckOutcome {
    const C: CheckName = CheckName::TimestampValid;
    let created = bundle.manifest.created_at;
    let signed = bundle.statement.predicate.signed_at;
    let meta = bundle.meta;
    check_signing_time(opts, "bundle", signed, Some(created), signers, |window| {
        if meta.created_at != created || meta.signed_at != signed {
            return Some(CheckOutcome::fail(
                C,
                "TimestampMismatch",
                format!(
                    "meta.json says created {} and signed {}, but the signed documents say created {created} and signed {signed}",
                    meta.created_at, meta.signed_at
                ),
            ));
        }
        (created > signed + window.clock_skew).then(|| {
            CheckOutcome::fail(
                C,
                "TimestampOrderInvalid",
                format!(
                    "the manifest was created at {created}, after the bundle was signed at {signed}"
                ),
            )
        })
    })
}

/// The timestamp check of a `what` (bundle or envelope) signed at `signed`:
/// `first` makes the checks only a bundle can (its unsigned and creation
/// times), then the signing time must not lie in the future, must be within
/// the maximum age and within the validity of every signer's key.
fn check_signing_time(
    opts: &VerifyOptions,
    what: &str,
    signed: Timestamp,
    created: Option<Timestamp>,
    signers: &[VerifiedSigner],
    first: impl FnOnce(&TimestampWindow) -> Option<CheckOutcome>,
) -> CheckOutcome {
    const C: CheckName = CheckName::TimestampValid;
    let Some(window) = opts.timestamps else {
        return CheckOutcome::skipped(C, "NotRequested", "the timestamp check was not requested");
    };
    let evidence = |o: CheckOutcome| {
        let o = match created {
            Some(created) => o.with("created at", created),
            None => o,
        };
        o.with("signed at", signed).with("verified at", opts.at)
    };
    if let Some(failed) = first(&window) {
        return evidence(failed);
    }
    if signed > opts.at + window.clock_skew {
        return evidence(CheckOutcome::fail(
            C,
            "TimestampInFuture",
            format!(
                "the {what} claims to be signed at {signed}, later than now ({}): check the signer's clock",
                opts.at
            ),
        ));
    }
    if let Some(max_age) = window.max_age
        && opts.at.duration_since(signed) > max_age
    {
        return evidence(CheckOutcome::fail(
            C,
            "TimestampTooOld",
            format!(
                "the {what} was signed at {signed}, more than {} before {}: produce a fresh {what}",
                format_duration(max_age),
                opts.at
            ),
        ));
    }
    for s in signers {
        let before = s.valid_from.is_some_and(|f| signed + window.clock_skew < f);
        let after = s.valid_until.is_some_and(|u| signed > u);
        if before || after {
            return evidence(CheckOutcome::fail(
                C,
                "SignedOutsideKeyValidity",
                format!(
                    "the {what} claims to be signed at {signed}, outside the validity of key {} ({} to {})",
                    s.key_id,
                    s.valid_from
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into()),
                    s.valid_until
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into())
                ),
            ));
        }
    }
    let age = match window.max_age {
        Some(m) => format!("within the maximum age of {}", format_duration(m)),
        None => "no maximum age set".to_string(),
    };
    evidence(CheckOutcome::pass(
        C,
        "WithinWindow",
        format!("signed at {signed}, {age}"),
    ))
}

/// `72h`, `30m`, `90s`: the form durations are given in on the command line.
pub fn format_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs % 86_400 == 0 && secs != 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3600 == 0 && secs != 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 && secs != 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}
