//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` when every check passed, else `not_ready`.
    pub status: &'static str,
    /// `ok`, `unreachable`.
    pub database: &'static str,
    /// `ok`, `pending` (a migration has not been applied), `unknown`.
    pub migrations: &'static str,
}

/// Liveness: the process is up and serving HTTP. Never touches the database,
/// so a database outage does not get healthy nodes restarted.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "Not ready; or the checks took longer than `REQUEST_TIMEOUT_SECONDS`",
            content((Readiness = "application/json"), (super::error::Problem = "application/problem+json")))
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = match state.db.ping().await {
        Ok(()) => "ok",
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            "unreachable"
        }
    };
    let migrations = if database == "ok" {
        match idp_store::migrate::is_up_to_date(&state.db).await {
            Ok(true) => "ok",
            Ok(false) => "pending",
            Err(_) => "unknown",
        }
    } else {
        "unknown"
    };
    let ready = database == "ok" && migrations == "ok";
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(Readiness { status: if ready { "ready" } else { "not_ready" }, database, migrations }),
    )
}

/// Prometheus metrics (text exposition format). Restrict access to it at
/// the proxy if request counts are sensitive in your deployment.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format, or OpenMetrics for a scraper that asks for it",
        content((String = "text/plain"), (String = "application/openmetrics-text"))))
)]
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    // The text is OpenMetrics; scrapers that ask for it (Prometheus does)
    // are told so, and get counter and histogram types right.
    let openmetrics = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let content_type = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    let body = state.metrics.render(&crate::metrics::Gauges {
        hash_queue: state.hashing.queued(),
        hash_in_use: state.hashing.in_use(),
        db_size: state.db.size(),
        db_idle: state.db.idle(),
        db_max: state.db.max_connections(),
    });
    ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
}
