//! The scoring computation: match, apply VEX, weight, aggregate, and record
//! every step as a proof node in the canonical order of docs/scoring.md.
//!
//! Cost: components are sorted once (n log n), every component looks its
//! package up in the feed's index (log a), and only the advisories naming that
//! package are evaluated, so the work is O((n + a) log(n + a) + matches).

use attestor_core::bundle::{MAX_NODES, MAX_PARENTS};
use attestor_core::digest::Sha256Digest;
use serde::Serialize;
use serde_json::{Value, json};

use crate::compare::Comparator;
use crate::ecosystem::{distro_release, release_covers};
use crate::inputs::ScoringInputs;
use crate::inputs::feed::{Advisory, Affected, ComponentVersion, VersionForms};
use crate::inputs::policy::VexEffect;
use crate::inputs::sbom::{Component, Embedded};
use crate::inputs::vex::{Vex, VexStatus};
use crate::ledger::{Ledger, LedgerBuilder, NodeKind, ScoreError, Verdict, inputs_json};
use crate::number::{Band, Cvss};
use crate::severity::Source;

/// The semantics a ledger was computed with, recorded in the manifest as
/// `scoreVersion` (absent: 1). A replay recomputes with the recorded
/// version, so ledgers of bundles already produced replay bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ScoreVersion {
    /// Generic and SemVer version order, decimal CVSS base scores only.
    V1,
    /// Per-ecosystem version order, CVSS vectors, ratings, unscored advisories,
    /// distribution releases; the comparator and the severity source in `match` nodes.
    V2,
}

/// Why a manifest's `scoreVersion` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreVersionError {
    #[error("manifest scoreVersion {0} is not a score version this engine knows (1 or 2)")]
    Unknown(String),
}

impl ScoreVersion {
    /// What `attestor score` computes.
    pub const LATEST: ScoreVersion = ScoreVersion::V2;

    pub fn number(self) -> u64 {
        match self {
            ScoreVersion::V1 => 1,
            ScoreVersion::V2 => 2,
        }
    }

    pub fn from_number(n: u64) -> Option<Self> {
        match n {
            1 => Some(ScoreVersion::V1),
            2 => Some(ScoreVersion::V2),
            _ => None,
        }
    }

    /// The version a `manifest.json` records: its `scoreVersion` member, or
    /// 1 when there is none (every manifest before version 2 existed).
    pub fn of_manifest(manifest: &Value) -> Result<Self, ScoreVersionError> {
        match manifest.get("scoreVersion") {
            None => Ok(ScoreVersion::V1),
            Some(v) => v
                .as_u64()
                .and_then(Self::from_number)
                .ok_or_else(|| ScoreVersionError::Unknown(v.to_string())),
        }
    }
}

/// One component matched by one advisory, with what VEX and the policy made of it.
struct Finding<'a> {
    component: &'a Component,
    advisory: &'a Advisory,
    /// The score the finding is weighted with.
    cvss: Cvss,
    band: Band,
    /// Score version 2: the comparison that decided and where the score came from.
    how: Option<(Comparator, Source)>,
    /// Score version 2: the source package that matched, when the binary package did not.
    source_package: Option<String>,
    vex: Option<(VexStatus, VexEffect)>,
    /// `(weightPercent, points)`; `None` when suppressed.
    weight: Option<(u32, u64)>,
}

/// Scores `inputs` with the latest semantics ([`ScoreVersion::LATEST`]) and
/// builds the proof ledger. Pure and deterministic: the same inputs give the
/// same ledger, byte for byte, on every machine.
pub fn score(inputs: &ScoringInputs) -> Result<Ledger, ScoreError> {
    score_as(inputs, ScoreVersion::LATEST)
}

/// Scores `inputs` with the semantics of `version` (a replay uses the
/// version its manifest records).
pub fn score_as(inputs: &ScoringInputs, version: ScoreVersion) -> Result<Ledger, ScoreError> {
    let findings = match version {
        ScoreVersion::V1 => {
            if let Some((advisory, feature)) = inputs.feed.beyond_v1() {
                return Err(ScoreError::BeyondVersion1 {
                    advisory: advisory.to_string(),
                    feature,
                });
            }
            find_v1(inputs)
        }
        ScoreVersion::V2 => {
            if let Embedded::Invalid(error) = &inputs.sbom.embedded {
                return Err(ScoreError::EmbeddedVex(error.clone()));
            }
            find_v2(inputs)
        }
    };
    build(inputs, &findings, version)
}

/// Score version 2's findings, in the same canonical order as version 1's.
fn find_v2<'a>(inputs: &'a ScoringInputs) -> Vec<Finding<'a>> {
    let mut findings = Vec::new();
    for component in &inputs.sbom.components {
        let Some(version) = component.purl.comparable_version() else {
            continue;
        };
        // A distribution binary package is also matched by the advisories of
        // its source package (OSV's Debian, Ubuntu, Alpine and Red Hat
        // advisories name source packages), at the source's version.
        let source = component.purl.source();
        let mut candidates: Vec<((usize, &Advisory, &Affected), bool)> = inputs
            .feed
            .candidates(&component.purl.package)
            .map(|c| (c, false))
            .chain(
                source
                    .iter()
                    .flat_map(|(key, _)| inputs.feed.candidates(key))
                    .map(|c| (c, true)),
            )
            .collect();
        if candidates.is_empty() {
            continue;
        }
        // By advisory (index order is id order); stable, so the binary's
        // entries stay before the source's.
        candidates.sort_by_key(|((index, _, _), _)| *index);
        let release = component.purl.distro.as_deref().and_then(distro_release);
        let mut own_forms = ComponentVersion::new(&version);
        let mut source_forms = source.as_ref().map(|(_, v)| ComponentVersion::new(v));
        // Each advisory matches once, with the preferred comparator of all its
        // entries that match (Comparator order), noting the source package
        // when only it matched.
        let mut current: Option<(usize, &Advisory, Option<Comparator>, bool)> = None;
        let flush = |current: Option<(usize, &'a Advisory, Option<Comparator>, bool)>,
                     findings: &mut Vec<Finding<'a>>| {
            if let Some((_, advisory, Some(comparator), own)) = current {
                let (cvss, band, source_of_score) =
                    advisory.severity.effective(inputs.policy.unscored);
                let mut f = finding(
                    inputs,
                    component,
                    advisory,
                    (cvss, band),
                    Some((comparator, source_of_score)),
                    inputs.sbom.embedded.vex(),
                );
                if !own {
                    f.source_package = source.as_ref().map(|(key, _)| key.name().to_string());
                }
                findings.push(f);
            }
        };
        for ((index, advisory, affected), via_source) in candidates {
            if current.is_some_and(|(i, _, _, _)| i != index) {
                flush(current.take(), &mut findings);
            }
            let entry = current.get_or_insert((index, advisory, None, false));
            // A component of a known release is only matched by entries of
            // that release (or of none); without a release, by all.
            if let (Some(wanted), Some(have)) = (&affected.release, &release)
                && !release_covers(wanted, have)
            {
                continue;
            }
            let forms = match (&mut source_forms, via_source) {
                (Some(forms), true) => forms,
                _ => &mut own_forms,
            };
            if let Some(comparator) = affected.matches(forms) {
                entry.2 = Some(entry.2.map_or(comparator, |c| c.min(comparator)));
                entry.3 |= !via_source;
            }
        }
        flush(current, &mut findings);
    }
    findings
}

/// The findings in canonical order: by component (canonical purl), then advisory id.
fn find_v1(inputs: &ScoringInputs) -> Vec<Finding<'_>> {
    let mut findings = Vec::new();
    // Components are sorted by canonical purl and candidates by advisory id,
    // so findings come out in canonical order without another sort.
    for component in &inputs.sbom.components {
        let Some(version) = component.version() else {
            // Without a version nothing can be compared.
            continue;
        };
        let mut candidates = inputs.feed.candidates(&component.purl.package).peekable();
        if candidates.peek().is_none() {
            continue;
        }
        let forms = VersionForms::new(version);
        let mut last_matched = None;
        for (index, advisory, affected) in candidates {
            // An advisory with several entries for this package matches once.
            if last_matched == Some(index) || !affected.contains(&forms) {
                continue;
            }
            last_matched = Some(index);
            let cvss = advisory.v1_cvss;
            findings.push(finding(
                inputs,
                component,
                advisory,
                (cvss, cvss.band()),
                None,
                None,
            ));
        }
    }
    findings
}

fn finding<'a>(
    inputs: &'a ScoringInputs,
    component: &'a Component,
    advisory: &'a Advisory,
    (cvss, band): (Cvss, Band),
    how: Option<(Comparator, Source)>,
    embedded: Option<&Vex>,
) -> Finding<'a> {
    // The SBOM's own statements (score version 2) compete with the VEX
    // input's under the one rule: latest first, most cautious on ties. The
    // same document given as both yields the same statement twice, harmlessly.
    let vex = std::iter::once(&inputs.vex)
        .chain(embedded)
        .filter_map(|vex| vex.statement_for(advisory, component))
        .max_by_key(|s| (s.time, s.status.caution()))
        .map(|statement| (statement.status, inputs.policy.effect(statement.status)));
    let weight = match vex {
        Some((_, VexEffect::Suppress)) => None,
        _ => {
            let percent = inputs.policy.weight(band);
            Some((percent, points(cvss.tenths(), percent)))
        }
    };
    Finding {
        component,
        advisory,
        cvss,
        band,
        how,
        source_package: None,
        vex,
        weight,
    }
}

/// ⌊cvssTenths × weightPercent / 10⌋: hundredths of a weighted CVSS point.
pub fn points(cvss_tenths: u8, weight_percent: u32) -> u64 {
    u64::from(cvss_tenths) * u64::from(weight_percent) / 10
}

fn build(
    inputs: &ScoringInputs,
    findings: &[Finding],
    version: ScoreVersion,
) -> Result<Ledger, ScoreError> {
    let vex_nodes = findings.iter().filter(|f| f.vex.is_some()).count();
    let weight_nodes = findings.iter().filter(|f| f.weight.is_some()).count();
    let terminals = findings.len();
    let subtotal_nodes = subtotal_count(terminals);
    let total = 2 + findings.len() + vex_nodes + weight_nodes + subtotal_nodes;
    if total > MAX_NODES {
        return Err(ScoreError::TooManyNodes {
            nodes: total,
            max: MAX_NODES,
        });
    }
    let mut ledger = LedgerBuilder::with_capacity(total);
    let digests = inputs.digests();
    let mut inputs_data = inputs_json(&digests);
    if version != ScoreVersion::V1
        && let Value::Object(members) = &mut inputs_data
    {
        members.insert("scoreVersion".into(), version.number().into());
    }
    let inputs_id = ledger.push(NodeKind::Inputs, Vec::new(), inputs_data)?;

    let mut tips = Vec::with_capacity(findings.len());
    for f in findings {
        let mut data = json!({
            "advisory": f.advisory.id,
            "component": f.component.canonical,
            "cvssTenths": f.cvss.tenths(),
        });
        if let (Some((comparator, source)), Value::Object(members)) = (f.how, &mut data) {
            members.insert("comparator".into(), comparator.name().into());
            members.insert("severity".into(), source.name().into());
            members.insert("band".into(), f.band.name().into());
            if let Some(name) = &f.source_package {
                members.insert("sourcePackage".into(), name.as_str().into());
            }
        }
        tips.push(ledger.push(NodeKind::Match, vec![inputs_id], data)?);
    }
    for (f, tip) in findings.iter().zip(tips.iter_mut()) {
        if let Some((status, effect)) = f.vex {
            let data = json!({
                "advisory": f.advisory.id,
                "status": status.name(),
                "effect": effect.name(),
            });
            *tip = ledger.push(NodeKind::Vex, vec![*tip], data)?;
        }
    }
    let mut score = 0u64;
    let mut tip_points = Vec::with_capacity(findings.len());
    for (f, tip) in findings.iter().zip(tips.iter_mut()) {
        let mut points = 0;
        if let Some((percent, p)) = f.weight {
            let data = json!({
                "advisory": f.advisory.id,
                "points": p,
                "weightPercent": percent,
            });
            *tip = ledger.push(NodeKind::PolicyWeight, vec![*tip], data)?;
            points = p;
        }
        score += points;
        tip_points.push((*tip, points));
    }

    let parents = if tip_points.is_empty() {
        vec![inputs_id]
    } else {
        reduce(&mut ledger, tip_points)?
    };
    let threshold = inputs.policy.threshold;
    let verdict = Verdict::of(score, threshold);
    let data = json!({
        "score": score,
        "threshold": threshold,
        "verdict": verdict.as_str(),
    });
    ledger.push(NodeKind::Aggregate, parents, data)?;

    let (nodes, root) = ledger.finish();
    Ok(Ledger {
        version,
        inputs: digests,
        nodes,
        root,
        score,
        threshold,
        verdict,
        findings: findings.len(),
        suppressed: findings.len() - weight_nodes,
    })
}

/// Groups the findings' last nodes under `subtotal` nodes of at most
/// [`MAX_PARENTS`] parents each, level by level, until the aggregate can
/// take them all as parents.
fn reduce(
    ledger: &mut LedgerBuilder,
    mut level: Vec<(Sha256Digest, u64)>,
) -> Result<Vec<Sha256Digest>, ScoreError> {
    while level.len() > MAX_PARENTS {
        let mut next = Vec::with_capacity(level.len().div_ceil(MAX_PARENTS));
        for chunk in level.chunks(MAX_PARENTS) {
            let sum: u64 = chunk.iter().map(|(_, p)| p).sum();
            let parents = chunk.iter().map(|(id, _)| *id).collect();
            let id = ledger.push(NodeKind::Subtotal, parents, json!({ "score": sum }))?;
            next.push((id, sum));
        }
        level = next;
    }
    Ok(level.into_iter().map(|(id, _)| id).collect())
}

fn subtotal_count(mut items: usize) -> usize {
    let mut count = 0;
    while items > MAX_PARENTS {
        items = items.div_ceil(MAX_PARENTS);
        count += items;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_floored_hundredths() {
        assert_eq!(points(72, 100), 720);
        assert_eq!(points(98, 100), 980);
        assert_eq!(points(73, 33), 240);
        assert_eq!(points(100, 1000), 10_000);
        assert_eq!(points(55, 0), 0);
    }

    #[test]
    fn subtotal_levels() {
        assert_eq!(subtotal_count(0), 0);
        assert_eq!(subtotal_count(MAX_PARENTS), 0);
        assert_eq!(subtotal_count(MAX_PARENTS + 1), 2);
        assert_eq!(subtotal_count(MAX_PARENTS * MAX_PARENTS + 1), 1025 + 2);
    }
}
