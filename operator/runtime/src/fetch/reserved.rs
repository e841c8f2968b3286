//! Host names reserved by RFC 2606 and RFC 6761, which name no real server: the top-level
//! domains `example`, `test` and `invalid`, and the domains `example.com`, `example.net` and
//! `example.org`, with every name under them.
//!
//! They are what documentation and examples use (this project's own `examples/` among them),
//! so a URL naming one is a placeholder nobody replaced. The fetcher refuses it before any DNS
//! query or connection: a lookup could only fail (or, worse, be answered by a resolver that
//! hijacks unknown names), and retrying it with backoff would keep asking forever.
//!
//! `localhost` (RFC 6761 §6.3) is not in this list: it names this machine, and the network
//! policy decides whether loopback may be reached.

use std::fmt;

/// Why a name is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservedName {
    /// `.example`, `example.com`, `example.net`, `example.org` (RFC 2606 §2 and §3, RFC 6761 §6.5).
    Documentation,
    /// `.test` (RFC 2606 §2, RFC 6761 §6.2).
    Testing,
    /// `.invalid` (RFC 2606 §2, RFC 6761 §6.4).
    Invalid,
}

impl fmt::Display for ReservedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReservedName::Documentation => "for documentation",
            ReservedName::Testing => "for testing",
            ReservedName::Invalid => "to be invalid",
        })
    }
}

/// Whether `host` (a DNS name as a URL carries it; any case, one trailing dot allowed) is a
/// reserved name or under one. IP literals are never reserved names.
pub fn reserved_name(host: &str) -> Option<ReservedName> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let mut labels = host.rsplit('.');
    match (labels.next(), labels.next()) {
        (Some("example"), _) => Some(ReservedName::Documentation),
        (Some("test"), _) => Some(ReservedName::Testing),
        (Some("invalid"), _) => Some(ReservedName::Invalid),
        (Some("com" | "net" | "org"), Some("example")) => Some(ReservedName::Documentation),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ReservedName::{Documentation, Invalid, Testing};
    use super::*;

    #[test]
    fn reserved_names_are_recognised_in_any_case_with_a_trailing_dot() {
        let table: &[(&str, Option<ReservedName>)] = &[
            // The top-level domains themselves and names under them.
            ("example", Some(Documentation)),
            ("registry.example", Some(Documentation)),
            ("keys.vendor.example", Some(Documentation)),
            ("test", Some(Testing)),
            ("ci.example.test", Some(Testing)),
            ("invalid", Some(Invalid)),
            ("nothing.invalid", Some(Invalid)),
            // The second-level documentation domains and their subdomains.
            ("example.com", Some(Documentation)),
            ("example.net", Some(Documentation)),
            ("example.org", Some(Documentation)),
            ("ci.example.com", Some(Documentation)),
            ("a.b.example.org", Some(Documentation)),
            // Case and one trailing dot (the root) change nothing.
            ("Registry.EXAMPLE", Some(Documentation)),
            ("registry.example.", Some(Documentation)),
            ("EXAMPLE.COM.", Some(Documentation)),
            ("host.Test", Some(Testing)),
            ("host.INVALID.", Some(Invalid)),
            // Real names, including look-alikes.
            ("registry.example.io", None),
            ("example.co", None),
            ("example.com.au", None),
            ("notexample.com", None),
            ("example-registry.com", None),
            ("examples", None),
            ("testing", None),
            ("test.com", None),
            ("invalid.org", None),
            ("ghcr.io", None),
            ("com", None),
            // localhost resolves to loopback: the network policy decides about it.
            ("localhost", None),
            ("localhost.", None),
            // IP literals, as a URL's host_str gives them.
            ("127.0.0.1", None),
            ("[::1]", None),
            ("", None),
            (".", None),
        ];
        for (host, expected) in table {
            assert_eq!(reserved_name(host), *expected, "{host:?}");
        }
    }
}
