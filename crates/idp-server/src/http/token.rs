//! `/auth/token` and the original service's `/auth/token/refresh`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::Origin;
use super::form::FormFields;
use super::oauth_error::OAuthError;
use crate::oauth::grants::{self, TokenRequest};
use crate::service::tokens::TokenResponse;
use crate::state::AppState;

/// The OAuth 2.0 token endpoint (RFC 6749 §3.2). Accepts
/// `application/x-www-form-urlencoded` and `multipart/form-data`.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = super::oauth_error::OAuthErrorBody),
        (status = 401, body = super::oauth_error::OAuthErrorBody, description = "invalid_client"),
        (status = 429, body = super::oauth_error::OAuthErrorBody, description = "Locked out or rate limited"),
        (status = 503, body = super::oauth_error::OAuthErrorBody, description = "Busy; retry after Retry-After")
    )
)]
pub async fn token(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Response, OAuthError> {
    let grant_type = form.required("grant_type")?;
    let request = TokenRequest::new(&headers, &form, &origin)?;
    let response = grants::dispatch(&state, grant_type, request).await?;
    Ok(token_response(response))
}

/// The original service's refresh shortcut: a form with `refresh_token`
/// (and nothing else required); same rules as the refresh grant.
#[utoipa::path(
    post,
    path = "/auth/token/refresh",
    tag = "oauth",
    request_body(content = RefreshForm, content_type = "multipart/form-data"),
    responses((status = 200, body = TokenResponse), (status = 400, body = super::oauth_error::OAuthErrorBody))
)]
pub async fn refresh(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Response, OAuthError> {
    if let Some(grant_type) = form.get("grant_type")
        && grant_type != "refresh_token"
    {
        return Err(OAuthError::invalid_request(
            "This endpoint only refreshes; use /auth/token for other grants.",
        ));
    }
    let request = TokenRequest::new(&headers, &form, &origin)?;
    let response = grants::dispatch(&state, "refresh_token", request).await?;
    Ok(token_response(response))
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn token_response(body: TokenResponse) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The token endpoint's parameters (which apply depends on `grant_type`).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct TokenForm {
    /// `password`, `refresh_token`.
    grant_type: String,
    /// password grant.
    username: Option<String>,
    /// password grant.
    password: Option<String>,
    /// refresh_token grant.
    refresh_token: Option<String>,
    /// Space-separated; defaults to `openid profile email roles` for users.
    scope: Option<String>,
    /// Public clients; confidential ones may use HTTP Basic instead.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// RFC 8707 resource indicator (one of ALLOWED_RESOURCES).
    resource: Option<String>,
}

#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct RefreshForm {
    refresh_token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}
