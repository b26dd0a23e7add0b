//! `users`

use idp_core::clock::UnixTime;
use idp_core::ids::{SessionId, UserId};
use idp_core::user::User;
use sqlx::any::AnyExecutor;

use super::sessions::AccessStatus;
use super::{opt_time, parse_id, time};
use crate::StoreError;

macro_rules! columns {
    () => {
        "id, username, email, name, password_hash, email_verified_at, disabled_at, \
         tokens_valid_after, created_at, updated_at"
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
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);

/// Inserts a user; a taken username or email is a
/// [`StoreError::UniqueViolation`] naming [`USERNAME_INDEX`] or [`EMAIL_INDEX`].
pub async fn insert<'e>(db: impl AnyExecutor<'e>, user: &User) -> Result<(), StoreError> {
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

// The user behind an access token and the token's status in one round
// trip: every request to `/auth/userinfo`, `/auth/me` and `/admin` needs both.
const FIND_WITH_ACCESS_STATUS: &str =
    concat!("SELECT ", columns!(), ", ", access_status_columns!(), " FROM users WHERE id = $4");

#[derive(sqlx::FromRow)]
struct WithAccessStatus {
    #[sqlx(flatten)]
    user: Row,
    session_active: i64,
    jti_revoked: i64,
}

/// [`find_by_id`] together with [`super::sessions::access_status`] for a token of
/// this user's `session`.
pub async fn find_with_access_status<'e>(
    db: impl AnyExecutor<'e>,
    id: UserId,
    session: SessionId,
    jti: &str,
    now: UnixTime,
) -> Result<Option<(User, AccessStatus)>, StoreError> {
    let row: Option<WithAccessStatus> = sqlx::query_as(FIND_WITH_ACCESS_STATUS)
        .bind(session.to_string())
        .bind(jti)
        .bind(now.as_secs())
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.map(|r| {
        let status =
            AccessStatus { session_active: r.session_active == 1, jti_revoked: r.jti_revoked == 1 };
        Ok((User::try_from(r.user)?, status))
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

const UPDATE_PASSWORD_HASH: &str =
    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";

/// Replaces the hash without ending sessions (re-hashing an outdated hash of
/// the same password at login).
pub async fn update_password_hash<'e>(
    db: impl AnyExecutor<'e>,
    id: UserId,
    hash: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(UPDATE_PASSWORD_HASH)
        .bind(id.to_string())
        .bind(hash)
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(())
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
pub async fn add_role_by_name<'e>(
    db: impl AnyExecutor<'e>,
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

const UPDATE_PROFILE: &str =
    "UPDATE users SET name = $2, email = $3, disabled_at = $4, updated_at = $5 WHERE id = $1";

/// Writes name, email and the disabled instant; a taken email is a
/// [`StoreError::UniqueViolation`] on [`EMAIL_INDEX`].
pub async fn update_profile<'e>(
    db: impl AnyExecutor<'e>,
    user: &User,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(UPDATE_PROFILE)
        .bind(user.id.to_string())
        .bind(user.name.as_deref())
        .bind(&user.email)
        .bind(user.disabled_at.map(UnixTime::as_secs))
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const SET_PASSWORD: &str =
    "UPDATE users SET password_hash = $2, tokens_valid_after = $3, updated_at = $3 WHERE id = $1";

/// A new password: also refuses, from now on, every access token issued
/// before `now` (belt and braces next to ending the sessions).
pub async fn set_password<'e>(
    db: impl AnyExecutor<'e>,
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

const INVALIDATE_TOKENS: &str =
    "UPDATE users SET tokens_valid_after = $2, updated_at = $2 WHERE id = $1";

/// Refuses every access token of the user issued before `now`.
pub async fn invalidate_tokens<'e>(
    db: impl AnyExecutor<'e>,
    id: UserId,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(INVALIDATE_TOKENS).bind(id.to_string()).bind(now.as_secs()).execute(db).await?;
    Ok(())
}

const DELETE: &str = "DELETE FROM users WHERE id = $1";

/// Deletes the user; sessions, tokens, codes and role links go with it.
pub async fn delete<'e>(db: impl AnyExecutor<'e>, id: UserId) -> Result<bool, StoreError> {
    let done = sqlx::query(DELETE).bind(id.to_string()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const CLEAR_ROLES: &str = "DELETE FROM user_roles WHERE user_id = $1";

/// Removes every role of the user (before setting a new list).
pub async fn clear_roles<'e>(db: impl AnyExecutor<'e>, id: UserId) -> Result<(), StoreError> {
    sqlx::query(CLEAR_ROLES).bind(id.to_string()).execute(db).await?;
    Ok(())
}
