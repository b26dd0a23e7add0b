//! Authorization codes: issued at the authorization endpoint, redeemed once
//! at the token endpoint (RFC 6749 §4.1, RFC 7636).

use std::time::Duration;

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::client::{Client, GrantType};
use idp_core::ids::{AuthorizationCodeId, ClientId, SessionId};
use idp_core::opaque::{PlainToken, TokenKind};
use idp_core::pkce;
use idp_core::scope::{self, Scope};
use idp_core::secret_hash::SecretHash;
use idp_core::session::{EndReason, RequestOrigin, Session};
use idp_core::user::User;
use idp_store::StoreError;
use idp_store::repo::authorization_codes::{self, AuthorizationCode};
use idp_store::repo::browser_sessions::BrowserSession;
use idp_store::repo::{refresh_tokens, sessions, users};

use super::audit;
use super::failure::{Failure, failure_from};
use super::sessions::refresh_token_for;
use crate::state::AppState;

/// How long a code lives (RFC 6749 §4.1.2 recommends at most ten minutes;
/// a minute is plenty for a redirect and a back-channel call).
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// What a code is issued for: an authorization request that passed every
/// check (`oauth::authorize::validate`).
#[derive(Debug)]
pub struct CodeRequest<'a> {
    pub client_id: &'a ClientId,
    pub redirect_uri: &'a str,
    pub scope: &'a Scope,
    pub nonce: Option<&'a str>,
    /// An S256 challenge (the only method accepted).
    pub code_challenge: Option<&'a str>,
}

/// Issues a code for a validated request and a logged-in browser.
pub async fn issue_code(
    state: &AppState,
    request: &CodeRequest<'_>,
    browser: &BrowserSession,
) -> Result<PlainToken, StoreError> {
    let now = state.now();
    let code = PlainToken::generate(TokenKind::AuthorizationCode);
    let record = AuthorizationCode {
        id: AuthorizationCodeId::new(),
        client_id: request.client_id.clone(),
        user_id: browser.user_id,
        browser_session_id: Some(browser.id),
        redirect_uri: request.redirect_uri.to_owned(),
        scope: request.scope.to_string(),
        nonce: request.nonce.map(str::to_owned),
        code_challenge: request.code_challenge.map(str::to_owned),
        code_challenge_method: request.code_challenge.map(|_| pkce::S256.to_owned()),
        resource: None,
        auth_time: browser.auth_time,
        created_at: now,
        expires_at: now + CODE_LIFETIME,
        consumed_at: None,
        issued_session_id: None,
        user_stamp: browser.user_stamp,
    };
    let mut tx = state.db.write().await?;
    authorization_codes::insert(&mut tx, &record, &code.hash()).await?;
    tx.commit().await?;
    Ok(code)
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(ExchangeError);

/// A redeemed code: the new session and what the tokens need.
#[derive(Debug)]
pub struct Redeemed {
    pub session: Session,
    pub user: User,
    pub roles: Vec<String>,
    pub scope: Scope,
    pub nonce: Option<String>,
    pub refresh_token: Option<PlainToken>,
}

/// What the token request presented with the code.
#[derive(Debug)]
pub struct Redemption<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// Redeems a code once. A second redemption fails and revokes the session
/// the first one created, with every token of it (RFC 6749 §4.1.2). Any
/// failed check after the code was consumed leaves it consumed: a stolen
/// code gets one try.
pub async fn redeem(
    state: &AppState,
    client: &Client,
    presented: Redemption<'_>,
    origin: &RequestOrigin,
) -> Result<Redeemed, ExchangeError> {
    let hash = SecretHash::of(presented.code);
    let now = state.now();
    let mut tx = state.db.write().await?;
    let Some(code) = authorization_codes::consume(&mut tx, &hash, now).await? else {
        let replayed = authorization_codes::find_by_hash(&mut *tx, &hash)
            .await?
            .filter(|c| c.consumed_at.is_some());
        if let Some(code) = replayed {
            if let Some(session) = code.issued_session_id {
                sessions::revoke(&mut tx, session, now, EndReason::CodeReuse).await?;
                refresh_tokens::revoke_for_session(&mut tx, session, now).await?;
            }
            let events = [AuditEvent::new(EventKind::TokenReuseDetected, Outcome::Failure, now)
                .subject(code.user_id)
                .client(&code.client_id)
                .origin(origin)
                .detail("token_type", "authorization_code")];
            audit::write(&mut tx, &events).await?;
            tx.commit().await?;
            audit::emit(&events);
            tracing::warn!(client = %code.client_id, "authorization code replayed; its tokens were revoked");
            return Err(ExchangeError::InvalidGrant("The authorization code was already used"));
        }
        return Err(ExchangeError::InvalidGrant("Invalid or expired authorization code"));
    };
    if let Err(reason) = check(&code, client, &presented) {
        tx.commit().await?;
        return Err(ExchangeError::InvalidGrant(reason));
    }
    // The user's row is locked from here on, so a password, role or status
    // change either came first (and voids the code) or ends the session
    // written here (see `sessions::start`).
    let unchanged = users::lock_unchanged(&mut tx, code.user_id, code.user_stamp).await?;
    let user = match unchanged {
        true => users::find_by_id(&mut *tx, code.user_id).await?,
        false => None,
    };
    let Some(user) = user.filter(|u| !u.issued_before_change(code.auth_time.as_secs())) else {
        tx.commit().await?;
        return Err(ExchangeError::InvalidGrant("The user's login is no longer valid"));
    };
    let roles = users::roles_of(&mut *tx, user.id).await?;
    let scope = Scope::parse(&code.scope).unwrap_or_default();
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        client_id: client.id.clone(),
        browser_session_id: code.browser_session_id,
        scope: code.scope.clone(),
        roles: roles.clone(),
        auth_time: code.auth_time,
        created_at: now,
        last_used_at: now,
        expires_at: now + state.settings.session_max_lifetime,
        revoked_at: None,
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.clone(),
        user_stamp: code.user_stamp,
    };
    sessions::insert(&mut tx, &session).await?;
    // A refresh token for clients allowed the grant; third-party clients
    // must also have been granted offline_access (OIDC Core §11).
    let wants_refresh = client.allows_grant(GrantType::RefreshToken)
        && (client.first_party || scope.contains(scope::OFFLINE_ACCESS));
    let refresh_token = if wants_refresh {
        let (record, plain) = refresh_token_for(state, &session, client, None, now);
        refresh_tokens::insert(&mut tx, &record, &plain.hash()).await?;
        Some(plain)
    } else {
        None
    };
    authorization_codes::set_issued_session(&mut tx, code.id, session.id).await?;
    let events = [AuditEvent::new(EventKind::TokenIssued, Outcome::Success, now)
        .actor(user.id)
        .subject(user.id)
        .client(&client.id)
        .origin(origin)
        .detail("grant_type", "authorization_code")
        .detail("session", session.id.to_string())];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(Redeemed { session, user, roles, scope, nonce: code.nonce, refresh_token })
}

/// The bindings of a code (RFC 6749 §4.1.3, RFC 7636 §4.6).
fn check(
    code: &AuthorizationCode,
    client: &Client,
    presented: &Redemption<'_>,
) -> Result<(), &'static str> {
    if code.client_id != client.id {
        return Err("The authorization code was issued to another client");
    }
    if presented.redirect_uri != Some(code.redirect_uri.as_str()) {
        return Err("redirect_uri does not match the authorization request");
    }
    match (code.code_challenge.as_deref(), presented.code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err("The code_verifier does not match the code_challenge"),
        (Some(_), None) => Err("code_verifier is required"),
        // A verifier for a code issued without a challenge is a downgrade
        // attempt (OAuth 2.1 §4.1.3).
        (None, Some(_)) => Err("No code_challenge was sent with the authorization request"),
        (None, None) => Ok(()),
    }
}
