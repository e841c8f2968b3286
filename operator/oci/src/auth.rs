//! `WWW-Authenticate` challenges and the token service's answers.
//!
//! A registry answers an unauthenticated request with `401` and one or more challenges:
//! `Basic realm="..."`, or `Bearer realm="https://auth.example/token",service="registry.example",
//! scope="repository:org/app:pull"`, to which the client answers with a token fetched from
//! `realm` (the docker token protocol).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{OciError, check_size};

/// One challenge: a scheme (lowercased) with its parameters (names lowercased) or a token68.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
    pub token68: Option<String>,
}

/// What a `Bearer` challenge asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

impl Challenge {
    /// The Bearer parameters, when this is a Bearer challenge with a realm.
    pub fn bearer(&self) -> Option<BearerChallenge> {
        if self.scheme != "bearer" {
            return None;
        }
        Some(BearerChallenge {
            realm: self.params.get("realm")?.clone(),
            service: self.params.get("service").cloned(),
            scope: self.params.get("scope").cloned(),
        })
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Parses a `WWW-Authenticate` header value (RFC 9110 §11.6.1): one or more challenges
/// separated by commas, each a scheme followed by a token68 or by `name=value` parameters whose
/// values are tokens or quoted strings (with `\` escapes).
pub fn parse_challenges(header: &str) -> Result<Vec<Challenge>, OciError> {
    let bad = |detail: &str| OciError::BadChallenge {
        header: header.chars().take(200).collect(),
        detail: detail.to_string(),
    };
    if header.len() > 8192 {
        return Err(bad("longer than 8 KiB"));
    }
    let b = header.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> &str {
        let start = *i;
        while *i < b.len() && is_tchar(b[*i]) {
            *i += 1;
        }
        &header[start..*i]
    };
    let mut out = Vec::new();
    loop {
        while i < b.len() && (b[i] == b',' || b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let scheme = token(&mut i);
        if scheme.is_empty() {
            return Err(bad(&format!("expected an auth scheme at byte {i}")));
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: BTreeMap::new(),
            token68: None,
        };
        skip_ws(&mut i);
        loop {
            // A parameter is `token BWS = BWS value`; anything else ends this challenge.
            let save = i;
            let name = token(&mut i);
            let mut j = i;
            skip_ws(&mut j);
            if name.is_empty() || j >= b.len() || b[j] != b'=' {
                i = save;
                break;
            }
            j += 1;
            // `name=` followed by `=`, `,` or the end is a token68 (base64 padding), not a param.
            let mut k = j;
            skip_ws(&mut k);
            if k >= b.len() || b[k] == b',' || b[k] == b'=' {
                if !challenge.params.is_empty() {
                    return Err(bad(&format!("parameter {name:?} has no value")));
                }
                let start = save;
                while k < b.len() && b[k] != b',' {
                    k += 1;
                }
                challenge.token68 = Some(header[start..k].trim().to_string());
                i = k;
                break;
            }
            i = k;
            let value = if b[i] == b'"' {
                i += 1;
                let mut value = String::new();
                loop {
                    if i >= b.len() {
                        return Err(bad("unterminated quoted string"));
                    }
                    match b[i] {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' if i + 1 < b.len() => {
                            i += 1;
                            let c = header[i..].chars().next().unwrap_or_default();
                            value.push(c);
                            i += c.len_utf8();
                        }
                        _ => {
                            let c = header[i..].chars().next().unwrap_or_default();
                            value.push(c);
                            i += c.len_utf8();
                        }
                    }
                }
                value
            } else {
                let v = token(&mut i);
                if v.is_empty() {
                    return Err(bad(&format!("parameter {name:?} has no value")));
                }
                v.to_string()
            };
            let name = name.to_ascii_lowercase();
            if challenge.params.contains_key(&name) {
                return Err(bad(&format!("parameter {name:?} is repeated")));
            }
            challenge.params.insert(name, value);
            skip_ws(&mut i);
            if i < b.len() && b[i] == b',' {
                // Either the next parameter or the next challenge: look ahead.
                let mut k = i + 1;
                while k < b.len() && (b[k] == b' ' || b[k] == b'\t' || b[k] == b',') {
                    k += 1;
                }
                let mut m = k;
                while m < b.len() && is_tchar(b[m]) {
                    m += 1;
                }
                let mut n = m;
                skip_ws(&mut n);
                if m > k && n < b.len() && b[n] == b'=' {
                    i = k;
                    continue;
                }
                break;
            } else if i < b.len() {
                return Err(bad(&format!("unexpected character at byte {i}")));
            } else {
                break;
            }
        }
        out.push(challenge);
        if out.len() > 16 {
            return Err(bad("more than 16 challenges"));
        }
    }
    if out.is_empty() {
        return Err(bad("no challenge"));
    }
    Ok(out)
}

/// The scope of a repository for `actions` (`pull`, or `pull,push`).
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// `Basic <base64(user:password)>`.
pub fn basic_authorization(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// How long a token lives when the token service does not say (the docker token spec's 60 s).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A token service's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub token: String,
    /// How long the token is valid, as the service said (or the 60 s default).
    pub lifetime: Duration,
    /// A refresh token (OAuth2 flow), if one came back.
    pub refresh_token: Option<String>,
}

/// Parses the token service's JSON: `token` or `access_token`, `expires_in` seconds.
pub fn parse_token_response(bytes: &[u8], max_bytes: usize) -> Result<TokenResponse, OciError> {
    const WHAT: &str = "the token service's response";
    check_size(WHAT, bytes, max_bytes)?;
    #[derive(Deserialize)]
    struct Raw {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<u64>,
        refresh_token: Option<String>,
    }
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| OciError::malformed(WHAT, e))?;
    let token = raw
        .token
        .filter(|t| !t.is_empty())
        .or(raw.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| {
            OciError::malformed(WHAT, "it has neither \"token\" nor \"access_token\"")
        })?;
    if token.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err(OciError::malformed(
            WHAT,
            "the token is not printable ASCII",
        ));
    }
    let lifetime = match raw.expires_in {
        Some(0) | None => DEFAULT_TOKEN_LIFETIME,
        Some(s) => Duration::from_secs(s.min(24 * 3600)),
    };
    Ok(TokenResponse {
        token,
        lifetime,
        refresh_token: raw.refresh_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].bearer().unwrap(),
            BearerChallenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            }
        );

        let c = parse_challenges(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].params, params(&[("realm", "Registry Realm")]));
        assert!(c[0].bearer().is_none());

        // Several challenges, tokens and quoted strings with escapes and commas, odd spacing.
        let c = parse_challenges(
            r#"Negotiate abc==, BEARER Realm = "https://a.example/t?x=1,2" , Service=reg, scope="a \"q\" b",Basic realm=r"#,
        )
        .unwrap();
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0].scheme, "negotiate");
        assert_eq!(c[0].token68.as_deref(), Some("abc=="));
        assert_eq!(
            c[1].params,
            params(&[
                ("realm", "https://a.example/t?x=1,2"),
                ("service", "reg"),
                ("scope", "a \"q\" b")
            ])
        );
        assert_eq!(c[2].params, params(&[("realm", "r")]));

        // A scheme alone.
        let c = parse_challenges("Basic").unwrap();
        assert_eq!(c[0].scheme, "basic");
        assert!(c[0].params.is_empty());
        // A Bearer without realm has no bearer parameters.
        assert!(
            parse_challenges("Bearer service=x").unwrap()[0]
                .bearer()
                .is_none()
        );
    }

    #[test]
    fn refuses_malformed_challenges() {
        let cases: &[(&str, &str)] = &[
            ("", "no challenge"),
            (r#"Bearer realm="unterminated"#, "unterminated"),
            (r#"Bearer realm="a" service="b""#, "unexpected character"),
            (r#"Bearer realm="a", realm="b""#, "repeated"),
            (r#"Bearer realm="a", service="#, "no value"),
            ("=x", "auth scheme"),
        ];
        for (header, needle) in cases {
            let e = parse_challenges(header).expect_err(header);
            assert!(matches!(e, OciError::BadChallenge { .. }));
            assert!(e.to_string().contains(needle), "{header}: {e}");
        }
        assert!(parse_challenges(&"Basic, ".repeat(20)).is_err());
        assert!(parse_challenges(&"x".repeat(9000)).is_err());
    }

    #[test]
    fn token_responses() {
        let t = parse_token_response(br#"{"token":"abc","expires_in":300}"#, 1024).unwrap();
        assert_eq!(t.token, "abc");
        assert_eq!(t.lifetime, Duration::from_secs(300));
        let t = parse_token_response(br#"{"access_token":"xyz"}"#, 1024).unwrap();
        assert_eq!(t.token, "xyz");
        assert_eq!(t.lifetime, DEFAULT_TOKEN_LIFETIME);
        let t = parse_token_response(
            br#"{"token":"","access_token":"xyz","refresh_token":"r"}"#,
            1024,
        )
        .unwrap();
        assert_eq!(t.token, "xyz");
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        for (doc, needle) in [
            (&br#"{"expires_in":3}"#[..], "neither"),
            (br#"{"token":1}"#, "not valid JSON"),
            (br#"{"token":"a b"}"#, "printable"),
            (br#"{"token":"a","expires_in":-1}"#, "not valid JSON"),
            (br#"{"tok"#, "not valid JSON"),
        ] {
            let e = parse_token_response(doc, 1024).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
        assert!(matches!(
            parse_token_response(&[b' '; 2000], 1024).unwrap_err(),
            OciError::TooLarge { .. }
        ));
        assert_eq!(basic_authorization("u", "p"), "Basic dTpw");
        assert_eq!(
            repository_scope("org/app", "pull"),
            "repository:org/app:pull"
        );
    }
}
