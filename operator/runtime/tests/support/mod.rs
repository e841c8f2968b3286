//! A tiny HTTP/1.1 responder on 127.0.0.1 (port chosen by the OS), plain or
//! TLS, whose replies are scripted per test and whose requests are counted.
//! Every connection answers one request and is closed.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use attestor_runtime::fetch::{FetchConfig, Fetcher, RetryPolicy};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` of this server.
    pub base: String,
    /// 0 for the first request this server received.
    pub index: usize,
    /// The body, when the request declared a `Content-Length`.
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A response with `Content-Length`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A `Transfer-Encoding: chunked` response (no `Content-Length`).
    Chunked { status: u16, chunks: Vec<Vec<u8>> },
    /// Say nothing for this long, then close.
    Stall(Duration),
    /// Send the head with `Content-Length: total` and `first`, then stall.
    StallBody {
        total: usize,
        first: Vec<u8>,
        stall: Duration,
    },
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply::Full {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Self {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: format!("status {status}\n").into_bytes(),
        }
    }

    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Reply::Full {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    /// A plain HTTP server.
    pub async fn http(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(Arc::new(handler), None).await
    }

    /// An HTTPS server presenting `tls`'s certificate for 127.0.0.1.
    pub async fn https(
        tls: &TestTls,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start(Arc::new(handler), Some(tls.acceptor.clone())).await
    }

    async fn start(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{addr}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicUsize::new(0));
        {
            let base = base.clone();
            let requests = requests.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let handler = handler.clone();
                    let base = base.clone();
                    let requests = requests.clone();
                    let counter = counter.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let conn = Conn {
                            handler,
                            base,
                            requests,
                            counter,
                        };
                        match tls {
                            None => conn.serve(stream).await,
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(stream).await {
                                    conn.serve(stream).await;
                                }
                            }
                        }
                    });
                }
            });
        }
        TestServer {
            addr,
            base,
            requests,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

struct Conn {
    handler: Handler,
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
    counter: Arc<AtomicUsize>,
}

impl Conn {
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(self, mut stream: S) {
        let Some((head, mut body)) = read_head(&mut stream).await else {
            return;
        };
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_string();
        let path = first.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect::<Vec<(String, String)>>();
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(64 << 20);
        while body.len() < length {
            let mut chunk = vec![0u8; 64 * 1024];
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
        body.truncate(length);
        let request = Request {
            body,
            method,
            path,
            headers,
            base: self.base.clone(),
            index: self.counter.fetch_add(1, Ordering::SeqCst),
        };
        self.requests.lock().unwrap().push(request.clone());
        let reply = (self.handler)(&request);
        let _ = write_reply(&mut stream, reply).await;
        let _ = stream.shutdown().await;
    }
}

/// Reads up to the blank line ending the request head; returns the head and whatever of the
/// body arrived with it.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let rest = buf.split_off(end);
    buf.truncate(end - 4);
    String::from_utf8(buf).ok().map(|head| (head, rest))
}

async fn write_reply<S: AsyncWrite + Unpin>(stream: &mut S, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Reply::Chunked { status, chunks } => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            for chunk in chunks {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
                stream.flush().await?;
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
        Reply::Stall(d) => tokio::time::sleep(d).await,
        Reply::StallBody {
            total,
            first,
            stall,
        } => {
            let head =
                format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {total}\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&first).await?;
            stream.flush().await?;
            tokio::time::sleep(stall).await;
        }
    }
    stream.flush().await
}

/// A throw-away CA and a server certificate for 127.0.0.1 signed by it.
pub struct TestTls {
    pub ca_der: Vec<u8>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl TestTls {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "attestor test-only CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("leaf params");
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .expect("server config");
        TestTls {
            ca_der: ca_cert.der().to_vec(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }
}

/// Settings for tests: tiny backoff, short timeouts, no proxies from the
/// environment (so nothing leaves the loopback interface), and only the
/// given roots (so the tests do not depend on the machine's CA bundle).
pub fn test_config(extra_roots: &[&[u8]]) -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        max_redirects: 3,
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        system_roots: false,
        extra_roots_der: if extra_roots.is_empty() {
            vec![TestTls::new().ca_der]
        } else {
            extra_roots.iter().map(|r| r.to_vec()).collect()
        },
        proxy_from_env: false,
        denied_networks: attestor_runtime::fetch::default_denied_networks(),
        // The test servers listen on loopback, which the defaults deny.
        allowed_networks: loopback(),
    }
}

/// Loopback, allowed explicitly wherever a test talks to a [`TestServer`].
pub fn loopback() -> Vec<attestor_runtime::fetch::IpNetwork> {
    vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()]
}

pub fn fetcher(config: FetchConfig) -> Fetcher {
    Fetcher::new(config).expect("fetcher")
}
