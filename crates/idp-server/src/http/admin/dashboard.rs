use serde::Serialize;

use crate::http::authz::{AdminRole, Require};
use crate::http::extract::Json;
use crate::http::openapi::responses::GuardedErrors;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub message: &'static str,
    pub username: String,
}

/// Admin-only, as in the original service.
#[utoipa::path(
    get,
    path = "/admin/dashboard",
    tag = "admin",
    security(("bearer" = [])),
    responses((status = 200, body = Dashboard), GuardedErrors)
)]
pub async fn dashboard(Require(admin, ..): Require<AdminRole>) -> Json<Dashboard> {
    Json(Dashboard { message: "Welcome, Admin! Access granted.", username: admin.user.username })
}
