//! `revoked_access_tokens`: access tokens revoked before their expiry.

use idp_core::clock::UnixTime;
use sqlx::AnyConnection;

use crate::StoreError;

const INSERT: &str = "INSERT INTO revoked_access_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) \
                      ON CONFLICT (jti) DO NOTHING";

/// Records a revoked `jti` until `expires_at`, after which the token is dead
/// anyway and the row can be swept.
pub async fn insert(
    db: &mut AnyConnection,
    jti: &str,
    expires_at: UnixTime,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(jti)
        .bind(expires_at.as_secs())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(())
}

const DELETE_EXPIRED: &str = "DELETE FROM revoked_access_tokens WHERE jti IN \
    (SELECT jti FROM revoked_access_tokens WHERE expires_at < $1 LIMIT $2)";

/// Deletes up to `limit` entries whose token expired before `cutoff`.
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
pub(crate) const STATEMENTS: &[&str] = &[INSERT, DELETE_EXPIRED];
