//! `audit_events`: append-only.

use idp_core::audit::AuditEvent;
use sqlx::any::AnyExecutor;

use crate::StoreError;

const INSERT: &str = "INSERT INTO audit_events \
    (id, version, occurred_at, event, outcome, actor_id, subject_id, client_id, ip, user_agent, details) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Writes one event; call it inside the transaction of the change it records.
pub async fn insert<'e>(db: impl AnyExecutor<'e>, event: &AuditEvent) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(event.id.to_string())
        .bind(event.version)
        .bind(event.occurred_at.as_secs())
        .bind(&event.kind)
        .bind(event.outcome.as_str())
        .bind(event.actor_id.as_deref())
        .bind(event.subject_id.as_deref())
        .bind(event.client_id.as_deref())
        .bind(event.ip.as_deref())
        .bind(event.user_agent.as_deref())
        .bind(event.details.to_string())
        .execute(db)
        .await?;
    Ok(())
}

const DELETE_OLDER_THAN: &str = "DELETE FROM audit_events WHERE id IN \
    (SELECT id FROM audit_events WHERE occurred_at < $1 LIMIT $2)";

/// Deletes up to `limit` events that occurred before `cutoff`.
pub async fn delete_older_than<'e>(
    db: impl AnyExecutor<'e>,
    cutoff: idp_core::clock::UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done =
        sqlx::query(DELETE_OLDER_THAN).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}
