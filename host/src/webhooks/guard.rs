//! Where webhook deliveries may connect.
//!
//! A webhook URL is chosen by whoever may create endpoints, and the host sends to it from
//! inside the operator's network: without a check, `https://169.254.169.254/…` or an internal
//! service's name would make the host a proxy into that network (SSRF). So an `https` delivery
//! goes only to public addresses — checked on the addresses a name resolves to, and the
//! connection is made to exactly those, so a name that resolves differently a moment later
//! (DNS rebinding) does not get around it. An operator whose receivers live on a private network
//! opts in with `--webhook-allow-private-networks` (on in `keyhold dev`), which also lets `http`
//! endpoints — the enclave accepts those on the loopback interface only — reach loopback
//! addresses; link-local addresses (cloud metadata) stay out of reach either way.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Which addresses a delivery may connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Public unicast addresses only.
    Public,
    /// Public, private and loopback addresses — not link-local, where cloud metadata services
    /// answer (169.254.169.254), nor multicast or broadcast.
    PrivateToo,
    /// Loopback only (`http` endpoints, when private networks are allowed).
    Loopback,
    /// None (`http` endpoints otherwise).
    Nowhere,
}

impl Reach {
    /// For an endpoint with this URL scheme; `None`: not a scheme deliveries use.
    pub fn for_scheme(scheme: &str, allow_private: bool) -> Option<Reach> {
        match (scheme, allow_private) {
            ("https", true) => Some(Reach::PrivateToo),
            ("https", false) => Some(Reach::Public),
            // The enclave accepts `http` only to the loopback interface (local development);
            // a production host's loopback is as internal as its private network.
            ("http", true) => Some(Reach::Loopback),
            ("http", false) => Some(Reach::Nowhere),
            _ => None,
        }
    }

    pub fn permits(self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match self {
            Reach::Nowhere => false,
            Reach::Loopback => ip.is_loopback(),
            Reach::PrivateToo => {
                !(ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip) || is_link_local(ip))
            }
            Reach::Public => is_public(ip),
        }
    }
}

/// The resolver's refusal: no address of the name may be reached (retrying cannot help).
#[derive(Debug)]
pub struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} has no address webhook deliveries may reach", self.0)
    }
}

impl std::error::Error for Unreachable {}

/// An IPv6 address that carries an IPv4 destination is judged as that IPv4 address: mapped
/// (`::ffff:a.b.c.d`), NAT64's `64:ff9b::a.b.c.d`, 6to4's `2002:AABB:CCDD::/48` (RFC 3056: the
/// host's 6to4 interface, where there is one, sends to a.b.c.d) and Teredo's `2001:0::/32`
/// (RFC 4380: the client's address, inverted, in the last 32 bits). Otherwise
/// `2002:7f00:0001::` or `2002:a9fe:a9fe::` would pass as public IPv6.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let [a, b, c, d, e, f, ..] = v6.segments();
            let [_, _, o2, o3, o4, o5, .., w, x, y, z] = v6.octets();
            if [a, b, c, d, e, f] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return IpAddr::V4(Ipv4Addr::new(w, x, y, z));
            }
            if a == 0x2002 {
                return IpAddr::V4(Ipv4Addr::new(o2, o3, o4, o5));
            }
            if [a, b] == [0x2001, 0] {
                return IpAddr::V4(Ipv4Addr::new(!w, !x, !y, !z));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unicast_link_local(),
    }
}

/// Globally routable unicast: not loopback, private, shared (CGNAT), link-local, unspecified,
/// multicast, broadcast, documentation, benchmarking or reserved space.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking (RFC 2544).
        || (a == 198 && (b == 18 || b == 19))
        // Reserved (class E).
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && second == 0x0db8)
        // Discard-only (100::/64) and other non-global space below 2000::/3.
        || first & 0xe000 != 0x2000)
}

/// Resolves a host name for the delivery client and keeps only the addresses `reach` permits;
/// the client connects to what this returns, nothing else.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    pub reach: Reach,
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let reach = self.reach;
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let permitted: Vec<SocketAddr> =
                resolved.filter(|addr| reach.permits(addr.ip())).collect();
            if permitted.is_empty() {
                return Err(io::Error::other(Unreachable(name.as_str().to_owned())));
            }
            Ok(permitted.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_reach_refuses_internal_addresses() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "100::1",
            // 6to4 of 127.0.0.1, 169.254.169.254 and 10.0.0.1.
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2002:a00:1:1::1",
            // Teredo (RFC 4380's server 65.54.227.120) for clients 127.0.0.1 and 192.168.0.1.
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:0:4136:e378:8000:63bf:3f57:fffe",
        ] {
            assert!(!Reach::Public.permits(ip(internal)), "{internal}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            // 6to4 and Teredo for 8.8.8.8.
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert!(Reach::Public.permits(ip(public)), "{public}");
        }
    }

    #[test]
    fn loopback_and_private_reach() {
        assert!(Reach::Loopback.permits(ip("127.0.0.1")));
        assert!(Reach::Loopback.permits(ip("::1")));
        assert!(Reach::Loopback.permits(ip("::ffff:127.0.0.1")));
        assert!(!Reach::Loopback.permits(ip("10.0.0.1")));
        assert!(!Reach::Loopback.permits(ip("8.8.8.8")));
        for permitted in ["10.0.0.1", "192.168.1.1", "127.0.0.1", "fd00::1", "8.8.8.8"] {
            assert!(Reach::PrivateToo.permits(ip(permitted)), "{permitted}");
        }
        for refused in [
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fe80::1",
            "2002:a9fe:a9fe::",
        ] {
            assert!(!Reach::PrivateToo.permits(ip(refused)), "{refused}");
        }
        for any in ["127.0.0.1", "8.8.8.8", "10.0.0.1"] {
            assert!(!Reach::Nowhere.permits(ip(any)));
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(Reach::for_scheme("https", false), Some(Reach::Public));
        assert_eq!(Reach::for_scheme("https", true), Some(Reach::PrivateToo));
        assert_eq!(Reach::for_scheme("http", true), Some(Reach::Loopback));
        assert_eq!(Reach::for_scheme("http", false), Some(Reach::Nowhere));
        assert_eq!(Reach::for_scheme("ftp", true), None);
    }

    #[tokio::test]
    async fn names_resolve_to_permitted_addresses_only() {
        use tower::Service as _;
        let name: Name = "localhost".parse().unwrap();
        let mut loopback = GuardedResolver {
            reach: Reach::Loopback,
        };
        let addrs: Vec<_> = loopback.call(name.clone()).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
        let mut public = GuardedResolver {
            reach: Reach::Public,
        };
        let err = public.call(name).await.unwrap_err();
        assert!(
            err.get_ref().is_some_and(|e| e.is::<Unreachable>()),
            "{err}"
        );
    }
}
