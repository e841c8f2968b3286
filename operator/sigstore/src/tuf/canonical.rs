//! OLPC canonical JSON, the form TUF signs (`signed` of every metadata file): no whitespace,
//! object keys sorted bytewise, strings with only `"` and `\` escaped, integers only.
//!
//! The signature is over these bytes, not over the file as served, so a mirror may
//! reformat a file without breaking it, and a field that does not survive the
//! round trip (a float, a duplicate key) cannot be signed by one reading and read by another.

use serde_json::Value;

/// `value` in canonical form, or what makes it impossible (a number that is not an integer).
pub fn canonical(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(format!(
                    "the number {n} is not an integer (canonical JSON has none)"
                ));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // serde_json's map is a BTreeMap (no preserve_order in this workspace), but sort
            // explicitly so that a feature switched on elsewhere cannot change what is signed.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms() {
        let cases: &[(Value, &str)] = &[
            (
                json!({"b": 1, "a": [true, null, "x"]}),
                r#"{"a":[true,null,"x"],"b":1}"#,
            ),
            (json!({"k": "q\"uo\\te"}), r#"{"k":"q\"uo\\te"}"#),
            // Control characters and non-ASCII are written as they are, not escaped.
            (json!("tab\there é"), "\"tab\there é\""),
            (json!(-5), "-5"),
            (json!(u64::MAX), "18446744073709551615"),
            // Keys sort by bytes: uppercase before lowercase, "a" before "aa".
            (json!({"aa": 0, "B": 0, "a": 0}), r#"{"B":0,"a":0,"aa":0}"#),
        ];
        for (value, want) in cases {
            assert_eq!(
                String::from_utf8(canonical(value).unwrap()).unwrap(),
                *want,
                "{value}"
            );
        }
    }

    #[test]
    fn floats_are_refused() {
        let e = canonical(&json!({"x": 1.5})).unwrap_err();
        assert!(e.contains("not an integer"), "{e}");
    }
}
