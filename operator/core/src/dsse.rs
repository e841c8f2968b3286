//! DSSE v1 envelopes: the JSON envelope and the pre-authentication encoding
//! (PAE) that signatures cover.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use crate::canonical;
use crate::keys::SigningKey;

/// Payload type of in-toto statements.
pub const PAYLOAD_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";

/// More signatures than this is not a real-world envelope but a way to make a
/// verifier burn CPU, so it is refused before any cryptography runs.
pub const MAX_SIGNATURES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Unauthenticated hint naming the key; empty when absent.
    pub keyid: String,
    pub sig: Vec<u8>,
}

/// A decoded DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a JSON DSSE envelope: {0}")]
    NotJson(String),
    #[error("DSSE envelope must be a JSON object")]
    NotAnObject,
    #[error("DSSE envelope is missing the required field \"{0}\"")]
    MissingField(&'static str),
    #[error("DSSE envelope field \"{field}\" must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("DSSE envelope field \"{field}\" is not valid base64: {detail}")]
    BadBase64 { field: String, detail: String },
    #[error("DSSE envelope has no signatures")]
    NoSignatures,
    #[error("DSSE envelope has {count} signatures, more than the {max} accepted")]
    TooManySignatures { count: usize, max: usize },
}

/// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
/// with LEN the decimal byte length.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// The DSSE spec allows standard or URL-safe base64, padded or not.
fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, EnvelopeError> {
    let engines = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD];
    let mut first_err = None;
    for engine in engines {
        match engine.decode(text) {
            Ok(bytes) => return Ok(bytes),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(EnvelopeError::BadBase64 {
        field: field.to_string(),
        detail: first_err.map(|e| e.to_string()).unwrap_or_default(),
    })
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, EnvelopeError> {
    match obj.get(field) {
        None => Err(EnvelopeError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(EnvelopeError::WrongType {
            field: field.to_string(),
            expected: "a string",
        }),
    }
}

impl Envelope {
    /// Parses an envelope strictly: duplicate JSON keys are refused (two
    /// parsers reading different payloads from one document is an attack),
    /// unknown fields are ignored as the spec requires.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let value =
            canonical::parse_strict(bytes).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Self, EnvelopeError> {
        let obj = value.as_object().ok_or(EnvelopeError::NotAnObject)?;
        let payload_type = string_field(obj, "payloadType")?.to_string();
        let payload = decode_base64("payload", string_field(obj, "payload")?)?;
        let sigs = match obj.get("signatures") {
            None => return Err(EnvelopeError::MissingField("signatures")),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(EnvelopeError::WrongType {
                    field: "signatures".into(),
                    expected: "an array",
                });
            }
        };
        if sigs.is_empty() {
            return Err(EnvelopeError::NoSignatures);
        }
        if sigs.len() > MAX_SIGNATURES {
            return Err(EnvelopeError::TooManySignatures {
                count: sigs.len(),
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures = Vec::with_capacity(sigs.len());
        for (i, s) in sigs.iter().enumerate() {
            let s = s.as_object().ok_or_else(|| EnvelopeError::WrongType {
                field: format!("signatures[{i}]"),
                expected: "an object",
            })?;
            let keyid = match s.get("keyid") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(k)) => k.clone(),
                Some(_) => {
                    return Err(EnvelopeError::WrongType {
                        field: format!("signatures[{i}].keyid"),
                        expected: "a string",
                    });
                }
            };
            let sig = match s.get("sig") {
                None => return Err(EnvelopeError::MissingField("signatures[].sig")),
                Some(Value::String(b64)) => decode_base64(&format!("signatures[{i}].sig"), b64)?,
                Some(_) => {
                    return Err(EnvelopeError::WrongType {
                        field: format!("signatures[{i}].sig"),
                        expected: "a string",
                    });
                }
            };
            signatures.push(EnvelopeSignature { keyid, sig });
        }
        Ok(Self {
            payload_type,
            payload,
            signatures,
        })
    }

    /// Signs `payload` with every key given; each signature's keyid is the key's id.
    pub fn sign(payload_type: &str, payload: Vec<u8>, keys: &[&SigningKey]) -> Self {
        let message = pae(payload_type, &payload);
        let signatures = keys
            .iter()
            .map(|k| EnvelopeSignature {
                keyid: k.public_key().key_id().to_string(),
                sig: k.sign(&message),
            })
            .collect();
        Self {
            payload_type: payload_type.to_string(),
            payload,
            signatures,
        }
    }

    /// The bytes every signature covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    pub fn to_value(&self) -> Value {
        let sigs: Vec<Value> = self
            .signatures
            .iter()
            .map(|s| serde_json::json!({ "keyid": s.keyid, "sig": STANDARD.encode(&s.sig) }))
            .collect();
        serde_json::json!({
            "payloadType": self.payload_type,
            "payload": STANDARD.encode(&self.payload),
            "signatures": sigs,
        })
    }

    /// Pretty JSON with a trailing newline, as written into bundles.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(&self.to_value()).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::test_keys::*;

    #[test]
    fn pae_matches_the_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn parses_the_spec_envelope() {
        let json = br#"{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"#;
        let env = Envelope::from_json(json).unwrap();
        assert_eq!(env.payload, b"hello world");
        assert_eq!(env.signatures[0].keyid, "");
        assert_eq!(env.signatures[0].sig.len(), 64);
    }

    #[test]
    fn sign_then_parse_round_trips_and_verifies() {
        let p = SigningKey::from_pem(P256_PKCS8).unwrap();
        let e = SigningKey::from_pem(ED25519_PKCS8).unwrap();
        let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"{}".to_vec(), &[&p, &e]);
        let again = Envelope::from_json(&env.to_json_pretty()).unwrap();
        assert_eq!(again, env);
        p.public_key()
            .verify(&again.pae(), &again.signatures[0].sig)
            .unwrap();
        e.public_key()
            .verify(&again.pae(), &again.signatures[1].sig)
            .unwrap();
        assert_eq!(
            again.signatures[0].keyid,
            p.public_key().key_id().to_string()
        );
    }

    #[test]
    fn accepts_url_safe_unpadded_base64() {
        let env = Envelope::from_json(
            br#"{"payloadType":"t","payload":"-_8","signatures":[{"sig":"AA"}]}"#,
        )
        .unwrap();
        assert_eq!(env.payload, vec![0xfb, 0xff]);
    }

    #[test]
    fn refuses_malformed_envelopes() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not a JSON"),
            (b"[]", "must be a JSON object"),
            (
                br#"{"payload":"","signatures":[{"sig":""}]}"#,
                "\"payloadType\"",
            ),
            (
                br#"{"payloadType":"t","signatures":[{"sig":""}]}"#,
                "\"payload\"",
            ),
            (br#"{"payloadType":"t","payload":""}"#, "\"signatures\""),
            (
                br#"{"payloadType":"t","payload":"","signatures":[]}"#,
                "no signatures",
            ),
            (
                br#"{"payloadType":"t","payload":"","signatures":{}}"#,
                "must be an array",
            ),
            (
                br#"{"payloadType":1,"payload":"","signatures":[{"sig":""}]}"#,
                "must be a string",
            ),
            (
                br#"{"payloadType":"t","payload":"!!","signatures":[{"sig":""}]}"#,
                "not valid base64",
            ),
            (
                br#"{"payloadType":"t","payload":"","signatures":[{"keyid":"k"}]}"#,
                "sig",
            ),
            (
                br#"{"payloadType":"t","payload":"","signatures":[{"sig":"%"}]}"#,
                "signatures[0].sig",
            ),
            (
                br#"{"payloadType":"t","payloadType":"u","payload":"","signatures":[{"sig":""}]}"#,
                "payloadType",
            ),
        ];
        for (input, needle) in cases {
            let err = Envelope::from_json(input).unwrap_err().to_string();
            assert!(
                err.contains(needle),
                "{:?}: {err}",
                String::from_utf8_lossy(input)
            );
        }
        let many = format!(
            r#"{{"payloadType":"t","payload":"","signatures":[{}]}}"#,
            vec![r#"{"sig":""}"#; MAX_SIGNATURES + 1].join(",")
        );
        assert!(matches!(
            Envelope::from_json(many.as_bytes()),
            Err(EnvelopeError::TooManySignatures { .. })
        ));
    }
}
