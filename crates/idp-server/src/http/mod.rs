//! The HTTP surface: routes, and the layers every request passes through.

pub mod error;
mod health;
mod layers;
pub mod oauth_error;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::get;

use crate::state::AppState;
use error::problem_response;

/// Every route of the server, with its layers.
pub fn router(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
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
