//! The HTTP surface: routes, and the layers every request passes through.

mod account;
mod admin;
mod auth;
pub mod authz;
pub mod browser;
mod client_ip;
mod email;
pub mod error;
pub mod extract;
mod health;
mod introspect;
pub mod layers;
mod me;
pub mod openapi;
pub(crate) mod recovery;
mod register;
mod revoke;
mod token;
pub mod views;
pub mod well_known;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use tower_http::set_header::SetResponseHeaderLayer as Set;

use crate::service::rate_limit::Bucket;
use crate::state::AppState;
use error::problem_response;

/// Every route of the server, with its layers.
pub fn router(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    let hsts = state.settings.issuer.starts_with("https://").then(|| {
        Set::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    let limited = |bucket: Bucket| {
        middleware::from_fn_with_state(
            state.clone(),
            move |State(s): State<AppState>, req: Request, next: Next| {
                layers::rate_limit(s, bucket, req, next)
            },
        )
    };
    let metrics = match state.settings.metrics_bind {
        None => Router::new().route("/metrics", get(health::metrics)),
        Some(_) => Router::new(),
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(metrics)
        .route("/auth/register", post(register::register).route_layer(limited(Bucket::Register)))
        .route("/auth/token", post(token::token).route_layer(limited(Bucket::Token)))
        .route("/auth/token/refresh", post(token::refresh).route_layer(limited(Bucket::Token)))
        .route("/auth/revoke", post(revoke::revoke))
        .route("/auth/introspect", post(introspect::introspect))
        .route("/auth/me", get(me::me).post(me::me))
        .route("/auth/userinfo", get(me::userinfo).post(me::userinfo))
        .route(
            "/auth/password",
            post(account::change_password).route_layer(limited(Bucket::Password)),
        )
        .route(
            "/auth/password/forgot",
            get(browser::recovery::forgot_page)
                .merge(post(recovery::forgot).route_layer(limited(Bucket::Mail)))
                .layer(middleware::from_fn(browser::pages_for_form_errors)),
        )
        .route(
            "/auth/password/reset",
            get(browser::recovery::reset_page)
                .merge(post(recovery::reset).route_layer(limited(Bucket::Password)))
                .layer(middleware::from_fn(browser::pages_for_form_errors)),
        )
        .route(
            "/auth/email/verify",
            get(browser::email::verify_page)
                .merge(post(email::verify).route_layer(limited(Bucket::Password)))
                .layer(middleware::from_fn(browser::pages_for_form_errors)),
        )
        .route(
            "/auth/email/verification",
            post(email::resend_verification).route_layer(limited(Bucket::Mail)),
        )
        .route("/auth/email/change", post(email::change).route_layer(limited(Bucket::Mail)))
        .route("/auth/sessions", get(account::list_sessions))
        .route("/auth/sessions/{id}", axum::routing::delete(account::end_session))
        .route("/.well-known/openid-configuration", get(well_known::openid_configuration))
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .merge(admin::routes())
        .merge(openapi::routes())
        .merge(browser::routes(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(layers::BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(move |req, next| layers::timeout(timeout, req, next)))
        .layer(middleware::from_fn(layers::problem_for_bare_errors))
        // Headers every response carries. Pages that need another CSP (the
        // HTML pages, Swagger UI) set their own; this is the default.
        .layer(Set::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(Set::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(Set::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(Set::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(tower::util::option_layer(hsts))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            |State(s): State<AppState>, req: Request, next: Next| {
                layers::request_span(s, req, next)
            },
        ))
        .with_state(state)
}

/// `/metrics` alone, for the `METRICS_BIND` listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .layer(Set::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
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
