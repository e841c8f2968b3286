//! CycloneDX VEX: the `vulnerabilities` of a CycloneDX document (a
//! standalone VEX BOM, or an SBOM that embeds them) read into VEX statements.
//!
//! Each vulnerability with an `analysis` is one statement: its `id` and the
//! `id`s of its `references` name it, `analysis.state` gives the status and
//! `affects[].ref` the products, each a `bom-ref` of a component of the same
//! document, a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) or a
//! package URL.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::vex::{READER, Statement, VexStatus, is_purl, parse_purl, timestamp};
use crate::error::Reason;
use crate::json::{Path, Result};
use crate::purl::Purl;

const STATES: [(&str, VexStatus); 6] = [
    ("not_affected", VexStatus::NotAffected),
    ("false_positive", VexStatus::NotAffected),
    ("resolved", VexStatus::Fixed),
    ("resolved_with_pedigree", VexStatus::Fixed),
    ("exploitable", VexStatus::Affected),
    ("in_triage", VexStatus::UnderInvestigation),
];

const JUSTIFICATIONS: [&str; 9] = [
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
];

/// The statements of a CycloneDX document and the count of what names no
/// package URL (refs that resolve to none, vulnerabilities without analysis).
pub(crate) fn statements(top: &Map<String, Value>) -> Result<(Vec<Statement>, usize)> {
    let root = Path::Root;
    let format_at = root.member("bomFormat");
    let format = READER.string(READER.required(top, "bomFormat", &root)?, &format_at)?;
    if format != "CycloneDX" {
        return Err(READER.fail(
            &format_at,
            Reason::UnknownValue {
                value: format.to_string(),
                expected: "\"CycloneDX\"",
            },
        ));
    }
    let mut refs = BTreeMap::new();
    if let Some(Value::Object(metadata)) = top.get("metadata")
        && let Some(component) = metadata.get("component")
    {
        let at = root.member("metadata");
        bom_ref(component, &at.member("component"), &mut refs)?;
    }
    components(top, &root, &mut refs)?;
    let document_time = match top.get("metadata") {
        Some(Value::Object(metadata)) => match metadata.get("timestamp") {
            Some(value) => {
                let at = root.member("metadata");
                Some(timestamp(value, &at.member("timestamp"))?)
            }
            None => None,
        },
        _ => None,
    };

    let mut out = Vec::new();
    let mut unresolved = 0;
    let Some(list) = top.get("vulnerabilities") else {
        return Ok((out, unresolved));
    };
    let at = root.member("vulnerabilities");
    for (i, item) in READER.array(list, &at)?.iter().enumerate() {
        let at = at.index(i);
        match vulnerability(item, &at, &refs, document_time)? {
            Some((statement, missing)) => {
                unresolved += missing;
                if !statement.products.is_empty() {
                    out.push(statement);
                }
            }
            None => unresolved += 1,
        }
    }
    Ok((out, unresolved))
}

/// `bom-ref` → purl of every component, recursively.
fn components(
    parent: &Map<String, Value>,
    at: &Path,
    refs: &mut BTreeMap<String, Purl>,
) -> Result<()> {
    let Some(list) = parent.get("components") else {
        return Ok(());
    };
    let at = at.member("components");
    for (i, item) in READER.array(list, &at)?.iter().enumerate() {
        let at = at.index(i);
        bom_ref(item, &at, refs)?;
        components(READER.object(item, &at)?, &at, refs)?;
    }
    Ok(())
}

fn bom_ref(value: &Value, at: &Path, refs: &mut BTreeMap<String, Purl>) -> Result<()> {
    let component = READER.object(value, at)?;
    let (Some(reference), Some(purl)) = (component.get("bom-ref"), component.get("purl")) else {
        return Ok(());
    };
    let reference = READER.string(reference, &at.member("bom-ref"))?;
    let purl_at = at.member("purl");
    let mut purl = parse_purl(READER.string(purl, &purl_at)?, &purl_at)?;
    if purl.version.is_none()
        && let Some(version) = component.get("version")
    {
        purl.version = Some(READER.string(version, &at.member("version"))?.to_string());
    }
    refs.insert(reference.to_string(), purl);
    Ok(())
}

/// The statement of one vulnerability and how many of its refs resolve to no
/// purl; `None` when it has no `analysis` (a finding, not a statement).
fn vulnerability(
    value: &Value,
    at: &Path,
    refs: &BTreeMap<String, Purl>,
    document_time: Option<Timestamp>,
) -> Result<Option<(Statement, usize)>> {
    let obj = READER.object(value, at)?;
    let Some(analysis) = obj.get("analysis") else {
        return Ok(None);
    };
    let mut names = vec![
        READER
            .string(READER.required(obj, "id", at)?, &at.member("id"))?
            .to_string(),
    ];
    names.extend(
        READER
            .field_strings(obj, "references", "id", at)?
            .into_iter()
            .map(str::to_string),
    );

    let analysis_at = at.member("analysis");
    let analysis = READER.object(analysis, &analysis_at)?;
    let state_at = analysis_at.member("state");
    let state = READER.string(READER.required(analysis, "state", &analysis_at)?, &state_at)?;
    let Some(&(_, status)) = STATES.iter().find(|(name, _)| *name == state) else {
        return Err(READER.fail(
            &state_at,
            Reason::UnknownValue {
                value: state.to_string(),
                expected: "not_affected, false_positive, resolved, resolved_with_pedigree, \
                           exploitable, in_triage",
            },
        ));
    };
    let justification = match analysis.get("justification") {
        Some(value) => {
            let at = analysis_at.member("justification");
            let text = READER.string(value, &at)?;
            if !JUSTIFICATIONS.contains(&text) {
                return Err(READER.fail(
                    &at,
                    Reason::UnknownValue {
                        value: text.to_string(),
                        expected: "code_not_present, code_not_reachable, requires_configuration, \
                                   requires_dependency, requires_environment, \
                                   protected_by_compiler, protected_at_runtime, \
                                   protected_at_perimeter, protected_by_mitigating_control",
                    },
                ));
            }
            Some(text.to_string())
        }
        None if state == "false_positive" => Some("false_positive".to_string()),
        None => None,
    };

    let mut time = None;
    for (object, object_at, member) in [
        (analysis, &analysis_at, "lastUpdated"),
        (analysis, &analysis_at, "firstIssued"),
        (obj, at, "updated"),
        (obj, at, "published"),
    ] {
        if let Some(value) = object.get(member) {
            time = Some(timestamp(value, &object_at.member(member))?);
            break;
        }
    }

    let affects_at = at.member("affects");
    let list = READER.array(READER.required(obj, "affects", at)?, &affects_at)?;
    if list.is_empty() {
        return Err(READER.fail(&affects_at, Reason::Empty));
    }
    let mut products = Vec::new();
    let mut unresolved = 0;
    for (i, item) in list.iter().enumerate() {
        let at = affects_at.index(i);
        let affect = READER.object(item, &at)?;
        let ref_at = at.member("ref");
        let reference = READER.string(READER.required(affect, "ref", &at)?, &ref_at)?;
        match resolve(reference, refs, &ref_at)? {
            Some(purl) => products.push(purl),
            None => unresolved += 1,
        }
    }
    Ok(Some((
        Statement {
            vulnerability: names,
            products,
            status,
            justification,
            time: time.or(document_time),
        },
        unresolved,
    )))
}

/// A `bom-ref` of this document, a BOM-Link to one (its fragment), or a purl.
fn resolve(reference: &str, refs: &BTreeMap<String, Purl>, at: &Path) -> Result<Option<Purl>> {
    if let Some(purl) = refs.get(reference) {
        return Ok(Some(purl.clone()));
    }
    let target = match reference.strip_prefix("urn:cdx:") {
        Some(link) => match link.split_once('#') {
            Some((_, fragment)) => percent_decode(fragment).unwrap_or_else(|| fragment.into()),
            None => return Ok(None),
        },
        None => reference.to_string(),
    };
    if let Some(purl) = refs.get(&target) {
        return Ok(Some(purl.clone()));
    }
    if is_purl(&target) {
        return parse_purl(&target, at).map(Some);
    }
    Ok(None)
}

/// BOM-Link fragments percent-encode their bom-ref (a purl's `@`, `/`).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
