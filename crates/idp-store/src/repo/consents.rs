//! `consents`: what a user has allowed a (not first-party) client.

use idp_core::clock::UnixTime;
use idp_core::ids::UserId;
use sqlx::any::AnyExecutor;

use crate::StoreError;

const FIND: &str = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2";

/// The scope the user has granted the client, if any.
pub async fn find<'e>(
    db: impl AnyExecutor<'e>,
    user: UserId,
    client: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as(FIND).bind(user.to_string()).bind(client).fetch_optional(db).await?;
    Ok(row.map(|(scope,)| scope))
}

const UPSERT: &str = "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4";

/// Records the granted scope (the union of what was granted before and now).
pub async fn grant<'e>(
    db: impl AnyExecutor<'e>,
    user: UserId,
    client: &str,
    scope: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(UPSERT)
        .bind(user.to_string())
        .bind(client)
        .bind(scope)
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(())
}
