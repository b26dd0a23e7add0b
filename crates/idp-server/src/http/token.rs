//! `/auth/token` and the original service's `/auth/token/refresh`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::Origin;
use super::openapi::responses::{OAuthFormErrors, OAuthTooManyRequests};
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormFields;
use crate::oauth::grants::{self, TokenRequest};
use crate::service::tokens::TokenResponse;
use crate::state::AppState;

/// The OAuth 2.0 token endpoint (RFC 6749 §3.2): every grant type, as
/// `application/x-www-form-urlencoded` or `multipart/form-data`.
/// Confidential clients authenticate with HTTP Basic or `client_secret` in
/// the body; public clients send `client_id`; a password grant with neither
/// acts as the built-in first-party client.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "oauth",
    security((), ("client_secret_basic" = [])),
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "multipart/form-data")
    )),
    responses(
        (status = 200, response = TokenIssued),
        OAuthFormErrors,
        (status = 429, response = OAuthTooManyRequests)
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
    security((), ("client_secret_basic" = [])),
    request_body(content(
        (RefreshForm = "application/x-www-form-urlencoded"),
        (RefreshForm = "multipart/form-data")
    )),
    responses(
        (status = 200, response = TokenIssued),
        OAuthFormErrors,
        (status = 429, response = OAuthTooManyRequests)
    )
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

/// A token response (RFC 6749 §5.1); never cached.
#[derive(Debug, utoipa::ToResponse)]
#[response(headers(
    ("Cache-Control" = String, description = "`no-store`"),
    ("Pragma" = String, description = "`no-cache`")
))]
#[allow(dead_code)] // documentation only
pub struct TokenIssued(TokenResponse);

/// The token endpoint's parameters, one set per `grant_type`. Empty values
/// count as absent (RFC 6749 §3.1); a parameter given twice is refused.
#[derive(Debug, utoipa::ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
#[allow(dead_code)] // documentation only
pub enum TokenForm {
    /// Redeems an authorization code (RFC 6749 §4.1.3) with its PKCE
    /// verifier (RFC 7636 §4.5).
    AuthorizationCode {
        #[schema(min_length = 1)]
        code: String,
        /// Required when the authorization request carried one.
        #[schema(nullable = false)]
        redirect_uri: Option<String>,
        /// Required for public clients (and confidential ones unless
        /// `REQUIRE_PKCE_FOR_CONFIDENTIAL_CLIENTS=false` and no challenge was sent).
        #[schema(nullable = false)]
        code_verifier: Option<String>,
        #[schema(nullable = false)]
        client_id: Option<String>,
        #[schema(nullable = false)]
        client_secret: Option<String>,
        /// RFC 8707 resource indicator (the issuer or one of ALLOWED_RESOURCES).
        #[schema(nullable = false)]
        resource: Option<String>,
    },
    /// A confidential client acting for itself (RFC 6749 §4.4.2).
    ClientCredentials {
        /// Space-separated; defaults to the client's allowed scopes.
        #[schema(nullable = false)]
        scope: Option<String>,
        #[schema(nullable = false)]
        client_id: Option<String>,
        #[schema(nullable = false)]
        client_secret: Option<String>,
        #[schema(nullable = false)]
        resource: Option<String>,
    },
    /// A user's name (or email) and password (RFC 6749 §4.3.2); returns an
    /// access, refresh and ID token.
    Password {
        #[schema(min_length = 1)]
        username: String,
        #[schema(format = Password, min_length = 1)]
        password: String,
        /// Space-separated; defaults to `openid profile email roles`.
        #[schema(nullable = false)]
        scope: Option<String>,
        /// Optional: without it the built-in first-party client is used.
        #[schema(nullable = false)]
        client_id: Option<String>,
        #[schema(nullable = false)]
        client_secret: Option<String>,
        #[schema(nullable = false)]
        resource: Option<String>,
    },
    /// Rotates a refresh token (RFC 6749 §6): the presented one is consumed.
    RefreshToken {
        #[schema(min_length = 1)]
        refresh_token: String,
        /// At most the scope originally granted.
        #[schema(nullable = false)]
        scope: Option<String>,
        #[schema(nullable = false)]
        client_id: Option<String>,
        #[schema(nullable = false)]
        client_secret: Option<String>,
        #[schema(nullable = false)]
        resource: Option<String>,
    },
}

/// `/auth/token/refresh`: the refresh grant without `grant_type`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct RefreshForm {
    #[schema(min_length = 1)]
    refresh_token: String,
    /// `refresh_token` if given; any other value is refused.
    #[schema(nullable = false)]
    grant_type: Option<String>,
    #[schema(nullable = false)]
    scope: Option<String>,
    #[schema(nullable = false)]
    client_id: Option<String>,
    #[schema(nullable = false)]
    client_secret: Option<String>,
    #[schema(nullable = false)]
    resource: Option<String>,
}
