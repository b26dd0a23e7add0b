//! `signing_keys`: the JWKS history. Private halves are sealed before they
//! reach this module; it never sees key material in the clear.

use idp_core::clock::UnixTime;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::{opt_time, time};
use crate::StoreError;

#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// Sealed PKCS#8; empty for keys that live in PRIVATE_KEY_PATH.
    pub private_key_sealed: String,
    pub public_jwk: String,
    pub active: bool,
    pub created_at: UnixTime,
    pub signs_from: UnixTime,
    pub retired_at: Option<UnixTime>,
    pub expires_at: Option<UnixTime>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("active", &self.active)
            .finish()
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    kid: String,
    alg: String,
    private_key_sealed: String,
    public_jwk: String,
    state: String,
    created_at: i64,
    signs_from: i64,
    retired_at: Option<i64>,
    expires_at: Option<i64>,
}

impl From<Row> for StoredKey {
    fn from(r: Row) -> Self {
        StoredKey {
            kid: r.kid,
            alg: r.alg,
            private_key_sealed: r.private_key_sealed,
            public_jwk: r.public_jwk,
            active: r.state == "active",
            created_at: time(r.created_at),
            signs_from: time(r.signs_from),
            retired_at: opt_time(r.retired_at),
            expires_at: opt_time(r.expires_at),
        }
    }
}

macro_rules! columns {
    () => {
        "kid, alg, private_key_sealed, public_jwk, state, created_at, signs_from, retired_at, expires_at"
    };
}

const PUBLISHED: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM signing_keys WHERE state = 'active' OR expires_at > $1 ORDER BY created_at, kid"
);

/// Active keys and retired keys that may still have live tokens, oldest first.
pub async fn published<'e>(
    db: impl AnyExecutor<'e>,
    now: UnixTime,
) -> Result<Vec<StoredKey>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(PUBLISHED).bind(now.as_secs()).fetch_all(db).await?;
    Ok(rows.into_iter().map(StoredKey::from).collect())
}

const ALL: &str = concat!("SELECT ", columns!(), " FROM signing_keys ORDER BY created_at, kid");

pub async fn all<'e>(db: impl AnyExecutor<'e>) -> Result<Vec<StoredKey>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(ALL).fetch_all(db).await?;
    Ok(rows.into_iter().map(StoredKey::from).collect())
}

const INSERT: &str = concat!(
    "INSERT INTO signing_keys (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, 'active', $5, $6, NULL, NULL) ON CONFLICT (kid) DO NOTHING"
);

/// Adds an active key; a key with the same kid already present is left as
/// it is (returns false).
pub async fn insert(db: &mut AnyConnection, key: &StoredKey) -> Result<bool, StoreError> {
    let done = sqlx::query(INSERT)
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key_sealed)
        .bind(&key.public_jwk)
        .bind(key.created_at.as_secs())
        .bind(key.signs_from.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const RETIRE_OTHERS: &str = "UPDATE signing_keys SET state = 'retired', retired_at = $3, expires_at = $4 \
                             WHERE state = 'active' AND alg = $1 AND kid <> $2";

/// Retires every active `alg` key but `keep` (keys of other algorithms
/// sign other tokens and stay); they stay published until `expires_at`,
/// when no token they signed can still be valid.
pub async fn retire_others(
    db: &mut AnyConnection,
    alg: &str,
    keep: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(RETIRE_OTHERS)
        .bind(alg)
        .bind(keep)
        .bind(now.as_secs())
        .bind(expires_at.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const RETIRE_ALGORITHM: &str = "UPDATE signing_keys SET state = 'retired', retired_at = $2, expires_at = $3 \
                                WHERE state = 'active' AND alg = $1";

/// Retires every active key of `alg`, an algorithm no longer in use (after
/// a change of ALGORITHM); they stay published until `expires_at`.
pub async fn retire_algorithm(
    db: &mut AnyConnection,
    alg: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(RETIRE_ALGORITHM)
        .bind(alg)
        .bind(now.as_secs())
        .bind(expires_at.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const REACTIVATE: &str =
    "UPDATE signing_keys SET state = 'active', retired_at = NULL, expires_at = NULL WHERE kid = $1";

/// Makes a known key active again (the operator put an older
/// PRIVATE_KEY_PATH back).
pub async fn reactivate(db: &mut AnyConnection, kid: &str) -> Result<(), StoreError> {
    sqlx::query(REACTIVATE).bind(kid).execute(db).await?;
    Ok(())
}

// Compare-and-set on the old value: nodes restarting together with a new
// SECRET_KEY each re-seal, and only the first write of each key counts.
const RESEAL: &str =
    "UPDATE signing_keys SET private_key_sealed = $3 WHERE kid = $1 AND private_key_sealed = $2";

/// Replaces a key's sealed private half (`SECRET_KEY` rotation). `false`
/// when another node re-sealed it first.
pub async fn reseal(
    db: &mut AnyConnection,
    kid: &str,
    old_sealed: &str,
    new_sealed: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(RESEAL).bind(kid).bind(old_sealed).bind(new_sealed).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] =
    &[PUBLISHED, ALL, INSERT, RETIRE_OTHERS, RETIRE_ALGORITHM, REACTIVATE, RESEAL];
