//! Bearer authentication for this server's own endpoints: the extractors a
//! handler names to require a valid access token of a user, and which part
//! of idp's API that token may reach (SPEC §2 "Access to idp's own APIs").

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use idp_core::scope;

use super::error::{ApiError, BearerError as Challenge};
use crate::service::bearer::{Audience, BearerError, UserToken};
use crate::state::AppState;

/// A user's access token for idp itself (`aud` = the issuer), issued to any
/// client: `/auth/me`, which answers a third-party client only what its
/// scopes allow.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserToken);

/// [`CurrentUser`] whose client may manage the user's account: a first-party
/// client, or one granted `idp:account`.
#[derive(Debug, Clone)]
pub struct AccountUser(pub UserToken);

/// A user's access token for userinfo, which also takes tokens for
/// `DEFAULT_AUDIENCE` (every access token of a user may call it).
#[derive(Debug, Clone)]
pub struct UserInfoUser(pub UserToken);

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme
/// is case-insensitive).
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(Challenge::Missing))?;
    let value = value.to_str().map_err(|_| ApiError::Unauthorized(Challenge::InvalidToken))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized(Challenge::InvalidToken)),
    }
}

fn rejected(err: BearerError) -> ApiError {
    match err {
        BearerError::Store(e) => e.into(),
        other => {
            tracing::debug!(reason = %other, "bearer token refused");
            ApiError::Unauthorized(Challenge::InvalidToken)
        }
    }
}

/// A verified token of an enabled user with a live session.
pub(super) async fn user_token(
    parts: &Parts,
    state: &AppState,
    audience: Audience,
) -> Result<UserToken, ApiError> {
    let token = bearer_token(parts)?;
    state.bearer.verify_user(token, state.now(), audience).await.map_err(rejected)
}

/// Refuses, with 403 `insufficient_scope`, a token that may not reach the
/// part of idp's API that `scope` guards.
pub(super) fn require_reach(token: &UserToken, scope: &'static str) -> Result<(), ApiError> {
    if token.reaches(scope) {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope {
            scope,
            detail: format!(
                "This token was issued to a third-party client without the {scope} scope."
            )
            .into(),
        })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(user_token(parts, state, Audience::Idp).await?))
    }
}

impl FromRequestParts<AppState> for AccountUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = user_token(parts, state, Audience::Idp).await?;
        require_reach(&token, scope::IDP_ACCOUNT)?;
        Ok(Self(token))
    }
}

impl FromRequestParts<AppState> for UserInfoUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(user_token(parts, state, Audience::UserInfo).await?))
    }
}
