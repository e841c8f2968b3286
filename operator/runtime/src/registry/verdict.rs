//! From what a registry holds about a digest to a verdict: every candidate verified against one
//! issuer's trust, and the one answer the CLI (`attestor verify --image`) and the
//! ProofVerification controller (`source.registry`) both give. Pure: no network, no kube types;
//! the candidates' bytes were fetched and digest-checked by [`super::RegistryClient::discover`].

use attestor_core::digest::Sha256Digest;
use attestor_core::trust::{AnchorMaterial, Purpose, TrustStore};
use std::sync::Arc;

use crate::verification::sigstore::SigningKey;
use attestor_core::verify::{
    TlogPolicy as CoreTlog, VerificationReport, VerifyOptions, verify_zip,
};
use attestor_core::zip::ZipLimits;
use attestor_oci::artifact::PROOF_BUNDLE_LAYER;
use attestor_oci::classify::CandidateKind;
use attestor_sigstore::cosign::{self, Trust, TrustedKey};
use attestor_sigstore::{IdentityRule, TlogPolicy, TrustedRoot};
use jiff::Timestamp;

use super::{Candidate, Discovery, Source, reason};

/// The verdict on one candidate.
#[derive(Debug, Clone)]
pub struct CandidateVerdict {
    /// The candidate manifest's digest.
    pub digest: String,
    pub kind: CandidateKind,
    pub source: Source,
    pub verified: bool,
    /// `Verified`, or the stable reason it is not.
    pub reason: String,
    /// What was verified, or what failed and what to do.
    pub message: String,
    /// Who signed, for a verified candidate (`key sha256:… (name)` or an identity).
    pub signer: Option<String>,
    /// The in-toto predicate type, when the candidate is a statement.
    pub predicate_type: Option<String>,
    /// Bytes of the layer that decided (the signature, bundle or proof bundle).
    pub size: u64,
    /// The earliest verified signing time (a log's integrated time or an RFC 3161 timestamp).
    pub signing_time: Option<Timestamp>,
    /// Verified transparency-log entries: (log, index).
    pub tlog_entries: Vec<(String, i64)>,
    /// Until when a verified candidate's trust holds (proof bundles: key and certificate expiry).
    pub valid_until: Option<Timestamp>,
    /// A proof bundle's full report (its five checks), for the ProofVerification's conditions.
    pub report: Option<Box<VerificationReport>>,
}

/// Everything a digest's candidates are verified against: an issuer's keys (for proof bundles,
/// with validity windows; for cosign, the attestation-signing keys usable now), its Sigstore
/// trusted roots and identities, and the options of the checks.
#[derive(Debug, Clone)]
pub struct RegistryTrust {
    pub store: TrustStore,
    pub cosign: Trust,
    pub options: VerifyOptions,
}

/// What an issuer trusts keyless signers by, beside its keys.
#[derive(Debug, Clone, Default)]
pub struct Keyless {
    /// Sigstore trusted roots (certificates, logs, timestamp authorities).
    pub roots: Vec<Arc<TrustedRoot>>,
    /// Who may sign with a certificate.
    pub identities: Vec<IdentityRule>,
}

impl RegistryTrust {
    /// The cosign trust is derived, never given twice: its keys are the store's
    /// attestation-signing keys valid at `options.at` (cosign signatures carry no key id or
    /// validity of their own, so an expired or not-yet-valid anchor must not be offered to them
    /// at all), and its log policy is `options.tlog`.
    pub fn new(
        store: TrustStore,
        keyless: Keyless,
        predicate_type: Option<String>,
        options: VerifyOptions,
    ) -> Self {
        let cosign = Trust {
            keys: signing_keys(&store, options.at)
                .into_iter()
                .map(|k| k.key)
                .collect(),
            roots: keyless.roots,
            identities: keyless.identities,
            predicate_type,
            tlog: match options.tlog {
                CoreTlog::Required => TlogPolicy::Required,
                CoreTlog::IfPresent => TlogPolicy::IfPresent,
                CoreTlog::Skip => TlogPolicy::Skip,
            },
        };
        Self {
            store,
            cosign,
            options,
        }
    }
}

/// The store's public keys usable for attestation signing at `at`, as cosign and the
/// Sigstore verifier take them, each with when its anchor expires.
pub fn signing_keys(store: &TrustStore, at: Timestamp) -> Vec<SigningKey> {
    store
        .anchors()
        .iter()
        .filter(|a| a.purposes.contains(&Purpose::AttestationSigning))
        .filter(|a| a.not_before.is_none_or(|t| t <= at) && a.expires.is_none_or(|t| at < t))
        .filter_map(|a| match &a.material {
            AnchorMaterial::Key(key) => Some(SigningKey {
                key: TrustedKey {
                    name: a.name.clone(),
                    key: key.clone(),
                },
                expires: a.expires,
            }),
            _ => None,
        })
        .collect()
}

/// The answer for a digest.
#[derive(Debug, Clone)]
pub struct Summary {
    pub verified: bool,
    /// `Verified`; `NoSignaturesFound` when nothing of a wanted kind was there; else the
    /// reason of the first candidate that failed.
    pub reason: String,
    pub message: String,
    /// The candidate that decided: the verified one, or the first failure.
    pub decisive: Option<usize>,
}

/// Verifies every candidate of `discovery` for `image`.
pub fn verify_candidates(
    discovery: &Discovery,
    image: &Sha256Digest,
    trust: &RegistryTrust,
) -> Vec<CandidateVerdict> {
    discovery
        .candidates
        .iter()
        .map(|c| verify_candidate(c, image, trust))
        .collect()
}

/// One candidate: verified when one of its layers verifies (a cosign `.sig` manifest holds one
/// layer per signing); otherwise the first layer's failure.
pub fn verify_candidate(
    candidate: &Candidate,
    image: &Sha256Digest,
    trust: &RegistryTrust,
) -> CandidateVerdict {
    let mut verdict = CandidateVerdict {
        digest: candidate.descriptor.digest.clone(),
        kind: candidate.kind,
        source: candidate.source,
        verified: false,
        reason: "CandidateUnsupported".into(),
        message: candidate.note.clone().unwrap_or_else(|| {
            "not a cosign signature, attestation, Sigstore bundle or proof bundle: ignored".into()
        }),
        signer: None,
        predicate_type: None,
        size: 0,
        signing_time: None,
        tlog_entries: Vec::new(),
        valid_until: None,
        report: None,
    };
    if candidate.kind == CandidateKind::Unknown {
        return verdict;
    }
    if candidate.layers.is_empty() {
        verdict.reason = "CandidateMalformed".into();
        verdict.message = format!(
            "{} lists no layer of the kind's media type. Next: {}",
            candidate.descriptor.digest,
            cosign::next_step("CandidateMalformed")
        );
        return verdict;
    }
    let mut first_failure: Option<CandidateVerdict> = None;
    for (descriptor, bytes) in &candidate.layers {
        let base = CandidateVerdict {
            size: bytes.len() as u64,
            ..verdict.clone()
        };
        let one = if candidate.kind == CandidateKind::ProofBundle
            || descriptor.media_type == PROOF_BUNDLE_LAYER
        {
            proof_bundle(&base, bytes, image, trust)
        } else {
            let outcome = cosign::verify_layer(
                &descriptor.media_type,
                &descriptor.annotations,
                bytes,
                image,
                &trust.cosign,
            );
            // A key-signed verdict holds until the key's anchor expires (the signature itself
            // carries no validity), so that admission stops honouring it on time.
            let valid_until = match &outcome.signer {
                Some(cosign::Signer::Key { name, .. }) if outcome.verified => trust
                    .store
                    .anchors()
                    .iter()
                    .find(|a| &a.name == name)
                    .and_then(|a| a.expires),
                _ => None,
            };
            CandidateVerdict {
                verified: outcome.verified,
                reason: outcome.reason.to_string(),
                message: outcome.message,
                valid_until,
                signer: outcome.signer.map(|s| s.to_string()),
                predicate_type: outcome.predicate_type,
                signing_time: outcome.signing_time,
                tlog_entries: outcome.tlog_entries,
                ..base
            }
        };
        if one.verified {
            return one;
        }
        first_failure.get_or_insert(one);
    }
    first_failure.expect("at least one layer")
}

fn proof_bundle(
    base: &CandidateVerdict,
    bytes: &[u8],
    image: &Sha256Digest,
    trust: &RegistryTrust,
) -> CandidateVerdict {
    let options = VerifyOptions {
        expected_artifact: Some(*image),
        ..trust.options.clone()
    };
    match verify_zip(bytes, &ZipLimits::default(), &trust.store, &options) {
        Ok(report) => CandidateVerdict {
            verified: report.verified,
            reason: report.reason.clone(),
            message: if report.verified {
                report.message.clone()
            } else {
                format!(
                    "{}. Next: re-create the bundle with `attestor bundle create`, check it with `attestor verify --bundle`, and push it again with `attestor push`",
                    report.message
                )
            },
            signer: report
                .signer
                .as_ref()
                .map(|s| format!("key {} ({})", s.key_id, s.anchor)),
            valid_until: report.valid_until,
            report: Some(Box::new(report)),
            ..base.clone()
        },
        Err(e) => CandidateVerdict {
            reason: "InputUnreadable".into(),
            message: format!(
                "the proof bundle is unreadable: {e}. Next: re-create it with `attestor bundle create` and push it again"
            ),
            ..base.clone()
        },
    }
}

/// The digest's answer: Verified when one candidate is; `NoSignaturesFound` when no candidate
/// of a known kind was found; else the first failure of a known kind (an unknown referrer, such
/// as an SBOM, never decides).
pub fn summarize(verdicts: &[CandidateVerdict]) -> Summary {
    if let Some(i) = verdicts.iter().position(|v| v.verified) {
        let v = &verdicts[i];
        return Summary {
            verified: true,
            reason: "Verified".into(),
            message: format!(
                "{} {} ({}) verified{}",
                v.kind.as_str(),
                v.digest,
                v.source.as_str(),
                v.signer
                    .as_ref()
                    .map(|s| format!(", signed by {s}"))
                    .unwrap_or_default()
            ),
            decisive: Some(i),
        };
    }
    match verdicts
        .iter()
        .position(|v| v.kind != CandidateKind::Unknown)
    {
        Some(i) => {
            let v = &verdicts[i];
            let others = verdicts
                .iter()
                .filter(|o| o.kind != CandidateKind::Unknown)
                .count()
                - 1;
            Summary {
                verified: false,
                reason: v.reason.clone(),
                message: format!(
                    "no candidate verified{}; {} {}: {}",
                    if others > 0 {
                        format!(" ({} found)", others + 1)
                    } else {
                        String::new()
                    },
                    v.kind.as_str(),
                    v.digest,
                    v.message
                ),
                decisive: Some(i),
            }
        }
        None => Summary {
            verified: false,
            reason: reason::NO_SIGNATURES_FOUND.into(),
            message: format!(
                "the registry holds no signature, attestation, Sigstore bundle or proof bundle for this digest{}. Next: sign the image by digest (cosign sign, cosign attest, or attestor push) and push the signature to the same repository",
                if verdicts.is_empty() {
                    String::new()
                } else {
                    format!(" (only {} referrer(s) of other kinds)", verdicts.len())
                }
            ),
            decisive: None,
        },
    }
}

#[cfg(test)]
mod tests;
