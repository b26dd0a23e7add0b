//! `rate_limit_buckets`: fixed-window request counters, shared by every node.

use idp_core::clock::UnixTime;
use sqlx::AnyConnection;

use crate::StoreError;

const HIT: &str = "INSERT INTO rate_limit_buckets (bucket, window_start, hits) VALUES ($1, $2, 1) \
                   ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_buckets.hits + 1 \
                   RETURNING hits";

/// Counts one request in `bucket`'s window and returns the window's count.
pub async fn hit(
    db: &mut AnyConnection,
    bucket: &str,
    window_start: UnixTime,
) -> Result<i64, StoreError> {
    let (hits,): (i64,) =
        sqlx::query_as(HIT).bind(bucket).bind(window_start.as_secs()).fetch_one(db).await?;
    Ok(hits)
}

const DELETE_OLD: &str = "DELETE FROM rate_limit_buckets WHERE (bucket, window_start) IN \
    (SELECT bucket, window_start FROM rate_limit_buckets WHERE window_start < $1 LIMIT $2)";

/// Deletes up to `limit` windows that started before `cutoff`.
pub async fn delete_old(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_OLD).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[HIT, DELETE_OLD];
