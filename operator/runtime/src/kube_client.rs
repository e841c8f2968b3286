//! The operator's Kubernetes client, which counts its requests.
//!
//! The count (`attestor_kube_api_requests_total`) is how a benchmark, or an
//! on-call engineer, tells an operator that watches from one that polls or
//! loops on writes: the API server's load is the cost of running us.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use kube::client::ClientBuilder;
use tower::{Layer, Service};

use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot find the Kubernetes API server: {0}; run in a pod with a service account, or set KUBECONFIG"
    )]
    Config(#[source] kube::config::InferConfigError),
    #[error("cannot build the Kubernetes client: {0}")]
    Build(#[source] kube::Error),
}

/// A client for the cluster this runs in (service account) or, outside a
/// cluster, the one `KUBECONFIG` (or `~/.kube/config`) points at.
pub async fn client(metrics: Arc<Metrics>) -> Result<kube::Client, ClientError> {
    let config = kube::Config::infer().await.map_err(ClientError::Config)?;
    client_from_config(config, metrics)
}

/// A client for `config`, counting its requests in `metrics`.
pub fn client_from_config(
    config: kube::Config,
    metrics: Arc<Metrics>,
) -> Result<kube::Client, ClientError> {
    let builder = ClientBuilder::try_from(config).map_err(ClientError::Build)?;
    Ok(builder
        .with_layer(&CountRequestsLayer::new(metrics))
        .build())
}

/// Counts every request passing through it in
/// `attestor_kube_api_requests_total{method,watch}`.
///
/// On kube's [`ClientBuilder`] it is the outermost layer, so it counts the
/// requests the operator makes, once each: retries by kube's own retry layer
/// (on 429 and 5xx answers) and re-authentication happen beneath it and are not
/// counted. Long-lived watches count once, when they are opened.
#[derive(Debug, Clone)]
pub struct CountRequestsLayer {
    metrics: Arc<Metrics>,
}

impl CountRequestsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for CountRequestsLayer {
    type Service = CountRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountRequests {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service of [`CountRequestsLayer`].
#[derive(Debug, Clone)]
pub struct CountRequests<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<Request<B>> for CountRequests<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.metrics
            .observe_api_request(req.method().as_str(), is_watch(req.uri().query()));
        self.inner.call(req)
    }
}

/// Whether a request's query asks for a watch. The API server accepts
/// `watch=true` and `watch=1` (kube sends the former).
fn is_watch(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| matches!(pair, "watch=true" | "watch=1"))
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::Response;
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn watch_is_read_from_the_query() {
        assert!(is_watch(Some("watch=true")));
        assert!(is_watch(Some(
            "labelSelector=a%3Db&watch=1&resourceVersion=10"
        )));
        assert!(!is_watch(None));
        assert!(!is_watch(Some("watch=false")));
        assert!(!is_watch(Some("watch=0")));
        assert!(!is_watch(Some("allowWatchBookmarks=true")));
        assert!(!is_watch(Some("nowatch=true")));
    }

    async fn send(
        service: &mut CountRequests<
            impl Service<Request<()>, Response = Response<()>, Error = Infallible>,
        >,
        method: &str,
        uri: &str,
    ) {
        let req = Request::builder().method(method).uri(uri).body(()).unwrap();
        service.ready().await.unwrap().call(req).await.unwrap();
    }

    #[tokio::test]
    async fn counts_each_request_by_method_and_watch() {
        let metrics = Arc::new(Metrics::new());
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inner = {
            let seen = Arc::clone(&seen);
            tower::service_fn(move |_req: Request<()>| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(())) }
            })
        };
        let mut service = CountRequestsLayer::new(Arc::clone(&metrics)).layer(inner);

        let pvs = "https://k8s/apis/attestor.stellaops.io/v1alpha1/proofverifications";
        send(&mut service, "GET", pvs).await;
        send(
            &mut service,
            "GET",
            &format!("{pvs}?watch=true&resourceVersion=1"),
        )
        .await;
        send(
            &mut service,
            "GET",
            &format!("{pvs}?watch=true&resourceVersion=2"),
        )
        .await;
        send(
            &mut service,
            "PATCH",
            &format!("{pvs}/x/status?fieldManager=attestor"),
        )
        .await;

        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            4,
            "every request reaches the inner service"
        );
        let text = metrics.encode();
        for line in [
            r#"attestor_kube_api_requests_total{method="GET",watch="false"} 1"#,
            r#"attestor_kube_api_requests_total{method="GET",watch="true"} 2"#,
            r#"attestor_kube_api_requests_total{method="PATCH",watch="false"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
    }

    #[tokio::test]
    async fn builds_a_client_from_a_config() {
        let metrics = Arc::new(Metrics::new());
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        client_from_config(config, metrics).unwrap();
    }
}
