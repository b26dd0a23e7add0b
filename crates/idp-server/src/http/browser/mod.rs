//! The browser-facing endpoints: `/auth/authorize` with its login and
//! consent pages, and `/auth/logout`. Server-rendered HTML, no external
//! assets, no JavaScript.

pub(super) mod authorize;
mod cookies;
pub(super) mod email;
mod html;
pub(super) mod logout;
mod pages;
pub(super) mod recovery;

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
        .route("/auth/email/verification/resend", post(email::resend))
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

/// For routes that serve both the JSON API and a page's form: errors
/// raised outside the handler (the rate limit, the body limit) become pages
/// for a browser — a GET, or a POST that accepts HTML, as a form
/// submission does — and stay problem documents for API clients.
pub async fn pages_for_form_errors(request: Request, next: Next) -> Response {
    let accepts_html = request
        .headers()
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    let browser = request.method() == axum::http::Method::GET || accepts_html;
    let response = next.run(request).await;
    if !browser {
        return response;
    }
    layers::replace_foreign_error(
        response,
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
