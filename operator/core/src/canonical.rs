//! RFC 8785 (JCS) canonical JSON, with a strict parser in front of it.
//!
//! Signed documents are hashed over their canonical bytes, so every party must
//! agree on what a document *is*. Lenient parsers are where that agreement
//! breaks: one keeps the first of two duplicate keys and another the last, one
//! reads `9007199254740993` as an integer and another as the double
//! `9007199254740992`. [`parse_strict`] therefore refuses everything on which
//! reasonable JSON parsers can disagree:
//!
//! - input that is not UTF-8, or that starts with a byte order mark;
//! - anything after the single JSON value other than whitespace;
//! - duplicate object keys (compared after unescaping, so `"a"` and `"\u0061"`
//!   are duplicates), at any depth;
//! - integer literals (no fraction, no exponent) whose magnitude is above
//!   2^53, which RFC 8785 and I-JSON (RFC 7493) cannot represent exactly;
//! - lone surrogates in `\u` escapes;
//! - nesting deeper than [`MAX_NESTING_DEPTH`] arrays/objects.
//!
//! Numbers are read from their literal text with a correctly rounded
//! decimal-to-binary conversion (`str::parse::<f64>`), not with serde_json's
//! default float parser, which is not correctly rounded and would make this
//! crate disagree with every other JCS implementation on many inputs.
//!
//! [`to_canonical_bytes`] writes RFC 8785 output: members sorted by the UTF-16
//! code units of their keys, no whitespace, the minimal JCS string escapes and
//! ECMAScript `Number.prototype.toString` numbers. Its output is always
//! accepted by [`parse_strict`]; to keep that promise it refuses numbers whose
//! canonical form would be an integer literal above 2^53 in magnitude (for
//! doubles: integral values in (2^53, 10^21), which ECMAScript prints without
//! an exponent). Such numbers belong in strings.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize};
use serde_json::{Map, Number, Value};

use crate::digest::Sha256Digest;

/// The deepest nesting of arrays and objects that [`parse_strict`] accepts and
/// [`to_canonical_bytes`] writes. `[]` has depth 1, `[[]]` depth 2.
///
/// serde_json's recursion limit refuses the 128th level, so 127 is the largest
/// depth the parser can deliver; the writer uses the same bound so that its
/// output always parses.
pub const MAX_NESTING_DEPTH: usize = 127;

/// 2^53: the largest magnitude up to which every integer is an IEEE-754 double.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Where a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In input text: 1-based line, and 1-based column counted in bytes.
    Text { line: usize, column: usize },
    /// In a value: an RFC 6901 JSON Pointer (`""` is the whole document).
    Pointer(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Text { line, column } => write!(f, "line {line} column {column}"),
            Location::Pointer(pointer) => write!(f, "JSON pointer {pointer:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("JSON input must not start with a UTF-8 byte order mark")]
    ByteOrderMark,
    #[error("JSON input is not valid UTF-8 (invalid byte sequence at byte offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("invalid JSON at {at}: {message}")]
    Syntax { message: String, at: Location },
    #[error("unexpected data after the JSON value at {at}")]
    TrailingData { at: Location },
    #[error("JSON nested deeper than {max} levels at {at}")]
    TooDeep { max: usize, at: Location },
    #[error("duplicate object key {key:?} at {at}")]
    DuplicateKey { key: String, at: Location },
    #[error(
        "integer {number} at {at} has a magnitude above 2^53 and cannot be represented \
         exactly as an IEEE-754 double (RFC 8785, I-JSON); encode it as a string"
    )]
    IntegerOutOfRange { number: String, at: Location },
    #[error("number {number} at {at} is outside the range of an IEEE-754 double")]
    NumberOutOfRange { number: String, at: Location },
    #[error("number at {at} is NaN or infinite, which JSON cannot represent")]
    NonFiniteNumber { at: Location },
    #[error("cannot serialize value as JSON: {message}")]
    Serialize { message: String },
}

/// Parses exactly one JSON value from `bytes`, refusing everything listed in
/// the [module documentation](self).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, CanonicalError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(CanonicalError::ByteOrderMark);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| CanonicalError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let ctx = ParseContext {
        text,
        cursor: Cell::new(0),
        violation: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = ValueSeed { ctx: &ctx }
        .deserialize(&mut de)
        .map_err(|e| ctx.error_for(e))?;
    de.end().map_err(|e| CanonicalError::TrailingData {
        at: text_location(&e),
    })?;
    Ok(value)
}

/// Writes `value` in RFC 8785 canonical form.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    write_value(&mut out, value, &PathNode::Root, 0)?;
    Ok(out)
}

/// [`parse_strict`] followed by [`to_canonical_bytes`].
pub fn canonicalize(bytes: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    to_canonical_bytes(&parse_strict(bytes)?)
}

/// The SHA-256 digest of the canonical bytes of `value`.
pub fn content_id(value: &Value) -> Result<Sha256Digest, CanonicalError> {
    Ok(Sha256Digest::of(&to_canonical_bytes(value)?))
}

/// The content id of an object given by its members, without building a
/// [`Value`] around them (which would mean copying them).
pub fn object_content_id(members: &Map<String, Value>) -> Result<Sha256Digest, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    write_object(&mut out, members, &PathNode::Root, 0)?;
    Ok(Sha256Digest::of(&out))
}

impl CanonicalError {
    /// The same error for text that was parsed on its own but sits at
    /// `line`/`column` (1-based) of a larger document: its text location is
    /// made relative to that document.
    pub fn shifted(self, line: usize, column: usize) -> Self {
        let shift = |at: Location| match at {
            Location::Text { line: 1, column: c } => Location::Text {
                line,
                column: column + c - 1,
            },
            Location::Text { line: l, column: c } => Location::Text {
                line: line + l - 1,
                column: c,
            },
            pointer => pointer,
        };
        match self {
            CanonicalError::Syntax { message, at } => CanonicalError::Syntax {
                message,
                at: shift(at),
            },
            CanonicalError::TrailingData { at } => CanonicalError::TrailingData { at: shift(at) },
            CanonicalError::TooDeep { max, at } => CanonicalError::TooDeep { max, at: shift(at) },
            CanonicalError::DuplicateKey { key, at } => {
                CanonicalError::DuplicateKey { key, at: shift(at) }
            }
            CanonicalError::IntegerOutOfRange { number, at } => CanonicalError::IntegerOutOfRange {
                number,
                at: shift(at),
            },
            CanonicalError::NumberOutOfRange { number, at } => CanonicalError::NumberOutOfRange {
                number,
                at: shift(at),
            },
            CanonicalError::NonFiniteNumber { at } => {
                CanonicalError::NonFiniteNumber { at: shift(at) }
            }
            other => other,
        }
    }
}

/// Serializes `value` with serde and writes the result in canonical form.
///
/// Unlike `serde_json::to_value`, this refuses NaN and infinities (serde_json
/// turns them into `null`) and duplicate keys (which serde_json silently
/// overwrites, e.g. with `#[serde(flatten)]`). Map keys may be strings,
/// chars, integers, booleans or unit enum variants.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = value
        .serialize(ValueSerializer {
            path: &PathNode::Root,
        })
        .map_err(|e| e.0)?;
    to_canonical_bytes(&value)
}

// ---------------------------------------------------------------------------
// Parsing

/// State shared by the deserialization visitors of one [`parse_strict`] call.
struct ParseContext<'t> {
    text: &'t str,
    /// Byte offset just after the last number literal handed to a visitor.
    cursor: Cell<usize>,
    /// The structured error behind a visitor's `de::Error::custom`.
    violation: RefCell<Option<Violation>>,
}

enum Violation {
    /// Positioned by serde_json, which knows where the parser stopped.
    DuplicateKey(String),
    /// Positioned by us from the literal's offset.
    Located(CanonicalError),
}

impl ParseContext<'_> {
    fn refuse<E: de::Error>(&self, violation: Violation) -> E {
        let message = match &violation {
            Violation::DuplicateKey(key) => format!("duplicate object key {key:?}"),
            Violation::Located(error) => error.to_string(),
        };
        *self.violation.borrow_mut() = Some(violation);
        E::custom(message)
    }

    fn error_for(&self, error: serde_json::Error) -> CanonicalError {
        match self.violation.borrow_mut().take() {
            Some(Violation::DuplicateKey(key)) => CanonicalError::DuplicateKey {
                key,
                at: text_location(&error),
            },
            Some(Violation::Located(error)) => error,
            None => from_serde_json_error(&error),
        }
    }

    /// The next number literal after the cursor.
    ///
    /// serde_json hands numbers to the visitor in document order after it has
    /// checked the text up to and including them, so scanning that valid
    /// prefix for the next number token outside a string finds exactly the
    /// literal serde_json just read. (Outside strings, JSON has no other token
    /// that contains `-` or a digit.)
    fn next_number_literal(&self) -> Option<(usize, &str)> {
        let bytes = self.text.as_bytes();
        let mut i = self.cursor.get();
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    let end = number_literal_end(bytes, i);
                    self.cursor.set(end);
                    return Some((start, &self.text[start..end]));
                }
                _ => i += 1,
            }
        }
        self.cursor.set(bytes.len());
        None
    }

    /// Builds the number value from its literal, ignoring serde_json's value.
    fn number<E: de::Error>(&self) -> Result<Value, E> {
        let Some((offset, literal)) = self.next_number_literal() else {
            // Unreachable for a correct scanner; fail closed rather than panic.
            return Err(E::custom("internal error: number literal not found"));
        };
        let at = || offset_location(self.text, offset);
        let is_integer = !literal.contains(['.', 'e', 'E']);
        if is_integer {
            let digits = literal.trim_start_matches('-');
            let magnitude = match digits.parse::<u64>() {
                // JSON has no leading zeros, so 17+ digits are always above 2^53.
                Ok(m) if digits.len() <= 16 && m <= MAX_EXACT_INTEGER => m,
                _ => {
                    return Err(self.refuse(Violation::Located(
                        CanonicalError::IntegerOutOfRange {
                            number: literal.to_string(),
                            at: at(),
                        },
                    )));
                }
            };
            let negative = literal.starts_with('-');
            return Ok(match (negative, magnitude) {
                // `-0` is a double (serde_json reads it the same way).
                (true, 0) => Value::from(-0.0_f64),
                // magnitude <= 2^53, so the negation cannot overflow.
                (true, m) => Value::from(-(m as i64)),
                (false, m) => Value::from(m),
            });
        }
        match literal.parse::<f64>() {
            // `1e20` is a whole number whose canonical form is a 21-digit
            // integer literal: refuse it here as an integer above 2^53, so a
            // document is refused the same way however the number is spelled.
            Ok(f)
                if f.is_finite()
                    && f.fract() == 0.0
                    && f.abs() > MAX_EXACT_INTEGER as f64
                    && f.abs() < 1e21 =>
            {
                Err(
                    self.refuse(Violation::Located(CanonicalError::IntegerOutOfRange {
                        number: literal.to_string(),
                        at: at(),
                    })),
                )
            }
            Ok(f) if f.is_finite() => Ok(Value::from(f)),
            _ => Err(
                self.refuse(Violation::Located(CanonicalError::NumberOutOfRange {
                    number: literal.to_string(),
                    at: at(),
                })),
            ),
        }
    }
}

/// The end of the number literal starting at `start`, following the RFC 8259
/// grammar `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
///
/// serde_json hands a number to the visitor before it looks at what follows,
/// so in `[1-2]` the visitor sees `1` and only then does the parser fail on
/// `-2`; taking the longest run of number characters here would misreport
/// that as a bad number instead of letting the syntax error through.
fn number_literal_end(bytes: &[u8], start: usize) -> usize {
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    if bytes.get(i) == Some(&b'0') {
        i += 1;
    } else {
        while digit_at(i) {
            i += 1;
        }
    }
    if bytes.get(i) == Some(&b'.') && digit_at(i + 1) {
        i += 1;
        while digit_at(i) {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digit_at(j) {
            i = j;
            while digit_at(i) {
                i += 1;
            }
        }
    }
    i
}

fn offset_location(text: &str, offset: usize) -> Location {
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    Location::Text {
        line,
        column: offset - line_start + 1,
    }
}

fn text_location(error: &serde_json::Error) -> Location {
    Location::Text {
        line: error.line(),
        column: error.column(),
    }
}

fn from_serde_json_error(error: &serde_json::Error) -> CanonicalError {
    let at = text_location(error);
    let full = error.to_string();
    let message = full
        .strip_suffix(&format!(" at {at}"))
        .unwrap_or(&full)
        .to_string();
    if message == "recursion limit exceeded" {
        CanonicalError::TooDeep {
            max: MAX_NESTING_DEPTH,
            at,
        }
    } else {
        CanonicalError::Syntax { message, at }
    }
}

#[derive(Clone, Copy)]
struct ValueSeed<'c, 't> {
    ctx: &'c ParseContext<'t>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        self.ctx.number()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        self.ctx.number()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        self.ctx.number()
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(self.ctx.refuse(Violation::DuplicateKey(key)));
            }
            let value = map.next_value_seed(self)?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

// ---------------------------------------------------------------------------
// Writing

/// A JSON Pointer built on the stack, only rendered when an error needs it.
enum PathNode<'a> {
    Root,
    Key(&'a PathNode<'a>, &'a str),
    Index(&'a PathNode<'a>, usize),
}

impl PathNode<'_> {
    fn pointer(&self) -> String {
        let mut segments = Vec::new();
        let mut node = self;
        loop {
            match node {
                PathNode::Root => break,
                PathNode::Key(parent, key) => {
                    segments.push(key.replace('~', "~0").replace('/', "~1"));
                    node = parent;
                }
                PathNode::Index(parent, index) => {
                    segments.push(index.to_string());
                    node = parent;
                }
            }
        }
        segments.iter().rev().fold(String::new(), |mut out, s| {
            out.push('/');
            out.push_str(s);
            out
        })
    }

    fn location(&self) -> Location {
        Location::Pointer(self.pointer())
    }
}

fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    path: &PathNode<'_>,
    depth: usize,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(canonical_number(n, path)?.as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            check_depth(depth, path)?;
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, item, &PathNode::Index(path, index), depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(members) => write_object(out, members, path, depth)?,
    }
    Ok(())
}

fn write_object(
    out: &mut Vec<u8>,
    members: &Map<String, Value>,
    path: &PathNode<'_>,
    depth: usize,
) -> Result<(), CanonicalError> {
    check_depth(depth, path)?;
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    // RFC 8785 3.2.3: compare keys as arrays of UTF-16 code units. This
    // differs from UTF-8/code point order for U+E000..U+FFFF against
    // supplementary characters, whose surrogates sort lower.
    sorted.sort_unstable_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    out.push(b'{');
    for (index, (key, member)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, member, &PathNode::Key(path, key), depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

/// `depth` is the number of containers around the one being opened.
fn check_depth(depth: usize, path: &PathNode<'_>) -> Result<(), CanonicalError> {
    if depth >= MAX_NESTING_DEPTH {
        return Err(CanonicalError::TooDeep {
            max: MAX_NESTING_DEPTH,
            at: path.location(),
        });
    }
    Ok(())
}

/// RFC 8785 3.2.2.2: `"` and `\` escaped, U+0008/9/A/C/D as `\b \t \n \f \r`,
/// other controls as `\u00xx` in lowercase hex; everything else literal.
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // Bytes of multi-byte UTF-8 sequences are all >= 0x80: never escaped.
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        run_start = i + 1;
        if short.is_empty() {
            let unicode = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ];
            out.extend_from_slice(&unicode);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

fn canonical_number(n: &Number, path: &PathNode<'_>) -> Result<String, CanonicalError> {
    let out_of_range = |number: String| CanonicalError::IntegerOutOfRange {
        number,
        at: path.location(),
    };
    let f = if let Some(u) = n.as_u64() {
        if u > MAX_EXACT_INTEGER {
            return Err(out_of_range(u.to_string()));
        }
        u as f64 // exact: u <= 2^53
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_EXACT_INTEGER {
            return Err(out_of_range(i.to_string()));
        }
        i as f64 // exact: |i| <= 2^53
    } else {
        n.as_f64().unwrap_or(f64::NAN)
    };
    let Some(text) = ecmascript_number(f) else {
        return Err(CanonicalError::NonFiniteNumber {
            at: path.location(),
        });
    };
    // Doubles above 2^53 are all integers; below 10^21 ECMAScript prints them
    // as plain integer literals, which parse_strict refuses.
    if f.abs() > MAX_EXACT_INTEGER as f64 && f.abs() < 1e21 {
        return Err(out_of_range(text));
    }
    Ok(text)
}

/// ECMAScript `Number.prototype.toString` (RFC 8785 3.2.2.3); `None` for NaN
/// and infinities. Negative zero is written `0`.
fn ecmascript_number(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some("0".to_string());
    }
    Some(ryu_js::Buffer::new().format_finite(f).to_string())
}

// ---------------------------------------------------------------------------
// Serializing Rust values into a `Value`, strictly

/// Wraps [`CanonicalError`] to satisfy `serde::ser::Error`.
#[derive(Debug)]
struct SerError(CanonicalError);

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError(CanonicalError::Serialize {
            message: msg.to_string(),
        })
    }
}

fn serialize_error(message: String) -> SerError {
    SerError(CanonicalError::Serialize { message })
}

#[derive(Clone, Copy)]
struct ValueSerializer<'p> {
    path: &'p PathNode<'p>,
}

impl ValueSerializer<'_> {
    fn float(self, f: f64) -> Result<Value, SerError> {
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or(SerError(CanonicalError::NonFiniteNumber {
                at: self.path.location(),
            }))
    }

    fn wide_integer(self, text: String) -> SerError {
        SerError(CanonicalError::IntegerOutOfRange {
            number: text,
            at: self.path.location(),
        })
    }
}

/// `{variant: value}`, the externally tagged enum form serde_json uses.
fn tagged(variant: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(variant.to_string(), value);
    Value::Object(map)
}

impl<'p> ser::Serializer for ValueSerializer<'p> {
    type Ok = Value;
    type Error = SerError;
    type SerializeSeq = SeqBuilder<'p>;
    type SerializeTuple = SeqBuilder<'p>;
    type SerializeTupleStruct = SeqBuilder<'p>;
    type SerializeTupleVariant = SeqBuilder<'p>;
    type SerializeMap = MapBuilder<'p>;
    type SerializeStruct = MapBuilder<'p>;
    type SerializeStructVariant = MapBuilder<'p>;

    fn serialize_bool(self, v: bool) -> Result<Value, SerError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerError> {
        if let Ok(v) = i64::try_from(v) {
            Ok(Value::from(v))
        } else if let Ok(v) = u64::try_from(v) {
            Ok(Value::from(v))
        } else {
            Err(self.wide_integer(v.to_string()))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerError> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| self.wide_integer(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerError> {
        self.float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerError> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<Value, SerError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerError> {
        Ok(Value::Array(v.iter().map(|&b| Value::from(b)).collect()))
    }
    fn serialize_none(self) -> Result<Value, SerError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, SerError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerError> {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        let inner = value.serialize(ValueSerializer {
            path: &PathNode::Key(self.path, variant),
        })?;
        Ok(tagged(variant, inner))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder<'p>, SerError> {
        Ok(SeqBuilder {
            path: self.path,
            variant: None,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder<'p>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder<'p>, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder<'p>, SerError> {
        Ok(SeqBuilder {
            path: self.path,
            variant: Some(variant),
            items: Vec::with_capacity(len),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder<'p>, SerError> {
        Ok(MapBuilder {
            path: self.path,
            variant: None,
            members: Map::new(),
            pending_key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapBuilder<'p>, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapBuilder<'p>, SerError> {
        Ok(MapBuilder {
            path: self.path,
            variant: Some(variant),
            members: Map::new(),
            pending_key: None,
        })
    }
}

struct SeqBuilder<'p> {
    path: &'p PathNode<'p>,
    /// For tuple variants, the tag the array is wrapped in.
    variant: Option<&'static str>,
    items: Vec<Value>,
}

impl SeqBuilder<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let tag_node;
        let parent = match self.variant {
            Some(variant) => {
                tag_node = PathNode::Key(self.path, variant);
                &tag_node
            }
            None => self.path,
        };
        let item = value.serialize(ValueSerializer {
            path: &PathNode::Index(parent, self.items.len()),
        })?;
        self.items.push(item);
        Ok(())
    }

    fn finish(self) -> Value {
        let array = Value::Array(self.items);
        match self.variant {
            Some(variant) => tagged(variant, array),
            None => array,
        }
    }
}

impl ser::SerializeSeq for SeqBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for SeqBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

struct MapBuilder<'p> {
    path: &'p PathNode<'p>,
    /// For struct variants, the tag the object is wrapped in.
    variant: Option<&'static str>,
    members: Map<String, Value>,
    pending_key: Option<String>,
}

impl MapBuilder<'_> {
    fn insert<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), SerError> {
        let tag_node;
        let parent = match self.variant {
            Some(variant) => {
                tag_node = PathNode::Key(self.path, variant);
                &tag_node
            }
            None => self.path,
        };
        let member_path = PathNode::Key(parent, &key);
        if self.members.contains_key(&key) {
            return Err(SerError(CanonicalError::DuplicateKey {
                at: member_path.location(),
                key,
            }));
        }
        let member = value.serialize(ValueSerializer { path: &member_path })?;
        self.members.insert(key, member);
        Ok(())
    }

    fn finish(self) -> Value {
        let object = Value::Object(self.members);
        match self.variant {
            Some(variant) => tagged(variant, object),
            None => object,
        }
    }
}

impl ser::SerializeMap for MapBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.pending_key = Some(key.serialize(KeySerializer { path: self.path })?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| serialize_error("map value serialized before its key".to_string()))?;
        self.insert(key, value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.insert(key.to_string(), value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapBuilder<'_> {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.insert(key.to_string(), value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

/// Turns a map key into the member name: strings and chars as they are,
/// integers and booleans in decimal/`true`/`false` (as serde_json does), unit
/// variants by name. Floats and compound keys are refused.
struct KeySerializer<'p> {
    path: &'p PathNode<'p>,
}

impl KeySerializer<'_> {
    fn refuse(&self, kind: &str) -> SerError {
        serialize_error(format!(
            "map key at JSON pointer {:?} is {kind}; only strings, chars, integers, \
             booleans and unit enum variants can be object keys",
            self.path.pointer()
        ))
    }
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = String;
    type Error = SerError;
    type SerializeSeq = ser::Impossible<String, SerError>;
    type SerializeTuple = ser::Impossible<String, SerError>;
    type SerializeTupleStruct = ser::Impossible<String, SerError>;
    type SerializeTupleVariant = ser::Impossible<String, SerError>;
    type SerializeMap = ser::Impossible<String, SerError>;
    type SerializeStruct = ser::Impossible<String, SerError>;
    type SerializeStructVariant = ser::Impossible<String, SerError>;

    fn serialize_bool(self, v: bool) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, SerError> {
        Err(self.refuse("a float"))
    }
    fn serialize_f64(self, _v: f64) -> Result<String, SerError> {
        Err(self.refuse("a float"))
    }
    fn serialize_char(self, v: char) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, SerError> {
        Err(self.refuse("a byte string"))
    }
    fn serialize_none(self) -> Result<String, SerError> {
        Err(self.refuse("None"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, SerError> {
        Err(self.refuse("a unit value"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, SerError> {
        Err(self.refuse("a unit struct"))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, SerError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, SerError> {
        Err(self.refuse("an enum variant with data"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(self.refuse("a sequence"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(self.refuse("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(self.refuse("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(self.refuse("an enum variant with data"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(self.refuse("a map"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(self.refuse("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(self.refuse("an enum variant with data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_and_non_finite_numbers() {
        assert_eq!(ecmascript_number(-0.0).as_deref(), Some("0"));
        assert_eq!(ecmascript_number(f64::NAN), None);
        assert_eq!(ecmascript_number(f64::INFINITY), None);
        assert_eq!(ecmascript_number(f64::NEG_INFINITY), None);
    }

    #[test]
    fn number_scanner_skips_strings_with_escapes() {
        let text = r#"{"a\"1-2": "x\\", "3": -4.5e+6}"#;
        let ctx = ParseContext {
            text,
            cursor: Cell::new(0),
            violation: RefCell::new(None),
        };
        assert_eq!(ctx.next_number_literal().map(|(_, l)| l), Some("-4.5e+6"));
        assert_eq!(ctx.next_number_literal(), None);
    }

    #[test]
    fn number_literal_follows_the_json_grammar() {
        for (text, literal) in [
            ("0,", "0"),
            ("-12.5e+3]", "-12.5e+3"),
            ("1-2", "1"),
            ("1.5.5", "1.5"),
            ("1e5e5", "1e5"),
            ("00", "0"),
            ("1.", "1"),
            ("1e", "1"),
            ("-", "-"),
            ("2E-7}", "2E-7"),
        ] {
            assert_eq!(&text[..number_literal_end(text.as_bytes(), 0)], literal);
        }
    }

    #[test]
    fn pointer_escapes_tilde_and_slash() {
        let a = PathNode::Key(&PathNode::Root, "a/b~c");
        let b = PathNode::Index(&a, 3);
        assert_eq!(b.pointer(), "/a~1b~0c/3");
        assert_eq!(PathNode::Root.pointer(), "");
    }
}
