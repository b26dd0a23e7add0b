//! The resource owner password credentials grant (RFC 6749 §4.3), as the
//! original service's clients use it: all three tokens in one response.

use idp_core::SecretString;
use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::client::GrantType;
use idp_core::scope::{self, DEFAULT_USER_SCOPES};
use idp_core::user::{Profile, User};

use super::{TokenRequest, require_grant, resource};
use crate::oauth::error::OAuthError;
use crate::oauth::{client_auth, scope_policy};
use crate::service::login;
use crate::service::sessions::{self, NewSession};
use crate::service::tokens::{AccessGrant, IdGrant, TokenResponse};
use crate::state::AppState;

pub async fn grant(
    state: &AppState,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let form = request.form;
    let client = match client_auth::authenticate(state, &request.client).await? {
        Some(client) => client,
        None if state.settings.allow_password_grant_without_client => {
            client_auth::first_party(state).await?
        }
        None => return Err(OAuthError::invalid_client("Client authentication is required.")),
    };
    require_grant(&client, GrantType::Password)?;
    let username = form.required("username")?;
    let password = SecretString::from(form.required("password")?.to_owned());
    let scope = scope_policy::requested(form.get("scope"), &client, DEFAULT_USER_SCOPES)?;
    scope_policy::without_consent(&scope, &client)?;
    let audience = resource(state, form)?;

    let now = state.now();
    let start = |user: User| {
        let (client, scope, origin) = (&client, &scope, request.origin);
        async move {
            let events = [
                AuditEvent::new(EventKind::LoginSucceeded, Outcome::Success, now)
                    .actor(user.id)
                    .subject(user.id)
                    .client(&client.id)
                    .origin(origin)
                    .detail("method", "password_grant"),
                AuditEvent::new(EventKind::TokenIssued, Outcome::Success, now)
                    .actor(user.id)
                    .subject(user.id)
                    .client(&client.id)
                    .origin(origin)
                    .detail("grant_type", "password"),
            ];
            let new = NewSession {
                user: &user,
                client,
                scope,
                auth_time: now,
                browser_session_id: None,
                origin,
            };
            let started = sessions::start(state, new, &events).await?;
            Ok(started.map(|(session, token)| (user, session, token)))
        }
    };
    let (user, session, refresh_token) =
        login::sign_in(state, username, password, client.id.as_str(), request.origin, start)
            .await?;
    let roles = session.roles.clone();

    let access = state
        .tokens
        .issue_access(
            &AccessGrant {
                subject: user.id.to_string(),
                client: &client,
                scope: &scope,
                roles: Some(&roles),
                session_id: Some(session.id),
                auth_time: Some(now),
                audience,
            },
            now,
        )
        .map_err(OAuthError::server_error)?;
    let id_token = if scope.contains(scope::OPENID) {
        let profile = Profile::of(&user, roles);
        let grant = IdGrant {
            profile: &profile,
            client: &client,
            scope: &scope,
            session_id: Some(session.id),
            auth_time: now,
            nonce: None,
            access_token: Some(&access.token),
        };
        Some(state.tokens.issue_id_token(&grant, now).map_err(OAuthError::server_error)?)
    } else {
        None
    };
    state.metrics.token_issued("password");
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: Some(refresh_token.into_string()),
        id_token,
        scope: scope.to_string(),
    })
}
