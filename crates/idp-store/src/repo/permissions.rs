//! `permissions`: `resource:action` strings that roles grant.

use idp_core::clock::UnixTime;
use idp_core::ids::PermissionId;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::{parse_id, time};
use crate::StoreError;

/// Unique index on `lower(name)`.
pub const NAME_INDEX: &str = "permissions_name_key";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub id: PermissionId,
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

impl TryFrom<Row> for Permission {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Permission {
            id: parse_id("permissions.id", &r.id)?,
            name: r.name,
            description: r.description,
            created_at: time(r.created_at),
        })
    }
}

const INSERT: &str =
    "INSERT INTO permissions (id, name, description, created_at) VALUES ($1, $2, $3, $4)";

/// A taken name is a [`StoreError::UniqueViolation`] on [`NAME_INDEX`].
pub async fn insert(db: &mut AnyConnection, p: &Permission) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(p.id.to_string())
        .bind(&p.name)
        .bind(p.description.as_deref())
        .bind(p.created_at.as_secs())
        .execute(db)
        .await?;
    Ok(())
}

const LIST: &str = "SELECT id, name, description, created_at FROM permissions ORDER BY name";

pub async fn list<'e>(db: impl AnyExecutor<'e>) -> Result<Vec<Permission>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(LIST).fetch_all(db).await?;
    rows.into_iter().map(Permission::try_from).collect()
}

const FIND: &str = "SELECT id, name, description, created_at FROM permissions WHERE id = $1";

pub async fn find<'e>(
    db: impl AnyExecutor<'e>,
    id: PermissionId,
) -> Result<Option<Permission>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND).bind(id.to_string()).fetch_optional(db).await?;
    row.map(Permission::try_from).transpose()
}

const FIND_BY_NAME: &str =
    "SELECT id, name, description, created_at FROM permissions WHERE lower(name) = lower($1)";

pub async fn find_by_name<'e>(
    db: impl AnyExecutor<'e>,
    name: &str,
) -> Result<Option<Permission>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND_BY_NAME).bind(name).fetch_optional(db).await?;
    row.map(Permission::try_from).transpose()
}

const DELETE: &str = "DELETE FROM permissions WHERE id = $1";

pub async fn delete(db: &mut AnyConnection, id: PermissionId) -> Result<bool, StoreError> {
    let done = sqlx::query(DELETE).bind(id.to_string()).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[INSERT, LIST, FIND, FIND_BY_NAME, DELETE];
