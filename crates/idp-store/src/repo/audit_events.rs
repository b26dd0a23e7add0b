//! `audit_events`: append-only.

use idp_core::audit::AuditEvent;
use sqlx::AnyConnection;
use sqlx::any::{Any, AnyArguments, AnyExecutor};
use sqlx::query::Query;

use crate::StoreError;

const INSERT: &str = "INSERT INTO audit_events \
    (id, version, occurred_at, event, outcome, actor_id, subject_id, client_id, ip, user_agent, details) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Writes one event; call it inside the transaction of the change it records.
pub async fn insert(db: &mut AnyConnection, event: &AuditEvent) -> Result<(), StoreError> {
    bind(sqlx::query(INSERT), event).execute(db).await?;
    Ok(())
}

/// Binds an event's eleven columns, in `INSERT`'s order, after whatever
/// `query` already has (statements that record their change's event in the
/// same round trip use this too).
pub(crate) fn bind<'q>(
    query: Query<'q, Any, AnyArguments>,
    event: &AuditEvent,
) -> Query<'q, Any, AnyArguments> {
    query
        .bind(event.id.to_string())
        .bind(event.version)
        .bind(event.occurred_at.as_secs())
        .bind(event.kind.clone())
        .bind(event.outcome.as_str())
        .bind(event.actor_id.clone())
        .bind(event.subject_id.clone())
        .bind(event.client_id.clone())
        .bind(event.ip.clone())
        .bind(event.user_agent.clone())
        .bind(event.details.to_string())
}

const DELETE_OLDER_THAN: &str = "DELETE FROM audit_events WHERE id IN \
    (SELECT id FROM audit_events WHERE occurred_at < $1 LIMIT $2)";

/// Deletes up to `limit` events that occurred before `cutoff`.
pub async fn delete_older_than(
    db: &mut AnyConnection,
    cutoff: idp_core::clock::UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done =
        sqlx::query(DELETE_OLDER_THAN).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Which events to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Events whose actor or subject is this id.
    pub user: Option<String>,
    /// Events of this kind (`login.failed`, …).
    pub event: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    version: i64,
    occurred_at: i64,
    event: String,
    outcome: String,
    actor_id: Option<String>,
    subject_id: Option<String>,
    client_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: String,
}

impl TryFrom<Row> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(AuditEvent {
            id: super::parse_id("audit_events.id", &r.id)?,
            version: r.version,
            occurred_at: super::time(r.occurred_at),
            kind: r.event,
            outcome: if r.outcome == "success" {
                idp_core::audit::Outcome::Success
            } else {
                idp_core::audit::Outcome::Failure
            },
            actor_id: r.actor_id,
            subject_id: r.subject_id,
            client_id: r.client_id,
            ip: r.ip,
            user_agent: r.user_agent,
            details: serde_json::from_str(&r.details).unwrap_or_default(),
        })
    }
}

const LIST: &str = "SELECT id, version, occurred_at, event, outcome, actor_id, subject_id, client_id, ip, \
    user_agent, details FROM audit_events \
    WHERE ($1 = '' OR actor_id = $1 OR subject_id = $1) AND ($2 = '' OR event = $2) \
    ORDER BY occurred_at DESC, id DESC LIMIT $3 OFFSET $4";
const COUNT: &str = "SELECT COUNT(*) FROM audit_events \
    WHERE ($1 = '' OR actor_id = $1 OR subject_id = $1) AND ($2 = '' OR event = $2)";

/// One page of events, newest first, and the total matching the filter.
pub async fn list<'e, E: AnyExecutor<'e> + Copy>(
    db: E,
    filter: &Filter,
    skip: i64,
    limit: i64,
) -> Result<(Vec<AuditEvent>, i64), StoreError> {
    let user = filter.user.as_deref().unwrap_or_default();
    let event = filter.event.as_deref().unwrap_or_default();
    let rows: Vec<Row> =
        sqlx::query_as(LIST).bind(user).bind(event).bind(limit).bind(skip).fetch_all(db).await?;
    let (total,): (i64,) = sqlx::query_as(COUNT).bind(user).bind(event).fetch_one(db).await?;
    Ok((rows.into_iter().map(AuditEvent::try_from).collect::<Result<_, _>>()?, total))
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[INSERT, DELETE_OLDER_THAN, LIST, COUNT];
