//! JWT verification never panics, whatever the token: raw bytes as a token,
//! and tokens we sign ourselves around arbitrary claims, then tampered with.
#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use idp_core::clock::UnixTime;
use idp_core::jose::{self, Algorithm, Expectations, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

static KEY: LazyLock<(SigningKey, Arc<VerifyingKey>)> = LazyLock::new(|| {
    let key = SigningKey::generate(Algorithm::ES256).expect("a key");
    let verifying = Arc::new(key.verifying_key().expect("its public half"));
    (key, verifying)
});

fn check(token: &str) {
    let (key, verifying) = &*KEY;
    let keys = |kid: &str| (kid == key.kid()).then(|| Arc::clone(verifying));
    let expect = Expectations {
        issuer: "https://idp.example",
        audiences: &["https://api.example"],
        typ: "at+jwt",
        now: UnixTime::from_secs(1_800_000_000),
        leeway: Duration::from_secs(30),
    };
    let _ = jose::verify::<serde_json::Value>(token, keys, &expect);
    let _ = jose::verify_signature_only::<serde_json::Value>(token, keys);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        check(&String::from_utf8_lossy(rest));
        return;
    }
    // Our own signature around arbitrary claims, then one byte flipped.
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
    let Ok(token) = KEY.0.sign_jwt("at+jwt", &claims) else { return };
    check(&token);
    let mut tampered = token.into_bytes();
    let at = usize::from(mode) % tampered.len();
    tampered[at] ^= 0x01;
    check(&String::from_utf8_lossy(&tampered));
});
