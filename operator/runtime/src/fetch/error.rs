//! Why a fetch failed, said so that the person reading a resource's status
//! knows what to do next.

use std::fmt;
use std::time::Duration;

use attestor_core::digest::Sha256Digest;

use super::reserved::ReservedName;

/// Stable condition reasons, shared with the controllers' status conditions.
pub mod reason {
    /// Cannot connect, timed out, 5xx, or any other HTTP or transport failure.
    pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
    /// HTTP 404 or 410.
    pub const SOURCE_NOT_FOUND: &str = "SourceNotFound";
    /// The response is larger than the limit.
    pub const SOURCE_TOO_LARGE: &str = "SourceTooLarge";
    /// The SHA-256 of the response is not the pinned digest.
    pub const DIGEST_MISMATCH: &str = "DigestMismatch";
    /// The URL cannot be parsed, or is not `http`/`https`.
    pub const INVALID_SOURCE_URL: &str = "InvalidSourceUrl";
    /// The host is a name reserved by RFC 2606/6761 (`.example`, `.test`, `.invalid`,
    /// `example.com`, …): a placeholder, refused without a DNS query.
    pub const SOURCE_HOST_RESERVED: &str = "SourceHostReserved";
}

/// How much of an oversized body was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySize {
    /// The server announced this many bytes in `Content-Length`; none were read.
    Declared(u64),
    /// Reading stopped once this many bytes had arrived (no, or a lying, `Content-Length`).
    AtLeast(u64),
}

impl fmt::Display for BodySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodySize::Declared(n) => write!(f, "{} (Content-Length)", human_size(*n)),
            BodySize::AtLeast(n) => write!(f, "at least {}", human_size(*n)),
        }
    }
}

/// A failed fetch. Every variant names the URL that was asked for (`url`),
/// the numbers involved, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("invalid URL {url:?}: {detail}: give an absolute https:// or http:// URL in {field}")]
    InvalidUrl {
        url: String,
        detail: String,
        field: &'static str,
    },

    #[error(
        "URL {url}: scheme \"{scheme}\" is not supported: only https:// and http:// URLs can be fetched; change {field}"
    )]
    UnsupportedScheme {
        url: String,
        scheme: String,
        field: &'static str,
    },

    #[error(
        "URL {url}: carries a user name or password, which would end up in logs and status; \
         give a URL without credentials (for example a presigned URL) in {field}"
    )]
    CredentialsInUrl {
        /// The URL with its credentials removed.
        url: String,
        field: &'static str,
    },

    #[error("GET {url}: HTTP {status}{}{}: {}", reason_phrase(*status), Attempts(*attempts), http_hint(*status, field))]
    Http {
        url: String,
        status: u16,
        attempts: u32,
        field: &'static str,
    },

    #[error(
        "GET {url}: the response is {size}, more than the {} limit: publish a smaller file or check {field}",
        human_size(*limit)
    )]
    TooLarge {
        url: String,
        size: BodySize,
        limit: u64,
        field: &'static str,
    },

    #[error(
        "GET {url}: digest {actual} does not match the pin {expected}: the content changed or the pin is wrong; \
         update the pin only if you trust the new content"
    )]
    DigestMismatch {
        url: String,
        expected: Sha256Digest,
        actual: Sha256Digest,
    },

    #[error(
        "GET {url}: timed out after {}{}: the server is slow or unreachable; check it, or raise the timeout",
        human_duration(*after),
        Attempts(*attempts)
    )]
    Timeout {
        url: String,
        /// The time allowed for one attempt (connection, headers and body).
        after: Duration,
        attempts: u32,
    },

    #[error(
        "GET {url}: cannot connect: {detail}{}: check the host name, the port and that network policies allow egress to it",
        Attempts(*attempts)
    )]
    Connect {
        url: String,
        detail: String,
        attempts: u32,
    },

    #[error(
        "GET {url}: TLS failed: {detail}: the server's certificate is not trusted for this host; \
         fix the certificate or add its CA to the operator's trusted roots"
    )]
    Tls { url: String, detail: String },

    #[error(
        "GET {url}: the connection failed during the transfer: {detail}{}: check the server",
        Attempts(*attempts)
    )]
    Transport {
        url: String,
        detail: String,
        attempts: u32,
    },

    #[error(
        "GET {url}: more than {max} redirects ({}): point {field} at the final location",
        chain.join(" -> ")
    )]
    TooManyRedirects {
        url: String,
        max: usize,
        chain: Vec<String>,
        field: &'static str,
    },

    #[error("GET {url}: redirect loop ({}): fix the server's redirects or point {field} at the final location", chain.join(" -> "))]
    RedirectLoop {
        url: String,
        chain: Vec<String>,
        field: &'static str,
    },

    #[error(
        "GET {url}: refused the redirect from {from} to {to}: a redirect must not leave https; \
         serve the file over https or point {field} at it"
    )]
    InsecureRedirect {
        url: String,
        from: String,
        to: String,
        field: &'static str,
    },

    #[error(
        "GET {url}: refused to connect to {host} ({address}{}): it is in the denied network \
         {network} (loopback, private and link-local addresses reach in-cluster services and \
         cloud instance metadata); point {field} at another host, or let the operator reach it \
         with --fetch-allow-network (see also --fetch-deny-network)",
        carried_text(.carried)
    )]
    DeniedAddress {
        url: String,
        host: String,
        address: std::net::IpAddr,
        /// The IPv4 address an IPv6 address carries (NAT64, 6to4, Teredo), when that is what
        /// the denied network holds.
        carried: Option<std::net::Ipv4Addr>,
        network: String,
        field: &'static str,
    },

    #[error(
        "GET {url}: {host} is a name reserved {kind} (RFC 2606/6761): it names no real server, \
         so no DNS query was made; use a real host in {field}"
    )]
    ReservedHost {
        url: String,
        /// The reserved host, as the URL (or a redirect's Location) names it.
        host: String,
        kind: ReservedName,
        field: &'static str,
    },

    #[error("GET {url}: bad redirect from {from}: {detail}: point {field} at the final location")]
    BadRedirect {
        url: String,
        from: String,
        detail: String,
        field: &'static str,
    },
}

fn carried_text(carried: &Option<std::net::Ipv4Addr>) -> String {
    carried.map_or_else(String::new, |v4| format!(", which carries {v4}"))
}

impl FetchError {
    /// The stable condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. }
            | FetchError::UnsupportedScheme { .. }
            | FetchError::CredentialsInUrl { .. }
            | FetchError::DeniedAddress { .. } => reason::INVALID_SOURCE_URL,
            FetchError::Http {
                status: 404 | 410, ..
            } => reason::SOURCE_NOT_FOUND,
            FetchError::TooLarge { .. } => reason::SOURCE_TOO_LARGE,
            FetchError::DigestMismatch { .. } => reason::DIGEST_MISMATCH,
            FetchError::ReservedHost { .. } => reason::SOURCE_HOST_RESERVED,
            FetchError::Http { .. }
            | FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Tls { .. }
            | FetchError::Transport { .. }
            | FetchError::TooManyRedirects { .. }
            | FetchError::RedirectLoop { .. }
            | FetchError::InsecureRedirect { .. }
            | FetchError::BadRedirect { .. } => reason::SOURCE_UNAVAILABLE,
        }
    }

    /// True when the same request may well succeed later: connection
    /// failures, timeouts, HTTP 408, 429 and 5xx. The fetcher retries these
    /// itself; a caller that still gets one may requeue sooner than for others.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Transport { .. } => true,
            FetchError::Http { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }

    /// The URL that was asked for (before any redirect).
    pub fn url(&self) -> &str {
        match self {
            FetchError::InvalidUrl { url, .. }
            | FetchError::UnsupportedScheme { url, .. }
            | FetchError::CredentialsInUrl { url, .. }
            | FetchError::Http { url, .. }
            | FetchError::TooLarge { url, .. }
            | FetchError::DigestMismatch { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Connect { url, .. }
            | FetchError::Tls { url, .. }
            | FetchError::Transport { url, .. }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::RedirectLoop { url, .. }
            | FetchError::InsecureRedirect { url, .. }
            | FetchError::DeniedAddress { url, .. }
            | FetchError::ReservedHost { url, .. }
            | FetchError::BadRedirect { url, .. } => url,
        }
    }

    /// How many attempts were made, for the variants that are retried.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            FetchError::Http { attempts, .. }
            | FetchError::Timeout { attempts, .. }
            | FetchError::Connect { attempts, .. }
            | FetchError::Transport { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            FetchError::Http { attempts, .. }
            | FetchError::Timeout { attempts, .. }
            | FetchError::Connect { attempts, .. }
            | FetchError::Transport { attempts, .. } => *attempts = n,
            _ => {}
        }
    }
}

/// Whether an HTTP status is worth retrying.
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// " (3 attempts)" when more than one attempt was made.
struct Attempts(u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 1 {
            write!(f, " ({} attempts)", self.0)
        } else {
            Ok(())
        }
    }
}

fn reason_phrase(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

fn http_hint(status: u16, field: &str) -> String {
    match status {
        404 | 410 => format!("check {field}"),
        401 | 403 => format!(
            "the server refused access; the operator sends no credentials, so make the file \
             readable without them (for example with a presigned URL) in {field}"
        ),
        408 | 429 | 500..=599 => {
            "the server is failing or overloaded; it is retried later, or check the server".into()
        }
        _ => format!("check {field} and the server"),
    }
}

/// `8 MiB`, `1.5 KiB`, `12 bytes`.
pub fn human_size(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    let (unit, name) = match n {
        _ if n >= GIB => (GIB, "GiB"),
        _ if n >= MIB => (MIB, "MiB"),
        _ if n >= KIB => (KIB, "KiB"),
        _ => return format!("{n} bytes"),
    };
    if n.is_multiple_of(unit) {
        format!("{} {name}", n / unit)
    } else {
        format!("{:.1} {name}", n as f64 / unit as f64)
    }
}

/// `30s`, `1.5s`, `250ms`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(1024), "1 KiB");
        assert_eq!(human_size(256 * 1024), "256 KiB");
        assert_eq!(human_size(8 * 1024 * 1024), "8 MiB");
        assert_eq!(human_size(12 * 1024 * 1024 + 512 * 1024), "12.5 MiB");
        assert_eq!(human_duration(Duration::from_secs(30)), "30s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn messages_carry_url_numbers_and_advice() {
        let e = FetchError::Http {
            url: "https://x/b.zip".into(),
            status: 404,
            attempts: 1,
            field: "source.url",
        };
        assert_eq!(
            e.to_string(),
            "GET https://x/b.zip: HTTP 404 Not Found: check source.url"
        );
        assert_eq!(e.reason(), "SourceNotFound");
        assert!(!e.is_transient());

        let e = FetchError::TooLarge {
            url: "https://x/b.zip".into(),
            size: BodySize::Declared(12 * 1024 * 1024),
            limit: 8 * 1024 * 1024,
            field: "source.url",
        };
        assert!(
            e.to_string()
                .starts_with("GET https://x/b.zip: the response is 12 MiB (Content-Length), more than the 8 MiB limit"),
            "{e}"
        );
        assert_eq!(e.reason(), "SourceTooLarge");

        let e = FetchError::Timeout {
            url: "https://x/b.zip".into(),
            after: Duration::from_secs(30),
            attempts: 3,
        };
        assert!(
            e.to_string()
                .starts_with("GET https://x/b.zip: timed out after 30s (3 attempts)"),
            "{e}"
        );
        assert_eq!(e.reason(), "SourceUnavailable");
        assert!(e.is_transient());

        let e = FetchError::Http {
            url: "https://x/b.zip".into(),
            status: 503,
            attempts: 3,
            field: "source.url",
        };
        assert!(
            e.to_string()
                .starts_with("GET https://x/b.zip: HTTP 503 Service Unavailable (3 attempts)"),
            "{e}"
        );
        assert!(e.is_transient());
        assert_eq!(e.reason(), "SourceUnavailable");

        let e = FetchError::Http {
            url: "https://x/b.zip".into(),
            status: 599,
            attempts: 1,
            field: "source.url",
        };
        assert!(
            e.to_string().starts_with("GET https://x/b.zip: HTTP 599: "),
            "{e}"
        );
    }
}
