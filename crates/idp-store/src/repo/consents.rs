//! `consents`: what a user has allowed a (not first-party) client.

use idp_core::clock::UnixTime;
use idp_core::ids::UserId;
use idp_core::scope::Scope;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use crate::StoreError;

/// A stored scope that does not parse is corruption, never "nothing
/// granted": read as empty, the next grant would overwrite it.
fn parse(stored: &str) -> Result<Scope, StoreError> {
    Scope::parse(stored).map_err(|_| StoreError::Corrupt("a consent's scope".into()))
}

const FIND: &str = "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2";

/// The scope the user has granted the client, if any.
pub async fn find<'e>(
    db: impl AnyExecutor<'e>,
    user: UserId,
    client: &str,
) -> Result<Option<Scope>, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as(FIND).bind(user.to_string()).bind(client).fetch_optional(db).await?;
    row.map(|(scope,)| parse(&scope)).transpose()
}

// Takes the row before reading it: inserts it (empty) when missing, or
// touches it when present, and returns the scope it holds. From here until
// commit this transaction is the row's only writer — PostgreSQL holds the
// row lock that `ON CONFLICT … DO UPDATE` takes (`DO NOTHING` would take
// none), and a concurrent insert of the same key waits for ours; SQLite's
// `BEGIN IMMEDIATE` holds the database's write lock — so the scope read is
// the latest committed one, and no other grant can land between this read
// and the write below.
const CLAIM: &str = "INSERT INTO consents (user_id, client_id, scope, granted_at) \
    VALUES ($1, $2, '', $3) \
    ON CONFLICT (user_id, client_id) DO UPDATE SET granted_at = consents.granted_at \
    RETURNING scope";

const SET_SCOPE: &str =
    "UPDATE consents SET scope = $3, granted_at = $4 WHERE user_id = $1 AND client_id = $2";

/// Takes the consent row for the rest of the transaction (creating it
/// empty if missing) and returns the scope it holds.
pub async fn claim(
    db: &mut AnyConnection,
    user: UserId,
    client: &str,
    now: UnixTime,
) -> Result<Scope, StoreError> {
    let (previous,): (String,) = sqlx::query_as(CLAIM)
        .bind(user.to_string())
        .bind(client)
        .bind(now.as_secs())
        .fetch_one(db)
        .await?;
    parse(&previous)
}

/// Replaces the scope of a row [`claim`]ed in the same transaction.
pub async fn set_scope(
    db: &mut AnyConnection,
    user: UserId,
    client: &str,
    scope: &Scope,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(SET_SCOPE)
        .bind(user.to_string())
        .bind(client)
        .bind(scope.to_string())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[FIND, CLAIM, SET_SCOPE];
