//! The OCI registry client: what a registry holds about an image digest (signatures,
//! attestations, Sigstore bundles, proof bundles), and publishing proof bundles.
//!
//! Written on the operator's guarded [`Fetcher`] rather than on a registry crate (`oci-client`
//! builds its own HTTP client, follows redirects itself and reads bodies unbounded), so that the
//! address policy applies after DNS to every connection and every redirect (blob redirects to
//! storage included), every manifest, referrers page and blob is bounded in bytes and time
//! before it is parsed, and every body's SHA-256 is checked against the digest asked for. What
//! the bytes mean is decided by the pure `attestor-oci` crate.
//!
//! - Authentication: anonymous, Basic and Bearer through the `WWW-Authenticate` challenge flow;
//!   tokens are cached per registry, repository, scope and credential until shortly before they
//!   expire (a token obtained with one Secret never serves another).
//! - `429` (with `Retry-After`) and 5xx back the whole registry off, not only the request; at
//!   most [`RegistryConfig::max_concurrency`] requests run at once per registry.
//! - Mirror rules send a registry's requests to its mirror; plain HTTP only to the hosts listed
//!   in [`RegistryConfig::plain_http`].

mod error;
pub mod verdict;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attestor_core::digest::Sha256Digest;
use attestor_oci::auth::{
    BearerChallenge, basic_authorization, parse_challenges, parse_token_response, repository_scope,
};
use attestor_oci::classify::{CandidateKind, classify};
use attestor_oci::credentials::{Credential, DockerConfig};
use attestor_oci::manifest::{
    Descriptor, ImageIndex, ImageManifest, Limits, MANIFEST_ACCEPT, Manifest, OCI_INDEX,
    OCI_MANIFEST, essence, parse_index, parse_manifest,
};
use attestor_oci::mirror::{MirrorRule, mirror_for};
use attestor_oci::reference::ImageRef;
use attestor_oci::referrers::{
    add_to_fallback_index, fallback_tag, legacy_attestation_tag, legacy_signature_tag, next_link,
    referrers_path,
};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::Semaphore;
use tokio::time::Instant;

pub use error::{RegistryError, reason};

use crate::fetch::{FetchError, FetchExpect, Fetcher, RequestSpec, Response, RetryPolicy};

/// How the registry client behaves.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub limits: Limits,
    pub mirrors: Vec<MirrorRule>,
    /// `host:port` of registries spoken to over plain HTTP (tests, local registries).
    pub plain_http: Vec<String>,
    /// Requests in flight at most per registry host.
    pub max_concurrency: usize,
    /// Attempts per request on 429, 5xx and transport failures, the first included.
    pub retry: RetryPolicy,
    /// The longest `Retry-After` (or backoff) waited for; longer is reported as
    /// [`RegistryError::RateLimited`] at once.
    pub max_wait: Duration,
    /// Referrers pages followed at most.
    pub max_pages: usize,
    /// Candidates examined at most per digest.
    pub max_candidates: usize,
    /// The largest token-service response.
    pub max_token_bytes: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            mirrors: Vec::new(),
            plain_http: Vec::new(),
            max_concurrency: 4,
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(10),
            },
            max_wait: Duration::from_secs(10),
            max_pages: 16,
            max_candidates: 64,
            max_token_bytes: 64 << 10,
        }
    }
}

/// Where the candidates came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The OCI 1.1 referrers API.
    Referrers,
    /// The referrers tag schema's `sha256-<hex>` index (registries without the API).
    FallbackTag,
    /// cosign's `sha256-<hex>.sig` tag.
    LegacySignatureTag,
    /// cosign's `sha256-<hex>.att` tag.
    LegacyAttestationTag,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Referrers => "referrers",
            Source::FallbackTag => "fallbackTag",
            Source::LegacySignatureTag => "legacySignatureTag",
            Source::LegacyAttestationTag => "legacyAttestationTag",
        }
    }
}

/// One thing found for a digest.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The candidate manifest's descriptor (as listed, or computed for a legacy tag).
    pub descriptor: Descriptor,
    pub kind: CandidateKind,
    pub source: Source,
    /// Its manifest, when it is an image manifest.
    pub manifest: Option<ImageManifest>,
    /// Why it is Unknown, or what was ignored.
    pub note: Option<String>,
    /// The layers that carry the signature material, with their verified bytes.
    pub layers: Vec<(Descriptor, Vec<u8>)>,
}

impl Candidate {
    /// The manifest's annotations (empty without a manifest).
    pub fn annotations(&self) -> impl Iterator<Item = (&String, &String)> {
        self.manifest.iter().flat_map(|m| m.annotations.iter())
    }
}

/// What a registry holds about a digest.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub candidates: Vec<Candidate>,
    /// How the referrers were listed: the API or the fallback tag.
    pub source: Source,
    /// HTTP requests made (token requests included).
    pub requests: u32,
    /// More candidates were listed than were examined.
    pub truncated: bool,
}

impl Discovery {
    /// `NoSignaturesFound` when nothing of a known kind was found.
    pub fn reason(&self) -> Option<&'static str> {
        (!self
            .candidates
            .iter()
            .any(|c| c.kind != CandidateKind::Unknown))
        .then_some(reason::NO_SIGNATURES_FOUND)
    }
}

/// A pushed proof bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The artifact manifest's digest.
    pub digest: Sha256Digest,
    /// The registry indexed the subject itself (`OCI-Subject` header).
    pub referrers_api: bool,
    /// The fallback tag `sha256-<hex>` was updated (registries without the referrers API).
    pub fallback_tag: Option<String>,
    pub requests: u32,
}

/// Cached tokens and per-registry state, shared by clones.
#[derive(Debug, Default)]
struct State {
    /// (host, repository, scope, credential id) -> (token, expiry).
    tokens: HashMap<(String, String, String, String), (String, Instant)>,
    /// Hosts that asked for Basic authentication.
    basic: HashSet<String>,
    /// Per host: no request before this instant (429, 5xx).
    not_before: HashMap<String, Instant>,
    semaphores: HashMap<String, Arc<Semaphore>>,
}

/// The registry client. Cheap to clone: clones share the token cache, the backoff state and
/// the concurrency limits.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    fetcher: Fetcher,
    config: Arc<RegistryConfig>,
    state: Arc<Mutex<State>>,
    token_requests: Arc<AtomicU32>,
}

/// One repository on one host, with the credential that applies.
struct Target<'a> {
    client: &'a RegistryClient,
    /// The registry as named in the reference (for messages).
    registry: String,
    /// The host requests go to (the API host, or the mirror).
    host: String,
    base: String,
    repository: String,
    credential: Option<(String, Credential)>,
    actions: &'static str,
    requests: AtomicU32,
}

const FIELD: &str = "the image reference";

impl RegistryClient {
    pub fn new(fetcher: Fetcher, config: RegistryConfig) -> Self {
        Self {
            fetcher,
            config: Arc::new(config),
            state: Arc::default(),
            token_requests: Arc::default(),
        }
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Token-service requests made so far by this client and its clones.
    pub fn token_requests(&self) -> u32 {
        self.token_requests.load(Ordering::Relaxed)
    }

    fn target<'a>(
        &'a self,
        image: &ImageRef,
        credentials: &[DockerConfig],
        actions: &'static str,
    ) -> Target<'a> {
        let host = mirror_for(&self.config.mirrors, &image.registry)
            .unwrap_or_else(|| image.api_host())
            .to_string();
        let plain = self
            .config
            .plain_http
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host));
        let scheme = if plain { "http" } else { "https" };
        // Credentials are those of the host actually spoken to: a mirror gets the mirror's,
        // never the mirrored registry's (which would hand, say, Docker Hub credentials to it).
        let credential = attestor_oci::credentials::lookup(credentials, &host, &image.repository)
            .map(|(config, entry)| {
                (
                    format!("{}#{}", config.source_name, entry.key),
                    entry.credential.clone(),
                )
            });
        Target {
            client: self,
            registry: image.registry.clone(),
            base: format!("{scheme}://{host}"),
            host,
            repository: image.repository.clone(),
            credential,
            actions,
            requests: AtomicU32::new(0),
        }
    }

    /// Lists and classifies what the registry holds for `digest` in `image`'s repository:
    /// referrers through the API (following `Link` pages), or, on 404, 400 or 406, through the
    /// fallback tag; then cosign's legacy `.sig` and `.att` tags. Candidates of a kind not in
    /// `kinds` are dropped (Unknown ones are kept when `kinds` holds
    /// [`CandidateKind::Unknown`]); the layers of the others are downloaded and checked.
    pub async fn discover(
        &self,
        image: &ImageRef,
        digest: &Sha256Digest,
        kinds: &[CandidateKind],
        credentials: &[DockerConfig],
    ) -> Result<Discovery, RegistryError> {
        let t = self.target(image, credentials, "pull");
        let (listed, source) = t.list_referrers(digest).await?;
        let mut candidates = Vec::new();
        let mut truncated = false;
        let mut seen = HashSet::new();
        for descriptor in listed {
            if candidates.len() >= self.config.max_candidates {
                truncated = true;
                break;
            }
            if !seen.insert(descriptor.digest.clone()) {
                continue;
            }
            let candidate = t.examine(descriptor, source, Some(digest)).await?;
            if kinds.contains(&candidate.kind) {
                candidates.push(candidate);
            }
        }
        let legacy = [
            (
                CandidateKind::CosignSignature,
                legacy_signature_tag(digest),
                Source::LegacySignatureTag,
            ),
            (
                CandidateKind::CosignAttestation,
                legacy_attestation_tag(digest),
                Source::LegacyAttestationTag,
            ),
        ];
        for (kind, tag, source) in legacy {
            if !kinds.contains(&kind) {
                continue;
            }
            let Some((bytes, content_type, url)) = t.get_manifest_by_tag(&tag).await? else {
                continue;
            };
            let descriptor = Descriptor::of(
                &content_type.unwrap_or_else(|| OCI_MANIFEST.to_string()),
                &bytes,
            );
            if !seen.insert(descriptor.digest.clone()) {
                continue;
            }
            let manifest = parse_manifest(
                &url,
                &bytes,
                Some(&descriptor.media_type),
                &self.config.limits,
            )
            .map_err(|e| t.invalid(&url, e))?;
            let candidate = t.classified(descriptor, manifest, source, None).await?;
            if kinds.contains(&candidate.kind) {
                candidates.push(candidate);
            }
        }
        Ok(Discovery {
            candidates,
            source,
            requests: t.requests.load(Ordering::Relaxed),
            truncated,
        })
    }

    /// Publishes `bundle` (a proof bundle's ZIP bytes) as an OCI 1.1 artifact whose subject is
    /// `image`'s digest, and, when the registry does not index subjects itself, adds it to the
    /// fallback tag `sha256-<hex>` as the referrers tag schema says.
    pub async fn push_proof_bundle(
        &self,
        image: &ImageRef,
        bundle: &[u8],
        created: Option<&str>,
        credentials: &[DockerConfig],
    ) -> Result<Pushed, RegistryError> {
        let digest = image.digest.ok_or_else(|| {
            RegistryError::Oci(attestor_oci::OciError::InvalidReference {
                reference: image.to_string(),
                detail: "pin the image by digest (REF@sha256:...)".into(),
            })
        })?;
        let t = self.target(image, credentials, "pull,push");
        // The subject's descriptor needs its media type and size: read its manifest.
        let (subject_bytes, subject_type) = t.get_manifest_by_digest(&digest).await?;
        let subject_type = match subject_type {
            Some(mt) => mt,
            None => match parse_manifest(
                "the image manifest",
                &subject_bytes,
                None,
                &self.config.limits,
            )? {
                Manifest::Image(m) => m.media_type.unwrap_or_else(|| OCI_MANIFEST.into()),
                Manifest::Index(i) => i.media_type.unwrap_or_else(|| OCI_INDEX.into()),
            },
        };
        let subject = Descriptor::of(&subject_type, &subject_bytes);
        let (manifest, manifest_bytes) =
            attestor_oci::artifact::proof_bundle_manifest(subject, bundle, created);
        t.put_blob(&manifest.config, attestor_oci::artifact::EMPTY_CONFIG)
            .await?;
        t.put_blob(&manifest.layers[0], bundle).await?;
        let manifest_digest = Sha256Digest::of(&manifest_bytes);
        let response = t
            .put_manifest(&manifest_digest.to_string(), OCI_MANIFEST, &manifest_bytes)
            .await?;
        let referrers_api = response.header("oci-subject").is_some();
        let mut fallback = None;
        if !referrers_api {
            let tag = fallback_tag(&digest);
            let existing = match t.get_manifest_by_tag(&tag).await? {
                None => None,
                Some((bytes, _, url)) => Some(
                    parse_index(&url, &bytes, &self.config.limits)
                        .map_err(|e| t.invalid(&url, e))?,
                ),
            };
            let mut entry = Descriptor::of(OCI_MANIFEST, &manifest_bytes);
            entry.artifact_type = manifest.artifact_type.clone();
            entry.annotations = manifest.annotations.clone();
            let index: ImageIndex = add_to_fallback_index(existing, entry);
            let bytes = serde_json::to_vec(&index).expect("an index serializes");
            t.put_manifest(&tag, OCI_INDEX, &bytes).await?;
            fallback = Some(tag);
        }
        Ok(Pushed {
            digest: manifest_digest,
            referrers_api,
            fallback_tag: fallback,
            requests: t.requests.load(Ordering::Relaxed),
        })
    }

    /// Pushes a minimal OCI image (`config` and `layers` as given) and tags it with `image`'s
    /// tag (or `latest`); returns its manifest's digest. For tests, benchmarks and demos that
    /// need an image in a registry without a container engine.
    pub async fn push_image(
        &self,
        image: &ImageRef,
        config: &[u8],
        layers: &[&[u8]],
        credentials: &[DockerConfig],
    ) -> Result<Sha256Digest, RegistryError> {
        let t = self.target(image, credentials, "pull,push");
        let config_descriptor = Descriptor::of("application/vnd.oci.image.config.v1+json", config);
        t.put_blob(&config_descriptor, config).await?;
        let mut descriptors = Vec::new();
        for layer in layers {
            let d = Descriptor::of("application/vnd.oci.image.layer.v1.tar", layer);
            t.put_blob(&d, layer).await?;
            descriptors.push(d);
        }
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_string()),
            artifact_type: None,
            config: config_descriptor,
            layers: descriptors,
            subject: None,
            annotations: Default::default(),
        };
        let bytes = serde_json::to_vec(&manifest).expect("a manifest serializes");
        let tag = image.tag.clone().unwrap_or_else(|| "latest".to_string());
        t.put_manifest(&tag, OCI_MANIFEST, &bytes).await?;
        Ok(Sha256Digest::of(&bytes))
    }

    /// The proof bundles published for `image`'s digest, newest first (by their
    /// `org.opencontainers.image.created` annotation), with the discovery that found them.
    pub async fn pull_proof_bundles(
        &self,
        image: &ImageRef,
        credentials: &[DockerConfig],
    ) -> Result<(Vec<Candidate>, Discovery), RegistryError> {
        let digest = image.digest.ok_or_else(|| {
            RegistryError::Oci(attestor_oci::OciError::InvalidReference {
                reference: image.to_string(),
                detail: "pin the image by digest (REF@sha256:...)".into(),
            })
        })?;
        let discovery = self
            .discover(image, &digest, &[CandidateKind::ProofBundle], credentials)
            .await?;
        let mut bundles = discovery.candidates.clone();
        let created = |c: &Candidate| {
            c.annotations()
                .find(|(k, _)| *k == "org.opencontainers.image.created")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        bundles.sort_by_key(|c| std::cmp::Reverse(created(c)));
        Ok((bundles, discovery))
    }
}

/// What a request expects of its body and its status.
struct Ask<'a> {
    method: Method,
    url: String,
    accept: Option<&'a str>,
    content_type: Option<&'a str>,
    body: Option<Vec<u8>>,
    max_bytes: usize,
}

impl Target<'_> {
    fn invalid(&self, url: &str, detail: impl std::fmt::Display) -> RegistryError {
        RegistryError::Invalid {
            registry: self.registry.clone(),
            url: url.to_string(),
            detail: detail.to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn semaphore(&self) -> Arc<Semaphore> {
        let mut state = self.client.state.lock().expect("registry state");
        state
            .semaphores
            .entry(self.host.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.client.config.max_concurrency.max(1))))
            .clone()
    }

    /// Waits out the registry's backoff, or fails when it is longer than `max_wait`.
    async fn wait_for_backoff(&self, attempts: u32) -> Result<(), RegistryError> {
        let until = self
            .client
            .state
            .lock()
            .expect("registry state")
            .not_before
            .get(&self.host)
            .copied();
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                let wait = until - now;
                if wait > self.client.config.max_wait {
                    return Err(RegistryError::RateLimited {
                        registry: self.registry.clone(),
                        retry_after: Some(wait),
                        attempts,
                    });
                }
                tokio::time::sleep_until(until).await;
            }
        }
        Ok(())
    }

    fn back_off(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut state = self.client.state.lock().expect("registry state");
        let entry = state.not_before.entry(self.host.clone()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    fn credential_id(&self) -> String {
        self.credential
            .as_ref()
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    }

    fn scope(&self) -> String {
        repository_scope(&self.repository, self.actions)
    }

    /// The Authorization header to send before any challenge (a cached token, or Basic for a
    /// host that asked for it).
    /// What a cached token is filed under: a token serves only the registry, repository,
    /// scope and credential it was issued for.
    fn token_key(&self) -> (String, String, String, String) {
        (
            self.host.clone(),
            self.repository.clone(),
            self.scope(),
            self.credential_id(),
        )
    }

    fn cached_authorization(&self) -> Option<String> {
        let mut state = self.client.state.lock().expect("registry state");
        let key = self.token_key();
        if let Some((token, expiry)) = state.tokens.get(&key) {
            if *expiry > Instant::now() {
                return Some(format!("Bearer {token}"));
            }
            state.tokens.remove(&key);
        }
        if state.basic.contains(&self.host)
            && let Some((_, Credential::Basic { username, password })) = &self.credential
        {
            return Some(basic_authorization(username, password));
        }
        None
    }

    fn forget_token(&self) {
        let key = self.token_key();
        self.client
            .state
            .lock()
            .expect("registry state")
            .tokens
            .remove(&key);
    }

    /// Sends `ask` with authentication, backoff and retries; returns the final response of any
    /// status other than 401, 429 and 5xx (which become errors after the retries).
    async fn send(&self, ask: &Ask<'_>) -> Result<Response, RegistryError> {
        let max_attempts = self.client.config.retry.attempts.max(1);
        let mut attempt = 0;
        let mut challenged = false;
        let mut authorization = self.cached_authorization();
        loop {
            attempt += 1;
            self.wait_for_backoff(attempt).await?;
            let mut spec = RequestSpec {
                method: ask.method.clone(),
                headers: Vec::new(),
                body: ask.body.clone(),
            };
            let mut header = |name: HeaderName, value: &str| {
                if let Ok(v) = HeaderValue::from_str(value) {
                    spec.headers.push((name, v));
                }
            };
            if let Some(accept) = ask.accept {
                header(reqwest::header::ACCEPT, accept);
            }
            if let Some(ct) = ask.content_type {
                header(reqwest::header::CONTENT_TYPE, ct);
            }
            if let Some(auth) = &authorization {
                header(reqwest::header::AUTHORIZATION, auth);
            }
            let expect = FetchExpect::new(ask.max_bytes as u64).for_field(FIELD);
            let result = {
                let semaphore = self.semaphore();
                let _permit = semaphore.acquire().await.expect("never closed");
                self.requests.fetch_add(1, Ordering::Relaxed);
                self.client.fetcher.send(&ask.url, &spec, expect).await
            };
            let response = match result {
                Ok(r) => r,
                Err(error) if error.is_transient() && attempt < max_attempts => {
                    let delay = self.client.config.retry.delay(attempt, None);
                    tracing::info!(url = %ask.url, attempt, error = %error, "registry request failed; retrying");
                    self.back_off(delay);
                    continue;
                }
                Err(error) => {
                    return Err(match error {
                        e @ (FetchError::Connect { .. }
                        | FetchError::Timeout { .. }
                        | FetchError::Transport { .. }
                        | FetchError::Tls { .. }) => RegistryError::Unavailable {
                            registry: self.registry.clone(),
                            detail: e.to_string(),
                        },
                        error => RegistryError::Fetch {
                            registry: self.registry.clone(),
                            error,
                        },
                    });
                }
            };
            match response.status {
                401 if !challenged => {
                    challenged = true;
                    if authorization
                        .as_deref()
                        .is_some_and(|a| a.starts_with("Bearer "))
                    {
                        self.forget_token();
                    }
                    authorization = Some(self.answer_challenge(&response).await?);
                    attempt -= 1;
                    continue;
                }
                401 | 403 => {
                    return Err(RegistryError::AuthFailed {
                        registry: self.registry.clone(),
                        repository: self.repository.clone(),
                        actions: self.actions,
                        detail: format!(
                            "{} {} answered HTTP {}{}{}",
                            ask.method,
                            ask.url,
                            response.status,
                            if authorization.is_some() {
                                " to the credentials sent"
                            } else {
                                ""
                            },
                            error_text(&response)
                        ),
                    });
                }
                429 => {
                    let retry_after = retry_after(&response);
                    let delay = self.client.config.retry.delay(attempt, retry_after);
                    let asked = retry_after.unwrap_or(delay);
                    self.back_off(asked);
                    if attempt >= max_attempts || asked > self.client.config.max_wait {
                        return Err(RegistryError::RateLimited {
                            registry: self.registry.clone(),
                            retry_after,
                            attempts: attempt,
                        });
                    }
                    tracing::info!(url = %ask.url, attempt, "registry rate limit; backing off");
                }
                s if s >= 500 => {
                    let delay = self
                        .client
                        .config
                        .retry
                        .delay(attempt, retry_after(&response));
                    self.back_off(delay);
                    if attempt >= max_attempts {
                        return Err(RegistryError::Unavailable {
                            registry: self.registry.clone(),
                            detail: format!(
                                "{} {} answered HTTP {s} {} times{}",
                                ask.method,
                                ask.url,
                                attempt,
                                error_text(&response)
                            ),
                        });
                    }
                }
                _ => return Ok(response),
            }
        }
    }

    /// Answers a 401's challenge: the Authorization header to retry with.
    async fn answer_challenge(&self, response: &Response) -> Result<String, RegistryError> {
        let auth_failed = |detail: String| RegistryError::AuthFailed {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            actions: self.actions,
            detail,
        };
        let header = response
            .header("www-authenticate")
            .ok_or_else(|| auth_failed("HTTP 401 without a WWW-Authenticate challenge".into()))?;
        let challenges = parse_challenges(header).map_err(|e| auth_failed(e.to_string()))?;
        if let Some(bearer) = challenges.iter().find_map(|c| c.bearer()) {
            if let Some((_, Credential::RegistryToken(token))) = &self.credential {
                return Ok(format!("Bearer {token}"));
            }
            let (token, lifetime) = self.fetch_token(&bearer).await?;
            let margin = (lifetime / 4).min(Duration::from_secs(10));
            let key = self.token_key();
            self.client
                .state
                .lock()
                .expect("registry state")
                .tokens
                .insert(key, (token.clone(), Instant::now() + lifetime - margin));
            return Ok(format!("Bearer {token}"));
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return match &self.credential {
                Some((_, Credential::Basic { username, password })) => {
                    self.client
                        .state
                        .lock()
                        .expect("registry state")
                        .basic
                        .insert(self.host.clone());
                    Ok(basic_authorization(username, password))
                }
                Some((id, _)) => Err(auth_failed(format!(
                    "the registry asks for Basic authentication; the credential {id} is a token"
                ))),
                None => Err(auth_failed(format!(
                    "the registry asks for a user name and password and none is configured for {}",
                    self.host
                ))),
            };
        }
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(auth_failed(format!(
            "unsupported authentication scheme(s) {}",
            schemes.join(", ")
        )))
    }

    /// Gets a token from a Bearer challenge's realm.
    async fn fetch_token(
        &self,
        bearer: &BearerChallenge,
    ) -> Result<(String, Duration), RegistryError> {
        let auth_failed = |detail: String| RegistryError::AuthFailed {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            actions: self.actions,
            detail,
        };
        let mut realm = url::Url::parse(&bearer.realm).map_err(|e| {
            auth_failed(format!(
                "the token realm {:?} is not a URL: {e}",
                bearer.realm
            ))
        })?;
        // Credentials go to the realm: only over https, unless its host is listed as plain.
        if realm.scheme() != "https" {
            let host_port = match (realm.host_str(), realm.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => String::new(),
            };
            let listed = self
                .client
                .config
                .plain_http
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host_port));
            if realm.scheme() != "http" || !listed {
                return Err(auth_failed(format!(
                    "the token realm {realm} is not https (list its host with --plain-http to allow it)"
                )));
            }
        }
        let mut scopes = vec![self.scope()];
        if let Some(s) = &bearer.scope
            && !scopes.contains(s)
        {
            scopes.push(s.clone());
        }
        let mut spec = RequestSpec::default();
        let mut form = Vec::new();
        match &self.credential {
            Some((_, Credential::IdentityToken { token, .. })) => {
                spec.method = Method::POST;
                form.push(("grant_type", "refresh_token".to_string()));
                form.push(("refresh_token", token.clone()));
                form.push(("client_id", "attestor".to_string()));
                if let Some(service) = &bearer.service {
                    form.push(("service", service.clone()));
                }
                form.push(("scope", scopes.join(" ")));
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish();
                spec.body = Some(body.into_bytes());
                spec.headers.push((
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                ));
            }
            other => {
                {
                    let mut query = realm.query_pairs_mut();
                    if let Some(service) = &bearer.service {
                        query.append_pair("service", service);
                    }
                    for scope in &scopes {
                        query.append_pair("scope", scope);
                    }
                }
                if let Some((_, Credential::Basic { username, password })) = other {
                    let value = HeaderValue::from_str(&basic_authorization(username, password))
                        .map_err(|_| {
                            auth_failed("the credentials are not valid header text".into())
                        })?;
                    spec.headers.push((reqwest::header::AUTHORIZATION, value));
                }
            }
        }
        let url = realm.to_string();
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.client.token_requests.fetch_add(1, Ordering::Relaxed);
        let expect = FetchExpect::new(self.client.config.max_token_bytes as u64).for_field(FIELD);
        let response = self
            .client
            .fetcher
            .send(&url, &spec, expect)
            .await
            .map_err(|e| RegistryError::Unavailable {
                registry: self.registry.clone(),
                detail: format!("token service: {e}"),
            })?;
        match response.status {
            200 => {}
            401 | 403 => {
                return Err(auth_failed(format!(
                    "the token service {} refused {} (HTTP {})",
                    redact_query(&url),
                    match &self.credential {
                        Some((id, _)) => format!("the credentials of {id}"),
                        None => "anonymous access".into(),
                    },
                    response.status
                )));
            }
            429 => {
                return Err(RegistryError::RateLimited {
                    registry: self.registry.clone(),
                    retry_after: retry_after(&response),
                    attempts: 1,
                });
            }
            s => {
                return Err(RegistryError::Unavailable {
                    registry: self.registry.clone(),
                    detail: format!("the token service {} answered HTTP {s}", redact_query(&url)),
                });
            }
        }
        let token = parse_token_response(&response.bytes, self.client.config.max_token_bytes)
            .map_err(|e| auth_failed(e.to_string()))?;
        Ok((token.token, token.lifetime))
    }

    /// GETs a manifest by tag or digest, bounded; `None` on 404, an error on any other
    /// non-200. Returns the URL too, for the caller's messages.
    async fn get_manifest(
        &self,
        reference: &str,
    ) -> Result<(String, Option<crate::fetch::Response>), RegistryError> {
        let url = self.url(&format!("/v2/{}/manifests/{reference}", self.repository));
        let response = self
            .send(&Ask {
                method: Method::GET,
                url: url.clone(),
                accept: Some(MANIFEST_ACCEPT),
                content_type: None,
                body: None,
                max_bytes: self.client.config.limits.max_manifest_bytes,
            })
            .await?;
        match response.status {
            200 => Ok((url, Some(response))),
            404 => Ok((url, None)),
            s => Err(self.status("GET", &url, s, &response)),
        }
    }

    /// GETs a manifest by digest, checks its digest; `(bytes, media type)`.
    async fn get_manifest_by_digest(
        &self,
        digest: &Sha256Digest,
    ) -> Result<(Vec<u8>, Option<String>), RegistryError> {
        let (url, response) = self.get_manifest(&digest.to_string()).await?;
        let Some(response) = response else {
            return Err(RegistryError::NotFound {
                registry: self.registry.clone(),
                what: format!("manifest {digest} of {}", self.repository),
                url,
            });
        };
        if response.digest != *digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.registry.clone(),
                url,
                expected: digest.to_string(),
                actual: response.digest,
            });
        }
        let content_type = response.header("content-type").map(str::to_string);
        Ok((response.bytes, content_type))
    }

    /// GETs a manifest by tag; `None` on 404. When the registry sends `Docker-Content-Digest`,
    /// the body must match it.
    async fn get_manifest_by_tag(
        &self,
        tag: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>, String)>, RegistryError> {
        let (url, response) = self.get_manifest(tag).await?;
        let Some(response) = response else {
            return Ok(None);
        };
        if let Some(header) = response.header("docker-content-digest")
            && let Ok(declared) = header.trim().parse::<Sha256Digest>()
            && declared != response.digest
        {
            return Err(RegistryError::DigestMismatch {
                registry: self.registry.clone(),
                url,
                expected: declared.to_string(),
                actual: response.digest,
            });
        }
        let content_type = response.header("content-type").map(str::to_string);
        Ok(Some((response.bytes, content_type, url)))
    }

    fn status(&self, method: &'static str, url: &str, status: u16, r: &Response) -> RegistryError {
        RegistryError::Status {
            registry: self.registry.clone(),
            method,
            url: url.to_string(),
            status,
            detail: error_text(r).trim_start_matches(": ").to_string(),
        }
    }

    /// The referrers of `digest`: through the API, or the fallback tag when the registry has
    /// no API (404, 400, 406, 405).
    async fn list_referrers(
        &self,
        digest: &Sha256Digest,
    ) -> Result<(Vec<Descriptor>, Source), RegistryError> {
        let limits = &self.client.config.limits;
        let mut url = self.url(&referrers_path(&self.repository, digest));
        let mut listed = Vec::new();
        let mut visited = HashSet::new();
        for page in 0.. {
            if page >= self.client.config.max_pages {
                tracing::warn!(url, "referrers: too many pages; the rest are ignored");
                break;
            }
            if !visited.insert(url.clone()) {
                return Err(
                    self.invalid(&url, "the referrers pages link back to a page already read")
                );
            }
            let response = self
                .send(&Ask {
                    method: Method::GET,
                    url: url.clone(),
                    accept: Some(OCI_INDEX),
                    content_type: None,
                    body: None,
                    max_bytes: limits.max_index_bytes,
                })
                .await?;
            match response.status {
                200 => {}
                404 | 400 | 405 | 406 if page == 0 => {
                    return self.list_fallback(digest).await;
                }
                s => return Err(self.status("GET", &url, s, &response)),
            }
            let index =
                parse_index(&url, &response.bytes, limits).map_err(|e| self.invalid(&url, e))?;
            listed.extend(index.manifests);
            if listed.len() > self.client.config.max_candidates * 4 {
                break;
            }
            match response.header("link").and_then(next_link) {
                Some(next) => {
                    let base = url::Url::parse(&url).map_err(|e| self.invalid(&url, e))?;
                    let next = base
                        .join(&next)
                        .map_err(|e| self.invalid(&url, format!("Link {next:?}: {e}")))?;
                    // Pages stay on the registry's host.
                    if next.origin() != base.origin() {
                        return Err(
                            self.invalid(&url, format!("the next page {next} is on another host"))
                        );
                    }
                    url = next.to_string();
                }
                None => break,
            }
        }
        Ok((listed, Source::Referrers))
    }

    async fn list_fallback(
        &self,
        digest: &Sha256Digest,
    ) -> Result<(Vec<Descriptor>, Source), RegistryError> {
        let tag = fallback_tag(digest);
        let Some((bytes, _, url)) = self.get_manifest_by_tag(&tag).await? else {
            return Ok((Vec::new(), Source::FallbackTag));
        };
        let index = parse_index(&url, &bytes, &self.client.config.limits)
            .map_err(|e| self.invalid(&url, e))?;
        Ok((index.manifests, Source::FallbackTag))
    }

    /// Fetches a listed candidate's manifest and classifies it.
    async fn examine(
        &self,
        descriptor: Descriptor,
        source: Source,
        subject: Option<&Sha256Digest>,
    ) -> Result<Candidate, RegistryError> {
        let unknown = |descriptor: Descriptor, note: String| Candidate {
            descriptor,
            kind: CandidateKind::Unknown,
            source,
            manifest: None,
            note: Some(note),
            layers: Vec::new(),
        };
        let mt = essence(&descriptor.media_type);
        if mt != OCI_MANIFEST && mt != attestor_oci::manifest::DOCKER_MANIFEST {
            return Ok(unknown(
                descriptor,
                format!("a {mt} is not an image manifest"),
            ));
        }
        let digest = match descriptor.sha256() {
            Ok(d) => d,
            Err(e) => return Ok(unknown(descriptor, e.to_string())),
        };
        if descriptor.size > self.client.config.limits.max_manifest_bytes as u64 {
            return Ok(unknown(
                descriptor.clone(),
                format!(
                    "its manifest is {} bytes, more than the {}-byte limit",
                    descriptor.size, self.client.config.limits.max_manifest_bytes
                ),
            ));
        }
        let (bytes, content_type) = match self.get_manifest_by_digest(&digest).await {
            Ok(found) => found,
            // Listed but gone (deleted since): reported, not fatal.
            Err(RegistryError::NotFound { .. }) => {
                return Ok(unknown(
                    descriptor,
                    "listed, but its manifest is not in the registry".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        let what = format!("manifest {digest}");
        let manifest = parse_manifest(
            &what,
            &bytes,
            content_type.as_deref(),
            &self.client.config.limits,
        )
        .map_err(|e| {
            self.invalid(
                &self.url(&format!("/v2/{}/manifests/{digest}", self.repository)),
                e,
            )
        })?;
        self.classified(descriptor, manifest, source, subject).await
    }

    /// Classifies a fetched manifest and downloads its relevant layers.
    async fn classified(
        &self,
        descriptor: Descriptor,
        manifest: Manifest,
        source: Source,
        subject: Option<&Sha256Digest>,
    ) -> Result<Candidate, RegistryError> {
        let manifest = match manifest {
            Manifest::Image(m) => m,
            Manifest::Index(_) => {
                return Ok(Candidate {
                    descriptor,
                    kind: CandidateKind::Unknown,
                    source,
                    manifest: None,
                    note: Some("an index, not an image manifest".into()),
                    layers: Vec::new(),
                });
            }
        };
        let mut classification = classify(&manifest);
        if let Some(subject) = subject {
            let names = manifest.subject.as_ref().map(|s| s.digest.as_str());
            if names != Some(subject.to_string().as_str()) {
                classification.kind = CandidateKind::Unknown;
                classification.layers.clear();
                classification.note = Some(format!(
                    "listed for {subject}, but its subject is {}",
                    names.unwrap_or("missing")
                ));
            }
        }
        let mut layers = Vec::new();
        for &i in &classification.layers {
            let layer = manifest.layers[i].clone();
            let bytes = self.get_blob(&layer).await?;
            layers.push((layer, bytes));
        }
        Ok(Candidate {
            descriptor,
            kind: classification.kind,
            source,
            manifest: Some(manifest),
            note: classification.note,
            layers,
        })
    }

    /// GETs a blob, bounded by its descriptor's size and the blob limit, and checks its digest.
    async fn get_blob(&self, layer: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        let max = self.client.config.limits.max_blob_bytes;
        let digest = layer.sha256()?;
        let url = self.url(&format!("/v2/{}/blobs/{digest}", self.repository));
        if layer.size > max as u64 {
            return Err(self.invalid(
                &url,
                format!(
                    "the layer is {} bytes, more than the {max}-byte limit",
                    layer.size
                ),
            ));
        }
        let response = self
            .send(&Ask {
                method: Method::GET,
                url: url.clone(),
                accept: None,
                content_type: None,
                body: None,
                max_bytes: layer.size as usize,
            })
            .await?;
        match response.status {
            200 => {}
            404 => {
                return Err(RegistryError::NotFound {
                    registry: self.registry.clone(),
                    what: format!("blob {digest}"),
                    url,
                });
            }
            s => return Err(self.status("GET", &url, s, &response)),
        }
        if response.digest != digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.registry.clone(),
                url,
                expected: digest.to_string(),
                actual: response.digest,
            });
        }
        Ok(response.bytes)
    }

    /// Uploads a blob unless the registry has it (monolithic upload: POST, then PUT).
    async fn put_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), RegistryError> {
        let digest = &descriptor.digest;
        let head_url = self.url(&format!("/v2/{}/blobs/{digest}", self.repository));
        let head = self
            .send(&Ask {
                method: Method::HEAD,
                url: head_url,
                accept: None,
                content_type: None,
                body: None,
                max_bytes: 0,
            })
            .await?;
        if head.status == 200 {
            return Ok(());
        }
        let post_url = self.url(&format!("/v2/{}/blobs/uploads/", self.repository));
        let started = self
            .send(&Ask {
                method: Method::POST,
                url: post_url.clone(),
                accept: None,
                content_type: None,
                body: Some(Vec::new()),
                max_bytes: 64 << 10,
            })
            .await?;
        if started.status != 202 {
            return Err(self.status("POST", &post_url, started.status, &started));
        }
        let location = started
            .header("location")
            .ok_or_else(|| self.invalid(&post_url, "HTTP 202 without a Location header"))?;
        let mut upload = url::Url::parse(&started.final_url)
            .and_then(|base| base.join(location))
            .map_err(|e| self.invalid(&post_url, format!("Location {location:?}: {e}")))?;
        upload.query_pairs_mut().append_pair("digest", digest);
        let upload = upload.to_string();
        let done = self
            .send(&Ask {
                method: Method::PUT,
                url: upload.clone(),
                accept: None,
                content_type: Some("application/octet-stream"),
                body: Some(bytes.to_vec()),
                max_bytes: 64 << 10,
            })
            .await?;
        if done.status != 201 {
            return Err(self.status("PUT", &upload, done.status, &done));
        }
        Ok(())
    }

    async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Response, RegistryError> {
        let url = self.url(&format!("/v2/{}/manifests/{reference}", self.repository));
        let response = self
            .send(&Ask {
                method: Method::PUT,
                url: url.clone(),
                accept: None,
                content_type: Some(media_type),
                body: Some(bytes.to_vec()),
                max_bytes: 64 << 10,
            })
            .await?;
        if response.status != 201 {
            return Err(self.status("PUT", &url, response.status, &response));
        }
        Ok(response)
    }
}

/// `Retry-After` in seconds (HTTP dates are not honoured: no clock is trusted for them).
fn retry_after(response: &Response) -> Option<Duration> {
    response
        .header("retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The registry's error text (`{"errors":[{"code":..,"message":..}]}`), shortened.
fn error_text(response: &Response) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    let Ok(parsed) = serde_json::from_slice::<Errors>(&response.bytes) else {
        return String::new();
    };
    let text: Vec<String> = parsed
        .errors
        .iter()
        .take(3)
        .map(|e| {
            format!(
                "{} {}",
                e.code.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("")
            )
            .trim()
            .chars()
            .take(200)
            .collect()
        })
        .collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", text.join("; "))
    }
}

fn redact_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// A Secret holds at most 1 MiB; a docker config far less.
const MAX_PULL_SECRET_BYTES: usize = 1 << 20;

/// The key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";

/// The registry credentials of a pull Secret (`kubernetes.io/dockerconfigjson`, as in a Pod's
/// `imagePullSecrets`). The error never quotes the Secret's contents: it reaches status and
/// Events.
pub fn pull_secret_credentials(
    namespace: &str,
    secret: &k8s_openapi::api::core::v1::Secret,
) -> Result<DockerConfig, String> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let invalid = || {
        format!(
            "Secret {namespace}/{name} is not a usable pull Secret: it must be of type kubernetes.io/dockerconfigjson with a key {DOCKER_CONFIG_JSON_KEY} holding a docker config.json (kubectl create secret docker-registry)"
        )
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(DOCKER_CONFIG_JSON_KEY))
        .ok_or_else(invalid)?;
    DockerConfig::parse(
        &format!("Secret {namespace}/{name}"),
        &bytes.0,
        MAX_PULL_SECRET_BYTES,
    )
    .map_err(|_| invalid())
}
