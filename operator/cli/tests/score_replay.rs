//! `attestor score` and `attestor replay` as a user runs them: a bundle that
//! verifies, a replay that reproduces it, and drift from each input.

mod run;

use run::{attestor, code, repo};
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

const ARTIFACT: &str = "sha256:353a20e92579996e92aaba8bc0910406f3b561a8f7360e8ecd9c271f7c5f8822";
/// The root `attestor score` gives examples/inputs today (score version 2).
const ROOT: &str = "sha256:05cbf60213e1319443693178bddabba6ac20f8031b1640d5245eeed364a1771e";
/// The root of examples/bundles/valid.zip, scored with score version 1 (docs/scoring.md).
const ROOT_V1: &str = "sha256:ec26a1279fda62fc833f4bd1e14d88324cc615cdc30d1123dac650342b3edc43";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn example(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo().join("examples/inputs").join(name)).unwrap())
        .unwrap()
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path
    }

    /// `attestor score` of examples/inputs (with `feed` instead of its feed), into the store.
    fn score(&self, output: &str, feed: &str) -> Output {
        let output = self.path(output);
        let store = self.path("store");
        attestor(&[
            "score",
            "--sbom",
            "examples/inputs/sbom.cdx.json",
            "--feed",
            feed,
            "--vex",
            "examples/inputs/vex.json",
            "--policy",
            "examples/inputs/policy.json",
            "--key",
            "examples/keys/test-only-signing.pem",
            "--artifact",
            ARTIFACT,
            "--artifact-name",
            "registry.example/shop/cart",
            "--created-at",
            "2026-11-01T09:00:00Z",
            "--output",
            &output,
            "--store",
            &store,
        ])
    }

    /// A scored bundle `b.zip` and a store holding its inputs.
    fn scored() -> Self {
        let scratch = Self::new();
        let out = scratch.score("b.zip", "examples/inputs/feed.json");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        scratch
    }

    fn replay(&self, extra: &[&str]) -> Output {
        let bundle = self.path("b.zip");
        let store = self.path("store");
        let mut args = vec!["replay", "--bundle", &bundle, "--store", &store];
        args.extend(extra);
        attestor(&args)
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(out)))
}

/// A bundle produced before score version 2 (its manifest has no
/// `scoreVersion`) replays with version 1's rules, bit for bit.
#[test]
fn a_version_1_bundle_replays_with_version_1() {
    let out = attestor(&[
        "replay",
        "--bundle",
        "examples/bundles/valid.zip",
        "--sbom",
        "examples/inputs/sbom.cdx.json",
        "--feed",
        "examples/inputs/feed.json",
        "--vex",
        "examples/inputs/vex.json",
        "--policy",
        "examples/inputs/policy.json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("reproduced"), "{}", stdout(&out));
    assert!(stdout(&out).contains(ROOT_V1), "{}", stdout(&out));
}

#[test]
fn score_writes_a_bundle_that_verifies_and_replays() {
    let s = Scratch::scored();
    let text = stdout(&attestor(&["inspect", "--bundle", &s.path("b.zip")]));
    assert!(text.contains(ROOT), "{text}");

    let verify = attestor(&[
        "verify",
        "--bundle",
        &s.path("b.zip"),
        "--trust-anchor",
        "examples/trust/signing.yaml",
        "--offline",
        "--artifact",
        ARTIFACT,
    ]);
    assert_eq!(code(&verify), 0, "{}", stdout(&verify));

    // The store holds the four inputs under the manifest's digests.
    let manifest = example("manifest.json");
    for (kind, member) in [
        ("sbom", "sbom"),
        ("feed", "feedSnapshot"),
        ("vex", "vex"),
        ("policy", "policy"),
    ] {
        let digest = manifest["inputs"][member].as_str().unwrap();
        let pointer = std::fs::read_to_string(s.path(&format!("store/latest/{kind}"))).unwrap();
        assert_eq!(pointer, format!("{digest}\n"));
        assert!(
            Path::new(&s.path(&format!("store/sha256/{}", &digest[7..]))).is_file(),
            "{kind}"
        );
    }

    let replay = s.replay(&[]);
    assert_eq!(code(&replay), 0, "{}{}", stdout(&replay), stderr(&replay));
    assert!(
        stdout(&replay).starts_with("reproduced"),
        "{}",
        stdout(&replay)
    );
    assert!(stdout(&replay).contains(ROOT));

    let replay = s.replay(&[
        "--use-original-snapshots",
        "--trust-anchor",
        "examples/trust/signing.yaml",
        "--output",
        "json",
    ]);
    assert_eq!(code(&replay), 0, "{}", stderr(&replay));
    let doc = json_of(&replay);
    assert_eq!(doc["outcome"], "Reproduced");
    assert_eq!(doc["originalRoot"], ROOT);
    assert_eq!(doc["recomputedRoot"], ROOT);
}

#[test]
fn a_new_advisory_in_the_latest_feed_is_feed_drift() {
    let s = Scratch::scored();
    let mut feed = example("feed.json");
    feed["advisories"].as_array_mut().unwrap().push(json!({
        "id": "GHSA-new1-0000-0000", "cvss": "7.5", "introduced": "0", "fixed": "4.17.22",
        "package": "pkg:npm/lodash"
    }));
    let feed = s.write("feed2.json", &feed);
    // A later scan moves the store's latest feed.
    let out = s.score("b2.zip", &feed);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let replay = s.replay(&["--diff"]);
    assert_eq!(code(&replay), 1, "{}{}", stdout(&replay), stderr(&replay));
    let text = stdout(&replay);
    assert!(text.starts_with("drifted: cause Feed"), "{text}");
    assert!(
        text.contains("added   match pkg:npm/lodash@4.17.20 GHSA-new1-0000-0000")
            && text.contains("(cause Feed)"),
        "{text}"
    );

    let doc = json_of(&s.replay(&["--diff", "--output", "json"]));
    assert_eq!(doc["outcome"], "Drifted");
    assert_eq!(doc["cause"], "Feed");
    assert_eq!(doc["changedInputs"], json!(["feed"]));
    let added: Vec<&Value> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "Added" && c["key"]["kind"] == "match")
        .collect();
    assert_eq!(added.len(), 1, "{doc}");
    assert_eq!(added[0]["key"]["advisory"], "GHSA-new1-0000-0000");
    assert_eq!(added[0]["causes"], json!(["Feed"]));

    // Pinning the original feed, or asking for the original snapshots, reproduces.
    let manifest = example("manifest.json");
    let original = manifest["inputs"]["feedSnapshot"].as_str().unwrap();
    assert_eq!(code(&s.replay(&["--feed-snapshot", original])), 0);
    assert_eq!(code(&s.replay(&["--use-original-snapshots"])), 0);
}

#[test]
fn a_changed_vex_or_policy_is_attributed_to_it() {
    let s = Scratch::scored();
    let mut vex = example("vex.json");
    vex["statements"] = json!([]);
    let vex = s.write("vex2.json", &vex);
    let replay = s.replay(&["--vex", &vex, "--diff", "--output", "json"]);
    assert_eq!(code(&replay), 1, "{}", stderr(&replay));
    let doc = json_of(&replay);
    assert_eq!(doc["cause"], "Vex");
    assert_eq!(doc["changedInputs"], json!(["vex"]));
    assert_eq!(doc["recomputedScore"], 1700);

    let mut policy = example("policy.json");
    policy["threshold"] = json!(800);
    let policy = s.write("policy2.json", &policy);
    let replay = s.replay(&["--policy", &policy, "--diff"]);
    assert_eq!(code(&replay), 1, "{}", stderr(&replay));
    let text = stdout(&replay);
    assert!(text.starts_with("drifted: cause Policy"), "{text}");
    assert!(
        text.contains("changed aggregate: threshold 700 -> 800, verdict \"fail\" -> \"pass\""),
        "{text}"
    );
}

#[test]
fn missing_snapshots_are_usage_errors_that_say_where_to_put_them() {
    let s = Scratch::scored();
    let empty = s.path("empty");
    let bundle = s.path("b.zip");
    let out = attestor(&["replay", "--bundle", &bundle, "--store", &empty]);
    assert_eq!(code(&out), 2);
    let manifest = example("manifest.json");
    let sbom = manifest["inputs"]["sbom"].as_str().unwrap();
    let err = stderr(&out);
    assert!(
        err.contains(&format!("has no SBOM {sbom}"))
            && err.contains(&format!("{empty}/sha256/{}", &sbom[7..]))
            && err.contains("--sbom FILE"),
        "{err}"
    );

    // Only the latest feed pointer is missing.
    std::fs::remove_file(s.path("store/latest/feed")).unwrap();
    let out = s.replay(&[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("has no latest feed"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("latest/feed"), "{}", stderr(&out));

    // No store at all.
    let out = attestor(&["replay", "--bundle", &bundle, "--output", "json"]);
    assert_eq!(code(&out), 2);
    assert_eq!(json_of(&out)["reason"], "BadUsage");

    // A feed snapshot the store does not have.
    let pin = format!("sha256:{}", "0".repeat(64));
    let out = s.replay(&["--feed-snapshot", &pin]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(&format!("has no feed snapshot {pin}")),
        "{}",
        stderr(&out)
    );
    let out = s.replay(&["--feed-snapshot", "sha256:nope"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--feed-snapshot"), "{}", stderr(&out));
}

#[test]
fn malformed_and_damaged_inputs_are_named_with_their_pointer() {
    let s = Scratch::scored();
    let mut vex = example("vex.json");
    vex["statements"][0]
        .as_object_mut()
        .unwrap()
        .remove("status");
    let bad = s.write("bad-vex.json", &vex);
    let out = s.replay(&["--vex", &bad]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&bad) && err.contains("/statements/0") && err.contains("\"status\""),
        "{err}"
    );

    // The same for `attestor score`.
    let mut feed = example("feed.json");
    feed["advisories"][1]["cvss"] = json!("9.85");
    let bad_feed = s.write("bad-feed.json", &feed);
    let out = s.score("never.zip", &bad_feed);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&bad_feed) && err.contains("/advisories/1/cvss"),
        "{err}"
    );
    assert!(!Path::new(&s.path("never.zip")).exists());

    // A damaged object in the store.
    let manifest = example("manifest.json");
    let policy = manifest["inputs"]["policy"].as_str().unwrap();
    std::fs::write(s.path(&format!("store/sha256/{}", &policy[7..])), b"{}").unwrap();
    let out = s.replay(&[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
}

#[test]
fn replay_refuses_a_bundle_that_does_not_verify_when_asked_to() {
    let s = Scratch::scored();
    let out = s.replay(&["--trust-anchor", "examples/trust/log.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
}

const DATA: &str = "operator/score/tests/data";

impl Scratch {
    /// `attestor score` of any four inputs (paths from the repository root
    /// or absolute), into the store.
    fn score_inputs(&self, output: &str, [sbom, feed, vex, policy]: [&str; 4]) -> Output {
        let output = self.path(output);
        let store = self.path("store");
        attestor(&[
            "score",
            "--sbom",
            sbom,
            "--feed",
            feed,
            "--vex",
            vex,
            "--policy",
            policy,
            "--key",
            "examples/keys/test-only-signing.pem",
            "--artifact",
            ARTIFACT,
            "--created-at",
            "2026-11-01T09:00:00Z",
            "--output",
            &output,
            "--store",
            &store,
        ])
    }
}

fn line<'t>(text: &'t str, start: &str) -> &'t str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no {start:?} line in {text}"))
}

#[test]
fn score_reads_published_forms_and_replays_them_from_the_store() {
    let s = Scratch::new();
    let sbom = format!("{DATA}/sbom/syft.spdx.json");
    let vex = format!("{DATA}/vex/csaf-redhat.json");
    let policy = "examples/inputs/policy.json";
    let dir = format!("{DATA}/feeds/dir");
    let out = s.score_inputs("dir.zip", [&sbom, &dir, &vex, policy]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        line(&text, "feed:").ends_with(
            "(4 advisories in effect; directory of 5 advisory files, 2 other files skipped)"
        ),
        "{text}"
    );
    assert!(
        line(&text, "sbom:")
            .ends_with("(SPDX 2 JSON, 3 components; 1 without a package URL skipped)"),
        "{text}"
    );
    assert!(
        line(&text, "vex:")
            .ends_with("(CSAF 2.0 VEX, 3 statements; 1 product references without a package URL)"),
        "{text}"
    );
    assert!(
        line(&text, "nodes:").contains("3 findings, 1 suppressed"),
        "{text}"
    );
    let root = line(&text, "proof root:").to_string();

    // The ZIP of the same advisories has the same address, hence the same root.
    let zip = format!("{DATA}/feeds/all.zip");
    let out = s.score_inputs("zip.zip", [&sbom, &zip, &vex, policy]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(line(&stdout(&out), "proof root:"), root);
    assert!(
        line(&stdout(&out), "feed:").contains("ZIP of 5 advisory files"),
        "{}",
        stdout(&out)
    );

    // The store holds the assembled feed document: the replay reproduces.
    let bundle = s.path("zip.zip");
    let store = s.path("store");
    let replay = attestor(&["replay", "--bundle", &bundle, "--store", &store]);
    assert_eq!(code(&replay), 0, "{}{}", stdout(&replay), stderr(&replay));
    assert!(
        stdout(&replay).starts_with("reproduced"),
        "{}",
        stdout(&replay)
    );

    // SPDX 3 and CycloneDX VEX as well.
    let out = s.score_inputs(
        "spdx3.zip",
        [
            &format!("{DATA}/sbom/spdx3.jsonld"),
            &dir,
            &format!("{DATA}/vex/cyclonedx-vex.json"),
            policy,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        line(&text, "sbom:").contains("SPDX 3 JSON-LD, 2 components"),
        "{text}"
    );
    assert!(
        line(&text, "vex:").contains("CycloneDX VEX, 2 statements"),
        "{text}"
    );
}

#[test]
fn embedded_cyclonedx_vex_is_applied_and_reported() {
    let s = Scratch::new();
    let sbom = format!("{DATA}/sbom/embedded-vex.cdx.json");
    let dir = format!("{DATA}/feeds/dir");
    let policy = "examples/inputs/policy.json";
    let out = s.score_inputs("a.zip", [&sbom, &dir, "examples/inputs/vex.json", policy]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert!(
        line(&stdout(&out), "embedded vex:")
            .contains("2 CycloneDX VEX analyses in the SBOM (2 statements"),
        "{}",
        stdout(&out)
    );
    assert!(
        line(&stdout(&out), "nodes:").contains("1 suppressed"),
        "applied without being given as --vex: {}",
        stdout(&out)
    );
    let out = s.score_inputs("b.zip", [&sbom, &dir, &sbom, policy]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert!(
        line(&stdout(&out), "vex:").contains("CycloneDX VEX, 2 statements"),
        "{}",
        stdout(&out)
    );
    assert!(
        line(&stdout(&out), "nodes:").contains("1 suppressed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_files_in_a_feed_directory_or_zip_are_named() {
    let s = Scratch::new();
    let dir = s.path("feed");
    std::fs::create_dir_all(format!("{dir}/vulns")).unwrap();
    std::fs::write(
        format!("{dir}/vulns/PYSEC-1.yaml"),
        "id: PYSEC-1\nseverity: [{type: CVSS_V3, score: '5.0'}]\naffected:\n- package: {name: x, ecosystem: PyPI}\n  ranges: [{type: ECOSYSTEM, events: [{introduced: '0'}, {fixed: 1.0}]}]\n",
    )
    .unwrap();
    let inputs = |feed: &str| {
        [
            format!("{DATA}/sbom/syft.spdx.json"),
            feed.to_string(),
            "examples/inputs/vex.json".to_string(),
            "examples/inputs/policy.json".to_string(),
        ]
    };
    let [a, b, c, d] = inputs(&dir);
    let out = s.score_inputs("never.zip", [&a, &b, &c, &d]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&dir)
            && err.contains("file \"vulns/PYSEC-1.yaml\"")
            && err.contains("/affected/0/ranges/0/events/1/fixed"),
        "{err}"
    );

    let zip = std::fs::read(repo().join(DATA).join("feeds/all.zip")).unwrap();
    let truncated = s.path("truncated.zip");
    std::fs::write(&truncated, &zip[..zip.len() - 30]).unwrap();
    let [a, b, c, d] = inputs(&truncated);
    let out = s.score_inputs("never.zip", [&a, &b, &c, &d]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&truncated) && err.contains("not a readable ZIP archive"),
        "{err}"
    );
    assert!(!Path::new(&s.path("never.zip")).exists());
}
