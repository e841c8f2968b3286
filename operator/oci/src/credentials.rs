//! Registry credentials from a docker `config.json`, a `kubernetes.io/dockerconfigjson` Secret's
//! `.dockerconfigjson` (the same document) or a legacy `kubernetes.io/dockercfg` `.dockercfg`.
//!
//! Keys are matched as the kubelet matches `imagePullSecrets`, which includes what docker does:
//! a key's scheme (`https://`) is ignored; `index.docker.io/v1/`, `index.docker.io`,
//! `registry-1.docker.io` and `docker.io` all mean Docker Hub; ports must be equal; a key may
//! carry a path (`registry.example/team`), which then must prefix the repository, component by
//! component; a host label may be a glob (`*.registry.example`); the most specific key wins.
//! `credsStore` and `credHelpers` need programs this process does not run: they are ignored and
//! reported in [`DockerConfig::helpers`].

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{OciError, check_size};
use crate::reference::canonical_registry;

/// What to authenticate with.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or a personal access token as password).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token service.
    IdentityToken { username: String, token: String },
    /// A bearer token sent as is (`registrytoken`).
    RegistryToken(String),
}

impl std::fmt::Debug for Credential {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credential::IdentityToken { username, .. } => {
                write!(f, "IdentityToken({username}, <redacted>)")
            }
            Credential::RegistryToken(_) => f.write_str("RegistryToken(<redacted>)"),
        }
    }
}

/// One `auths` entry, with its key split for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written.
    pub key: String,
    host: String,
    path: Vec<String>,
    pub credential: Credential,
}

/// A parsed credentials document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// Where it came from (`~/.docker/config.json`, `Secret shop/pull`), for messages.
    pub source_name: String,
    pub entries: Vec<Entry>,
    /// Credential helpers named (`credsStore`, `credHelpers`), which are not run.
    pub helpers: Vec<String>,
}

#[derive(Deserialize)]
struct RawEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
    registrytoken: Option<String>,
}

impl DockerConfig {
    /// Parses a `config.json` (`{"auths": {...}}`) or a legacy `.dockercfg` (the `auths`
    /// object alone) of at most `max_bytes`.
    pub fn parse(source_name: &str, bytes: &[u8], max_bytes: usize) -> Result<Self, OciError> {
        let bad = |detail: String| OciError::BadCredentials {
            source_name: source_name.to_string(),
            detail,
        };
        check_size(source_name, bytes, max_bytes)?;
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let serde_json::Value::Object(top) = value else {
            return Err(bad("the document is not a JSON object".into()));
        };
        let mut helpers = Vec::new();
        if let Some(store) = top.get("credsStore").and_then(|v| v.as_str()) {
            helpers.push(format!("credsStore {store}"));
        }
        if let Some(serde_json::Value::Object(h)) = top.get("credHelpers") {
            for (host, helper) in h {
                helpers.push(format!(
                    "credHelpers {host}={}",
                    helper.as_str().unwrap_or("?")
                ));
            }
        }
        let auths = match top.get("auths") {
            Some(serde_json::Value::Object(a)) => a.clone(),
            Some(_) => return Err(bad("\"auths\" is not an object".into())),
            // A config.json with only helpers or settings, or a legacy .dockercfg.
            None if top.contains_key("credsStore")
                || top.contains_key("credHelpers")
                || top.contains_key("HttpHeaders")
                || top.contains_key("psFormat")
                || top.is_empty() =>
            {
                Default::default()
            }
            None => top,
        };
        if auths.len() > 1024 {
            return Err(bad(format!("{} entries, more than 1024", auths.len())));
        }
        let mut entries = Vec::new();
        for (key, raw) in auths {
            let raw: RawEntry =
                serde_json::from_value(raw).map_err(|e| bad(format!("entry {key:?}: {e}")))?;
            let plain_username = raw.username.clone().unwrap_or_default();
            let username_password = match raw.auth.as_deref().filter(|a| !a.is_empty()) {
                Some(auth) => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(auth.trim())
                        .map_err(|_| bad(format!("entry {key:?}: \"auth\" is not base64")))?;
                    let text = String::from_utf8(decoded)
                        .map_err(|_| bad(format!("entry {key:?}: \"auth\" is not UTF-8")))?;
                    let (u, p) = text.split_once(':').ok_or_else(|| {
                        bad(format!(
                            "entry {key:?}: \"auth\" is not base64 of user:password"
                        ))
                    })?;
                    Some((u.to_string(), p.to_string()))
                }
                None => match (raw.username, raw.password) {
                    (Some(u), Some(p)) if !u.is_empty() => Some((u, p)),
                    _ => None,
                },
            };
            let credential = if let Some(token) = raw.identitytoken.filter(|t| !t.is_empty()) {
                Credential::IdentityToken {
                    username: username_password.map(|(u, _)| u).unwrap_or(plain_username),
                    token,
                }
            } else if let Some(token) = raw.registrytoken.filter(|t| !t.is_empty()) {
                Credential::RegistryToken(token)
            } else if let Some((username, password)) = username_password {
                Credential::Basic { username, password }
            } else {
                // An entry with nothing usable (docker writes `{}` for helper-managed hosts).
                continue;
            };
            let (host, path) = split_key(&key);
            entries.push(Entry {
                key,
                host,
                path,
                credential,
            });
        }
        Ok(Self {
            source_name: source_name.to_string(),
            entries,
            helpers,
        })
    }

    /// The credential for `repository` in `registry` (canonical, as in
    /// [`crate::reference::ImageRef`]), from the most specific matching key.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<&Entry> {
        let registry = canonical_registry(registry);
        let repo: Vec<&str> = repository.split('/').collect();
        self.entries
            .iter()
            .filter(|e| host_matches(&e.host, &registry))
            .filter(|e| e.path.len() <= repo.len() && e.path.iter().zip(&repo).all(|(a, b)| a == b))
            // Exact hosts before globs, then longer paths.
            .max_by_key(|e| (!e.host.contains('*'), e.path.len()))
    }
}

/// Looks `registry`/`repository` up in several documents, in order: the first that has a match
/// answers (the kubelet's order for a Pod's `imagePullSecrets`).
pub fn lookup<'a>(
    configs: &'a [DockerConfig],
    registry: &str,
    repository: &str,
) -> Option<(&'a DockerConfig, &'a Entry)> {
    configs
        .iter()
        .find_map(|c| c.lookup(registry, repository).map(|e| (c, e)))
}

/// `https://index.docker.io/v1/` → (`docker.io`, []); `reg.example:5000/team/x` →
/// (`reg.example:5000`, [team, x]).
fn split_key(key: &str) -> (String, Vec<String>) {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let (host, path) = key.split_once('/').unwrap_or((key, ""));
    let host = canonical_registry(host);
    // docker writes `https://host/v1/` keys: an API version is not a repository path.
    let path = if matches!(path, "v1" | "v1/" | "v2" | "v2/") {
        Vec::new()
    } else {
        path.split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    (host, path)
}

/// Host labels compared one by one, `*` globs within a label; the port must be equal.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (p_host, p_port) = pattern
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or((pattern, ""));
    let (h_host, h_port) = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or((host, ""));
    if p_port != h_port {
        return false;
    }
    let p: Vec<&str> = p_host.split('.').collect();
    let h: Vec<&str> = h_host.split('.').collect();
    p.len() == h.len() && p.iter().zip(&h).all(|(p, h)| glob(p, h))
}

/// `*` matches any run of characters within one label.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(text) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=text.len()).any(|i| text.is_char_boundary(i) && glob(rest, &text[i..]))
        }
    }
}

/// Parses every `name=value` of a map of documents (e.g. a Secret's data), for tests and
/// callers that hold several.
pub fn parse_all(
    docs: &BTreeMap<String, Vec<u8>>,
    max_bytes: usize,
) -> Result<Vec<DockerConfig>, OciError> {
    docs.iter()
        .map(|(name, bytes)| DockerConfig::parse(name, bytes, max_bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn basic(u: &str, p: &str) -> Credential {
        Credential::Basic {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn matches_hosts_as_docker_and_the_kubelet_do() {
        let doc = format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{}"}},
                "reg.example":{{"username":"u2","password":"p2"}},
                "reg.example/team":{{"auth":"{}"}},
                "*.corp.example":{{"auth":"{}"}},
                "corp.example:5000":{{"identitytoken":"itok","username":"u5"}},
                "https://tok.example/v2/":{{"registrytoken":"rtok"}},
                "helper.example":{{}}
            }},"credsStore":"desktop","credHelpers":{{"gcr.io":"gcloud"}}}}"#,
            b64("hub:hubpw"),
            b64("team:teampw"),
            b64("glob:globpw")
        );
        let c = DockerConfig::parse("config.json", doc.as_bytes(), 1 << 20).unwrap();
        let cred = |reg: &str, repo: &str| c.lookup(reg, repo).map(|e| e.credential.clone());
        assert_eq!(
            cred("docker.io", "library/nginx"),
            Some(basic("hub", "hubpw"))
        );
        assert_eq!(cred("index.docker.io", "x/y"), Some(basic("hub", "hubpw")));
        assert_eq!(cred("reg.example", "other/app"), Some(basic("u2", "p2")));
        assert_eq!(
            cred("reg.example", "team/app"),
            Some(basic("team", "teampw"))
        );
        assert_eq!(cred("reg.example", "teamx/app"), Some(basic("u2", "p2")));
        assert_eq!(
            cred("REG.example", "team/app"),
            Some(basic("team", "teampw"))
        );
        assert_eq!(cred("a.corp.example", "x"), Some(basic("glob", "globpw")));
        assert_eq!(cred("a.b.corp.example", "x"), None, "a glob is one label");
        assert_eq!(
            cred("corp.example:5000", "x"),
            Some(Credential::IdentityToken {
                username: "u5".into(),
                token: "itok".into()
            })
        );
        assert_eq!(cred("corp.example", "x"), None, "ports must be equal");
        assert_eq!(cred("reg.example:443", "x"), None);
        assert_eq!(
            cred("tok.example", "x"),
            Some(Credential::RegistryToken("rtok".into()))
        );
        assert_eq!(cred("helper.example", "x"), None);
        assert_eq!(cred("ghcr.io", "x"), None);
        assert_eq!(
            c.helpers,
            vec!["credsStore desktop", "credHelpers gcr.io=gcloud"]
        );
        assert!(
            !format!("{:?}", c).contains("hubpw"),
            "secrets are redacted"
        );
    }

    #[test]
    fn legacy_dockercfg_and_several_documents() {
        let legacy = format!(
            r#"{{"reg.example":{{"auth":"{}","email":"x@y"}}}}"#,
            b64("l:lp")
        );
        let a = DockerConfig::parse("a", legacy.as_bytes(), 1024).unwrap();
        assert_eq!(a.entries.len(), 1);
        let b = DockerConfig::parse(
            "b",
            br#"{"auths":{"reg.example/app":{"username":"b","password":"bp"}}}"#,
            1024,
        )
        .unwrap();
        let configs = [a, b];
        let (source, entry) = lookup(&configs, "reg.example", "app").unwrap();
        assert_eq!(
            source.source_name, "a",
            "the first document with a match answers"
        );
        assert_eq!(entry.credential, basic("l", "lp"));
        assert!(
            DockerConfig::parse("e", b"{}", 10)
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn refuses_malformed_documents() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{\"auths\":".to_vec(), "not valid JSON"),
            (b"[]".to_vec(), "not a JSON object"),
            (br#"{"auths":[]}"#.to_vec(), "not an object"),
            (br#"{"auths":{"r":{"auth":"***"}}}"#.to_vec(), "not base64"),
            (
                format!(r#"{{"auths":{{"r":{{"auth":"{}"}}}}}}"#, b64("nocolon")).into_bytes(),
                "user:password",
            ),
            (br#"{"auths":{"r":{"auth":5}}}"#.to_vec(), "entry \"r\""),
            (br#"{"auths":{"r":"x"}}"#.to_vec(), "entry \"r\""),
        ];
        for (doc, needle) in cases {
            let e = DockerConfig::parse("cfg", &doc, 1024).unwrap_err();
            assert!(
                e.to_string().contains(needle),
                "{}: {e}",
                String::from_utf8_lossy(&doc)
            );
            assert!(e.to_string().contains("cfg"), "{e}");
        }
        assert!(matches!(
            DockerConfig::parse("cfg", &[b' '; 2048], 1024).unwrap_err(),
            OciError::TooLarge { .. }
        ));
    }
}
