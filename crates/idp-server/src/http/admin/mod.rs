//! `/admin/*`: the administration REST API. Every route declares the
//! permission it needs.

use axum::Router;

use crate::state::AppState;

/// The admin routes (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
}
