//! Reads `score_proof.json` one node at a time.
//!
//! The ledger is the one entry of a bundle that is large by design, and it
//! is read before anything about it can be trusted (its only binding to a
//! signature is the Merkle root over its node ids, known once all of it has
//! been read). Parsing it into one [`Value`] tree costs up to twenty times
//! its size in memory (`[{},{},…]`: 3 bytes of text, 32 bytes of `Value`
//! each, and a vector that doubles), so it is never held whole, neither as
//! text nor as a tree.
//!
//! A small scanner walks the top-level object and the `nodes` array from a
//! byte stream (the inflating ZIP reader) and cuts out the text of each node
//! and of each other member, which [`canonical::parse_strict`] then parses
//! with all its rules. The scanner only has to find where a value ends in
//! valid JSON; anything it lets through that is not valid JSON fails in
//! `parse_strict`, and every byte outside the cut-out values is checked
//! here (only JSON whitespace and the structural characters are accepted).
//! Memory is bounded by [`MAX_NODE_BYTES`] and [`MAX_MEMBER_BYTES`] however
//! long the ledger is.

use std::collections::HashSet;
use std::io::Read;

use serde_json::Value;

use crate::bundle::{BundleError, MAX_NODES, MAX_PARENTS, ProofNode, SCORE_PROOF};
use crate::canonical::{self, CanonicalError};
use crate::digest::Sha256Digest;
use crate::zip::ZipError;

/// The most text one ledger node may take: an aggregate node with the
/// full [`MAX_PARENTS`] parents, pretty-printed, is about 80 KiB.
pub const MAX_NODE_BYTES: usize = 256 * 1024;
/// The most text any other member of `score_proof.json` may take.
pub const MAX_MEMBER_BYTES: usize = 64 * 1024;
/// Members of the top-level object (four are defined).
pub const MAX_MEMBERS: usize = 64;

/// The members of `score_proof.json` other than the nodes.
pub(crate) struct Header {
    pub manifest_id: Sha256Digest,
    pub root_hash: Sha256Digest,
    pub node_count: u64,
}

const E: &str = SCORE_PROOF;

fn schema(detail: String) -> BundleError {
    BundleError::Schema { entry: E, detail }
}

fn json(detail: String) -> BundleError {
    BundleError::Json { entry: E, detail }
}

/// A byte stream with one byte of lookahead and a text position.
struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
    line: usize,
    column: usize,
}

impl<R: Read> Source<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            column: 1,
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, BundleError> {
        while self.pos == self.end && !self.eof {
            match self.inner.read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.pos = 0;
                    self.end = n.min(self.buf.len());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(match ZipError::from_io(&e) {
                        Some(zip) => BundleError::Zip(zip.clone()),
                        None => json(format!("cannot be read: {e}")),
                    });
                }
            }
        }
        Ok(self
            .buf
            .get(self.pos)
            .copied()
            .filter(|_| self.pos < self.end))
    }

    /// The next byte; end of input is a syntax error naming `expected`.
    fn next(&mut self, expected: &str) -> Result<u8, BundleError> {
        let Some(b) = self.peek()? else {
            return Err(self.syntax(&format!("EOF while parsing {expected}")));
        };
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Ok(b)
    }

    fn skip_whitespace(&mut self) -> Result<(), BundleError> {
        while self.peek()?.is_some() {
            let chunk = &self.buf[self.pos..self.end];
            let n = chunk
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(chunk.len());
            self.consume(n);
            if self.pos < self.end {
                break;
            }
        }
        Ok(())
    }

    /// Moves past the next `n` buffered bytes, keeping the text position.
    fn consume(&mut self, n: usize) {
        let bytes = &self.buf[self.pos..self.pos + n];
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += bytes.iter().filter(|&&b| b == b'\n').count();
                self.column = n - last;
            }
            None => self.column += n,
        }
        self.pos += n;
    }

    fn syntax(&self, message: &str) -> BundleError {
        json(
            CanonicalError::Syntax {
                message: message.to_string(),
                at: canonical::Location::Text {
                    line: self.line,
                    column: self.column,
                },
            }
            .to_string(),
        )
    }

    fn expect(&mut self, byte: u8, expected: &str) -> Result<(), BundleError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.next(expected)?;
                Ok(())
            }
            _ => Err(self.syntax(&format!("expected {expected}"))),
        }
    }

    /// Appends the text of the value that starts here to `out`, refusing
    /// more than `max` bytes (`what` names the value in that error).
    fn capture(&mut self, out: &mut Vec<u8>, max: usize, what: &str) -> Result<(), BundleError> {
        let too_large = || schema(format!("{what} is longer than {max} bytes"));
        let push = |out: &mut Vec<u8>, b: u8| {
            if out.len() >= max {
                return Err(too_large());
            }
            out.push(b);
            Ok(())
        };
        match self.peek()? {
            None => Err(self.syntax("EOF while parsing a value")),
            Some(first @ (b'{' | b'[' | b'"')) => {
                // Nesting is counted, not recursed into, so depth costs no
                // stack; parse_strict refuses what is too deep. The bytes are
                // scanned a buffer at a time: this loop is where a large
                // ledger spends its time.
                let mut depth: usize = 0;
                let mut in_string = false;
                let mut escaped = false;
                let mut started = false;
                loop {
                    if self.peek()?.is_none() {
                        return Err(self.syntax("EOF while parsing a value"));
                    }
                    let chunk = &self.buf[self.pos..self.end];
                    let mut i = 0;
                    if !started {
                        // The opening quote of a string value.
                        started = true;
                        if first == b'"' {
                            in_string = true;
                            i = 1;
                        }
                    }
                    let mut done = false;
                    while i < chunk.len() {
                        let b = chunk[i];
                        i += 1;
                        if in_string {
                            if escaped {
                                escaped = false;
                            } else if b == b'\\' {
                                escaped = true;
                            } else if b == b'"' {
                                in_string = false;
                                if depth == 0 {
                                    done = true;
                                    break;
                                }
                            }
                            continue;
                        }
                        match b {
                            b'"' => in_string = true,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    done = true;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    if out.len() + i > max {
                        return Err(too_large());
                    }
                    out.extend_from_slice(&chunk[..i]);
                    self.consume(i);
                    if done {
                        return Ok(());
                    }
                }
            }
            Some(_) => {
                let start = out.len();
                while let Some(b) = self.peek()? {
                    if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b':') {
                        break;
                    }
                    let b = self.next("a value")?;
                    push(out, b)?;
                }
                if out.len() == start {
                    return Err(self.syntax("expected value"));
                }
                Ok(())
            }
        }
    }
}

/// Parses text cut out at `line`/`column` of the document.
fn parse_at(text: &[u8], line: usize, column: usize, what: &str) -> Result<Value, BundleError> {
    canonical::parse_strict(text).map_err(|e| json(format!("{what}: {}", e.shifted(line, column))))
}

/// Reads `score_proof.json` from `input`, handing each node to `on_node` in
/// ledger order as soon as it is read, and returns the other members.
/// The input is read to its end, so a ZIP entry's size and CRC-32 are
/// checked before this returns `Ok`.
pub(crate) fn read_score_proof<R: Read>(
    input: R,
    mut on_node: impl FnMut(usize, ProofNode) -> Result<(), BundleError>,
) -> Result<Header, BundleError> {
    let mut src = Source::new(input);
    if src.peek()? == Some(0xEF) {
        return Err(json(CanonicalError::ByteOrderMark.to_string()));
    }
    src.skip_whitespace()?;
    if src.peek()? != Some(b'{') {
        return Err(schema("must be a JSON object".into()));
    }
    src.next("an object")?;
    src.skip_whitespace()?;

    let mut keys: HashSet<String> = HashSet::new();
    let mut text = Vec::new();
    let (mut schema_value, mut manifest_id, mut root_hash) = (None, None, None);
    let mut node_count: Option<u64> = None;
    if src.peek()? == Some(b'}') {
        src.next("an object")?;
    } else {
        loop {
            if src.peek()? != Some(b'"') {
                return Err(src.syntax("key must be a string"));
            }
            let (line, column) = (src.line, src.column);
            text.clear();
            src.capture(&mut text, MAX_MEMBER_BYTES, "a member name")?;
            let key = match parse_at(&text, line, column, "member name")? {
                Value::String(key) => key,
                _ => return Err(src.syntax("key must be a string")),
            };
            if keys.contains(&key) {
                return Err(json(
                    CanonicalError::DuplicateKey {
                        key,
                        at: canonical::Location::Text { line, column },
                    }
                    .to_string(),
                ));
            }
            if keys.len() >= MAX_MEMBERS {
                return Err(schema(format!(
                    "has more than {MAX_MEMBERS} top-level members"
                )));
            }
            keys.insert(key.clone());
            src.skip_whitespace()?;
            src.expect(b':', "`:`")?;
            src.skip_whitespace()?;
            if key == "nodes" {
                node_count = Some(read_nodes(&mut src, &mut on_node)?);
            } else {
                let (line, column) = (src.line, src.column);
                text.clear();
                src.capture(&mut text, MAX_MEMBER_BYTES, &format!("member {key:?}"))?;
                let value = parse_at(&text, line, column, &format!("member {key:?}"))?;
                match key.as_str() {
                    "schema" => schema_value = Some(value),
                    "manifestId" => manifest_id = Some(value),
                    "rootHash" => root_hash = Some(value),
                    // Other members are read (so they must be valid JSON) and ignored.
                    _ => {}
                }
            }
            src.skip_whitespace()?;
            match src.next("an object")? {
                b',' => src.skip_whitespace()?,
                b'}' => break,
                _ => return Err(src.syntax("expected `,` or `}`")),
            }
        }
    }
    src.skip_whitespace()?;
    if src.peek()?.is_some() {
        return Err(json(
            CanonicalError::TrailingData {
                at: canonical::Location::Text {
                    line: src.line,
                    column: src.column,
                },
            }
            .to_string(),
        ));
    }

    let expected = crate::bundle::SCORE_PROOF_SCHEMA;
    match schema_value.as_ref().and_then(Value::as_str) {
        Some(s) if s == expected => {}
        Some(other) => {
            return Err(schema(format!(
                "schema is {other:?}, this verifier reads {expected:?}"
            )));
        }
        None => return Err(schema(format!("missing \"schema\": {expected:?}"))),
    }
    let digest = |name: &str, value: Option<Value>| -> Result<Sha256Digest, BundleError> {
        value
            .as_ref()
            .and_then(Value::as_str)
            .ok_or_else(|| schema(format!("missing string field {name:?}")))?
            .parse()
            .map_err(|e| schema(format!("{name}: {e}")))
    };
    let manifest_id = digest("manifestId", manifest_id)?;
    let root_hash = digest("rootHash", root_hash)?;
    let node_count = node_count.ok_or_else(|| schema("missing array field \"nodes\"".into()))?;
    Ok(Header {
        manifest_id,
        root_hash,
        node_count,
    })
}

fn read_nodes<R: Read>(
    src: &mut Source<R>,
    on_node: &mut impl FnMut(usize, ProofNode) -> Result<(), BundleError>,
) -> Result<u64, BundleError> {
    if src.peek()? != Some(b'[') {
        return Err(schema("missing array field \"nodes\"".into()));
    }
    src.next("an array")?;
    src.skip_whitespace()?;
    if src.peek()? == Some(b']') {
        src.next("an array")?;
        return Ok(0);
    }
    let mut text = Vec::new();
    let mut index = 0;
    loop {
        if index >= MAX_NODES {
            return Err(schema(format!(
                "ledger has more than the {MAX_NODES} nodes accepted"
            )));
        }
        let what = format!("nodes[{index}]");
        if src.peek()? != Some(b'{') {
            // Cut out and parse it anyway, so invalid JSON is reported as such.
            let (line, column) = (src.line, src.column);
            text.clear();
            src.capture(&mut text, MAX_NODE_BYTES, &what)?;
            parse_at(&text, line, column, &what)?;
            return Err(schema(format!("{what}: must be an object")));
        }
        let (line, column) = (src.line, src.column);
        text.clear();
        src.capture(&mut text, MAX_NODE_BYTES, &what)?;
        let Value::Object(body) = parse_at(&text, line, column, &what)? else {
            return Err(schema(format!("{what}: must be an object")));
        };
        on_node(index, proof_node(index, body)?)?;
        index += 1;
        src.skip_whitespace()?;
        match src.next("an array")? {
            b',' => src.skip_whitespace()?,
            b']' => return Ok(index as u64),
            _ => return Err(src.syntax("expected `,` or `]`")),
        }
    }
}

/// The typed node, taking the members apart without copying them.
fn proof_node(
    index: usize,
    mut body: serde_json::Map<String, Value>,
) -> Result<ProofNode, BundleError> {
    let node_err = |detail: String| schema(format!("nodes[{index}]: {detail}"));
    let id: Sha256Digest = match body.remove("id") {
        Some(Value::String(s)) => s.parse().map_err(|e| node_err(format!("id: {e}")))?,
        _ => return Err(node_err("missing string field \"id\"".into())),
    };
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| node_err("missing string field \"kind\"".into()))?
        .to_string();
    let parents_raw = body
        .get("parents")
        .and_then(Value::as_array)
        .ok_or_else(|| node_err("missing array field \"parents\"".into()))?;
    if parents_raw.len() > MAX_PARENTS {
        return Err(node_err(format!(
            "{} parents, more than {MAX_PARENTS}",
            parents_raw.len()
        )));
    }
    let parents = parents_raw
        .iter()
        .map(|p| {
            p.as_str()
                .ok_or_else(|| node_err("parents must be strings".into()))?
                .parse()
                .map_err(|e| node_err(format!("parent: {e}")))
        })
        .collect::<Result<Vec<Sha256Digest>, _>>()?;
    Ok(ProofNode {
        id,
        kind,
        parents,
        body,
    })
}
