//! Matching a presented redirect URI against a client's registered ones.
//!
//! Exact string comparison, no wildcards, no normalisation (RFC 6749
//! §3.1.2.3, OAuth 2.1 §4.1.3): `https://app/cb/` is not `https://app/cb`,
//! case matters, and an extra query parameter is a different URI. The one
//! exception is RFC 8252 §7.3: a native (public) client's loopback IP
//! redirect URI matches on any port, because the app picks a free port at
//! run time.

use crate::client::ClientType;

/// True when `presented` may be used as a redirect URI of this client.
pub fn matches(registered: &[String], presented: &str, client_type: ClientType) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    client_type == ClientType::Public && registered.iter().any(|r| loopback_any_port(r, presented))
}

/// Both are `http` loopback IP URIs that differ only in the port.
fn loopback_any_port(registered: &str, presented: &str) -> bool {
    let (Some(reg), Some(pres)) = (split_loopback(registered), split_loopback(presented)) else {
        return false;
    };
    reg.0 == pres.0 && reg.1 == pres.1
}

/// `http://127.0.0.1[:port]/rest` or `http://[::1][:port]/rest` →
/// (host, rest). `localhost` is not included: RFC 8252 §8.3 advises
/// against it, since it may resolve elsewhere.
fn split_loopback(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"].into_iter().find(|h| rest.starts_with(h))?;
    let after_host = rest.get(host.len()..)?;
    let path = match after_host.strip_prefix(':') {
        Some(port_and_path) => {
            let (port, path) = port_and_path
                .split_at(port_and_path.find(['/', '?']).unwrap_or(port_and_path.len()));
            if !valid_port(port) {
                return None;
            }
            path
        }
        None => after_host,
    };
    // Nothing between host and path but a port: "/cb", "", "?x".
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return None;
    }
    Some((host, path))
}

/// A port a socket can use, as written in a URI: 1 to 65535 in decimal
/// digits only. RFC 3986 §3.2.3 lets the syntax have any digits or none,
/// but `:99999`, `:0`, `:+80` or a bare `:` name no endpoint, and a parser
/// that reads them differently from ours could send the code elsewhere.
pub fn valid_port(port: &str) -> bool {
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p != 0)
}

/// The port as written in `uri`'s authority (`scheme://[userinfo@]host:port`),
/// when there is a `:` after the host; `None` without an authority or port.
pub fn written_port(uri: &str) -> Option<&str> {
    let (_scheme, rest) = uri.split_once(':')?;
    let rest = rest.strip_prefix("//")?;
    let authority = rest.get(..rest.find(['/', '?', '#']).unwrap_or(rest.len()))?;
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let after_host = if host_and_port.starts_with('[') {
        host_and_port.get(host_and_port.find(']')? + 1..)?
    } else {
        host_and_port.get(host_and_port.find(':').unwrap_or(host_and_port.len())..)?
    };
    after_host.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_the_exact_string_matches() {
        let r = reg(&["https://app.example.com/callback"]);
        let public = ClientType::Public;
        assert!(matches(&r, "https://app.example.com/callback", public));
        for trick in [
            "https://app.example.com/callback/",
            "https://app.example.com/callbackx",
            "https://app.example.com/call",
            "https://APP.example.com/callback",
            "https://app.example.com/Callback",
            "https://app.example.com/callback?x=1",
            "https://app.example.com/callback#x",
            "https://app.example.com/other/../callback",
            "https://app.example.com.evil.com/callback",
            "https://evil.com/?https://app.example.com/callback",
            "javascript:alert(1)//https://app.example.com/callback",
            "http://app.example.com/callback",
            "",
        ] {
            assert!(!matches(&r, trick, public), "{trick:?} must not match");
        }
    }

    #[test]
    fn public_loopback_clients_match_on_any_port() {
        let r = reg(&["http://127.0.0.1/callback", "http://[::1]:8080/cb"]);
        assert!(matches(&r, "http://127.0.0.1:51234/callback", ClientType::Public));
        assert!(matches(&r, "http://[::1]:1/cb", ClientType::Public));
        assert!(!matches(&r, "http://127.0.0.1:51234/other", ClientType::Public));
        assert!(!matches(&r, "http://127.0.0.1:51234/callback", ClientType::Confidential));
        assert!(!matches(&r, "http://127.0.0.1.evil.com:80/callback", ClientType::Public));
        assert!(!matches(&r, "http://127.0.0.1:80@evil.com/callback", ClientType::Public));
        assert!(!matches(&r, "http://localhost:5000/callback", ClientType::Public));
    }

    #[test]
    fn the_any_port_rule_takes_only_ports_a_socket_can_use() {
        let r = reg(&["http://127.0.0.1/callback", "http://[::1]/cb"]);
        for port in ["1", "80", "65535", "08080"] {
            let uri = format!("http://127.0.0.1:{port}/callback");
            assert!(matches(&r, &uri, ClientType::Public), "{uri}");
        }
        for port in ["99999", "65536", "0", "00000", "", "+80", "-1", "80a", " 80", "8 0", "123456"]
        {
            for uri in
                [format!("http://127.0.0.1:{port}/callback"), format!("http://[::1]:{port}/cb")]
            {
                assert!(!matches(&r, &uri, ClientType::Public), "{uri:?}");
            }
        }
        // A registered URI with an invalid port is no base for the rule either.
        let bad = reg(&["http://127.0.0.1:99999/callback"]);
        assert!(!matches(&bad, "http://127.0.0.1:8080/callback", ClientType::Public));
    }

    #[test]
    fn the_written_port_is_read_from_the_authority_only() {
        assert_eq!(written_port("http://127.0.0.1:8080/cb"), Some("8080"));
        assert_eq!(written_port("http://[::1]:0/cb"), Some("0"));
        assert_eq!(written_port("https://app.example.com:/cb"), Some(""));
        assert_eq!(written_port("https://user:pw@app.example.com:+443?x"), Some("+443"));
        assert_eq!(written_port("https://app.example.com/cb?next=http://x:99999"), None);
        assert_eq!(written_port("https://app.example.com"), None);
        assert_eq!(written_port("http://[::1]/cb"), None);
        assert_eq!(written_port("com.example.app:/cb"), None);
        assert_eq!(written_port("com.example.app:/cb?u=http://h:99999"), None);
    }
}
