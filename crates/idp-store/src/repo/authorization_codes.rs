//! `authorization_codes`: single use, short-lived, stored only as hashes.

use idp_core::clock::UnixTime;
use idp_core::ids::{AuthorizationCodeId, BrowserSessionId, ClientId, SessionId, UserId};
use idp_core::secret_hash::SecretHash;
use idp_core::user::SecurityStamp;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::{opt_time, parse_id, time};
use crate::StoreError;

/// An authorization code and everything it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub id: AuthorizationCodeId,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub browser_session_id: Option<BrowserSessionId>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub auth_time: UnixTime,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub consumed_at: Option<UnixTime>,
    pub issued_session_id: Option<SessionId>,
    /// The user's security stamp at sign-in (from the browser session).
    pub user_stamp: SecurityStamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    client_id: String,
    user_id: String,
    browser_session_id: Option<String>,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
    issued_session_id: Option<String>,
    user_stamp: i64,
}

impl TryFrom<Row> for AuthorizationCode {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(AuthorizationCode {
            id: parse_id("authorization_codes.id", &r.id)?,
            client_id: ClientId::new(r.client_id),
            user_id: parse_id("authorization_codes.user_id", &r.user_id)?,
            browser_session_id: r
                .browser_session_id
                .as_deref()
                .map(|b| parse_id("authorization_codes.browser_session_id", b))
                .transpose()?,
            redirect_uri: r.redirect_uri,
            scope: r.scope,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            code_challenge_method: r.code_challenge_method,
            resource: r.resource,
            auth_time: time(r.auth_time),
            created_at: time(r.created_at),
            expires_at: time(r.expires_at),
            consumed_at: opt_time(r.consumed_at),
            issued_session_id: r
                .issued_session_id
                .as_deref()
                .map(|s| parse_id("authorization_codes.issued_session_id", s))
                .transpose()?,
            user_stamp: SecurityStamp::new(r.user_stamp),
        })
    }
}

macro_rules! columns {
    () => {
        "id, client_id, user_id, browser_session_id, redirect_uri, scope, nonce, code_challenge, \
         code_challenge_method, resource, auth_time, created_at, expires_at, consumed_at, issued_session_id, \
         user_stamp"
    };
}

const INSERT: &str = "INSERT INTO authorization_codes (id, code_hash, client_id, user_id, browser_session_id, \
    redirect_uri, scope, nonce, code_challenge, code_challenge_method, resource, auth_time, created_at, expires_at, \
    user_stamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

pub async fn insert(
    db: &mut AnyConnection,
    code: &AuthorizationCode,
    hash: &SecretHash,
) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(code.id.to_string())
        .bind(hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.user_id.to_string())
        .bind(code.browser_session_id.map(|b| b.to_string()))
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(code.nonce.as_deref())
        .bind(code.code_challenge.as_deref())
        .bind(code.code_challenge_method.as_deref())
        .bind(code.resource.as_deref())
        .bind(code.auth_time.as_secs())
        .bind(code.created_at.as_secs())
        .bind(code.expires_at.as_secs())
        .bind(code.user_stamp.get())
        .execute(db)
        .await?;
    Ok(())
}

// Compare-and-set, as for refresh tokens: of two redemptions, one wins.
const CONSUME: &str = concat!(
    "UPDATE authorization_codes SET consumed_at = $2 \
     WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING ",
    columns!()
);

/// Consumes a live code; `None` for unknown, expired or already used ones.
pub async fn consume(
    db: &mut AnyConnection,
    hash: &SecretHash,
    now: UnixTime,
) -> Result<Option<AuthorizationCode>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(CONSUME).bind(hash.as_str()).bind(now.as_secs()).fetch_optional(db).await?;
    row.map(AuthorizationCode::try_from).transpose()
}

const FIND_BY_HASH: &str =
    concat!("SELECT ", columns!(), " FROM authorization_codes WHERE code_hash = $1");

pub async fn find_by_hash<'e>(
    db: impl AnyExecutor<'e>,
    hash: &SecretHash,
) -> Result<Option<AuthorizationCode>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(FIND_BY_HASH).bind(hash.as_str()).fetch_optional(db).await?;
    row.map(AuthorizationCode::try_from).transpose()
}

const SET_ISSUED_SESSION: &str =
    "UPDATE authorization_codes SET issued_session_id = $2 WHERE id = $1";

/// Records the session the redemption created, to revoke it on replay.
pub async fn set_issued_session(
    db: &mut AnyConnection,
    id: AuthorizationCodeId,
    session: SessionId,
) -> Result<(), StoreError> {
    sqlx::query(SET_ISSUED_SESSION)
        .bind(id.to_string())
        .bind(session.to_string())
        .execute(db)
        .await?;
    Ok(())
}

const DELETE_EXPIRED: &str = "DELETE FROM authorization_codes WHERE id IN \
    (SELECT id FROM authorization_codes WHERE expires_at < $1 LIMIT $2)";

/// Deletes up to `limit` codes that expired before `cutoff` (kept a while
/// past expiry so a late replay still revokes what the code issued).
pub async fn delete_expired(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_EXPIRED).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] =
    &[INSERT, CONSUME, FIND_BY_HASH, SET_ISSUED_SESSION, DELETE_EXPIRED];
