//! CSRF protection of the login and consent forms, under a key derived from
//! `SECRET_KEY` (every node derives the same key, so any node checks what
//! another minted).
//!
//! - The CSRF cookie's value is minted here: a random nonce and this
//!   server's HMAC of it. A value the browser made up, or one planted by a
//!   host that cannot sign, is not a [`CsrfCookie`], so no form token is
//!   ever minted or accepted for it.
//! - A login form's token is the HMAC of the cookie and the form's purpose:
//!   a forged cross-site POST carries the cookie but cannot know the token.
//! - A consent form's token binds, besides the cookie, what is consented to
//!   (client, scope, redirect URI), who consents (the browser session and
//!   its user) and an expiry, so a token shown for one request cannot
//!   approve another.
//!
//! Every check is an HMAC verification, which compares in constant time.

use std::time::Duration;

use aws_lc_rs::{hkdf, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};

use crate::clock::UnixTime;
use crate::ids::{BrowserSessionId, UserId};
use crate::scope::Scope;

/// How long a consent page's answer is accepted: Keycloak's default for a
/// login action, long enough to read the page, short enough that a token
/// found later (in a log, a history, a screenshot) is of no use.
pub const CONSENT_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// Length of a cookie's nonce: 24 random bytes, base64url.
const NONCE_LEN: usize = 32;
/// Length of an HMAC-SHA256 tag, base64url.
const TAG_LEN: usize = 43;

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

/// A CSRF cookie value this server signed. Only [`CsrfKey::mint_cookie`]
/// and [`CsrfKey::accept_cookie`] make one, so a form token can only be
/// bound to a value that came from us.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfCookie(String);

impl CsrfCookie {
    /// The value to put in the cookie.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CsrfCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfCookie(..)")
    }
}

/// What a consent form answers for. Its token is accepted only for the
/// same browser session, user, client, scope and redirect URI.
#[derive(Debug, Clone, Copy)]
pub struct ConsentSubject<'a> {
    pub browser_session: BrowserSessionId,
    pub user: UserId,
    pub client_id: &'a str,
    pub scope: &'a Scope,
    pub redirect_uri: &'a str,
}

/// The MAC input: a label, then each field with its length in front, so no
/// two different field lists give the same bytes (a client id ending where
/// a scope begins, a NUL inside a value).
fn message<F: AsRef<[u8]>>(label: &str, fields: &[F]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(64 + fields.iter().map(|f| f.as_ref().len() + 8).sum::<usize>());
    for part in std::iter::once(label.as_bytes()).chain(fields.iter().map(AsRef::as_ref)) {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
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

    fn tag<F: AsRef<[u8]>>(&self, label: &str, fields: &[F]) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, &message(label, fields)).as_ref())
    }

    fn check<F: AsRef<[u8]>>(&self, label: &str, fields: &[F], tag: &str) -> bool {
        if tag.len() != TAG_LEN {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else { return false };
        hmac::verify(&self.0, &message(label, fields), &tag).is_ok()
    }

    /// A new CSRF cookie value: `nonce.tag`.
    pub fn mint_cookie(&self) -> CsrfCookie {
        let nonce = crate::random::token::<24>();
        let tag = self.tag("csrf-cookie", &[nonce.as_bytes()]);
        CsrfCookie(format!("{nonce}.{tag}"))
    }

    /// The browser's cookie value, if this server minted it.
    pub fn accept_cookie(&self, value: &str) -> Option<CsrfCookie> {
        let (nonce, tag) = value.split_once('.')?;
        (nonce.len() == NONCE_LEN && self.check("csrf-cookie", &[nonce.as_bytes()], tag))
            .then(|| CsrfCookie(value.to_owned()))
    }

    /// The token of a form with this `purpose` (`login`, …) for a browser's
    /// cookie, so one form's token cannot serve another.
    pub fn token(&self, cookie: &CsrfCookie, purpose: &str) -> String {
        self.tag("form", &[purpose.as_bytes(), cookie.0.as_bytes()])
    }

    /// Constant-time check of a submitted form token.
    pub fn verify(&self, cookie: &CsrfCookie, purpose: &str, token: &str) -> bool {
        self.check("form", &[purpose.as_bytes(), cookie.0.as_bytes()], token)
    }

    /// The consent form's token: `expiry.tag`, valid for
    /// [`CONSENT_TOKEN_LIFETIME`] from `now`.
    pub fn consent_token(
        &self,
        cookie: &CsrfCookie,
        subject: &ConsentSubject<'_>,
        now: UnixTime,
    ) -> String {
        let expires = now + CONSENT_TOKEN_LIFETIME;
        format!("{expires}.{}", self.tag("consent", &consent_fields(cookie, subject, expires)))
    }

    /// Whether `token` was minted for this cookie and subject and has not
    /// expired at `now`.
    pub fn verify_consent(
        &self,
        cookie: &CsrfCookie,
        subject: &ConsentSubject<'_>,
        token: &str,
        now: UnixTime,
    ) -> bool {
        let Some((expires, tag)) = token.split_once('.') else { return false };
        let Ok(expires) = expires.parse::<i64>().map(UnixTime::from_secs) else { return false };
        now <= expires && self.check("consent", &consent_fields(cookie, subject, expires), tag)
    }
}

/// The consent token's fields, in a fixed order.
fn consent_fields(
    cookie: &CsrfCookie,
    subject: &ConsentSubject<'_>,
    expires: UnixTime,
) -> [Vec<u8>; 7] {
    // A scope is a set: the same scopes in another order are the same consent.
    let mut scope: Vec<&str> = subject.scope.iter().collect();
    scope.sort_unstable();
    [
        cookie.0.as_bytes().to_vec(),
        subject.browser_session.as_uuid().as_bytes().to_vec(),
        subject.user.as_uuid().as_bytes().to_vec(),
        subject.client_id.as_bytes().to_vec(),
        scope.join(" ").into_bytes(),
        subject.redirect_uri.as_bytes().to_vec(),
        expires.as_secs().to_be_bytes().to_vec(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CsrfKey {
        CsrfKey::derive(&SecretString::from("a-secret-key-of-at-least-32-characters"))
    }

    #[test]
    fn only_cookies_this_server_minted_are_accepted() {
        let key = key();
        let cookie = key.mint_cookie();
        assert_eq!(key.accept_cookie(cookie.value()), Some(cookie.clone()));
        let (nonce, _) = cookie.value().split_once('.').unwrap();
        for chosen in [
            "",
            "chosen-by-the-client-0123456789",
            nonce,
            &format!("{nonce}."),
            &format!("{nonce}.{}", "A".repeat(TAG_LEN)),
            &format!("x{}", cookie.value()),
            &format!("{}x", cookie.value()),
        ] {
            assert_eq!(key.accept_cookie(chosen), None, "{chosen}");
        }
        let other = CsrfKey::derive(&SecretString::from("another-secret-key-of-32-characters!"));
        assert_eq!(other.accept_cookie(cookie.value()), None);
        assert_ne!(key.mint_cookie(), cookie, "every cookie is fresh");
    }

    #[test]
    fn form_tokens_bind_the_cookie_and_the_purpose() {
        let key = key();
        let cookie = key.mint_cookie();
        let token = key.token(&cookie, "login");
        assert!(key.verify(&cookie, "login", &token));
        assert!(!key.verify(&key.mint_cookie(), "login", &token));
        assert!(!key.verify(&cookie, "consent", &token));
        assert!(!key.verify(&cookie, "login", "forged"));
        assert!(!key.verify(&cookie, "login", ""));
        let other = CsrfKey::derive(&SecretString::from("another-secret-key-of-32-characters!"));
        assert!(!other.verify(&cookie, "login", &token));
    }

    #[test]
    fn consent_tokens_bind_session_user_client_scope_redirect_and_expire() {
        let key = key();
        let cookie = key.mint_cookie();
        let scope = Scope::parse("openid profile").unwrap();
        let subject = ConsentSubject {
            browser_session: BrowserSessionId::new(),
            user: UserId::new(),
            client_id: "client-a",
            scope: &scope,
            redirect_uri: "https://a.example/cb",
        };
        let now = UnixTime::from_secs(1_800_000_000);
        let token = key.consent_token(&cookie, &subject, now);
        assert!(key.verify_consent(&cookie, &subject, &token, now));
        let reordered = Scope::parse("profile openid").unwrap();
        assert!(key.verify_consent(
            &cookie,
            &ConsentSubject { scope: &reordered, ..subject },
            &token,
            now
        ));
        assert!(key.verify_consent(&cookie, &subject, &token, now + CONSENT_TOKEN_LIFETIME));

        let wider = Scope::parse("openid profile email").unwrap();
        let narrower = Scope::parse("openid").unwrap();
        let refused = [
            ConsentSubject { client_id: "client-b", ..subject },
            ConsentSubject { scope: &wider, ..subject },
            ConsentSubject { scope: &narrower, ..subject },
            ConsentSubject { redirect_uri: "https://a.example/other", ..subject },
            ConsentSubject { browser_session: BrowserSessionId::new(), ..subject },
            ConsentSubject { user: UserId::new(), ..subject },
        ];
        for other in &refused {
            assert!(!key.verify_consent(&cookie, other, &token, now), "{other:?}");
        }
        assert!(!key.verify_consent(&key.mint_cookie(), &subject, &token, now));
        let later = now + CONSENT_TOKEN_LIFETIME + Duration::from_secs(1);
        assert!(!key.verify_consent(&cookie, &subject, &token, later), "expired");
        // The expiry is under the MAC: pushing it out breaks the token.
        let (_, tag) = token.split_once('.').unwrap();
        let extended = format!("{}.{tag}", later.as_secs() + 3600);
        assert!(!key.verify_consent(&cookie, &subject, &extended, later));
        for junk in ["", ".", "1.", "x.y", tag] {
            assert!(!key.verify_consent(&cookie, &subject, junk, now), "{junk}");
        }
        // A login token is not a consent token, and the reverse.
        assert!(!key.verify(&cookie, "consent", &token));
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        assert_ne!(
            message("l", &[b"ab".as_slice(), b"c"]),
            message("l", &[b"a".as_slice(), b"bc"])
        );
        assert_ne!(message("l", &[b"a\0b".as_slice()]), message("l", &[b"a".as_slice(), b"b"]));
    }
}
