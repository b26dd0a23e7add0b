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
            let digits = port_and_path.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            port_and_path.get(digits..)?
        }
        None => after_host,
    };
    // Nothing between host and path but a port: "/cb", "", "?x".
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) {
        return None;
    }
    Some((host, path))
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
}
