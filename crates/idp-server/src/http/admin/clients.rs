//! `/admin/clients`

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use idp_core::client::{ClientType, GrantType};
use idp_core::client_registration;
use idp_core::jose::Algorithm;
use serde::Deserialize;

use crate::http::authz::{ClientsRead, ClientsWrite, Require};
use crate::http::error::{ApiError, FieldError};
use crate::http::extract::{Json, Origin, Path};
use crate::http::openapi::responses::{
    BadRequest, Conflict, GuardedErrors, JsonBodyErrors, NotFound,
};
use crate::http::views::ClientOut;
use crate::service::admin::Actor;
use crate::service::clients::{self, ClientChange, ClientSpec};
use crate::state::AppState;

#[utoipa::path(get, path = "/admin/clients", operation_id = "list_clients", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ClientOut]), GuardedErrors))]
pub async fn list(
    State(state): State<AppState>,
    _: Require<ClientsRead>,
) -> Result<Json<Vec<ClientOut>>, ApiError> {
    Ok(Json(clients::list(&state).await?.iter().map(|c| ClientOut::of(c, None)).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    /// Optional: generated when absent.
    pub client_id: Option<String>,
    pub name: String,
    /// `public` (SPA, mobile: PKCE, no secret) or `confidential` (a backend).
    #[schema(value_type = String, example = "public")]
    pub client_type: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: `["authorization_code", "refresh_token"]`.
    pub grant_types: Option<Vec<String>>,
    /// Default: `openid profile email roles` (+ `offline_access` with refresh_token).
    pub scopes: Option<Vec<String>>,
    /// Trusted: no consent page.
    #[serde(default)]
    pub first_party: bool,
    /// At most 86400.
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    /// The JWS algorithm of this client's ID tokens (OIDC Dynamic Client
    /// Registration §2), one of discovery's
    /// `id_token_signing_alg_values_supported`. Default: `ALGORITHM`.
    #[schema(example = "RS256")]
    pub id_token_signed_response_alg: Option<String>,
}

fn grant_types(names: &[String]) -> Result<Vec<GrantType>, ApiError> {
    names.iter().map(|g| g.parse::<GrantType>()).collect::<Result<Vec<_>, _>>().map_err(|_| {
        ApiError::Validation(vec![FieldError::new(
            "grant_types",
            "each must be one of authorization_code, refresh_token, password, client_credentials",
        )])
    })
}

fn id_token_alg(state: &AppState, name: &str) -> Result<Algorithm, ApiError> {
    client_registration::id_token_alg(name, state.settings.algorithm).map_err(|message| {
        ApiError::Validation(vec![FieldError::new("id_token_signed_response_alg", message)])
    })
}

/// Registers a client. Confidential clients get a `client_secret` in this
/// response only; store it now.
#[utoipa::path(post, path = "/admin/clients", operation_id = "create_client", tag = "admin", security(("bearer" = [])), request_body = CreateClient,
    responses((status = 201, body = ClientOut), GuardedErrors, JsonBodyErrors, (status = 409, response = Conflict)))]
pub async fn create(
    State(state): State<AppState>,
    Require(admin, ..): Require<ClientsWrite>,
    Origin(origin): Origin,
    Json(body): Json<CreateClient>,
) -> Result<(StatusCode, Json<ClientOut>), ApiError> {
    let client_type: ClientType = body.client_type.parse().map_err(|_| {
        ApiError::Validation(vec![FieldError::new("client_type", "must be public or confidential")])
    })?;
    let grants = match &body.grant_types {
        Some(names) => grant_types(names)?,
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    };
    let spec = ClientSpec {
        id: body.client_id,
        name: body.name,
        client_type,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        scopes: body.scopes.unwrap_or_else(|| clients::default_scopes(&grants)),
        grant_types: grants,
        first_party: body.first_party,
        access_token_ttl: body.access_token_ttl_secs.map(Duration::from_secs),
        refresh_token_ttl: body.refresh_token_ttl_secs.map(Duration::from_secs),
        id_token_signed_response_alg: body
            .id_token_signed_response_alg
            .as_deref()
            .map(|name| id_token_alg(&state, name))
            .transpose()?,
    };
    let (client, secret) =
        clients::create(&state, &Actor::user(admin.user.id, origin), spec).await?;
    Ok((StatusCode::CREATED, Json(ClientOut::of(&client, secret.map(|s| s.into_string())))))
}

#[utoipa::path(get, path = "/admin/clients/{id}", operation_id = "get_client", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ClientOut), GuardedErrors, (status = 400, response = BadRequest),
        (status = 404, response = NotFound)))]
pub async fn get(
    State(state): State<AppState>,
    _: Require<ClientsRead>,
    Path(id): Path<String>,
) -> Result<Json<ClientOut>, ApiError> {
    Ok(Json(ClientOut::of(&clients::get(&state, &id).await?, None)))
}

/// `PATCH` body: fields present are replaced.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    /// One of discovery's `id_token_signing_alg_values_supported`; `null`
    /// goes back to `ALGORITHM`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "RS256")]
    pub id_token_signed_response_alg: Option<Option<String>>,
}

/// Tells `null` (clear the field) from an absent field (keep it).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[utoipa::path(patch, path = "/admin/clients/{id}", operation_id = "update_client", tag = "admin", security(("bearer" = [])), request_body = UpdateClient,
    params(("id" = String, Path)),
    responses((status = 200, body = ClientOut), GuardedErrors, JsonBodyErrors, (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
pub async fn update(
    State(state): State<AppState>,
    Require(admin, ..): Require<ClientsWrite>,
    Origin(origin): Origin,
    Path(id): Path<String>,
    Json(body): Json<UpdateClient>,
) -> Result<Json<ClientOut>, ApiError> {
    let change = ClientChange {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        grant_types: body.grant_types.as_deref().map(grant_types).transpose()?,
        scopes: body.scopes,
        first_party: body.first_party,
        access_token_ttl: body.access_token_ttl_secs.map(|s| Some(Duration::from_secs(s))),
        refresh_token_ttl: body.refresh_token_ttl_secs.map(|s| Some(Duration::from_secs(s))),
        id_token_signed_response_alg: match body.id_token_signed_response_alg {
            Some(Some(name)) => Some(Some(id_token_alg(&state, &name)?)),
            Some(None) => Some(None),
            None => None,
        },
    };
    let client = clients::update(&state, &Actor::user(admin.user.id, origin), &id, change).await?;
    Ok(Json(ClientOut::of(&client, None)))
}

/// A new secret for a confidential client, shown in this response only;
/// the old secret stops working at once.
#[utoipa::path(post, path = "/admin/clients/{id}/secret", operation_id = "reset_client_secret", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ClientOut), GuardedErrors, (status = 400, response = BadRequest),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn reset_secret(
    State(state): State<AppState>,
    Require(admin, ..): Require<ClientsWrite>,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<Json<ClientOut>, ApiError> {
    let secret = clients::reset_secret(&state, &Actor::user(admin.user.id, origin), &id).await?;
    let client = clients::get(&state, &id).await?;
    Ok(Json(ClientOut::of(&client, Some(secret.into_string()))))
}

#[utoipa::path(delete, path = "/admin/clients/{id}", operation_id = "delete_client", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), GuardedErrors, (status = 400, response = BadRequest),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn delete(
    State(state): State<AppState>,
    Require(admin, ..): Require<ClientsWrite>,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    clients::delete(&state, &Actor::user(admin.user.id, origin), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
