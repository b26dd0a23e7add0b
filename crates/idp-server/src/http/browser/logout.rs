//! `/auth/logout`: OpenID Connect RP-Initiated Logout 1.0.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use idp_core::jose;
use idp_core::token::{ID_TOKEN_TYP, IdClaims};
use idp_store::repo::clients;

use super::cookies::{self, BrowserCookie, Cookies};
use super::html::{error_page, form_fields, redirect};
use super::pages;
use crate::http::extract::Origin;
use crate::http::form::FormFields;
use crate::http::openapi::responses::{PageFormErrors, PageUnavailable};
use crate::service::browser;
use crate::state::AppState;

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
        (status = 200, description = "The signed-out page", body = String, content_type = "text/html"),
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

/// Logout by POST (form parameters).
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "oidc",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The signed-out page", body = String, content_type = "text/html"),
        (status = 303, description = "To the post-logout redirect URI, with `state`", headers(("Location" = String))),
        PageFormErrors
    )
)]
pub async fn logout_post(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match form_fields(&headers, &body) {
        Ok(fields) => logout(&state, &origin, &headers, &fields, StatusCode::SEE_OTHER).await,
        Err(page) => page,
    }
}

/// Ends the browser session (and every refresh family issued from it) and
/// the session the hint names; redirects only to a registered URI.
pub async fn logout(
    state: &AppState,
    origin: &idp_core::session::RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
    status: StatusCode,
) -> Response {
    let hint = match fields.get("id_token_hint") {
        Some(token) => match id_token_hint(state, token).await {
            Ok(claims) => Some(claims),
            Err(page) => return page,
        },
        None => None,
    };
    let client_id = match (fields.get("client_id"), hint.as_ref().map(|h| h.aud.as_str())) {
        (Some(given), Some(from_hint)) if given != from_hint => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "client_id does not match the id_token_hint.",
            );
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, from_hint) => from_hint.map(str::to_owned),
    };
    let client = match client_id.as_deref().filter(|id| id.len() <= 255) {
        Some(id) => match clients::find(state.db.pool(), id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "logout: client lookup failed");
                None
            }
        },
        None => None,
    };
    // End what there is to end; a failure is logged, and the browser is
    // still told to forget its cookie.
    let jar = Cookies::of(state);
    if let Some(cookie_value) = jar.get(headers, BrowserCookie::Session) {
        match browser::current(state, Some(cookie_value)).await {
            Ok(Some((session, user))) => {
                if let Err(e) = browser::end(state, session.id, Some(user.id), origin).await {
                    tracing::error!(error = %e, "logout: could not end the browser session");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "logout: session lookup failed"),
        }
    }
    if let Some(sid) = hint.as_ref().and_then(|h| h.sid.as_deref()).and_then(|s| s.parse().ok())
        && let Err(e) = browser::end_family(state, sid).await
    {
        tracing::error!(error = %e, "logout: could not end the hinted session");
    }
    let target = fields.get("post_logout_redirect_uri").filter(|uri| {
        client.as_ref().is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri))
    });
    let mut response = match target {
        Some(uri) => {
            let location = match (url::Url::parse(uri), fields.get("state")) {
                (Ok(mut url), Some(state_param)) => {
                    url.query_pairs_mut().append_pair("state", state_param);
                    url.to_string()
                }
                _ => uri.to_owned(),
            };
            redirect(status, &location)
        }
        // Not registered (or none given): never redirect (OIDC RP-Initiated
        // Logout §3); say so on our own page.
        None => pages::signed_out(),
    };
    cookies::set(&mut response, &jar.removal(BrowserCookie::Session));
    response
}

/// The hint must be an ID token we issued (OIDC RP-Initiated Logout §2;
/// expired is fine): our signature, the ID token's `typ` — an access token
/// (`at+jwt`) names a session too, but whoever holds one, a resource server
/// for instance, must not be able to end it — our issuer, and as audience a
/// client of ours.
async fn id_token_hint(state: &AppState, token: &str) -> Result<IdClaims, Response> {
    let not_ours = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "The id_token_hint is not an ID token issued by this server.",
        )
    };
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
        _ => return Err(not_ours()),
    };
    match clients::find(state.db.pool(), &claims.aud).await {
        Ok(Some(_)) => Ok(claims),
        Ok(None) => Err(not_ours()),
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
}
