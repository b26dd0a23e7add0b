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

/// The key a rotation added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedOut {
    pub kid: String,
    pub alg: String,
    pub signs_from: String,
}

/// Every signing key, published or retired.
#[utoipa::path(get, path = "/admin/keys", operation_id = "list_keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<KeyOut>), GuardedErrors))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<AdminRole>,
) -> Result<Json<Vec<KeyOut>>, ApiError> {
    let keys = signing_keys::all(state.db.pool()).await?;
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

/// Adds a signing key of the configured algorithm. It is published at
/// once; it signs after ten minutes (or now with `immediately=true`), and
/// the older keys stay published until their tokens have expired. This node
/// uses it at once, the others within `KEYS_REFRESH_SECONDS`. 409 when the
/// key comes from `PRIVATE_KEY_PATH`.
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
    let key = state.keys.rotate(q.immediately, &admin.user.id.to_string()).await.map_err(
        |err| match err {
            KeyRingError::FileManaged => ApiError::conflict(err.to_string()),
            KeyRingError::Store(store) => store.into(),
            other => ApiError::Internal(other.into()),
        },
    )?;
    Ok((
        StatusCode::CREATED,
        Json(RotatedOut {
            kid: key.kid,
            alg: key.alg.as_str().to_owned(),
            signs_from: key.signs_from.to_rfc3339(),
        }),
    ))
}
