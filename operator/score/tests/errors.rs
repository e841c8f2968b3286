//! Every malformed input is refused with a typed error that names the input,
//! the JSON pointer and the problem. The messages are part of the interface:
//! operators read them, so they are pinned here.

use attestor_score::inputs::feed::Feed;
use attestor_score::inputs::policy::Policy;
use attestor_score::inputs::sbom::Sbom;
use attestor_score::inputs::vex::Vex;
use attestor_score::{InputError, InputKind};

fn sbom(text: &str) -> String {
    Sbom::parse(text.as_bytes())
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

fn feed(text: &str) -> String {
    Feed::parse(text.as_bytes())
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

fn vex(text: &str) -> String {
    Vex::parse(text.as_bytes())
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

fn policy(text: &str) -> String {
    Policy::parse(text.as_bytes())
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

/// A feed with one advisory whose members are `members` (JSON text without braces).
fn advisory(members: &str) -> String {
    feed(&format!(r#"{{"advisories": [{{{members}}}]}}"#))
}

/// A feed with one advisory for npm lodash with the given range.
fn range(range: &str) -> String {
    advisory(&format!(
        r#""id": "A-1", "cvss": "5.0", "affected": [{{"package": {{"purl": "pkg:npm/lodash"}}, "ranges": [{range}]}}]"#
    ))
}

/// A feed that loads: its advisories, the first feature score version 1
/// refused and the skipped parts (`pointer: reason`).
fn loads(members: &str) -> (Option<String>, Vec<String>) {
    let feed = Feed::parse(format!(r#"{{"advisories": [{{{members}}}]}}"#).as_bytes())
        .unwrap_or_else(|e| panic!("{members}: {e}"));
    let beyond = feed.beyond_v1().map(|(_, why)| why.to_string());
    let skipped = feed
        .skipped()
        .map(|(_, s)| format!("{}: {}", s.pointer, s.reason))
        .collect();
    (beyond, skipped)
}

fn loads_range(range: &str) -> (Option<String>, Vec<String>) {
    loads(&format!(
        r#""id": "A-1", "cvss": "5.0", "affected": [{{"package": {{"purl": "pkg:npm/lodash"}}, "ranges": [{range}]}}]"#
    ))
}

fn statement(members: &str) -> String {
    vex(&format!(r#"{{"statements": [{{{members}}}]}}"#))
}

#[test]
fn bad_json() {
    assert_eq!(
        sbom(r#"{"bomFormat": "CycloneDX", "components": [}"#),
        "SBOM: not valid JSON: invalid JSON at line 1 column 43: expected value"
    );
    assert_eq!(
        feed("{\"advisories\": []} x"),
        "feed snapshot: not valid JSON: unexpected data after the JSON value at line 1 column 20"
    );
    assert_eq!(
        vex("\u{feff}{}"),
        "VEX document: not valid JSON: JSON input must not start with a UTF-8 byte order mark"
    );
    assert_eq!(
        policy(r#"{"threshold": 9007199254740993}"#),
        "policy: not valid JSON: integer 9007199254740993 at line 1 column 15 has a magnitude \
         above 2^53 and cannot be represented exactly as an IEEE-754 double (RFC 8785, I-JSON); \
         encode it as a string"
    );
}

#[test]
fn duplicate_keys() {
    assert_eq!(
        sbom(r#"{"bomFormat": "CycloneDX", "bomFormat": "CycloneDX"}"#),
        "SBOM: not valid JSON: duplicate object key \"bomFormat\" at line 1 column 38"
    );
    assert_eq!(
        advisory(r#""id": "A-1", "cvss": "5.0", "cvss": "6.0""#),
        "feed snapshot: not valid JSON: duplicate object key \"cvss\" at line 1 column 51"
    );
    assert_eq!(
        feed(
            r#"{"advisories": [
                {"id": "A-1", "cvss": "5.0", "package": "pkg:npm/a", "introduced": "0"},
                {"id": "A-2", "cvss": "5.0", "package": "pkg:npm/a", "introduced": "0"},
                {"id": "A-1", "cvss": "7.0", "package": "pkg:npm/b", "introduced": "0"}
            ]}"#
        ),
        "feed snapshot: at /advisories/2/id: duplicate advisory id \"A-1\" (first at /advisories/0/id)"
    );
}

#[test]
fn sbom_errors() {
    assert_eq!(
        sbom(r#"{"components": []}"#),
        "SBOM: at the document root: missing required member \"bomFormat\""
    );
    assert_eq!(
        sbom(r#"{"bomFormat": "SPDX"}"#),
        "SBOM: at /bomFormat: \"SPDX\" is not one of \"CycloneDX\""
    );
    assert_eq!(
        sbom(r#"{"bomFormat": "CycloneDX", "components": {}}"#),
        "SBOM: at /components: expected an array, found an object"
    );
    assert_eq!(
        sbom(
            r#"{"bomFormat": "CycloneDX", "components": [{"purl": "pkg:npm/a@1"}, {"purl": "pkg:npm/lo%zzdash@1"}]}"#
        ),
        "SBOM: at /components/1/purl: invalid package URL \"pkg:npm/lo%zzdash@1\": has an invalid \
         percent-encoding at byte 10"
    );
    assert_eq!(
        sbom(
            r#"{"bomFormat": "CycloneDX", "components": [{"name": "app", "components": [{"purl": "npm/lodash@1"}]}]}"#
        ),
        "SBOM: at /components/0/components/0/purl: invalid package URL \"npm/lodash@1\": does not \
         start with \"pkg:\""
    );
    assert_eq!(
        sbom(r#"{"bomFormat": "CycloneDX", "components": [{"purl": 7}]}"#),
        "SBOM: at /components/0/purl: expected a string, found a number"
    );
    assert_eq!(
        sbom(r#"{"bomFormat": "CycloneDX", "components": [{"purl": "pkg:npm/a", "version": ""}]}"#),
        "SBOM: at /components/0/version: must not be empty"
    );
}

#[test]
fn bad_cvss() {
    let base = r#""id": "A-1", "package": "pkg:npm/a", "introduced": "0""#;
    for (cvss, message) in [
        (
            r#""7.25""#,
            "invalid CVSS base score \"7.25\": has more than one decimal place",
        ),
        (
            "7.25",
            "invalid CVSS base score 7.25: has more than one decimal place",
        ),
        ("11", "invalid CVSS base score 11: is outside 0.0 to 10.0"),
        (
            r#""10.5""#,
            "invalid CVSS base score \"10.5\": is outside 0.0 to 10.0",
        ),
        ("-1", "invalid CVSS base score -1: is outside 0.0 to 10.0"),
        (
            r#""07.5""#,
            "invalid CVSS base score \"07.5\": has a leading zero",
        ),
        (
            r#""high""#,
            "invalid CVSS base score \"high\": is not a plain decimal number",
        ),
        (
            "1e-7",
            "invalid CVSS base score 1e-7: is not a plain decimal number",
        ),
        ("true", "expected a number or a string, found a boolean"),
    ] {
        assert_eq!(
            advisory(&format!("{base}, \"cvss\": {cvss}")),
            format!("feed snapshot: at /advisories/0/cvss: {message}"),
            "{cvss}"
        );
    }
    // Score version 2 reads CVSS vectors and advisories without severity;
    // version 1 refused them, and a version 1 replay still does (at scoring).
    let vector =
        r#"[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]"#;
    assert_eq!(
        loads(&format!(
            r#""id": "A-1", "package": "pkg:npm/a", "introduced": "0", "severity": {vector}"#
        )),
        (
            Some("a CVSS vector or a rating in \"severity\"".to_string()),
            vec![]
        )
    );
    assert_eq!(
        loads(r#""id": "A-1", "package": "pkg:npm/a", "introduced": "0""#),
        (
            Some("an advisory without \"cvss\" or \"severity\"".to_string()),
            vec![]
        )
    );
    // A vector that cannot be computed is left out, with the reason.
    assert_eq!(
        loads(
            r#""id": "A-1", "package": "pkg:npm/a", "introduced": "0", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, {"type": "CVSS_V2", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]"#
        )
        .1,
        vec![
            "/advisories/0/severity/0/score: invalid CVSS vector \"CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\": invalid CVSSv3 AV (Attack Vector) metric: `Q`".to_string(),
            "/advisories/0/severity/1/score: CVSS vector \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\" is of another version than its type CVSS_V2".to_string(),
        ]
    );
    assert_eq!(
        advisory(
            r#""id": "A-1", "package": "pkg:npm/a", "introduced": "0", "cvss": "1.0", "severity": []"#
        ),
        "feed snapshot: at /advisories/0: give either \"cvss\" or \"severity\", not both"
    );
}

#[test]
fn bad_version_ranges() {
    // Score version 1 refused these; version 2 reads them (as npm reads
    // `1.2`) or skips the range with the reason.
    let v1_range = Some("a range version score version 1 could not read".to_string());
    assert_eq!(
        loads_range(r#"{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2"}]}"#),
        (v1_range.clone(), vec![])
    );
    assert_eq!(
        loads_range(r#"{"type": "SEMVER", "events": [{"introduced": "1.02.0"}]}"#),
        (v1_range.clone(), vec![])
    );
    assert_eq!(
        loads_range(
            r#"{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0 final"}]}"#
        ),
        (
            v1_range,
            vec![
                "/advisories/0/affected/0/ranges/0/events/1/fixed: \"1.0 final\" is not a semver \
                 version (is not MAJOR.MINOR.PATCH with optional -PRERELEASE and +BUILD): the \
                 range is not evaluated"
                    .to_string()
            ]
        )
    );
    assert_eq!(
        loads_range(r#"{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": "2.0"}]}"#),
        (Some("a \"limit\" event".to_string()), vec![])
    );
    assert_eq!(
        loads_range(
            r#"{"type": "GIT", "repo": "https://example.com/x", "events": [{"introduced": "abc"}]}"#
        ),
        (
            None,
            vec![
                "/advisories/0/affected/0/ranges/0: a GIT range names commits, not package \
                 versions: not evaluated"
                    .to_string()
            ]
        )
    );
    assert_eq!(
        range(r#"{"type": "ECOSYSTEM", "events": [{"fixed": "1.0"}]}"#),
        "feed snapshot: at /advisories/0/affected/0/ranges/0: a range needs an \"introduced\" event"
    );
    assert_eq!(
        range(r#"{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "2.0"}]}"#),
        "feed snapshot: at /advisories/0/affected/0/ranges/0/events/0: an event has exactly one \
         member: \"introduced\", \"fixed\", \"last_affected\" or \"limit\""
    );
    assert_eq!(
        range(r#"{"type": "ECOSYSTEM", "events": [{"introduce": "0"}]}"#),
        "feed snapshot: at /advisories/0/affected/0/ranges/0/events/0: unknown member \
         \"introduce\" (allowed: introduced, fixed, last_affected, limit)"
    );
    assert_eq!(
        range(r#"{"type": "SEMVER2", "events": [{"introduced": "0"}]}"#),
        "feed snapshot: at /advisories/0/affected/0/ranges/0/type: \"SEMVER2\" is not one of \
         \"SEMVER\", \"ECOSYSTEM\" or \"GIT\""
    );
    assert_eq!(
        range(r#"{"type": "SEMVER", "events": []}"#),
        "feed snapshot: at /advisories/0/affected/0/ranges/0/events: must not be empty"
    );
    assert_eq!(
        advisory(
            r#""id": "A-1", "cvss": "5.0", "package": "pkg:npm/a", "rangeType": "SEMVER", "introduced": "v1.0.0""#
        ),
        "feed snapshot: at /advisories/0/introduced: invalid SEMVER version \"v1.0.0\": is not \
         MAJOR.MINOR.PATCH with optional -PRERELEASE and +BUILD"
    );
}

#[test]
fn bad_packages() {
    assert_eq!(
        advisory(
            r#""id": "A-1", "cvss": "5.0", "package": "pkg:npm/lodash@4.17.20", "introduced": "0""#
        ),
        "feed snapshot: at /advisories/0/package: invalid package URL \"pkg:npm/lodash@4.17.20\": \
         must name a package without a version here"
    );
    assert_eq!(
        advisory(
            r#""id": "A-1", "cvss": "5.0", "affected": [{"package": {"ecosystem": "Maven", "name": "log4j"}, "versions": ["1"]}]"#
        ),
        "feed snapshot: at /advisories/0/affected/0/package/name: invalid package URL \
         \"Maven/log4j\": Maven package name \"log4j\" is not \"group:artifact\""
    );
    assert_eq!(
        advisory(
            r#""id": "A-1", "cvss": "5.0", "affected": [{"package": {"name": "curl"}, "versions": ["1"]}]"#
        ),
        "feed snapshot: at /advisories/0/affected/0/package: missing required member \"ecosystem\""
    );
    // Score version 2 reads these (version 1 refused them); what cannot be
    // matched is skipped with the reason.
    let v1_ecosystem = Some("an ecosystem score version 1 did not know".to_string());
    assert_eq!(
        loads(
            r#""id": "A-1", "cvss": "5.0", "affected": [{"package": {"ecosystem": "Debian:12", "name": "curl"}, "versions": ["1"]}]"#
        ),
        (v1_ecosystem.clone(), vec![])
    );
    assert_eq!(
        loads(
            r#""id": "A-1", "cvss": "5.0", "affected": [{"package": {"ecosystem": "OSS-Fuzz", "name": "curl"}, "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "abc"}]}]}]"#
        ),
        (
            v1_ecosystem,
            vec![
                "/advisories/0/affected/0/package/ecosystem: ecosystem \"OSS-Fuzz\" has no \
                 package URL mapping: nothing to match"
                    .to_string()
            ]
        )
    );
    assert_eq!(
        loads(r#""id": "A-1", "cvss": "5.0", "affected": [{"package": {"purl": "pkg:npm/a"}}]"#),
        (
            Some("an affected entry without \"ranges\" or \"versions\"".to_string()),
            vec![
                "/advisories/0/affected/0: no \"ranges\" and no \"versions\": nothing to match"
                    .to_string()
            ]
        )
    );
    assert_eq!(
        loads(
            r#""id": "A-1", "cvss": "5.0", "affected": [{"package": {"ecosystem": "npm", "name": "a", "purl": "pkg:npm/a@1.0.0"}, "versions": ["1"]}]"#
        ),
        (
            Some("a \"package.purl\" with a version".to_string()),
            vec![]
        )
    );
    assert_eq!(
        loads(r#""id": "A-1", "cvss": "5.0""#),
        (Some("an advisory without \"affected\"".to_string()), vec![])
    );
    assert_eq!(
        advisory(r#""id": "", "cvss": "5.0", "package": "pkg:npm/a", "versions": ["1"]"#),
        "feed snapshot: at /advisories/0/id: must not be empty"
    );
}

#[test]
fn vex_errors() {
    let product = r#""products": [{"@id": "pkg:npm/a@1"}]"#;
    assert_eq!(
        statement(&format!(
            r#""vulnerability": {{"name": "A-1"}}, {product}, "status": "unaffected""#
        )),
        "VEX document: at /statements/0/status: \"unaffected\" is not one of not_affected, \
         affected, fixed, under_investigation"
    );
    assert_eq!(
        statement(&format!(
            r#""vulnerability": {{"name": "A-1"}}, {product}, "status": "not_affected""#
        )),
        "VEX document: at /statements/0: a not_affected statement needs \"justification\" or \
         \"impact_statement\""
    );
    assert_eq!(
        statement(&format!(
            r#""vulnerability": {{"name": "A-1"}}, {product}, "status": "affected", "timestamp": "yesterday""#
        ))
        .split(": invalid RFC 3339")
        .next()
        .unwrap(),
        "VEX document: at /statements/0/timestamp"
    );
    assert_eq!(
        statement(
            r#""vulnerability": {"name": "A-1"}, "products": [{"@id": "pkg:npm/"}], "status": "affected""#
        ),
        "VEX document: at /statements/0/products/0/@id: invalid package URL \"pkg:npm/\": has no name"
    );
    assert_eq!(
        statement(r#""vulnerability": {"name": "A-1"}, "products": [], "status": "affected""#),
        "VEX document: at /statements/0/products: must not be empty"
    );
    assert_eq!(
        statement(
            r#""vulnerability": {"@id": "https://nvd.example/A-1"}, "products": ["pkg:npm/a"], "status": "affected""#
        ),
        "VEX document: at /statements/0/vulnerability: missing required member \"name\""
    );
}

#[test]
fn policy_errors() {
    assert_eq!(
        policy(r#"{"treshold": 700, "weights": {}}"#),
        "policy: at the document root: unknown member \"treshold\" (allowed: schema, threshold, \
         weights, vex, unscored)"
    );
    assert_eq!(
        policy(r#"{"weights": {}}"#),
        "policy: at the document root: missing required member \"threshold\""
    );
    assert_eq!(
        policy(r#"{"threshold": -1, "weights": {}}"#),
        "policy: at /threshold: invalid integer -1: is negative"
    );
    assert_eq!(
        policy(r#"{"threshold": 700.5, "weights": {}}"#),
        "policy: at /threshold: invalid integer 700.5: is not a whole number"
    );
    assert_eq!(
        policy(r#"{"threshold": "700", "weights": {}}"#),
        "policy: at /threshold: expected a number, found a string"
    );
    assert_eq!(
        policy(r#"{"threshold": 700, "weights": {"high": 1001}}"#),
        "policy: at /weights/high: invalid integer 1001: is larger than 1000"
    );
    assert_eq!(
        policy(r#"{"threshold": 700, "weights": {"severe": 100}}"#),
        "policy: at /weights: unknown member \"severe\" (allowed: none, low, medium, high, critical)"
    );
    assert_eq!(
        policy(r#"{"threshold": 700, "weights": {}, "vex": {"not_affected": "ignore"}}"#),
        "policy: at /vex/not_affected: \"ignore\" is not one of \"suppress\" or \"keep\""
    );
    assert_eq!(
        policy(r#"{"schema": "v2", "threshold": 700, "weights": {}}"#),
        "policy: at /schema: \"v2\" is not one of \"stellaops.io/score-policy/v1\""
    );
    assert_eq!(
        policy(r#"{"threshold": 700, "weights": {}, "unscored": "severe"}"#),
        "policy: at /unscored: \"severe\" is not one of \"none\", \"low\", \"medium\", \
         \"high\" or \"critical\""
    );
    assert_eq!(
        policy(r#"{"threshold": 700, "weights": {}, "unscored": 5}"#),
        "policy: at /unscored: expected a string, found a number"
    );
}

#[test]
fn errors_are_typed() {
    let error = Feed::parse(br#"{"advisories": [{"id": "A", "cvss": "7.25"}]}"#).unwrap_err();
    assert_eq!(error.kind(), InputKind::Feed);
    let InputError::Invalid {
        pointer, reason, ..
    } = error
    else {
        panic!("expected an invalid-document error, got {error:?}");
    };
    assert_eq!(pointer, "/advisories/0/cvss");
    assert!(matches!(reason, attestor_score::Reason::Cvss { .. }));
}
