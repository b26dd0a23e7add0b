//! The browser-facing endpoints: `/auth/authorize` with its login and
//! consent pages, and `/auth/logout`. Server-rendered HTML, no external
//! assets.

use axum::Router;

use crate::state::AppState;

/// The browser routes (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
}
