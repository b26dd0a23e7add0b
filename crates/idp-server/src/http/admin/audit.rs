//! `/admin/audit`

use axum::extract::State;
use idp_core::audit::{AuditEvent, EventKind};
use idp_store::repo::audit_events::{self, Filter};
use serde::{Deserialize, Serialize};

use crate::http::authz::{AuditRead, Require};
use crate::http::error::{ApiError, FieldError};
use crate::http::extract::{Json, Paging, Query};
use crate::http::openapi::responses::{BadRequest, GuardedErrors, Unprocessable};
use crate::http::views::Page;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Items to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Events this user id did or was the subject of.
    pub user: Option<String>,
    /// One event name, e.g. `login.failed`.
    pub event: Option<String>,
}

/// One audit record (shape version 1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditOut {
    pub id: String,
    pub version: i64,
    pub occurred_at: String,
    pub event: String,
    /// `success` or `failure`.
    pub outcome: &'static str,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

fn out(e: AuditEvent) -> AuditOut {
    AuditOut {
        id: e.id.to_string(),
        version: e.version,
        occurred_at: e.occurred_at.to_rfc3339(),
        event: e.kind,
        outcome: e.outcome.as_str(),
        actor: e.actor_id,
        subject: e.subject_id,
        client_id: e.client_id,
        ip: e.ip,
        user_agent: e.user_agent,
        details: e.details,
    }
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/admin/audit", operation_id = "list_audit_events", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditOut>), GuardedErrors, (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable)))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<AuditRead>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Page<AuditOut>>, ApiError> {
    let (skip, limit) = Paging { skip: q.skip, limit: q.limit }.checked()?;
    if let Some(event) = &q.event
        && EventKind::parse(event).is_none()
    {
        return Err(ApiError::Validation(vec![FieldError::new("event", "unknown event name")]));
    }
    let filter = Filter { user: q.user.filter(|u| !u.is_empty()), event: q.event };
    let (items, total) = audit_events::list(state.db.read(), &filter, skip, limit).await?;
    Ok(Json(Page { items: items.into_iter().map(out).collect(), total }))
}
