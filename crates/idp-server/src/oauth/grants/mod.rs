//! The token endpoint's grants, one module each. Adding a grant is a new
//! module and one arm in [`dispatch`]; the others do not change.

mod authorization_code;
mod client_credentials;
mod password;
mod refresh_token;

use axum::http::HeaderMap;
use idp_core::client::Client;
use idp_core::session::RequestOrigin;

use super::client_auth::Presented;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::form::FormFields;
use crate::service::tokens::TokenResponse;
use crate::state::AppState;

/// One token request, parsed.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    pub form: &'a FormFields,
    pub client: Presented,
    pub origin: &'a RequestOrigin,
}

impl<'a> TokenRequest<'a> {
    pub fn new(
        headers: &HeaderMap,
        form: &'a FormFields,
        origin: &'a RequestOrigin,
    ) -> Result<Self, OAuthError> {
        Ok(Self { form, client: Presented::from_request(headers, form)?, origin })
    }
}

pub async fn dispatch(
    state: &AppState,
    grant_type: &str,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    match grant_type {
        "authorization_code" => authorization_code::grant(state, request).await,
        "client_credentials" => client_credentials::grant(state, request).await,
        "password" => password::grant(state, request).await,
        "refresh_token" => refresh_token::grant(state, request).await,
        other => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("Unsupported grant_type: {}", other.chars().take(64).collect::<String>()),
        )),
    }
}

/// RFC 6749 §5.2 `unauthorized_client`: the client exists but may not use
/// this grant.
fn require_grant(client: &Client, grant: idp_core::client::GrantType) -> Result<(), OAuthError> {
    if client.allows_grant(grant) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client(format!("This client may not use the {grant} grant.")))
    }
}

/// RFC 8707: the `resource` becomes the access token's audience when it is
/// one the server is configured to issue for, or idp itself (the issuer:
/// idp's own APIs take only tokens meant for it).
fn resource<'f>(state: &AppState, form: &'f FormFields) -> Result<Option<&'f str>, OAuthError> {
    let Some(resource) = form.get("resource") else { return Ok(None) };
    if resource == state.settings.issuer
        || state.settings.allowed_resources.iter().any(|r| r == resource)
    {
        Ok(Some(resource))
    } else {
        Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "The requested resource is not known to this server.",
        ))
    }
}
