//! `/admin/roles`

use axum::extract::State;
use axum::http::StatusCode;
use idp_core::ids::RoleId;
use serde::{Deserialize, Serialize};

use crate::http::authz::{Require, RolesRead, RolesWrite};
use crate::http::error::ApiError;
use crate::http::extract::{Json, Origin, Path};
use crate::http::openapi::responses::{Conflict, GuardedErrors, JsonBodyErrors, NotFound};
use crate::service::admin::Actor;
use crate::service::roles::{self, RoleWithPermissions};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// What the role grants (`Admin`: every permission).
    pub permissions: Vec<String>,
    pub created_at: String,
}

fn out((role, permissions): RoleWithPermissions) -> RoleOut {
    RoleOut {
        id: role.id.to_string(),
        name: role.name,
        description: role.description,
        permissions,
        created_at: role.created_at.to_rfc3339(),
    }
}

#[utoipa::path(get, path = "/admin/roles", operation_id = "list_roles", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [RoleOut]), GuardedErrors))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<RolesRead>,
) -> Result<Json<Vec<RoleOut>>, ApiError> {
    Ok(Json(roles::list_roles(&state).await?.into_iter().map(out).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    pub description: Option<String>,
}

#[utoipa::path(post, path = "/admin/roles", operation_id = "create_role", tag = "admin", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 201, body = RoleOut), GuardedErrors, JsonBodyErrors, (status = 409, response = Conflict)))]
pub async fn create(
    State(state): State<AppState>,
    Require(admin, ..): Require<RolesWrite>,
    Origin(origin): Origin,
    Json(body): Json<CreateRole>,
) -> Result<(StatusCode, Json<RoleOut>), ApiError> {
    let created = roles::create_role(
        &state,
        &Actor::user(admin.user.id, origin),
        body.name,
        body.description,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out(created))))
}

#[utoipa::path(get, path = "/admin/roles/{id}", operation_id = "get_role", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RoleOut), GuardedErrors, (status = 404, response = NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    _: Require<RolesRead>,
    Path(id): Path<RoleId>,
) -> Result<Json<RoleOut>, ApiError> {
    Ok(Json(out(roles::get_role(&state, id).await?)))
}

/// Deletes a role; its holders' sessions end. `Admin` and `User` cannot be deleted (409).
#[utoipa::path(delete, path = "/admin/roles/{id}", operation_id = "delete_role", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), GuardedErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
pub async fn delete(
    State(state): State<AppState>,
    Require(admin, ..): Require<RolesWrite>,
    Origin(origin): Origin,
    Path(id): Path<RoleId>,
) -> Result<StatusCode, ApiError> {
    roles::delete_role(&state, &Actor::user(admin.user.id, origin), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPermissions {
    /// Permission names; replaces what the role grants.
    pub permissions: Vec<String>,
}

#[utoipa::path(put, path = "/admin/roles/{id}/permissions", operation_id = "set_role_permissions", tag = "admin", security(("bearer" = [])),
    request_body = SetPermissions, params(("id" = String, Path)),
    responses((status = 200, body = RoleOut), GuardedErrors, JsonBodyErrors, (status = 404, response = NotFound)))]
pub async fn set_permissions(
    State(state): State<AppState>,
    Require(admin, ..): Require<RolesWrite>,
    Origin(origin): Origin,
    Path(id): Path<RoleId>,
    Json(body): Json<SetPermissions>,
) -> Result<Json<RoleOut>, ApiError> {
    let role = roles::set_role_permissions(
        &state,
        &Actor::user(admin.user.id, origin),
        id,
        &body.permissions,
    )
    .await?;
    Ok(Json(out(role)))
}
