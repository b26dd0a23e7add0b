//! `/admin/keys`: the signing keys, and rotating them from any node.

use axum::extract::State;
use axum::http::StatusCode;
use idp_store::repo::signing_keys;
use serde::{Deserialize, Serialize};

use crate::http::authz::{AdminRole, Require};
use crate::http::error::ApiError;
use crate::http::extract::{Json, Query};
use crate::http::openapi::responses::{Conflict, GuardedErrors, Unprocessable};
use crate::service::keys::KeyRingError;
use crate::state::AppState;

/// A signing key (never its private part).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyOut {
    pub kid: String,
    pub alg: String,
    /// `false` once a successor has taken over signing.
    pub active: bool,
    /// `generated` (sealed in the database) or `file` (`PRIVATE_KEY_PATH`).
    pub source: &'static str,
    pub created_at: String,
    pub signs_from: String,
    pub retired_at: Option<String>,
    /// Removed from the JWKS after this time.
    pub published_until: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RotateQuery {
    /// Sign with the new key at once (after a compromise) instead of after
    /// the ten-minute publication delay.
    #[serde(default)]
    pub immediately: bool,
}

/// A key a rotation added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedKey {
    pub kid: String,
    pub alg: String,
    pub signs_from: String,
}

/// What a rotation added: a key for every algorithm in use.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedOut {
    /// The first of `keys`: the configured algorithm's key (or, when that
    /// comes from PRIVATE_KEY_PATH, the RS256 key beside it).
    pub kid: String,
    pub alg: String,
    pub signs_from: String,
    /// One per algorithm in use: `ALGORITHM`'s and, when that is not
    /// RS256, an RS256 key.
    pub keys: Vec<RotatedKey>,
}

/// Every signing key, published or retired.
#[utoipa::path(get, path = "/admin/keys", operation_id = "list_keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<KeyOut>), GuardedErrors))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<AdminRole>,
) -> Result<Json<Vec<KeyOut>>, ApiError> {
    let keys = signing_keys::all(state.db.read()).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| KeyOut {
                source: if k.private_key_sealed.is_empty() { "file" } else { "generated" },
                kid: k.kid,
                alg: k.alg,
                active: k.active,
                created_at: k.created_at.to_rfc3339(),
                signs_from: k.signs_from.to_rfc3339(),
                retired_at: k.retired_at.map(|t| t.to_rfc3339()),
                published_until: k.expires_at.map(|t| t.to_rfc3339()),
            })
            .collect(),
    ))
}

/// Adds a signing key for every algorithm in use: the configured one and,
/// when that is not RS256, RS256 (a PRIVATE_KEY_PATH key is rotated by
/// replacing the file). Each is published at once and signs after ten
/// minutes (or now with `immediately=true`); the older keys of its algorithm
/// stay published until their tokens have expired. This node uses them at
/// once, the others within `KEYS_REFRESH_SECONDS`. 409 when the only key
/// comes from `PRIVATE_KEY_PATH`.
#[utoipa::path(post, path = "/admin/keys/rotate", operation_id = "rotate_keys", tag = "admin", security(("bearer" = [])),
    params(RotateQuery),
    responses((status = 201, body = RotatedOut), GuardedErrors,
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable)))]
pub async fn rotate(
    State(state): State<AppState>,
    Require(admin, ..): Require<AdminRole>,
    Query(q): Query<RotateQuery>,
) -> Result<(StatusCode, Json<RotatedOut>), ApiError> {
    let keys = state.keys.rotate(q.immediately, &admin.user.id.to_string()).await.map_err(
        |err| match err {
            KeyRingError::FileManaged => ApiError::conflict(err.to_string()),
            KeyRingError::Store(store) => store.into(),
            other => ApiError::Internal(other.into()),
        },
    )?;
    let keys: Vec<RotatedKey> = keys
        .into_iter()
        .map(|key| RotatedKey {
            kid: key.kid,
            alg: key.alg.as_str().to_owned(),
            signs_from: key.signs_from.to_rfc3339(),
        })
        .collect();
    let first = keys.first().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no key added")))?;
    Ok((
        StatusCode::CREATED,
        Json(RotatedOut {
            kid: first.kid.clone(),
            alg: first.alg.clone(),
            signs_from: first.signs_from.clone(),
            keys,
        }),
    ))
}
