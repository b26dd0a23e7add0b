//! `/auth/revoke` (RFC 7009).

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;

use super::extract::{Json, Origin};
use super::openapi::responses::OAuthFormErrors;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormFields;
use crate::service::revocation::{self, RevocationError, Revoked};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevokeResponse {
    /// `Refresh token revoked successfully` or `Token revoked successfully`.
    pub detail: &'static str,
}

/// Revokes a refresh token (ending its whole family) or an access token
/// (refused by `jti` until it expires). Takes `token` (+ `token_type_hint`)
/// or the original service's `refresh_token` field. Unknown tokens are
/// answered 200 too (RFC 7009 §2.2). Confidential clients authenticate;
/// public clients send `client_id`; a request with neither acts as the
/// built-in first-party client.
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "oauth",
    security((), ("client_secret_basic" = [])),
    request_body(content(
        (RevokeForm = "application/x-www-form-urlencoded"),
        (RevokeForm = "multipart/form-data")
    )),
    responses((status = 200, body = RevokeResponse), OAuthFormErrors)
)]
pub async fn revoke(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Json<RevokeResponse>, OAuthError> {
    let (token, hint) = match (form.get("token"), form.get("refresh_token")) {
        (Some(token), _) => (token, form.get("token_type_hint")),
        (None, Some(token)) => (token, Some("refresh_token")),
        (None, None) => return Err(OAuthError::invalid_request("Missing parameter: token")),
    };
    let presented = Presented::from_request(&headers, &form)?;
    let client = match client_auth::authenticate(&state, &presented).await? {
        Some(client) => client,
        None => client_auth::first_party(&state).await?,
    };
    let hint_access = hint == Some("access_token");
    let revoked =
        revocation::revoke(&state, token, hint_access, &client, &origin).await.map_err(|err| {
            match err {
                RevocationError::NotYourToken => OAuthError::unauthorized_client(err.to_string()),
                RevocationError::Store(e) => e.into(),
            }
        })?;
    let detail = match revoked {
        Revoked::AccessToken => "Token revoked successfully",
        Revoked::Unknown if hint_access => "Token revoked successfully",
        Revoked::RefreshToken | Revoked::Unknown => "Refresh token revoked successfully",
    };
    Ok(Json(RevokeResponse { detail }))
}

#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct RevokeForm {
    /// Required unless `refresh_token` is given.
    #[schema(nullable = false)]
    token: Option<String>,
    /// `refresh_token` or `access_token`: where to look first.
    #[schema(nullable = false)]
    token_type_hint: Option<String>,
    /// The original service's field name.
    #[schema(nullable = false)]
    refresh_token: Option<String>,
    #[schema(nullable = false)]
    client_id: Option<String>,
    #[schema(nullable = false)]
    client_secret: Option<String>,
}
