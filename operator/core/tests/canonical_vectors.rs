//! RFC 8785 vectors and the strictness rules of `attestor_core::canonical`.

use std::collections::{BTreeMap, HashMap};

use attestor_core::canonical::{
    CanonicalError, Location, MAX_NESTING_DEPTH, canonicalize, content_id, parse_strict,
    to_canonical_bytes, to_canonical_vec,
};
use attestor_core::digest::Sha256Digest;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

fn canon(text: &str) -> String {
    String::from_utf8(canonicalize(text.as_bytes()).unwrap()).unwrap()
}

fn refused(text: &str) -> CanonicalError {
    match canonicalize(text.as_bytes()) {
        Ok(out) => panic!(
            "{text:?} was accepted as {:?}",
            String::from_utf8_lossy(&out)
        ),
        Err(e) => e,
    }
}

fn at(line: usize, column: usize) -> Location {
    Location::Text { line, column }
}

fn pointer(p: &str) -> Location {
    Location::Pointer(p.to_string())
}

// --- RFC 8785 examples -----------------------------------------------------

/// RFC 8785 section 3.2.2 (input) and 3.2.3/3.2.4 (output).
const RFC_SAMPLE_INPUT: &str = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
const RFC_SAMPLE_OUTPUT: &str = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;

#[test]
fn rfc8785_sample_object() {
    assert_eq!(canon(RFC_SAMPLE_INPUT), RFC_SAMPLE_OUTPUT);
    // The digest was computed independently with `printf ... | sha256sum`.
    let value = parse_strict(RFC_SAMPLE_INPUT.as_bytes()).unwrap();
    assert_eq!(
        content_id(&value).unwrap().to_string(),
        "sha256:2d5e01a318d0f0879ab568c4be289c8b1f64ef8921a53c6277d5e069978baacb"
    );
}

/// RFC 8785 section 3.2.3: property sorting by UTF-16 code units.
#[test]
fn rfc8785_sorting_example() {
    let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
    let expected = concat!(
        r#"{"\r":"Carriage Return","1":"One","#,
        "\"\u{80}\":\"Control\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",",
        "\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f600}\":\"Emoji: Grinning Face\",",
        "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
    );
    assert_eq!(canon(input), expected);
}

#[test]
fn keys_sort_by_utf16_not_utf8() {
    let (bmp, astral) = ("\u{e000}", "\u{10000}");
    // UTF-8 (and code point) order puts U+E000 first...
    assert!(bmp.as_bytes() < astral.as_bytes());
    // ...UTF-16 order puts U+10000 (surrogates D800 DC00) first.
    let value = json!({ bmp: 1, astral: 2 });
    let out = String::from_utf8(to_canonical_bytes(&value).unwrap()).unwrap();
    assert_eq!(out, "{\"\u{10000}\":2,\"\u{e000}\":1}");
    // Plain code point order still applies below the surrogate range.
    let value = json!({ "b": 1, "a": 2, "\u{ff}": 3, "B": 4, "": 5 });
    assert_eq!(
        to_canonical_bytes(&value).unwrap(),
        "{\"\":5,\"B\":4,\"a\":2,\"b\":1,\"\u{ff}\":3}".as_bytes()
    );
}

/// RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
const APPENDIX_B: &[(u64, &str)] = &[
    (0x0000000000000000, "0"),
    (0x8000000000000000, "0"),
    (0x0000000000000001, "5e-324"),
    (0x8000000000000001, "-5e-324"),
    (0x7fefffffffffffff, "1.7976931348623157e+308"),
    (0xffefffffffffffff, "-1.7976931348623157e+308"),
    (0x4340000000000000, "9007199254740992"),
    (0xc340000000000000, "-9007199254740992"),
    (0x4430000000000000, "295147905179352830000"),
    (0x44b52d02c7e14af5, "9.999999999999997e+22"),
    (0x44b52d02c7e14af6, "1e+23"),
    (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
    (0x444b1ae4d6e2ef4e, "999999999999999700000"),
    (0x444b1ae4d6e2ef4f, "999999999999999900000"),
    (0x444b1ae4d6e2ef50, "1e+21"),
    (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
    (0x3eb0c6f7a0b5ed8d, "0.000001"),
    (0x41b3de4355555553, "333333333.3333332"),
    (0x41b3de4355555554, "333333333.33333325"),
    (0x41b3de4355555555, "333333333.3333333"),
    (0x41b3de4355555556, "333333333.3333334"),
    (0x41b3de4355555557, "333333333.33333343"),
    (0xbecbf647612f3696, "-0.0000033333333333333333"),
    (0x43143ff3c1cb0959, "1424953923781206.2"),
];

/// All 24 finite rows. Three of them are integers between 2^53 and 10^21,
/// whose canonical text is an integer literal that `parse_strict` refuses, so
/// `to_canonical_bytes` refuses them too; the refusal names the exact
/// RFC 8785 text, which checks the formatting of those rows as well.
#[test]
fn rfc8785_appendix_b_numbers() {
    let mut written = 0;
    for &(bits, expected) in APPENDIX_B {
        let value = Value::from(f64::from_bits(bits));
        match to_canonical_bytes(&value) {
            Ok(out) => {
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{bits:016x}");
                written += 1;
            }
            Err(CanonicalError::IntegerOutOfRange { number, at }) => {
                assert_eq!(number, expected, "{bits:016x}");
                assert_eq!(at, pointer(""));
                let magnitude = f64::from_bits(bits).abs();
                assert!(magnitude > 9007199254740992.0 && magnitude < 1e21);
            }
            Err(e) => panic!("{bits:016x}: {e}"),
        }
    }
    assert_eq!(written, 21);
    // The NaN and Infinity rows: a serde_json Value cannot hold them, so they
    // can only arrive through to_canonical_vec.
    for bits in [0x7fffffffffffffff_u64, 0x7ff0000000000000] {
        assert_eq!(
            to_canonical_vec(&f64::from_bits(bits)).unwrap_err(),
            CanonicalError::NonFiniteNumber { at: pointer("") }
        );
    }
}

/// Parsing the canonical text gives back the exact double (which needs a
/// correctly rounded parser: serde_json's default one gets some rows wrong).
#[test]
fn rfc8785_appendix_b_numbers_parse_back_exactly() {
    for &(bits, text) in APPENDIX_B {
        let expected = f64::from_bits(bits);
        let parsed = match parse_strict(text.as_bytes()) {
            Ok(v) => v,
            Err(CanonicalError::IntegerOutOfRange { number, .. }) => {
                assert_eq!(number, text);
                continue;
            }
            Err(e) => panic!("{text}: {e}"),
        };
        let got = parsed.as_f64().unwrap();
        if expected == 0.0 {
            assert_eq!(got, 0.0);
        } else {
            assert_eq!(got.to_bits(), bits, "{text}");
        }
        assert_eq!(canon(text), text);
    }
}

#[test]
fn float_literals_are_correctly_rounded() {
    // serde_json's default float parser reads these as a different double.
    assert_eq!(canon("2.4703282292062328e-324"), "5e-324");
    for text in [
        "-1.8218816927580057e+294",
        "-1.0729132283643165e-38",
        "-5.791054108416719e-286",
        "2.744938900923684e-298",
    ] {
        assert_eq!(canon(text), text);
    }
    // Different spellings of the same double are one canonical number.
    for text in [
        "1E30",
        "1e+30",
        "10e29",
        "1000000000000000000000000000000.0",
    ] {
        assert_eq!(canon(text), "1e+30");
    }
    assert_eq!(
        canon("[-0, -0.0, 0e5, 1.0, 1E2, 0.1e-6, 1e21, 1e-7]"),
        "[0,0,0,1,100,1e-7,1e+21,1e-7]"
    );
    assert_eq!(canon("9007199254740993.0"), "9007199254740992");
    assert!(matches!(
        refused("1e400"),
        CanonicalError::Syntax { ref message, .. } if message == "number out of range"
    ));
}

// --- strings ---------------------------------------------------------------

#[test]
fn string_escaping_is_exactly_jcs() {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    let value = json!(all_controls);
    assert_eq!(
        String::from_utf8(to_canonical_bytes(&value).unwrap()).unwrap(),
        concat!(
            r#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#,
            r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f""#
        )
    );
    // Quote and backslash escaped; slash, DEL, U+2028 and non-ASCII literal.
    assert_eq!(
        canon(r#""\"\\\/\u007f\u2028é\ud83d\ude00 <script>""#),
        "\"\\\"\\\\/\u{7f}\u{2028}é\u{1f600} <script>\""
    );
}

#[test]
fn lone_surrogates_are_refused() {
    for text in [
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800\u0041""#,
        r#""\ud800x""#,
        r#""\ud800\ud800""#,
        r#""\ude00\ud83d""#,
        r#"{"\ud800": 1}"#,
    ] {
        assert!(
            matches!(refused(text), CanonicalError::Syntax { .. }),
            "{text}"
        );
    }
    assert_eq!(canon(r#""\ud83d\ude00""#), "\"\u{1f600}\"");
}

// --- strictness --------------------------------------------------------------

#[test]
fn duplicate_keys_are_refused_at_any_depth() {
    let e = refused(r#"{"a": 1, "b": 2, "a": 3}"#);
    assert_eq!(
        e,
        CanonicalError::DuplicateKey {
            key: "a".into(),
            at: at(1, 20)
        }
    );
    assert_eq!(
        e.to_string(),
        r#"duplicate object key "a" at line 1 column 20"#
    );

    let e = refused("{\"outer\": [1, {\"x\": {}, \n  \"y\": null, \"x\": []}]}");
    assert!(
        matches!(&e, CanonicalError::DuplicateKey { key, at: Location::Text { line: 2, .. } } if key == "x"),
        "{e}"
    );
    // Keys are compared after unescaping.
    assert!(matches!(
        refused(r#"{"a": 1, "\u0061": 2}"#),
        CanonicalError::DuplicateKey { key, .. } if key == "a"
    ));
    assert!(matches!(
        refused(r#"{"\u00e9": 1, "é": 2}"#),
        CanonicalError::DuplicateKey { key, .. } if key == "é"
    ));
    // Same key in sibling objects is fine.
    assert_eq!(canon(r#"[{"a":1},{"a":2}]"#), r#"[{"a":1},{"a":2}]"#);
}

#[test]
fn integers_above_2_pow_53_are_refused_by_name() {
    assert_eq!(canon("9007199254740992"), "9007199254740992");
    assert_eq!(canon("-9007199254740992"), "-9007199254740992");
    for (text, number) in [
        ("9007199254740993", "9007199254740993"),
        ("-9007199254740993", "-9007199254740993"),
        ("9007199254740994", "9007199254740994"),
        ("18446744073709551615", "18446744073709551615"),
        ("18446744073709551616", "18446744073709551616"),
        ("-9223372036854775809", "-9223372036854775809"),
        (
            "[1, 100000000000000000000000000000]",
            "100000000000000000000000000000",
        ),
    ] {
        let e = refused(text);
        match &e {
            CanonicalError::IntegerOutOfRange { number: n, .. } => assert_eq!(n, number),
            other => panic!("{text}: {other}"),
        }
        assert!(e.to_string().contains(number), "{e}");
    }
    // The location is the start of the literal.
    assert_eq!(
        refused("{\n  \"size\":\n    12345678901234567890\n}"),
        CanonicalError::IntegerOutOfRange {
            number: "12345678901234567890".into(),
            at: at(3, 5)
        }
    );
    assert_eq!(
        refused("[1,2,9007199254740993]").to_string(),
        "integer 9007199254740993 at line 1 column 6 has a magnitude above 2^53 and cannot be \
         represented exactly as an IEEE-754 double (RFC 8785, I-JSON); encode it as a string"
    );
}

/// A double in (2^53, 10^21) is an integer that ECMAScript writes without an
/// exponent, so its canonical form would be an integer literal above 2^53:
/// the parser refuses it however it is spelled, and the writer refuses such
/// values built in code.
#[test]
fn large_integral_doubles_are_refused() {
    assert!(matches!(
        parse_strict(b"{\"x\": [1e20]}").unwrap_err(),
        CanonicalError::IntegerOutOfRange { number, .. } if number == "1e20"
    ));
    let value = serde_json::json!({"x": [1e20]});
    assert_eq!(
        to_canonical_bytes(&value).unwrap_err(),
        CanonicalError::IntegerOutOfRange {
            number: "100000000000000000000".into(),
            at: pointer("/x/0")
        }
    );
    assert_eq!(canon("1e21"), "1e+21");
    assert_eq!(canon("-1e21"), "-1e+21");
    assert_eq!(canon("9.007199254740992e15"), "9007199254740992");
    assert!(matches!(
        refused("9.007199254740994e15"),
        CanonicalError::IntegerOutOfRange { number, .. } if number == "9.007199254740994e15"
    ));
    assert_eq!(canon("1.5e-7"), "1.5e-7");
    assert_eq!(canon("123456789.5"), "123456789.5");
}

#[test]
fn trailing_data_is_refused() {
    for (text, column) in [
        ("[1] x", 5),
        ("{} {}", 4),
        ("1 2", 3),
        (r#""a""b""#, 4),
        ("null,", 5),
        ("[1]]", 4),
        ("true\0", 5),
    ] {
        assert_eq!(
            refused(text),
            CanonicalError::TrailingData { at: at(1, column) },
            "{text:?}"
        );
    }
    assert_eq!(canon(" \t\r\n [1] \n\t\r "), "[1]");
}

#[test]
fn encoding_is_strict() {
    assert_eq!(refused("\u{feff}{}"), CanonicalError::ByteOrderMark);
    assert_eq!(
        parse_strict(b"[\"ok\", \"\xff\"]").unwrap_err(),
        CanonicalError::InvalidUtf8 { offset: 8 }
    );
    // UTF-16 is not UTF-8 JSON.
    assert!(parse_strict(b"\xff\xfe[\x00]\x00").is_err());
    assert!(parse_strict(b"[\x00]").is_err());
    // A BOM later on is just an unexpected character.
    assert!(matches!(
        refused("[\u{feff}1]"),
        CanonicalError::Syntax { .. }
    ));
}

#[test]
fn malformed_json_is_refused_with_position() {
    for text in [
        "",
        " ",
        "[",
        "[1,]",
        "{\"a\":}",
        "{'a':1}",
        "01",
        "1.",
        ".5",
        "+1",
        "NaN",
        "Infinity",
        "[1 2]",
        "{\"a\" 1}",
        "\"\t\"",
        "\"\\x\"",
        "tru",
        "{\"a\":1,}",
        "\"unterminated",
        // The parser reports a number before it checks what follows it.
        "[1-2]",
        "[1.5.5]",
        "[1e5e5]",
        "[0-1]",
        "[1+1]",
        "[-0-0]",
        "[00]",
        "[1.]",
        "[-]",
        "[1e+]",
        "{\"a\":1-}",
    ] {
        match refused(text) {
            CanonicalError::Syntax {
                at: Location::Text { line, .. },
                message,
            } => {
                assert_eq!(line, 1, "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other}"),
        }
    }
    let e = refused("{\n  \"a\": [1, 2,]\n}");
    assert_eq!(
        e.to_string(),
        "invalid JSON at line 2 column 14: trailing comma"
    );
}

#[test]
fn nesting_is_bounded() {
    let arrays = |d: usize| "[".repeat(d) + &"]".repeat(d);
    let objects = |d: usize| "{\"k\":".repeat(d) + "0" + &"}".repeat(d);
    assert_eq!(canon(&arrays(MAX_NESTING_DEPTH)), arrays(MAX_NESTING_DEPTH));
    assert_eq!(
        canon(&objects(MAX_NESTING_DEPTH)),
        objects(MAX_NESTING_DEPTH)
    );
    for text in [
        arrays(MAX_NESTING_DEPTH + 1),
        objects(MAX_NESTING_DEPTH + 1),
        arrays(100_000),
        "[".repeat(1_000_000),
    ] {
        match refused(&text) {
            CanonicalError::TooDeep {
                max,
                at: Location::Text { .. },
            } => {
                assert_eq!(max, MAX_NESTING_DEPTH)
            }
            other => panic!("{other}"),
        }
    }

    // The writer enforces the same bound on values built in code.
    let mut deep = json!(0);
    for _ in 0..MAX_NESTING_DEPTH {
        deep = json!([deep]);
    }
    assert!(to_canonical_bytes(&deep).is_ok());
    let too_deep = json!({ "a": deep }); // 128 levels
    match to_canonical_bytes(&too_deep).unwrap_err() {
        CanonicalError::TooDeep {
            at: Location::Pointer(p),
            ..
        } => {
            assert!(p.starts_with("/a/0/0/0/0"), "{p}")
        }
        other => panic!("{other}"),
    }
}

// --- idempotence and API consistency -----------------------------------------

const DOCUMENTS: &[&str] = &[
    RFC_SAMPLE_INPUT,
    r#"{"b": [3, 2, {"z": null, "y": true}], "a": "x", "\u20ac": -0.5e-7}"#,
    "[]",
    "{}",
    "\"\"",
    "0",
    "[[[],{}],{\"\":{\"\":[]}}]",
    r#"{"apiVersion":"attestor.dev/v1","kind":"Attestation","spec":{"subject":[{"digest":{"sha256":"abc"}}],"size":9007199254740991}}"#,
];

#[test]
fn canonicalize_is_idempotent() {
    for doc in DOCUMENTS {
        let once = canonicalize(doc.as_bytes()).unwrap();
        let twice = canonicalize(&once).unwrap();
        assert_eq!(once, twice, "{doc}");
    }
}

#[test]
fn content_id_is_sha256_of_canonical_bytes() {
    let value = json!({ "b": 1, "a": 2 });
    let id = content_id(&value).unwrap();
    assert_eq!(id, Sha256Digest::of(b"{\"a\":2,\"b\":1}"));
    // Computed independently with `printf '{"a":2,"b":1}' | sha256sum`.
    assert_eq!(
        id.to_string(),
        "sha256:d3626ac30a87e6f7a6428233b3c68299976865fa5508e4267c5415c76af7a772"
    );
    assert!(content_id(&json!(1e20)).is_err());
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Statement {
    predicate_type: String,
    subject: Vec<Subject>,
    annotations: Option<BTreeMap<String, String>>,
    kind: Kind,
}

#[derive(Serialize)]
struct Subject {
    name: String,
    digest: HashMap<&'static str, String>,
}

#[derive(Serialize)]
enum Kind {
    Build { step: u32 },
}

#[test]
fn to_canonical_vec_serializes_then_canonicalizes() {
    let statement = Statement {
        predicate_type: "https://slsa.dev/provenance/v1".into(),
        subject: vec![Subject {
            name: "img".into(),
            digest: HashMap::from([("sha512", "bb".into()), ("sha256", "aa".into())]),
        }],
        annotations: None,
        kind: Kind::Build { step: 2 },
    };
    let out = to_canonical_vec(&statement).unwrap();
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        r#"{"annotations":null,"kind":{"Build":{"step":2}},"predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":"aa","sha512":"bb"},"name":"img"}]}"#
    );
    // Same bytes as going through serde_json::Value.
    let value = serde_json::to_value(&statement).unwrap();
    assert_eq!(to_canonical_bytes(&value).unwrap(), out);
    assert_eq!(to_canonical_vec(&value).unwrap(), out);

    // Integer map keys become decimal strings, as with serde_json.
    let keyed = BTreeMap::from([(10_u32, "ten"), (9, "nine")]);
    assert_eq!(
        to_canonical_vec(&keyed).unwrap(),
        br#"{"10":"ten","9":"nine"}"#
    );
}

#[test]
fn to_canonical_vec_refuses_what_serde_json_would_hide() {
    #[derive(Serialize)]
    struct Reading {
        values: Vec<f64>,
    }
    // serde_json::to_value writes NaN as null.
    let reading = Reading {
        values: vec![1.0, f64::NAN],
    };
    assert_eq!(
        to_canonical_vec(&reading).unwrap_err(),
        CanonicalError::NonFiniteNumber {
            at: pointer("/values/1")
        }
    );
    assert!(to_canonical_vec(&[f32::INFINITY]).is_err());

    // serde_json::to_value lets the flattened map overwrite `name`.
    #[derive(Serialize)]
    struct Labeled {
        name: &'static str,
        #[serde(flatten)]
        extra: BTreeMap<&'static str, &'static str>,
    }
    let labeled = Labeled {
        name: "a",
        extra: BTreeMap::from([("name", "b")]),
    };
    let e = to_canonical_vec(&labeled).unwrap_err();
    assert_eq!(
        e,
        CanonicalError::DuplicateKey {
            key: "name".into(),
            at: pointer("/name")
        }
    );
    assert_eq!(
        e.to_string(),
        r#"duplicate object key "name" at JSON pointer "/name""#
    );

    #[derive(Serialize)]
    struct Ledger {
        entries: Vec<u64>,
        total: u128,
    }
    assert_eq!(
        to_canonical_vec(&Ledger {
            entries: vec![1, 1 << 60],
            total: 0
        })
        .unwrap_err(),
        CanonicalError::IntegerOutOfRange {
            number: (1_u64 << 60).to_string(),
            at: pointer("/entries/1")
        }
    );
    assert_eq!(
        to_canonical_vec(&Ledger {
            entries: vec![],
            total: u128::MAX
        })
        .unwrap_err(),
        CanonicalError::IntegerOutOfRange {
            number: u128::MAX.to_string(),
            at: pointer("/total")
        }
    );
    assert_eq!(
        to_canonical_vec(&json!({ "a/b": { "~": [i64::MIN] } })).unwrap_err(),
        CanonicalError::IntegerOutOfRange {
            number: i64::MIN.to_string(),
            at: pointer("/a~1b/~0/0")
        }
    );

    let compound_keys = BTreeMap::from([(1_u8, BTreeMap::from([(vec![1_u8], 1)]))]);
    assert!(matches!(
        to_canonical_vec(&compound_keys).unwrap_err(),
        CanonicalError::Serialize { message } if message.contains("\"/1\"") && message.contains("sequence")
    ));
}

// --- properties --------------------------------------------------------------

/// Values whose canonical form exists: integers and integral doubles within
/// 2^53, any other finite double, unicode strings, nested containers.
fn json_value() -> impl Strategy<Value = Value> {
    const LIMIT: i64 = 1 << 53;
    let float = prop_oneof![
        any::<f64>(),
        -1e6..1e6_f64,
        Just(-0.0),
        (-1000_i32..1000).prop_map(f64::from),
    ]
    .prop_filter("finite and writable", |f| {
        f.is_finite() && (f.abs() <= (LIMIT as f64) || f.abs() >= 1e21)
    });
    let key = prop_oneof![
        any::<String>(),
        "[ab\u{7f}\u{e000}\u{ffff}\u{10000}\u{1f600}]{0,3}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-LIMIT..=LIMIT).prop_map(Value::from),
        (0..=LIMIT as u64).prop_map(Value::from),
        float.prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every number as a double, so that `1` and `1.0` compare equal.
fn numbers_as_doubles(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_doubles).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), numbers_as_doubles(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A tiny deterministic generator so the text writer below is reproducible
/// from the proptest-chosen seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Writes `value` as non-canonical JSON text: members in a shuffled order,
/// random whitespace, strings sometimes fully `\u`-escaped, floats in varying
/// spellings.
fn write_scrambled(value: &Value, rng: &mut Lcg, out: &mut String) {
    const WS: [&str; 5] = ["", " ", "\n", "\t", "\r\n  "];
    out.push_str(WS[rng.next(WS.len())]);
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap();
            match rng.next(3) {
                0 => out.push_str(&serde_json::to_string(&f).unwrap()),
                1 => out.push_str(&format!("{f:e}")),
                _ => out.push_str(&format!("{f:E}").replace('E', "e+").replace("e+-", "E-")),
            }
        }
        Value::String(s) => write_string(s, rng, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_scrambled(item, rng, out);
            }
            out.push_str(WS[rng.next(WS.len())]);
            out.push(']');
        }
        Value::Object(members) => {
            let mut entries: Vec<_> = members.iter().collect();
            for i in (1..entries.len()).rev() {
                entries.swap(i, rng.next(i + 1));
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(WS[rng.next(WS.len())]);
                write_string(k, rng, out);
                out.push(':');
                write_scrambled(v, rng, out);
            }
            out.push_str(WS[rng.next(WS.len())]);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
    out.push_str(WS[rng.next(WS.len())]);
}

fn write_string(s: &str, rng: &mut Lcg, out: &mut String) {
    if rng.next(2) == 0 {
        out.push_str(&serde_json::to_string(s).unwrap());
    } else {
        out.push('"');
        for unit in s.encode_utf16() {
            out.push_str(&format!("\\u{unit:04X}"));
        }
        out.push('"');
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn canonical_bytes_reparse_to_the_same_value(value in json_value(), seed in any::<u64>()) {
        let canonical = to_canonical_bytes(&value).unwrap();
        let reparsed = parse_strict(&canonical).unwrap();
        prop_assert_eq!(numbers_as_doubles(&reparsed), numbers_as_doubles(&value));
        prop_assert_eq!(canonicalize(&canonical).unwrap(), canonical.clone());
        prop_assert_eq!(to_canonical_vec(&value).unwrap(), canonical.clone());

        // Any other spelling of the same document has the same canonical form.
        let mut text = String::new();
        write_scrambled(&value, &mut Lcg(seed), &mut text);
        prop_assert_eq!(
            String::from_utf8(canonicalize(text.as_bytes()).unwrap()).unwrap(),
            String::from_utf8(canonical).unwrap(),
            "scrambled text: {}", text
        );
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_strict(&bytes);
    }

    #[test]
    fn json_like_soup_never_panics(text in r#"[\[\]{}",: \n0-9eE.+\-truefalsn\\u]{0,64}"#) {
        if let Ok(value) = parse_strict(text.as_bytes()) {
            // Whatever is accepted can be written unless it is a big integral double.
            match to_canonical_bytes(&value) {
                Ok(out) => prop_assert_eq!(canonicalize(&out).unwrap(), out),
                Err(e) => prop_assert!(matches!(e, CanonicalError::IntegerOutOfRange { .. }), "{}", e),
            }
        }
    }
}
