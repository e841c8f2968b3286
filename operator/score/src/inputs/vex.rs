//! VEX documents: statements about whether a vulnerability affects a
//! product, from OpenVEX, CSAF 2.0 VEX ([`super::csaf`]) or CycloneDX VEX
//! ([`super::cyclonedx_vex`], standalone or embedded in an SBOM), all read
//! into one statement model and decided by one rule
//! ([`Vex::statement_for`]).

use std::collections::BTreeMap;

use attestor_core::digest::Sha256Digest;
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::error::{InputError, InputKind, Reason};
use crate::inputs::feed::Advisory;
use crate::inputs::sbom::Component;
use crate::json::{Path, Reader, Result};
use crate::purl::Purl;

/// The OpenVEX status of a vulnerability in a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub const ALL: [VexStatus; 4] = [
        VexStatus::NotAffected,
        VexStatus::Affected,
        VexStatus::Fixed,
        VexStatus::UnderInvestigation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Between equally recent statements the one claiming more exposure wins.
    pub(crate) fn caution(self) -> u8 {
        match self {
            VexStatus::NotAffected => 0,
            VexStatus::Fixed => 1,
            VexStatus::UnderInvestigation => 2,
            VexStatus::Affected => 3,
        }
    }
}

pub(crate) const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// One VEX statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The vulnerability's name and aliases.
    pub vulnerability: Vec<String>,
    /// The package URLs among the products and their subcomponents.
    pub products: Vec<Purl>,
    pub status: VexStatus,
    pub justification: Option<String>,
    /// `last_updated`, else `timestamp`, of the statement, else of the document.
    pub time: Option<Timestamp>,
}

impl Statement {
    /// A product without version covers every version of its package.
    fn covers(&self, component: &Component) -> bool {
        self.products.iter().any(|p| {
            p.package == component.purl.package
                && (p.version.is_none() || p.version == component.purl.version)
        })
    }
}

/// The format a VEX document was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexFormat {
    OpenVex,
    Csaf,
    CycloneDx,
}

impl VexFormat {
    pub fn name(self) -> &'static str {
        match self {
            VexFormat::OpenVex => "OpenVEX",
            VexFormat::Csaf => "CSAF 2.0 VEX",
            VexFormat::CycloneDx => "CycloneDX VEX",
        }
    }
}

/// A VEX document, indexed by vulnerability name.
#[derive(Debug, Clone)]
pub struct Vex {
    pub digest: Sha256Digest,
    pub format: VexFormat,
    pub statements: Vec<Statement>,
    /// Product references that name no package URL (CSAF products with only
    /// a CPE, CycloneDX `affects` refs to components outside the document or
    /// without purl), and CycloneDX vulnerabilities without `analysis`: they
    /// cannot cover a component, and are counted so that this is not silent.
    pub unresolved: usize,
    by_name: BTreeMap<String, Vec<usize>>,
}

pub(crate) const READER: Reader = Reader {
    kind: InputKind::Vex,
};

impl Vex {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, InputError> {
        let (value, digest) = READER.parse(bytes)?;
        Self::from_value(&value, digest)
    }

    /// Reads an already parsed document whose content id is `digest`. The
    /// format is told by its content: `document.csaf_version` is CSAF,
    /// `bomFormat` CycloneDX, anything else OpenVEX.
    pub fn from_value(value: &Value, digest: Sha256Digest) -> Result<Self> {
        let root = Path::Root;
        let top = READER.object(value, &root)?;
        let csaf = top
            .get("document")
            .and_then(Value::as_object)
            .is_some_and(|d| d.contains_key("csaf_version"));
        let (format, statements, unresolved) = if csaf {
            let (statements, unresolved) = super::csaf::statements(top)?;
            (VexFormat::Csaf, statements, unresolved)
        } else if top.contains_key("bomFormat") && !top.contains_key("statements") {
            let (statements, unresolved) = super::cyclonedx_vex::statements(top)?;
            (VexFormat::CycloneDx, statements, unresolved)
        } else {
            (VexFormat::OpenVex, openvex(top)?, 0)
        };
        Ok(Self::from_statements(
            digest, format, statements, unresolved,
        ))
    }

    pub(crate) fn from_statements(
        digest: Sha256Digest,
        format: VexFormat,
        statements: Vec<Statement>,
        unresolved: usize,
    ) -> Self {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, statement) in statements.iter().enumerate() {
            for name in &statement.vulnerability {
                by_name.entry(name.clone()).or_default().push(i);
            }
        }
        Self {
            digest,
            format,
            statements,
            unresolved,
            by_name,
        }
    }

    /// The statement that decides the status of `advisory` in `component`:
    /// among those naming the advisory (by id or alias) and covering the
    /// component, the most recent, and between equally recent ones the most
    /// cautious status. Input order never matters.
    pub fn statement_for(&self, advisory: &Advisory, component: &Component) -> Option<&Statement> {
        let mut candidates: Vec<usize> = advisory
            .names()
            .filter_map(|name| self.by_name.get(name))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|i| &self.statements[i])
            .filter(|s| s.covers(component))
            .max_by_key(|s| (s.time, s.status.caution()))
    }
}

fn openvex(top: &Map<String, Value>) -> Result<Vec<Statement>> {
    let root = Path::Root;
    let document_time = time(top, &root)?;
    let at = root.member("statements");
    let list = READER.array(READER.required(top, "statements", &root)?, &at)?;
    list.iter()
        .enumerate()
        .map(|(i, item)| statement(item, &at.index(i), document_time))
        .collect()
}

/// An RFC 3339 timestamp.
pub(crate) fn timestamp(value: &Value, at: &Path) -> Result<Timestamp> {
    let text = READER.string(value, at)?;
    text.parse::<Timestamp>().map_err(|e| {
        READER.fail(
            at,
            Reason::Timestamp {
                text: text.to_string(),
                error: e.to_string(),
            },
        )
    })
}

fn time(obj: &Map<String, Value>, at: &Path) -> Result<Option<Timestamp>> {
    for member in ["last_updated", "timestamp"] {
        if let Some(value) = obj.get(member) {
            let at = at.member(member);
            let text = READER.string(value, &at)?;
            return text.parse::<Timestamp>().map(Some).map_err(|e| {
                READER.fail(
                    &at,
                    Reason::Timestamp {
                        text: text.to_string(),
                        error: e.to_string(),
                    },
                )
            });
        }
    }
    Ok(None)
}

fn statement(value: &Value, at: &Path, document_time: Option<Timestamp>) -> Result<Statement> {
    let obj = READER.object(value, at)?;
    let vulnerability = vulnerability(READER.required(obj, "vulnerability", at)?, at)?;

    let products_at = at.member("products");
    let list = READER.array(READER.required(obj, "products", at)?, &products_at)?;
    if list.is_empty() {
        return Err(READER.fail(&products_at, Reason::Empty));
    }
    let mut products = Vec::new();
    for (i, item) in list.iter().enumerate() {
        product(item, &products_at.index(i), &mut products)?;
    }

    let status_at = at.member("status");
    let status_text = READER.string(READER.required(obj, "status", at)?, &status_at)?;
    let status = VexStatus::from_name(status_text).ok_or_else(|| {
        READER.fail(
            &status_at,
            Reason::UnknownValue {
                value: status_text.to_string(),
                expected: "not_affected, affected, fixed, under_investigation",
            },
        )
    })?;

    let justification = match obj.get("justification") {
        Some(value) => {
            let at = at.member("justification");
            let text = READER.string(value, &at)?;
            if !JUSTIFICATIONS.contains(&text) {
                return Err(READER.fail(
                    &at,
                    Reason::UnknownValue {
                        value: text.to_string(),
                        expected: "component_not_present, vulnerable_code_not_present, \
                                   vulnerable_code_not_in_execute_path, \
                                   vulnerable_code_cannot_be_controlled_by_adversary, \
                                   inline_mitigations_already_exist",
                    },
                ));
            }
            Some(text.to_string())
        }
        None => None,
    };
    if status == VexStatus::NotAffected
        && justification.is_none()
        && !obj.contains_key("impact_statement")
    {
        return Err(READER.fail(
            at,
            Reason::Rule(
                "a not_affected statement needs \"justification\" or \"impact_statement\"",
            ),
        ));
    }
    Ok(Statement {
        vulnerability,
        products,
        status,
        justification,
        time: time(obj, at)?.or(document_time),
    })
}

/// `"CVE-…"` (OpenVEX 0.0.x) or `{"name": "CVE-…", "aliases": […]}` (0.2).
fn vulnerability(value: &Value, at: &Path) -> Result<Vec<String>> {
    let at = at.member("vulnerability");
    if let Value::String(_) = value {
        return Ok(vec![READER.string(value, &at)?.to_string()]);
    }
    let obj = READER.object(value, &at)?;
    let name = READER.string(READER.required(obj, "name", &at)?, &at.member("name"))?;
    let mut names = vec![name.to_string()];
    names.extend(
        READER
            .strings(obj, "aliases", &at)?
            .into_iter()
            .map(str::to_string),
    );
    Ok(names)
}

/// Collects the purls of a product and its subcomponents. Identifiers that are
/// not package URLs (image references, CPEs, IRIs) match no SBOM component.
fn product(value: &Value, at: &Path, out: &mut Vec<Purl>) -> Result<()> {
    if let Value::String(_) = value {
        let text = READER.string(value, at)?;
        if is_purl(text) {
            out.push(parse_purl(text, at)?);
        }
        return Ok(());
    }
    let obj = READER.object(value, at)?;
    let identifiers = match obj.get("identifiers") {
        Some(value) => Some(READER.object(value, &at.member("identifiers"))?),
        None => None,
    };
    let id = match obj.get("@id") {
        Some(value) => Some(READER.string(value, &at.member("@id"))?),
        None => None,
    };
    if identifiers.is_none() && id.is_none() {
        return Err(READER.fail(
            at,
            Reason::Rule("a product needs \"@id\" or \"identifiers\""),
        ));
    }
    if let Some(purl) = identifiers.and_then(|ids| ids.get("purl")) {
        let at = at.member("identifiers");
        let at = at.member("purl");
        out.push(parse_purl(READER.string(purl, &at)?, &at)?);
    } else if let Some(id) = id.filter(|id| is_purl(id)) {
        out.push(parse_purl(id, &at.member("@id"))?);
    }
    if let Some(list) = obj.get("subcomponents") {
        let at = at.member("subcomponents");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            product(item, &at.index(i), out)?;
        }
    }
    Ok(())
}

pub(crate) fn is_purl(text: &str) -> bool {
    text.as_bytes()
        .get(..4)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"pkg:"))
}

pub(crate) fn parse_purl(text: &str, at: &Path) -> Result<Purl> {
    Purl::parse(text).map_err(|error| {
        READER.fail(
            at,
            Reason::Purl {
                text: text.to_string(),
                error,
            },
        )
    })
}
