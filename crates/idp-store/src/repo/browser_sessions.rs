//! `browser_sessions`: a browser's login at the authorization endpoint. The
//! row id is the SHA-256 (hex) of the cookie value, so the table holds no
//! usable cookie.

use idp_core::clock::UnixTime;
use idp_core::ids::{BrowserSessionId, UserId};
use idp_core::user::SecurityStamp;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::{opt_time, parse_id, time};
use crate::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserSession {
    /// Derived from the cookie's hash (see `idp_server::service::browser`).
    pub id: BrowserSessionId,
    pub user_id: UserId,
    pub auth_time: UnixTime,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub expires_at: UnixTime,
    pub ended_at: Option<UnixTime>,
    /// The user's security stamp at sign-in.
    pub user_stamp: SecurityStamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    user_id: String,
    auth_time: i64,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ended_at: Option<i64>,
    user_stamp: i64,
}

impl TryFrom<Row> for BrowserSession {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(BrowserSession {
            id: parse_id("browser_sessions.id", &r.id)?,
            user_id: parse_id("browser_sessions.user_id", &r.user_id)?,
            auth_time: time(r.auth_time),
            created_at: time(r.created_at),
            last_seen_at: time(r.last_seen_at),
            expires_at: time(r.expires_at),
            ended_at: opt_time(r.ended_at),
            user_stamp: SecurityStamp::new(r.user_stamp),
        })
    }
}

const INSERT: &str = "INSERT INTO browser_sessions \
    (id, user_id, auth_time, created_at, last_seen_at, expires_at, ended_at, ip, user_agent, \
     user_stamp) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)";

pub async fn insert(
    db: &mut AnyConnection,
    s: &BrowserSession,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(s.auth_time.as_secs())
        .bind(s.created_at.as_secs())
        .bind(s.last_seen_at.as_secs())
        .bind(s.expires_at.as_secs())
        .bind(ip)
        .bind(user_agent)
        .bind(s.user_stamp.get())
        .execute(db)
        .await?;
    Ok(())
}

const FIND_ACTIVE: &str = "SELECT id, user_id, auth_time, created_at, last_seen_at, expires_at, ended_at, user_stamp \
    FROM browser_sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2";

pub async fn find_active<'e>(
    db: impl AnyExecutor<'e>,
    id: BrowserSessionId,
    now: UnixTime,
) -> Result<Option<BrowserSession>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND_ACTIVE)
        .bind(id.to_string())
        .bind(now.as_secs())
        .fetch_optional(db)
        .await?;
    row.map(BrowserSession::try_from).transpose()
}

const END: &str = "UPDATE browser_sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL";

pub async fn end(
    db: &mut AnyConnection,
    id: BrowserSessionId,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(END).bind(id.to_string()).bind(now.as_secs()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const END_ALL_FOR_USER: &str =
    "UPDATE browser_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL";

/// Ends the user's browser sign-ins; part of ending all of the user's
/// sessions (password, role or status change).
pub async fn end_all_for_user(
    db: &mut AnyConnection,
    user: UserId,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(END_ALL_FOR_USER)
        .bind(user.to_string())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const DELETE_ENDED: &str = "DELETE FROM browser_sessions WHERE id IN \
    (SELECT id FROM browser_sessions WHERE expires_at < $1 OR ended_at < $1 LIMIT $2)";

pub async fn delete_ended(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_ENDED).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[INSERT, FIND_ACTIVE, END, END_ALL_FOR_USER, DELETE_ENDED];
