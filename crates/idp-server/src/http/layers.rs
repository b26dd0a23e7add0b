//! Cross-cutting HTTP behaviour: request ids, request logging, timeouts,
//! body limits, and making sure every error response speaks our format.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use super::error::problem_response;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::service::rate_limit::{self, Bucket};
use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// Largest request body any endpoint accepts.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Gives the request an id (or keeps a sane one the caller sent), runs it in
/// a span that carries the id, and logs one line when it completes. Only the
/// path is logged, never the query string: OAuth puts codes and state there.
pub async fn request_span(state: AppState, mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let path: String = request.uri().path().chars().take(200).collect();
    // The route pattern keeps metric labels bounded; unmatched paths share one.
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!("request", id = %id, method = %method, path = %path);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    let latency_ms = elapsed * 1e3;
    let route =
        route.or_else(|| response.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()));
    state.metrics.request(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        status,
        elapsed,
    );
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms, "request completed");
        } else {
            tracing::info!(status, latency_ms, "request completed");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Bounds how long a handler may take; a request past the bound gets 503 so
/// that a hung dependency cannot pile up connections forever.
pub async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(limit_secs = limit.as_secs(), "request timed out");
            let mut response = problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request took too long and was abandoned; try again.".into(),
                Vec::new(),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// Error responses produced outside our handlers (axum's extractor
/// rejections, the body-limit layer) come as plain text; give them our
/// problem body so that every 4xx/5xx looks the same to clients.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    replace_foreign_error(
        next.run(request).await,
        |content_type| {
            content_type.starts_with("application/") || content_type.starts_with("text/html")
        },
        |status, detail| problem_response(status, detail.into(), Vec::new()),
    )
    .await
}

/// Replaces an error response that is not in a surface's own format.
/// `is_ours` says which content types the surface speaks; `render` builds
/// the replacement from the status and a sentence saying what went wrong:
/// the `detail` of a problem or OAuth error body, or a plain-text body.
/// Headers the replacement does not set itself (`Retry-After`, `Allow`,
/// `Connection`) are kept.
pub async fn replace_foreign_error(
    response: Response,
    is_ours: impl FnOnce(&str) -> bool,
    render: impl FnOnce(StatusCode, String) -> Response,
) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if is_ours(&content_type) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let fallback = || status.canonical_reason().unwrap_or("Error").to_owned();
    let detail = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) if content_type.contains("json") => {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|body| body.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
                .unwrap_or_else(fallback)
        }
        // Plain-text rejections from axum explain the problem in a
        // sentence that never contains request data beyond field names;
        // keep it.
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => fallback(),
    };
    let mut replaced = render(status, detail);
    let own: Vec<header::HeaderName> = replaced.headers().keys().cloned().collect();
    for (name, value) in &parts.headers {
        let body_header = name == header::CONTENT_TYPE || name == header::CONTENT_LENGTH;
        if !body_header && !own.contains(name) {
            replaced.headers_mut().append(name.clone(), value.clone());
        }
    }
    replaced
}

/// Charges the request to its client IP's bucket; past the limit, answers
/// 429 with `Retry-After`: an OAuth error at the token endpoint, a problem
/// document elsewhere. A surface with a format of its own (the browser
/// pages) converts it with [`replace_foreign_error`].
pub async fn rate_limit(state: AppState, bucket: Bucket, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let ip = super::client_ip::client_ip(&parts, &state.settings.trusted_proxies);
    let request = Request::from_parts(parts, body);
    let Some(ip) = ip else { return next.run(request).await };
    match rate_limit::charge(&state, bucket, ip).await {
        Ok(Ok(())) => next.run(request).await,
        Ok(Err(limited)) => {
            let detail =
                format!("Too many requests; try again in {} seconds.", limited.retry_after_secs);
            if bucket == Bucket::Token {
                use axum::response::IntoResponse as _;
                OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, detail)
                    .too_many_requests(limited.retry_after_secs)
                    .into_response()
            } else {
                let mut response =
                    problem_response(StatusCode::TOO_MANY_REQUESTS, detail.into(), Vec::new());
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after_secs));
                response
            }
        }
        // Limiting must not turn a database blip into an outage of its own:
        // the request proceeds and meets the same database, which answers
        // for itself.
        Err(err) => {
            tracing::warn!(error = %err, "rate limit not checked");
            next.run(request).await
        }
    }
}
