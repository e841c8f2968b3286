//! Advisory severity (score version 2): CVSS v2, v3.0, v3.1 and v4.0 vector
//! strings computed to base scores, plain base scores, qualitative ratings
//! (GHSA's `database_specific.severity`, Ubuntu priorities, Red Hat style
//! labels), and advisories with none of these. docs/scoring.md, "Severity
//! (score version 2)", is the normative rule.
//!
//! The `cvss` crate computes scores in `f64` but rounds them to one decimal
//! as each specification prescribes; the result is turned into integer
//! tenths at once, so no floating-point value reaches anything hashed.

use std::str::FromStr;

use crate::number::{Band, Cvss, NumberError};

/// Where an advisory's severity came from: what the ledger's `match` node
/// records as `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// A base score given as a number (`cvss`, or a `severity[].score` decimal).
    Score,
    CvssV2,
    CvssV30,
    CvssV31,
    CvssV40,
    /// A qualitative rating only.
    Label,
    /// No severity at all: the policy's `unscored` band applies.
    Unscored,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Score => "score",
            Source::CvssV2 => "cvss-v2",
            Source::CvssV30 => "cvss-v3.0",
            Source::CvssV31 => "cvss-v3.1",
            Source::CvssV40 => "cvss-v4.0",
            Source::Label => "label",
            Source::Unscored => "unscored",
        }
    }
}

/// An advisory's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A base score: given, or computed from a vector. The highest counts.
    Score {
        cvss: Cvss,
        source: Source,
    },
    /// Only a qualitative rating: the highest counts.
    Label(Band),
    Unscored,
}

impl Severity {
    /// The score a finding is weighted with and its band: a label counts as
    /// the lowest score of its band (the score is known to be at least
    /// that), an unscored advisory as the lowest score of `unscored`.
    pub fn effective(self, unscored: Band) -> (Cvss, Band, Source) {
        match self {
            Severity::Score { cvss, source } => (cvss, cvss.band(), source),
            Severity::Label(band) => (band.lowest(), band, Source::Label),
            Severity::Unscored => (unscored.lowest(), unscored, Source::Unscored),
        }
    }

    /// The more severe of two: any score beats a label, a label beats none.
    /// Commutative and associative, so the order of entries never matters.
    pub fn max(self, other: Severity) -> Severity {
        match (self, other) {
            // On equal scores the later CVSS version decides, so that the
            // order of `severity` entries never matters.
            (
                Severity::Score {
                    cvss: a,
                    source: sa,
                },
                Severity::Score {
                    cvss: b,
                    source: sb,
                },
            ) => {
                if (b, sb) > (a, sa) {
                    other
                } else {
                    self
                }
            }
            (Severity::Score { .. }, _) => self,
            (_, Severity::Score { .. }) => other,
            (Severity::Label(a), Severity::Label(b)) => Severity::Label(a.max(b)),
            (Severity::Label(_), Severity::Unscored) => self,
            (Severity::Unscored, _) => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeverityError {
    #[error("invalid CVSS vector {text:?}: {error}")]
    Vector { text: String, error: String },
    #[error("CVSS vector {text:?} is of another version than its type {ty}")]
    VersionMismatch { text: String, ty: String },
    #[error("{text:?} is neither a CVSS vector nor a base score: {error}")]
    Score { text: String, error: NumberError },
    #[error("unknown rating {0:?}")]
    UnknownLabel(String),
    #[error("unknown severity type {0:?}")]
    UnknownType(String),
}

/// The base score of a CVSS vector string, with its version.
pub fn vector_score(text: &str) -> Result<(Cvss, Source), SeverityError> {
    let fail = |error: cvss::Error| SeverityError::Vector {
        text: text.to_string(),
        error: error.to_string(),
    };
    let (value, source) = if let Some(rest) = text.strip_prefix("CVSS:4.0/") {
        // Only the base metrics: a vector with threat or environmental
        // metrics would otherwise give CVSS-BT or CVSS-BE, not the base score.
        let base: Vec<&str> = rest
            .split('/')
            .filter(|m| {
                let name = m.split(':').next().unwrap_or("");
                V4_BASE.contains(&name)
            })
            .collect();
        let vector =
            cvss::v4::Vector::from_str(&format!("CVSS:4.0/{}", base.join("/"))).map_err(fail)?;
        (vector.score().value(), Source::CvssV40)
    } else if text.starts_with("CVSS:3.") {
        let vector = cvss::v3::Vector::from_str(text).map_err(fail)?;
        let source = if text.starts_with("CVSS:3.0/") {
            Source::CvssV30
        } else {
            Source::CvssV31
        };
        (vector.base_score().value(), source)
    } else {
        // v2 vectors have no prefix; some sources write `CVSS:2.0/` or wrap them in parentheses.
        let bare = text.strip_prefix("CVSS:2.0/").unwrap_or(text);
        let bare = bare
            .strip_prefix('(')
            .and_then(|b| b.strip_suffix(')'))
            .unwrap_or(bare);
        let vector = cvss::v2::Vector::from_str(bare).map_err(fail)?;
        (vector.score().value(), Source::CvssV2)
    };
    Ok((tenths(value), source))
}

const V4_BASE: [&str; 11] = [
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];

/// Integer tenths of a score the crate already rounded to one decimal.
fn tenths(value: f64) -> Cvss {
    let tenths = (value * 10.0).round().clamp(0.0, 100.0);
    // In 0..=100 after the clamp, so the cast is exact.
    Cvss::from_tenths(tenths as u8).unwrap_or(Cvss::ZERO)
}

/// One OSV `severity[]` entry: `type` (`CVSS_V2`, `CVSS_V3`, `CVSS_V4`,
/// `Ubuntu`, or absent) and `score`.
pub fn entry(ty: Option<&str>, score: &str) -> Result<Severity, SeverityError> {
    let score_of = |(cvss, source)| Severity::Score { cvss, source };
    match ty {
        Some("CVSS_V2" | "CVSS_V3" | "CVSS_V4") | None if looks_like_vector(score) => {
            let (cvss, source) = vector_score(score)?;
            let expected = match ty {
                Some("CVSS_V2") => Some(source == Source::CvssV2),
                Some("CVSS_V3") => Some(matches!(source, Source::CvssV30 | Source::CvssV31)),
                Some("CVSS_V4") => Some(source == Source::CvssV40),
                _ => None,
            };
            if expected == Some(false) {
                return Err(SeverityError::VersionMismatch {
                    text: score.to_string(),
                    ty: ty.unwrap_or_default().to_string(),
                });
            }
            Ok(score_of((cvss, source)))
        }
        Some("Ubuntu") => label(score).map(Severity::Label),
        _ => match Cvss::parse(score) {
            Ok(cvss) => Ok(score_of((cvss, Source::Score))),
            Err(error) => match ty {
                Some(t) if !is_known(t) => Err(SeverityError::UnknownType(t.to_string())),
                _ => Err(SeverityError::Score {
                    text: score.to_string(),
                    error,
                }),
            },
        },
    }
}

fn is_known(ty: &str) -> bool {
    matches!(ty, "CVSS_V2" | "CVSS_V3" | "CVSS_V4" | "Ubuntu")
}

fn looks_like_vector(text: &str) -> bool {
    text.starts_with("CVSS:") || text.contains('/')
}

/// A qualitative rating: GHSA (`LOW`, `MODERATE`, `HIGH`, `CRITICAL`), CVSS
/// names (`NONE`, `MEDIUM`), Red Hat style (`Important`), Ubuntu priorities
/// (`negligible`, `untriaged` is no rating), case-insensitively.
pub fn label(text: &str) -> Result<Band, SeverityError> {
    match text.to_ascii_lowercase().as_str() {
        "critical" => Ok(Band::Critical),
        "high" | "important" => Ok(Band::High),
        "moderate" | "medium" => Ok(Band::Medium),
        "low" | "negligible" => Ok(Band::Low),
        "none" => Ok(Band::None),
        _ => Err(SeverityError::UnknownLabel(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> (u8, Source) {
        let (cvss, source) = vector_score(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (cvss.tenths(), source)
    }

    /// Examples of the specifications and of FIRST's calculators.
    #[test]
    fn base_scores_of_the_specifications_examples() {
        // CVSS v3.1 specification, section 7.4 examples and the user guide.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            (98, Source::CvssV31)
        );
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            (100, Source::CvssV31)
        );
        // CVE-2014-0160 (Heartbleed) in the v3.0 examples document: 7.5.
        assert_eq!(
            score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),
            (75, Source::CvssV30)
        );
        // CVE-2013-1937 (phpMyAdmin reflected XSS) in the v3.1 examples: 6.1.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            (61, Source::CvssV31)
        );
        // Temporal metrics do not change the base score.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:U/RL:O/RC:U"),
            (75, Source::CvssV31)
        );
        // CVSS v2 guide, section 3.3.1 (CVE-2002-0392): base 7.8.
        assert_eq!(score("AV:N/AC:L/Au:N/C:N/I:N/A:C"), (78, Source::CvssV2));
        // CVSS v2 guide, section 3.3.2 (CVE-2003-0818): base 10.0.
        assert_eq!(score("AV:N/AC:L/Au:N/C:C/I:C/A:C"), (100, Source::CvssV2));
        // CVSS v2 guide, section 3.3.3 (CVE-2003-0062): base 6.2.
        assert_eq!(score("AV:L/AC:H/Au:N/C:C/I:C/A:C"), (62, Source::CvssV2));
        assert_eq!(score("(AV:L/AC:H/Au:N/C:C/I:C/A:C)"), (62, Source::CvssV2));
        // CVSS v4.0 calculator: all high, no subsequent impact: 9.3.
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            (93, Source::CvssV40)
        );
        // Everything high including the subsequent system: 10.0.
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"),
            (100, Source::CvssV40)
        );
        // No impact at all: 0.0.
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
            (0, Source::CvssV40)
        );
        // Threat metrics are left out: the base score, not CVSS-BT.
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U"),
            (93, Source::CvssV40)
        );
    }

    #[test]
    fn entries() {
        let s = |ty, text| entry(ty, text);
        assert_eq!(
            s(
                Some("CVSS_V3"),
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            ),
            Ok(Severity::Score {
                cvss: Cvss::from_tenths(98).unwrap(),
                source: Source::CvssV31
            })
        );
        assert_eq!(
            s(Some("CVSS_V3"), "7.5"),
            Ok(Severity::Score {
                cvss: Cvss::from_tenths(75).unwrap(),
                source: Source::Score
            })
        );
        assert_eq!(
            s(Some("Ubuntu"), "medium"),
            Ok(Severity::Label(Band::Medium))
        );
        assert!(matches!(
            s(
                Some("CVSS_V2"),
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            ),
            Err(SeverityError::VersionMismatch { .. })
        ));
        assert!(matches!(
            s(Some("CVSS_V3"), "CVSS:3.1/AV:X/AC:L"),
            Err(SeverityError::Vector { .. })
        ));
        assert!(matches!(
            s(Some("CVSS_V3"), "high"),
            Err(SeverityError::Score { .. })
        ));
        assert_eq!(
            s(Some("SEVERITY_X"), "bad"),
            Err(SeverityError::UnknownType("SEVERITY_X".into()))
        );
        assert_eq!(
            s(Some("Ubuntu"), "untriaged"),
            Err(SeverityError::UnknownLabel("untriaged".into()))
        );
    }

    #[test]
    fn labels_and_precedence() {
        assert_eq!(label("MODERATE"), Ok(Band::Medium));
        assert_eq!(label("Important"), Ok(Band::High));
        assert_eq!(label("negligible"), Ok(Band::Low));
        let score = |t| Severity::Score {
            cvss: Cvss::from_tenths(t).unwrap(),
            source: Source::Score,
        };
        assert_eq!(score(50).max(Severity::Label(Band::Critical)), score(50));
        assert_eq!(score(50).max(score(72)), score(72));
        assert_eq!(
            Severity::Unscored.max(Severity::Label(Band::Low)),
            Severity::Label(Band::Low)
        );
        assert_eq!(
            Severity::Label(Band::High).effective(Band::Medium),
            (Cvss::from_tenths(70).unwrap(), Band::High, Source::Label)
        );
        assert_eq!(
            Severity::Unscored.effective(Band::Medium),
            (
                Cvss::from_tenths(40).unwrap(),
                Band::Medium,
                Source::Unscored
            )
        );
    }
}
