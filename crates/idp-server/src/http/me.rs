//! `/auth/me` and `/auth/userinfo`: who the bearer of a token is.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use idp_core::scope;
use idp_store::repo::{roles, users};
use serde::Serialize;

use super::auth::{CurrentUser, UserInfoUser};
use super::error::ApiError;
use super::extract::Json;
use super::openapi::responses::{BearerErrors, Forbidden};
use crate::state::AppState;

/// The authenticated user, as the original service's `/auth/me` returned it,
/// plus permissions. A third-party client's token without `idp:account`
/// sees only what its scopes allow, as at userinfo: `profile` → username and
/// name, `email` → email and email_verified, `roles` → roles; never
/// permissions or created_at.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    /// Present (possibly null) wherever `username` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub roles: Option<Vec<String>>,
    /// Every permission the user's roles grant (`Admin` grants all).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub permissions: Option<Vec<String>>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub created_at: Option<String>,
}

/// The current user, with roles and permissions.
#[utoipa::path(
    method(get, post),
    path = "/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Me), BearerErrors)
)]
pub async fn me(
    State(state): State<AppState>,
    CurrentUser(current): CurrentUser,
) -> Result<Json<Me>, ApiError> {
    let full = current.reaches(scope::IDP_ACCOUNT);
    let granted = current.scope();
    let shows = |s: &str| full || granted.contains(s);
    let user = current.user;
    let user_roles = users::roles_of(state.db.read(), user.id).await?;
    let permissions = match full {
        true => Some(roles::permissions_of(state.db.read(), user.id, &user_roles).await?),
        false => None,
    };
    Ok(Json(Me {
        id: user.id.to_string(),
        username: shows(scope::PROFILE).then(|| user.username.clone()),
        email: shows(scope::EMAIL).then(|| user.email.clone()),
        name: shows(scope::PROFILE).then(|| user.name.clone()),
        email_verified: shows(scope::EMAIL).then_some(user.email_verified_at.is_some()),
        roles: shows(scope::ROLES).then_some(user_roles),
        permissions,
        created_at: full.then(|| user.created_at.to_rfc3339()),
    }))
}

/// OIDC UserInfo response (OIDC Core §5.3.2), filtered by the token's scopes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    #[schema(value_type = String, format = Uuid)]
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// Claims about the user, by scope: `profile` → name, preferred_username;
/// `email` → email, email_verified; `roles` → roles. Needs scope `openid`.
#[utoipa::path(
    method(get, post),
    path = "/auth/userinfo",
    tag = "oidc",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserInfo, headers(("Cache-Control" = String, description = "`no-store`"))),
        BearerErrors,
        (status = 403, response = Forbidden)
    )
)]
pub async fn userinfo(UserInfoUser(current): UserInfoUser) -> Result<Response, ApiError> {
    let granted = current.scope();
    if !granted.contains(scope::OPENID) {
        return Err(ApiError::InsufficientScope {
            scope: scope::OPENID,
            detail: "The access token was not issued with the openid scope.".into(),
        });
    }
    let user = current.user;
    let profile = granted.contains(scope::PROFILE);
    let email = granted.contains(scope::EMAIL);
    let info = UserInfo {
        sub: user.id.to_string(),
        name: if profile { user.name.clone() } else { None },
        preferred_username: profile.then(|| user.username.clone()),
        email: email.then(|| user.email.clone()),
        email_verified: email.then_some(user.email_verified_at.is_some()),
        // The token's roles are current: any role change ends its session.
        roles: granted
            .contains(scope::ROLES)
            .then(|| current.access.claims.roles.clone().unwrap_or_default()),
    };
    let mut response = Json(info).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
