//! Who a request is charged to: the [`KeyExtractor`] trait and its implementations (peer
//! IP, client IP behind trusted proxies, a header such as an API key, a user id from the
//! request's extensions, or any closure).
//!
//! Client IPs from `Forwarded` / `X-Forwarded-For` are only believed when the request
//! comes from a proxy listed in [`TrustedProxies`]: anyone can send those headers, so
//! trusting them by default would let every client pick its own rate limit key.

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use http::request::Parts;
use http::{HeaderMap, HeaderName};

/// Derives the rate limit key of a request; `None` when the request has none (see
/// [`MissingKey`](super::MissingKey)).
pub trait KeyExtractor: Send + Sync + 'static {
    /// The key for this request.
    fn extract(&self, req: &Parts) -> Option<String>;
}

impl<F> KeyExtractor for F
where
    F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
{
    fn extract(&self, req: &Parts) -> Option<String> {
        self(req)
    }
}

/// The TCP peer's IP, from axum's `ConnectInfo<SocketAddr>` (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`). Behind a proxy every client
/// would share the proxy's key: use [`ClientIp`] there.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerIp;

fn peer(req: &Parts) -> Option<IpAddr> {
    req.extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
}

impl KeyExtractor for PeerIp {
    fn extract(&self, req: &Parts) -> Option<String> {
        peer(req).map(|ip| ip.to_string())
    }
}

/// An IP network, such as `10.0.0.0/8`, `::1/128` or a bare address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
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

/// A malformed [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR {:?}", self.0)
    }
}

impl std::error::Error for CidrError {}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, CidrError> {
        let err = || CidrError(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(addr.trim())
            .map_err(|_| err())?
            .to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| err())?,
            None => max,
        };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }
}

/// The proxies whose forwarding headers are believed. Empty by default: no header is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<[Cidr]>,
}

impl TrustedProxies {
    /// Trust no proxy.
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    /// Trust these networks.
    pub fn new(nets: impl IntoIterator<Item = Cidr>) -> Self {
        TrustedProxies {
            nets: nets.into_iter().collect(),
        }
    }

    /// Parses a list such as `["10.0.0.0/8", "127.0.0.1"]`.
    ///
    /// ```
    /// use embedis_kit::http::TrustedProxies;
    /// let t = TrustedProxies::parse(["10.0.0.0/8", "::1"]).unwrap();
    /// assert!(t.contains("10.1.2.3".parse().unwrap()));
    /// assert!(!t.contains("192.0.2.1".parse().unwrap()));
    /// ```
    pub fn parse<I, S>(nets: I) -> Result<Self, CidrError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets: Result<Vec<Cidr>, _> = nets.into_iter().map(|s| s.as_ref().parse()).collect();
        Ok(TrustedProxies::new(nets?))
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }
}

/// Which forwarding header [`ClientIp`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (the de facto standard).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded` (`for=` parameters).
    Forwarded,
}

/// The client's IP as seen through trusted proxies.
///
/// If the TCP peer is not a trusted proxy, the peer is the client and the headers are
/// ignored. Otherwise the header's hops are walked from the nearest (rightmost) to the
/// farthest, skipping trusted proxies: the first untrusted address is the client. A hop
/// that is not an IP (`unknown`, an obfuscated identifier, garbage) stops the walk, and
/// the last trusted hop seen is used: nothing before it can be verified.
///
/// ```
/// use embedis_kit::http::{ClientIp, KeyExtractor, TrustedProxies};
/// use axum::extract::ConnectInfo;
///
/// let key = ClientIp::new(TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
/// let mut req = http::Request::builder()
///     .header("x-forwarded-for", "203.0.113.9, 10.0.0.2")
///     .body(())
///     .unwrap();
/// req.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from(([10, 0, 0, 1], 4000))));
/// let (parts, _) = req.into_parts();
/// assert_eq!(key.extract(&parts).as_deref(), Some("203.0.113.9"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    trusted: TrustedProxies,
    header: ForwardedHeader,
}

impl ClientIp {
    /// Believes `X-Forwarded-For` from these proxies.
    pub fn new(trusted: TrustedProxies) -> Self {
        ClientIp {
            trusted,
            header: ForwardedHeader::XForwardedFor,
        }
    }

    /// Reads this header instead.
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The client IP of a request whose TCP peer is `peer`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusted.contains(peer) {
            return peer;
        }
        let hops: Vec<Option<IpAddr>> = match self.header {
            ForwardedHeader::XForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|v| v.to_str().unwrap_or("?").split(','))
                .map(|h| parse_hop(h.trim()))
                .collect(),
            ForwardedHeader::Forwarded => headers
                .get_all("forwarded")
                .iter()
                .flat_map(|v| v.to_str().unwrap_or("for=?").split(','))
                .map(forwarded_for)
                .collect(),
        };
        let mut last = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusted.contains(*ip) => last = *ip,
                Some(ip) => return *ip,
                None => return last,
            }
        }
        last
    }
}

/// An address from a forwarding header: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:80`, optionally quoted.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        return rest[..end]
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical());
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip().to_canonical())
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then(|| parse_hop(v))?
    })
}

impl KeyExtractor for ClientIp {
    fn extract(&self, req: &Parts) -> Option<String> {
        peer(req).map(|p| self.resolve(p, &req.headers).to_string())
    }
}

/// The value of a request header (an API key, a tenant id). Requests without it, or with
/// a non-UTF-8 value, have no key.
#[derive(Debug, Clone)]
pub struct HeaderKey(pub HeaderName);

impl KeyExtractor for HeaderKey {
    fn extract(&self, req: &Parts) -> Option<String> {
        let v = req.headers.get(&self.0)?.to_str().ok()?;
        (!v.is_empty()).then(|| v.to_owned())
    }
}

/// A value put in the request's extensions by an earlier layer (typically the user id set
/// by authentication), rendered with `Display`.
pub struct ExtensionKey<T>(PhantomData<fn() -> T>);

impl<T> ExtensionKey<T> {
    /// Reads the extension of type `T`.
    pub fn new() -> Self {
        ExtensionKey(PhantomData)
    }
}

impl<T> Default for ExtensionKey<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for ExtensionKey<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for ExtensionKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtensionKey<{}>", std::any::type_name::<T>())
    }
}

impl<T: fmt::Display + Send + Sync + 'static> KeyExtractor for ExtensionKey<T> {
    fn extract(&self, req: &Parts) -> Option<String> {
        req.extensions.get::<T>().map(|v| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cidr() {
        let n: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.255.0.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
        assert_eq!("127.0.0.1".parse::<Cidr>().unwrap().prefix, 32);
    }

    #[test]
    fn untrusted_peer_ignores_headers() {
        let c = ClientIp::new(TrustedProxies::none());
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(c.resolve(ip("9.9.9.9"), &h), ip("9.9.9.9"));
    }

    #[test]
    fn walks_from_the_right_skipping_trusted() {
        let c = ClientIp::new(TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.1.1.1, 10.0.0.3")]);
        // 6.6.6.6 was written by the client itself: not believed.
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("1.1.1.1"));
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "10.0.0.3"),
        ]);
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("1.1.1.1"));
        let h = headers(&[("x-forwarded-for", "10.0.0.9")]);
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        let h = headers(&[("x-forwarded-for", "unknown, 10.0.0.9")]);
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        assert_eq!(c.resolve(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_header() {
        let c = ClientIp::new(TrustedProxies::parse(["10.0.0.0/8"]).unwrap())
            .header(ForwardedHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.2;by=10.0.0.1",
        )]);
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("2001:db8::7"));
        let h = headers(&[("forwarded", "For=192.0.2.60:8080")]);
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("192.0.2.60"));
        let h = headers(&[("forwarded", "for=_hidden, for=10.0.0.5")]);
        assert_eq!(c.resolve(ip("10.0.0.1"), &h), ip("10.0.0.5"));
    }
}
