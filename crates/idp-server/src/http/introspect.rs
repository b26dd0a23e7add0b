//! `/auth/introspect` (RFC 7662).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use idp_core::secret_hash::SecretHash;
use idp_core::token::Audience;
use idp_store::repo::{refresh_tokens, sessions, users};
use serde::Serialize;

use super::form::FormFields;
use super::oauth_error::OAuthError;
use crate::oauth::client_auth::{self, Presented};
use crate::state::AppState;

/// An introspection answer: `{"active": false}` for anything not live.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub aud: Option<Audience>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Tells a confidential client (a resource server) whether a token is live:
/// signature, expiry, its session and revocation are all checked, so a
/// token invalidated by a password or role change is `active: false` at
/// once.
#[utoipa::path(
    post,
    path = "/auth/introspect",
    tag = "oauth",
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = Introspection),
        (status = 401, body = super::oauth_error::OAuthErrorBody, description = "invalid_client: confidential clients only")
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Response, OAuthError> {
    let presented = Presented::from_request(&headers, &form)?;
    let basic = matches!(presented, Presented::Basic { .. });
    let client = client_auth::authenticate(&state, &presented).await?;
    let Some(_client) = client.filter(|c| c.is_confidential()) else {
        let err =
            OAuthError::invalid_client("Introspection needs a confidential client's credentials.");
        return Err(if basic { err.with_basic_challenge() } else { err });
    };
    let token = form.required("token")?;
    let refresh_first = form.get("token_type_hint") == Some("refresh_token");
    let answer = if refresh_first {
        match refresh(&state, token).await? {
            Some(answer) => answer,
            None => access(&state, token).await?.unwrap_or_default(),
        }
    } else {
        match access(&state, token).await? {
            Some(answer) => answer,
            None => refresh(&state, token).await?.unwrap_or_default(),
        }
    };
    let mut response = axum::Json(answer).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn access(state: &AppState, token: &str) -> Result<Option<Introspection>, OAuthError> {
    use crate::service::bearer::BearerError;
    match state.bearer.verify_any_audience(token, state.now()).await {
        Ok(verified) => {
            let username = match verified.user_id {
                Some(id) => users::find_by_id(state.db.pool(), id).await?.map(|u| u.username),
                None => None,
            };
            let c = verified.claims;
            Ok(Some(Introspection {
                active: true,
                scope: Some(c.scope),
                client_id: Some(c.client_id),
                username,
                token_type: Some("access_token"),
                exp: Some(c.exp),
                iat: Some(c.iat),
                sub: Some(c.sub),
                aud: Some(c.aud),
                iss: Some(c.iss),
                jti: Some(c.jti),
                sid: c.sid,
            }))
        }
        Err(BearerError::Store(e)) => Err(e.into()),
        // Ours but no longer live: inactive. Not a JWT of ours: maybe a refresh token.
        Err(BearerError::SessionEnded | BearerError::Revoked) => Ok(Some(Introspection::default())),
        Err(_) => Ok(None),
    }
}

async fn refresh(state: &AppState, token: &str) -> Result<Option<Introspection>, OAuthError> {
    let Some(record) =
        refresh_tokens::find_by_hash(state.db.pool(), &SecretHash::of(token)).await?
    else {
        return Ok(None);
    };
    let now = state.now();
    let session = sessions::find(state.db.pool(), record.session_id).await?;
    let live = record.consumed_at.is_none()
        && record.revoked_at.is_none()
        && record.expires_at > now
        && session.as_ref().is_some_and(|s| s.is_active(now));
    let Some(session) = session.filter(|_| live) else { return Ok(Some(Introspection::default())) };
    let username = users::find_by_id(state.db.pool(), session.user_id).await?.map(|u| u.username);
    Ok(Some(Introspection {
        active: true,
        scope: Some(session.scope.clone()),
        client_id: Some(record.client_id.to_string()),
        username,
        token_type: Some("refresh_token"),
        exp: Some(record.expires_at.as_secs()),
        iat: Some(record.issued_at.as_secs()),
        sub: Some(session.user_id.to_string()),
        aud: None,
        iss: Some(state.settings.issuer.clone()),
        jti: None,
        sid: Some(session.id.to_string()),
    }))
}

#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct IntrospectForm {
    token: String,
    /// `access_token` or `refresh_token`: where to look first.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}
