//! Networks the fetcher never connects to.
//!
//! `source.url` and `directory.url` are written by whoever may create a ProofVerification or a
//! TrustedIssuer, and the operator fetches them from inside the cluster with its own network
//! identity. Without a guard, a URL such as `http://169.254.169.254/latest/meta-data/` would make
//! the operator read the node's cloud credentials and echo them into a status message. The
//! link-local ranges (where every major cloud serves instance metadata) are therefore refused by
//! default, whatever name resolves to them; the list is configurable (`--fetch-deny-network`).
//!
//! Names are checked after resolution, so a DNS name pointing at a denied address is refused too.
//! Through an HTTP proxy the proxy resolves names, and only the proxy's own address is checked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// An IP network in CIDR notation (`169.254.0.0/16`, `fe80::/10`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not an IP network: {detail} (write it as 169.254.0.0/16, fe80::/10 or 10.1.2.3)"
)]
pub struct IpNetworkParseError {
    text: String,
    detail: String,
}

impl FromStr for IpNetwork {
    type Err = IpNetworkParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |detail: &str| IpNetworkParseError {
            text: text.to_string(),
            detail: detail.to_string(),
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| err("not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| err(&format!("the prefix length must be 0 to {max}")))?,
        };
        if masked(addr, prefix) != addr {
            return Err(err("host bits are set after the prefix"));
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

impl IpNetwork {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address (::ffff:169.254.169.254) reaches the IPv4 host.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.addr.is_ipv4() && masked(ip, self.prefix) == self.addr
    }
}

/// Link-local IPv4 and IPv6 (cloud instance metadata: 169.254.169.254, fd00:ec2::254 on AWS's
/// IPv6 metadata endpoint).
pub fn default_denied_networks() -> Vec<IpNetwork> {
    ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254"]
        .iter()
        .map(|n| n.parse().expect("built-in networks parse"))
        .collect()
}

/// The first denied network holding `ip`.
pub fn denied_by(denied: &[IpNetwork], ip: IpAddr) -> Option<IpNetwork> {
    denied.iter().copied().find(|n| n.contains(ip))
}

/// The resolver error when every address of a name is denied.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, in the denied network {network}")]
pub(crate) struct DeniedResolution {
    pub host: String,
    pub address: IpAddr,
    pub network: IpNetwork,
}

/// The system resolver, minus denied addresses.
pub(crate) struct DenyingResolver {
    pub denied: Arc<[IpNetwork]>,
}

impl reqwest::dns::Resolve for DenyingResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let denied = self.denied.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_denied = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match denied_by(&denied, a.ip()) {
                    Some(network) => {
                        first_denied.get_or_insert((a.ip(), network));
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty()
                && let Some((address, network)) = first_denied
            {
                return Err(Box::new(DeniedResolution {
                    host,
                    address,
                    network,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_networks() {
        assert_eq!(net("169.254.0.0/16").to_string(), "169.254.0.0/16");
        assert_eq!(net("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(net("fe80::/10").to_string(), "fe80::/10");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn refuses_malformed_networks_with_the_reason() {
        for (text, phrase) in [
            ("169.254.0.0/33", "prefix length must be 0 to 32"),
            ("fe80::/129", "0 to 128"),
            ("169.254.1.0/16", "host bits are set"),
            ("metadata", "not an IPv4 or IPv6 address"),
            ("10.0.0.0/x", "prefix length"),
        ] {
            let e = text.parse::<IpNetwork>().unwrap_err().to_string();
            assert!(e.contains(phrase), "{text}: {e}");
            assert!(e.contains("169.254.0.0/16, fe80::/10"), "{e}");
        }
    }

    #[test]
    fn the_defaults_deny_metadata_endpoints_and_nothing_else_common() {
        let denied = default_denied_networks();
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(denied_by(&denied, ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "8.8.8.8",
            "::1",
            "fd00:ec2::253",
            "169.255.0.1",
        ] {
            assert!(denied_by(&denied, ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[test]
    fn a_zero_prefix_covers_its_whole_family() {
        let all_v4 = net("0.0.0.0/0");
        assert!(all_v4.contains("203.0.113.9".parse().unwrap()));
        assert!(!all_v4.contains("2001:db8::1".parse().unwrap()));
    }
}
