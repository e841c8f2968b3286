//! A reserved name (RFC 2606/6761) never leaves the process. Through an HTTP proxy the proxy,
//! not the operator, would resolve and connect, so the proxy seeing no request shows that
//! nothing was sent for it, while a real name goes through the same proxy.
//!
//! Its own test binary: it points this process's proxy variables at a scripted proxy on
//! 127.0.0.1, which no other test may see.

mod support;

use attestor_runtime::fetch::{FetchError, FetchExpect};
use support::{Reply, TestServer, fetcher, test_config};

#[tokio::test]
async fn a_reserved_name_is_not_even_sent_to_a_proxy() {
    let proxy = TestServer::http(|r| Reply::ok(format!("via the proxy: {}", r.path))).await;
    let proxy_url = proxy.url("");
    // SAFETY: the only test of this binary sets the variables before the client that reads
    // them is built, and nothing else in the process reads the environment meanwhile.
    unsafe {
        for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::set_var(name, &proxy_url);
        }
        for name in ["NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"] {
            std::env::remove_var(name);
        }
    }
    let mut config = test_config(&[]);
    config.proxy_from_env = true;
    let f = fetcher(config);
    let expect = FetchExpect::new(1024).for_field("source.url");

    // A real name goes to the proxy (absolute-form request), so the proxy path works...
    let got = f
        .fetch("http://bundles.attestor-proxy-check.net/b.zip", expect)
        .await
        .expect("fetched through the proxy");
    assert_eq!(
        String::from_utf8(got.bytes).unwrap(),
        "via the proxy: http://bundles.attestor-proxy-check.net/b.zip"
    );
    assert_eq!(proxy.hits(), 1);

    // ...and a reserved one is refused before it: the proxy sees nothing more.
    let err = f
        .fetch("http://bundles.example/shop/cart/1.4.2/proof.zip", expect)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::ReservedHost { .. }), "{err:?}");
    assert_eq!(err.reason(), "SourceHostReserved");
    assert_eq!(proxy.hits(), 1, "{:?}", proxy.requests());
}
