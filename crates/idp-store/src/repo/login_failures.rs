//! `login_failures`: brute-force counters, shared by every node. The
//! `username` column holds the counter's key: `user:<id>` for a user,
//! whichever of its names was typed, and `name:<lower-cased name>` for a
//! submitted name no user has (see `idp_server::service::lockout::Key`).

use idp_core::clock::UnixTime;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::opt_time;
use crate::StoreError;

const LOCKED_UNTIL: &str = "SELECT locked_until FROM login_failures WHERE username = $1";

/// When the username's lockout ends, if it has one (possibly in the past).
pub async fn locked_until<'e>(
    db: impl AnyExecutor<'e>,
    username: &str,
) -> Result<Option<UnixTime>, StoreError> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as(LOCKED_UNTIL).bind(username).fetch_optional(db).await?;
    Ok(row.and_then(|(until,)| opt_time(until)))
}

/// The counter after a failure was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// Failures since the last lockout (or success).
    pub failures: i64,
    /// Lockouts so far; each one lasts twice as long as the one before.
    pub lockouts: i64,
}

// One statement, atomic on both engines: concurrent failures all count.
// A counter untouched for `stale_before` starts over.
const RECORD_FAILURE: &str = "INSERT INTO login_failures (username, failures, lockouts, locked_until, updated_at) \
     VALUES ($1, 1, 0, NULL, $2) \
     ON CONFLICT (username) DO UPDATE SET \
       failures = CASE WHEN login_failures.updated_at < $3 THEN 1 ELSE login_failures.failures + 1 END, \
       lockouts = CASE WHEN login_failures.updated_at < $3 THEN 0 ELSE login_failures.lockouts END, \
       updated_at = $2 \
     RETURNING failures, lockouts";

pub async fn record_failure(
    db: &mut AnyConnection,
    username: &str,
    now: UnixTime,
    stale_before: UnixTime,
) -> Result<Failures, StoreError> {
    let (failures, lockouts): (i64, i64) = sqlx::query_as(RECORD_FAILURE)
        .bind(username)
        .bind(now.as_secs())
        .bind(stale_before.as_secs())
        .fetch_one(db)
        .await?;
    Ok(Failures { failures, lockouts })
}

const LOCK: &str = "UPDATE login_failures SET locked_until = $2, lockouts = lockouts + 1, failures = 0 \
                    WHERE username = $1";

/// Starts a lockout that ends at `until`.
pub async fn lock(
    db: &mut AnyConnection,
    username: &str,
    until: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(LOCK).bind(username).bind(until.as_secs()).execute(db).await?;
    Ok(())
}

const CLEAR: &str = "DELETE FROM login_failures WHERE username = $1";

/// A successful login forgets the failures.
pub async fn clear(db: &mut AnyConnection, username: &str) -> Result<(), StoreError> {
    sqlx::query(CLEAR).bind(username).execute(db).await?;
    Ok(())
}

const DELETE_STALE: &str = "DELETE FROM login_failures WHERE username IN \
    (SELECT username FROM login_failures WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $1) LIMIT $2)";

/// Deletes up to `limit` counters untouched since `cutoff` and not locked.
pub async fn delete_stale(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_STALE).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[LOCKED_UNTIL, RECORD_FAILURE, LOCK, CLEAR, DELETE_STALE];
