//! The browser-facing endpoints: `/auth/authorize` with its login and
//! consent pages, and `/auth/logout`. Server-rendered HTML, no external
//! assets, no JavaScript.

pub(super) mod authorize;
mod cookies;
mod html;
pub(super) mod logout;
mod pages;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};

use crate::http::layers::{self, BODY_LIMIT_BYTES};
use crate::service::rate_limit::Bucket;
use crate::state::AppState;

pub use html::error_page;

/// The browser routes (merged into the main router). Login attempts are
/// rate limited per client IP; showing the pages is not. Errors raised
/// outside the handlers (an oversized body, the rate limit) become pages
/// too.
pub fn routes(state: &AppState) -> Router<AppState> {
    let login_limit = middleware::from_fn_with_state(
        state.clone(),
        |State(s): State<AppState>, req: Request, next: Next| limit_login_attempts(s, req, next),
    );
    Router::new()
        .route(
            "/auth/authorize",
            get(authorize::authorize)
                .merge(post(authorize::authorize_post).route_layer(login_limit)),
        )
        .route("/auth/authorize/consent", post(authorize::consent))
        .route("/auth/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/favicon.ico", get(favicon))
        .layer(middleware::from_fn(pages_for_errors))
}

/// Charges a login attempt to the client IP's login bucket. An
/// authorization request sent by POST is not charged: it only shows a page,
/// as the same request by GET does. Which of the two a POST is, its fields
/// say, so the body is read here and handed on.
async fn limit_login_attempts(state: AppState, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT_BYTES).await else {
        // What the handler's own extractor would answer; a page below.
        return (StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.").into_response();
    };
    let login = authorize::is_login_form(&body);
    let request = Request::from_parts(parts, Body::from(body));
    if login {
        layers::rate_limit(state, Bucket::Login, request, next).await
    } else {
        next.run(request).await
    }
}

/// Error responses that reach a browser route from outside its handlers
/// (axum's rejections, the body limit, the rate limiter's 429) come as
/// plain text or problem documents; a person gets a page instead, with the
/// same status and `Retry-After`.
async fn pages_for_errors(request: Request, next: Next) -> Response {
    layers::replace_foreign_error(
        next.run(request).await,
        |content_type| content_type.starts_with("text/html"),
        |status, detail| error_page(status, &detail),
    )
    .await
}

/// Browsers fetch `/favicon.ico` with every page; an empty, cacheable answer
/// keeps that from showing up as a failed load in their consoles.
async fn favicon() -> impl axum::response::IntoResponse {
    (StatusCode::NO_CONTENT, [(axum::http::header::CACHE_CONTROL, "public, max-age=604800")])
}
