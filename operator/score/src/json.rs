//! Typed access to strictly parsed JSON, with JSON pointers for errors.
//!
//! Paths are kept as a chain of borrowed segments and only rendered as an
//! RFC 6901 pointer when an error is reported: a feed snapshot has hundreds of
//! thousands of values and nearly all of them are fine.

use attestor_core::canonical::{self, CanonicalError};
use attestor_core::digest::Sha256Digest;
use serde_json::{Map, Value};

use crate::error::{InputError, InputKind, Reason};

/// Where a value sits in its document.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn member(&'a self, name: &'a str) -> Path<'a> {
        Path::Member(self, name)
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    pub fn pointer(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Member(parent, name) => {
                parent.write(out);
                out.push('/');
                out.push_str(&name.replace('~', "~0").replace('/', "~1"));
            }
            Path::Index(parent, index) => {
                parent.write(out);
                out.push('/');
                out.push_str(&index.to_string());
            }
        }
    }
}

/// Reads one input document, attributing every error to its kind.
#[derive(Clone, Copy)]
pub(crate) struct Reader {
    pub kind: InputKind,
}

pub(crate) type Result<T> = std::result::Result<T, InputError>;

impl Reader {
    /// Parses `bytes` strictly and computes the document's content id (the
    /// hash of its normal form, see [`crate::normalize`]).
    pub fn parse(&self, bytes: &[u8]) -> Result<(Value, Sha256Digest)> {
        let value = canonical::parse_strict(bytes).map_err(|e| self.json(e))?;
        let digest = self.content_id(&value)?;
        Ok((value, digest))
    }

    pub fn content_id(&self, value: &Value) -> Result<Sha256Digest> {
        crate::normalize::content_id(self.kind, value).map_err(|e| self.json(e))
    }

    fn json(&self, source: CanonicalError) -> InputError {
        InputError::Json {
            kind: self.kind,
            source,
        }
    }

    pub fn fail(&self, at: &Path, reason: Reason) -> InputError {
        InputError::Invalid {
            kind: self.kind,
            pointer: at.pointer(),
            reason,
        }
    }

    fn wrong_type(&self, at: &Path, expected: &'static str, found: &Value) -> InputError {
        self.fail(
            at,
            Reason::WrongType {
                expected,
                found: type_name(found),
            },
        )
    }

    pub fn object<'v>(&self, value: &'v Value, at: &Path) -> Result<&'v Map<String, Value>> {
        value
            .as_object()
            .ok_or_else(|| self.wrong_type(at, "an object", value))
    }

    pub fn array<'v>(&self, value: &'v Value, at: &Path) -> Result<&'v [Value]> {
        match value {
            Value::Array(items) => Ok(items),
            other => Err(self.wrong_type(at, "an array", other)),
        }
    }

    /// A non-empty string.
    pub fn string<'v>(&self, value: &'v Value, at: &Path) -> Result<&'v str> {
        match value {
            Value::String(s) if s.is_empty() => Err(self.fail(at, Reason::Empty)),
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(at, "a string", other)),
        }
    }

    pub fn required<'v>(
        &self,
        object: &'v Map<String, Value>,
        member: &'static str,
        at: &Path,
    ) -> Result<&'v Value> {
        object
            .get(member)
            .ok_or_else(|| self.fail(at, Reason::Missing { member }))
    }

    /// An optional array of non-empty strings, e.g. `aliases` or `versions`.
    pub fn strings<'v>(
        &self,
        object: &'v Map<String, Value>,
        member: &'static str,
        at: &Path,
    ) -> Result<Vec<&'v str>> {
        let Some(value) = object.get(member) else {
            return Ok(Vec::new());
        };
        let at = at.member(member);
        self.array(value, &at)?
            .iter()
            .enumerate()
            .map(|(i, item)| self.string(item, &at.index(i)))
            .collect()
    }

    /// An optional array of objects, each with the non-empty string `field`, e.g. CSAF's
    /// `ids[].text` or CycloneDX's `references[].id`: the strings in order.
    pub fn field_strings<'v>(
        &self,
        object: &'v Map<String, Value>,
        member: &'static str,
        field: &'static str,
        at: &Path,
    ) -> Result<Vec<&'v str>> {
        let Some(value) = object.get(member) else {
            return Ok(Vec::new());
        };
        let at = at.member(member);
        self.array(value, &at)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = at.index(i);
                let item = self.object(item, &at)?;
                self.string(self.required(item, field, &at)?, &at.member(field))
            })
            .collect()
    }

    /// Refuses members outside `allowed` (`allowed_text` lists them for the message).
    pub fn only_members(
        &self,
        object: &Map<String, Value>,
        allowed: &[&str],
        allowed_text: &'static str,
        at: &Path,
    ) -> Result<()> {
        match object.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(member) => Err(self.fail(
                at,
                Reason::UnknownMember {
                    member: member.clone(),
                    allowed: allowed_text,
                },
            )),
            None => Ok(()),
        }
    }

    /// The decimal text of a number as RFC 8785 writes it, or the text of a string.
    ///
    /// Numbers are read from their canonical form because inputs are addressed by
    /// their canonical bytes: `7.20` and `7.2` are the same document and must score
    /// the same.
    pub fn decimal_text(
        &self,
        value: &Value,
        at: &Path,
        allow_string: bool,
    ) -> Result<(String, bool)> {
        match value {
            Value::Number(_) => {
                let bytes = canonical::to_canonical_bytes(value).map_err(|e| self.json(e))?;
                Ok((String::from_utf8_lossy(&bytes).into_owned(), false))
            }
            Value::String(s) if allow_string => Ok((s.clone(), true)),
            other => Err(self.wrong_type(
                at,
                if allow_string {
                    "a number or a string"
                } else {
                    "a number"
                },
                other,
            )),
        }
    }
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_tilde_and_slash() {
        let root = Path::Root;
        let a = root.member("a/b");
        let b = a.index(3);
        let c = b.member("m~n");
        assert_eq!(c.pointer(), "/a~1b/3/m~0n");
        assert_eq!(Path::Root.pointer(), "");
    }
}
