//! `/admin/permissions`

use axum::extract::State;
use axum::http::StatusCode;
use idp_core::ids::PermissionId;
use idp_store::repo::permissions::Permission;
use serde::{Deserialize, Serialize};

use crate::http::authz::{PermissionsRead, PermissionsWrite, Require};
use crate::http::error::ApiError;
use crate::http::extract::{Json, Origin, Path};
use crate::http::openapi::responses::{Conflict, GuardedErrors, JsonBodyErrors, NotFound};
use crate::service::admin::Actor;
use crate::service::roles;
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    /// `resource:action`.
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
}

fn out(p: Permission) -> PermissionOut {
    PermissionOut {
        id: p.id.to_string(),
        name: p.name,
        description: p.description,
        created_at: p.created_at.to_rfc3339(),
    }
}

#[utoipa::path(get, path = "/admin/permissions", operation_id = "list_permissions", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [PermissionOut]), GuardedErrors))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<PermissionsRead>,
) -> Result<Json<Vec<PermissionOut>>, ApiError> {
    Ok(Json(roles::list_permissions(&state).await?.into_iter().map(out).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePermission {
    /// `resource:action`, lower case.
    pub name: String,
    pub description: Option<String>,
}

#[utoipa::path(post, path = "/admin/permissions", operation_id = "create_permission", tag = "admin", security(("bearer" = [])),
    request_body = CreatePermission,
    responses((status = 201, body = PermissionOut), GuardedErrors, JsonBodyErrors, (status = 409, response = Conflict)))]
pub async fn create(
    State(state): State<AppState>,
    Require(admin, ..): Require<PermissionsWrite>,
    Origin(origin): Origin,
    Json(body): Json<CreatePermission>,
) -> Result<(StatusCode, Json<PermissionOut>), ApiError> {
    let created = roles::create_permission(
        &state,
        &Actor::user(admin.user.id, origin),
        body.name,
        body.description,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out(created))))
}

#[utoipa::path(get, path = "/admin/permissions/{id}", operation_id = "get_permission", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PermissionOut), GuardedErrors, (status = 404, response = NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    _: Require<PermissionsRead>,
    Path(id): Path<PermissionId>,
) -> Result<Json<PermissionOut>, ApiError> {
    Ok(Json(out(roles::get_permission(&state, id).await?)))
}

#[utoipa::path(delete, path = "/admin/permissions/{id}", operation_id = "delete_permission", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), GuardedErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
pub async fn delete(
    State(state): State<AppState>,
    Require(admin, ..): Require<PermissionsWrite>,
    Origin(origin): Origin,
    Path(id): Path<PermissionId>,
) -> Result<StatusCode, ApiError> {
    roles::delete_permission(&state, &Actor::user(admin.user.id, origin), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
