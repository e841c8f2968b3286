//! `score_proof.json` as read node by node: the refusals the streaming
//! reader adds, and that it reads exactly what the strict parser reads.

use attestor_core::bundle::{Bundle, BundleError, MAX_BUNDLE_BYTES};
use attestor_core::verify::verify_bundle;
use attestor_core::zip::ZipLimits;

#[path = "common/hostile.rs"]
mod hostile;

fn with_ledger(ledger: &[u8]) -> Result<Bundle, BundleError> {
    Bundle::from_entries(hostile::base_entries().into_iter().map(|(n, d)| {
        if n == "score_proof.json" {
            (n, ledger.to_vec())
        } else {
            (n, d)
        }
    }))
}

fn refusal(ledger: &[u8]) -> String {
    with_ledger(ledger).unwrap_err().to_string()
}

fn base_ledger() -> Vec<u8> {
    hostile::base_entries()
        .into_iter()
        .find(|(n, _)| n == "score_proof.json")
        .unwrap()
        .1
}

#[test]
fn the_pretty_ledger_and_its_compact_form_read_the_same() {
    let pretty = base_ledger();
    let value: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
    let compact = serde_json::to_vec(&value).unwrap();
    let a = with_ledger(&pretty).unwrap();
    let b = with_ledger(&compact).unwrap();
    assert_eq!(a.ledger, b.ledger);
    assert_eq!(a.ledger.node_count, 3);
    assert!(verify_bundle(&a, &hostile::trust(), &hostile::opts()).verified);
}

#[test]
fn syntax_errors_inside_a_node_are_located_in_the_whole_document() {
    let text = String::from_utf8(base_ledger()).unwrap();
    // Break the second node's "kind" member, on its own line of the pretty text.
    let line = text.lines().position(|l| l.contains("\"kind\"")).unwrap();
    let broken = text.replacen("\"kind\":", "\"kind\" ", 1);
    let message = refusal(broken.as_bytes());
    assert!(
        message.contains(&format!("line {}", line + 1)),
        "{message} (expected line {})",
        line + 1
    );
    assert!(
        message.starts_with("score_proof.json: not valid JSON: nodes[0]"),
        "{message}"
    );
}

#[test]
fn what_the_strict_parser_refuses_is_refused_here_too() {
    let cases: &[(&[u8], &str)] = &[
        (b"\xEF\xBB\xBF{}", "byte order mark"),
        (
            b"{\"nodes\":[],\"nodes\":[]}",
            "duplicate object key \"nodes\"",
        ),
        (b"{\"a\":1,\"\\u0061\":2}", "duplicate object key \"a\""),
        (
            b"{\"x\":9007199254740993,\"nodes\":[]}",
            "magnitude above 2^53",
        ),
        (b"{\"nodes\":[]} x", "unexpected data after the JSON value"),
        (b"{\"nodes\":[]}}", "unexpected data after the JSON value"),
        (b"{\"nodes\":[],}", "invalid JSON"),
        (b"{\"x\":[1,],\"nodes\":[]}", "invalid JSON"),
        (b"{\"nodes\" []}", "expected `:`"),
        (b"{nodes:[]}", "key must be a string"),
        (b"{\"nodes\":[1]}", "nodes[0]: must be an object"),
        (b"{\"nodes\":{}}", "missing array field \"nodes\""),
        (b"[]", "must be a JSON object"),
        (b"{\"nodes\":[", "EOF while parsing"),
        (b"{\"nodes\":[{\"id\":\"", "EOF while parsing"),
        (b"{\"s\":\"\xff\",\"nodes\":[]}", "not valid UTF-8"),
        (b"{\"nodes\":[]}", "missing \"schema\""),
    ];
    for (text, expected) in cases {
        let message = refusal(text);
        assert!(
            message.contains(expected),
            "{:?}: {message} (expected {expected:?})",
            String::from_utf8_lossy(text)
        );
    }
    // Top-level members other than the nodes are bounded.
    let mut long = b"{\"x\":\"".to_vec();
    long.extend(std::iter::repeat_n(b'a', 70_000));
    long.extend_from_slice(b"\",\"nodes\":[]}");
    assert!(refusal(&long).contains("longer than 65536 bytes"));
    let many: String = (0..65).map(|i| format!("\"m{i}\":0,")).collect();
    assert!(
        refusal(format!("{{{many}\"nodes\":[]}}").as_bytes())
            .contains("more than 64 top-level members")
    );
}

#[test]
fn oversized_entries_and_files_are_refused_before_inflating() {
    let (zip, _) = hostile::case("issue-12: manifest.json of 30 MiB of {}", 1);
    let err = Bundle::from_zip(&zip, &ZipLimits::default()).unwrap_err();
    assert_eq!(
        err,
        BundleError::EntryTooLarge {
            entry: "manifest.json",
            size: 30 * 1024 * 1024 + 1,
            limit: 256 * 1024
        }
    );
    assert!(err.to_string().contains("262144-byte limit"), "{err}");

    let big = vec![0u8; MAX_BUNDLE_BYTES as usize + 1];
    assert_eq!(
        Bundle::from_zip(&big, &ZipLimits::default()).unwrap_err(),
        BundleError::BundleTooLarge {
            size: MAX_BUNDLE_BYTES + 1,
            limit: MAX_BUNDLE_BYTES
        }
    );

    let (zip, _) = hostile::case("64 small entries", 1);
    assert!(matches!(
        Bundle::from_zip(&zip, &ZipLimits::default()),
        Err(BundleError::UnexpectedEntry(name)) if name == "extra-0.json"
    ));
}
