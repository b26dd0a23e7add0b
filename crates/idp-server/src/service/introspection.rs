//! Introspection (RFC 7662): whether a token is live, and what it says,
//! for a resource server. Signature, expiry, session (and its user) and
//! revocation are all checked, so a token invalidated by a password or role
//! change is `active: false` at once.

use idp_core::client::Client;
use idp_core::secret_hash::SecretHash;
use idp_core::token::Audience;
use idp_store::repo::sessions::{self, AccessStatus};
use idp_store::repo::{clients, refresh_tokens, users};
use serde::Serialize;

use super::Failure;
use super::bearer::{self, BearerError, VerifiedAccess};
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

/// What the first step found: the asking client and, for a token that
/// checked out as one of our access tokens, its status — one query for both.
#[derive(Debug)]
pub struct Lookup {
    /// The client named by `client_id`, for the caller to authenticate.
    pub client: Option<Client>,
    signed: Option<Result<VerifiedAccess, BearerError>>,
    status: Option<AccessStatus>,
}

/// Looks up the asking client, together with the status of `token` when it
/// is (by its signature and claims, which need no database) one of our
/// access tokens. `refresh_first` (`token_type_hint=refresh_token`) skips
/// that.
pub async fn lookup(
    state: &AppState,
    client_id: &str,
    token: Option<&str>,
    refresh_first: bool,
) -> Result<Lookup, Failure> {
    let now = state.now();
    let pool = state.db.read();
    let signed = match token {
        Some(token) if !refresh_first => {
            Some(state.bearer.check_signed_any_audience(token, now).await)
        }
        _ => None,
    };
    let (client, status) = match &signed {
        Some(Ok(access)) => {
            let (session, jti) = (access.session_id, &access.claims.jti);
            match clients::find_with_access_status(pool, client_id, session, jti, now).await? {
                Some((client, status)) => (Some(client), Some(status)),
                None => (None, None),
            }
        }
        _ => (clients::find(pool, client_id).await?, None),
    };
    Ok(Lookup { client, signed, status })
}

/// The answer about `token`, once the caller has authenticated the client
/// [`lookup`] found. Anything not ours or not live is `active: false`.
pub async fn answer(
    state: &AppState,
    lookup: Lookup,
    token: &str,
) -> Result<Introspection, Failure> {
    let answer = match lookup.signed {
        Some(signed) => match access(state, signed, lookup.status).await? {
            Some(answer) => answer,
            None => refresh(state, token).await?.unwrap_or_default(),
        },
        None => match refresh(state, token).await? {
            Some(answer) => answer,
            None => {
                let signed = state.bearer.check_signed_any_audience(token, state.now()).await;
                access(state, signed, None).await?.unwrap_or_default()
            }
        },
    };
    Ok(answer)
}

/// The answer for an access token whose signature and claims were checked
/// (`signed`); `status` is fetched here unless the caller already has it.
/// `None`: not an access token of ours — maybe a refresh token.
async fn access(
    state: &AppState,
    signed: Result<VerifiedAccess, BearerError>,
    status: Option<AccessStatus>,
) -> Result<Option<Introspection>, Failure> {
    let verified = match signed {
        Ok(verified) => verified,
        Err(BearerError::Store(e)) => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    let status = match status {
        Some(status) => status,
        None => {
            let (session, jti) = (verified.session_id, &verified.claims.jti);
            sessions::access_status(state.db.read(), session, jti, state.now()).await?
        }
    };
    if bearer::usable(status).is_err() {
        // Ours but no longer live: inactive.
        return Ok(Some(Introspection::default()));
    }
    let username = match verified.user_id {
        Some(id) => users::find_by_id(state.db.read(), id).await?.map(|u| u.username),
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

async fn refresh(state: &AppState, token: &str) -> Result<Option<Introspection>, Failure> {
    let Some((record, session, user)) =
        refresh_tokens::find_with_session(state.db.read(), &SecretHash::of(token)).await?
    else {
        return Ok(None);
    };
    let now = state.now();
    let live = record.is_live(now) && session.is_live(now, user);
    if !live {
        return Ok(Some(Introspection::default()));
    }
    let username = users::find_by_id(state.db.read(), session.user_id).await?.map(|u| u.username);
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
