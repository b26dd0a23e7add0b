//! `roles`, and their links to users and permissions.

use idp_core::clock::UnixTime;
use idp_core::ids::{RoleId, UserId};
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::{parse_id, time};
use crate::StoreError;

/// The role every new user gets.
pub const DEFAULT_USER_ROLE: &str = "User";
/// The role that holds every permission.
pub const ADMIN_ROLE: &str = "Admin";
/// Unique index on `lower(name)`.
pub const NAME_INDEX: &str = "roles_name_key";

/// A role as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: UnixTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    description: Option<String>,
    created_at: i64,
}

impl TryFrom<Row> for Role {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Role {
            id: parse_id("roles.id", &r.id)?,
            name: r.name,
            description: r.description,
            created_at: time(r.created_at),
        })
    }
}

const EXISTS: &str = "SELECT COUNT(*) FROM roles WHERE lower(name) = lower($1)";

pub async fn exists<'e>(db: impl AnyExecutor<'e>, name: &str) -> Result<bool, StoreError> {
    let (count,): (i64,) = sqlx::query_as(EXISTS).bind(name).fetch_one(db).await?;
    Ok(count > 0)
}

const INSERT: &str =
    "INSERT INTO roles (id, name, description, created_at) VALUES ($1, $2, $3, $4)";

/// A taken name is a [`StoreError::UniqueViolation`] on [`NAME_INDEX`].
pub async fn insert(db: &mut AnyConnection, role: &Role) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(role.id.to_string())
        .bind(&role.name)
        .bind(role.description.as_deref())
        .bind(role.created_at.as_secs())
        .execute(db)
        .await?;
    Ok(())
}

const LIST: &str = "SELECT id, name, description, created_at FROM roles ORDER BY name";

pub async fn list<'e>(db: impl AnyExecutor<'e>) -> Result<Vec<Role>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(LIST).fetch_all(db).await?;
    rows.into_iter().map(Role::try_from).collect()
}

const FIND: &str = "SELECT id, name, description, created_at FROM roles WHERE id = $1";

pub async fn find<'e>(db: impl AnyExecutor<'e>, id: RoleId) -> Result<Option<Role>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND).bind(id.to_string()).fetch_optional(db).await?;
    row.map(Role::try_from).transpose()
}

const FIND_BY_NAME: &str =
    "SELECT id, name, description, created_at FROM roles WHERE lower(name) = lower($1)";

pub async fn find_by_name<'e>(
    db: impl AnyExecutor<'e>,
    name: &str,
) -> Result<Option<Role>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND_BY_NAME).bind(name).fetch_optional(db).await?;
    row.map(Role::try_from).transpose()
}

const DELETE: &str = "DELETE FROM roles WHERE id = $1";

pub async fn delete(db: &mut AnyConnection, id: RoleId) -> Result<bool, StoreError> {
    let done = sqlx::query(DELETE).bind(id.to_string()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const HOLDERS: &str = "SELECT user_id FROM user_roles WHERE role_id = $1";

/// The users who hold the role (whose sessions a change to it concerns).
pub async fn holders<'e>(db: impl AnyExecutor<'e>, id: RoleId) -> Result<Vec<UserId>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(HOLDERS).bind(id.to_string()).fetch_all(db).await?;
    rows.iter().map(|(id,)| parse_id("user_roles.user_id", id)).collect()
}

const ADD_USER: &str =
    "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub async fn add_user(
    db: &mut AnyConnection,
    role: RoleId,
    user: UserId,
) -> Result<(), StoreError> {
    sqlx::query(ADD_USER).bind(user.to_string()).bind(role.to_string()).execute(db).await?;
    Ok(())
}

const PERMISSIONS_OF_ROLE: &str = "SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
                                   WHERE rp.role_id = $1 ORDER BY p.name";

pub async fn permissions_of_role<'e>(
    db: impl AnyExecutor<'e>,
    id: RoleId,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as(PERMISSIONS_OF_ROLE).bind(id.to_string()).fetch_all(db).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

const CLEAR_PERMISSIONS: &str = "DELETE FROM role_permissions WHERE role_id = $1";

pub async fn clear_permissions(db: &mut AnyConnection, id: RoleId) -> Result<(), StoreError> {
    sqlx::query(CLEAR_PERMISSIONS).bind(id.to_string()).execute(db).await?;
    Ok(())
}

const ADD_PERMISSION: &str = "INSERT INTO role_permissions (role_id, permission_id) \
                              SELECT $1, id FROM permissions WHERE lower(name) = lower($2) ON CONFLICT DO NOTHING";

/// Links the named permission; false when no such permission exists (or it
/// was linked already).
pub async fn add_permission(
    db: &mut AnyConnection,
    id: RoleId,
    permission: &str,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query(ADD_PERMISSION).bind(id.to_string()).bind(permission).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

const ALL_PERMISSIONS: &str = "SELECT name FROM permissions ORDER BY name";
const PERMISSIONS_OF_USER: &str = "SELECT DISTINCT p.name FROM user_roles ur \
    JOIN role_permissions rp ON rp.role_id = ur.role_id \
    JOIN permissions p ON p.id = rp.permission_id \
    WHERE ur.user_id = $1 ORDER BY p.name";

/// The permissions a user's roles grant. `Admin` holds every permission,
/// including ones created after its links were seeded.
pub async fn permissions_of<'e>(
    db: impl AnyExecutor<'e>,
    user_id: UserId,
    user_roles: &[String],
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = if user_roles.iter().any(|r| r.eq_ignore_ascii_case(ADMIN_ROLE)) {
        sqlx::query_as(ALL_PERMISSIONS).fetch_all(db).await?
    } else {
        sqlx::query_as(PERMISSIONS_OF_USER).bind(user_id.to_string()).fetch_all(db).await?
    };
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

// A no-op write for its row lock (as `users::lock_unchanged`): changes that
// could remove the last holder of a role take it first, so that two of them
// run one after the other and the second sees what the first left.
const LOCK_BY_NAME: &str = "UPDATE roles SET name = name WHERE lower(name) = lower($1)";

/// Locks the role's row until the transaction ends.
pub async fn lock_by_name(db: &mut AnyConnection, name: &str) -> Result<(), StoreError> {
    sqlx::query(LOCK_BY_NAME).bind(name).execute(db).await?;
    Ok(())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[
    EXISTS,
    INSERT,
    LIST,
    FIND,
    FIND_BY_NAME,
    DELETE,
    HOLDERS,
    ADD_USER,
    PERMISSIONS_OF_ROLE,
    CLEAR_PERMISSIONS,
    ADD_PERMISSION,
    ALL_PERMISSIONS,
    PERMISSIONS_OF_USER,
    LOCK_BY_NAME,
];
