//! `rate_limit_buckets`: fixed-window request counters, shared by every node.

use idp_core::clock::UnixTime;
use sqlx::any::AnyExecutor;

use crate::StoreError;

const HIT: &str = "INSERT INTO rate_limit_buckets (bucket, window_start, hits) VALUES ($1, $2, 1) \
                   ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_buckets.hits + 1 \
                   RETURNING hits";

/// Counts one request in `bucket`'s window and returns the window's count.
pub async fn hit<'e>(
    db: impl AnyExecutor<'e>,
    bucket: &str,
    window_start: UnixTime,
) -> Result<i64, StoreError> {
    let (hits,): (i64,) =
        sqlx::query_as(HIT).bind(bucket).bind(window_start.as_secs()).fetch_one(db).await?;
    Ok(hits)
}
