//! The normal form of an input document: what its address is the hash of.
//!
//! Every array whose order carries no meaning for the score (docs/scoring.md,
//! section 2) is sorted by the RFC 8785 bytes of its elements, innermost
//! arrays first, so that two documents that differ only in the order of such
//! arrays have the same canonical bytes, hence the same content id. Exact
//! duplicates are kept: sorting is a permutation, so a document and its
//! normal form are accepted or refused alike (only JSON pointers into
//! reordered arrays differ).
//!
//! Values of unexpected types are left alone: the parser refuses them with a
//! pointer into the document as given.

use attestor_core::canonical::{self, CanonicalError};
use attestor_core::digest::Sha256Digest;
use serde_json::{Map, Value};

use crate::error::InputKind;

/// The normal form of a document of `kind`.
pub fn normalize(kind: InputKind, value: &Value) -> Result<Value, CanonicalError> {
    let mut value = value.clone();
    normalize_in_place(kind, &mut value)?;
    Ok(value)
}

/// Sorts the unordered arrays of `value`, a document of `kind`, in place.
pub fn normalize_in_place(kind: InputKind, value: &mut Value) -> Result<(), CanonicalError> {
    let Value::Object(top) = value else {
        return Ok(());
    };
    match kind {
        InputKind::Sbom => sbom(top),
        InputKind::Feed => feed(top),
        InputKind::Vex => vex(top),
        InputKind::Policy => Ok(()),
    }
}

/// The content id of a parsed document: `sha256:` + SHA-256 of the RFC 8785
/// bytes of its normal form.
pub fn content_id(kind: InputKind, value: &Value) -> Result<Sha256Digest, CanonicalError> {
    Ok(Sha256Digest::of(&normal_bytes(kind, value)?))
}

/// The RFC 8785 bytes of the normal form: what a snapshot store keeps.
pub fn normal_bytes(kind: InputKind, value: &Value) -> Result<Vec<u8>, CanonicalError> {
    canonical::to_canonical_bytes(&normalize(kind, value)?)
}

/// CycloneDX: `components` (recursively), `dependencies` and their
/// `dependsOn`. SPDX 2 (with `spdxVersion`): `packages` and their
/// `externalRefs`, `relationships`, `files`. SPDX 3 (with `@context`):
/// `@graph` and its elements' `externalIdentifier`. The SPDX members are
/// sorted only in SPDX documents, so CycloneDX addresses never change.
fn sbom(top: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if top.contains_key("spdxVersion") {
        each_sort(top, "packages", "externalRefs")?;
        for member in ["packages", "relationships", "files"] {
            sort_member(top, member)?;
        }
        return Ok(());
    }
    if top.contains_key("@context") {
        each_sort(top, "@graph", "externalIdentifier")?;
        return sort_member(top, "@graph");
    }
    components(top)?;
    if let Some(Value::Array(list)) = top.get_mut("dependencies") {
        for dependency in list.iter_mut() {
            if let Value::Object(dependency) = dependency {
                sort_member(dependency, "dependsOn")?;
            }
        }
    }
    sort_member(top, "dependencies")
}

fn components(parent: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if let Some(Value::Array(list)) = parent.get_mut("components") {
        for component in list.iter_mut() {
            if let Value::Object(component) = component {
                components(component)?;
            }
        }
    }
    sort_member(parent, "components")
}

/// Feed: `advisories`; per advisory `aliases`, `severity`, `affected` and
/// (compact form) `versions`; per affected entry `ranges` and `versions`; per
/// range `events` (evaluated in version order, never in array order).
fn feed(top: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if let Some(Value::Array(list)) = top.get_mut("advisories") {
        for advisory in list.iter_mut() {
            if let Value::Object(advisory) = advisory {
                feed_advisory(advisory)?;
            }
        }
    }
    sort_member(top, "advisories")
}

/// The arrays of one advisory: a feed container normalizes each file's
/// advisory with this, so that its assembled document is the normal form of
/// `{"advisories": [...]}` without building that document.
pub(crate) fn feed_advisory(advisory: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if let Some(Value::Array(affected)) = advisory.get_mut("affected") {
        for entry in affected.iter_mut() {
            let Value::Object(entry) = entry else {
                continue;
            };
            if let Some(Value::Array(ranges)) = entry.get_mut("ranges") {
                for range in ranges.iter_mut() {
                    if let Value::Object(range) = range {
                        sort_member(range, "events")?;
                    }
                }
            }
            sort_member(entry, "ranges")?;
            sort_member(entry, "versions")?;
        }
    }
    for member in ["aliases", "severity", "affected", "versions"] {
        sort_member(advisory, member)?;
    }
    Ok(())
}

/// OpenVEX: `statements`; per statement `products` (and their
/// `subcomponents`, recursively) and `vulnerability.aliases`.
/// CSAF and CycloneDX VEX (new in score version 2, so no earlier address
/// depends on their order) have their own unordered arrays.
fn vex(top: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    let csaf = top
        .get("document")
        .and_then(Value::as_object)
        .is_some_and(|d| d.contains_key("csaf_version"));
    if csaf {
        return csaf_vex(top);
    }
    if top.contains_key("bomFormat") && !top.contains_key("statements") {
        return cyclonedx_vex(top);
    }
    if let Some(Value::Array(list)) = top.get_mut("statements") {
        for statement in list.iter_mut() {
            let Value::Object(statement) = statement else {
                continue;
            };
            if let Some(Value::Object(vulnerability)) = statement.get_mut("vulnerability") {
                sort_member(vulnerability, "aliases")?;
            }
            if let Some(Value::Array(products)) = statement.get_mut("products") {
                for product in products.iter_mut() {
                    if let Value::Object(product) = product {
                        subcomponents(product)?;
                    }
                }
            }
            sort_member(statement, "products")?;
        }
    }
    sort_member(top, "statements")
}

/// CSAF: `product_tree.branches` (recursively), `.full_product_names`,
/// `.relationships`, `.product_groups` and their `product_ids`;
/// `vulnerabilities`, their `ids`, `flags`, `threats` (with their
/// `product_ids`, `group_ids`) and each `product_status` list.
fn csaf_vex(top: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if let Some(Value::Object(tree)) = top.get_mut("product_tree") {
        branches(tree)?;
        each_sort(tree, "product_groups", "product_ids")?;
        for member in ["full_product_names", "relationships", "product_groups"] {
            sort_member(tree, member)?;
        }
    }
    if let Some(Value::Array(list)) = top.get_mut("vulnerabilities") {
        for vulnerability in list.iter_mut() {
            let Value::Object(vulnerability) = vulnerability else {
                continue;
            };
            for member in ["flags", "threats"] {
                each_sort(vulnerability, member, "product_ids")?;
                each_sort(vulnerability, member, "group_ids")?;
            }
            if let Some(Value::Object(status)) = vulnerability.get_mut("product_status") {
                let lists: Vec<String> = status.keys().cloned().collect();
                for list in lists {
                    sort_member(status, &list)?;
                }
            }
            for member in ["ids", "flags", "threats"] {
                sort_member(vulnerability, member)?;
            }
        }
    }
    sort_member(top, "vulnerabilities")
}

fn branches(parent: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if let Some(Value::Array(list)) = parent.get_mut("branches") {
        for branch in list.iter_mut() {
            if let Value::Object(branch) = branch {
                branches(branch)?;
            }
        }
    }
    sort_member(parent, "branches")
}

/// CycloneDX VEX: `components` (recursively), `vulnerabilities` and their
/// `references` and `affects`.
fn cyclonedx_vex(top: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    components(top)?;
    if let Some(Value::Array(list)) = top.get_mut("vulnerabilities") {
        for vulnerability in list.iter_mut() {
            if let Value::Object(vulnerability) = vulnerability {
                sort_member(vulnerability, "references")?;
                sort_member(vulnerability, "affects")?;
            }
        }
    }
    sort_member(top, "vulnerabilities")
}

fn subcomponents(product: &mut Map<String, Value>) -> Result<(), CanonicalError> {
    if let Some(Value::Array(list)) = product.get_mut("subcomponents") {
        for item in list.iter_mut() {
            if let Value::Object(item) = item {
                subcomponents(item)?;
            }
        }
    }
    sort_member(product, "subcomponents")
}

/// Sorts `inner` of each object in the array `parent[member]`.
fn each_sort(
    parent: &mut Map<String, Value>,
    member: &str,
    inner: &str,
) -> Result<(), CanonicalError> {
    if let Some(Value::Array(list)) = parent.get_mut(member) {
        for item in list.iter_mut() {
            if let Value::Object(item) = item {
                sort_member(item, inner)?;
            }
        }
    }
    Ok(())
}

/// Sorts the array `object[member]`, if it is one, by the canonical bytes of
/// its (already normalized) elements. Equal elements are kept.
fn sort_member(object: &mut Map<String, Value>, member: &str) -> Result<(), CanonicalError> {
    let Some(Value::Array(items)) = object.get_mut(member) else {
        return Ok(());
    };
    if items.len() < 2 {
        return Ok(());
    }
    let mut keyed = std::mem::take(items)
        .into_iter()
        .map(|item| Ok((canonical::to_canonical_bytes(&item)?, item)))
        .collect::<Result<Vec<_>, CanonicalError>>()?;
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    *items = keyed.into_iter().map(|(_, item)| item).collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_nested_arrays_before_their_parents() {
        let doc = json!({"bomFormat": "CycloneDX", "components": [
            {"purl": "pkg:npm/b", "components": [{"purl": "pkg:npm/z"}, {"purl": "pkg:npm/y"}]},
            {"purl": "pkg:npm/a"},
            {"purl": "pkg:npm/a"},
        ], "metadata": {"tools": [2, 1]}});
        let normal = normalize(InputKind::Sbom, &doc).unwrap();
        assert_eq!(
            normal,
            json!({"bomFormat": "CycloneDX", "components": [
                {"components": [{"purl": "pkg:npm/y"}, {"purl": "pkg:npm/z"}], "purl": "pkg:npm/b"},
                {"purl": "pkg:npm/a"},
                {"purl": "pkg:npm/a"},
            ], "metadata": {"tools": [2, 1]}})
        );
    }

    #[test]
    fn policy_and_wrong_types_are_untouched() {
        let policy = json!({"threshold": 1, "weights": {}});
        assert_eq!(normalize(InputKind::Policy, &policy).unwrap(), policy);
        let feed = json!({"advisories": {"not": "an array"}});
        assert_eq!(normalize(InputKind::Feed, &feed).unwrap(), feed);
        assert_eq!(
            normalize(InputKind::Vex, &json!([3, 1])).unwrap(),
            json!([3, 1])
        );
    }
}
