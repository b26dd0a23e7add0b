//! `oauth_clients`

use std::time::Duration;

use idp_core::client::{Client, ClientType, GrantType};
use idp_core::clock::UnixTime;
use idp_core::ids::{ClientId, SessionId};
use idp_core::jose::Algorithm;
use idp_core::secret_hash::SecretHash;
use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;

use super::sessions::AccessStatus;
use super::{json_list, time, to_json_list};
use crate::StoreError;

macro_rules! columns {
    () => {
        "id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, \
         scopes, first_party, access_token_ttl_secs, refresh_token_ttl_secs, created_at, updated_at, \
         id_token_signed_response_alg"
    };
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    client_type: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    first_party: i64,
    access_token_ttl_secs: Option<i64>,
    refresh_token_ttl_secs: Option<i64>,
    created_at: i64,
    updated_at: i64,
    id_token_signed_response_alg: Option<String>,
}

fn ttl(secs: Option<i64>) -> Option<Duration> {
    secs.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs)
}

impl TryFrom<Row> for Client {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let client_type: ClientType = r
            .client_type
            .parse()
            .map_err(|_| StoreError::Corrupt("oauth_clients.client_type".into()))?;
        let grant_types = json_list("oauth_clients.grant_types", &r.grant_types)?
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::Corrupt("oauth_clients.grant_types".into()))?;
        let id_token_signed_response_alg = r
            .id_token_signed_response_alg
            .map(|alg| alg.parse::<Algorithm>())
            .transpose()
            .map_err(|_| {
                StoreError::Corrupt("oauth_clients.id_token_signed_response_alg".into())
            })?;
        Ok(Client {
            id: ClientId::new(r.id),
            name: r.name,
            client_type,
            secret_hash: r.secret_hash.map(SecretHash::from_stored),
            redirect_uris: json_list("oauth_clients.redirect_uris", &r.redirect_uris)?,
            post_logout_redirect_uris: json_list(
                "oauth_clients.post_logout_redirect_uris",
                &r.post_logout_redirect_uris,
            )?,
            grant_types,
            scopes: json_list("oauth_clients.scopes", &r.scopes)?,
            first_party: r.first_party != 0,
            access_token_ttl: ttl(r.access_token_ttl_secs),
            refresh_token_ttl: ttl(r.refresh_token_ttl_secs),
            id_token_signed_response_alg,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        })
    }
}

const FIND: &str = concat!("SELECT ", columns!(), " FROM oauth_clients WHERE id = $1");

pub async fn find<'e>(db: impl AnyExecutor<'e>, id: &str) -> Result<Option<Client>, StoreError> {
    let row: Option<Row> = sqlx::query_as(FIND).bind(id).fetch_optional(db).await?;
    row.map(Client::try_from).transpose()
}

// A client and the status of the access token it asks about, in one round
// trip: introspection authenticates the one and reports the other.
const FIND_WITH_ACCESS_STATUS: &str = concat!(
    "SELECT ",
    columns!(),
    ", ",
    access_status_columns!(),
    " FROM oauth_clients WHERE id = $4"
);

#[derive(sqlx::FromRow)]
struct WithAccessStatus {
    #[sqlx(flatten)]
    client: Row,
    session_active: i64,
    jti_revoked: i64,
}

/// [`find`] together with [`super::sessions::access_status`] for a token
/// with `session` (a user's) or without (a client's).
pub async fn find_with_access_status<'e>(
    db: impl AnyExecutor<'e>,
    id: &str,
    session: Option<SessionId>,
    jti: &str,
    now: UnixTime,
) -> Result<Option<(Client, AccessStatus)>, StoreError> {
    let row: Option<WithAccessStatus> = sqlx::query_as(FIND_WITH_ACCESS_STATUS)
        .bind(session.map(|s| s.to_string()).unwrap_or_default())
        .bind(jti)
        .bind(now.as_secs())
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(|r| {
        let status = AccessStatus {
            session_active: session.is_none() || r.session_active == 1,
            jti_revoked: r.jti_revoked == 1,
        };
        Ok((Client::try_from(r.client)?, status))
    })
    .transpose()
}

const INSERT: &str = concat!(
    "INSERT INTO oauth_clients (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);

pub async fn insert(db: &mut AnyConnection, client: &Client) -> Result<(), StoreError> {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    sqlx::query(INSERT)
        .bind(client.id.as_str())
        .bind(&client.name)
        .bind(client.client_type.as_str())
        .bind(client.secret_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(to_json_list(&client.redirect_uris))
        .bind(to_json_list(&client.post_logout_redirect_uris))
        .bind(to_json_list(&grants))
        .bind(to_json_list(&client.scopes))
        .bind(i64::from(client.first_party))
        .bind(client.access_token_ttl.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        .bind(client.refresh_token_ttl.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        .bind(client.created_at.as_secs())
        .bind(client.updated_at.as_secs())
        .bind(client.id_token_signed_response_alg.map(Algorithm::as_str))
        .execute(db)
        .await?;
    Ok(())
}

const LIST: &str = concat!("SELECT ", columns!(), " FROM oauth_clients ORDER BY created_at, id");

pub async fn list<'e>(db: impl AnyExecutor<'e>) -> Result<Vec<Client>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(LIST).fetch_all(db).await?;
    rows.into_iter().map(Client::try_from).collect()
}

const UPDATE: &str = "UPDATE oauth_clients SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4, \
    grant_types = $5, scopes = $6, first_party = $7, access_token_ttl_secs = $8, refresh_token_ttl_secs = $9, \
    updated_at = $10, id_token_signed_response_alg = $11 WHERE id = $1";

/// Writes everything but the type and the secret.
pub async fn update(db: &mut AnyConnection, client: &Client) -> Result<bool, StoreError> {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    let done = sqlx::query(UPDATE)
        .bind(client.id.as_str())
        .bind(&client.name)
        .bind(to_json_list(&client.redirect_uris))
        .bind(to_json_list(&client.post_logout_redirect_uris))
        .bind(to_json_list(&grants))
        .bind(to_json_list(&client.scopes))
        .bind(i64::from(client.first_party))
        .bind(client.access_token_ttl.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        .bind(client.refresh_token_ttl.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        .bind(client.updated_at.as_secs())
        .bind(client.id_token_signed_response_alg.map(Algorithm::as_str))
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const SET_SECRET: &str = "UPDATE oauth_clients SET secret_hash = $2, updated_at = $3 WHERE id = $1";

pub async fn set_secret(
    db: &mut AnyConnection,
    id: &str,
    hash: &SecretHash,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(SET_SECRET)
        .bind(id)
        .bind(hash.as_str())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

const DELETE: &str = "DELETE FROM oauth_clients WHERE id = $1";

/// Deletes the client; its sessions, codes and consents go with it.
pub async fn delete(db: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(DELETE).bind(id).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] =
    &[FIND, FIND_WITH_ACCESS_STATUS, INSERT, LIST, UPDATE, SET_SECRET, DELETE];
