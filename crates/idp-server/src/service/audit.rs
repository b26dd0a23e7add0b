//! Writing audit events: a row in the same transaction as the change, and a
//! structured log line (target `audit`) once that transaction committed.

use idp_core::audit::AuditEvent;
use idp_store::repo::audit_events;
use idp_store::{StoreError, Transaction};

/// Inserts the events inside the caller's transaction.
pub async fn write(tx: &mut Transaction, events: &[AuditEvent]) -> Result<(), StoreError> {
    for event in events {
        audit_events::insert(tx, event).await?;
    }
    Ok(())
}

/// Logs the events; call after the transaction committed. Their text comes
/// partly from requests (a login name, a client id), so it is escaped to
/// stay on one line (`log_text`); the stored row keeps it as it was.
pub fn emit(events: &[AuditEvent]) {
    use idp_core::log_text::{escape, json};
    for e in events {
        tracing::info!(
            target: "audit",
            event = %e.kind,
            outcome = e.outcome.as_str(),
            actor = e.actor_id.as_deref().map(escape).as_deref(),
            subject = e.subject_id.as_deref().map(escape).as_deref(),
            client = e.client_id.as_deref().map(escape).as_deref(),
            ip = e.ip.as_deref().map(escape).as_deref(),
            details = %json(&e.details),
            "audit"
        );
    }
}

/// Writes events that are not part of a larger change, in their own
/// transaction (failed logins, for instance).
pub async fn record(db: &idp_store::Db, events: &[AuditEvent]) -> Result<(), StoreError> {
    let mut tx = db.write().await?;
    write(&mut tx, events).await?;
    tx.commit().await?;
    emit(events);
    Ok(())
}
