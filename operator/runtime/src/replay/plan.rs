//! Which ProofVerifications a run replays, and which of them it may skip. Pure.
//!
//! - Selected: in the job's namespace, matching `spec.selector` (all when unset), and `Verified`
//!   with a proof root (an unverified proof's root is not a claim anyone signed off on), from a
//!   proof bundle (a bare DSSE envelope carries no ledger and no inputs to replay: selecting it
//!   would only fail every run).
//! - `spec.maxAge` is measured from the bundle's signing time (`meta.json` `signedAt`, which
//!   the verifier checks against the signed statement), not from `status.verifiedAt`, which
//!   moves with every re-verification. It is applied once the bundle is read.
//! - `spec.skipUnchanged`: a proof is skipped when its `status.lastReplay.inputsDigest` equals
//!   the digest of what the replay would use now (the manifest id and the four input content
//!   ids) and that replay did not fail.

use std::collections::BTreeMap;

use attestor_api::ProofVerification;
use attestor_api::proof_verification::{LastReplay, ProofFormat, ReplayResult};
use attestor_core::bundle::ManifestInputs;
use attestor_core::digest::Sha256Digest;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

/// A parsed `spec.selector`.
#[derive(Debug, Clone)]
pub struct Selector(Option<kube::core::Selector>);

impl Selector {
    /// `Err` says what is wrong with the selector (a bad operator, `In` without values...).
    pub fn parse(selector: Option<&LabelSelector>) -> Result<Selector, String> {
        match selector {
            None => Ok(Selector(None)),
            Some(s) => kube::core::Selector::try_from(s.clone())
                .map(|s| Selector(Some(s)))
                .map_err(|e| format!("spec.selector is not a label selector: {e}")),
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        use kube::core::SelectorExt as _;
        self.0.as_ref().is_none_or(|s| s.matches(labels))
    }
}

/// The ProofVerifications of `namespace` a run replays, sorted by name.
pub fn select<'a>(
    all: impl IntoIterator<Item = &'a ProofVerification>,
    namespace: &str,
    selector: &Selector,
) -> Vec<&'a ProofVerification> {
    let mut out: Vec<&ProofVerification> = all
        .into_iter()
        .filter(|pv| pv.namespace().as_deref() == Some(namespace))
        .filter(|pv| selector.matches(pv.labels()))
        .filter(|pv| pv.spec.source.effective_format() == ProofFormat::Bundle)
        .filter(|pv| {
            pv.status.as_ref().is_some_and(|s| {
                s.proof_root_hash.is_some()
                    && crate::conditions::is_true(&s.conditions, attestor_api::conditions::VERIFIED)
            })
        })
        .collect();
    out.sort_by_key(|pv| pv.name_any());
    out
}

/// Whether a proof signed at `signed_at` is too old for `spec.maxAge`.
pub fn too_old(signed_at: Timestamp, max_age: Option<SignedDuration>, now: Timestamp) -> bool {
    max_age.is_some_and(|max| now.duration_since(signed_at) > max)
}

/// The digest `skipUnchanged` compares: over the manifest id and the content ids of the inputs
/// the replay uses, in a fixed order.
pub fn inputs_digest(manifest_id: &Sha256Digest, inputs: &ManifestInputs) -> String {
    let text = format!(
        "manifest={manifest_id}\nsbom={}\nfeed={}\nvex={}\npolicy={}\n",
        inputs.sbom, inputs.feed_snapshot, inputs.vex, inputs.policy
    );
    Sha256Digest::of(text.as_bytes()).to_string()
}

/// Whether the last replay already used exactly these inputs (and did not fail).
pub fn unchanged(last: Option<&LastReplay>, digest: &str) -> bool {
    last.is_some_and(|l| {
        l.result != ReplayResult::Failed && l.inputs_digest.as_deref() == Some(digest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use attestor_api::ProofVerificationStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn pv(ns: &str, name: &str, labels: &[(&str, &str)], verified: bool) -> ProofVerification {
        let mut pv: ProofVerification = serde_json::from_value(serde_json::json!({
            "apiVersion": "attestor.stellaops.io/v1alpha1",
            "kind": "ProofVerification",
            "metadata": {"name": name, "namespace": ns,
                "labels": labels.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>()},
            "spec": {
                "artifactDigest": format!("sha256:{}", "a".repeat(64)),
                "source": {"configMapKeyRef": {"name": "bundles", "key": "b.zip"}},
                "issuerRef": {"name": "i"},
            },
        }))
        .unwrap();
        pv.status = Some(ProofVerificationStatus {
            proof_root_hash: Some(format!("sha256:{}", "b".repeat(64))),
            conditions: vec![Condition {
                type_: "Verified".into(),
                status: if verified { "True" } else { "False" }.into(),
                reason: "x".into(),
                message: String::new(),
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }],
            ..Default::default()
        });
        pv
    }

    #[test]
    fn selects_verified_matching_proofs_of_the_namespace_sorted() {
        let all = [
            pv("shop", "b", &[("part-of", "shop")], true),
            pv("shop", "a", &[("part-of", "shop")], true),
            pv("shop", "c", &[("part-of", "other")], true),
            pv("shop", "d", &[("part-of", "shop")], false),
            pv("elsewhere", "e", &[("part-of", "shop")], true),
        ];
        let selector: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"part-of": "shop"}
        }))
        .unwrap();
        let s = Selector::parse(Some(&selector)).unwrap();
        let names: Vec<String> = select(&all, "shop", &s)
            .iter()
            .map(|p| p.name_any())
            .collect();
        assert_eq!(names, ["a", "b"]);
        let everything = Selector::parse(None).unwrap();
        assert_eq!(select(&all, "shop", &everything).len(), 3);
        // A verified bare envelope has a root but no ledger: not part of any run.
        let mut envelope = pv("shop", "f", &[("part-of", "shop")], true);
        envelope.spec.source.config_map_key_ref = None;
        envelope.spec.source.envelope = Some("{}".into());
        let with_envelope = [all[0].clone(), envelope];
        let names: Vec<String> = select(&with_envelope, "shop", &everything)
            .iter()
            .map(|p| p.name_any())
            .collect();
        assert_eq!(names, ["b"]);
        let expr: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "part-of", "operator": "NotIn", "values": ["shop"]}]
        }))
        .unwrap();
        let names: Vec<String> = select(&all, "shop", &Selector::parse(Some(&expr)).unwrap())
            .iter()
            .map(|p| p.name_any())
            .collect();
        assert_eq!(names, ["c"]);
        let bad: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "k", "operator": "Sometimes", "values": ["v"]}]
        }))
        .unwrap();
        assert!(Selector::parse(Some(&bad)).is_err());
    }

    #[test]
    fn max_age_from_signing_time() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let signed: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(!too_old(signed, None, now));
        assert!(!too_old(
            signed,
            Some(SignedDuration::from_hours(24 * 200)),
            now
        ));
        assert!(too_old(
            signed,
            Some(SignedDuration::from_hours(24 * 90)),
            now
        ));
    }

    #[test]
    fn skip_unchanged_compares_the_inputs_digest() {
        let d = |c: char| {
            format!("sha256:{}", c.to_string().repeat(64))
                .parse()
                .unwrap()
        };
        let inputs = ManifestInputs {
            sbom: d('1'),
            feed_snapshot: d('2'),
            vex: d('3'),
            policy: d('4'),
        };
        let digest = inputs_digest(&d('0'), &inputs);
        let newer_feed = inputs_digest(
            &d('0'),
            &ManifestInputs {
                feed_snapshot: d('5'),
                ..inputs.clone()
            },
        );
        assert_ne!(digest, newer_feed);
        let last = |result, digest: &str| LastReplay {
            time: Time(Timestamp::UNIX_EPOCH),
            result,
            root_hash: None,
            previous_root_hash: None,
            cause: None,
            message: None,
            inputs_digest: Some(digest.to_string()),
        };
        assert!(unchanged(
            Some(&last(ReplayResult::Reproduced, &digest)),
            &digest
        ));
        assert!(unchanged(
            Some(&last(ReplayResult::Drifted, &digest)),
            &digest
        ));
        assert!(!unchanged(
            Some(&last(ReplayResult::Failed, &digest)),
            &digest
        ));
        assert!(!unchanged(
            Some(&last(ReplayResult::Reproduced, &digest)),
            &newer_feed
        ));
        assert!(!unchanged(None, &digest));
    }
}
