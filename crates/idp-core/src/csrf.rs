//! CSRF tokens for the login and consent forms: an HMAC-SHA256, under a key
//! derived from `SECRET_KEY`, of a random value the browser holds in a
//! cookie. A forged cross-site POST carries the cookie but cannot know the
//! token; every node derives the same key, so any node can check it.

use aws_lc_rs::{hkdf, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};

pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

struct HmacKeyLen;

impl hkdf::KeyType for HmacKeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl CsrfKey {
    /// HKDF-SHA256 of `SECRET_KEY` with its own salt and info, so it never
    /// equals the key that seals signing keys.
    pub fn derive(secret_key: &SecretString) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"idp/csrf/v1");
        let prk = salt.extract(secret_key.expose_secret().as_bytes());
        let mut bytes = [0u8; 32];
        let filled = prk.expand(&[b"form-tokens"], HmacKeyLen).and_then(|okm| okm.fill(&mut bytes));
        if filled.is_err() {
            // HKDF-SHA256 cannot fail for a 32-byte output; keep going with
            // a random key (tokens then only verify on this node).
            bytes = crate::random::bytes::<32>();
        }
        Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    /// The token for a browser's random cookie value and a purpose
    /// (`login`, `consent`), so one form's token cannot serve another.
    pub fn token(&self, cookie: &str, purpose: &str) -> String {
        let tag = hmac::sign(&self.0, format!("{purpose}\0{cookie}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Constant-time check of a submitted token.
    pub fn verify(&self, cookie: &str, purpose: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else { return false };
        hmac::verify(&self.0, format!("{purpose}\0{cookie}").as_bytes(), &tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_the_cookie_and_the_purpose() {
        let key = CsrfKey::derive(&SecretString::from("a-secret-key-of-at-least-32-characters"));
        let token = key.token("cookie-value", "login");
        assert!(key.verify("cookie-value", "login", &token));
        assert!(!key.verify("other-cookie", "login", &token));
        assert!(!key.verify("cookie-value", "consent", &token));
        assert!(!key.verify("cookie-value", "login", "forged"));
        assert!(!key.verify("cookie-value", "login", ""));
        let other = CsrfKey::derive(&SecretString::from("another-secret-key-of-32-characters!"));
        assert!(!other.verify("cookie-value", "login", &token));
    }
}
