//! The scoring policy: a weight per severity band, how each VEX status
//! applies, and the threshold the score is held against.

use attestor_core::digest::Sha256Digest;
use serde_json::Value;

use crate::error::{InputError, InputKind, Reason};
use crate::inputs::vex::VexStatus;
use crate::json::{Path, Reader, Result};
use crate::number::{Band, read_integer};

/// The optional `schema` member, when given, must be exactly this.
pub const POLICY_SCHEMA: &str = "stellaops.io/score-policy/v1";
/// Weights above 1000 % are refused: a tenfold escalation is plenty, and the
/// bound keeps every sum far below 2^53.
pub const MAX_WEIGHT_PERCENT: u64 = 1000;
/// The largest integer every JSON implementation reads exactly.
pub const MAX_THRESHOLD: u64 = 1 << 53;

/// What a VEX statement does to a finding it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VexEffect {
    /// The finding contributes nothing to the score.
    Suppress,
    /// The finding is weighted as if there were no statement.
    Keep,
}

impl VexEffect {
    pub fn name(self) -> &'static str {
        match self {
            VexEffect::Suppress => "suppress",
            VexEffect::Keep => "keep",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub digest: Sha256Digest,
    /// Points above which the verdict is `fail`.
    pub threshold: u64,
    /// Percent per band, indexed like [`Band::ALL`] (declaration order); 0 for bands not listed.
    weights: [u32; 5],
    /// Effect per status, indexed like [`VexStatus::ALL`] (declaration order); `keep` when not listed.
    effects: [VexEffect; 4],
    /// The band of advisories without any severity (score version 2).
    pub unscored: Band,
}

/// The band of unscored advisories when the policy does not say: most
/// advisories without a score are real but unrated, and `none` would hide
/// them while `critical` would fail every image on a feed's backlog.
pub const DEFAULT_UNSCORED: Band = Band::Medium;

const READER: Reader = Reader {
    kind: InputKind::Policy,
};

impl Policy {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, InputError> {
        let (value, digest) = READER.parse(bytes)?;
        Self::from_value(&value, digest)
    }

    /// Reads an already parsed policy whose content id is `digest`. Unknown
    /// members are refused: a misspelt `treshold` must not go unnoticed.
    pub fn from_value(value: &Value, digest: Sha256Digest) -> Result<Self> {
        let root = Path::Root;
        let top = READER.object(value, &root)?;
        READER.only_members(
            top,
            &["schema", "threshold", "weights", "vex", "unscored"],
            "schema, threshold, weights, vex, unscored",
            &root,
        )?;
        if let Some(schema) = top.get("schema") {
            let at = root.member("schema");
            let text = READER.string(schema, &at)?;
            if text != POLICY_SCHEMA {
                return Err(READER.fail(
                    &at,
                    Reason::UnknownValue {
                        value: text.to_string(),
                        expected: "\"stellaops.io/score-policy/v1\"",
                    },
                ));
            }
        }
        let threshold = read_integer(
            &READER,
            READER.required(top, "threshold", &root)?,
            &root.member("threshold"),
            MAX_THRESHOLD,
        )?;

        let weights_at = root.member("weights");
        let listed = READER.object(READER.required(top, "weights", &root)?, &weights_at)?;
        let mut weights = [0u32; 5];
        for (name, value) in listed {
            let at = weights_at.member(name);
            let band = Band::from_name(name).ok_or_else(|| {
                READER.fail(
                    &weights_at,
                    Reason::UnknownMember {
                        member: name.clone(),
                        allowed: "none, low, medium, high, critical",
                    },
                )
            })?;
            let percent = read_integer(&READER, value, &at, MAX_WEIGHT_PERCENT)?;
            // MAX_WEIGHT_PERCENT fits in u32.
            weights[band as usize] = percent as u32;
        }

        let mut effects = [VexEffect::Keep; 4];
        if let Some(value) = top.get("vex") {
            let vex_at = root.member("vex");
            for (name, value) in READER.object(value, &vex_at)? {
                let status = VexStatus::from_name(name).ok_or_else(|| {
                    READER.fail(
                        &vex_at,
                        Reason::UnknownMember {
                            member: name.clone(),
                            allowed: "not_affected, affected, fixed, under_investigation",
                        },
                    )
                })?;
                let at = vex_at.member(name);
                effects[status as usize] = match READER.string(value, &at)? {
                    "suppress" => VexEffect::Suppress,
                    "keep" => VexEffect::Keep,
                    other => {
                        return Err(READER.fail(
                            &at,
                            Reason::UnknownValue {
                                value: other.to_string(),
                                expected: "\"suppress\" or \"keep\"",
                            },
                        ));
                    }
                };
            }
        }
        let unscored = match top.get("unscored") {
            None => DEFAULT_UNSCORED,
            Some(value) => {
                let at = root.member("unscored");
                let name = READER.string(value, &at)?;
                Band::from_name(name).ok_or_else(|| {
                    READER.fail(
                        &at,
                        Reason::UnknownValue {
                            value: name.to_string(),
                            expected: "\"none\", \"low\", \"medium\", \"high\" or \"critical\"",
                        },
                    )
                })?
            }
        };
        Ok(Self {
            digest,
            threshold,
            weights,
            effects,
            unscored,
        })
    }

    /// The weight of a band, in percent.
    pub fn weight(&self, band: Band) -> u32 {
        self.weights[band as usize]
    }

    pub fn effect(&self, status: VexStatus) -> VexEffect {
        self.effects[status as usize]
    }
}
