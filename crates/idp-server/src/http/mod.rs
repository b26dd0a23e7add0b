//! The HTTP surface: routes, and the layers every request passes through.

mod admin;
mod auth;
mod browser;
pub mod error;
pub mod extract;
pub mod form;
mod health;
mod layers;
mod me;
pub mod oauth_error;
mod register;
mod revoke;
mod token;
pub mod well_known;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;
use error::problem_response;

/// Every route of the server, with its layers.
pub fn router(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/auth/register", post(register::register))
        .route("/auth/token", post(token::token))
        .route("/auth/token/refresh", post(token::refresh))
        .route("/auth/revoke", post(revoke::revoke))
        .route("/auth/me", get(me::me).post(me::me))
        .route("/auth/userinfo", get(me::userinfo).post(me::userinfo))
        .route("/.well-known/openid-configuration", get(well_known::openid_configuration))
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .merge(admin::routes())
        .merge(browser::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(layers::BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(move |req, next| layers::timeout(timeout, req, next)))
        .layer(middleware::from_fn(layers::problem_for_bare_errors))
        .layer(middleware::from_fn(layers::request_span))
        .with_state(state)
}

async fn not_found() -> Response {
    problem_response(StatusCode::NOT_FOUND, "There is no resource at this path.".into(), Vec::new())
}

async fn method_not_allowed() -> Response {
    problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "This resource does not support that method.".into(),
        Vec::new(),
    )
}
