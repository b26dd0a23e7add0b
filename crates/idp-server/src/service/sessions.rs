//! Starting login sessions: a session row, its first refresh token, and the
//! audit trail, in one transaction.

use idp_core::audit::AuditEvent;
use idp_core::client::Client;
use idp_core::clock::UnixTime;
use idp_core::ids::{BrowserSessionId, RefreshTokenId, SessionId};
use idp_core::opaque::{PlainToken, TokenKind};
use idp_core::scope::Scope;
use idp_core::session::{RequestOrigin, Session};
use idp_core::user::User;
use idp_store::StoreError;
use idp_store::repo::refresh_tokens::{self, RefreshToken};
use idp_store::repo::{sessions, users};

use super::audit;
use crate::state::AppState;

/// What a new session is for.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// The user as read before the password was checked.
    pub user: &'a User,
    pub client: &'a Client,
    pub scope: &'a Scope,
    pub auth_time: UnixTime,
    pub browser_session_id: Option<BrowserSessionId>,
    pub origin: &'a RequestOrigin,
}

/// Creates the session and its first refresh token; writes `events` (plus
/// nothing else) in the same transaction. The session carries the roles the
/// user holds as it is written.
///
/// `None` when the user changed since `new.user` was read (password, roles,
/// disabled, deleted): nothing is written, and the caller checks the
/// credentials again against what is current.
pub async fn start(
    state: &AppState,
    new: NewSession<'_>,
    events: &[AuditEvent],
) -> Result<Option<(Session, PlainToken)>, StoreError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    if !users::lock_unchanged(&mut tx, new.user.id, new.user.security_stamp).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    // Read under the user's lock: a role change either committed before it
    // (these are the new roles) or waits for this transaction and then ends
    // the session written here.
    let roles = users::roles_of(&mut *tx, new.user.id).await?;
    let session = Session {
        id: SessionId::new(),
        user_id: new.user.id,
        client_id: new.client.id.clone(),
        browser_session_id: new.browser_session_id,
        scope: new.scope.to_string(),
        roles,
        auth_time: new.auth_time,
        created_at: now,
        last_used_at: now,
        expires_at: now + state.settings.session_max_lifetime,
        revoked_at: None,
        ip: new.origin.ip.clone(),
        user_agent: new.origin.user_agent.clone(),
        user_stamp: new.user.security_stamp,
    };
    let (record, token) = refresh_token_for(state, &session, new.client, None, now);
    sessions::insert(&mut tx, &session).await?;
    refresh_tokens::insert(&mut tx, &record, &token.hash()).await?;
    let events: Vec<AuditEvent> =
        events.iter().cloned().map(|e| e.detail("session", session.id.to_string())).collect();
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(Some((session, token)))
}

/// The refresh token that goes with a new session, or with a rotation.
pub fn refresh_token_for(
    state: &AppState,
    session: &Session,
    client: &Client,
    parent: Option<RefreshTokenId>,
    now: UnixTime,
) -> (RefreshToken, PlainToken) {
    let ttl = client.refresh_token_ttl.unwrap_or(state.settings.refresh_token_ttl);
    // Sliding expiry, never past the session's absolute cap.
    let expires_at = (now + ttl).min(session.expires_at);
    let record = RefreshToken {
        id: RefreshTokenId::new(),
        session_id: session.id,
        parent_id: parent,
        client_id: client.id.clone(),
        issued_at: now,
        expires_at,
        consumed_at: None,
        revoked_at: None,
    };
    (record, PlainToken::generate(TokenKind::RefreshToken))
}
