//! Which address a request really came from.
//!
//! Behind a reverse proxy the connection's peer is the proxy; the visitor's
//! address is in `X-Forwarded-For`. That header is trusted only when the peer
//! is one of the configured proxies, and then read from the right, skipping
//! further trusted proxies, so a visitor cannot choose their own address by
//! sending a forged header (anything left of the first untrusted hop is the
//! client's own claim).

use std::net::IpAddr;

use ipnet::IpNet;

/// Trusted proxy ranges, e.g. `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses or CIDR ranges; empty
    /// means "trust no proxy".
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The visitor's address: the peer itself unless it is a trusted proxy,
    /// else the right-most `X-Forwarded-For` hop that is not a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer_ip = canonical(peer?);
        let peer = Some(peer_ip);
        if !self.contains(peer_ip) {
            return peer;
        }
        let Some(header) = forwarded_for else { return peer };
        let mut last = peer;
        for hop in header.rsplit(',').map(str::trim) {
            let Some(ip) = parse_hop(hop) else { break };
            last = Some(ip);
            if !self.contains(ip) {
                return last;
            }
        }
        last
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what dual-stack sockets report) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(t.client_ip(Some(ip("203.0.113.9")), Some("1.1.1.1")), Some(ip("203.0.113.9")));
    }

    #[test]
    fn a_trusted_proxy_forwards_the_right_most_untrusted_hop() {
        let t = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let peer = Some(ip("127.0.0.1"));
        assert_eq!(t.client_ip(peer, Some("198.51.100.1")), Some(ip("198.51.100.1")));
        // The visitor forged the first entry; the proxy chain appended the rest.
        assert_eq!(t.client_ip(peer, Some("6.6.6.6, 198.51.100.1, 10.1.2.3")), Some(ip("198.51.100.1")));
        assert_eq!(t.client_ip(peer, Some("[2001:db8::1]:443")), Some(ip("2001:db8::1")));
        assert_eq!(t.client_ip(peer, None), peer);
        assert_eq!(t.client_ip(peer, Some("garbage")), peer);
        assert_eq!(t.client_ip(Some(ip("::ffff:127.0.0.1")), Some("198.51.100.1")), Some(ip("198.51.100.1")));
    }

    #[test]
    fn bad_ranges_are_reported() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }
}
