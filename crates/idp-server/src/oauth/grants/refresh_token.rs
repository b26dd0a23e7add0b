//! The refresh token grant (RFC 6749 §6), with rotation and reuse detection.
//! Also serves the original service's `/auth/token/refresh` shortcut.

use idp_core::client::GrantType;

use super::{TokenRequest, require_grant, resource};
use crate::oauth::error::OAuthError;
use crate::oauth::{client_auth, scope_policy};
use crate::service::refresh::{self, Requester};
use crate::service::tokens::{AccessGrant, TokenResponse};
use crate::state::AppState;

pub async fn grant(
    state: &AppState,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let form = request.form;
    let presented = form.required("refresh_token")?;
    let client = client_auth::authenticate(state, &request.client).await?;
    if let Some(client) = &client {
        require_grant(client, GrantType::RefreshToken)?;
    }
    let audience = resource(state, form)?;
    let narrow_to = scope_policy::parse(form.get("scope"))?;
    let requester = match &client {
        Some(client) => Requester::Client(client),
        None => Requester::Unidentified,
    };
    let rotated =
        refresh::rotate(state, presented, requester, narrow_to.as_ref(), request.origin).await?;
    let scope = rotated.scope;
    let now = state.now();
    let access = state
        .tokens
        .issue_access(
            &AccessGrant {
                subject: rotated.session.user_id.to_string(),
                client: &rotated.client,
                scope: &scope,
                roles: Some(&rotated.session.roles),
                session_id: Some(rotated.session.id),
                auth_time: Some(rotated.session.auth_time),
                audience,
            },
            now,
        )
        .map_err(OAuthError::server_error)?;
    // No new ID token: OIDC Core §12.2 makes it optional, and one signature
    // per refresh instead of two halves the signing cost of the hottest path.
    state.metrics.token_issued("refresh_token");
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: Some(rotated.refresh_token.into_string()),
        id_token: None,
        scope: scope.to_string(),
    })
}
