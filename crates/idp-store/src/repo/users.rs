//! `users`

use idp_core::clock::UnixTime;
use idp_core::ids::{SessionId, UserId};
use idp_core::user::{SecurityStamp, User};
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::sessions::AccessStatus;
use super::{opt_time, parse_id, time};
use crate::StoreError;

macro_rules! columns {
    () => {
        "id, username, email, name, password_hash, email_verified_at, disabled_at, \
         tokens_valid_after, created_at, updated_at, security_stamp"
    };
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    username: String,
    email: String,
    name: Option<String>,
    password_hash: String,
    email_verified_at: Option<i64>,
    disabled_at: Option<i64>,
    tokens_valid_after: i64,
    created_at: i64,
    updated_at: i64,
    security_stamp: i64,
}

impl TryFrom<Row> for User {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(User {
            id: parse_id("users.id", &r.id)?,
            username: r.username,
            email: r.email,
            name: r.name,
            password_hash: r.password_hash,
            email_verified_at: opt_time(r.email_verified_at),
            disabled_at: opt_time(r.disabled_at),
            tokens_valid_after: time(r.tokens_valid_after),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
            security_stamp: SecurityStamp::new(r.security_stamp),
        })
    }
}

/// Unique index on `lower(username)`.
pub const USERNAME_INDEX: &str = "users_username_key";
/// Unique index on `lower(email)`.
pub const EMAIL_INDEX: &str = "users_email_key";

const INSERT: &str = concat!(
    "INSERT INTO users (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);

/// Inserts a user; a taken username or email is a
/// [`StoreError::UniqueViolation`] naming [`USERNAME_INDEX`] or [`EMAIL_INDEX`].
pub async fn insert(db: &mut AnyConnection, user: &User) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.email)
        .bind(user.name.as_deref())
        .bind(&user.password_hash)
        .bind(user.email_verified_at.map(UnixTime::as_secs))
        .bind(user.disabled_at.map(UnixTime::as_secs))
        .bind(user.tokens_valid_after.as_secs())
        .bind(user.created_at.as_secs())
        .bind(user.updated_at.as_secs())
        .bind(user.security_stamp.get())
        .execute(db)
        .await?;
    Ok(())
}

const FIND_BY_ID: &str = concat!("SELECT ", columns!(), " FROM users WHERE id = $1");

pub async fn find_by_id<'e>(
    db: impl AnyExecutor<'e>,
    id: UserId,
) -> Result<Option<User>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(FIND_BY_ID).bind(id.to_string()).fetch_optional(db).await?;
    row.map(User::try_from).transpose()
}

// The user behind an access token, the token's status and whether its
// client is first-party, in one round trip: every request to `/auth/me`,
// `/auth/userinfo` and `/admin` needs all three.
const FIND_WITH_ACCESS_STATUS: &str = concat!(
    "SELECT ",
    columns!(),
    ", ",
    access_status_columns!(),
    ", COALESCE((SELECT first_party FROM oauth_clients WHERE id = $5), 0) AS client_first_party \
     FROM users WHERE id = $4"
);

#[derive(sqlx::FromRow)]
struct WithAccessStatus {
    #[sqlx(flatten)]
    user: Row,
    session_active: i64,
    jti_revoked: i64,
    client_first_party: i64,
}

/// The user behind a token, what [`super::sessions::access_status`] says of
/// the token, and whether the token's client is first-party.
#[derive(Debug)]
pub struct UserAccess {
    pub user: User,
    pub status: AccessStatus,
    /// False also when the client no longer exists.
    pub client_first_party: bool,
}

/// [`find_by_id`] together with [`super::sessions::access_status`] for a
/// token of this user's `session`, and the first-party flag of `client_id`.
pub async fn find_with_access_status<'e>(
    db: impl AnyExecutor<'e>,
    id: UserId,
    session: SessionId,
    jti: &str,
    client_id: &str,
    now: UnixTime,
) -> Result<Option<UserAccess>, StoreError> {
    let row: Option<WithAccessStatus> = sqlx::query_as(FIND_WITH_ACCESS_STATUS)
        .bind(session.to_string())
        .bind(jti)
        .bind(now.as_secs())
        .bind(id.to_string())
        .bind(client_id)
        .fetch_optional(db)
        .await?;
    row.map(|r| {
        let status =
            AccessStatus { session_active: r.session_active == 1, jti_revoked: r.jti_revoked == 1 };
        Ok(UserAccess {
            user: User::try_from(r.user)?,
            status,
            client_first_party: r.client_first_party == 1,
        })
    })
    .transpose()
}

const FIND_BY_USERNAME: &str =
    concat!("SELECT ", columns!(), " FROM users WHERE lower(username) = lower($1)");
const FIND_BY_EMAIL: &str =
    concat!("SELECT ", columns!(), " FROM users WHERE lower(email) = lower($1)");

/// Finds the user a login name refers to: an email address when it contains
/// `@` (usernames cannot), else a username. Case-insensitive, by index.
pub async fn find_by_login<'e>(
    db: impl AnyExecutor<'e>,
    login: &str,
) -> Result<Option<User>, StoreError> {
    let sql = if login.contains('@') { FIND_BY_EMAIL } else { FIND_BY_USERNAME };
    let row: Option<Row> = sqlx::query_as(sql).bind(login).fetch_optional(db).await?;
    row.map(User::try_from).transpose()
}

// Compare-and-set on the hash that was checked: a password set meanwhile
// (another request, another node) must not be overwritten with a re-hash of
// the old password.
const UPDATE_PASSWORD_HASH: &str =
    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1 AND password_hash = $4";

/// Replaces `checked` with `hash`, a new hash of the same password (an
/// outdated hash re-hashed at login), without ending sessions. Does nothing
/// when the password changed since `checked` was read.
pub async fn update_password_hash(
    db: &mut AnyConnection,
    id: UserId,
    checked: &str,
    hash: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(UPDATE_PASSWORD_HASH)
        .bind(id.to_string())
        .bind(hash)
        .bind(now.as_secs())
        .bind(checked)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

// A no-op write, for its row lock: on PostgreSQL it waits for (and then
// re-checks its WHERE against) a concurrent change of the user, and holds
// off the next one until this transaction ends; on SQLite the write
// transaction already excludes every other writer.
const LOCK_UNCHANGED: &str = "UPDATE users SET security_stamp = security_stamp \
    WHERE id = $1 AND security_stamp = $2 AND disabled_at IS NULL";

/// Inside the transaction that writes a session (or a browser sign-in) for
/// the user: locks the user's row and checks that the user is still enabled
/// and still has `stamp`, the stamp read before the password was checked.
/// `false` means the user changed (or is gone): the caller writes nothing.
///
/// Every change that must end the user's sessions moves the stamp first and
/// ends the sessions after, under the same row lock; so either this
/// transaction runs first and its session is ended by the change, or the
/// change runs first and this returns `false`.
pub async fn lock_unchanged(
    db: &mut AnyConnection,
    id: UserId,
    stamp: SecurityStamp,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query(LOCK_UNCHANGED).bind(id.to_string()).bind(stamp.get()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const ROLES_OF: &str = "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                        WHERE ur.user_id = $1 ORDER BY r.name";

/// The names of the user's roles, sorted.
pub async fn roles_of<'e>(db: impl AnyExecutor<'e>, id: UserId) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(ROLES_OF).bind(id.to_string()).fetch_all(db).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

const ADD_ROLE_BY_NAME: &str = "INSERT INTO user_roles (user_id, role_id) \
                                SELECT $1, id FROM roles WHERE lower(name) = lower($2) \
                                ON CONFLICT DO NOTHING";

/// Gives the user the named role; returns false when no such role exists
/// or the user already had it.
pub async fn add_role_by_name(
    db: &mut AnyConnection,
    id: UserId,
    role: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(ADD_ROLE_BY_NAME).bind(id.to_string()).bind(role).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// A page of users, newest first, optionally filtered by a username
/// substring (case-insensitive).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub skip: i64,
    pub limit: i64,
}

/// `%`, `_` and `\` match literally in the search.
fn like_pattern(needle: &str) -> String {
    let escaped: String = needle
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM users WHERE ($1 = '' OR lower(username) LIKE $2 ESCAPE '\\') \
     ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
);
const COUNT: &str =
    "SELECT COUNT(*) FROM users WHERE ($1 = '' OR lower(username) LIKE $2 ESCAPE '\\')";

/// One page of users and the total matching the filter.
pub async fn list<'e, E: AnyExecutor<'e> + Copy>(
    db: E,
    username_contains: Option<&str>,
    page: Page,
) -> Result<(Vec<User>, i64), StoreError> {
    let needle = username_contains.unwrap_or_default();
    let pattern = like_pattern(needle);
    let rows: Vec<Row> = sqlx::query_as(LIST)
        .bind(needle)
        .bind(&pattern)
        .bind(page.limit)
        .bind(page.skip)
        .fetch_all(db)
        .await?;
    let (total,): (i64,) = sqlx::query_as(COUNT).bind(needle).bind(&pattern).fetch_one(db).await?;
    Ok((rows.into_iter().map(User::try_from).collect::<Result<_, _>>()?, total))
}

const UPDATE_PROFILE: &str = "UPDATE users SET name = $2, email = $3, disabled_at = $4, \
    updated_at = $5, email_verified_at = $6 WHERE id = $1";

/// Writes name, email (with when it was verified) and the disabled
/// instant; a taken email is a
/// [`StoreError::UniqueViolation`] on [`EMAIL_INDEX`].
pub async fn update_profile(
    db: &mut AnyConnection,
    user: &User,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(UPDATE_PROFILE)
        .bind(user.id.to_string())
        .bind(user.name.as_deref())
        .bind(&user.email)
        .bind(user.disabled_at.map(UnixTime::as_secs))
        .bind(now.as_secs())
        .bind(user.email_verified_at.map(UnixTime::as_secs))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const MARK_EMAIL_VERIFIED: &str = "UPDATE users SET email_verified_at = $3, updated_at = $3 \
    WHERE id = $1 AND lower(email) = lower($2)";

/// Marks `email` verified, if it is still the user's address; false when
/// the address changed since the link was sent.
pub async fn mark_email_verified(
    db: &mut AnyConnection,
    id: UserId,
    email: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(MARK_EMAIL_VERIFIED)
        .bind(id.to_string())
        .bind(email)
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const CHANGE_EMAIL: &str =
    "UPDATE users SET email = $2, email_verified_at = $3, updated_at = $3 WHERE id = $1";

/// A new, verified address (its owner followed the link sent to it); a
/// taken address is a [`StoreError::UniqueViolation`] on [`EMAIL_INDEX`].
pub async fn change_email(
    db: &mut AnyConnection,
    id: UserId,
    email: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(CHANGE_EMAIL)
        .bind(id.to_string())
        .bind(email)
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";

/// A new password. The caller ends the user's sessions in the same
/// transaction ([`invalidate_tokens`] and the rest).
pub async fn set_password(
    db: &mut AnyConnection,
    id: UserId,
    hash: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(SET_PASSWORD)
        .bind(id.to_string())
        .bind(hash)
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const INVALIDATE_TOKENS: &str = "UPDATE users SET tokens_valid_after = $2, updated_at = $2, \
    security_stamp = security_stamp + 1 WHERE id = $1";

/// Moves the user's security stamp and refuses every access token of the
/// user issued before `now`; the first step of ending all of the user's
/// sessions (it takes the row lock that [`lock_unchanged`] waits for).
pub async fn invalidate_tokens(
    db: &mut AnyConnection,
    id: UserId,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(INVALIDATE_TOKENS).bind(id.to_string()).bind(now.as_secs()).execute(db).await?;
    Ok(())
}

const DELETE: &str = "DELETE FROM users WHERE id = $1";

/// Deletes the user; sessions, tokens, codes and role links go with it.
pub async fn delete(db: &mut AnyConnection, id: UserId) -> Result<bool, StoreError> {
    let done = sqlx::query(DELETE).bind(id.to_string()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const CLEAR_ROLES: &str = "DELETE FROM user_roles WHERE user_id = $1";

/// Removes every role of the user (before setting a new list).
pub async fn clear_roles(db: &mut AnyConnection, id: UserId) -> Result<(), StoreError> {
    sqlx::query(CLEAR_ROLES).bind(id.to_string()).execute(db).await?;
    Ok(())
}

const COUNT_ENABLED_WITH_ROLE: &str = "SELECT COUNT(*) FROM users u \
    JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id \
    WHERE lower(r.name) = lower($1) AND u.disabled_at IS NULL";

/// How many enabled users hold the role.
pub async fn count_enabled_with_role<'e>(
    db: impl AnyExecutor<'e>,
    role: &str,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(COUNT_ENABLED_WITH_ROLE).bind(role).fetch_one(db).await?;
    Ok(n)
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[
    INSERT,
    FIND_BY_ID,
    FIND_WITH_ACCESS_STATUS,
    FIND_BY_USERNAME,
    FIND_BY_EMAIL,
    UPDATE_PASSWORD_HASH,
    LOCK_UNCHANGED,
    ROLES_OF,
    ADD_ROLE_BY_NAME,
    LIST,
    COUNT,
    UPDATE_PROFILE,
    MARK_EMAIL_VERIFIED,
    CHANGE_EMAIL,
    SET_PASSWORD,
    INVALIDATE_TOKENS,
    DELETE,
    CLEAR_ROLES,
    COUNT_ENABLED_WITH_ROLE,
];
