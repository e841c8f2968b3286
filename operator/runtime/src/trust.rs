//! What TrustAnchors and TrustedIssuers amount to at a given instant: pure functions of the
//! declared objects, the fetched directory keys and the time, shared by the three controllers so
//! that an issuer's `Trusted` condition and the keys a ProofVerification is checked against can
//! never disagree.

use std::sync::Arc;

use attestor_api::conditions::{EXPIRING_SOON, READY, TRUSTED};
use attestor_api::{TrustAnchorSpec, TrustedIssuerSpec};
use attestor_core::digest::Sha256Digest;
use attestor_core::trust::{AnchorError, AnchorMaterial, Purpose, TrustAnchor, TrustStore};
use attestor_core::verify::format_duration;
use attestor_sigstore::{IdentityRule, Matcher, SigstoreError, TrustedRoot};
use jiff::{SignedDuration, Timestamp};

use crate::conditions::{Decided, Status};
use crate::fetch::directory::{KeySet, LastError};

/// What `status` shows about an anchor's key, whether or not it is usable now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnchorFacts {
    pub key_id: Option<String>,
    pub algorithm: Option<String>,
    /// SHA-256 of the certificate's DER, for certificate anchors.
    pub fingerprint: Option<String>,
    /// The later of `spec.notBefore` and the certificate's not-before.
    pub not_before: Option<Timestamp>,
    /// The earlier of `spec.expires` and the certificate's not-after.
    pub not_after: Option<Timestamp>,
}

/// A TrustAnchor's spec, parsed once per generation: parsing does not depend on the time, so the
/// controllers cache this and only [`ParsedAnchor::evaluate`] at each instant.
#[derive(Debug, Clone)]
pub struct ParsedAnchor {
    pub name: String,
    /// The key or certificate; for a `sigstoreTrustedRoot` anchor an `AnchorError::Spec` that no
    /// code path shows, since `sigstore` is `Some` then and takes precedence everywhere.
    pub anchor: Result<TrustAnchor, AnchorError>,
    /// The parsed `spec.sigstoreTrustedRoot`, when the anchor is one.
    pub sigstore: Option<Result<Arc<TrustedRoot>, SigstoreError>>,
    pub facts: AnchorFacts,
    pub purposes: Vec<Purpose>,
    expiry_warning: SignedDuration,
}

/// Conditions of a TrustAnchor at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorEvaluation {
    pub ready: Decided,
    pub expiring_soon: Decided,
    /// When the conditions change by the passage of time alone.
    pub next_change: Option<Timestamp>,
}

const DEFAULT_EXPIRY_WARNING: SignedDuration = SignedDuration::from_hours(720);

impl ParsedAnchor {
    pub fn parse(name: &str, spec: &TrustAnchorSpec) -> Self {
        let expiry_warning =
            attestor_api::duration::parse(&spec.expiry_warning).unwrap_or(DEFAULT_EXPIRY_WARNING);
        let mut facts = AnchorFacts {
            not_before: spec.not_before.as_ref().map(|t| t.0),
            not_after: spec.expires.as_ref().map(|t| t.0),
            ..AnchorFacts::default()
        };
        if let Some(json) = &spec.sigstore_trusted_root {
            // A trusted root's CAs and logs carry their own windows, which bound what they may
            // sign (checked at each signing time), not when the anchor is usable: only the
            // anchor's own notBefore/expires do that.
            return Self {
                name: name.to_string(),
                anchor: Err(AnchorError::Spec {
                    name: name.to_string(),
                    detail: "a Sigstore trusted root, not a key".into(),
                }),
                sigstore: Some(TrustedRoot::from_json(json.as_bytes()).map(Arc::new)),
                facts,
                purposes: Vec::new(),
                expiry_warning,
            };
        }
        let anchor = TrustAnchor::from_spec(name, &spec.to_core());
        if let Ok(anchor) = &anchor {
            facts.key_id = anchor.key_id().map(|k| k.to_string());
            match &anchor.material {
                AnchorMaterial::Key(key) => {
                    facts.algorithm = key.product_algorithm().ok().map(|a| a.to_string());
                }
                AnchorMaterial::Certificate { cert, .. } => {
                    facts.algorithm = cert
                        .public_key()
                        .ok()
                        .and_then(|k| k.product_algorithm().ok())
                        .map(|a| a.to_string());
                    facts.fingerprint = Some(Sha256Digest::of(cert.der()).to_string());
                    facts.not_before = Some(
                        facts
                            .not_before
                            .map_or(cert.not_before(), |t| t.max(cert.not_before())),
                    );
                    facts.not_after = Some(
                        facts
                            .not_after
                            .map_or(cert.not_after(), |t| t.min(cert.not_after())),
                    );
                }
                AnchorMaterial::Unsupported { algorithm, .. } => {
                    facts.algorithm = Some(algorithm.clone());
                }
            }
        }
        let purposes = anchor
            .as_ref()
            .map(|a| a.purposes.clone())
            .unwrap_or_default();
        Self {
            name: name.to_string(),
            anchor,
            sigstore: None,
            facts,
            purposes,
            expiry_warning,
        }
    }

    /// The trusted root, when this is a parsed `sigstoreTrustedRoot` anchor within its window.
    pub fn usable_root(&self, now: Timestamp) -> Option<&Arc<TrustedRoot>> {
        match &self.sigstore {
            Some(Ok(root)) if self.within_window(now) => Some(root),
            _ => None,
        }
    }

    fn within_window(&self, now: Timestamp) -> bool {
        self.facts.not_before.is_none_or(|nb| now >= nb)
            && self.facts.not_after.is_none_or(|na| now <= na)
    }

    /// Whether the anchor can verify signatures for `purpose` at `now`.
    pub fn usable(&self, purpose: Purpose, now: Timestamp) -> bool {
        match &self.anchor {
            Ok(a) => {
                !matches!(a.material, AnchorMaterial::Unsupported { .. })
                    && a.allows(purpose)
                    && self.within_window(now)
            }
            Err(_) => false,
        }
    }

    pub fn evaluate(&self, now: Timestamp) -> AnchorEvaluation {
        let ready = self.readiness(now);
        let (expiring_soon, warn_at) = self.expiry(now);
        let next_change = [self.facts.not_before, warn_at, self.facts.not_after]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min();
        AnchorEvaluation {
            ready,
            expiring_soon,
            next_change,
        }
    }

    fn readiness(&self, now: Timestamp) -> Decided {
        let not_ready =
            |reason: &str, message: String| Decided::new(READY, Status::False, reason, message);
        if let Some(Err(e)) = &self.sigstore {
            return not_ready(
                e.reason(),
                format!(
                    "{e}: fix spec.sigstoreTrustedRoot (a Sigstore trusted_root.json, e.g. from `cosign trusted-root create` or the TUF repository)"
                ),
            );
        }
        let anchor = match (&self.sigstore, &self.anchor) {
            (Some(_), _) => None,
            (None, Ok(a)) => Some(a),
            (None, Err(e)) => {
                let field = match e.reason() {
                    "InvalidCertificate" => "spec.certificate / spec.intermediates",
                    _ => "spec.publicKey",
                };
                return not_ready(
                    e.reason(),
                    format!("{e}: fix {field} (a PEM ECDSA P-256 or Ed25519 key or certificate)"),
                );
            }
        };
        if let Some(AnchorMaterial::Unsupported { algorithm, key_id }) = anchor.map(|a| &a.material)
        {
            return not_ready(
                "AlgorithmNotSupported",
                format!(
                    "key {key_id} uses {algorithm}; only ECDSA P-256 and Ed25519 keys are accepted: publish an ECDSA P-256 or Ed25519 key and declare that"
                ),
            );
        }
        if let Some(nb) = self.facts.not_before
            && now < nb
        {
            return not_ready(
                "NotYetValid",
                format!(
                    "the anchor becomes valid at {nb}: signatures are not trusted with it before then"
                ),
            );
        }
        if let Some(na) = self.facts.not_after
            && now > na
        {
            return not_ready(
                "Expired",
                format!(
                    "the anchor expired at {na}: add its successor as a new TrustAnchor, list it in the TrustedIssuers that use this one, then delete this anchor"
                ),
            );
        }
        let purposes = self
            .purposes
            .iter()
            .map(|p| match p {
                Purpose::AttestationSigning => "AttestationSigning",
                Purpose::TransparencyLog => "TransparencyLog",
            })
            .collect::<Vec<_>>()
            .join(", ");
        let until = match self.facts.not_after {
            Some(na) => format!("until {na}"),
            None => "with no expiry".to_string(),
        };
        if let Some(Ok(root)) = &self.sigstore {
            return Decided::new(
                READY,
                Status::True,
                "Valid",
                format!(
                    "Sigstore trusted root is trusted {until}: {}",
                    describe_root(root)
                ),
            );
        }
        Decided::new(
            READY,
            Status::True,
            "Valid",
            format!(
                "key {} ({}) is trusted for {purposes} {until}",
                self.facts.key_id.as_deref().unwrap_or("-"),
                self.facts.algorithm.as_deref().unwrap_or("-"),
            ),
        )
    }

    fn expiry(&self, now: Timestamp) -> (Decided, Option<Timestamp>) {
        let Some(not_after) = self.facts.not_after else {
            return (
                Decided::new(
                    EXPIRING_SOON,
                    Status::False,
                    "NoExpiry",
                    "neither spec.expires nor a certificate bounds this anchor's validity",
                ),
                None,
            );
        };
        if now > not_after {
            return (
                Decided::new(
                    EXPIRING_SOON,
                    Status::False,
                    "NotExpiringSoon",
                    format!("already expired at {not_after} (see Ready)"),
                ),
                None,
            );
        }
        let warn_at = not_after - self.expiry_warning;
        if now >= warn_at {
            let left = format_duration(now.duration_until(not_after));
            (
                Decided::new(
                    EXPIRING_SOON,
                    Status::True,
                    "ExpiresSoon",
                    format!(
                        "expires at {not_after} (in {left}): add the successor key as a new TrustAnchor and list it in the TrustedIssuers now, so that both are trusted during the overlap"
                    ),
                ),
                None,
            )
        } else {
            (
                Decided::new(
                    EXPIRING_SOON,
                    Status::False,
                    "NotExpiringSoon",
                    format!(
                        "expires at {not_after}, more than {} away",
                        format_duration(self.expiry_warning)
                    ),
                ),
                Some(warn_at),
            )
        }
    }
}

/// Counts and windows of a trusted root, for the anchor's `Ready` message.
fn describe_root(root: &TrustedRoot) -> String {
    let cas = root
        .cas
        .iter()
        .map(|ca| {
            let end = ca
                .end
                .map_or("open-ended".to_string(), |e| format!("until {e}"));
            format!("{} (from {} {end})", ca.uri, ca.start)
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} certificate authorities [{cas}], {} transparency logs, {} CT logs, {} timestamp authorities",
        root.cas.len(),
        root.tlogs.len(),
        root.ctlogs.len(),
        root.tsas.len()
    )
}

impl ParsedAnchor {
    /// `status.sigstore` of a parsed trusted-root anchor.
    pub fn sigstore_summary(&self) -> Option<attestor_api::trust_anchor::SigstoreRootSummary> {
        let Some(Ok(root)) = &self.sigstore else {
            return None;
        };
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Some(attestor_api::trust_anchor::SigstoreRootSummary {
            certificate_authorities: count(root.cas.len()),
            transparency_logs: count(root.tlogs.len()),
            ct_logs: count(root.ctlogs.len()),
            timestamp_authorities: count(root.tsas.len()),
        })
    }
}

/// An issuer's directory as the TrustedIssuer controller last fetched it.
#[derive(Debug, Clone, Default)]
pub struct DirectoryView {
    /// The last good key set, fresh or stale.
    pub keys: Option<Arc<KeySet>>,
    /// The error of the last refresh, cleared by a success.
    pub last_error: Option<LastError>,
}

/// What an issuer amounts to at one instant.
#[derive(Debug, Clone)]
pub struct IssuerEvaluation {
    pub trusted: Decided,
    /// Every key the issuer's proofs are checked against, expired ones included so that a proof
    /// signed with one fails as `KeyExpired` rather than `TrustAnchorNotFound`.
    pub store: TrustStore,
    /// Ids of the keys usable now, sorted.
    pub usable_key_ids: Vec<String>,
    /// Anchors named in `spec.anchors` that do not exist.
    pub missing_anchors: Vec<String>,
    /// The Sigstore trusted roots usable now, with their anchor.
    pub roots: Vec<UsableRoot>,
    /// `spec.identities`, compiled; empty when one of them does not compile (the issuer is
    /// then not trusted, see [`compile_identities`]).
    pub identities: Vec<IdentityRule>,
}

/// A trusted root an issuer's Sigstore bundles are verified against.
#[derive(Debug, Clone)]
pub struct UsableRoot {
    pub anchor: String,
    pub root: Arc<TrustedRoot>,
    /// The anchor's `spec.expires`: a verdict against this root holds until then.
    pub not_after: Option<Timestamp>,
}

/// Why `spec.identities` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct IdentityError {
    /// `spec.identities[i]` or `spec.github`.
    pub field: String,
    pub detail: String,
}

/// The identity patterns of `spec.identities` that match more than they seem to (not
/// anchored with `^…$`), one line each: the issuer's `Trusted` message and `attestor doctor`
/// both say them. They are used as written, as policy-controller uses them.
pub fn identity_warnings(spec: &TrustedIssuerSpec) -> Vec<String> {
    spec.identities
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let w = attestor_sigstore::verify::anchoring_warning(id.subject_reg_exp.as_deref()?)?;
            Some(format!("spec.identities[{i}].subjectRegExp: {w}"))
        })
        .collect()
}

/// Compiles `spec.identities` into the rules the Sigstore verifier applies.
pub fn compile_identities(spec: &TrustedIssuerSpec) -> Result<Vec<IdentityRule>, IdentityError> {
    let mut rules = spec
        .identities
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let subject = match (&id.subject, &id.subject_reg_exp) {
                (Some(exact), None) => Matcher::Exact(exact.clone()),
                (None, Some(pattern)) => Matcher::regex(pattern).map_err(|e| IdentityError {
                    field: format!("spec.identities[{index}]"),
                    detail: format!(
                        "subjectRegExp {pattern:?} is not a valid regular expression: {e}"
                    ),
                })?,
                // The API server refuses both cases; a spec built by hand must not match
                // everything (or an arbitrary one of the two) either.
                _ => {
                    return Err(IdentityError {
                        field: format!("spec.identities[{index}]"),
                        detail: "give exactly one of subject or subjectRegExp".into(),
                    });
                }
            };
            Ok(IdentityRule {
                issuer: Matcher::Exact(id.issuer.clone()),
                subject,
                extensions: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(github) = &spec.github {
        let policy = attestor_sigstore::github::GitHubPolicy {
            owner: github.owner.clone(),
            repo: github.repo.clone(),
            signer_repo: github.signer_repo.clone(),
            signer_workflow: github.signer_workflow.clone(),
            cert_oidc_issuer: github.cert_oidc_issuer.clone(),
            deny_self_hosted_runners: github.deny_self_hosted_runners,
        };
        rules.push(policy.rule().map_err(|detail| IdentityError {
            field: "spec.github".into(),
            detail,
        })?);
    }
    Ok(rules)
}

impl IssuerEvaluation {
    pub fn is_trusted(&self) -> bool {
        self.trusted.status == Status::True
    }
}

/// Evaluates an issuer. `anchor` looks a TrustAnchor up by name (`None`: no such object).
pub fn evaluate_issuer(
    name: &str,
    spec: &TrustedIssuerSpec,
    anchor: &dyn Fn(&str) -> Option<Arc<ParsedAnchor>>,
    directory: Option<&DirectoryView>,
    now: Timestamp,
) -> IssuerEvaluation {
    let mut store = TrustStore::new(Vec::new());
    let mut usable_signing = Vec::new();
    let mut usable = Vec::new();
    let mut missing = Vec::new();
    let mut not_ready = Vec::new();
    let mut roots = Vec::new();
    let identities = compile_identities(spec);
    for anchor_name in &spec.anchors {
        let Some(parsed) = anchor(anchor_name) else {
            missing.push(anchor_name.clone());
            continue;
        };
        let evaluation = parsed.evaluate(now);
        if evaluation.ready.status != Status::True {
            not_ready.push(format!("{anchor_name} ({})", evaluation.ready.reason));
        }
        if let Some(root) = parsed.usable_root(now) {
            roots.push(UsableRoot {
                anchor: anchor_name.clone(),
                root: root.clone(),
                not_after: parsed.facts.not_after,
            });
            continue;
        }
        if parsed.sigstore.is_some() {
            continue;
        }
        if let Ok(a) = &parsed.anchor {
            store.push(a.clone());
            let id = parsed.facts.key_id.clone().unwrap_or_default();
            if parsed.usable(Purpose::AttestationSigning, now) {
                usable_signing.push(id.clone());
            }
            if parsed.usable(Purpose::AttestationSigning, now)
                || parsed.usable(Purpose::TransparencyLog, now)
            {
                usable.push(id);
            }
        }
    }
    if let Some(keys) = directory.and_then(|d| d.keys.as_ref()) {
        for key in &keys.keys {
            store.push(key.to_trust_anchor(format!("{name} directory key {}", key.key_id)));
            if key.is_valid_at(now) {
                usable_signing.push(key.key_id.to_string());
                usable.push(key.key_id.to_string());
            }
        }
    }
    usable.sort();
    usable.dedup();
    usable_signing.sort();
    usable_signing.dedup();

    let directory_error = directory.and_then(|d| d.last_error.as_ref());
    let keyless = !roots.is_empty() && identities.as_ref().is_ok_and(|i| !i.is_empty());
    let mut notes = identity_warnings(spec);
    if !roots.is_empty() && spec.identities.is_empty() && spec.github.is_none() {
        notes.push(
            "its Sigstore trusted roots verify nothing until spec.identities names the keyless signers"
                .to_string(),
        );
    }
    if !missing.is_empty() {
        notes.push(format!(
            "TrustAnchor {} not found: create it, or remove it from spec.anchors",
            missing.join(", ")
        ));
    }
    if !not_ready.is_empty() {
        notes.push(format!(
            "TrustAnchor {} not Ready (kubectl describe trustanchor for why)",
            not_ready.join(", ")
        ));
    }
    if let Some(e) = directory_error {
        notes.push(format!(
            "the key directory could not be refreshed at {}: {} ({})",
            e.at, e.message, e.reason
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join("; "))
    };

    let trusted = match &spec.approval {
        None => Decided::new(
            TRUSTED,
            Status::False,
            "ApprovalMissing",
            format!(
                "issuer {} has no spec.approval: an unapproved issuer is never trusted. Review it, then set spec.approval.approvedBy and spec.approval.reason",
                spec.issuer
            ),
        ),
        Some(_) if identities.is_err() => Decided::new(
            TRUSTED,
            Status::False,
            "IdentityInvalid",
            format!(
                "{}: fix it (subjectRegExp is an RE2 regular expression, as in cosign and policy-controller)",
                identities
                    .as_ref()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            ),
        ),
        Some(_) if usable_signing.is_empty() && !keyless => {
            let (reason, message) = if !roots.is_empty() {
                (
                    "IdentitiesMissing",
                    format!(
                        "TrustAnchor {} is a Sigstore trusted root, but spec.identities is empty: without identities any certificate of its CAs would pass, so none does. List the workload identities (issuer and subject or subjectRegExp) that sign for {}",
                        roots
                            .iter()
                            .map(|r| r.anchor.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        spec.issuer
                    ),
                )
            } else if (!spec.identities.is_empty() || spec.github.is_some())
                && missing.is_empty()
                && not_ready.is_empty()
            {
                (
                    "TrustedRootMissing",
                    "spec.identities name keyless signers, but no TrustAnchor in spec.anchors holds a spec.sigstoreTrustedRoot: add one (e.g. the Sigstore public-good trusted_root.json) and list it".to_string(),
                )
            } else if !missing.is_empty() && not_ready.is_empty() {
                (
                    "AnchorNotFound",
                    format!(
                        "no usable signing key: TrustAnchor {} not found: create it (kubectl apply -f the anchor's manifest) or fix spec.anchors",
                        missing.join(", ")
                    ),
                )
            } else if !not_ready.is_empty() {
                (
                    "AnchorNotReady",
                    format!(
                        "no usable signing key: TrustAnchor {} not Ready: kubectl describe trustanchor {} shows why",
                        not_ready.join(", "),
                        spec.anchors.first().map(String::as_str).unwrap_or_default()
                    ),
                )
            } else if let Some(e) = directory_error {
                (
                    "KeyFetchFailed",
                    format!(
                        "no usable signing key: the key directory {} could not be read and no keys were fetched before: {}: check the URL and that the operator can reach it",
                        spec.directory
                            .as_ref()
                            .map(|d| d.url.as_str())
                            .unwrap_or("-"),
                        e.message
                    ),
                )
            } else {
                (
                    "NoKeys",
                    "no usable signing key: the anchors are for other purposes or the directory lists no valid key: add a TrustAnchor with purposes [AttestationSigning]".to_string(),
                )
            };
            Decided::new(TRUSTED, Status::False, reason, message)
        }
        Some(approval) => Decided::new(
            TRUSTED,
            Status::True,
            "Approved",
            format!(
                "approved by {} ({}); {} usable signing key(s){}{notes}",
                approval.approved_by,
                approval.reason,
                usable_signing.len(),
                if keyless {
                    format!(
                        ", {} Sigstore trusted root(s) for {} keyless identit{}",
                        roots.len(),
                        spec.identities.len(),
                        if spec.identities.len() == 1 {
                            "y"
                        } else {
                            "ies"
                        }
                    )
                } else {
                    String::new()
                }
            ),
        ),
    };
    IssuerEvaluation {
        trusted,
        store,
        usable_key_ids: usable,
        missing_anchors: missing,
        roots,
        identities: identities.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attestor_api::trusted_issuer::{Approval, IssuerScope};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn key_pem() -> String {
        include_str!("../../../examples/keys/test-only-signing.pub.pem").to_string()
    }

    fn spec(not_before: Option<&str>, expires: Option<&str>) -> TrustAnchorSpec {
        TrustAnchorSpec {
            public_key: Some(key_pem()),
            certificate: None,
            sigstore_trusted_root: None,
            intermediates: None,
            purposes: vec![attestor_api::trust_anchor::Purpose::AttestationSigning],
            not_before: not_before.map(|t| Time(at(t))),
            expires: expires.map(|t| Time(at(t))),
            expiry_warning: "720h".into(),
            description: None,
        }
    }

    #[test]
    fn anchor_lifecycle_and_next_change() {
        let parsed = ParsedAnchor::parse(
            "a",
            &spec(Some("2026-01-01T00:00:00Z"), Some("2027-01-01T00:00:00Z")),
        );
        let before = parsed.evaluate(at("2025-12-01T00:00:00Z"));
        assert_eq!(before.ready.reason, "NotYetValid");
        assert_eq!(before.next_change, Some(at("2026-01-01T00:00:00Z")));

        let during = parsed.evaluate(at("2026-06-01T00:00:00Z"));
        assert_eq!(during.ready.status, Status::True);
        assert_eq!(during.expiring_soon.reason, "NotExpiringSoon");
        // 720h before expiry: the warning starts.
        assert_eq!(during.next_change, Some(at("2026-12-02T00:00:00Z")));

        let warned = parsed.evaluate(at("2026-12-15T00:00:00Z"));
        assert_eq!(warned.ready.status, Status::True);
        assert_eq!(warned.expiring_soon.status, Status::True);
        assert_eq!(warned.next_change, Some(at("2027-01-01T00:00:00Z")));

        let after = parsed.evaluate(at("2027-01-02T00:00:00Z"));
        assert_eq!(after.ready.reason, "Expired");
        assert_eq!(after.expiring_soon.status, Status::False);
        assert_eq!(after.next_change, None);
        assert!(after.ready.message.contains("add its successor"));
    }

    #[test]
    fn invalid_keys_are_not_ready_with_a_reason() {
        let mut s = spec(None, None);
        s.public_key = Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into());
        let e = ParsedAnchor::parse("bad", &s).evaluate(at("2026-01-01T00:00:00Z"));
        assert_eq!(e.ready.status, Status::False);
        assert_eq!(e.ready.reason, "InvalidKey");
        assert!(
            e.ready.message.contains("fix spec.publicKey"),
            "{}",
            e.ready.message
        );
        assert_eq!(e.expiring_soon.reason, "NoExpiry");
    }

    fn issuer(anchors: &[&str], approved: bool) -> TrustedIssuerSpec {
        TrustedIssuerSpec {
            issuer: "https://ci.example".into(),
            anchors: anchors.iter().map(|s| s.to_string()).collect(),
            identities: Vec::new(),
            github: None,
            directory: None,
            approval: approved.then(|| Approval {
                approved_by: "sec".into(),
                reason: "SEC-1".into(),
                approved_at: None,
            }),
            scope: IssuerScope {
                images: vec!["*".into()],
            },
            discovery: None,
            registry_pull_secrets: Vec::new(),
        }
    }

    #[test]
    fn issuer_needs_approval_and_a_usable_signing_key() {
        let now = at("2026-06-01T00:00:00Z");
        let current = Arc::new(ParsedAnchor::parse("current", &spec(None, None)));
        let retired = Arc::new(ParsedAnchor::parse(
            "retired",
            &spec(None, Some("2025-01-01T00:00:00Z")),
        ));
        let lookup = |n: &str| match n {
            "current" => Some(current.clone()),
            "retired" => Some(retired.clone()),
            _ => None,
        };

        let e = evaluate_issuer("i", &issuer(&["current"], false), &lookup, None, now);
        assert_eq!(e.trusted.reason, "ApprovalMissing");

        // One retired and one missing anchor do not untrust an issuer with a current key.
        let e = evaluate_issuer(
            "i",
            &issuer(&["current", "retired", "gone"], true),
            &lookup,
            None,
            now,
        );
        assert!(e.is_trusted(), "{:?}", e.trusted);
        assert!(
            e.trusted.message.contains("gone not found"),
            "{}",
            e.trusted.message
        );
        assert_eq!(
            e.store.anchors().len(),
            2,
            "expired anchors stay in the store"
        );
        assert_eq!(e.usable_key_ids.len(), 1);
        assert_eq!(e.missing_anchors, vec!["gone".to_string()]);

        let e = evaluate_issuer("i", &issuer(&["gone"], true), &lookup, None, now);
        assert_eq!(e.trusted.reason, "AnchorNotFound");
        let e = evaluate_issuer("i", &issuer(&["retired", "gone"], true), &lookup, None, now);
        assert_eq!(e.trusted.reason, "AnchorNotReady");

        let failed = DirectoryView {
            keys: None,
            last_error: Some(LastError {
                at: now,
                reason: "SourceUnavailable",
                message: "connection refused".into(),
            }),
        };
        let mut only_directory = issuer(&[], true);
        only_directory.directory = Some(attestor_api::trusted_issuer::KeyDirectory {
            url: "https://keys.example/k.json".into(),
            refresh_interval: "1h".into(),
        });
        let e = evaluate_issuer("i", &only_directory, &lookup, Some(&failed), now);
        assert_eq!(e.trusted.reason, "KeyFetchFailed");
        assert!(e.trusted.message.contains("connection refused"));
    }

    fn root_spec() -> TrustAnchorSpec {
        let mut s = spec(None, None);
        s.public_key = None;
        s.sigstore_trusted_root = Some(
            include_str!(
                "../../sigstore/tests/data/sigstore-conformance/trusted_root.public-good.json"
            )
            .to_string(),
        );
        s
    }

    fn keyless(
        subject: Option<&str>,
        pattern: Option<&str>,
    ) -> attestor_api::trusted_issuer::KeylessIdentity {
        attestor_api::trusted_issuer::KeylessIdentity {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: subject.map(String::from),
            subject_reg_exp: pattern.map(String::from),
        }
    }

    #[test]
    fn a_trusted_root_anchor_is_ready_and_counts_its_authorities() {
        let parsed = ParsedAnchor::parse("public-good", &root_spec());
        let e = parsed.evaluate(at("2026-06-01T00:00:00Z"));
        assert_eq!(e.ready.status, Status::True, "{:?}", e.ready);
        assert!(
            e.ready.message.contains("certificate authorities"),
            "{}",
            e.ready.message
        );
        let summary = parsed.sigstore_summary().unwrap();
        assert!(summary.certificate_authorities >= 1 && summary.transparency_logs >= 1);
        assert!(!parsed.usable(Purpose::AttestationSigning, at("2026-06-01T00:00:00Z")));

        let mut broken = root_spec();
        broken.sigstore_trusted_root = Some("{\"mediaType\": \"text/plain\"}".into());
        let e = ParsedAnchor::parse("broken", &broken).evaluate(at("2026-06-01T00:00:00Z"));
        assert_eq!(e.ready.reason, "TrustedRootInvalid");
        assert!(
            e.ready.message.contains("fix spec.sigstoreTrustedRoot"),
            "{}",
            e.ready.message
        );

        let mut expired = root_spec();
        expired.expires = Some(Time(at("2026-01-01T00:00:00Z")));
        let parsed = ParsedAnchor::parse("old", &expired);
        assert_eq!(
            parsed.evaluate(at("2026-06-01T00:00:00Z")).ready.reason,
            "Expired"
        );
        assert!(parsed.usable_root(at("2026-06-01T00:00:00Z")).is_none());
    }

    #[test]
    fn keyless_issuers_need_a_root_and_valid_identities() {
        let now = at("2026-06-01T00:00:00Z");
        let root = Arc::new(ParsedAnchor::parse("public-good", &root_spec()));
        let lookup = |n: &str| (n == "public-good").then(|| root.clone());

        let mut spec = issuer(&["public-good"], true);
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert_eq!(e.trusted.reason, "IdentitiesMissing");

        spec.identities = vec![keyless(
            Some("https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"),
            None,
        )];
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert!(e.is_trusted(), "{:?}", e.trusted);
        assert_eq!(e.roots.len(), 1);
        assert_eq!(e.identities.len(), 1);
        assert!(e.usable_key_ids.is_empty());
        assert!(
            e.trusted
                .message
                .contains("1 Sigstore trusted root(s) for 1 keyless identity"),
            "{}",
            e.trusted.message
        );

        // An unanchored pattern is used as written (as policy-controller uses it), and the
        // Trusted message says it matches more than it seems to.
        spec.identities = vec![
            keyless(None, Some(r"^https://github\.com/o/r/.*$")),
            keyless(None, Some(r"https://github\.com/o/")),
        ];
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert!(e.is_trusted(), "{:?}", e.trusted);
        assert!(
            e.trusted
                .message
                .contains("spec.identities[1].subjectRegExp: identity pattern")
                && !e
                    .trusted
                    .message
                    .contains("spec.identities[0].subjectRegExp"),
            "{}",
            e.trusted.message
        );
        assert!(
            e.identities[1]
                .subject
                .matches("https://evil.example/?https://github.com/o/")
        );

        // gh's shorthand: one more identity, alone enough for keyless trust.
        spec.identities = Vec::new();
        spec.github = Some(attestor_api::trusted_issuer::GitHubAttestations {
            owner: None,
            repo: Some("sigstore/sigstore-js".into()),
            signer_repo: None,
            signer_workflow: None,
            cert_oidc_issuer: None,
            deny_self_hosted_runners: false,
        });
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert!(e.is_trusted(), "{:?}", e.trusted);
        assert_eq!(e.identities.len(), 1);
        assert_eq!(e.identities[0].extensions.len(), 2);
        spec.github.as_mut().unwrap().owner = Some("other".into());
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert_eq!(e.trusted.reason, "IdentityInvalid");
        assert!(
            e.trusted.message.contains("spec.github: repo"),
            "{}",
            e.trusted.message
        );
        spec.github = None;

        spec.identities = vec![keyless(None, Some("https://github.com/o/(r"))];
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert_eq!(e.trusted.reason, "IdentityInvalid");
        assert!(
            e.trusted
                .message
                .contains("spec.identities[0]: subjectRegExp"),
            "{}",
            e.trusted.message
        );

        spec.identities = vec![keyless(None, None)];
        let e = evaluate_issuer("i", &spec, &lookup, None, now);
        assert_eq!(e.trusted.reason, "IdentityInvalid");

        let key = Arc::new(ParsedAnchor::parse("key", &super::tests::spec(None, None)));
        let only_key = |n: &str| (n == "key").then(|| key.clone());
        let mut spec = issuer(&["key"], true);
        spec.identities = vec![keyless(Some("x"), None)];
        let e = evaluate_issuer("i", &spec, &only_key, None, now);
        assert!(e.is_trusted(), "a key still makes the issuer trusted");
        assert!(e.roots.is_empty());
        let spec2 = TrustedIssuerSpec {
            anchors: vec![],
            ..spec.clone()
        };
        let e = evaluate_issuer("i", &spec2, &only_key, None, now);
        assert_eq!(e.trusted.reason, "TrustedRootMissing");
    }
}
