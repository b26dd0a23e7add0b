//! The client's IP address: the TCP peer, unless the peer is a trusted
//! proxy, in which case the right-most address in `X-Forwarded-For` that is
//! not itself a trusted proxy. Without `TRUSTED_PROXIES` the header is never
//! believed, so a client cannot choose its own rate-limit bucket.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

pub fn client_ip(parts: &Parts, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer =
        parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip())?;
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    // Walk from the nearest hop outwards: each trusted proxy vouches for the
    // address before it; the first untrusted one is the client.
    Some(forwarded.into_iter().rev().find(|ip| !is_trusted(*ip, trusted)).unwrap_or(peer))
}

fn is_trusted(ip: IpAddr, trusted: &[ipnet::IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut builder = Request::builder();
        if let Some(xff) = xff {
            builder = builder.header("x-forwarded-for", xff);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        parts.extensions.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
        parts
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_trusted() {
        let p = parts("203.0.113.9", Some("1.2.3.4"));
        assert_eq!(client_ip(&p, &[]), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(client_ip(&p, &nets(&["10.0.0.0/8"])), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        let p = parts("10.0.0.2", Some("6.6.6.6, 198.51.100.7, 10.0.0.1"));
        // 6.6.6.6 was written by the client itself and is not believed.
        assert_eq!(client_ip(&p, &trusted), Some("198.51.100.7".parse().unwrap()));
        let no_header = parts("10.0.0.2", None);
        assert_eq!(client_ip(&no_header, &trusted), Some("10.0.0.2".parse().unwrap()));
    }
}
