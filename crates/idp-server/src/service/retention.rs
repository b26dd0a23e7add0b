//! Bounded storage: expired and consumed refresh tokens, ended sessions,
//! expired authorization codes, ended browser sign-ins, revoked-token
//! entries, old rate-limit windows, stale lockout counters, expired mail
//! links and finished outbox jobs are deleted
//! in small batches by a background task, so that tables do not grow
//! without bound under steady load. Audit events are kept longer
//! (`AUDIT_RETENTION_DAYS`).
//!
//! Every node runs the task, but a sweep runs only on the node holding
//! [`SWEEP_LOCK`] (a PostgreSQL advisory lock, taken without waiting): the
//! others skip that round, so no two nodes go over the same rows.

use std::time::Duration;

use idp_core::clock::UnixTime;
use idp_store::StoreError;
use idp_store::repo::{
    audit_events, authorization_codes, browser_sessions, email_tokens, login_failures, outbox,
    rate_limits, refresh_tokens, revoked_access_tokens, sessions,
};

use crate::state::AppState;

/// The advisory lock a sweep holds across nodes.
pub const SWEEP_LOCK: i64 = 0x6964_7000_7377_6570; // "idp\0swep"

/// Rows deleted per statement: small enough that a sweep never holds the
/// SQLite write lock for long.
const BATCH: i64 = 500;
/// At most this many batches per table per sweep; the rest waits for the
/// next one.
const MAX_BATCHES: usize = 100;

/// Grace kept past a refresh token's expiry (a replay just after expiry is
/// still recognised as reuse).
const REFRESH_TOKEN_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Grace kept past an authorization code's expiry: a replayed code is
/// recognised (and what it issued revoked) for this long.
const AUTHORIZATION_CODE_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Rate-limit windows are one minute; keep one spare.
const RATE_WINDOW_KEEP: Duration = Duration::from_secs(120);
/// Mail links are kept a day past their expiry: the per-address hourly
/// limit counts them, and a late click is told "expired" rather than
/// "unknown".
const EMAIL_TOKEN_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Lockout counters untouched this long are forgotten anyway.
const LOGIN_FAILURES_KEEP: Duration = Duration::from_secs(24 * 3600);

/// How many rows one sweep deleted, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    pub refresh_tokens: u64,
    pub sessions: u64,
    pub authorization_codes: u64,
    pub browser_sessions: u64,
    pub revoked_access_tokens: u64,
    pub rate_limit_buckets: u64,
    pub login_failures: u64,
    pub email_tokens: u64,
    pub outbox: u64,
    pub audit_events: u64,
}

impl Swept {
    pub fn total(&self) -> u64 {
        self.refresh_tokens
            + self.sessions
            + self.authorization_codes
            + self.browser_sessions
            + self.revoked_access_tokens
            + self.rate_limit_buckets
            + self.login_failures
            + self.email_tokens
            + self.outbox
            + self.audit_events
    }
}

/// One pass over every table, or `None` when another node is sweeping.
pub async fn sweep(state: &AppState) -> Result<Option<Swept>, StoreError> {
    let Some(exclusive) = state.db.try_exclusive(SWEEP_LOCK).await? else {
        return Ok(None);
    };
    let swept = sweep_tables(state).await?;
    exclusive.release().await?;
    Ok(Some(swept))
}

/// Deletes with `$delete(tx, $cutoff, BATCH)` in batches of [`BATCH`] rows,
/// each its own write transaction (so a sweep never holds the writer long),
/// until a batch comes back short or [`MAX_BATCHES`] ran; the total deleted.
macro_rules! in_batches {
    ($db:expr, $delete:path, $cutoff:expr) => {{
        let mut total: u64 = 0;
        for _ in 0..MAX_BATCHES {
            let mut tx = $db.write().await?;
            let n = $delete(&mut tx, $cutoff, BATCH).await?;
            tx.commit().await?;
            total += n;
            if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
                break;
            }
        }
        total
    }};
}

async fn sweep_tables(state: &AppState) -> Result<Swept, StoreError> {
    let now = state.now();
    let settings = &state.settings;
    let db = &state.db;
    let retention = settings.session_retention;
    let mut swept = Swept {
        refresh_tokens: in_batches!(db, refresh_tokens::delete_expired, now - REFRESH_TOKEN_GRACE),
        sessions: in_batches!(db, sessions::delete_ended, now - retention),
        authorization_codes: in_batches!(
            db,
            authorization_codes::delete_expired,
            now - AUTHORIZATION_CODE_GRACE
        ),
        browser_sessions: in_batches!(db, browser_sessions::delete_ended, now - retention),
        revoked_access_tokens: in_batches!(db, revoked_access_tokens::delete_expired, now),
        rate_limit_buckets: in_batches!(db, rate_limits::delete_old, now - RATE_WINDOW_KEEP),
        login_failures: in_batches!(db, login_failures::delete_stale, now - LOGIN_FAILURES_KEEP),
        email_tokens: in_batches!(db, email_tokens::delete_expired, now - EMAIL_TOKEN_GRACE),
        // Sent and given-up jobs (their payloads already erased) are kept
        // as long as ended sessions, for an administrator to look into.
        outbox: in_batches!(db, outbox::delete_finished, now - retention),
        audit_events: 0,
    };
    if let Some(keep) = settings.audit_retention {
        let cutoff: UnixTime = now - keep;
        swept.audit_events = in_batches!(db, audit_events::delete_older_than, cutoff);
    }
    Ok(swept)
}

/// Sweeps every `CLEANUP_INTERVAL_SECONDS` until the database pool closes.
pub fn spawn(state: AppState) {
    let Some(interval) = state.settings.cleanup_interval else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if state.db.read().is_closed() {
                break;
            }
            match sweep(&state).await {
                Ok(Some(swept)) if swept.total() > 0 => {
                    tracing::info!(?swept, "expired rows deleted")
                }
                Ok(Some(_)) => {}
                Ok(None) => tracing::debug!("another node is sweeping; skipped"),
                Err(err) => tracing::warn!(error = %err, "cleanup failed; will retry"),
            }
        }
    });
}
