//! OSV advisories as OSV publishes them (hand-written in the shape of real
//! golang vulndb, GHSA, PyPA, RustSec, Debian, Alpine and OSS-Fuzz records,
//! tests/data/advisories/), read one by one and scored end to end with score
//! version 2: which (component, advisory) pairs match, with which
//! comparison, and what severity.

mod common;

use attestor_score::inputs::ScoringInputs;
use attestor_score::inputs::feed::{Feed, parse_osv_advisory};
use attestor_score::inputs::policy::Policy;
use attestor_score::inputs::sbom::Sbom;
use attestor_score::inputs::vex::Vex;
use attestor_score::{Ledger, NodeKind, ScoreError, ScoreVersion, score, score_as};
use serde_json::{Value, json};

fn advisory_files() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/tests/data/advisories", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn feed() -> Feed {
    let advisories = advisory_files()
        .into_iter()
        .map(|(name, bytes)| parse_osv_advisory(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    let digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
        .parse()
        .unwrap();
    Feed::from_advisories(advisories, digest).unwrap()
}

fn inputs(purls: &[&str], policy: Value) -> ScoringInputs {
    let components: Vec<Value> = purls
        .iter()
        .map(|p| json!({"type": "library", "purl": p}))
        .collect();
    let sbom = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components});
    ScoringInputs {
        sbom: Sbom::parse(&serde_json::to_vec(&sbom).unwrap()).unwrap(),
        feed: feed(),
        vex: Vex::parse(br#"{"statements": []}"#).unwrap(),
        policy: Policy::parse(&serde_json::to_vec(&policy).unwrap()).unwrap(),
    }
}

fn policy() -> Value {
    json!({
        "threshold": 100000,
        "weights": {"critical": 100, "high": 100, "medium": 50, "low": 10, "none": 0}
    })
}

/// `component advisory comparator severity band cvssTenths` of every match node.
fn matches(ledger: &Ledger) -> Vec<String> {
    ledger
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Match)
        .map(|n| {
            let d = &n.data;
            let via = match d.get("sourcePackage") {
                Some(name) => format!(" (source {})", name.as_str().unwrap()),
                None => String::new(),
            };
            format!(
                "{} {} {} {} {} {}{via}",
                d["component"].as_str().unwrap(),
                d["advisory"].as_str().unwrap(),
                d["comparator"].as_str().unwrap(),
                d["severity"].as_str().unwrap(),
                d["band"].as_str().unwrap(),
                d["cvssTenths"],
            )
        })
        .collect()
}

const COMPONENTS: [&str; 28] = [
    "pkg:golang/golang.org/x/net@v0.22.0",
    "pkg:golang/golang.org/x/net@v0.23.0",
    "pkg:golang/google.golang.org/grpc@v1.57.0",
    "pkg:golang/google.golang.org/grpc@v1.56.3",
    "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
    "pkg:deb/debian/openssl@3.0.14-1~deb12u1?arch=amd64&distro=debian-12",
    "pkg:deb/debian/openssl@1.1.1w-0+deb11u2?arch=amd64&distro=debian-11",
    "pkg:deb/debian/example-epoch@1:2.4.57-2+deb12u1?distro=debian-12.5",
    "pkg:deb/debian/example-epoch@1:2.4.57-2+deb12u10?distro=debian-12.5",
    "pkg:deb/debian/example-epoch@2.4.58-1?distro=debian-12.5",
    "pkg:pypi/example-lib@2.0",
    "pkg:pypi/Example_Lib@2.0.post1",
    "pkg:composer/laravel/framework@v7.30.6",
    "pkg:composer/laravel/framework@v7.30.7",
    "pkg:composer/laravel/framework@8.22.0",
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0-rc1",
    "pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0",
    "pkg:apk/alpine/openssl@3.1.4-r0?arch=x86_64&distro=alpine-3.19.1",
    "pkg:apk/alpine/openssl@3.1.4-r1?arch=x86_64&distro=alpine-3.19.1",
    "pkg:npm/braces@3.0.2",
    "pkg:cargo/h2@0.3.25",
    "pkg:cargo/h2@0.4.4",
    // What syft writes for a Debian binary package built from openssl.
    "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12",
    // Red Hat: the epoch is a qualifier; the binary package is named in the advisory too.
    "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm&distro=rhel-9.3",
    "pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&distro=rhel-9.3",
    "pkg:rpm/redhat/openssl-fips@3.0.7-20.el9?epoch=1&upstream=openssl-3.0.7-20.el9.src.rpm&distro=rhel-9.3",
    // Ubuntu (its records give a versioned purl and an Ubuntu priority).
    "pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.9?arch=amd64&upstream=openssl&distro=ubuntu-22.04",
    "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?arch=amd64&distro=ubuntu-22.04",
];

#[test]
fn every_fixture_loads_and_what_cannot_match_is_named() {
    let feed = feed();
    // The withdrawn advisory is read, then left out.
    assert_eq!(feed.advisories.len(), advisory_files().len() - 1);
    let skipped: Vec<String> = feed
        .skipped()
        .map(|(id, s)| format!("{id} {}: {}", s.pointer, s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            "OSV-2023-1234 /affected/0/package/ecosystem: ecosystem \"OSS-Fuzz\" has no package \
             URL mapping: nothing to match",
            "PYSEC-2023-312 /affected/0/ranges/0: a GIT range names commits, not package \
             versions: not evaluated",
        ]
    );
}

#[test]
fn real_shaped_advisories_match_as_the_ecosystems_order_versions() {
    let ledger = score(&inputs(&COMPONENTS, policy())).unwrap();
    assert_eq!(
        matches(&ledger),
        [
            // Alpine:v3.19 applies to alpine-3.19.1; -r0 is before the fix -r1.
            "pkg:apk/alpine/openssl@3.1.4-r0 ALPINE-CVE-2023-5678 apk unscored medium 40",
            // RustSec's `introduced: 0.0.0-0` and two SEMVER intervals.
            "pkg:cargo/h2@0.3.25 RUSTSEC-2024-0332 semver unscored medium 40",
            // A leading `v` is not below every number (the generic order's mistake).
            "pkg:composer/laravel/framework@8.22.0 GHSA-66hf-2p6w-jqfw composer cvss-v3.1 medium 53",
            "pkg:composer/laravel/framework@v7.30.6 GHSA-66hf-2p6w-jqfw composer cvss-v3.1 medium 53",
            // The epoch counts; +deb12u10 is after +deb12u2; 2.4.58 (epoch 0) is before 1:2.4.57.
            "pkg:deb/debian/example-epoch@1%3A2.4.57-2%2Bdeb12u1 DSA-5700-1 dpkg unscored medium 40",
            "pkg:deb/debian/example-epoch@2.4.58-1 DSA-5700-1 dpkg unscored medium 40",
            // Only the Debian:12 entry applies to debian-12; the debian-11 package is fixed.
            // A binary package is matched by its source package's advisories.
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2 DEBIAN-CVE-2024-2511 dpkg unscored medium 40 (source openssl)",
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2 DEBIAN-CVE-2024-2511 dpkg unscored medium 40",
            "pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.9 USN-6188-1 dpkg label medium 40 (source openssl)",
            // Go's `v` against vulndb's SEMVER ranges without it, and GHSA's ECOSYSTEM ranges with it.
            "pkg:golang/golang.org/x/net@v0.22.0 GO-2024-2687 semver unscored medium 40",
            "pkg:golang/google.golang.org/grpc@v1.57.0 GHSA-7jwh-3vrq-q3m8 semver cvss-v3.1 high 75",
            // Maven: a release candidate is before its release; v3.1 and v4.0 both 10.0.
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.15.0-rc1 GHSA-jfh8-c2jp-5v3q maven cvss-v4.0 critical 100",
            // No CVSS at all, GHSA's own rating: the lowest score of its band.
            "pkg:npm/braces@3.0.2 GHSA-952p-6rrq-rcjv semver label medium 40",
            // PEP 440: 2.0 is before 2.0.post1 (the generic order says after).
            "pkg:pypi/example-lib@2.0 PYSEC-2023-312 pep440 unscored medium 40",
            // Only through the source package; openssl 1:3.0.7-27 is the fix (without
            // its epoch it would be before 1:3.0.7-27 and match).
            "pkg:rpm/redhat/openssl-fips@3.0.7-20.el9 RHSA-2024:2447 rpm cvss-v3.1 medium 53 (source openssl)",
            "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9 RHSA-2024:2447 rpm cvss-v3.1 medium 53",
        ]
    );
}

#[test]
fn the_unscored_band_is_the_policys() {
    let mut p = policy();
    p["unscored"] = json!("high");
    let ledger = score(&inputs(&["pkg:cargo/h2@0.3.25"], p)).unwrap();
    assert_eq!(
        matches(&ledger),
        ["pkg:cargo/h2@0.3.25 RUSTSEC-2024-0332 semver unscored high 70"]
    );
    // 7.0 at 100 %.
    assert_eq!(ledger.score, 700);
}

#[test]
fn a_component_without_distro_is_matched_by_every_release() {
    // Without a release the most cautious reading: the Debian:12 entry
    // matches 1.1.1w (below 3.0.14), the Debian:11 one does not.
    let ledger = score(&inputs(
        &["pkg:deb/debian/openssl@1.1.1w-0+deb11u2"],
        policy(),
    ))
    .unwrap();
    assert_eq!(
        matches(&ledger),
        ["pkg:deb/debian/openssl@1.1.1w-0%2Bdeb11u2 DEBIAN-CVE-2024-2511 dpkg unscored medium 40"]
    );
    let ledger = score(&inputs(
        &["pkg:deb/debian/openssl@1.1.1w-0+deb11u2?distro=debian-11"],
        policy(),
    ))
    .unwrap();
    assert_eq!(matches(&ledger), Vec::<String>::new());
    // A codename is a release too.
    let ledger = score(&inputs(
        &["pkg:deb/debian/openssl@1.1.1w-0+deb11u1?distro=bullseye"],
        policy(),
    ))
    .unwrap();
    assert_eq!(matches(&ledger).len(), 1);
}

#[test]
fn score_version_1_refuses_what_it_could_not_read() {
    let error = score_as(&inputs(&COMPONENTS, policy()), ScoreVersion::V1).unwrap_err();
    let ScoreError::BeyondVersion1 { advisory, .. } = &error else {
        panic!("{error:?}");
    };
    // The first advisory by id that version 1 refused.
    assert_eq!(advisory, "ALPINE-CVE-2023-5678");
    assert!(
        error.to_string().contains("score version 1 refused"),
        "{error}"
    );
}

#[test]
fn version_2_ledgers_record_their_version() {
    let ledger = score(&inputs(&["pkg:cargo/h2@0.3.25"], policy())).unwrap();
    assert_eq!(ledger.version, ScoreVersion::V2);
    assert_eq!(ledger.nodes[0].data["scoreVersion"], json!(2));
    let artifact = "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822"
        .parse()
        .unwrap();
    let manifest = ledger.manifest(&artifact, None, "2026-11-01T09:00:00Z".parse().unwrap());
    assert_eq!(manifest["scoreVersion"], json!(2));
    assert_eq!(ScoreVersion::of_manifest(&manifest), Ok(ScoreVersion::V2));
    let mut old = manifest.clone();
    old.as_object_mut().unwrap().remove("scoreVersion");
    assert_eq!(ScoreVersion::of_manifest(&old), Ok(ScoreVersion::V1));
    old["scoreVersion"] = json!(3);
    assert_eq!(
        ScoreVersion::of_manifest(&old).unwrap_err().to_string(),
        "manifest scoreVersion 3 is not a score version this engine knows (1 or 2)"
    );
}

/// The order of `severity` entries, affected entries, ranges and events
/// never changes a version 2 ledger.
#[test]
fn version_2_does_not_depend_on_array_order() {
    let reference = matches(&score(&inputs(&COMPONENTS, policy())).unwrap());
    let mut reversed: Vec<(String, Vec<u8>)> = advisory_files();
    reversed.reverse();
    let advisories = reversed
        .into_iter()
        .map(|(_, bytes)| {
            let mut v: Value = serde_json::from_slice(&bytes).unwrap();
            for member in ["severity", "affected"] {
                if let Some(list) = v.get_mut(member).and_then(Value::as_array_mut) {
                    list.reverse();
                }
            }
            if let Some(affected) = v.get_mut("affected").and_then(Value::as_array_mut) {
                for entry in affected {
                    if let Some(ranges) = entry.get_mut("ranges").and_then(Value::as_array_mut) {
                        ranges.reverse();
                        for range in ranges {
                            if let Some(events) =
                                range.get_mut("events").and_then(Value::as_array_mut)
                            {
                                events.reverse();
                            }
                        }
                    }
                }
            }
            attestor_score::inputs::feed::osv_advisory_from_value(&v).unwrap()
        })
        .collect();
    let mut shuffled = inputs(&COMPONENTS, policy());
    shuffled.feed = Feed::from_advisories(advisories, shuffled.feed.digest).unwrap();
    assert_eq!(matches(&score(&shuffled).unwrap()), reference);
}
