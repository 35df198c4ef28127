//! Where a webhook may be sent: never to this machine, the private network,
//! link-local (including the cloud metadata address 169.254.169.254) or
//! other special-purpose addresses, so a subscriber URL cannot be turned
//! into a request forger against internal services (SSRF).
//!
//! Names are resolved and every address checked, at registration and again
//! at each delivery; the delivery then connects to the checked addresses
//! only, so a name that re-resolves to a private address between check and
//! connect (DNS rebinding) gains nothing. `notify.danger_allow_private_targets`
//! (on in dev mode) lifts the address and scheme rules for local receivers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a webhook target was refused: one sentence for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the webhook URL is not a valid URL")]
    Unparsable,
    #[error("the webhook URL must use https:// (plain http:// only to this machine, in dev mode)")]
    NotHttps,
    #[error("the webhook URL must not carry credentials")]
    Credentials,
    #[error("the webhook host does not resolve")]
    Unresolvable,
    #[error("the webhook host resolves to a loopback, private, link-local or other non-public address")]
    NonPublic,
}

/// Whether `ip` is an address on the public internet. Everything loopback,
/// private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT
/// (100.64/10), unspecified, multicast, broadcast, documentation,
/// benchmarking or reserved is not, nor are IPv4-mapped or -compatible
/// IPv6 forms of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
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
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // ::/96 (IPv4-compatible, deprecated), 64:ff9b::/96 (NAT64) carry an
    // IPv4 address in their last 32 bits: judge that address.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_public_v4(embedded);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x2001 && s[1] < 0x0200)
        || s[0] == 0x0100 && s[1..4] == [0, 0, 0])
}

/// Parse a webhook URL and check its form: https (plain http only to a
/// relay on this machine, and only when private targets are allowed) and
/// no credentials.
pub fn parse(raw: &str, allow_private: bool) -> Result<reqwest::Url, TargetError> {
    let url = reqwest::Url::parse(raw).map_err(|_| TargetError::Unparsable)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Credentials);
    }
    if url.host_str().is_none() {
        return Err(TargetError::Unparsable);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_private && is_loopback_host(&url) => Ok(url),
        _ => Err(TargetError::NotHttps),
    }
}

fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// Resolve the URL's host and check every address; the addresses to
/// connect to. Any non-public address refuses the whole name: a
/// round-robin answer could hand the connection to it.
pub async fn resolve(url: &reqwest::Url) -> Result<Vec<SocketAddr>, TargetError> {
    let port = url.port_or_known_default().ok_or(TargetError::Unparsable)?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Domain(name)) => {
            tokio::net::lookup_host((name, port)).await.map_err(|_| TargetError::Unresolvable)?.collect()
        }
        None => return Err(TargetError::Unparsable),
    };
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable);
    }
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(TargetError::NonPublic);
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_purpose_address_class_is_refused() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let url = parse("https://localhost:8443/hook", false).unwrap();
        assert_eq!(resolve(&url).await, Err(TargetError::NonPublic));
        let literal = parse("https://[::ffff:169.254.169.254]/latest", false).unwrap();
        assert_eq!(resolve(&literal).await, Err(TargetError::NonPublic));
    }

    #[test]
    fn plain_http_needs_private_targets_allowed() {
        assert_eq!(parse("http://93.184.216.34/hook", false), Err(TargetError::NotHttps));
        assert!(parse("http://127.0.0.1:9/hook", true).is_ok());
        assert_eq!(parse("http://hooks.example/x", true), Err(TargetError::NotHttps));
        assert_eq!(parse("https://u:p@example.com/", false), Err(TargetError::Credentials));
    }
}
