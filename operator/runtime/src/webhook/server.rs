//! `POST /validate` over HTTPS (rustls on the ring provider, HTTP/1.1 with keep-alive), answered
//! by `attestor_admission` from the in-memory index: no API call and no network request while
//! the API server waits. A decision that waits for a proof being verified (or a namespace not
//! seen yet) waits for the index to change, at most [`Reviewer::wait`], then decides again.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attestor_admission::{Config, Decision, Limits, Reason, Reply, decide, parse_review};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::break_glass::{BreakGlassSender, record_of};
use super::certs::CertStore;
use super::index_feed::SharedIndex;
use crate::metrics::AdmissionMetrics;

/// The API server sends its request at once; a client that does not within this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Also the idle time of a keep-alive connection between two reviews.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait for a pending proof, whatever `--admission-wait` says: below the API
/// server's default webhook timeout (10 s) with a margin for the answer to travel back.
pub const MAX_ADMISSION_WAIT: Duration = Duration::from_secs(8);

/// Decides reviews: the pure decision plus its waiting, metrics and break-glass records.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub index: Arc<SharedIndex>,
    pub config: Config,
    pub limits: Limits,
    pub wait: Duration,
    pub metrics: AdmissionMetrics,
    pub break_glass: Option<BreakGlassSender>,
    /// Where digests for discovery go (an Event the leader reads); `None`: not handed over.
    pub hand_off: Option<super::hand_off::HandOff>,
}

/// The `decision` label of `admission_requests_total`.
fn decision_label(decision: &Decision) -> &'static str {
    if !decision.allowed {
        "denied"
    } else if decision.warnings.is_empty() {
        "allowed"
    } else {
        "warned"
    }
}

impl Reviewer {
    /// Answers one review body.
    pub async fn review(&self, body: &[u8]) -> Reply {
        let start = Instant::now();
        let request = match parse_review(body, &self.limits) {
            Ok(request) => request,
            Err(malformed) => {
                tracing::debug!(error = %malformed, "malformed AdmissionReview");
                self.metrics
                    .observe_request("error", Reason::Malformed.as_str(), start.elapsed());
                return malformed.reply();
            }
        };
        let deadline = start + self.wait.min(MAX_ADMISSION_WAIT);
        let mut changes = self.index.subscribe();
        let mut handed_off = false;
        let decision = loop {
            changes.borrow_and_update();
            let now = jiff::Timestamp::now().as_second();
            let decision = decide(&request, &self.index.read(), &self.config, now);
            // Handed over before any wait, so that discovery runs while this request waits.
            if !handed_off && let Some(hand_off) = &self.hand_off {
                hand_off.request(&decision, body, request.dry_run);
                handed_off = true;
            }
            if decision.is_final() {
                break decision;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break decision;
            }
            match tokio::time::timeout(left, changes.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the feed is gone: the decision as it stands is the answer.
                _ => {
                    break decide(
                        &request,
                        &self.index.read(),
                        &self.config,
                        jiff::Timestamp::now().as_second(),
                    );
                }
            }
        };
        if let Some(used) = &decision.break_glass
            && used.record
        {
            let record = record_of(&request, used, body);
            tracing::warn!(
                namespace = ?record.reference.namespace,
                object = ?record.reference.name,
                reason = %used.reason,
                "break-glass: admitted without a usable proof"
            );
            if let Some(workload_namespace) = &record.reference.namespace {
                self.metrics.observe_break_glass(workload_namespace);
            }
            if let Some(sender) = &self.break_glass {
                sender.send(record);
            }
        }
        self.metrics.observe_request(
            decision_label(&decision),
            decision.reason.as_str(),
            start.elapsed(),
        );
        if !decision.allowed {
            tracing::info!(uid = %request.uid, reason = %decision.reason, "admission denied");
        }
        Reply::Review(attestor_admission::review_response(&request.uid, &decision))
    }
}

/// The rustls configuration of the webhook: ring, TLS 1.2 and 1.3, HTTP/1.1, the certificate
/// from `store` on every handshake.
pub fn tls_config(store: Arc<CertStore>) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Serves `/validate` on `listener` until `cancel`; in-flight reviews get a short grace.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    reviewer: Arc<Reviewer>,
    cancel: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(
                        stream,
                        peer,
                        acceptor.clone(),
                        reviewer.clone(),
                        cancel.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a webhook connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        connections.shutdown().await;
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    reviewer: Arc<Reviewer>,
    cancel: CancellationToken,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let reviewer = reviewer.clone();
        async move { Ok::<_, Infallible>(route(req, &reviewer).await) }
    });
    crate::http::serve_http1(
        TokioIo::new(tls),
        service,
        HEADER_READ_TIMEOUT,
        &cancel,
        peer,
        "webhook",
    )
    .await;
}

async fn route(req: Request<Incoming>, reviewer: &Reviewer) -> Response<Full<Bytes>> {
    if req.uri().path() != "/validate" {
        return text(
            StatusCode::NOT_FOUND,
            "not found: the webhook serves POST /validate\n",
        );
    }
    if req.method() != Method::POST {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let limit = reviewer.limits.max_body_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large(reviewer, limit);
    }
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(reviewer, limit),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read a review body");
            return text(StatusCode::BAD_REQUEST, "cannot read the request body\n");
        }
    };
    match reviewer.review(&body).await {
        Reply::Review(json) => {
            let mut response = Response::new(Full::new(Bytes::from(json)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Reply::HttpError { status, message } => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &format!("{message}\n"),
        ),
    }
}

fn too_large(reviewer: &Reviewer, limit: usize) -> Response<Full<Bytes>> {
    reviewer
        .metrics
        .observe_request("error", Reason::Malformed.as_str(), Duration::ZERO);
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("attestor: the AdmissionReview is over the limit of {limit} bytes\n"),
    )
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use attestor_admission::{
        Digest, Index, IssuerFacts, NamespaceFacts, VerificationFacts, Verified,
    };
    use serde_json::{Value, json};

    const DIGEST: &str = "sha256:353a20e9c8ebd8d3fb2ed5b9f5b7c4fa46e2ec48c4e1d3e3f0a0a3c1c5d6e7f8";

    fn facts(verified: Verified) -> VerificationFacts {
        VerificationFacts {
            namespace: "shop".into(),
            name: "cart".into(),
            artifact_digest: Digest::parse(DIGEST).unwrap(),
            image: None,
            issuer: "ci".into(),
            verified,
            reason: String::new(),
            message: String::new(),
            valid_until: None,
            status_is_current: true,
        }
    }

    fn reviewer(wait: Duration) -> (Reviewer, Metrics) {
        let mut index = Index::new();
        index.apply_issuer(IssuerFacts {
            name: "ci".into(),
            trusted: true,
            reason: "Trusted".into(),
            scope_images: vec!["registry.example/shop/*".into()],
            discovers: false,
        });
        index.apply_namespace(NamespaceFacts::new("shop", Some("enforce")));
        index.apply_verification(facts(Verified::Unknown));
        let metrics = Metrics::new();
        let reviewer = Reviewer {
            index: Arc::new(SharedIndex::new(index)),
            config: Config::new("attestor-system"),
            limits: Limits::default(),
            wait,
            metrics: AdmissionMetrics::new(&metrics),
            break_glass: None,
            hand_off: None,
        };
        (reviewer, metrics)
    }

    fn body() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE", "namespace": "shop",
                        "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "object": {"metadata": {"name": "p"}, "spec": {"containers": [
                            {"name": "cart", "image": format!("registry.example/shop/cart@{DIGEST}")}]}}},
        }))
        .unwrap()
    }

    fn answer(reply: Reply) -> Value {
        match reply {
            Reply::Review(json) => serde_json::from_slice(&json).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_pending_proof_is_waited_for() {
        let (reviewer, metrics) = reviewer(Duration::from_secs(3));
        let index = reviewer.index.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            index.update(|i| i.apply_verification(facts(Verified::True)));
        });
        let start = Instant::now();
        let review = answer(reviewer.review(&body()).await);
        assert_eq!(review["response"]["allowed"], true, "{review}");
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(
            metrics
                .encode()
                .contains(r#"admission_requests_total{decision="allowed",reason="Allowed"} 1"#)
        );
    }

    #[tokio::test]
    async fn the_wait_is_bounded() {
        let (reviewer, _) = reviewer(Duration::from_millis(200));
        let start = Instant::now();
        let review = answer(reviewer.review(&body()).await);
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(review["response"]["allowed"], false);
        let message = review["response"]["status"]["message"].as_str().unwrap();
        assert!(message.contains("still being verified"), "{message}");
    }

    #[tokio::test]
    async fn malformed_reviews_are_errors() {
        let (reviewer, metrics) = reviewer(Duration::ZERO);
        assert!(matches!(
            reviewer.review(b"not json").await,
            Reply::HttpError { status: 400, .. }
        ));
        assert!(
            metrics
                .encode()
                .contains(r#"admission_requests_total{decision="error",reason="Malformed"} 1"#)
        );
    }
}
