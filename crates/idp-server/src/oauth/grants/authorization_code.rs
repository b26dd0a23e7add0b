//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636).

use idp_core::client::GrantType;
use idp_core::scope;
use idp_core::user::Profile;

use super::{TokenRequest, require_grant};
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::error::OAuthError;
use crate::service::authorization::{self, Redemption};
use crate::service::tokens::{AccessGrant, IdGrant, TokenResponse};
use crate::state::AppState;

pub async fn grant(
    state: &AppState,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let form = request.form;
    // The code was issued to one client: it must say which (a public
    // client by client_id, a confidential one by authenticating).
    if request.client == Presented::Absent {
        return Err(OAuthError::invalid_client(
            "client_id is required with the authorization_code grant.",
        ));
    }
    let client = client_auth::authenticate(state, &request.client)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("Client authentication failed."))?;
    require_grant(&client, GrantType::AuthorizationCode)?;
    let presented = Redemption {
        code: form.required("code")?,
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
    };
    let redeemed = authorization::redeem(state, &client, presented, request.origin).await?;
    let now = state.now();
    let access = state
        .tokens
        .issue_access(
            &AccessGrant {
                subject: redeemed.user.id.to_string(),
                client: &client,
                scope: &redeemed.scope,
                roles: Some(&redeemed.roles),
                session_id: Some(redeemed.session.id),
                auth_time: Some(redeemed.session.auth_time),
                audience: None,
            },
            now,
        )
        .map_err(OAuthError::server_error)?;
    let id_token = if redeemed.scope.contains(scope::OPENID) {
        let profile = Profile::of(&redeemed.user, redeemed.roles.clone());
        let grant = IdGrant {
            profile: &profile,
            client: &client,
            scope: &redeemed.scope,
            session_id: Some(redeemed.session.id),
            auth_time: redeemed.session.auth_time,
            nonce: redeemed.nonce.as_deref(),
            access_token: Some(&access.token),
        };
        Some(state.tokens.issue_id_token(&grant, now).map_err(OAuthError::server_error)?)
    } else {
        None
    };
    state.metrics.token_issued("authorization_code");
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: redeemed.refresh_token.map(|t| t.into_string()),
        id_token,
        scope: redeemed.scope.to_string(),
    })
}
