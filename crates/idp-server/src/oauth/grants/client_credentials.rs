//! The client credentials grant (RFC 6749 §4.4): a confidential client gets
//! an access token for itself. No user, so no session, no refresh token,
//! no ID token.

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::client::GrantType;
use idp_core::scope::{self, Scope};

use super::{TokenRequest, require_grant, resource};
use crate::oauth::client_auth;
use crate::oauth::error::OAuthError;
use crate::service::tokens::{AccessGrant, TokenResponse};
use crate::state::AppState;

/// The scopes that describe a user; they mean nothing in a client's token.
fn is_user_scope(s: &str) -> bool {
    [scope::OPENID, scope::PROFILE, scope::EMAIL, scope::ROLES, scope::OFFLINE_ACCESS].contains(&s)
}

pub async fn grant(
    state: &AppState,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let client = client_auth::authenticate(state, &request.client)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("Client authentication is required."))?;
    if !client.is_confidential() {
        return Err(OAuthError::unauthorized_client(
            "Only confidential clients may use client_credentials.",
        ));
    }
    require_grant(&client, GrantType::ClientCredentials)?;
    let allowed: Vec<String> =
        client.scopes.iter().filter(|s| !is_user_scope(s)).cloned().collect();
    let scope = match request.form.get("scope") {
        None => Scope::from_tokens(allowed.iter().cloned()),
        Some(raw) => {
            let asked = Scope::parse(raw).map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
            let refused: Vec<&str> = asked.not_in(&allowed).collect();
            if !refused.is_empty() {
                return Err(OAuthError::invalid_scope(format!(
                    "Scope not allowed for this client: {}",
                    refused.join(" ")
                )));
            }
            asked
        }
    };
    let audience = resource(state, request.form)?;
    let now = state.now();
    let access = state
        .tokens
        .issue_access(
            &AccessGrant {
                subject: client.id.to_string(),
                client: &client,
                scope: &scope,
                roles: None,
                session_id: None,
                auth_time: None,
                audience,
            },
            now,
        )
        .map_err(OAuthError::server_error)?;
    // Machine tokens are issued at high volume: they are audited as a log
    // line only (target `audit`), not as a database row per token.
    crate::service::audit::emit(&[AuditEvent::new(EventKind::TokenIssued, Outcome::Success, now)
        .actor(format!("client:{}", client.id))
        .client(&client.id)
        .origin(request.origin)
        .detail("grant_type", "client_credentials")]);
    state.metrics.token_issued("client_credentials");
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: None,
        id_token: None,
        scope: scope.to_string(),
    })
}
