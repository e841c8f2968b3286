//! `/healthz`, `/readyz` and `/metrics`, on a port of their own.
//!
//! Kept apart from the admission webhook's TLS port so that the kubelet's
//! probes and Prometheus' scrapes need neither a certificate nor the
//! webhook's availability, and so that a flood of admission requests cannot
//! starve a probe into restarting the pod.
//!
//! Plain HTTP/1.1: that is all the kubelet and Prometheus speak to a target.
//! Each connection is served by its own task with a header read timeout, so a
//! slow or malformed client holds only its own connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// A client that has not sent a whole request head by then (or stays idle
/// that long between keep-alive requests) is disconnected. Probes and scrapes
/// send theirs at once; the kubelet's probe timeout defaults to 1 s.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight requests may take to finish once the server is told to stop.
/// Well under the pod's default 30 s termination grace period, which the
/// controllers' own shutdown needs too.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// After a failed `accept` (typically out of file descriptors), wait this long
/// before the next, rather than spinning on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {}", describe_bind_error(.source))]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn describe_bind_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "address in use: another process already listens on this port".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "address not available: it is not an address of this host".to_owned()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: ports below 1024 need CAP_NET_BIND_SERVICE".to_owned()
        }
        _ => e.to_string(),
    }
}

/// Binds the listener for [`serve`]. Apart from `serve` so that `attestor run`
/// fails at start-up, with the address in the message, before anything else is started.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

#[derive(Debug)]
struct Probe {
    ok: bool,
    reason: String,
}

/// What `/healthz` and `/readyz` answer, set by the rest of the operator.
///
/// Starts live and not ready ("starting"): the process is fine, but it has
/// not yet shown that it can do its work.
#[derive(Debug)]
pub struct Health {
    live: RwLock<Probe>,
    ready: RwLock<Probe>,
    /// Parts of the operator that must also be ready (e.g. the webhook), by name: the reason
    /// when not ready, absent when ready.
    components: RwLock<std::collections::BTreeMap<&'static str, String>>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

// A poisoned lock only means a writer panicked between two plain field assignments; the
// value is still a valid probe answer, and a probe endpoint must keep answering.
fn read(lock: &RwLock<Probe>) -> Result<(), String> {
    let probe = lock.read().unwrap_or_else(|p| p.into_inner());
    if probe.ok {
        Ok(())
    } else {
        Err(probe.reason.clone())
    }
}

fn write(lock: &RwLock<Probe>, ok: bool, reason: String) {
    *lock.write().unwrap_or_else(|p| p.into_inner()) = Probe { ok, reason };
}

impl Health {
    pub fn new() -> Self {
        Self {
            live: RwLock::new(Probe {
                ok: true,
                reason: String::new(),
            }),
            ready: RwLock::new(Probe {
                ok: false,
                reason: "starting".to_owned(),
            }),
            components: RwLock::default(),
        }
    }

    /// Readiness of one named part of the operator, on top of [`Health::set_ready`]: `/readyz`
    /// is ready only when the operator and every component that reported are.
    pub fn set_component_ready(&self, component: &'static str, ready: bool, reason: &str) {
        let mut components = self.components.write().unwrap_or_else(|p| p.into_inner());
        if ready {
            components.remove(component);
        } else {
            components.insert(component, reason.to_owned());
        }
    }

    /// `reason` is shown by `/readyz` while not ready (and ignored while ready).
    pub fn set_ready(&self, ready: bool, reason: impl Into<String>) {
        write(&self.ready, ready, reason.into());
    }

    /// `reason` is shown by `/healthz` while not live. Not live makes the
    /// kubelet restart the container: only for states a restart can fix.
    pub fn set_live(&self, live: bool, reason: impl Into<String>) {
        write(&self.live, live, reason.into());
    }

    /// `Err(reason)` when not ready.
    pub fn readiness(&self) -> Result<(), String> {
        read(&self.ready)?;
        let components = self.components.read().unwrap_or_else(|p| p.into_inner());
        match components.iter().next() {
            Some((component, reason)) => Err(format!("{component}: {reason}")),
            None => Ok(()),
        }
    }

    /// `Err(reason)` when not live.
    pub fn liveness(&self) -> Result<(), String> {
        read(&self.live)
    }

    pub fn is_ready(&self) -> bool {
        self.readiness().is_ok()
    }

    pub fn is_live(&self) -> bool {
        self.liveness().is_ok()
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `listener` until `cancel`.
///
/// On cancellation, stops accepting, lets requests in flight finish for up to
/// 5 s, then drops the connections that remain.
///
/// Errors on single connections (resets, garbage, timeouts) are the client's
/// and are logged at debug level; failed `accept`s are retried. Nothing after
/// [`bind`] stops the server but `cancel`, so that the probes keep answering
/// for as long as the process runs.
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    let mut connections = JoinSet::new();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    }
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            // Reap finished connections so that the set does not grow with every one served.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let health = Arc::clone(&health);
                    let metrics = Arc::clone(&metrics);
                    let cancel = cancel.clone();
                    connections.spawn(serve_connection(stream, peer, health, metrics, cancel));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection on the probe and metrics port");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);

    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "probe and metrics connections still open after {SHUTDOWN_GRACE:?}: closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let response = route(&req, &health, &metrics);
        async move { Ok::<_, Infallible>(response) }
    });
    serve_http1(
        TokioIo::new(stream),
        service,
        HEADER_READ_TIMEOUT,
        &cancel,
        peer,
        "probe and metrics",
    )
    .await;
}

/// Serves one HTTP/1 connection until the peer closes it or `cancel` fires; then the request in
/// flight, if any, is finished and the connection closes instead of being kept alive. Shared by
/// the probe server and the webhook. `header_timeout` is also how long an idle keep-alive
/// connection is kept.
pub(crate) async fn serve_http1<I, S, B>(
    io: I,
    service: S,
    header_timeout: Duration,
    cancel: &CancellationToken,
    peer: SocketAddr,
    what: &str,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    S::Future: 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "{what} connection ended with an error");
    }
}

fn route(req: &Request<Incoming>, health: &Health, metrics: &Metrics) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if !matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return text(StatusCode::NOT_FOUND, "not found\n".to_owned());
    }
    // hyper sends no body in answer to HEAD, so HEAD is GET here.
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".to_owned(),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/healthz" => probe(health.liveness()),
        "/readyz" => probe(health.readiness()),
        _ => {
            let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            response
        }
    }
}

fn probe(state: Result<(), String>) -> Response<Full<Bytes>> {
    match state {
        Ok(()) => text(StatusCode::OK, "ok\n".to_owned()),
        Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    // A cached probe answer is a wrong probe answer.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    use tokio::task::JoinHandle;

    use super::*;

    struct Server {
        addr: SocketAddr,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        task: JoinHandle<Result<(), ServeError>>,
    }

    async fn start() -> Server {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let health = Arc::new(Health::new());
        let metrics = Arc::new(Metrics::new());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            Arc::clone(&health),
            Arc::clone(&metrics),
            cancel.clone(),
        ));
        Server {
            addr,
            health,
            metrics,
            cancel,
            task,
        }
    }

    struct Reply {
        status: u16,
        head: String,
        body: String,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().skip(1).find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim())
            })
        }
    }

    /// Sends raw bytes, reads until the server closes, and splits the answer.
    async fn raw(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
            .await
            .expect("server answers and closes in time")
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
        let text = raw(
            addr,
            format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole response head");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        Reply {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        }
    }

    #[tokio::test]
    async fn healthz_and_readyz_follow_the_health_state() {
        let s = start().await;

        let r = request(s.addr, "GET", "/healthz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
        assert_eq!(r.header("content-type"), Some(TEXT_PLAIN));

        let r = request(s.addr, "GET", "/readyz").await;
        assert_eq!((r.status, r.body.as_str()), (503, "starting\n"));

        s.health.set_ready(true, "");
        let r = request(s.addr, "GET", "/readyz").await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));

        s.health
            .set_ready(false, "lost the leader Lease; standing by");
        let r = request(s.addr, "GET", "/readyz").await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (503, "lost the leader Lease; standing by\n")
        );

        s.health.set_live(false, "controller task panicked");
        let r = request(s.addr, "GET", "/healthz").await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (503, "controller task panicked\n")
        );
        assert!(!s.health.is_live());
        assert!(!s.health.is_ready());
    }

    #[test]
    fn components_gate_readiness() {
        let health = Health::new();
        health.set_ready(true, "leading");
        health.set_component_ready("webhook", false, "no serving certificate yet");
        assert_eq!(
            health.readiness(),
            Err("webhook: no serving certificate yet".to_owned())
        );
        health.set_component_ready("webhook", true, "");
        assert!(health.is_ready());
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_text_format() {
        let s = start().await;
        s.metrics.set_leader(true);
        let r = request(s.addr, "GET", "/metrics").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert!(r.body.contains("\nattestor_leader 1\n"), "{}", r.body);
        assert!(r.body.contains("attestor_build_info{"));
    }

    #[tokio::test]
    async fn head_is_get_without_a_body() {
        let s = start().await;
        let r = request(s.addr, "HEAD", "/healthz").await;
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        assert_eq!(r.header("content-length"), Some("3"));
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let s = start().await;
        let r = request(s.addr, "GET", "/").await;
        assert_eq!(r.status, 404);
        let r = request(s.addr, "GET", "/metrics/extra").await;
        assert_eq!(r.status, 404);
        for path in ["/healthz", "/readyz", "/metrics"] {
            let r = request(s.addr, "POST", path).await;
            assert_eq!(r.status, 405, "{path}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
        }
        // The query string is not part of the path.
        let r = request(s.addr, "GET", "/healthz?verbose").await;
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn garbage_does_not_affect_the_next_request() {
        let s = start().await;
        let answer = raw(s.addr, b"\x16\x03\x01 this is not HTTP\r\n\r\n").await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
            "{answer:?}"
        );
        let r = request(s.addr, "GET", "/healthz").await;
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn a_silent_client_does_not_stall_others() {
        let s = start().await;
        // Half a request head, never finished.
        let mut slow = TcpStream::connect(s.addr).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost:")
            .await
            .unwrap();

        let started = Instant::now();
        let r = request(s.addr, "GET", "/readyz").await;
        assert_eq!(r.status, 503);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(slow);
    }

    #[tokio::test]
    async fn cancel_stops_accepting() {
        let s = start().await;
        assert_eq!(request(s.addr, "GET", "/healthz").await.status, 200);
        s.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(2), s.task)
            .await
            .expect("server stops without open connections at once")
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(s.addr).await.is_err());
    }

    #[tokio::test]
    async fn cancel_closes_idle_keep_alive_connections() {
        let s = start().await;
        let mut idle = TcpStream::connect(s.addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

        s.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(2), s.task)
            .await
            .expect("an idle keep-alive connection does not hold the server")
            .unwrap()
            .unwrap();
        let mut rest = Vec::new();
        idle.read_to_end(&mut rest).await.unwrap();
    }

    #[tokio::test]
    async fn bind_names_the_address() {
        let taken = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = taken.local_addr().unwrap();
        let e = bind(addr).await.unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "cannot listen on {addr}: address in use: another process already listens on this port"
            )
        );
    }
}
