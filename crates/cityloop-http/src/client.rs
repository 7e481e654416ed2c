//! The client's address, and the trusted-proxy rule for `X-Forwarded-For`.
//!
//! The socket peer is the client unless the peer is one of the configured trusted proxies
//! (`--trusted-proxies`, addresses or CIDR blocks). Only then is `X-Forwarded-For` read,
//! from the right: each hop that is itself a trusted proxy is skipped, and the first one
//! that is not is the client. A header from an untrusted peer is ignored (anyone can send
//! one), and so is a malformed entry (the nearest trusted hop answers for the request).
//! With no trusted proxies configured (the default) the header is never read.
//!
//! Rate limits and the login throttle key on this address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::AppState;

/// Trusted proxies at most (a list longer than this is a configuration mistake).
pub const MAX_TRUSTED_PROXIES: usize = 256;
/// `X-Forwarded-For` hops read at most (from the right).
pub const MAX_FORWARDED_HOPS: usize = 32;

/// One address block: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `192.0.2.7`, `fd00::/8`, `::1`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let t = s.trim();
        let bad = || format!("{t:?}: expected an IP address or a CIDR block such as 10.0.0.0/8");
        let (a, p) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(bad)?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The configured trusted proxies; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A comma-separated list of addresses and CIDR blocks; empty is none.
    pub fn parse(s: &str) -> Result<TrustedProxies, String> {
        let list = s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if list.len() > MAX_TRUSTED_PROXIES {
            return Err(format!("at most {MAX_TRUSTED_PROXIES} trusted proxies"));
        }
        Ok(TrustedProxies(list))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|v| {
                let list: Vec<&str> = v.to_str().unwrap_or("").split(',').collect();
                list.into_iter().rev()
            })
            .take(MAX_FORWARDED_HOPS);
        for hop in hops {
            match parse_hop(hop) {
                Some(ip) => {
                    client = canonical(ip);
                    if !self.trusts(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally `[v6]` or with a `:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let h = hop.trim();
    if let Ok(ip) = h.parse() {
        return Some(ip);
    }
    if let Ok(sa) = h.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    h.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

/// Extractor: the client's address after the trusted-proxy rule.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(st, parts)))
    }
}

/// The client address of a request (unspecified when the server runs without peer
/// information, which only happens in unit tests of the router).
pub fn client_ip(st: &AppState, parts: &Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    st.net.trusted_proxies.client(peer, &parts.headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn blocks_match_by_prefix_and_mapped_ipv4_counts_as_ipv4() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.200.3.4")));
        assert!(c.contains(ip("::ffff:10.1.1.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "host.example", "::/129", "1.2.3.4/x"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_read_only_from_a_trusted_peer() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("198.51.100.1"), &xff("203.0.113.5")),
            ip("198.51.100.1")
        );
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // An untrusted peer's header is ignored.
        assert_eq!(
            t.client(ip("198.51.100.1"), &xff("203.0.113.5")),
            ip("198.51.100.1")
        );
        // Through the proxy: the client is the last untrusted hop, read from the right;
        // what the client itself claims further left does not count.
        assert_eq!(
            t.client(ip("127.0.0.1"), &xff("1.1.1.1, 203.0.113.5, 10.0.0.3")),
            ip("203.0.113.5")
        );
        // No header: the proxy itself.
        assert_eq!(
            t.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        // A garbled entry stops the walk at the nearest trusted hop.
        assert_eq!(
            t.client(ip("127.0.0.1"), &xff("203.0.113.5, garbage")),
            ip("127.0.0.1")
        );
        assert_eq!(
            t.client(ip("127.0.0.1"), &xff("[2001:db8::1]")),
            ip("2001:db8::1")
        );
        assert_eq!(
            t.client(ip("127.0.0.1"), &xff("203.0.113.5:4711")),
            ip("203.0.113.5")
        );
    }
}
