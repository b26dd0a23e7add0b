//! Bearer authentication for this server's own endpoints: the extractors a
//! handler names to require a valid access token, or a user behind one.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use idp_core::user::User;

use super::error::{ApiError, BearerError as Challenge};
use crate::service::bearer::{BearerError, VerifiedAccess};
use crate::state::AppState;

/// A verified access token of an enabled user, with the user loaded.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub access: VerifiedAccess,
    pub user: User,
}

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

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let (access, user) =
            state.bearer.verify_user(token, state.now()).await.map_err(rejected)?;
        // Belt and braces next to session revocation: a disabled user, or a
        // token older than the user's last password or role change, is done.
        if user.is_disabled() || access.claims.iat < user.tokens_valid_after.as_secs() {
            return Err(rejected(BearerError::SessionEnded));
        }
        Ok(Self { access, user })
    }
}
