//! Who is asking: the client's address, for sign-in throttling and the
//! audit log.
//!
//! The address is the TCP peer's. `X-Forwarded-For` and `Forwarded` are
//! written by whoever sends the request, so they are read only when the peer
//! is a proxy the operator named in `TRUSTED_PROXIES`; then the client is the
//! nearest address in the chain that is not itself a trusted proxy (the
//! chain is read from the right: each proxy appends the address it saw).
//! Anything unreadable in the chain stops the walk at the last proxy, which
//! is at worst too strict (a proxy's address), never an address the client
//! chose.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The address of the client of `req`, given the proxies trusted to say it.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(resolve(peer, req.headers(), trusted))
}

fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let chain = forwarded_chain(headers);
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Some(ip) = hop else { break };
        client = *ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The addresses the proxies recorded, left (first) to right (nearest):
/// from `Forwarded` (RFC 7239) when present, else `X-Forwarded-For`. An
/// entry that is not an address (`unknown`, an obfuscated name, garbage)
/// is `None`.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| headers.get_all(name).filter_map(|v| v.to_str().ok().map(str::to_owned)).collect::<Vec<_>>();
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (key, value) = pair.split_once('=')?;
                        key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
                    })
                    .and_then(node_ip)
            })
            .collect();
    }
    values("x-forwarded-for").iter().flat_map(|v| v.split(',')).map(|entry| node_ip(entry.trim())).collect()
}

/// An address from a node as proxies write it: `192.0.2.1`, `192.0.2.1:80`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn node_ip(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claims = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=198.51.100.7")]);
        assert_eq!(resolve(ip("192.0.2.50"), &claims, &[]), ip("192.0.2.50"));
        assert_eq!(resolve(ip("192.0.2.50"), &claims, &nets(&["10.0.0.0/8"])), ip("192.0.2.50"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &chain, &trusted), ip("203.0.113.9"));
        let split = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(ip("10.0.0.1"), &split, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_every_node_form() {
        let trusted = nets(&["10.0.0.0/8", "fd00::/8"]);
        let both = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("forwarded", r#"for=192.0.2.60;proto=https, for="[2001:db8::7]:4711";by=10.0.0.1"#),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &both, &trusted), ip("2001:db8::7"));
        let port = headers(&[("forwarded", "For=192.0.2.61:8080")]);
        assert_eq!(resolve(ip("fd00::1"), &port, &trusted), ip("192.0.2.61"));
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_proxy() {
        let trusted = nets(&["10.0.0.0/8"]);
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.3")]);
        assert_eq!(resolve(ip("10.0.0.1"), &garbage, &trusted), ip("10.0.0.3"));
        assert_eq!(resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
    }
}
