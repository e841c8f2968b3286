//! The registry client against an in-process fake registry on 127.0.0.1: the referrers API and
//! its fallback tag, cosign's legacy tags, push and pull of proof bundles, the auth challenge
//! flow and its token cache, 429 and 5xx backoff, and every bound (size, digest, address).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attestor_core::digest::Sha256Digest;
use attestor_oci::classify::{
    COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIMPLE_SIGNING, CandidateKind, DSSE_ENVELOPE,
    SIGSTORE_BUNDLE_V03,
};
use attestor_oci::credentials::DockerConfig;
use attestor_oci::manifest::{
    Descriptor, ImageManifest, Limits, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST,
};
use attestor_oci::reference::ImageRef;
use attestor_runtime::fetch::RetryPolicy;
use attestor_runtime::registry::{RegistryClient, RegistryConfig, RegistryError, Source};
use support::{Reply, Request, TestServer, fetcher, test_config};

const ALL: [CandidateKind; 5] = CandidateKind::ALL;

/// How the fake registry authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    /// Bearer tokens from `/token`, which wants Basic `user:pass`.
    Bearer,
    /// Basic `user:pass` on every request.
    Basic,
}

#[derive(Default)]
struct Store {
    blobs: HashMap<String, Vec<u8>>,
    /// reference (digest or tag) -> (media type, bytes)
    manifests: HashMap<String, (String, Vec<u8>)>,
    uploads: usize,
    token_requests: usize,
    /// Replies to send before serving normally (429s, 5xx), per path prefix.
    script: Vec<(String, Reply)>,
}

struct Fake {
    server: TestServer,
    store: Arc<Mutex<Store>>,
}

struct Options {
    referrers_api: bool,
    auth: Auth,
    page_size: usize,
    /// The tokens' `expires_in`.
    expires_in: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            referrers_api: true,
            auth: Auth::None,
            page_size: 100,
            expires_in: 300,
        }
    }
}

const TOKEN: &str = "tok-123";

fn basic_ok(r: &Request) -> bool {
    r.header("authorization") == Some(&attestor_oci::auth::basic_authorization("user", "pass"))
}

fn json(status: u16, body: &str) -> Reply {
    Reply::Full {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn route(store: &Mutex<Store>, options: &Options, r: &Request) -> Reply {
    let mut s = store.lock().unwrap();
    if let Some(i) = s
        .script
        .iter()
        .position(|(p, _)| r.path.starts_with(p.as_str()))
    {
        return s.script.remove(i).1;
    }
    let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
    if path == "/token" {
        s.token_requests += 1;
        // The OAuth2 refresh-token grant of an `identitytoken`.
        if r.method == "POST" {
            let form = String::from_utf8_lossy(&r.body).to_string();
            let fields: Vec<&str> = form.split('&').collect();
            if fields.contains(&"grant_type=refresh_token")
                && fields.contains(&"refresh_token=itok")
                && fields.contains(&"service=fake")
                && r.header("content-type") == Some("application/x-www-form-urlencoded")
            {
                return json(
                    200,
                    &format!(r#"{{"access_token":"{TOKEN}","expires_in":300}}"#),
                );
            }
            return json(401, "{}");
        }
        if !basic_ok(r) {
            return json(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
            );
        }
        return json(
            200,
            &format!(
                r#"{{"token":"{TOKEN}","expires_in":{}}}"#,
                options.expires_in
            ),
        );
    }
    let authorized = match options.auth {
        Auth::None => true,
        Auth::Bearer => r.header("authorization") == Some(&format!("Bearer {TOKEN}")),
        Auth::Basic => basic_ok(r),
    };
    if !authorized {
        let challenge = match options.auth {
            Auth::Bearer => format!(
                r#"Bearer realm="{}/token",service="fake",scope="repository:org/app:pull""#,
                r.base
            ),
            _ => r#"Basic realm="fake""#.to_string(),
        };
        return json(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#)
            .with_header("WWW-Authenticate", &challenge);
    }
    if let Some(id) = path.strip_prefix("/upload/") {
        let digest = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("digest="))
            .unwrap_or_default()
            .replace("%3A", ":");
        assert_eq!(Sha256Digest::of(&r.body).to_string(), digest, "upload {id}");
        s.blobs.insert(digest, r.body.clone());
        return Reply::status(201);
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Reply::status(404);
    };
    for (marker, kind) in [
        ("/manifests/", 0),
        ("/blobs/uploads/", 1),
        ("/blobs/", 2),
        ("/referrers/", 3),
    ] {
        let Some((_name, reference)) = rest.split_once(marker) else {
            continue;
        };
        return match (kind, r.method.as_str()) {
            (0, "GET") | (0, "HEAD") => match s.manifests.get(reference) {
                Some((mt, bytes)) => Reply::Full {
                    status: 200,
                    headers: vec![
                        ("Content-Type".into(), mt.clone()),
                        (
                            "Docker-Content-Digest".into(),
                            Sha256Digest::of(bytes).to_string(),
                        ),
                    ],
                    body: bytes.clone(),
                },
                None => json(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
            },
            (0, "PUT") => {
                let mt = r.header("content-type").unwrap_or_default().to_string();
                let digest = Sha256Digest::of(&r.body).to_string();
                s.manifests
                    .insert(reference.to_string(), (mt.clone(), r.body.clone()));
                s.manifests.insert(digest.clone(), (mt, r.body.clone()));
                let has_subject = serde_json::from_slice::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| v.get("subject").cloned())
                    .is_some();
                let mut reply = Reply::status(201).with_header("Docker-Content-Digest", &digest);
                if has_subject && options.referrers_api {
                    reply = reply.with_header("OCI-Subject", "yes");
                }
                reply
            }
            (1, "POST") => {
                s.uploads += 1;
                Reply::Full {
                    status: 202,
                    headers: vec![("Location".into(), format!("/upload/{}?state=x", s.uploads))],
                    body: Vec::new(),
                }
            }
            (2, "GET") | (2, "HEAD") => match s.blobs.get(reference) {
                Some(bytes) => Reply::ok(bytes.clone()),
                None => json(404, r#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#),
            },
            (3, "GET") if options.referrers_api => {
                let mut found: Vec<Descriptor> = s
                    .manifests
                    .iter()
                    .filter(|(k, _)| k.starts_with("sha256:"))
                    .filter_map(|(_, (mt, bytes))| {
                        let m: ImageManifest = serde_json::from_slice(bytes).ok()?;
                        (m.subject.as_ref()?.digest == reference).then(|| {
                            let mut d = Descriptor::of(mt, bytes);
                            d.artifact_type = m.artifact_type.clone();
                            d
                        })
                    })
                    .collect();
                found.sort_by(|a, b| a.digest.cmp(&b.digest));
                let start: usize = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let page: Vec<_> = found
                    .iter()
                    .skip(start)
                    .take(options.page_size)
                    .cloned()
                    .collect();
                let index = serde_json::json!({
                    "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": page
                });
                let mut reply = json(200, &index.to_string());
                if start + options.page_size < found.len() {
                    reply = reply.with_header(
                        "Link",
                        &format!(r#"<{path}?page={}>; rel="next""#, start + options.page_size),
                    );
                }
                reply
            }
            (3, _) => json(404, r#"{"errors":[{"code":"NOT_FOUND"}]}"#),
            _ => Reply::status(405),
        };
    }
    Reply::status(404)
}

impl Fake {
    async fn start(options: Options) -> Self {
        let store = Arc::new(Mutex::new(Store::default()));
        let s = store.clone();
        let server = TestServer::http(move |r| route(&s, &options, r)).await;
        Fake { server, store }
    }

    fn host(&self) -> String {
        self.server.addr.to_string()
    }

    fn image(&self, digest: &Sha256Digest) -> ImageRef {
        ImageRef::parse(&format!("{}/org/app@{digest}", self.host())).unwrap()
    }

    fn put_blob(&self, bytes: &[u8]) -> Descriptor {
        let d = Descriptor::of("application/octet-stream", bytes);
        self.store
            .lock()
            .unwrap()
            .blobs
            .insert(d.digest.clone(), bytes.to_vec());
        d
    }

    fn put_manifest(&self, tag: Option<&str>, media_type: &str, bytes: &[u8]) -> Descriptor {
        let d = Descriptor::of(media_type, bytes);
        let mut s = self.store.lock().unwrap();
        s.manifests
            .insert(d.digest.clone(), (media_type.into(), bytes.to_vec()));
        if let Some(tag) = tag {
            s.manifests
                .insert(tag.into(), (media_type.into(), bytes.to_vec()));
        }
        d
    }

    /// An image to sign: a manifest with one layer.
    fn image_manifest(&self) -> Sha256Digest {
        let layer = self.put_blob(b"rootfs");
        let config = self.put_blob(b"{\"os\":\"linux\"}");
        let m = manifest(None, config, vec![layer], None);
        self.put_manifest(Some("v1"), OCI_MANIFEST, &m)
            .sha256()
            .unwrap()
    }

    /// A referrer of `subject` whose one layer is `content` of `media_type`.
    fn referrer(
        &self,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
        media_type: &str,
        content: &[u8],
        annotations: &[(&str, &str)],
    ) -> Descriptor {
        let mut layer = self.put_blob(content);
        layer.media_type = media_type.into();
        layer.annotations = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = self.put_blob(b"{}");
        let config = Descriptor {
            media_type: OCI_EMPTY.into(),
            ..config
        };
        let subject_desc = {
            let (mt, bytes) = self.store.lock().unwrap().manifests[&subject.to_string()].clone();
            Descriptor::of(&mt, &bytes)
        };
        let m = manifest(artifact_type, config, vec![layer], Some(subject_desc));
        self.put_manifest(None, OCI_MANIFEST, &m)
    }

    fn requests(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

fn manifest(
    artifact_type: Option<&str>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
) -> Vec<u8> {
    serde_json::to_vec(&ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: artifact_type.map(str::to_string),
        config,
        layers,
        subject,
        annotations: BTreeMap::new(),
    })
    .unwrap()
}

fn config(fake: &Fake) -> RegistryConfig {
    RegistryConfig {
        plain_http: vec![fake.host()],
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        max_wait: Duration::from_secs(5),
        ..RegistryConfig::default()
    }
}

fn client(fake: &Fake) -> RegistryClient {
    RegistryClient::new(fetcher(test_config(&[])), config(fake))
}

fn creds(fake: &Fake, password: &str) -> Vec<DockerConfig> {
    let doc = format!(
        r#"{{"auths":{{"{}":{{"username":"user","password":"{password}"}}}}}}"#,
        fake.host()
    );
    vec![DockerConfig::parse("test config", doc.as_bytes(), 1 << 20).unwrap()]
}

/// A legacy cosign `.sig` manifest (simple signing) and `.att` manifest (DSSE) under their tags.
fn legacy_tags(fake: &Fake, subject: &Sha256Digest) {
    let config = fake.put_blob(b"{\"legacy\":true}");
    let mut sig = fake.put_blob(b"{\"critical\":{}}");
    sig.media_type = COSIGN_SIMPLE_SIGNING.into();
    sig.annotations
        .insert(COSIGN_SIGNATURE_ANNOTATION.into(), "MEUCIQ==".into());
    let m = manifest(None, config.clone(), vec![sig], None);
    fake.put_manifest(
        Some(&format!("sha256-{}.sig", subject.hex())),
        OCI_MANIFEST,
        &m,
    );
    let mut att = fake.put_blob(b"{\"payloadType\":\"application/vnd.in-toto+json\"}");
    att.media_type = DSSE_ENVELOPE.into();
    let m = manifest(None, config, vec![att], None);
    fake.put_manifest(
        Some(&format!("sha256-{}.att", subject.hex())),
        OCI_MANIFEST,
        &m,
    );
}

#[tokio::test]
async fn discovers_referrers_of_every_kind_across_pages_and_the_legacy_tags() {
    let fake = Fake::start(Options {
        page_size: 2,
        ..Options::default()
    })
    .await;
    let subject = fake.image_manifest();
    fake.referrer(
        &subject,
        Some(SIGSTORE_BUNDLE_V03),
        SIGSTORE_BUNDLE_V03,
        b"{\"bundle\":1}",
        &[],
    );
    fake.referrer(
        &subject,
        Some(attestor_oci::artifact::PROOF_BUNDLE_ARTIFACT_TYPE),
        attestor_oci::artifact::PROOF_BUNDLE_LAYER,
        b"PK\x03\x04zip",
        &[],
    );
    fake.referrer(
        &subject,
        Some("application/spdx+json"),
        "application/spdx+json",
        b"{}",
        &[],
    );
    // Says it is a bundle; its layer is not one.
    fake.referrer(
        &subject,
        Some(SIGSTORE_BUNDLE_V03),
        "application/json",
        b"{\"x\":1}",
        &[],
    );
    legacy_tags(&fake, &subject);

    let client = client(&fake);
    let found = client
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap();
    assert_eq!(found.source, Source::Referrers);
    let mut kinds: Vec<(CandidateKind, Source)> = found
        .candidates
        .iter()
        .map(|c| (c.kind, c.source))
        .collect();
    kinds.sort_by_key(|(k, _)| *k);
    assert_eq!(
        kinds,
        vec![
            (CandidateKind::CosignSignature, Source::LegacySignatureTag),
            (
                CandidateKind::CosignAttestation,
                Source::LegacyAttestationTag
            ),
            (CandidateKind::SigstoreBundle, Source::Referrers),
            (CandidateKind::ProofBundle, Source::Referrers),
            (CandidateKind::Unknown, Source::Referrers),
            (CandidateKind::Unknown, Source::Referrers),
        ]
    );
    let bundle = found
        .candidates
        .iter()
        .find(|c| c.kind == CandidateKind::SigstoreBundle)
        .unwrap();
    assert_eq!(bundle.layers.len(), 1);
    assert_eq!(bundle.layers[0].1, b"{\"bundle\":1}");
    assert!(found.reason().is_none());
    let pages = fake
        .requests()
        .iter()
        .filter(|r| r.contains("/referrers/"))
        .count();
    assert_eq!(pages, 2, "4 referrers, 2 per page: {:?}", fake.requests());
    assert_eq!(found.requests as usize, fake.server.hits());

    // Only the kinds asked for; Unknown ones are dropped unless asked for.
    let only = client
        .discover(
            &fake.image(&subject),
            &subject,
            &[CandidateKind::ProofBundle],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(only.candidates.len(), 1);
    assert_eq!(only.candidates[0].kind, CandidateKind::ProofBundle);
}

#[tokio::test]
async fn falls_back_to_the_tag_schema_when_the_registry_has_no_referrers_api() {
    let fake = Fake::start(Options {
        referrers_api: false,
        ..Options::default()
    })
    .await;
    let subject = fake.image_manifest();
    let found = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap();
    assert_eq!(found.source, Source::FallbackTag);
    assert!(found.candidates.is_empty());
    assert_eq!(found.reason(), Some("NoSignaturesFound"));
    let hex = subject.hex();
    assert_eq!(
        fake.requests(),
        vec![
            format!("GET /v2/org/app/referrers/{subject}"),
            format!("GET /v2/org/app/manifests/sha256-{hex}"),
            format!("GET /v2/org/app/manifests/sha256-{hex}.sig"),
            format!("GET /v2/org/app/manifests/sha256-{hex}.att"),
        ]
    );

    // The fallback index lists a referrer: found through it.
    let r = fake.referrer(&subject, None, SIGSTORE_BUNDLE_V03, b"{}", &[]);
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [r]});
    fake.put_manifest(
        Some(&format!("sha256-{hex}")),
        OCI_INDEX,
        index.to_string().as_bytes(),
    );
    let found = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap();
    assert_eq!(found.candidates.len(), 1);
    assert_eq!(found.candidates[0].kind, CandidateKind::SigstoreBundle);
    assert_eq!(found.candidates[0].source, Source::FallbackTag);
}

#[tokio::test]
async fn pushes_and_pulls_proof_bundles_with_and_without_the_referrers_api() {
    for referrers_api in [true, false] {
        let fake = Fake::start(Options {
            referrers_api,
            ..Options::default()
        })
        .await;
        let subject = fake.image_manifest();
        let client = client(&fake);
        let image = fake.image(&subject);
        let pushed = client
            .push_proof_bundle(
                &image,
                b"PK\x03\x04bundle",
                Some("2026-12-07T10:00:00Z"),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(pushed.referrers_api, referrers_api);
        assert_eq!(
            pushed.fallback_tag,
            (!referrers_api).then(|| format!("sha256-{}", subject.hex()))
        );
        // A second, newer one: pull returns the newest.
        client
            .push_proof_bundle(
                &image,
                b"PK\x03\x04newer",
                Some("2026-12-08T10:00:00Z"),
                &[],
            )
            .await
            .unwrap();
        let (bundles, discovery) = client.pull_proof_bundles(&image, &[]).await.unwrap();
        assert_eq!(bundles.len(), 2, "referrers API {referrers_api}");
        assert_eq!(bundles[0].layers[0].1, b"PK\x03\x04newer");
        assert_eq!(
            discovery.source,
            if referrers_api {
                Source::Referrers
            } else {
                Source::FallbackTag
            }
        );
    }
}

#[tokio::test]
async fn bearer_tokens_are_fetched_once_per_scope_and_cached() {
    let fake = Fake::start(Options {
        auth: Auth::Bearer,
        ..Options::default()
    })
    .await;
    let subject = fake.image_manifest();
    let client = client(&fake);
    let creds = creds(&fake, "pass");
    for _ in 0..3 {
        client
            .discover(&fake.image(&subject), &subject, &ALL, &creds)
            .await
            .unwrap();
    }
    assert_eq!(fake.store.lock().unwrap().token_requests, 1);
    assert_eq!(client.token_requests(), 1);
    // Pushing needs another scope (pull,push): one more token.
    client
        .push_proof_bundle(&fake.image(&subject), b"PK", None, &creds)
        .await
        .unwrap();
    assert_eq!(client.token_requests(), 2);
    // The token went to the registry, the password only to the token service.
    for r in fake.server.requests() {
        if r.path.starts_with("/v2/") && r.header("authorization").is_some() {
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {TOKEN}").as_str())
            );
        }
    }
}

#[tokio::test]
async fn refused_or_missing_credentials_are_registry_auth_failed() {
    for auth in [Auth::Bearer, Auth::Basic] {
        let fake = Fake::start(Options {
            auth,
            ..Options::default()
        })
        .await;
        let subject = fake.image_manifest();
        for creds in [creds(&fake, "wrong"), Vec::new()] {
            let e = client(&fake)
                .discover(&fake.image(&subject), &subject, &ALL, &creds)
                .await
                .unwrap_err();
            assert!(matches!(e, RegistryError::AuthFailed { .. }), "{e:?}");
            assert_eq!(e.reason(), "RegistryAuthFailed");
            assert!(
                !e.to_string().contains("wrong"),
                "no password in messages: {e}"
            );
        }
        // And the right ones work (Basic: sent again without a new challenge).
        let client = client(&fake);
        let creds = creds(&fake, "pass");
        client
            .discover(&fake.image(&subject), &subject, &ALL, &creds)
            .await
            .unwrap();
        let before = fake.server.hits();
        client
            .discover(&fake.image(&subject), &subject, &ALL, &creds)
            .await
            .unwrap();
        let unauthorized = fake.server.requests()[before..]
            .iter()
            .filter(|r| r.path.starts_with("/v2/") && r.header("authorization").is_none())
            .count();
        assert_eq!(unauthorized, 0, "credentials are sent up front once known");
    }
}

#[tokio::test]
async fn a_429_is_waited_out_when_short_and_reported_when_long() {
    let fake = Fake::start(Options::default()).await;
    let subject = fake.image_manifest();
    fake.store.lock().unwrap().script.push((
        "/v2/org/app/referrers/".into(),
        json(429, "{}").with_header("Retry-After", "1"),
    ));
    let started = Instant::now();
    let found = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(found.source, Source::Referrers);

    fake.store.lock().unwrap().script.push((
        "/v2/org/app/referrers/".into(),
        json(429, "{}").with_header("Retry-After", "120"),
    ));
    let client = client(&fake);
    let e = client
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "RateLimited", "{e}");
    assert!(e.to_string().contains("asked to wait 120s"), "{e}");
    // The whole registry is backed off: the next call fails at once, without a request.
    let hits = fake.server.hits();
    let e = client
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "RateLimited");
    assert_eq!(fake.server.hits(), hits);
}

#[tokio::test]
async fn server_errors_are_retried_then_registry_unavailable() {
    let fake = Fake::start(Options::default()).await;
    let subject = fake.image_manifest();
    fake.store
        .lock()
        .unwrap()
        .script
        .push(("/v2/org/app/referrers/".into(), Reply::status(502)));
    let found = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap();
    assert_eq!(found.source, Source::Referrers);
    for _ in 0..3 {
        fake.store
            .lock()
            .unwrap()
            .script
            .push(("/v2/org/app/referrers/".into(), Reply::status(503)));
    }
    let e = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "RegistryUnavailable", "{e}");
    assert!(e.to_string().contains("HTTP 503 3 times"), "{e}");

    // Nothing listening at all.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let image = ImageRef::parse(&format!("{gone}/org/app@{subject}")).unwrap();
    let mut cfg = config(&fake);
    cfg.plain_http = vec![gone.to_string()];
    let e = RegistryClient::new(fetcher(test_config(&[])), cfg)
        .discover(&image, &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "RegistryUnavailable", "{e}");
}

#[tokio::test]
async fn a_blob_redirect_to_a_denied_address_is_refused() {
    let fake = Fake::start(Options::default()).await;
    let subject = fake.image_manifest();
    let r = fake.referrer(&subject, None, SIGSTORE_BUNDLE_V03, b"{\"b\":2}", &[]);
    let _ = r;
    for target in [
        "http://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/blob",
    ] {
        fake.store
            .lock()
            .unwrap()
            .script
            .push(("/v2/org/app/blobs/".into(), Reply::redirect(307, target)));
        let e = client(&fake)
            .discover(&fake.image(&subject), &subject, &ALL, &[])
            .await
            .unwrap_err();
        assert_eq!(e.reason(), "RegistryAddressDenied", "{e}");
        assert!(e.to_string().contains("--fetch-allow-network"), "{e}");
    }
}

#[tokio::test]
async fn an_oversized_manifest_is_refused_before_it_is_read() {
    let fake = Fake::start(Options::default()).await;
    let subject = fake.image_manifest();
    let r = fake.referrer(&subject, None, SIGSTORE_BUNDLE_V03, b"{}", &[]);
    fake.store.lock().unwrap().script.push((
        format!("/v2/org/app/manifests/{}", r.digest),
        Reply::ok("short").with_header("Content-Length", &(10u64 << 30).to_string()),
    ));
    let e = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "RegistryResponseInvalid", "{e}");
    assert!(e.to_string().contains("10 GiB (Content-Length)"), "{e}");

    // A descriptor that declares more than the limit is not even fetched.
    let mut cfg = config(&fake);
    cfg.limits = Limits {
        max_manifest_bytes: 64,
        ..Limits::default()
    };
    let hits = fake.server.hits();
    let found = RegistryClient::new(fetcher(test_config(&[])), cfg)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap();
    assert_eq!(found.candidates[0].kind, CandidateKind::Unknown);
    assert!(
        found.candidates[0]
            .note
            .as_ref()
            .unwrap()
            .contains("more than the 64-byte limit")
    );
    let manifest_gets = fake.server.requests()[hits..]
        .iter()
        .filter(|q| q.path.contains("/manifests/sha256:"))
        .count();
    assert_eq!(manifest_gets, 0);
}

#[tokio::test]
async fn content_that_does_not_match_its_digest_is_refused() {
    let fake = Fake::start(Options::default()).await;
    let subject = fake.image_manifest();
    let r = fake.referrer(&subject, None, SIGSTORE_BUNDLE_V03, b"{\"real\":1}", &[]);
    // The manifest, swapped.
    fake.store.lock().unwrap().script.push((
        format!("/v2/org/app/manifests/{}", r.digest),
        json(200, "{\"schemaVersion\":2}"),
    ));
    let e = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e:?}");
    assert_eq!(e.reason(), "RegistryResponseInvalid");
    // A blob, swapped (same length).
    fake.store
        .lock()
        .unwrap()
        .script
        .push(("/v2/org/app/blobs/".into(), Reply::ok("{\"fake\":1}")));
    let e = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &[])
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e:?}");
}

#[tokio::test]
async fn mirror_rules_send_requests_to_the_mirror() {
    let fake = Fake::start(Options::default()).await;
    let subject = fake.image_manifest();
    let mut cfg = config(&fake);
    cfg.mirrors = vec![
        attestor_oci::mirror::MirrorRule::parse(&format!("docker.io={}", fake.host())).unwrap(),
    ];
    let image = ImageRef::parse(&format!("org/app@{subject}")).unwrap();
    assert_eq!(image.registry, "docker.io");
    let found = RegistryClient::new(fetcher(test_config(&[])), cfg)
        .discover(&image, &subject, &ALL, &[])
        .await
        .unwrap();
    assert_eq!(found.source, Source::Referrers);
    assert!(fake.requests()[0].starts_with("GET /v2/org/app/referrers/"));

    // A mirror that wants a password, and only Docker Hub's configured: Hub's are not sent.
    let mirror = Fake::start(Options {
        auth: Auth::Basic,
        ..Options::default()
    })
    .await;
    let mut cfg = config(&mirror);
    cfg.mirrors = vec![
        attestor_oci::mirror::MirrorRule::parse(&format!("docker.io={}", mirror.host())).unwrap(),
    ];
    let hub = DockerConfig::parse(
        "hub",
        br#"{"auths":{"https://index.docker.io/v1/":{"username":"user","password":"pass"}}}"#,
        1024,
    )
    .unwrap();
    let e = RegistryClient::new(fetcher(test_config(&[])), cfg)
        .discover(&image, &subject, &ALL, &[hub])
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "RegistryAuthFailed", "{e}");
    assert!(
        mirror
            .server
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "Docker Hub's credentials went to the mirror"
    );
}

#[tokio::test]
async fn a_blob_redirect_to_storage_is_followed_without_the_registry_token() {
    let fake = Fake::start(Options {
        auth: Auth::Bearer,
        ..Options::default()
    })
    .await;
    let subject = fake.image_manifest();
    fake.referrer(&subject, None, SIGSTORE_BUNDLE_V03, b"{\"stored\":1}", &[]);
    let storage = TestServer::http(|_| Reply::ok("{\"stored\":1}")).await;
    fake.store.lock().unwrap().script.push((
        "/v2/org/app/blobs/".into(),
        Reply::redirect(307, storage.url("/bucket/blob?sig=x")),
    ));
    let found = client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &creds(&fake, "pass"))
        .await
        .unwrap();
    assert_eq!(found.candidates[0].layers[0].1, b"{\"stored\":1}");
    let at_storage = storage.requests();
    assert_eq!(at_storage.len(), 1);
    assert_eq!(
        at_storage[0].header("authorization"),
        None,
        "the registry's token must not reach another origin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_per_registry_are_limited_by_a_semaphore() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for (limit, want_parallel) in [(1, false), (4, true)] {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (i, p) = (in_flight.clone(), peak.clone());
        // Every request holds its connection for 50 ms.
        let server = TestServer::http(move |_| {
            let now = i.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            i.fetch_sub(1, Ordering::SeqCst);
            json(404, "{}")
        })
        .await;
        let mut cfg = RegistryConfig {
            plain_http: vec![server.addr.to_string()],
            ..RegistryConfig::default()
        };
        cfg.max_concurrency = limit;
        let client = RegistryClient::new(fetcher(test_config(&[])), cfg);
        let digest = Sha256Digest::of(b"image");
        let image = ImageRef::parse(&format!("{}/org/app@{digest}", server.addr)).unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (client, image) = (client.clone(), image.clone());
                tokio::spawn(async move { client.discover(&image, &digest, &ALL, &[]).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap().candidates.is_empty());
        }
        let peak = peak.load(Ordering::SeqCst);
        if want_parallel {
            assert!(peak > 1, "limit {limit}: peak {peak}");
        } else {
            assert_eq!(peak, 1, "limit {limit}");
        }
    }
}

#[tokio::test]
async fn an_identity_token_is_exchanged_with_the_refresh_token_grant() {
    let fake = Fake::start(Options {
        auth: Auth::Bearer,
        ..Options::default()
    })
    .await;
    let subject = fake.image_manifest();
    let doc = format!(
        r#"{{"auths":{{"{}":{{"username":"00000000-0000-0000-0000-000000000000","identitytoken":"itok"}}}}}}"#,
        fake.host()
    );
    let creds = vec![DockerConfig::parse("acr", doc.as_bytes(), 1024).unwrap()];
    client(&fake)
        .discover(&fake.image(&subject), &subject, &ALL, &creds)
        .await
        .unwrap();
    let token_posts: Vec<_> = fake
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token")
        .collect();
    assert_eq!(token_posts.len(), 1);
    assert_eq!(token_posts[0].method, "POST");
    assert_eq!(token_posts[0].header("authorization"), None);
}

#[tokio::test]
async fn an_expired_token_is_fetched_again() {
    let fake = Fake::start(Options {
        auth: Auth::Bearer,
        expires_in: 1,
        ..Options::default()
    })
    .await;
    let subject = fake.image_manifest();
    let client = client(&fake);
    let creds = creds(&fake, "pass");
    let image = fake.image(&subject);
    client
        .discover(&image, &subject, &ALL, &creds)
        .await
        .unwrap();
    client
        .discover(&image, &subject, &ALL, &creds)
        .await
        .unwrap();
    assert_eq!(client.token_requests(), 1, "still valid");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .discover(&image, &subject, &ALL, &creds)
        .await
        .unwrap();
    assert_eq!(client.token_requests(), 2, "expired: fetched again");
    // An expired token is not sent: only the first request of the first and of the last
    // discovery went without one (and met the challenge).
    let anonymous = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v2/") && r.header("authorization").is_none())
        .count();
    assert_eq!(anonymous, 2);
}
