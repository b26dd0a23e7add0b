//! `/admin/users`

use axum::extract::State;
use axum::http::StatusCode;
use idp_core::SecretString;
use idp_core::ids::{SessionId, UserId};
use serde::Deserialize;

use crate::http::authz::{Require, RolesWrite, SessionsRead, SessionsWrite, UsersRead, UsersWrite};
use crate::http::error::ApiError;
use crate::http::extract::{Json, Origin, Path, Query};
use crate::http::openapi::responses::{
    BadRequest, Conflict, GuardedErrors, JsonBodyErrors, NotFound, Unprocessable,
};
use crate::http::views::{Page, SessionOut, UserOut};
use crate::service::admin::Actor;
use crate::service::users::{self, ProfileChange};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UserQuery {
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Items to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Only usernames containing this (case-insensitive).
    pub username: Option<String>,
}

/// Users, newest first.
#[utoipa::path(get, path = "/admin/users", operation_id = "list_users", tag = "admin", security(("bearer" = [])), params(UserQuery),
    responses((status = 200, body = Page<UserOut>), GuardedErrors, (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable)))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<UsersRead>,
    Query(q): Query<UserQuery>,
) -> Result<Json<Page<UserOut>>, ApiError> {
    let (skip, limit) = crate::http::extract::Paging { skip: q.skip, limit: q.limit }.checked()?;
    let search = q.username.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (items, total) = users::list(&state, search, skip, limit).await?;
    Ok(Json(Page { items: items.into_iter().map(|(u, r)| UserOut::of(&u, r)).collect(), total }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
    pub name: Option<String>,
    /// Role names; default `["User"]`.
    pub roles: Option<Vec<String>>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Creates a user (with a password the admin chooses).
#[utoipa::path(post, path = "/admin/users", operation_id = "create_user", tag = "admin", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserOut), GuardedErrors, JsonBodyErrors, (status = 409, response = Conflict)))]
pub async fn create(
    State(state): State<AppState>,
    Require(admin, ..): Require<UsersWrite>,
    Origin(origin): Origin,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let actor = Actor::user(admin.user.id, origin);
    let roles =
        body.roles.unwrap_or_else(|| vec![idp_store::repo::roles::DEFAULT_USER_ROLE.to_owned()]);
    let name = body.name.filter(|n| !n.trim().is_empty());
    let (user, roles) = users::create(
        &state,
        &actor,
        body.username,
        body.email,
        SecretString::from(body.password),
        name,
        &roles,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserOut::of(&user, roles))))
}

#[utoipa::path(get, path = "/admin/users/{id}", operation_id = "get_user", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserOut), GuardedErrors, (status = 404, response = NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    _: Require<UsersRead>,
    Path(id): Path<UserId>,
) -> Result<Json<UserOut>, ApiError> {
    let (user, roles) = users::get(&state, id).await?;
    Ok(Json(UserOut::of(&user, roles)))
}

/// `PATCH` body: fields present are changed. `"name": null` clears the name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub name: Option<Option<String>>,
    pub email: Option<String>,
    /// Disabling ends every session of the user.
    pub disabled: Option<bool>,
}

/// Tells `"name": null` (clear it) from an absent `name` (keep it).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Changes a user's name, email or disabled flag; a taken email, or
/// disabling the last enabled administrator, is 409.
#[utoipa::path(patch, path = "/admin/users/{id}", operation_id = "update_user", tag = "admin", security(("bearer" = [])), request_body = UpdateUser,
    params(("id" = String, Path)),
    responses((status = 200, body = UserOut), GuardedErrors, JsonBodyErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
pub async fn update(
    State(state): State<AppState>,
    Require(admin, ..): Require<UsersWrite>,
    Origin(origin): Origin,
    Path(id): Path<UserId>,
    Json(body): Json<UpdateUser>,
) -> Result<Json<UserOut>, ApiError> {
    let actor = Actor::user(admin.user.id, origin);
    let change = ProfileChange { name: body.name, email: body.email, disabled: body.disabled };
    let (user, roles) = users::update(&state, &actor, id, change).await?;
    Ok(Json(UserOut::of(&user, roles)))
}

/// Deletes a user and its sessions; the last enabled administrator cannot
/// be deleted (409).
#[utoipa::path(delete, path = "/admin/users/{id}", operation_id = "delete_user", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), GuardedErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
pub async fn delete(
    State(state): State<AppState>,
    Require(admin, ..): Require<UsersWrite>,
    Origin(origin): Origin,
    Path(id): Path<UserId>,
) -> Result<StatusCode, ApiError> {
    users::delete(&state, &Actor::user(admin.user.id, origin), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// Role names; replaces the user's roles. Any change ends the user's sessions.
    pub roles: Vec<String>,
}

/// Replaces a user's roles (ending its sessions); taking `Admin` from the
/// last enabled administrator is 409.
#[utoipa::path(put, path = "/admin/users/{id}/roles", operation_id = "set_user_roles", tag = "admin", security(("bearer" = [])), request_body = SetRoles,
    params(("id" = String, Path)),
    responses((status = 200, body = UserOut), GuardedErrors, JsonBodyErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
pub async fn set_roles(
    State(state): State<AppState>,
    Require(admin, ..): Require<RolesWrite>,
    Origin(origin): Origin,
    Path(id): Path<UserId>,
    Json(body): Json<SetRoles>,
) -> Result<Json<UserOut>, ApiError> {
    let (user, roles) =
        users::set_roles(&state, &Actor::user(admin.user.id, origin), id, &body.roles).await?;
    Ok(Json(UserOut::of(&user, roles)))
}

/// The user's sessions, live and recently ended.
#[utoipa::path(get, path = "/admin/users/{id}/sessions", operation_id = "list_user_sessions", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = [SessionOut]), GuardedErrors, (status = 404, response = NotFound)))]
pub async fn sessions(
    State(state): State<AppState>,
    _: Require<SessionsRead>,
    Path(id): Path<UserId>,
) -> Result<Json<Vec<SessionOut>>, ApiError> {
    let sessions = users::sessions_of(&state, id, false).await?;
    Ok(Json(sessions.iter().map(|s| SessionOut::of(s, None)).collect()))
}

#[utoipa::path(delete, path = "/admin/users/{id}/sessions/{session_id}", operation_id = "end_user_session", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("session_id" = String, Path)),
    responses((status = 204, description = "Ended"), GuardedErrors, (status = 404, response = NotFound)))]
pub async fn end_session(
    State(state): State<AppState>,
    Require(admin, ..): Require<SessionsWrite>,
    Origin(origin): Origin,
    Path((id, session_id)): Path<(UserId, SessionId)>,
) -> Result<StatusCode, ApiError> {
    users::end_session(&state, &Actor::user(admin.user.id, origin), id, session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends the user a link to choose a new password (mail must be on). No
/// hourly limit applies: an administrator asked. A disabled user is 409.
#[utoipa::path(post, path = "/admin/users/{id}/password-reset", operation_id = "send_user_password_reset", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 202, body = crate::http::recovery::Accepted), GuardedErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 503, response = crate::http::openapi::responses::Unavailable)))]
pub async fn send_password_reset(
    State(state): State<AppState>,
    Require(admin, ..): Require<UsersWrite>,
    Origin(origin): Origin,
    Path(id): Path<UserId>,
) -> Result<(StatusCode, Json<crate::http::recovery::Accepted>), ApiError> {
    crate::service::recovery::send_reset_by_admin(&state, &Actor::user(admin.user.id, origin), id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(crate::http::recovery::Accepted {
            detail: "A link to choose a new password is on its way to the user's address.",
        }),
    ))
}
