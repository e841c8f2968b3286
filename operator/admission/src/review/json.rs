//! Typed access to the review's JSON with the location of every value, so that an error says
//! where it is (`request.object.spec.template.spec.containers[1].image is missing`). Locations
//! are a chain of borrowed steps rendered only when an error needs them: the happy path builds
//! no path strings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::ReviewError;
use crate::text::clip;

/// Where a value sits in the review body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Location<'a> {
    parent: Option<&'a Location<'a>>,
    step: Step<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Body,
    Key(&'a str),
    Index(usize),
}

impl<'a> Location<'a> {
    pub(crate) const BODY: Location<'static> = Location {
        parent: None,
        step: Step::Body,
    };

    pub(crate) fn key(&'a self, key: &'a str) -> Location<'a> {
        Location {
            parent: Some(self),
            step: Step::Key(key),
        }
    }

    pub(crate) fn index(&'a self, index: usize) -> Location<'a> {
        Location {
            parent: Some(self),
            step: Step::Index(index),
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        if out.is_empty() {
            "the request body".to_string()
        } else {
            out
        }
    }

    fn write(&self, out: &mut String) {
        if let Some(parent) = self.parent {
            parent.write(out);
        }
        match self.step {
            Step::Body => {}
            Step::Key(key) if is_plain_key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            // Annotation keys such as `attestor.stellaops.io/break-glass` contain dots.
            Step::Key(key) => {
                let _ = write!(out, "[{:?}]", clip(key, 80));
            }
            Step::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A value that may be absent, and where it is (or would be).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'v, 'a> {
    /// `None` when absent or JSON `null`: the API server writes `null` for unset optional
    /// fields, which must read as "not given", not as "of the wrong type".
    value: Option<&'v Value>,
    pub(crate) at: Location<'a>,
}

/// A JSON object and where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Object<'v, 'a> {
    map: &'v Map<String, Value>,
    pub(crate) at: Location<'a>,
}

impl<'v, 'a> Field<'v, 'a> {
    pub(crate) fn new(value: &'v Value, at: Location<'a>) -> Self {
        Self {
            value: (!value.is_null()).then_some(value),
            at,
        }
    }

    fn missing(&self) -> ReviewError {
        ReviewError::Missing {
            path: self.at.render(),
        }
    }

    fn wrong_type(&self, expected: &'static str) -> ReviewError {
        ReviewError::WrongType {
            path: self.at.render(),
            expected,
        }
    }

    pub(crate) fn object(self) -> Result<Object<'v, 'a>, ReviewError> {
        self.optional_object()?.ok_or_else(|| self.missing())
    }

    pub(crate) fn optional_object(self) -> Result<Option<Object<'v, 'a>>, ReviewError> {
        match self.value {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Object { map, at: self.at })),
            Some(_) => Err(self.wrong_type("an object")),
        }
    }

    pub(crate) fn optional_string(&self) -> Result<Option<&'v str>, ReviewError> {
        match self.value {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.wrong_type("a string")),
        }
    }

    pub(crate) fn string(&self) -> Result<&'v str, ReviewError> {
        self.optional_string()?.ok_or_else(|| self.missing())
    }

    pub(crate) fn non_empty_string(&self) -> Result<&'v str, ReviewError> {
        let text = self.string()?;
        if text.is_empty() {
            return Err(ReviewError::Empty {
                path: self.at.render(),
            });
        }
        Ok(text)
    }

    pub(crate) fn optional_bool(&self) -> Result<Option<bool>, ReviewError> {
        match self.value {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(self.wrong_type("a boolean")),
        }
    }

    pub(crate) fn optional_array(&self) -> Result<Option<&'v [Value]>, ReviewError> {
        match self.value {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.wrong_type("an array")),
        }
    }

    pub(crate) fn array(&self) -> Result<&'v [Value], ReviewError> {
        self.optional_array()?.ok_or_else(|| self.missing())
    }

    /// An object of strings (labels, annotations); absent reads as empty.
    pub(crate) fn string_map(self) -> Result<BTreeMap<String, String>, ReviewError> {
        let Some(object) = self.optional_object()? else {
            return Ok(BTreeMap::new());
        };
        object
            .map
            .iter()
            .map(|(key, value)| {
                let at = object.at.key(key);
                match value {
                    Value::String(text) => Ok((key.clone(), text.clone())),
                    _ => Err(ReviewError::WrongType {
                        path: at.render(),
                        expected: "a string",
                    }),
                }
            })
            .collect()
    }
}

impl<'v, 'a> Object<'v, 'a> {
    /// The whole body, which must be an object.
    pub(crate) fn body(value: &'v Value) -> Result<Object<'v, 'static>, ReviewError> {
        Field::new(value, Location::BODY).object()
    }

    pub(crate) fn field<'s>(&'s self, key: &'s str) -> Field<'v, 's> {
        Field {
            value: self.map.get(key).filter(|value| !value.is_null()),
            at: self.at.key(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_render_as_paths() {
        let request = Location::BODY.key("request");
        let containers = request.key("containers");
        let first = containers.index(1);
        assert_eq!(first.key("image").render(), "request.containers[1].image");
        let annotations = request.key("annotations");
        assert_eq!(
            annotations.key("attestor.stellaops.io/x").render(),
            "request.annotations[\"attestor.stellaops.io/x\"]"
        );
        assert_eq!(Location::BODY.render(), "the request body");
    }
}
