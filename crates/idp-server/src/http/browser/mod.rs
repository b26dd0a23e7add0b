//! The browser-facing endpoints: `/auth/authorize` with its login and
//! consent pages, and `/auth/logout`. Server-rendered HTML, no external
//! assets, no JavaScript.

pub(super) mod authorize;
mod cookies;
mod html;
pub(super) mod logout;
mod pages;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::routing::{get, post};

use crate::service::rate_limit::Bucket;
use crate::state::AppState;

pub use html::error_page;

/// The browser routes (merged into the main router). Login attempts are
/// rate limited per client IP; showing the pages is not. Errors raised
/// before a handler runs (an oversized body) become pages too.
pub fn routes(state: &AppState) -> Router<AppState> {
    let limited = middleware::from_fn_with_state(
        state.clone(),
        |State(s): State<AppState>, req: Request, next: Next| {
            crate::http::layers::rate_limit(s, Bucket::Login, req, next)
        },
    );
    Router::new()
        .route(
            "/auth/authorize",
            get(authorize::authorize).merge(post(authorize::login).route_layer(limited)),
        )
        .route("/auth/authorize/consent", post(authorize::consent))
        .route("/auth/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/favicon.ico", get(favicon))
        .layer(middleware::from_fn(crate::http::layers::page_for_bare_errors))
}

/// Browsers fetch `/favicon.ico` with every page; an empty, cacheable answer
/// keeps that from showing up as a failed load in their consoles.
async fn favicon() -> impl axum::response::IntoResponse {
    (
        axum::http::StatusCode::NO_CONTENT,
        [(axum::http::header::CACHE_CONTROL, "public, max-age=604800")],
    )
}
