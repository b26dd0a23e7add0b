//! PKCE: never panics, a verifier always verifies against its own S256
//! challenge, and never against a challenge of a different verifier.
#![no_main]

use idp_core::pkce::{challenge_of, valid_challenge, valid_verifier, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (verifier, challenge) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = valid_challenge(challenge);
    let _ = verify(verifier, challenge);
    if valid_verifier(verifier) {
        let own = challenge_of(verifier);
        assert!(valid_challenge(&own));
        assert!(verify(verifier, &own));
        if challenge != own {
            assert!(!verify(verifier, challenge), "a foreign challenge verified");
        }
    }
});
