//! The ledger does not depend on the order of semantically unordered arrays:
//! SBOM components, advisories, their aliases, affected entries, ranges,
//! events and versions, VEX statements and their products.
//!
//! An input's content id is the hash of its normal form, in which these
//! arrays are sorted: reordering them changes neither the content ids nor
//! any node nor the root.

mod common;

use attestor_score::{InputKind, ScoringInputs, normalize};
use common::score_v1 as score;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A small deterministic generator (Knuth's MMIX LCG) for shuffling.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn shuffle(value: &mut Value, rng: &mut Lcg) {
    if let Value::Array(items) = value {
        for i in (1..items.len()).rev() {
            items.swap(i, rng.below(i + 1));
        }
    }
}

fn each(value: &mut Value, member: &str, mut f: impl FnMut(&mut Value)) {
    if let Some(Value::Array(items)) = value.get_mut(member) {
        items.iter_mut().for_each(&mut f);
    }
}

fn shuffle_components(parent: &mut Value, rng: &mut Lcg) {
    if let Some(list) = parent.get_mut("components") {
        shuffle(list, rng);
    }
    each(parent, "components", |c| shuffle_components(c, rng));
}

fn shuffle_products(product: &mut Value, rng: &mut Lcg) {
    if let Some(list) = product.get_mut("subcomponents") {
        shuffle(list, rng);
    }
    each(product, "subcomponents", |p| shuffle_products(p, rng));
}

/// Reorders every unordered array of the four documents.
fn shuffle_all(values: &mut [Value; 4], seed: u64) {
    let rng = &mut Lcg(seed);
    shuffle_components(&mut values[0], rng);
    if let Some(list) = values[0].get_mut("dependencies") {
        shuffle(list, rng);
    }
    each(&mut values[0], "dependencies", |dependency| {
        if let Some(list) = dependency.get_mut("dependsOn") {
            shuffle(list, rng);
        }
    });

    let feed = &mut values[1];
    shuffle(&mut feed["advisories"], rng);
    each(feed, "advisories", |advisory| {
        for member in ["aliases", "affected", "versions", "severity"] {
            if let Some(list) = advisory.get_mut(member) {
                shuffle(list, rng);
            }
        }
        each(advisory, "affected", |affected| {
            for member in ["ranges", "versions"] {
                if let Some(list) = affected.get_mut(member) {
                    shuffle(list, rng);
                }
            }
            each(affected, "ranges", |range| {
                shuffle(&mut range["events"], rng)
            });
        });
    });

    let vex = &mut values[2];
    shuffle(&mut vex["statements"], rng);
    each(vex, "statements", |statement| {
        shuffle(&mut statement["products"], rng);
        if let Some(aliases) = statement["vulnerability"].get_mut("aliases") {
            shuffle(aliases, rng);
        }
        each(statement, "products", |p| shuffle_products(p, rng));
    });
}

/// Scores `shuffled` and compares: same content ids, same ledger, same root.
fn assert_order_free(original: &[Value; 4], seed: u64) -> Result<(), TestCaseError> {
    let mut shuffled = original.clone();
    shuffle_all(&mut shuffled, seed);
    let reference = score(&common::from_values(original)).unwrap();
    let inputs: ScoringInputs = common::from_values(&shuffled);
    prop_assert_eq!(&inputs.digests(), &reference.inputs);
    let own = score(&inputs).unwrap();
    prop_assert_eq!(own.root, reference.root);
    prop_assert_eq!(&own, &reference);
    // Score version 2 is as free of input order.
    let reference = attestor_score::score(&common::from_values(original)).unwrap();
    let own = attestor_score::score(&inputs).unwrap();
    prop_assert_eq!(&own, &reference);
    // The normal form is what a store keeps: both orders are one object.
    for (kind, (a, b)) in InputKind::ALL
        .into_iter()
        .zip(original.iter().zip(&shuffled))
    {
        prop_assert_eq!(
            normalize::normal_bytes(kind, a).unwrap(),
            normalize::normal_bytes(kind, b).unwrap()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fixture_order_does_not_change_the_root(seed in any::<u64>()) {
        assert_order_free(&common::values("inputs/score"), seed)?;
    }

    #[test]
    fn generated_order_does_not_change_the_root(universe in universe(), seed in any::<u64>()) {
        assert_order_free(&universe, seed)?;
    }
}

const PACKAGES: [&str; 4] = [
    "pkg:npm/a",
    "pkg:npm/b",
    "pkg:pypi/c",
    "pkg:golang/example.com/d",
];
const STATUSES: [&str; 4] = ["not_affected", "affected", "fixed", "under_investigation"];

fn version() -> impl Strategy<Value = String> {
    (
        0..3u8,
        0..3u8,
        0..3u8,
        prop::option::of(prop::sample::select(vec!["alpha", "rc.1", "rc.2"])),
    )
        .prop_map(|(a, b, c, pre)| match pre {
            Some(pre) => format!("{a}.{b}.{c}-{pre}"),
            None => format!("{a}.{b}.{c}"),
        })
}

fn event() -> impl Strategy<Value = Value> {
    (0..3usize, version()).prop_map(|(kind, v)| {
        let kind = ["introduced", "fixed", "last_affected"][kind];
        json!({ kind: v })
    })
}

fn range() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        version(),
        prop::collection::vec(event(), 0..4),
    )
        .prop_map(|(semver, first, mut events)| {
            events.push(json!({"introduced": first}));
            json!({"type": if semver { "SEMVER" } else { "ECOSYSTEM" }, "events": events})
        })
}

fn affected() -> impl Strategy<Value = Value> {
    (
        0..PACKAGES.len(),
        prop::collection::vec(range(), 0..3),
        prop::collection::vec(version(), 0..2),
    )
        .prop_map(|(p, ranges, mut versions)| {
            if ranges.is_empty() && versions.is_empty() {
                versions.push("1.1.1".into());
            }
            json!({"package": {"purl": PACKAGES[p]}, "ranges": ranges, "versions": versions})
        })
}

/// Random SBOM, feed, VEX and policy over four packages.
fn universe() -> impl Strategy<Value = [Value; 4]> {
    let components = prop::collection::vec((0..PACKAGES.len(), version(), any::<bool>()), 0..12);
    let advisories =
        prop::collection::vec((0..=100u8, prop::collection::vec(affected(), 1..3)), 0..10);
    let statements = prop::collection::vec(
        (
            0..4usize,
            0..PACKAGES.len(),
            prop::option::weighted(0.25, version()),
            0..4usize,
            prop::option::of(0..3u8),
        ),
        0..8,
    );
    let weights = prop::collection::vec(0..=200u32, 5);
    (components, advisories, statements, weights, 0..5000u64).prop_map(
        |(components, advisories, statements, weights, threshold)| {
            let mut components: Vec<Value> = components
                .into_iter()
                .map(|(p, v, qualified)| {
                    // Repeated components, some spelled with qualifiers, are one component.
                    let purl = format!(
                        "{}@{v}{}",
                        PACKAGES[p],
                        if qualified { "?arch=x86" } else { "" }
                    );
                    json!({"type": "library", "purl": purl})
                })
                .collect();
            let advisories: Vec<Value> = advisories
                .into_iter()
                .enumerate()
                .map(|(i, (cvss, affected))| {
                    json!({
                        "id": format!("ADV-{i}"),
                        "aliases": [format!("CVE-{i}"), format!("ALIAS-{i}")],
                        "cvss": format!("{}.{}", cvss / 10, cvss % 10),
                        "affected": affected,
                    })
                })
                .collect();
            let statements: Vec<Value> = statements
                .into_iter()
                .map(|(advisory, p, v, status, day)| {
                    let product = match v {
                        Some(v) => format!("{}@{v}", PACKAGES[p]),
                        None => PACKAGES[p].to_string(),
                    };
                    let mut s = json!({
                        "vulnerability": {"name": format!("CVE-{advisory}")},
                        "products": [{"@id": product}],
                        "status": STATUSES[status],
                        "justification": "vulnerable_code_not_present",
                    });
                    if let Some(day) = day {
                        s["timestamp"] = json!(format!("2024-01-0{}T00:00:00Z", day + 1));
                    }
                    s
                })
                .collect();
            [
                {
                    // Nested components are components too.
                    if components.len() > 3 {
                        let nested = components.split_off(components.len() - 2);
                        components[0]["components"] = json!(nested);
                    }
                    json!({
                        "bomFormat": "CycloneDX", "specVersion": "1.6", "components": components,
                        "dependencies": [
                            {"ref": "a", "dependsOn": ["b", "c", "d"]},
                            {"ref": "b", "dependsOn": ["d", "a"]},
                        ],
                    })
                },
                json!({"advisories": advisories}),
                json!({"@context": "https://openvex.dev/ns/v0.2.0", "statements": statements}),
                json!({
                    "threshold": threshold,
                    "weights": {
                        "none": weights[0], "low": weights[1], "medium": weights[2],
                        "high": weights[3], "critical": weights[4]
                    },
                    "vex": {"not_affected": "suppress", "fixed": "suppress"}
                }),
            ]
        },
    )
}
