//! `/auth/introspect` (RFC 7662).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::openapi::responses::OAuthFormErrors;
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormFields;
use crate::service::introspection::Introspection;
use crate::state::AppState;

/// Tells a confidential client (a resource server) whether a token is live:
/// signature, expiry, its session and revocation are all checked, so a
/// token invalidated by a password or role change is `active: false` at
/// once.
#[utoipa::path(
    post,
    path = "/auth/introspect",
    tag = "oauth",
    security((), ("client_secret_basic" = [])),
    request_body(content(
        (IntrospectForm = "application/x-www-form-urlencoded"),
        (IntrospectForm = "multipart/form-data")
    )),
    responses(
        (status = 200, body = Introspection, headers(("Cache-Control" = String, description = "`no-store`"))),
        OAuthFormErrors
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Response, OAuthError> {
    let answer = crate::oauth::introspection::introspect(&state, &headers, &form).await?;
    let mut response = axum::Json(answer).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct IntrospectForm {
    #[schema(min_length = 1)]
    token: String,
    /// `access_token` or `refresh_token`: where to look first.
    #[schema(nullable = false)]
    token_type_hint: Option<String>,
    /// With `client_secret` (or HTTP Basic): confidential clients only.
    #[schema(nullable = false)]
    client_id: Option<String>,
    #[schema(nullable = false)]
    client_secret: Option<String>,
}
