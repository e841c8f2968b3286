//! The fetcher against scripted servers on 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use attestor_core::digest::Sha256Digest;
use attestor_runtime::fetch::{BodySize, FetchError, FetchExpect, RetryPolicy, USER_AGENT};
use support::{Reply, TestServer, TestTls, fetcher, test_config};

const MIB: u64 = 1024 * 1024;

fn expect() -> FetchExpect {
    FetchExpect::new(MIB).for_field("source.url")
}

/// A generous upper bound for anything that should be quick.
const QUICK: Duration = Duration::from_secs(10);

#[tokio::test]
async fn fetches_a_body_with_its_digest_and_validators() {
    let server = TestServer::http(|_| {
        Reply::ok("hello bundle")
            .with_header("ETag", "\"v1\"")
            .with_header("Last-Modified", "Tue, 03 Nov 2026 09:30:00 GMT")
    })
    .await;
    let url = server.url("/bundles/b.zip");
    let got = fetcher(test_config(&[]))
        .fetch(&url, expect())
        .await
        .unwrap();
    assert_eq!(got.bytes, b"hello bundle");
    assert_eq!(got.digest, Sha256Digest::of(b"hello bundle"));
    assert_eq!(got.final_url, url);
    assert_eq!(got.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        got.last_modified.as_deref(),
        Some("Tue, 03 Nov 2026 09:30:00 GMT")
    );
    assert_eq!(got.attempts, 1);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/bundles/b.zip");
    assert_eq!(requests[0].header("user-agent"), Some(USER_AGENT));
    assert_eq!(USER_AGENT, concat!("attestor/", env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn an_empty_body_is_fine() {
    let server = TestServer::http(|_| Reply::ok("")).await;
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/"), expect())
        .await
        .unwrap();
    assert!(got.bytes.is_empty());
    assert_eq!(got.etag, None);
}

#[tokio::test]
async fn content_length_over_the_limit_is_refused_before_reading() {
    // Declares 10 GiB, sends 5 bytes and closes: only the early check can
    // report SourceTooLarge here (reading would fail on the short body).
    let server = TestServer::http(|_| {
        Reply::ok("short").with_header("Content-Length", &(10 * 1024 * MIB).to_string())
    })
    .await;
    let url = server.url("/big.zip");
    let err = fetcher(test_config(&[]))
        .fetch(&url, FetchExpect::new(8 * MIB).for_field("source.url"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::TooLarge {
            url: url.clone(),
            size: BodySize::Declared(10 * 1024 * MIB),
            limit: 8 * MIB,
            field: "source.url",
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "GET {url}: the response is 10 GiB (Content-Length), more than the 8 MiB limit: \
             publish a smaller file or check source.url"
        )
    );
    assert_eq!(err.reason(), "SourceTooLarge");
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 1, "a size violation must not be retried");
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_cut_off_while_streaming() {
    const CHUNK: usize = 4096;
    let server = TestServer::http(|_| Reply::Chunked {
        status: 200,
        chunks: vec![vec![b'x'; CHUNK]; 64],
    })
    .await;
    let max = 10_000;
    let err = fetcher(test_config(&[]))
        .fetch(&server.url("/stream"), FetchExpect::new(max))
        .await
        .unwrap_err();
    let FetchError::TooLarge {
        size: BodySize::AtLeast(seen),
        limit,
        ..
    } = err
    else {
        panic!("expected TooLarge while streaming, got {err:?}");
    };
    assert_eq!(limit, max);
    assert!(
        seen > max && seen <= max + CHUNK as u64,
        "read {seen} bytes: more than the limit plus one chunk"
    );
    assert!(
        err.to_string().contains("more than the 9.8 KiB limit"),
        "{err}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_chunked_body_exactly_at_the_limit_is_accepted() {
    let server = TestServer::http(|_| Reply::Chunked {
        status: 200,
        chunks: vec![vec![b'y'; 1000]; 10],
    })
    .await;
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/stream"), FetchExpect::new(10_000))
        .await
        .unwrap();
    assert_eq!(got.bytes.len(), 10_000);
}

#[tokio::test]
async fn digest_pin_accepts_the_right_body() {
    let server = TestServer::http(|_| Reply::ok("pinned content")).await;
    let pin = Sha256Digest::of(b"pinned content");
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/b.zip"), expect().with_digest(pin))
        .await
        .unwrap();
    assert_eq!(got.digest, pin);
}

#[tokio::test]
async fn digest_pin_refuses_another_body_without_retrying() {
    let server = TestServer::http(|_| Reply::ok("tampered content")).await;
    let url = server.url("/b.zip");
    let pin = Sha256Digest::of(b"pinned content");
    let err = fetcher(test_config(&[]))
        .fetch(&url, expect().with_digest(pin))
        .await
        .unwrap_err();
    let actual = Sha256Digest::of(b"tampered content");
    assert_eq!(
        err,
        FetchError::DigestMismatch {
            url: url.clone(),
            expected: pin,
            actual,
        }
    );
    assert!(
        err.to_string().starts_with(&format!(
            "GET {url}: digest {actual} does not match the pin {pin}"
        )),
        "{err}"
    );
    assert_eq!(err.reason(), "DigestMismatch");
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let server = TestServer::http(|_| Reply::status(404)).await;
    let url = server.url("/missing.zip");
    let err = fetcher(test_config(&[]))
        .fetch(&url, expect())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("GET {url}: HTTP 404 Not Found: check source.url")
    );
    assert_eq!(err.reason(), "SourceNotFound");
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    for (status, reason) in [
        (400, "SourceUnavailable"),
        (403, "SourceUnavailable"),
        (410, "SourceNotFound"),
    ] {
        let server = TestServer::http(move |_| Reply::status(status)).await;
        let err = fetcher(test_config(&[]))
            .fetch(&server.url("/x"), expect())
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::Http { status: s, attempts: 1, .. } if s == status),
            "{err:?}"
        );
        assert_eq!(err.reason(), reason, "HTTP {status}");
        assert_eq!(server.hits(), 1, "HTTP {status} was retried");
    }
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server = TestServer::http(|req| match req.index {
        0 | 1 => Reply::status(500),
        _ => Reply::ok("third time lucky"),
    })
    .await;
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap();
    assert_eq!(got.bytes, b"third time lucky");
    assert_eq!(got.attempts, 3);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn request_timeout_status_is_retried() {
    let server = TestServer::http(|req| match req.index {
        0 => Reply::status(408),
        _ => Reply::ok("ok"),
    })
    .await;
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap();
    assert_eq!(got.attempts, 2);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_up_after_the_attempts() {
    let server = TestServer::http(|_| Reply::status(503)).await;
    let url = server.url("/b.zip");
    let mut config = test_config(&[]);
    config.retry.attempts = 4;
    let err = fetcher(config).fetch(&url, expect()).await.unwrap_err();
    assert_eq!(
        err,
        FetchError::Http {
            url: url.clone(),
            status: 503,
            attempts: 4,
            field: "source.url",
        }
    );
    assert!(
        err.to_string().starts_with(&format!(
            "GET {url}: HTTP 503 Service Unavailable (4 attempts): "
        )),
        "{err}"
    );
    assert_eq!(err.reason(), "SourceUnavailable");
    assert!(err.is_transient());
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn retries_can_be_disabled() {
    let server = TestServer::http(|_| Reply::status(502)).await;
    let mut config = test_config(&[]);
    config.retry = RetryPolicy::none();
    let err = fetcher(config)
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), Some(1));
    assert!(!err.to_string().contains("attempts"), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = TestServer::http(|req| match req.index {
        0 => Reply::status(429).with_header("Retry-After", "1"),
        _ => Reply::ok("ok"),
    })
    .await;
    let mut config = test_config(&[]);
    config.retry.max_delay = Duration::from_secs(5);
    let started = Instant::now();
    let got = fetcher(config)
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(got.attempts, 2);
    // The backoff alone would wait at most 5 ms; Retry-After asked for 1 s.
    assert!(
        elapsed >= Duration::from_millis(950),
        "waited only {elapsed:?}"
    );
    assert!(elapsed < QUICK, "{elapsed:?}");
}

#[tokio::test]
async fn retry_after_is_capped_by_the_maximum_delay() {
    let server = TestServer::http(|req| match req.index {
        0 => Reply::status(429).with_header("Retry-After", "3600"),
        _ => Reply::ok("ok"),
    })
    .await;
    let started = Instant::now();
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap();
    assert_eq!(got.attempts, 2);
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_silent_server_times_out_and_says_after_how_long() {
    let server = TestServer::http(|_| Reply::Stall(Duration::from_secs(60))).await;
    let url = server.url("/b.zip");
    let mut config = test_config(&[]);
    config.timeout = Duration::from_millis(300);
    config.retry.attempts = 2;
    let started = Instant::now();
    let err = fetcher(config).fetch(&url, expect()).await.unwrap_err();
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    assert_eq!(
        err,
        FetchError::Timeout {
            url: url.clone(),
            after: Duration::from_millis(300),
            attempts: 2,
        }
    );
    assert!(
        err.to_string()
            .starts_with(&format!("GET {url}: timed out after 300ms (2 attempts): ")),
        "{err}"
    );
    assert_eq!(err.reason(), "SourceUnavailable");
    assert!(err.is_transient());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_body_that_stalls_midway_times_out_too() {
    let server = TestServer::http(|_| Reply::StallBody {
        total: 1000,
        first: vec![b'z'; 10],
        stall: Duration::from_secs(60),
    })
    .await;
    let mut config = test_config(&[]);
    config.timeout = Duration::from_millis(300);
    config.retry = RetryPolicy::none();
    let started = Instant::now();
    let err = fetcher(config)
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap_err();
    assert!(started.elapsed() < QUICK);
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_closed_port_is_a_transient_connect_error() {
    // Bind to learn a free port, then close it.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{addr}/b.zip");
    let err = fetcher(test_config(&[]))
        .fetch(&url, expect())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Connect { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("GET {url}: cannot connect: ")),
        "{err}"
    );
    assert!(err.to_string().contains("(3 attempts)"), "{err}");
    assert_eq!(err.reason(), "SourceUnavailable");
    assert!(err.is_transient());
}

#[tokio::test]
async fn redirects_are_followed_relative_and_absolute() {
    let server = TestServer::http(|req| match req.path.as_str() {
        "/a" => Reply::redirect(302, "/b"),
        "/b" => Reply::redirect(301, format!("{}/c", req.base)),
        "/c" => Reply::redirect(307, "d"),
        "/d" => Reply::ok("at last"),
        _ => Reply::status(404),
    })
    .await;
    let got = fetcher(test_config(&[]))
        .fetch(&server.url("/a"), expect())
        .await
        .unwrap();
    assert_eq!(got.bytes, b"at last");
    assert_eq!(got.final_url, server.url("/d"));
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/a", "/b", "/c", "/d"]);
}

#[tokio::test]
async fn a_fourth_redirect_is_refused() {
    let server = TestServer::http(|req| {
        let n: u32 = req.path.trim_start_matches('/').parse().unwrap_or(0);
        Reply::redirect(302, format!("/{}", n + 1))
    })
    .await;
    let url = server.url("/0");
    let err = fetcher(test_config(&[]))
        .fetch(&url, expect())
        .await
        .unwrap_err();
    let FetchError::TooManyRedirects { max, chain, .. } = &err else {
        panic!("expected TooManyRedirects, got {err:?}");
    };
    assert_eq!(*max, 3);
    assert_eq!(chain.len(), 5);
    assert_eq!(chain[4], server.url("/4"));
    assert!(
        err.to_string()
            .starts_with(&format!("GET {url}: more than 3 redirects ({url} -> ")),
        "{err}"
    );
    assert_eq!(server.hits(), 4, "the fourth redirect must not be followed");
}

#[tokio::test]
async fn a_redirect_loop_is_reported_as_such() {
    let server = TestServer::http(|req| match req.path.as_str() {
        "/a" => Reply::redirect(302, "/b"),
        _ => Reply::redirect(302, "/a"),
    })
    .await;
    let url = server.url("/a");
    let err = fetcher(test_config(&[]))
        .fetch(&url, expect())
        .await
        .unwrap_err();
    let b = server.url("/b");
    assert_eq!(
        err.to_string(),
        format!(
            "GET {url}: redirect loop ({url} -> {b} -> {url}): fix the server's redirects \
             or point source.url at the final location"
        )
    );
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_redirect_without_location_is_refused() {
    let server = TestServer::http(|_| Reply::status(302)).await;
    let err = fetcher(test_config(&[]))
        .fetch(&server.url("/a"), expect())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::BadRedirect { .. }), "{err:?}");
    assert!(
        err.to_string().contains("without a Location header"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_refused() {
    let server = TestServer::http(|_| Reply::redirect(302, "file:///etc/passwd")).await;
    let err = fetcher(test_config(&[]))
        .fetch(&server.url("/a"), expect())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::BadRedirect { .. }), "{err:?}");
    assert!(err.to_string().contains("scheme \"file\""), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn https_works_with_a_trusted_root() {
    let tls = TestTls::new();
    let server = TestServer::https(&tls, |_| Reply::ok("over tls")).await;
    assert!(server.base.starts_with("https://127.0.0.1:"));
    let got = fetcher(test_config(&[&tls.ca_der]))
        .fetch(&server.url("/b.zip"), expect())
        .await
        .unwrap();
    assert_eq!(got.bytes, b"over tls");
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_and_not_retried() {
    let tls = TestTls::new();
    let server = TestServer::https(&tls, |_| Reply::ok("over tls")).await;
    let other_ca = TestTls::new();
    let url = server.url("/b.zip");
    let err = fetcher(test_config(&[&other_ca.ca_der]))
        .fetch(&url, expect())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("GET {url}: TLS failed: invalid peer certificate")),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn a_redirect_from_https_to_http_is_refused() {
    let plain = TestServer::http(|_| Reply::ok("downgraded")).await;
    let target = plain.url("/b.zip");
    let tls = TestTls::new();
    let secure = TestServer::https(&tls, move |_| Reply::redirect(302, target.clone())).await;
    let url = secure.url("/b.zip");
    let err = fetcher(test_config(&[&tls.ca_der]))
        .fetch(&url, expect())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::InsecureRedirect {
            url: url.clone(),
            from: url.clone(),
            to: plain.url("/b.zip"),
            field: "source.url",
        }
    );
    assert!(err.to_string().contains("must not leave https"), "{err}");
    assert_eq!(secure.hits(), 1);
    assert_eq!(plain.hits(), 0, "the http URL must never be requested");
}

#[tokio::test]
async fn a_redirect_from_http_to_https_is_followed() {
    let tls = TestTls::new();
    let secure = TestServer::https(&tls, |_| Reply::ok("upgraded")).await;
    let target = secure.url("/b.zip");
    let plain = TestServer::http(move |_| Reply::redirect(301, target.clone())).await;
    let got = fetcher(test_config(&[&tls.ca_der]))
        .fetch(&plain.url("/b.zip"), expect())
        .await
        .unwrap();
    assert_eq!(got.bytes, b"upgraded");
    assert_eq!(got.final_url, secure.url("/b.zip"));
}

#[tokio::test]
async fn urls_other_than_http_and_https_are_refused_without_a_request() {
    let f = fetcher(test_config(&[]));
    for (url, reason_fragment) in [
        ("file:///etc/passwd", "scheme \"file\" is not supported"),
        ("ftp://127.0.0.1/b.zip", "scheme \"ftp\" is not supported"),
        ("not a url", "invalid URL \"not a url\""),
        ("", "invalid URL \"\""),
        ("https://", "invalid URL"),
        ("/relative/b.zip", "invalid URL"),
        (
            "https://user:secret@127.0.0.1/b.zip",
            "URL https://127.0.0.1/b.zip: carries a user name or password",
        ),
    ] {
        let err = f.fetch(url, expect()).await.unwrap_err();
        assert_eq!(err.reason(), "InvalidSourceUrl", "{url:?}: {err}");
        assert!(err.to_string().contains(reason_fragment), "{url:?}: {err}");
        assert!(err.to_string().contains("source.url"), "{url:?}: {err}");
        assert!(!err.to_string().contains("secret"), "{url:?}: {err}");
        assert!(!err.is_transient());
    }
}

#[tokio::test]
async fn clones_fetch_concurrently() {
    let server = TestServer::http(|_| Reply::ok("x")).await;
    let f = fetcher(test_config(&[]));
    let g = f.clone();
    let (one, two) = (server.url("/1"), server.url("/2"));
    let (a, b) = tokio::join!(f.fetch(&one, expect()), g.fetch(&two, expect()));
    assert_eq!(a.unwrap().bytes, b"x");
    assert_eq!(b.unwrap().bytes, b"x");
    assert_eq!(server.hits(), 2);
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = attestor_runtime::fetch::FetchConfig::default();
    assert_eq!(c.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.max_redirects, 3);
    assert_eq!(
        c.retry,
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    );
    assert!(c.system_roots && c.proxy_from_env);
}

#[test]
fn a_client_without_usable_roots_is_refused_at_setup() {
    let mut config = test_config(&[]);
    config.extra_roots_der.clear();
    let err = attestor_runtime::fetch::Fetcher::new(config).unwrap_err();
    assert!(err.to_string().contains("no root certificates"), "{err}");

    let config = test_config(&[b"not a certificate"]);
    let err = attestor_runtime::fetch::Fetcher::new(config).unwrap_err();
    assert!(
        err.to_string().contains("extra root certificate #1"),
        "{err}"
    );
}

/// A fetcher with the operator's defaults: nothing allowed, so loopback is denied.
fn defaults() -> attestor_runtime::fetch::Fetcher {
    let mut config = test_config(&[]);
    config.allowed_networks.clear();
    fetcher(config)
}

#[tokio::test]
async fn the_cloud_metadata_address_is_refused_without_a_request() {
    let url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    let started = Instant::now();
    let err = defaults().fetch(url, expect()).await.unwrap_err();
    assert!(started.elapsed() < QUICK);
    assert!(matches!(err, FetchError::DeniedAddress { .. }), "{err:?}");
    assert_eq!(err.reason(), "InvalidSourceUrl");
    assert!(!err.is_transient());
    let text = err.to_string();
    for phrase in [
        "169.254.169.254",
        "169.254.0.0/16",
        "instance metadata",
        "source.url",
        "--fetch-allow-network",
        "--fetch-deny-network",
    ] {
        assert!(text.contains(phrase), "{phrase}: {text}");
    }
    let err = defaults()
        .fetch("http://[::ffff:169.254.169.254]/", expect())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::DeniedAddress { .. }), "{err:?}");
}

#[tokio::test]
async fn loopback_is_refused_by_default_however_the_url_spells_it() {
    let server = TestServer::http(|_| Reply::ok("secret")).await;
    let port = server.addr.port();
    let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    for (host, address, network) in [
        ("127.0.0.1", loopback, "127.0.0.0/8"),
        // Decimal, hexadecimal and octal IPv4 forms, short forms and a trailing dot: the URL
        // parser normalises them all to 127.0.0.1 before the check.
        ("2130706433", loopback, "127.0.0.0/8"),
        ("0x7f000001", loopback, "127.0.0.0/8"),
        ("0x7f.1", loopback, "127.0.0.0/8"),
        ("0177.0.0.1", loopback, "127.0.0.0/8"),
        ("127.1", loopback, "127.0.0.0/8"),
        ("127.0.0.1.", loopback, "127.0.0.0/8"),
        ("0.0.0.0", "0.0.0.0".parse().unwrap(), "0.0.0.0/8"),
        (
            "[::ffff:127.0.0.1]",
            "::ffff:127.0.0.1".parse().unwrap(),
            "127.0.0.0/8",
        ),
        (
            "[::ffff:7f00:1]",
            "::ffff:127.0.0.1".parse().unwrap(),
            "127.0.0.0/8",
        ),
        ("[::1]", "::1".parse().unwrap(), "::1/128"),
        ("[::127.0.0.1]", "::7f00:1".parse().unwrap(), "::/96"),
        (
            "[64:ff9b::7f00:1]",
            "64:ff9b::7f00:1".parse().unwrap(),
            "127.0.0.0/8",
        ),
        (
            "[2002:7f00:1::]",
            "2002:7f00:1::".parse().unwrap(),
            "127.0.0.0/8",
        ),
    ] {
        let url = format!("http://{host}:{port}/");
        let err = defaults().fetch(&url, expect()).await.unwrap_err();
        match &err {
            FetchError::DeniedAddress {
                address: a,
                network: n,
                ..
            } => {
                assert_eq!((a, n.as_str()), (&address, network), "{url}: {err}");
            }
            other => panic!("{url}: {other:?}"),
        }
        assert!(!err.is_transient(), "{url}");
    }
    // By name: localhost resolves to loopback. (`localhost.` resolves, or not, depending on
    // the system's resolver; either way it must not reach the server.)
    let err = defaults()
        .fetch(&format!("http://localhost:{port}/"), expect())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::DeniedAddress { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("refused to connect to localhost (127.0.0.1)"),
        "{err}"
    );
    let _ = defaults()
        .fetch(&format!("http://localhost.:{port}/"), expect())
        .await
        .unwrap_err();
    assert!(
        server.requests().is_empty(),
        "nothing reached the loopback server"
    );
}

#[tokio::test]
async fn the_allow_list_admits_exactly_its_networks() {
    let server = TestServer::http(|_| Reply::ok("in-cluster store")).await;
    let port = server.addr.port();
    let mut config = test_config(&[]);
    config.allowed_networks = vec!["127.0.0.1/32".parse().unwrap()];
    let allowed = fetcher(config);
    let got = allowed.fetch(&server.url("/"), expect()).await.unwrap();
    assert_eq!(got.bytes, b"in-cluster store");
    // The decimal spelling of the same address is the same address.
    let got = allowed
        .fetch(&format!("http://2130706433:{port}/"), expect())
        .await
        .unwrap();
    assert_eq!(got.bytes, b"in-cluster store");
    for url in [
        format!("http://127.0.0.2:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[64:ff9b::7f00:1]:{port}/"),
        "http://169.254.169.254/".to_string(),
        "http://10.0.0.1/".to_string(),
    ] {
        let err = allowed.fetch(&url, expect()).await.unwrap_err();
        assert!(
            matches!(err, FetchError::DeniedAddress { .. }),
            "{url}: {err:?}"
        );
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn every_redirect_is_checked_whatever_its_spelling() {
    let server = TestServer::http(|r| match r.path.as_str() {
        "/decimal" => Reply::redirect(302, "http://2130706434/b.zip"),
        "/mapped" => Reply::redirect(302, "http://[::ffff:127.0.0.2]/b.zip"),
        "/nat64" => Reply::redirect(302, "http://[64:ff9b::a00:1]/b.zip"),
        "/private" => Reply::redirect(302, "http://10.0.0.1/b.zip"),
        _ => Reply::ok("unexpected"),
    })
    .await;
    // Only the first hop (this server) is allowed.
    let mut config = test_config(&[]);
    config.allowed_networks = vec![server.addr.ip().into()];
    let fetcher = fetcher(config);
    for (path, host, network) in [
        ("/decimal", "127.0.0.2", "127.0.0.0/8"),
        ("/mapped", "[::ffff:7f00:2]", "127.0.0.0/8"),
        ("/nat64", "[64:ff9b::a00:1]", "10.0.0.0/8"),
        ("/private", "10.0.0.1", "10.0.0.0/8"),
    ] {
        let err = fetcher
            .fetch(&server.url(path), expect())
            .await
            .unwrap_err();
        match &err {
            FetchError::DeniedAddress {
                host: h,
                network: n,
                ..
            } => assert_eq!((h.as_str(), n.as_str()), (host, network), "{path}: {err}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    assert_eq!(server.requests().len(), 4, "one request per first hop only");
}

#[tokio::test]
async fn a_redirect_into_a_denied_network_is_refused() {
    let server = TestServer::http(|_| Reply::redirect(302, "http://169.254.169.254/latest/")).await;
    // Loopback (the server) is allowed; the metadata address stays denied.
    let err = fetcher(test_config(&[]))
        .fetch(&server.url("/bundle.zip"), expect())
        .await
        .unwrap_err();
    match &err {
        FetchError::DeniedAddress { url, host, .. } => {
            assert_eq!(url, &server.url("/bundle.zip"));
            assert_eq!(host, "169.254.169.254");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn reserved_names_are_refused_at_once_and_not_retried() {
    // The operator's defaults, with retries that would show (3 attempts).
    let f = defaults();
    for (url, host) in [
        (
            "https://bundles.example/shop/cart/1.4.2/proof.zip",
            "bundles.example",
        ),
        ("http://api.test:8080/b.zip", "api.test"),
        ("https://nothing.invalid/b.zip", "nothing.invalid"),
        ("https://ci.example.com/keys.json", "ci.example.com"),
        ("https://EXAMPLE.org./b.zip", "example.org."),
        ("https://registry.example./b.zip", "registry.example."),
    ] {
        let started = Instant::now();
        let err = f.fetch(url, expect()).await.unwrap_err();
        assert!(started.elapsed() < QUICK, "{url}");
        match &err {
            FetchError::ReservedHost { host: h, .. } => assert_eq!(h, host, "{url}"),
            other => panic!("{url}: {other:?}"),
        }
        assert_eq!(err.reason(), "SourceHostReserved", "{url}");
        assert!(!err.is_transient(), "{url}");
        assert_eq!(err.attempts(), None, "{url}");
    }
    let err = f
        .fetch("https://registry.example/b.zip", expect())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET https://registry.example/b.zip: registry.example is a name reserved for documentation \
         (RFC 2606/6761): it names no real server, so no DNS query was made; use a real host in source.url"
    );
    let err = f.fetch("https://x.invalid/", expect()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("x.invalid is a name reserved to be invalid (RFC 2606/6761)"),
        "{err}"
    );
    let err = f.fetch("https://x.test/", expect()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("x.test is a name reserved for testing (RFC 2606/6761)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redirect_to_a_reserved_name_is_refused_without_following_it() {
    let server = TestServer::http(|_| Reply::redirect(302, "http://mirror.example/b.zip")).await;
    let f = fetcher(test_config(&[]));
    let err = f.fetch(&server.url("/b.zip"), expect()).await.unwrap_err();
    match &err {
        FetchError::ReservedHost { host, url, .. } => {
            assert_eq!(host, "mirror.example");
            assert_eq!(url, &server.url("/b.zip"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.reason(), "SourceHostReserved");
    // Asked once: a permanent failure is not retried.
    assert_eq!(server.hits(), 1);
}
