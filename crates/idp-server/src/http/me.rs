//! `/auth/me` and `/auth/userinfo`: who the bearer of a token is.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idp_core::scope;
use idp_store::repo::{roles, users};
use serde::Serialize;

use super::auth::CurrentUser;
use super::error::ApiError;
use super::extract::Json;
use crate::state::AppState;
use axum::extract::State;

/// The authenticated user, as the original service's `/auth/me` returned it,
/// plus permissions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub roles: Vec<String>,
    /// Every permission the user's roles grant (`Admin` grants all).
    pub permissions: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// The current user, with roles and permissions.
#[utoipa::path(
    method(get, post),
    path = "/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, description = "Missing or invalid access token"))
)]
pub async fn me(State(state): State<AppState>, current: CurrentUser) -> Result<Json<Me>, ApiError> {
    let user = current.user;
    let user_roles = users::roles_of(state.db.pool(), user.id).await?;
    let permissions = roles::permissions_of(state.db.pool(), user.id, &user_roles).await?;
    Ok(Json(Me {
        id: user.id.to_string(),
        username: user.username,
        email: user.email,
        name: user.name,
        email_verified: user.email_verified_at.is_some(),
        roles: user_roles,
        permissions,
        created_at: user.created_at.to_rfc3339(),
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
        (status = 200, body = UserInfo),
        (status = 401, description = "Missing or invalid access token"),
        (status = 403, description = "The token lacks the openid scope")
    )
)]
pub async fn userinfo(current: CurrentUser) -> Response {
    let granted = scope::Scope::parse(&current.access.claims.scope).unwrap_or_default();
    if !granted.contains(scope::OPENID) {
        let mut response = super::error::problem_response(
            StatusCode::FORBIDDEN,
            "The access token was not issued with the openid scope.".into(),
            Vec::new(),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="insufficient_scope", scope="openid""#),
        );
        return response;
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
    response
}
