//! Redirect URI matching: never panics, an identical string always matches,
//! only a public client's loopback URI matches on another port, and nothing
//! matches an empty registration.
#![no_main]

use idp_core::client::ClientType;
use idp_core::redirect_uri::matches;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    let presented = parts.next().unwrap_or_default();
    let registered: Vec<String> = parts.map(str::to_owned).collect();
    for client_type in [ClientType::Public, ClientType::Confidential] {
        let matched = matches(&registered, presented, client_type);
        if registered.iter().any(|r| r == presented) {
            assert!(matched, "an exact registration must match: {presented:?}");
        }
        if matched && !registered.iter().any(|r| r == presented) {
            // Only RFC 8252 loopback redirects match on another port.
            assert_eq!(client_type, ClientType::Public);
            assert!(
                presented.starts_with("http://127.0.0.1") || presented.starts_with("http://[::1]"),
                "{presented:?} matched without being registered"
            );
        }
        if matched && client_type == ClientType::Confidential {
            assert!(registered.iter().any(|r| r == presented), "confidential clients match exactly");
        }
        assert!(!matches(&[], presented, client_type));
    }
});
