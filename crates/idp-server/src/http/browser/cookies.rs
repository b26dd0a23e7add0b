//! The browser's two cookies, named and built in one place with the
//! `cookie` crate (as kanidm's `https/views/cookies.rs` does).
//!
//! On an https issuer each name carries the `__Host-` prefix (RFC 6265bis
//! §4.1.3.2): a browser keeps such a cookie only when it was set over https
//! with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain or a
//! plain-http response cannot plant or overwrite it. Reading accepts only
//! the name that fits the issuer's scheme; a plain `idp_session` sent to an
//! https issuer is not looked at.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use idp_core::csrf::CsrfCookie;

use crate::service::browser;
use crate::state::AppState;

/// Which cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserCookie {
    /// The sign-in (`idp_session`). `SameSite=Lax`: it must come along
    /// when an app sends the browser to `/auth/authorize`.
    Session,
    /// What the form tokens are bound to (`idp_csrf`). `SameSite=Strict`:
    /// only our own pages post forms.
    Csrf,
}

/// How long a CSRF cookie lives: its forms must be submitted within it.
pub const CSRF_MAX_AGE: Duration = Duration::from_secs(3600);

/// Names and attributes of the cookies for one issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookies {
    /// The issuer is https: `Secure` and the `__Host-` prefix.
    secure: bool,
}

impl Cookies {
    pub fn for_issuer(issuer: &str) -> Self {
        Self { secure: issuer.starts_with("https://") }
    }

    pub fn of(state: &AppState) -> Self {
        Self::for_issuer(&state.settings.issuer)
    }

    pub fn name(self, which: BrowserCookie) -> &'static str {
        match (which, self.secure) {
            (BrowserCookie::Session, false) => browser::COOKIE,
            (BrowserCookie::Session, true) => "__Host-idp_session",
            (BrowserCookie::Csrf, false) => "idp_csrf",
            (BrowserCookie::Csrf, true) => "__Host-idp_csrf",
        }
    }

    /// The cookie to set: `HttpOnly`, `Path=/`, no `Domain`, `Secure` on
    /// an https issuer, with `value` for `max_age`.
    pub fn build(self, which: BrowserCookie, value: String, max_age: Duration) -> Cookie<'static> {
        let same_site = match which {
            BrowserCookie::Session => SameSite::Lax,
            BrowserCookie::Csrf => SameSite::Strict,
        };
        let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        Cookie::build((self.name(which), value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build()
    }

    /// The cookie that makes the browser forget `which`.
    pub fn removal(self, which: BrowserCookie) -> Cookie<'static> {
        self.build(which, String::new(), Duration::ZERO)
    }

    /// The value the request carries under `which`'s name for this issuer.
    pub fn get(self, headers: &HeaderMap, which: BrowserCookie) -> Option<&str> {
        let name = self.name(which);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// The browser's CSRF cookie, if this server minted it. A value the
/// browser made up, or one planted for it, is no cookie at all.
pub fn signed_csrf_cookie(state: &AppState, headers: &HeaderMap) -> Option<CsrfCookie> {
    Cookies::of(state)
        .get(headers, BrowserCookie::Csrf)
        .and_then(|value| state.csrf.accept_cookie(value))
}

/// Whether a posted form's `csrf_token` was minted for `purpose` with this
/// browser's CSRF cookie.
pub fn csrf_ok(
    state: &AppState,
    headers: &HeaderMap,
    fields: &crate::oauth::form::FormFields,
    purpose: &str,
) -> bool {
    let token = fields.get("csrf_token").unwrap_or_default();
    signed_csrf_cookie(state, headers)
        .is_some_and(|cookie| state.csrf.verify(&cookie, purpose, token))
}

/// The browser's CSRF cookie, or a new one and the `Set-Cookie` to send.
pub fn csrf_cookie(state: &AppState, headers: &HeaderMap) -> (CsrfCookie, Option<Cookie<'static>>) {
    match signed_csrf_cookie(state, headers) {
        Some(csrf) => (csrf, None),
        None => {
            let csrf = state.csrf.mint_cookie();
            let set = Cookies::of(state).build(
                BrowserCookie::Csrf,
                csrf.value().to_owned(),
                CSRF_MAX_AGE,
            );
            (csrf, Some(set))
        }
    }
}

/// Adds a `Set-Cookie` header.
pub fn set(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(cookie: &Cookie<'_>) -> Vec<String> {
        let mut parts: Vec<String> =
            cookie.to_string().split("; ").skip(1).map(str::to_owned).collect();
        parts.sort();
        parts
    }

    #[test]
    fn on_an_https_issuer_cookies_are_host_prefixed_and_secure() {
        let cookies = Cookies::for_issuer("https://id.example.com");
        let session =
            cookies.build(BrowserCookie::Session, "bs_value".into(), Duration::from_secs(60));
        assert!(session.to_string().starts_with("__Host-idp_session=bs_value; "), "{session}");
        assert_eq!(
            attributes(&session),
            ["HttpOnly", "Max-Age=60", "Path=/", "SameSite=Lax", "Secure"]
        );
        let csrf = cookies.build(BrowserCookie::Csrf, "n.t".into(), CSRF_MAX_AGE);
        assert!(csrf.to_string().starts_with("__Host-idp_csrf=n.t; "), "{csrf}");
        assert_eq!(
            attributes(&csrf),
            ["HttpOnly", "Max-Age=3600", "Path=/", "SameSite=Strict", "Secure"]
        );
        let removal = cookies.removal(BrowserCookie::Session);
        assert!(removal.to_string().starts_with("__Host-idp_session=; "), "{removal}");
        assert!(attributes(&removal).contains(&"Max-Age=0".to_owned()));
        assert!(attributes(&removal).contains(&"Secure".to_owned()));
        for cookie in [&session, &csrf, &removal] {
            assert_eq!(cookie.domain(), None, "__Host- forbids Domain");
        }
    }

    #[test]
    fn on_an_http_issuer_cookies_have_plain_names_and_no_secure() {
        let cookies = Cookies::for_issuer("http://127.0.0.1:8000");
        let session =
            cookies.build(BrowserCookie::Session, "bs_value".into(), Duration::from_secs(60));
        assert!(session.to_string().starts_with("idp_session=bs_value; "), "{session}");
        assert_eq!(attributes(&session), ["HttpOnly", "Max-Age=60", "Path=/", "SameSite=Lax"]);
        let csrf = cookies.build(BrowserCookie::Csrf, "n.t".into(), CSRF_MAX_AGE);
        assert!(csrf.to_string().starts_with("idp_csrf=n.t; "), "{csrf}");
        assert_eq!(attributes(&csrf), ["HttpOnly", "Max-Age=3600", "Path=/", "SameSite=Strict"]);
    }

    #[test]
    fn only_the_name_of_the_issuers_scheme_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; idp_session=plain; __Host-idp_session=host; idp_csrf=c"),
        );
        let https = Cookies::for_issuer("https://id.example.com");
        let http = Cookies::for_issuer("http://id.example.com");
        assert_eq!(https.get(&headers, BrowserCookie::Session), Some("host"));
        assert_eq!(http.get(&headers, BrowserCookie::Session), Some("plain"));
        assert_eq!(https.get(&headers, BrowserCookie::Csrf), None);
        assert_eq!(http.get(&headers, BrowserCookie::Csrf), Some("c"));
    }
}
