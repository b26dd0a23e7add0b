//! `sessions`: login sessions, each one refresh-token family.

use idp_core::clock::UnixTime;
use idp_core::ids::{ClientId, SessionId, UserId};
use idp_core::session::{EndReason, Session};
use idp_core::user::SecurityStamp;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::{json_list, opt_time, parse_id, time, to_json_list};
use crate::StoreError;

macro_rules! columns {
    () => {
        "id, user_id, client_id, browser_session_id, scope, roles, auth_time, created_at, \
         last_used_at, expires_at, revoked_at, ip, user_agent, user_stamp"
    };
}

/// A `sessions` row; other repositories' joins decode it too.
#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: String,
    user_id: String,
    client_id: String,
    browser_session_id: Option<String>,
    scope: String,
    roles: String,
    auth_time: i64,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
    user_stamp: i64,
}

impl TryFrom<Row> for Session {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Session {
            id: parse_id("sessions.id", &r.id)?,
            user_id: parse_id("sessions.user_id", &r.user_id)?,
            client_id: ClientId::new(r.client_id),
            browser_session_id: r
                .browser_session_id
                .as_deref()
                .map(|id| parse_id("sessions.browser_session_id", id))
                .transpose()?,
            scope: r.scope,
            roles: json_list("sessions.roles", &r.roles)?,
            auth_time: time(r.auth_time),
            created_at: time(r.created_at),
            last_used_at: time(r.last_used_at),
            expires_at: time(r.expires_at),
            revoked_at: opt_time(r.revoked_at),
            ip: r.ip,
            user_agent: r.user_agent,
            user_stamp: SecurityStamp::new(r.user_stamp),
        })
    }
}

const INSERT: &str = concat!(
    "INSERT INTO sessions (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);

pub async fn insert(db: &mut AnyConnection, s: &Session) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(s.client_id.as_str())
        .bind(s.browser_session_id.map(|id| id.to_string()))
        .bind(&s.scope)
        .bind(to_json_list(&s.roles))
        .bind(s.auth_time.as_secs())
        .bind(s.created_at.as_secs())
        .bind(s.last_used_at.as_secs())
        .bind(s.expires_at.as_secs())
        .bind(s.revoked_at.map(UnixTime::as_secs))
        .bind(s.ip.as_deref())
        .bind(s.user_agent.as_deref())
        .bind(s.user_stamp.get())
        .execute(db)
        .await?;
    Ok(())
}

const TOUCH_ACTIVE: &str = concat!(
    "UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING ",
    columns!()
);

/// Marks an active session used and returns it; `None` when it is revoked,
/// past its absolute lifetime, or unknown.
pub async fn touch_active(
    db: &mut AnyConnection,
    id: SessionId,
    now: UnixTime,
) -> Result<Option<Session>, StoreError> {
    let row: Option<Row> = sqlx::query_as(TOUCH_ACTIVE)
        .bind(id.to_string())
        .bind(now.as_secs())
        .fetch_optional(db)
        .await?;
    row.map(Session::try_from).transpose()
}

const FIND: &str = concat!("SELECT ", columns!(), " FROM sessions WHERE id = $1");

pub async fn find<'e>(
    db: impl AnyExecutor<'e>,
    id: SessionId,
) -> Result<Option<Session>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND).bind(id.to_string()).fetch_optional(db).await?;
    row.map(Session::try_from).transpose()
}

const REVOKE: &str =
    "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL";

/// Ends one session (and so its refresh-token family and the access tokens
/// bound to it). Returns false when it was already ended or is unknown.
pub async fn revoke(
    db: &mut AnyConnection,
    id: SessionId,
    now: UnixTime,
    reason: EndReason,
) -> Result<bool, StoreError> {
    let done = sqlx::query(REVOKE)
        .bind(id.to_string())
        .bind(now.as_secs())
        .bind(reason.as_str())
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

const REVOKE_ALL_FOR_USER: &str = "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL";

/// Ends every session of a user; returns how many were still active.
pub async fn revoke_all_for_user(
    db: &mut AnyConnection,
    user_id: UserId,
    now: UnixTime,
    reason: EndReason,
) -> Result<u64, StoreError> {
    let done = sqlx::query(REVOKE_ALL_FOR_USER)
        .bind(user_id.to_string())
        .bind(now.as_secs())
        .bind(reason.as_str())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const LIST_ACTIVE_FOR_USER: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC"
);

pub async fn list_active_for_user<'e>(
    db: impl AnyExecutor<'e>,
    user_id: UserId,
    now: UnixTime,
) -> Result<Vec<Session>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(LIST_ACTIVE_FOR_USER)
        .bind(user_id.to_string())
        .bind(now.as_secs())
        .fetch_all(db)
        .await?;
    rows.into_iter().map(Session::try_from).collect()
}

/// Whether an access token may still be used: its session is live and its
/// `jti` has not been revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessStatus {
    pub session_active: bool,
    pub jti_revoked: bool,
}

// One round trip for both checks.
const ACCESS_STATUS: &str = concat!("SELECT ", access_status_columns!());

/// Checks a token's session (when it has one) and `jti` in one query.
pub async fn access_status<'e>(
    db: impl AnyExecutor<'e>,
    session: Option<SessionId>,
    jti: &str,
    now: UnixTime,
) -> Result<AccessStatus, StoreError> {
    let (active, revoked): (i64, i64) = sqlx::query_as(ACCESS_STATUS)
        .bind(session.map(|s| s.to_string()).unwrap_or_default())
        .bind(jti)
        .bind(now.as_secs())
        .fetch_one(db)
        .await?;
    Ok(AccessStatus { session_active: session.is_none() || active == 1, jti_revoked: revoked == 1 })
}

const DELETE_ENDED: &str = "DELETE FROM sessions WHERE id IN \
    (SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)";

/// Deletes up to `limit` sessions that ended (expired or revoked) before
/// `cutoff`, with their refresh tokens (ON DELETE CASCADE).
pub async fn delete_ended(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_ENDED).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

const COUNT: &str = "SELECT COUNT(*) FROM sessions";

pub async fn count<'e>(db: impl AnyExecutor<'e>) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(COUNT).fetch_one(db).await?;
    Ok(n)
}

const LIST_FOR_USER: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200"
);

/// The user's most recent sessions, live and ended (for admins).
pub async fn list_for_user<'e>(
    db: impl AnyExecutor<'e>,
    user_id: UserId,
) -> Result<Vec<Session>, StoreError> {
    let rows: Vec<Row> =
        sqlx::query_as(LIST_FOR_USER).bind(user_id.to_string()).fetch_all(db).await?;
    rows.into_iter().map(Session::try_from).collect()
}

const FOR_BROWSER_SESSION: &str = "SELECT id FROM sessions WHERE browser_session_id = $1";

/// The sessions (refresh families) issued from one browser login.
pub async fn for_browser_session<'e>(
    db: impl AnyExecutor<'e>,
    browser_session: idp_core::ids::BrowserSessionId,
) -> Result<Vec<SessionId>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as(FOR_BROWSER_SESSION).bind(browser_session.to_string()).fetch_all(db).await?;
    rows.iter().map(|(id,)| parse_id("sessions.id", id)).collect()
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[
    INSERT,
    TOUCH_ACTIVE,
    FIND,
    REVOKE,
    REVOKE_ALL_FOR_USER,
    LIST_ACTIVE_FOR_USER,
    ACCESS_STATUS,
    DELETE_ENDED,
    COUNT,
    LIST_FOR_USER,
    FOR_BROWSER_SESSION,
];
