//! `email_tokens`: the one-time tokens of links sent by mail. Only their
//! SHA-256 is stored.

use idp_core::clock::UnixTime;
use idp_core::ids::UserId;
use idp_core::secret_hash::SecretHash;
use idp_core::user::SecurityStamp;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;
use uuid::Uuid;

use super::{parse_id, time};
use crate::StoreError;

/// What a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
    EmailChange,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::EmailChange => "email_change",
        }
    }
}

/// A token to store.
#[derive(Clone, Debug)]
pub struct NewEmailToken<'a> {
    pub hash: &'a SecretHash,
    pub purpose: Purpose,
    pub user_id: UserId,
    /// Where the link goes.
    pub email: &'a str,
    pub user_stamp: SecurityStamp,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// A stored token that may still be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailToken {
    pub id: String,
    pub user_id: UserId,
    pub email: String,
    pub user_stamp: SecurityStamp,
    pub expires_at: UnixTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    user_id: String,
    email: String,
    user_stamp: i64,
    expires_at: i64,
}

impl TryFrom<Row> for EmailToken {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id,
            user_id: parse_id("email_tokens.user_id", &r.user_id)?,
            email: r.email,
            user_stamp: SecurityStamp::new(r.user_stamp),
            expires_at: time(r.expires_at),
        })
    }
}

const INSERT: &str = "INSERT INTO email_tokens \
    (id, token_hash, purpose, user_id, email, user_stamp, created_at, expires_at, used_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)";

pub async fn insert(db: &mut AnyConnection, t: &NewEmailToken<'_>) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(Uuid::now_v7().to_string())
        .bind(t.hash.as_str())
        .bind(t.purpose.as_str())
        .bind(t.user_id.to_string())
        .bind(t.email)
        .bind(t.user_stamp.get())
        .bind(t.created_at.as_secs())
        .bind(t.expires_at.as_secs())
        .execute(db)
        .await?;
    Ok(())
}

const FIND_USABLE: &str = "SELECT id, user_id, email, user_stamp, expires_at FROM email_tokens \
    WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3";

/// The unused, unexpired token of `purpose` with this hash.
pub async fn find_usable<'e>(
    db: impl AnyExecutor<'e>,
    hash: &SecretHash,
    purpose: Purpose,
    now: UnixTime,
) -> Result<Option<EmailToken>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND_USABLE)
        .bind(hash.as_str())
        .bind(purpose.as_str())
        .bind(now.as_secs())
        .fetch_optional(db)
        .await?;
    row.map(EmailToken::try_from).transpose()
}

const USE: &str =
    "UPDATE email_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2";

/// Marks the token used; false when another request used it first (or it
/// expired meanwhile), so a link works once even under a race.
pub async fn use_once(db: &mut AnyConnection, id: &str, now: UnixTime) -> Result<bool, StoreError> {
    let done = sqlx::query(USE).bind(id).bind(now.as_secs()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const USE_ALL_FOR_USER: &str = "UPDATE email_tokens SET used_at = $3 \
    WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL";

/// Retires the user's other links of `purpose` (after one of them was used).
pub async fn use_all_for_user(
    db: &mut AnyConnection,
    user: UserId,
    purpose: Purpose,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(USE_ALL_FOR_USER)
        .bind(user.to_string())
        .bind(purpose.as_str())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const COUNT_SENT_TO: &str = "SELECT COUNT(*) FROM email_tokens \
    WHERE lower(email) = lower($1) AND purpose = $2 AND created_at > $3";

/// Links of `purpose` sent to `email` since `since` (the per-address mail
/// limit).
pub async fn count_sent_to<'e>(
    db: impl AnyExecutor<'e>,
    email: &str,
    purpose: Purpose,
    since: UnixTime,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(COUNT_SENT_TO)
        .bind(email)
        .bind(purpose.as_str())
        .bind(since.as_secs())
        .fetch_one(db)
        .await?;
    Ok(n)
}

const DELETE_EXPIRED: &str = "DELETE FROM email_tokens WHERE id IN \
    (SELECT id FROM email_tokens WHERE expires_at < $1 LIMIT $2)";

/// Deletes up to `limit` tokens that expired before `cutoff`.
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
    &[INSERT, FIND_USABLE, USE, USE_ALL_FOR_USER, COUNT_SENT_TO, DELETE_EXPIRED];
