//! CSAF 2.0 VEX documents (as Red Hat and others publish them) read into
//! VEX statements.
//!
//! A CSAF document names products by id in `product_tree` (nested
//! `branches`, `full_product_names`, and `relationships` that make a
//! component-of-platform product from a component); a product's package URL
//! is its `product_identification_helper.purl` (CSAF 2.1: `purls`), and a
//! relationship's product has the purls of its `product_reference`. Each
//! vulnerability's `product_status` lists product ids by status; `flags`
//! (labels are the OpenVEX justifications) and `impact` threats give the
//! reason for `known_not_affected`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::vex::{JUSTIFICATIONS, READER, Statement, VexStatus, parse_purl, timestamp};
use crate::error::Reason;
use crate::json::{Path, Result};
use crate::purl::Purl;

/// `product_status` lists and the status each states. `recommended` names
/// products to upgrade to, not a status of the vulnerability in them.
const STATUSES: [(&str, VexStatus); 7] = [
    ("known_not_affected", VexStatus::NotAffected),
    ("fixed", VexStatus::Fixed),
    ("first_fixed", VexStatus::Fixed),
    ("known_affected", VexStatus::Affected),
    ("first_affected", VexStatus::Affected),
    ("last_affected", VexStatus::Affected),
    ("under_investigation", VexStatus::UnderInvestigation),
];

/// Product id → its package URLs (empty: a product named by CPE or name only).
type Products = BTreeMap<String, Vec<Purl>>;

/// The statements of a CSAF document, and how many product references name
/// no package URL.
pub(crate) fn statements(top: &Map<String, Value>) -> Result<(Vec<Statement>, usize)> {
    let root = Path::Root;
    let document_at = root.member("document");
    let document = READER.object(READER.required(top, "document", &root)?, &document_at)?;
    let version_at = document_at.member("csaf_version");
    let version = READER.string(
        READER.required(document, "csaf_version", &document_at)?,
        &version_at,
    )?;
    if !matches!(version, "2.0" | "2.1") {
        return Err(READER.fail(
            &version_at,
            Reason::UnknownValue {
                value: version.to_string(),
                expected: "\"2.0\" (or \"2.1\")",
            },
        ));
    }
    let tracking_at = document_at.member("tracking");
    let tracking = READER.object(
        READER.required(document, "tracking", &document_at)?,
        &tracking_at,
    )?;
    let release_at = tracking_at.member("current_release_date");
    let time = timestamp(
        READER.required(tracking, "current_release_date", &tracking_at)?,
        &release_at,
    )?;

    let mut products = Products::new();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(tree) = top.get("product_tree") {
        let at = root.member("product_tree");
        product_tree(READER.object(tree, &at)?, &at, &mut products, &mut groups)?;
    }

    let mut out = Vec::new();
    let mut unresolved = 0;
    let Some(list) = top.get("vulnerabilities") else {
        return Ok((out, unresolved));
    };
    let at = root.member("vulnerabilities");
    for (i, item) in READER.array(list, &at)?.iter().enumerate() {
        let at = at.index(i);
        unresolved += vulnerability(item, &at, &products, &groups, time, &mut out)?;
    }
    Ok((out, unresolved))
}

fn product_tree(
    tree: &Map<String, Value>,
    at: &Path,
    products: &mut Products,
    groups: &mut BTreeMap<String, Vec<String>>,
) -> Result<()> {
    if let Some(list) = tree.get("branches") {
        branches(list, &at.member("branches"), products)?;
    }
    if let Some(list) = tree.get("full_product_names") {
        let at = at.member("full_product_names");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            full_product_name(item, &at.index(i), products)?;
        }
    }
    if let Some(list) = tree.get("relationships") {
        let at = at.member("relationships");
        let list = READER.array(list, &at)?;
        let mut pending = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let at = at.index(i);
            let obj = READER.object(item, &at)?;
            let reference_at = at.member("product_reference");
            let reference = READER
                .string(
                    READER.required(obj, "product_reference", &at)?,
                    &reference_at,
                )?
                .to_string();
            let name_at = at.member("full_product_name");
            let id = full_product_name(
                READER.required(obj, "full_product_name", &at)?,
                &name_at,
                products,
            )?;
            pending.push((id, reference, reference_at.pointer()));
        }
        // A relationship may build on another's product, in any order: resolve
        // until nothing changes (at most once per relationship).
        for _ in 0..=pending.len() {
            let mut changed = false;
            for (id, reference, _) in &pending {
                let inherited = products.get(reference).cloned().unwrap_or_default();
                let own = products.entry(id.clone()).or_default();
                for purl in inherited {
                    if !own.contains(&purl) {
                        own.push(purl);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for (i, (_, reference, _)) in pending.iter().enumerate() {
            if !products.contains_key(reference) {
                let at = at.index(i);
                return Err(READER.fail(
                    &at.member("product_reference"),
                    Reason::UnknownValue {
                        value: reference.clone(),
                        expected: "a product_id defined in product_tree",
                    },
                ));
            }
        }
    }
    if let Some(list) = tree.get("product_groups") {
        let at = at.member("product_groups");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            let at = at.index(i);
            let obj = READER.object(item, &at)?;
            let id = READER.string(
                READER.required(obj, "group_id", &at)?,
                &at.member("group_id"),
            )?;
            let members = READER
                .strings(obj, "product_ids", &at)?
                .into_iter()
                .map(str::to_string)
                .collect();
            groups.insert(id.to_string(), members);
        }
    }
    Ok(())
}

/// `branches`, recursively (bounded by the strict parser's nesting limit).
fn branches(list: &Value, at: &Path, products: &mut Products) -> Result<()> {
    for (i, item) in READER.array(list, at)?.iter().enumerate() {
        let at = at.index(i);
        let branch = READER.object(item, &at)?;
        if let Some(product) = branch.get("product") {
            full_product_name(product, &at.member("product"), products)?;
        }
        if let Some(list) = branch.get("branches") {
            branches(list, &at.member("branches"), products)?;
        }
    }
    Ok(())
}

/// Records a `full_product_name` object; returns its product id.
fn full_product_name(value: &Value, at: &Path, products: &mut Products) -> Result<String> {
    let obj = READER.object(value, at)?;
    let id = READER
        .string(
            READER.required(obj, "product_id", at)?,
            &at.member("product_id"),
        )?
        .to_string();
    let mut purls = Vec::new();
    if let Some(helper) = obj.get("product_identification_helper") {
        let at = at.member("product_identification_helper");
        let helper = READER.object(helper, &at)?;
        if let Some(purl) = helper.get("purl") {
            let at = at.member("purl");
            purls.push(parse_purl(READER.string(purl, &at)?, &at)?);
        }
        for (i, text) in READER
            .strings(helper, "purls", &at)?
            .into_iter()
            .enumerate()
        {
            let list = at.member("purls");
            purls.push(parse_purl(text, &list.index(i))?);
        }
    }
    let entry = products.entry(id.clone()).or_default();
    for purl in purls {
        if !entry.contains(&purl) {
            entry.push(purl);
        }
    }
    Ok(id)
}

/// Adds the statements of one vulnerability; returns how many of its
/// product references name no package URL.
fn vulnerability(
    value: &Value,
    at: &Path,
    products: &Products,
    groups: &BTreeMap<String, Vec<String>>,
    time: Timestamp,
    out: &mut Vec<Statement>,
) -> Result<usize> {
    let obj = READER.object(value, at)?;
    let mut names = Vec::new();
    if let Some(cve) = obj.get("cve") {
        names.push(READER.string(cve, &at.member("cve"))?.to_string());
    }
    names.extend(
        READER
            .field_strings(obj, "ids", "text", at)?
            .into_iter()
            .map(str::to_string),
    );
    if names.is_empty() {
        return Err(READER.fail(
            at,
            Reason::Rule("a CSAF vulnerability needs \"cve\" or \"ids\" to be matched"),
        ));
    }

    let justifications = reasons(obj, at, groups, products)?;
    let Some(status_value) = obj.get("product_status") else {
        return Ok(0);
    };
    let status_at = at.member("product_status");
    let status_obj = READER.object(status_value, &status_at)?;
    let mut unresolved = 0;
    for (member, status) in STATUSES {
        let ids = READER.strings(status_obj, member, &status_at)?;
        let list_at = status_at.member(member);
        for (i, id) in ids.into_iter().enumerate() {
            let id_at = list_at.index(i);
            let Some(purls) = products.get(id) else {
                return Err(undefined(&id_at, id));
            };
            let reason = justifications.get(id);
            if status == VexStatus::NotAffected && reason.is_none() {
                return Err(READER.fail(
                    &id_at,
                    Reason::Rule(
                        "a known_not_affected product needs a flag or an impact threat \
                         naming it (CSAF VEX profile)",
                    ),
                ));
            }
            if purls.is_empty() {
                unresolved += 1;
                continue;
            }
            out.push(Statement {
                vulnerability: names.clone(),
                products: purls.clone(),
                status,
                justification: if status == VexStatus::NotAffected {
                    reason.cloned().flatten()
                } else {
                    None
                },
                time: Some(time),
            });
        }
    }
    Ok(unresolved)
}

fn undefined(at: &Path, id: &str) -> crate::error::InputError {
    READER.fail(
        at,
        Reason::UnknownValue {
            value: id.to_string(),
            expected: "a product_id defined in product_tree",
        },
    )
}

/// Product id → the justification its flag gives (`None` for an impact
/// threat, which states the reason in prose).
fn reasons(
    obj: &Map<String, Value>,
    at: &Path,
    groups: &BTreeMap<String, Vec<String>>,
    products: &Products,
) -> Result<BTreeMap<String, Option<String>>> {
    let mut out: BTreeMap<String, Option<String>> = BTreeMap::new();
    if let Some(list) = obj.get("flags") {
        let at = at.member("flags");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            let at = at.index(i);
            let flag = READER.object(item, &at)?;
            let label_at = at.member("label");
            let label = READER.string(READER.required(flag, "label", &at)?, &label_at)?;
            if !JUSTIFICATIONS.contains(&label) {
                return Err(READER.fail(
                    &label_at,
                    Reason::UnknownValue {
                        value: label.to_string(),
                        expected: "component_not_present, vulnerable_code_not_present, \
                                   vulnerable_code_not_in_execute_path, \
                                   vulnerable_code_cannot_be_controlled_by_adversary, \
                                   inline_mitigations_already_exist",
                    },
                ));
            }
            for id in covered(flag, &at, groups, products)? {
                out.insert(id, Some(label.to_string()));
            }
        }
    }
    if let Some(list) = obj.get("threats") {
        let at = at.member("threats");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            let at = at.index(i);
            let threat = READER.object(item, &at)?;
            let category_at = at.member("category");
            let category =
                READER.string(READER.required(threat, "category", &at)?, &category_at)?;
            if category != "impact" {
                continue;
            }
            for id in covered(threat, &at, groups, products)? {
                out.entry(id).or_insert(None);
            }
        }
    }
    Ok(out)
}

/// The product ids a flag or threat names, directly or by group.
fn covered(
    obj: &Map<String, Value>,
    at: &Path,
    groups: &BTreeMap<String, Vec<String>>,
    products: &Products,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let list_at = at.member("product_ids");
    for (i, id) in READER
        .strings(obj, "product_ids", at)?
        .into_iter()
        .enumerate()
    {
        if !products.contains_key(id) {
            return Err(undefined(&list_at.index(i), id));
        }
        ids.push(id.to_string());
    }
    let list_at = at.member("group_ids");
    for (i, group) in READER
        .strings(obj, "group_ids", at)?
        .into_iter()
        .enumerate()
    {
        let Some(members) = groups.get(group) else {
            return Err(READER.fail(
                &list_at.index(i),
                Reason::UnknownValue {
                    value: group.to_string(),
                    expected: "a group_id defined in product_tree.product_groups",
                },
            ));
        };
        ids.extend(members.iter().cloned());
    }
    Ok(ids)
}
