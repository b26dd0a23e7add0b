//! `roles`, and their links to users and permissions.

use sqlx::any::AnyExecutor;

use crate::StoreError;

/// The role every new user gets.
pub const DEFAULT_USER_ROLE: &str = "User";
/// The role that holds every permission.
pub const ADMIN_ROLE: &str = "Admin";

const EXISTS: &str = "SELECT COUNT(*) FROM roles WHERE lower(name) = lower($1)";

pub async fn exists<'e>(db: impl AnyExecutor<'e>, name: &str) -> Result<bool, StoreError> {
    let (count,): (i64,) = sqlx::query_as(EXISTS).bind(name).fetch_one(db).await?;
    Ok(count > 0)
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
    user_id: idp_core::ids::UserId,
    user_roles: &[String],
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = if user_roles.iter().any(|r| r.eq_ignore_ascii_case(ADMIN_ROLE)) {
        sqlx::query_as(ALL_PERMISSIONS).fetch_all(db).await?
    } else {
        sqlx::query_as(PERMISSIONS_OF_USER).bind(user_id.to_string()).fetch_all(db).await?
    };
    Ok(rows.into_iter().map(|(name,)| name).collect())
}
