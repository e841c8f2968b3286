//! Fetching proof bundles and issuer directories over HTTP(S).
//!
//! One [`Fetcher`] (one connection pool) serves the whole operator. A fetch
//! is a `GET` with every limit enforced by us, not trusted to the server:
//!
//! - only `https` and `http` URLs, without credentials in them, and never to a host name
//!   reserved for documentation or tests (`.example`, `.test`, `.invalid`, `example.com`, …;
//!   see [`reserved`]), refused before any DNS query and not retried;
//! - a connect timeout and a timeout for each whole attempt (connection,
//!   headers and body), 5 s and 30 s by default;
//! - at most 3 redirects, never from `https` to `http`, never in a loop;
//! - at most `max_bytes` of body, refused early from `Content-Length` and
//!   enforced while streaming, so no more than `max_bytes` is ever buffered;
//! - an optional SHA-256 pin on the body;
//! - bounded retries with exponential backoff and jitter for transient
//!   failures only (connect errors, timeouts, HTTP 408, 429 and 5xx).
//!
//! The worst case of one fetch is therefore `attempts × timeout` plus the
//! backoff delays (about 95 s with the defaults).
//!
//! TLS is rustls with the `ring` provider, passed in explicitly (no process-wide
//! default is installed or needed). Server certificates are checked against the
//! system's roots (which honour `SSL_CERT_FILE` and `SSL_CERT_DIR` on Linux)
//! and/or extra roots given in [`FetchConfig`].

pub mod directory;
mod error;
mod network;
pub mod reserved;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use attestor_core::digest::Sha256Digest;
use reqwest::header::{ETAG, LAST_MODIFIED, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};

pub use error::{BodySize, FetchError, human_duration, human_size, reason};
pub use network::{Denial, IpNetwork, IpNetworkParseError, NetworkPolicy, default_denied_networks};
pub use reserved::{ReservedName, reserved_name};
pub use retry::RetryPolicy;

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("attestor/", env!("CARGO_PKG_VERSION"));

/// How the shared client behaves.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Time allowed to establish a connection (TCP and TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt, redirects and body included. Default 30 s.
    pub timeout: Duration,
    /// Redirects followed at most. Default 3.
    pub max_redirects: usize,
    pub retry: RetryPolicy,
    /// Trust the system's root certificates. Default true.
    pub system_roots: bool,
    /// DER certificates trusted as roots in addition to (or, with
    /// `system_roots` false, instead of) the system's.
    pub extra_roots_der: Vec<Vec<u8>>,
    /// Honour `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`. Default true.
    pub proxy_from_env: bool,
    /// Addresses never connected to, however a URL names them. Default: every address that is
    /// not globally reachable (see [`default_denied_networks`]).
    pub denied_networks: Vec<IpNetwork>,
    /// Addresses connected to even when `denied_networks` holds them (in-cluster stores).
    /// Default: none.
    pub allowed_networks: Vec<IpNetwork>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_redirects: 3,
            retry: RetryPolicy::default(),
            system_roots: true,
            extra_roots_der: Vec::new(),
            proxy_from_env: true,
            denied_networks: default_denied_networks(),
            allowed_networks: Vec::new(),
        }
    }
}

/// What the caller requires of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchExpect {
    /// The largest body accepted, in bytes.
    pub max_bytes: u64,
    /// The SHA-256 the body must have.
    pub digest: Option<Sha256Digest>,
    /// Where the URL came from, named in error messages ("check source.url").
    pub field: &'static str,
}

impl FetchExpect {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            digest: None,
            field: "the URL",
        }
    }

    pub fn with_digest(mut self, digest: Sha256Digest) -> Self {
        self.digest = Some(digest);
        self
    }

    /// Names the field the URL came from, e.g. `"source.url"`.
    pub fn for_field(mut self, field: &'static str) -> Self {
        self.field = field;
        self
    }
}

/// A body that met every expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub digest: Sha256Digest,
    /// The URL the body came from, after redirects.
    pub final_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Attempts it took, 1 when the first succeeded.
    pub attempts: u32,
}

/// What [`Fetcher::send`] sends: a method, headers and a body. The default is a plain GET.
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub method: reqwest::Method,
    pub headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    pub body: Option<Vec<u8>>,
}

/// A response of any status, from [`Fetcher::send`].
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// The body, at most `max_bytes` (empty for HEAD).
    pub bytes: Vec<u8>,
    pub digest: Sha256Digest,
    /// The URL the response came from, after redirects.
    pub final_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Response {
    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The client could not be built (no usable root certificates, a bad extra root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct FetcherSetupError(String);

/// Fetches URLs with the limits described in the [module documentation](self).
/// Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
    policy: Arc<NetworkPolicy>,
}

/// One attempt's failure, with what the server asked about retrying.
struct AttemptError {
    error: FetchError,
    retry_after: Option<Duration>,
}

impl From<FetchError> for AttemptError {
    fn from(error: FetchError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self, FetcherSetupError> {
        let tls = tls_config(&config)?;
        let policy = Arc::new(NetworkPolicy {
            denied: config.denied_networks.clone(),
            allowed: config.allowed_networks.clone(),
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .dns_resolver(Arc::new(network::DenyingResolver {
                policy: policy.clone(),
            }))
            .tls_backend_preconfigured(tls);
        if !config.proxy_from_env {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| FetcherSetupError(error_chain(&e)))?;
        Ok(Self {
            client,
            config: Arc::new(config),
            policy,
        })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Checks the host of `target` before anything is sent: a reserved name is refused here,
    /// before the resolver (or a proxy) is ever asked about it, and an IP literal is checked
    /// against the network policy (names are checked by the resolver, which the connector
    /// does not call for literals). The host is as the URL parser normalised it:
    /// `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.0.0.1.` are all `127.0.0.1` here.
    fn check_host(&self, url: &str, target: &Url, field: &'static str) -> Result<(), FetchError> {
        if let Some(url::Host::Domain(host)) = target.host()
            && let Some(kind) = reserved_name(host)
        {
            return Err(FetchError::ReservedHost {
                url: url.to_string(),
                host: host.to_string(),
                kind,
                field,
            });
        }
        let Some(ip) = literal_ip(target) else {
            return Ok(());
        };
        self.policy
            .check(ip)
            .map_err(|denial| FetchError::DeniedAddress {
                url: url.to_string(),
                host: target.host_str().unwrap_or_default().to_string(),
                address: ip,
                carried: denial.carried,
                network: denial.network.to_string(),
                field,
            })
    }

    /// GETs `url`, following redirects and retrying transient failures, and
    /// returns the body once it is within `expect.max_bytes` and matches
    /// `expect.digest`.
    pub async fn fetch(&self, url: &str, expect: FetchExpect) -> Result<Fetched, FetchError> {
        let start = parse_url(url, expect.field)?;
        let max_attempts = self.config.retry.max_attempts();
        let mut attempt = 1;
        loop {
            tracing::debug!(url, attempt, "fetching");
            let result =
                match tokio::time::timeout(self.config.timeout, self.attempt(url, &start, &expect))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(AttemptError::from(FetchError::Timeout {
                        url: url.to_string(),
                        after: self.config.timeout,
                        attempts: 1,
                    })),
                };
            match result {
                Ok(mut fetched) => {
                    fetched.attempts = attempt;
                    if let Some(expected) = expect.digest
                        && fetched.digest != expected
                    {
                        return Err(FetchError::DigestMismatch {
                            url: url.to_string(),
                            expected,
                            actual: fetched.digest,
                        });
                    }
                    return Ok(fetched);
                }
                Err(AttemptError {
                    mut error,
                    retry_after,
                }) => {
                    error.set_attempts(attempt);
                    if !error.is_transient() || attempt >= max_attempts {
                        return Err(error);
                    }
                    let delay = self.config.retry.delay(attempt, retry_after);
                    tracing::info!(
                        url,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "transient fetch failure; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt of a GET: the redirect chain, then the body (a non-2xx status is an error).
    async fn attempt(
        &self,
        url: &str,
        start: &Url,
        expect: &FetchExpect,
    ) -> Result<Fetched, AttemptError> {
        let exchanged = self
            .exchange(url, start, &RequestSpec::default(), expect, true)
            .await?;
        Ok(Fetched {
            bytes: exchanged.bytes,
            digest: exchanged.digest,
            final_url: exchanged.final_url,
            etag: exchanged.etag,
            last_modified: exchanged.last_modified,
            attempts: 1,
        })
    }

    /// Sends one request (no retries: the caller decides what a status means and how to back
    /// off) under the same rules as [`Fetcher::fetch`]: the address policy on every connection,
    /// the redirect rules (followed for GET and HEAD only; `Authorization` is not carried to
    /// another origin), the attempt timeout, and `expect.max_bytes` on the body of any status.
    /// `expect.digest` is not checked here; the response's digest is returned.
    pub async fn send(
        &self,
        url: &str,
        spec: &RequestSpec,
        expect: FetchExpect,
    ) -> Result<Response, FetchError> {
        let start = parse_url(url, expect.field)?;
        let exchanged = tokio::time::timeout(
            self.config.timeout,
            self.exchange(url, &start, spec, &expect, false),
        )
        .await
        .map_err(|_| FetchError::Timeout {
            url: url.to_string(),
            after: self.config.timeout,
            attempts: 1,
        })?
        .map_err(|e| e.error)?;
        Ok(exchanged)
    }

    /// The redirect chain, then the body. With `fail_on_status`, a final non-2xx status is an
    /// error (its body unread); otherwise it is returned with its (bounded) body.
    async fn exchange(
        &self,
        url: &str,
        start: &Url,
        spec: &RequestSpec,
        expect: &FetchExpect,
        fail_on_status: bool,
    ) -> Result<Response, AttemptError> {
        let field = expect.field;
        let mut current = start.clone();
        let mut chain = vec![start.clone()];
        let follows = spec.method == reqwest::Method::GET || spec.method == reqwest::Method::HEAD;
        let mut response = loop {
            // Reserved names and IP literals are checked here, before any query or connection;
            // other names are checked by the resolver.
            self.check_host(url, &current, field)?;
            let mut request = self.client.request(spec.method.clone(), current.clone());
            let same_origin = current.origin() == start.origin();
            for (name, value) in &spec.headers {
                if same_origin || *name != reqwest::header::AUTHORIZATION {
                    request = request.header(name, value);
                }
            }
            if let Some(body) = &spec.body {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(|e| classify(url, &e, field))?;
            let status = response.status();
            if !follows || !is_followed_redirect(status) {
                break response;
            }
            let chain_text = |chain: &[Url]| chain.iter().map(Url::to_string).collect::<Vec<_>>();
            let bad = |detail: String| FetchError::BadRedirect {
                url: url.to_string(),
                from: current.to_string(),
                detail,
                field,
            };
            let location = response
                .headers()
                .get(LOCATION)
                .ok_or_else(|| {
                    bad(format!(
                        "HTTP {} without a Location header",
                        status.as_u16()
                    ))
                })?
                .to_str()
                .map_err(|_| bad("the Location header is not ASCII text".into()))?;
            let next = current
                .join(location)
                .map_err(|e| bad(format!("Location {location:?} is not a valid URL: {e}")))?;
            match next.scheme() {
                "https" => {}
                "http" if current.scheme() == "http" => {}
                "http" => {
                    return Err(FetchError::InsecureRedirect {
                        url: url.to_string(),
                        from: current.to_string(),
                        to: next.to_string(),
                        field,
                    }
                    .into());
                }
                other => {
                    return Err(bad(format!(
                        "Location {next} has the unsupported scheme \"{other}\""
                    ))
                    .into());
                }
            }
            if has_credentials(&next) {
                return Err(bad(format!(
                    "Location {} carries credentials",
                    redact_credentials(&next)
                ))
                .into());
            }
            if chain.contains(&next) {
                chain.push(next);
                return Err(FetchError::RedirectLoop {
                    url: url.to_string(),
                    chain: chain_text(&chain),
                    field,
                }
                .into());
            }
            if chain.len() > self.config.max_redirects {
                chain.push(next);
                return Err(FetchError::TooManyRedirects {
                    url: url.to_string(),
                    max: self.config.max_redirects,
                    chain: chain_text(&chain),
                    field,
                }
                .into());
            }
            tracing::debug!(url, from = %current, to = %next, "following redirect");
            chain.push(next.clone());
            current = next;
        };

        let status = response.status();
        if fail_on_status && !status.is_success() {
            return Err(AttemptError {
                retry_after: retry_after(&response),
                error: FetchError::Http {
                    url: url.to_string(),
                    status: status.as_u16(),
                    attempts: 1,
                    field,
                },
            });
        }

        let too_large = |size: BodySize| FetchError::TooLarge {
            url: url.to_string(),
            size,
            limit: expect.max_bytes,
            field,
        };
        let declared = response.content_length();
        if spec.method == reqwest::Method::HEAD {
            // A HEAD's Content-Length is that of the GET it stands for; there is no body.
            let headers = response.headers().clone();
            return Ok(Response {
                status: status.as_u16(),
                etag: None,
                last_modified: None,
                headers,
                digest: Sha256Digest::of(b""),
                bytes: Vec::new(),
                final_url: current.to_string(),
            });
        }
        if let Some(n) = declared
            && n > expect.max_bytes
        {
            return Err(too_large(BodySize::Declared(n)).into());
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let headers = response.headers().clone();

        // Bounded by max_bytes, whatever the server declared.
        let capacity = declared.unwrap_or(0).min(expect.max_bytes).min(1 << 20);
        let mut bytes = Vec::with_capacity(capacity as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify(url, &e, expect.field))?
        {
            let total = bytes.len() as u64 + chunk.len() as u64;
            if total > expect.max_bytes {
                return Err(too_large(BodySize::AtLeast(total)).into());
            }
            bytes.extend_from_slice(&chunk);
        }
        let digest = Sha256Digest::of(&bytes);
        Ok(Response {
            status: status.as_u16(),
            headers,
            bytes,
            digest,
            final_url: current.to_string(),
            etag,
            last_modified,
        })
    }
}

fn tls_config(config: &FetchConfig) -> Result<rustls::ClientConfig, FetcherSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra = config
        .extra_roots_der
        .iter()
        .map(|der| rustls::pki_types::CertificateDer::from(der.clone()));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| FetcherSetupError(format!("TLS versions: {e}")))?;
    let mut tls = if config.system_roots {
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
            extra,
            provider.clone(),
        )
        .map_err(|e| {
            FetcherSetupError(format!(
                "loading root certificates: {e} (install CA certificates, set SSL_CERT_FILE, \
                         or give extra roots)"
            ))
        })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for (i, cert) in extra.enumerate() {
            roots.add(cert).map_err(|e| {
                FetcherSetupError(format!("extra root certificate #{}: {e}", i + 1))
            })?;
        }
        if roots.is_empty() {
            return Err(FetcherSetupError(
                "no root certificates: enable the system roots or give extra roots".into(),
            ));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// Parses and vets a URL given by a user.
fn parse_url(text: &str, field: &'static str) -> Result<Url, FetchError> {
    let invalid = |detail: String| FetchError::InvalidUrl {
        url: text.to_string(),
        detail,
        field,
    };
    let url = Url::parse(text).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "https" | "http" => {}
        other => {
            return Err(FetchError::UnsupportedScheme {
                url: text.to_string(),
                scheme: other.to_string(),
                field,
            });
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    if has_credentials(&url) {
        return Err(FetchError::CredentialsInUrl {
            url: redact_credentials(&url),
            field,
        });
    }
    Ok(url)
}

/// The address of a URL whose host is an IP literal.
fn literal_ip(url: &Url) -> Option<std::net::IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(v4.into()),
        url::Host::Ipv6(v6) => Some(v6.into()),
        url::Host::Domain(_) => None,
    }
}

fn has_credentials(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

fn redact_credentials(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `Retry-After` in seconds on a 429 or 503 (HTTP dates are ignored).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    if !matches!(response.status().as_u16(), 429 | 503) {
        return None;
    }
    let text = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Turns a reqwest error into a [`FetchError`]; `attempts` is set by the caller.
fn classify(url: &str, error: &reqwest::Error, field: &'static str) -> AttemptError {
    let detail = root_cause(error);
    let error = if let Some(denied) = find_in_chain::<network::DeniedResolution>(error) {
        FetchError::DeniedAddress {
            url: url.to_string(),
            host: denied.host.clone(),
            address: denied.address,
            carried: denied.denial.carried,
            network: denied.denial.network.to_string(),
            field,
        }
    } else if let Some(tls) = find_tls_error(error) {
        FetchError::Tls {
            url: url.to_string(),
            detail: tls,
        }
    } else if error.is_connect() {
        FetchError::Connect {
            url: url.to_string(),
            detail: if error.is_timeout() {
                "no connection within the connect timeout".into()
            } else {
                detail
            },
            attempts: 1,
        }
    } else {
        FetchError::Transport {
            url: url.to_string(),
            detail,
            attempts: 1,
        }
    };
    error.into()
}

fn find_in_chain<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The innermost cause, which is what says what actually went wrong.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Every message in the chain, for setup errors.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

/// A rustls error anywhere in the chain. `io::Error::source` skips the error
/// it wraps (and io errors nest), so io errors are unwrapped by hand.
fn find_tls_error(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_vetted() {
        assert!(parse_url("https://example.test/b.zip", "source.url").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/b.zip", "source.url").is_ok());
        let e = parse_url("file:///etc/passwd", "source.url").unwrap_err();
        assert!(matches!(e, FetchError::UnsupportedScheme { .. }), "{e:?}");
        assert_eq!(e.reason(), "InvalidSourceUrl");
        let e = parse_url("ftp://example.test/b.zip", "source.url").unwrap_err();
        assert!(e.to_string().contains("scheme \"ftp\""), "{e}");
        let e = parse_url("not a url", "source.url").unwrap_err();
        assert!(matches!(e, FetchError::InvalidUrl { .. }), "{e:?}");
        assert!(e.to_string().contains("source.url"), "{e}");
        let e = parse_url("https://user:secret@example.test/b.zip", "source.url").unwrap_err();
        assert!(matches!(e, FetchError::CredentialsInUrl { .. }), "{e:?}");
        assert_eq!(e.reason(), "InvalidSourceUrl");
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(parse_url("https://", "source.url").is_err());
    }
}
