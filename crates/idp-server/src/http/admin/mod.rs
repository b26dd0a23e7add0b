//! `/admin/*`: the administration REST API. Every route names the
//! permission (or role) it needs in its handler's signature.

pub(super) mod audit;
pub(super) mod clients;
pub(super) mod dashboard;
pub(super) mod keys;
pub(super) mod permissions;
pub(super) mod roles;
pub(super) mod users;

use axum::Router;
use axum::routing::{get, post, put};

use crate::state::AppState;

/// The admin routes (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/dashboard", get(dashboard::dashboard))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}", get(users::get).patch(users::update).delete(users::delete))
        .route("/admin/users/{id}/roles", put(users::set_roles))
        .route("/admin/users/{id}/password-reset", post(users::send_password_reset))
        .route("/admin/users/{id}/sessions", get(users::sessions))
        .route("/admin/users/{id}/sessions/{session_id}", axum::routing::delete(users::end_session))
        .route("/admin/roles", get(roles::list).post(roles::create))
        .route("/admin/roles/{id}", get(roles::get).delete(roles::delete))
        .route("/admin/roles/{id}/permissions", put(roles::set_permissions))
        .route("/admin/permissions", get(permissions::list).post(permissions::create))
        .route("/admin/permissions/{id}", get(permissions::get).delete(permissions::delete))
        .route("/admin/clients", get(clients::list).post(clients::create))
        .route(
            "/admin/clients/{id}",
            get(clients::get).patch(clients::update).delete(clients::delete),
        )
        .route("/admin/clients/{id}/secret", post(clients::reset_secret))
        .route("/admin/audit", get(audit::list))
        .route("/admin/keys", get(keys::list))
        .route("/admin/keys/rotate", post(keys::rotate))
}
