//! `/auth/introspect` (RFC 7662).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use idp_core::secret_hash::SecretHash;
use idp_core::token::Audience;
use idp_store::repo::sessions::{self, AccessStatus};
use idp_store::repo::{clients, refresh_tokens, users};
use serde::Serialize;

use super::openapi::responses::OAuthFormErrors;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormFields;
use crate::service::bearer::{self, BearerError, VerifiedAccess};
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
    security((), ("client_secret_basic" = [])),
    request_body(content(
        (IntrospectForm = "application/x-www-form-urlencoded"),
        (IntrospectForm = "multipart/form-data")
    )),
    responses(
        (status = 200, body = Introspection, headers(("Cache-Control" = String, description = "`no-store`"))),
        OAuthFormErrors
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormFields,
) -> Result<Response, OAuthError> {
    let presented = Presented::from_request(&headers, &form)?;
    let basic = matches!(presented, Presented::Basic { .. });
    let refused = || {
        let err =
            OAuthError::invalid_client("Introspection needs a confidential client's credentials.");
        if basic { err.with_basic_challenge() } else { err }
    };
    let Some(client_id) = presented.lookup_id()? else { return Err(refused()) };
    let now = state.now();
    let pool = state.db.pool();
    let refresh_first = form.get("token_type_hint") == Some("refresh_token");
    // An access token's signature and claims need no database; checking them
    // first lets the client and the token's status come in one query.
    let signed = match form.get("token") {
        Some(token) if !refresh_first => {
            Some(state.bearer.check_signed_any_audience(token, now).await)
        }
        _ => None,
    };
    let (found, status) = match &signed {
        Some(Ok(access)) => {
            let session = access.session_id;
            match clients::find_with_access_status(
                pool,
                client_id,
                session,
                &access.claims.jti,
                now,
            )
            .await?
            {
                Some((client, status)) => (Some(client), Some(status)),
                None => (None, None),
            }
        }
        _ => (clients::find(pool, client_id).await?, None),
    };
    if !client_auth::check(&presented, found)?.is_confidential() {
        return Err(refused());
    }
    let token = form.required("token")?;
    let answer = match signed {
        Some(signed) => match access(&state, signed, status).await? {
            Some(answer) => answer,
            None => refresh(&state, token).await?.unwrap_or_default(),
        },
        None => match refresh(&state, token).await? {
            Some(answer) => answer,
            None => {
                let signed = state.bearer.check_signed_any_audience(token, now).await;
                access(&state, signed, None).await?.unwrap_or_default()
            }
        },
    };
    let mut response = axum::Json(answer).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The answer for an access token whose signature and claims were checked
/// (`signed`); `status` is fetched here unless the caller already has it.
/// `None`: not an access token of ours — maybe a refresh token.
async fn access(
    state: &AppState,
    signed: Result<VerifiedAccess, BearerError>,
    status: Option<AccessStatus>,
) -> Result<Option<Introspection>, OAuthError> {
    let verified = match signed {
        Ok(verified) => verified,
        Err(BearerError::Store(e)) => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let status = match status {
        Some(status) => status,
        None => {
            let (session, jti) = (verified.session_id, &verified.claims.jti);
            sessions::access_status(state.db.pool(), session, jti, state.now()).await?
        }
    };
    if bearer::usable(status).is_err() {
        // Ours but no longer live: inactive.
        return Ok(Some(Introspection::default()));
    }
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

async fn refresh(state: &AppState, token: &str) -> Result<Option<Introspection>, OAuthError> {
    let Some((record, session, user)) =
        refresh_tokens::find_with_session(state.db.pool(), &SecretHash::of(token)).await?
    else {
        return Ok(None);
    };
    let now = state.now();
    let live = record.is_live(now) && session.is_live(now, user);
    if !live {
        return Ok(Some(Introspection::default()));
    }
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
    #[schema(min_length = 1)]
    token: String,
    /// `access_token` or `refresh_token`: where to look first.
    #[schema(nullable = false)]
    token_type_hint: Option<String>,
    /// With `client_secret` (or HTTP Basic): confidential clients only.
    #[schema(nullable = false)]
    client_id: Option<String>,
    #[schema(nullable = false)]
    client_secret: Option<String>,
}
