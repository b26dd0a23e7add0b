//! `/auth/logout`: OpenID Connect RP-Initiated Logout 1.0.
//!
//! A request signs the browser out at once only when its `id_token_hint` is
//! an ID token we issued to the user signed in here (or when nobody is
//! signed in here: then it ends just the session the hint names). Any other
//! request — no hint, one we did not issue, another user's — could have
//! been sent by any page, and §2 says the OP MUST then ask: a confirmation
//! page, whose POST (CSRF-checked like the login form) signs out. A
//! `post_logout_redirect_uri` is followed only with a valid hint, and only
//! to a URI the hint's client registered (§3); otherwise the signed-out
//! page.

// The helpers here fail with the page to send; a response is large, but it
// is built once per failed request, and boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use idp_core::jose;
use idp_core::session::RequestOrigin;
use idp_core::token::{ID_TOKEN_TYP, IdClaims};
use idp_core::user::User;
use idp_store::repo::browser_sessions::BrowserSession;
use idp_store::repo::clients;

use super::cookies::{self, BrowserCookie, Cookies, csrf_cookie, signed_csrf_cookie};
use super::html::{error_page, form_fields, form_target, redirect, store_failure};
use super::pages;
use crate::http::extract::Origin;
use crate::http::openapi::responses::{PageFormErrors, PageUnavailable};
use crate::oauth::form::FormFields;
use crate::service::browser;
use crate::state::AppState;

/// The request's own parameters, posted back by the confirmation form.
const PARAMS: [&str; 4] = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"];

/// The confirmation form's CSRF token purpose.
const CSRF_PURPOSE: &str = "logout";

const NOT_OURS: &str = "The id_token_hint is not an ID token issued by this server.";

/// Logout by GET (query parameters).
#[utoipa::path(
    get,
    path = "/auth/logout",
    tag = "oidc",
    params(
        ("id_token_hint" = Option<String>, Query, description = "An ID token this server issued (expired is fine)"),
        ("client_id" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "Must exactly match one the client registered"),
        ("state" = Option<String>, Query)
    ),
    responses(
        (status = 200, description = "The signed-out page, or the page asking the user to confirm",
            body = String, content_type = "text/html"),
        (status = 302, description = "To the post-logout redirect URI, with `state`", headers(("Location" = String))),
        (status = 400, description = "An error page: an invalid `id_token_hint`, or a query that does not parse",
            body = String, content_type = "text/html"),
        (status = 503, response = PageUnavailable)
    )
)]
pub async fn logout_get(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match FormFields::from_urlencoded(query.unwrap_or_default().as_bytes()) {
        Ok(fields) => logout(&state, &origin, &headers, &fields, StatusCode::FOUND).await,
        Err(e) => error_page(StatusCode::BAD_REQUEST, &e.description),
    }
}

/// Logout by POST: a logout request sent as a form, or the confirmation
/// form's answer, which alone carries `csrf_token`.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "oidc",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The signed-out page, or the page asking the user to confirm",
            body = String, content_type = "text/html"),
        (status = 303, description = "To the post-logout redirect URI, with `state`", headers(("Location" = String))),
        PageFormErrors,
        (status = 403, description = "An error page: the confirmation form expired (its CSRF token is missing or stale)",
            body = String, content_type = "text/html")
    )
)]
pub async fn logout_post(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = match form_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(page) => return page,
    };
    if fields.as_map().contains_key("csrf_token") {
        confirmed(&state, &origin, &headers, &fields).await
    } else {
        logout(&state, &origin, &headers, &fields, StatusCode::SEE_OTHER).await
    }
}

/// What the `id_token_hint` says.
enum Hint {
    Absent,
    Ours(Box<IdClaims>),
    NotOurs,
}

/// A logout request: sign out at once, or ask first.
async fn logout(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
    status: StatusCode,
) -> Response {
    let hint = match hint(state, fields).await {
        Ok(hint) => hint,
        Err(page) => return page,
    };
    if let (Hint::Ours(claims), Some(given)) = (&hint, fields.get("client_id"))
        && given != claims.aud
    {
        return error_page(StatusCode::BAD_REQUEST, "client_id does not match the id_token_hint.");
    }
    let signed_in = match signed_in(state, headers).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    match (&hint, signed_in) {
        // The user's own application asks, or no one is signed in here
        // and the hint names the session to end.
        (Hint::Ours(claims), Some((session, user))) if claims.sub == user.id.to_string() => {
            sign_out(state, origin, Some((session, user)), Some(&**claims), fields, status).await
        }
        (Hint::Ours(claims), None) => {
            sign_out(state, origin, None, Some(&**claims), fields, status).await
        }
        (Hint::NotOurs, None) => error_page(StatusCode::BAD_REQUEST, NOT_OURS),
        // Nothing to end.
        (Hint::Absent, None) => signed_out(state, None),
        (hint, Some((_, user))) => confirmation(state, headers, &user, hint, fields).await,
    }
}

/// The page that asks before signing out.
async fn confirmation(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    hint: &Hint,
    fields: &FormFields,
) -> Response {
    let (claims, status, notice) = match hint {
        Hint::Ours(claims) => (Some(&**claims), StatusCode::OK, None),
        Hint::Absent => (None, StatusCode::OK, None),
        Hint::NotOurs => (
            None,
            StatusCode::BAD_REQUEST,
            Some(
                "The application's sign-out request could not be verified: its id_token_hint \
                  is not an ID token issued by this server.",
            ),
        ),
    };
    // Where the answer will be redirected, for the page's form-action.
    let targets: Vec<String> = match redirect_target(state, claims, fields).await {
        Ok(target) => target.as_deref().and_then(form_target).into_iter().collect(),
        Err(page) => return page,
    };
    // A hint we did not issue is not carried on: the answer would only
    // meet it again.
    let params: Vec<(&str, &str)> = PARAMS
        .iter()
        .filter(|name| claims.is_some() || **name != "id_token_hint")
        .filter_map(|name| fields.get(name).map(|value| (*name, value)))
        .collect();
    let (csrf, set) = csrf_cookie(state, headers);
    let token = state.csrf.token(&csrf, CSRF_PURPOSE);
    let mut page =
        pages::logout_confirmation(status, &user.username, &token, &params, notice, &targets);
    if let Some(set) = set {
        cookies::set(&mut page, &set);
    }
    page
}

/// The confirmation form's answer: signs out this browser (and the session
/// a valid hint names).
async fn confirmed(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
) -> Response {
    let csrf_ok = signed_csrf_cookie(state, headers)
        .zip(fields.get("csrf_token"))
        .is_some_and(|(csrf, token)| state.csrf.verify(&csrf, CSRF_PURPOSE, token));
    if !csrf_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "The form expired. You are still signed in; go back and try again.",
        );
    }
    // The user asked to sign out; a hint that does not verify (any more)
    // only loses the redirect.
    let claims = match hint(state, fields).await {
        Ok(Hint::Ours(claims)) => Some(*claims),
        Ok(Hint::Absent | Hint::NotOurs) => None,
        Err(page) => return page,
    };
    let signed_in = match signed_in(state, headers).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    sign_out(state, origin, signed_in, claims.as_ref(), fields, StatusCode::SEE_OTHER).await
}

/// Ends the browser's sign-in (and every session issued from it) and the
/// session the hint names, then redirects where the hint's client
/// registered, or shows the signed-out page.
async fn sign_out(
    state: &AppState,
    origin: &RequestOrigin,
    signed_in: Option<(BrowserSession, User)>,
    hint: Option<&IdClaims>,
    fields: &FormFields,
    status: StatusCode,
) -> Response {
    let user = signed_in.as_ref().map(|(_, user)| user.id);
    if let Some((session, user)) = &signed_in
        && let Err(e) = browser::end(state, session.id, Some(user.id), origin).await
    {
        return store_failure(e);
    }
    if let Some(hint) = hint
        && let Err(e) = browser::end_hinted(state, hint, user, origin).await
    {
        return store_failure(e);
    }
    match redirect_target(state, hint, fields).await {
        Ok(target) => signed_out(state, target.map(|location| redirect(status, &location))),
        Err(page) => page,
    }
}

/// `response` (the signed-out page if none), telling the browser to forget
/// its session cookie.
fn signed_out(state: &AppState, response: Option<Response>) -> Response {
    let mut response = response.unwrap_or_else(pages::signed_out);
    cookies::set(&mut response, &Cookies::of(state).removal(BrowserCookie::Session));
    response
}

/// The post-logout redirect, with `state`: only with a valid hint, and only
/// to a URI its client registered (OIDC RP-Initiated Logout §3). Never to
/// anything else: no open redirect.
async fn redirect_target(
    state: &AppState,
    hint: Option<&IdClaims>,
    fields: &FormFields,
) -> Result<Option<String>, Response> {
    let (Some(hint), Some(uri)) = (hint, fields.get("post_logout_redirect_uri")) else {
        return Ok(None);
    };
    let client = clients::find(state.db.read(), &hint.aud).await.map_err(store_failure)?;
    if !client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)) {
        return Ok(None);
    }
    let location = match (url::Url::parse(uri), fields.get("state")) {
        (Ok(mut url), Some(state_param)) => {
            url.query_pairs_mut().append_pair("state", state_param);
            url.to_string()
        }
        _ => uri.to_owned(),
    };
    Ok(Some(location))
}

/// The browser's live sign-in, if any.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(BrowserSession, User)>, Response> {
    let cookie = Cookies::of(state).get(headers, BrowserCookie::Session);
    browser::current(state, cookie).await.map_err(store_failure)
}

/// The hint must be an ID token we issued (OIDC RP-Initiated Logout §2;
/// expired is fine): our signature, the ID token's `typ` — an access token
/// (`at+jwt`) names a session too, but whoever holds one, a resource server
/// for instance, must not be able to end it — our issuer, and as audience a
/// client of ours.
async fn hint(state: &AppState, fields: &FormFields) -> Result<Hint, Response> {
    let Some(token) = fields.get("id_token_hint") else { return Ok(Hint::Absent) };
    let checked = state
        .keys
        .verify(|keys| {
            jose::verify_signature_and_type::<IdClaims>(
                token,
                |kid| keys.verifier(kid),
                ID_TOKEN_TYP,
            )
        })
        .await;
    let claims = match checked {
        Ok(claims) if claims.iss == state.settings.issuer && claims.aud.len() <= 255 => claims,
        _ => return Ok(Hint::NotOurs),
    };
    match clients::find(state.db.read(), &claims.aud).await {
        Ok(Some(_)) => Ok(Hint::Ours(Box::new(claims))),
        Ok(None) => Ok(Hint::NotOurs),
        Err(e) => {
            tracing::error!(error = %e, "logout: client lookup failed");
            Err(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The id_token_hint could not be checked; try again shortly.",
            ))
        }
    }
}

/// The parameters of RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct LogoutForm {
    /// An ID token this server issued (expired is fine).
    #[schema(nullable = false)]
    id_token_hint: Option<String>,
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// Must exactly match one the client registered.
    #[schema(nullable = false)]
    post_logout_redirect_uri: Option<String>,
    #[schema(nullable = false)]
    state: Option<String>,
    /// Only the confirmation page's form: bound to this browser's CSRF cookie.
    #[schema(nullable = false)]
    csrf_token: Option<String>,
}
