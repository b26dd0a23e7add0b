//! `outbox`: jobs that run after the request that caused them, on whichever
//! node claims them first. The table stores what a job is (`kind`) and its
//! sealed payload; what a kind means is the server's business.

use idp_core::clock::UnixTime;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;
use uuid::Uuid;

use super::time;
use crate::{Dialect, StoreError};

/// A job to run: its kind and its sealed payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub payload: String,
}

/// A job a sender holds until `claimed_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: String,
    pub kind: String,
    pub payload: String,
    /// Including this one.
    pub attempts: i64,
    pub created_at: UnixTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kind: String,
    payload: String,
    attempts: i64,
    created_at: i64,
}

impl From<Row> for ClaimedJob {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            payload: r.payload,
            attempts: r.attempts,
            created_at: time(r.created_at),
        }
    }
}

const INSERT: &str = "INSERT INTO outbox (id, kind, payload, attempts, next_attempt_at, created_at) \
    VALUES ($1, $2, $3, 0, $4, $4)";

/// Adds a job, due at once; part of the transaction of the change that
/// causes it, so that the job exists exactly when the change does.
pub async fn insert(
    db: &mut AnyConnection,
    job: &NewJob,
    now: UnixTime,
) -> Result<String, StoreError> {
    let id = Uuid::now_v7().to_string();
    sqlx::query(INSERT)
        .bind(&id)
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(id)
}

/// Due, unfinished, and not held by a live claim.
macro_rules! due {
    () => {
        "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
         AND (claimed_until IS NULL OR claimed_until <= $1)"
    };
}

/// PostgreSQL: several nodes claim at once; `SKIP LOCKED` hands each row to
/// one of them without waiting for the others' transactions.
const CLAIM_POSTGRES: &str = concat!(
    "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN \
     (SELECT id FROM outbox WHERE ",
    due!(),
    " ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, kind, payload, attempts, created_at"
);

/// SQLite has one writer: the write transaction this runs in is the lock.
const CLAIM_SQLITE: &str = concat!(
    "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN \
     (SELECT id FROM outbox WHERE ",
    due!(),
    " ORDER BY next_attempt_at LIMIT $3) \
     RETURNING id, kind, payload, attempts, created_at"
);

/// Claims up to `limit` due jobs until `lease_until`; each claim counts as
/// an attempt. Run inside a write transaction.
pub async fn claim(
    db: &mut AnyConnection,
    dialect: Dialect,
    now: UnixTime,
    lease_until: UnixTime,
    limit: i64,
) -> Result<Vec<ClaimedJob>, StoreError> {
    let sql = match dialect {
        Dialect::Postgres => CLAIM_POSTGRES,
        Dialect::Sqlite => CLAIM_SQLITE,
    };
    let rows: Vec<Row> = sqlx::query_as(sql)
        .bind(now.as_secs())
        .bind(lease_until.as_secs())
        .bind(limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(ClaimedJob::from).collect())
}

const COMPLETE: &str = "UPDATE outbox SET sent_at = $2, claimed_until = NULL, payload = '', \
    last_error = NULL WHERE id = $1 AND sent_at IS NULL";

/// The job is done; its payload (which may hold a one-time link) is erased.
pub async fn complete(db: &mut AnyConnection, id: &str, now: UnixTime) -> Result<(), StoreError> {
    sqlx::query(COMPLETE).bind(id).bind(now.as_secs()).execute(db).await?;
    Ok(())
}

const RETRY: &str = "UPDATE outbox SET next_attempt_at = $2, claimed_until = NULL, last_error = $3 \
    WHERE id = $1 AND sent_at IS NULL";

/// The attempt failed; the job is due again at `next_attempt_at`.
pub async fn retry(
    db: &mut AnyConnection,
    id: &str,
    next_attempt_at: UnixTime,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(RETRY).bind(id).bind(next_attempt_at.as_secs()).bind(error).execute(db).await?;
    Ok(())
}

const FAIL: &str = "UPDATE outbox SET failed_at = $2, claimed_until = NULL, payload = '', \
    last_error = $3 WHERE id = $1 AND sent_at IS NULL";

/// The job is given up; its payload is erased.
pub async fn fail(
    db: &mut AnyConnection,
    id: &str,
    now: UnixTime,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(FAIL).bind(id).bind(now.as_secs()).bind(error).execute(db).await?;
    Ok(())
}

const PENDING: &str = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL";

/// Jobs not yet finished (due, waiting for a retry, or being run).
pub async fn pending<'e>(db: impl AnyExecutor<'e>) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(PENDING).fetch_one(db).await?;
    Ok(n)
}

/// What one job's row says, for tests and the CLI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub kind: String,
    pub attempts: i64,
    pub sent: bool,
    pub failed: bool,
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    kind: String,
    attempts: i64,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
    last_error: Option<String>,
}

const LIST_STATUS: &str = "SELECT kind, attempts, sent_at, failed_at, last_error FROM outbox \
    ORDER BY created_at, id";

/// Every job's status, oldest first.
pub async fn list_status<'e>(db: impl AnyExecutor<'e>) -> Result<Vec<JobStatus>, StoreError> {
    let rows: Vec<StatusRow> = sqlx::query_as(LIST_STATUS).fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| JobStatus {
            kind: r.kind,
            attempts: r.attempts,
            sent: r.sent_at.is_some(),
            failed: r.failed_at.is_some(),
            last_error: r.last_error,
        })
        .collect())
}

const DELETE_FINISHED: &str = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
    WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1 LIMIT $2)";

/// Deletes up to `limit` finished jobs created before `cutoff`.
pub async fn delete_finished(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_FINISHED).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Every SQL statement of this module on both engines (see
/// [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] =
    &[INSERT, COMPLETE, RETRY, FAIL, PENDING, LIST_STATUS, DELETE_FINISHED];
/// Statements for one engine only.
pub(crate) const SQLITE_ONLY: &[&str] = &[CLAIM_SQLITE];
pub(crate) const POSTGRES_ONLY: &[&str] = &[CLAIM_POSTGRES];
