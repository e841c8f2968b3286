//! Networks the fetcher never connects to, and the few it may connect to anyway.
//!
//! `source.url` and `directory.url` are written by whoever may create a ProofVerification or a
//! TrustedIssuer, and the operator fetches them from inside the cluster with its own network
//! identity. Without a guard, `http://169.254.169.254/latest/meta-data/` reads the node's cloud
//! credentials, `http://10.0.0.1/...` or `http://127.0.0.1:8080/metrics` probes in-cluster
//! services, and the answer is echoed into a status message. So every address that is not
//! globally reachable is refused by default ([`default_denied_networks`]: loopback, RFC 1918,
//! CGNAT, "this network", link-local, IPv6 ULA and site-local, multicast, reserved), replaceable
//! with `--fetch-deny-network`. `--fetch-allow-network` lists networks that may be reached even
//! so (an in-cluster snapshot store or key directory); an address in an allowed network is
//! allowed, whatever the deny list says, and only such an address.
//!
//! An IPv6 address that carries an IPv4 address is judged by both: IPv4-mapped
//! (`::ffff:a.b.c.d`, the IPv4 host itself on the wire), IPv4-translated (`::ffff:0:a.b.c.d`),
//! NAT64 (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::`) and Teredo (`2001:0:…`, server and
//! client). So `64:ff9b::7f00:1` is loopback, and a NAT64 gateway cannot be used to reach
//! 10.0.0.1. IPv4-compatible addresses (`::a.b.c.d`, deprecated) and the local-use NAT64 prefix
//! `64:ff9b:1::/48` (where the IPv4 address sits depends on the site's prefix length) are denied
//! as a whole.
//!
//! Where the check runs: on every address a name resolves to (in the resolver, so the connection
//! goes to exactly the addresses that were checked: resolved once, then pinned, and a DNS answer
//! that changes between check and connect cannot exist), and on every IP literal in a URL, the
//! first and each redirect's. Literals are checked as the URL parser normalised them, so
//! `http://2130706433/`, `http://0x7f.1/`, `http://0177.0.0.1/` and `http://127.0.0.1./` are
//! all 127.0.0.1.
//!
//! Through an HTTP proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`) the proxy resolves names and
//! connects, so for a URL with a host name only the proxy's own address is checked (allow it with
//! `--fetch-allow-network` when it is in a denied network); IP literals in URLs are still
//! checked. The proxy must then do its own filtering.

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

/// One address as a network of its own (`/32`, `/128`).
impl From<IpAddr> for IpNetwork {
    fn from(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
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
    /// Whether `ip` is in this network. IPv4 networks hold IPv4-mapped IPv6 addresses too
    /// (`::ffff:10.0.0.1` is 10.0.0.1 on the wire).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && masked(ip, self.prefix) == self.addr
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The IPv4 addresses an IPv6 address carries and that a packet to it may end up at.
fn embedded_ipv4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from(bits as u32);
    let seg = v6.segments();
    match seg {
        // IPv4-translated (RFC 2765): ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0xffff, 0, _, _] => vec![low32],
        // NAT64 well-known prefix (RFC 6052): 64:ff9b::a.b.c.d.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => vec![low32],
        // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is a.b.c.d's site.
        [0x2002, hi, lo, ..] => vec![Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))],
        // Teredo (RFC 4380): 2001:0:SERVER:flags:port:CLIENT, the client address inverted.
        [0x2001, 0, s1, s2, ..] => vec![
            Ipv4Addr::from((u32::from(s1) << 16) | u32::from(s2)),
            Ipv4Addr::from(!(bits as u32)),
        ],
        _ => Vec::new(),
    }
}

const DEFAULT_DENIED: &[&str] = &[
    // IPv4 (RFC 6890's special-purpose registry, the parts that are not globally reachable).
    "0.0.0.0/8",      // "this network"; 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8",     // RFC 1918
    "100.64.0.0/10",  // shared address space (carrier-grade NAT, some clusters' Pod ranges)
    "127.0.0.0/8",    // loopback
    "169.254.0.0/16", // link-local: cloud instance metadata (169.254.169.254)
    "172.16.0.0/12",  // RFC 1918
    "192.0.0.0/24",   // IETF protocol assignments
    "192.168.0.0/16", // RFC 1918
    "198.18.0.0/15",  // benchmarking, often used for internal networks
    "224.0.0.0/4",    // multicast
    "240.0.0.0/4",    // reserved, and the limited broadcast 255.255.255.255
    // IPv6.
    "::/128",         // unspecified; reaches the local host on Linux
    "::1/128",        // loopback
    "::/96",          // IPv4-compatible (deprecated)
    "64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
    "fc00::/7",       // unique local (AWS's IPv6 metadata endpoint is fd00:ec2::254)
    "fe80::/10",      // link-local
    "fec0::/10",      // site-local (deprecated)
    "ff00::/8",       // multicast
];

/// Every address that is not globally reachable (see the [module documentation](self)).
pub fn default_denied_networks() -> Vec<IpNetwork> {
    DEFAULT_DENIED
        .iter()
        .map(|n| n.parse().expect("built-in networks parse"))
        .collect()
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    /// The denied network.
    pub network: IpNetwork,
    /// The IPv4 address inside the IPv6 one that is in `network`, if that is what was denied.
    pub carried: Option<Ipv4Addr>,
}

/// Which addresses the fetcher may connect to: not in a denied network, or in an allowed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub denied: Vec<IpNetwork>,
    pub allowed: Vec<IpNetwork>,
}

impl NetworkPolicy {
    /// `Ok` when `ip` may be connected to, else the network that denies it.
    pub fn check(&self, ip: IpAddr) -> Result<(), Denial> {
        let ip = canonical(ip);
        // Allowed means exactly the listed networks: allowing 10.0.0.0/8 does not allow
        // 64:ff9b::a00:1 (a NAT64 gateway's route to it); list that prefix too if needed.
        if self.allowed.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        if let Some(network) = self.denied.iter().copied().find(|n| n.contains(ip)) {
            return Err(Denial {
                network,
                carried: None,
            });
        }
        if let IpAddr::V6(v6) = ip {
            for v4 in embedded_ipv4(v6) {
                if let Some(network) = self.denied.iter().copied().find(|n| n.contains(v4.into())) {
                    return Err(Denial {
                        network,
                        carried: Some(v4),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The resolver error when every address of a name is denied.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, in the denied network {}", denial.network)]
pub(crate) struct DeniedResolution {
    pub host: String,
    pub address: IpAddr,
    pub denial: Denial,
}

/// Keeps the addresses of `host` that `policy` allows. Only those are returned to the
/// connector, which connects to nothing else: the addresses checked are the addresses used.
pub(crate) fn filter_resolved(
    policy: &NetworkPolicy,
    host: &str,
    found: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, DeniedResolution> {
    let mut first_denied = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match policy.check(a.ip()) {
            Ok(()) => true,
            Err(denial) => {
                first_denied.get_or_insert((a.ip(), denial));
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_denied) {
        (true, Some((address, denial))) => Err(DeniedResolution {
            host: host.to_string(),
            address,
            denial,
        }),
        _ => Ok(allowed),
    }
}

/// The system resolver, minus denied addresses.
pub(crate) struct DenyingResolver {
    pub policy: Arc<NetworkPolicy>,
}

impl reqwest::dns::Resolve for DenyingResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            match filter_resolved(&policy, &host, found) {
                Ok(allowed) => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
                Err(denied) => Err(Box::new(denied) as Box<dyn std::error::Error + Send + Sync>),
            }
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

    fn defaults() -> NetworkPolicy {
        NetworkPolicy {
            denied: default_denied_networks(),
            allowed: Vec::new(),
        }
    }

    fn denial(policy: &NetworkPolicy, ip: &str) -> Option<Denial> {
        policy.check(ip.parse().unwrap()).err()
    }

    #[test]
    fn the_defaults_deny_every_address_that_is_not_globally_reachable() {
        let policy = defaults();
        for (ip, network) in [
            ("169.254.169.254", "169.254.0.0/16"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.255.254", "127.0.0.0/8"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("10.0.0.1", "10.0.0.0/8"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("192.0.0.170", "192.0.0.0/24"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.250", "224.0.0.0/4"),
            ("255.255.255.255", "240.0.0.0/4"),
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("fe80::1", "fe80::/10"),
            ("fd00:ec2::254", "fc00::/7"),
            ("fc00::1", "fc00::/7"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("64:ff9b:1::a00:1", "64:ff9b:1::/48"),
            // IPv4-mapped: the IPv4 host itself.
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
            ("::ffff:127.0.0.1", "127.0.0.0/8"),
            ("::ffff:10.1.2.3", "10.0.0.0/8"),
            // IPv4-compatible.
            ("::127.0.0.1", "::/96"),
            ("::8.8.8.8", "::/96"),
        ] {
            let d = denial(&policy, ip).unwrap_or_else(|| panic!("{ip} is allowed"));
            assert_eq!(d.network.to_string(), network, "{ip}");
        }
    }

    #[test]
    fn ipv6_addresses_carrying_a_denied_ipv4_address_are_denied() {
        let policy = defaults();
        for (ip, carried, network) in [
            ("64:ff9b::7f00:1", "127.0.0.1", "127.0.0.0/8"),
            ("64:ff9b::10.0.0.1", "10.0.0.1", "10.0.0.0/8"),
            (
                "64:ff9b::169.254.169.254",
                "169.254.169.254",
                "169.254.0.0/16",
            ),
            ("::ffff:0:127.0.0.1", "127.0.0.1", "127.0.0.0/8"),
            ("2002:7f00:1::1", "127.0.0.1", "127.0.0.0/8"),
            ("2002:a9fe:a9fe::", "169.254.169.254", "169.254.0.0/16"),
            ("2002:c0a8:101:1::1", "192.168.1.1", "192.168.0.0/16"),
            // Teredo: the client 127.0.0.1 is stored inverted (0x80fffffe).
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                "127.0.0.1",
                "127.0.0.0/8",
            ),
            // Teredo with a private server address.
            ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "10.0.0.1", "10.0.0.0/8"),
        ] {
            let d = denial(&policy, ip).unwrap_or_else(|| panic!("{ip} is allowed"));
            assert_eq!(d.network.to_string(), network, "{ip}");
            assert_eq!(d.carried, Some(carried.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_defaults_allow_public_addresses() {
        let policy = defaults();
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "169.255.0.1",
            "172.32.0.1",
            "100.128.0.1",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert_eq!(denial(&policy, ip), None, "{ip}");
        }
    }

    #[test]
    fn allowed_networks_win_for_exactly_the_addresses_they_hold() {
        let policy = NetworkPolicy {
            denied: default_denied_networks(),
            allowed: vec![net("127.0.0.0/8"), net("10.96.0.0/12")],
        };
        for ip in [
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "10.96.0.10",
            "10.111.255.255",
        ] {
            assert_eq!(denial(&policy, ip), None, "{ip}");
        }
        for ip in [
            "10.95.255.255",
            "10.112.0.0",
            "169.254.169.254",
            "::1",
            "192.168.0.1",
            // The NAT64 route to an allowed IPv4 address is not itself allowed.
            "64:ff9b::7f00:1",
        ] {
            assert!(denial(&policy, ip).is_some(), "{ip}");
        }
    }

    #[test]
    fn a_name_keeps_only_its_allowed_addresses_and_fails_when_none_is_left() {
        let policy = defaults();
        let addr = |s: &str| SocketAddr::new(s.parse().unwrap(), 0);
        // A mixed answer (a rebinding attempt, or a split-horizon name): only what is
        // allowed goes to the connector, which connects to nothing else.
        let kept = filter_resolved(
            &policy,
            "mixed.example",
            [addr("127.0.0.1"), addr("93.184.215.14"), addr("::1")],
        )
        .unwrap();
        assert_eq!(kept, [addr("93.184.215.14")]);
        let err = filter_resolved(
            &policy,
            "rebind.example",
            [addr("10.0.0.1"), addr("169.254.169.254")],
        )
        .unwrap_err();
        assert_eq!(err.address, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            err.to_string(),
            "rebind.example resolves to 10.0.0.1, in the denied network 10.0.0.0/8"
        );
        // No address at all is the resolver's own "not found", not a denial.
        assert_eq!(filter_resolved(&policy, "x.example", []).unwrap(), []);
    }

    #[test]
    fn a_zero_prefix_covers_its_whole_family() {
        let all_v4 = net("0.0.0.0/0");
        assert!(all_v4.contains("203.0.113.9".parse().unwrap()));
        assert!(!all_v4.contains("2001:db8::1".parse().unwrap()));
    }
}
