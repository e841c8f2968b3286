//! SPDX SBOMs: the packages with a package URL become components.
//!
//! SPDX 2.2/2.3 JSON (what syft and Trivy emit): `packages[].externalRefs`
//! entries of category `PACKAGE-MANAGER` (2.3; `PACKAGE_MANAGER` in 2.2) and
//! type `purl`, with `versionInfo` when the purl has no version.
//! SPDX 3.0 JSON-LD: `@graph` elements of type `software_Package`, with
//! `software_packageUrl` or an `externalIdentifier` of type `packageUrl`,
//! and `software_packageVersion`.

use serde_json::{Map, Value};

use super::sbom::{Component, READER, component};
use crate::error::Reason;
use crate::json::{Path, Result};

/// The components of an SPDX 2 document and how many packages have no purl.
pub(crate) fn spdx2(top: &Map<String, Value>) -> Result<(Vec<Component>, usize)> {
    let root = Path::Root;
    let version_at = root.member("spdxVersion");
    let version = READER.string(READER.required(top, "spdxVersion", &root)?, &version_at)?;
    if !version.starts_with("SPDX-2.") {
        return Err(READER.fail(
            &version_at,
            Reason::UnknownValue {
                value: version.to_string(),
                expected: "\"SPDX-2.2\" or \"SPDX-2.3\" (SPDX 3 documents are JSON-LD with \"@context\")",
            },
        ));
    }
    let mut out = Vec::new();
    let mut skipped = 0;
    let Some(list) = top.get("packages") else {
        return Ok((out, skipped));
    };
    let at = root.member("packages");
    for (i, item) in READER.array(list, &at)?.iter().enumerate() {
        let at = at.index(i);
        let package = READER.object(item, &at)?;
        let before = out.len();
        if let Some(refs) = package.get("externalRefs") {
            let refs_at = at.member("externalRefs");
            for (j, item) in READER.array(refs, &refs_at)?.iter().enumerate() {
                let ref_at = refs_at.index(j);
                let reference = READER.object(item, &ref_at)?;
                let category = READER.string(
                    READER.required(reference, "referenceCategory", &ref_at)?,
                    &ref_at.member("referenceCategory"),
                )?;
                let kind = READER.string(
                    READER.required(reference, "referenceType", &ref_at)?,
                    &ref_at.member("referenceType"),
                )?;
                if !matches!(category, "PACKAGE-MANAGER" | "PACKAGE_MANAGER") || kind != "purl" {
                    continue;
                }
                let locator_at = ref_at.member("referenceLocator");
                let locator = READER.string(
                    READER.required(reference, "referenceLocator", &ref_at)?,
                    &locator_at,
                )?;
                let version = package
                    .get("versionInfo")
                    .map(|v| (v, at.member("versionInfo")));
                out.push(component(locator, &locator_at, version)?);
            }
        }
        if out.len() == before {
            skipped += 1;
        }
    }
    Ok((out, skipped))
}

/// The components of an SPDX 3 JSON-LD document and how many packages have no purl.
pub(crate) fn spdx3(top: &Map<String, Value>) -> Result<(Vec<Component>, usize)> {
    let root = Path::Root;
    let context_at = root.member("@context");
    let context = READER.required(top, "@context", &root)?;
    let contexts: Vec<&str> = match context {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        other => vec![READER.string(other, &context_at)?],
    };
    if !contexts.iter().any(|c| c.contains("spdx.org/rdf/3.")) {
        return Err(READER.fail(
            &context_at,
            Reason::UnknownValue {
                value: contexts.join(" "),
                expected: "an SPDX 3 context (https://spdx.org/rdf/3.0.1/spdx-context.jsonld)",
            },
        ));
    }
    let graph_at = root.member("@graph");
    let graph = READER.array(READER.required(top, "@graph", &root)?, &graph_at)?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for (i, item) in graph.iter().enumerate() {
        let at = graph_at.index(i);
        let element = READER.object(item, &at)?;
        let type_member = if element.contains_key("type") {
            "type"
        } else {
            "@type"
        };
        let Some(kind) = element.get(type_member) else {
            continue;
        };
        if READER.string(kind, &at.member(type_member))? != "software_Package" {
            continue;
        }
        let version = element
            .get("software_packageVersion")
            .map(|v| (v, at.member("software_packageVersion")));
        let before = out.len();
        if let Some(purl) = element.get("software_packageUrl") {
            let purl_at = at.member("software_packageUrl");
            out.push(component(
                READER.string(purl, &purl_at)?,
                &purl_at,
                version,
            )?);
        }
        if let Some(list) = element.get("externalIdentifier") {
            let list_at = at.member("externalIdentifier");
            for (j, item) in READER.array(list, &list_at)?.iter().enumerate() {
                let id_at = list_at.index(j);
                let identifier = READER.object(item, &id_at)?;
                let kind = READER.string(
                    READER.required(identifier, "externalIdentifierType", &id_at)?,
                    &id_at.member("externalIdentifierType"),
                )?;
                if kind != "packageUrl" {
                    continue;
                }
                let text_at = id_at.member("identifier");
                let text =
                    READER.string(READER.required(identifier, "identifier", &id_at)?, &text_at)?;
                out.push(component(text, &text_at, version)?);
            }
        }
        if out.len() == before {
            skipped += 1;
        }
    }
    Ok((out, skipped))
}
