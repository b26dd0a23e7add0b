//! The embedded migration history, shared by both engines.

use sqlx::migrate::Migrator;

use crate::{Db, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// One migration and whether this database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

/// Applies every pending migration; returns how many were applied. On
/// PostgreSQL the migrator holds an advisory lock, so several nodes starting
/// at once apply each migration exactly once.
pub async fn run(db: &Db) -> Result<usize, StoreError> {
    let before = applied_versions(db).await?.len();
    MIGRATOR.run(db.pool()).await?;
    let after = applied_versions(db).await?.len();
    Ok(after.saturating_sub(before))
}

/// Every embedded migration, marked applied or pending.
pub async fn status(db: &Db) -> Result<Vec<MigrationStatus>, StoreError> {
    let applied = applied_versions(db).await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationStatus {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect())
}

/// True when every embedded migration has been applied successfully.
pub async fn is_up_to_date(db: &Db) -> Result<bool, StoreError> {
    Ok(status(db).await?.iter().all(|m| m.applied))
}

async fn applied_versions(db: &Db) -> Result<Vec<i64>, StoreError> {
    let table_exists: Option<(String,)> = sqlx::query_as(match db.dialect() {
        crate::Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        crate::Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    })
    .fetch_optional(db.pool())
    .await?;
    if table_exists.is_none() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}
