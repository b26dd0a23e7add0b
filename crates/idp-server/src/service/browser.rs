//! Browser sessions: the login a browser keeps at the authorization
//! endpoint (the `idp_session` cookie), from which authorization codes are
//! issued without asking for the password again.

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::ids::{BrowserSessionId, SessionId, UserId};
use idp_core::opaque::{PlainToken, TokenKind};
use idp_core::secret_hash::SecretHash;
use idp_core::session::{EndReason, RequestOrigin};
use idp_core::token::IdClaims;
use idp_core::user::User;
use idp_store::StoreError;
use idp_store::repo::browser_sessions::{self, BrowserSession};
use idp_store::repo::{refresh_tokens, sessions, users};

use super::audit;
use crate::state::AppState;

/// The cookie's name on an http issuer; an https issuer uses
/// `__Host-idp_session` (see `http::browser::cookies`, the only reader).
pub const COOKIE: &str = "idp_session";

/// The row id of a cookie value: the first 128 bits of its SHA-256, as a
/// UUID (version 8, "custom"). The table never holds the cookie itself.
pub fn id_of(cookie: &str) -> BrowserSessionId {
    let hash = SecretHash::of(cookie);
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = hash
            .as_str()
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or_default();
    }
    BrowserSessionId::from_uuid(uuid::Uuid::new_v8(bytes))
}

/// A fresh login: the row, and the cookie value to set. `None` when the
/// user changed since `user` was read (see `sessions::start`).
pub async fn start(
    state: &AppState,
    user: &User,
    origin: &RequestOrigin,
) -> Result<Option<(BrowserSession, PlainToken)>, StoreError> {
    let now = state.now();
    let cookie = PlainToken::generate(TokenKind::BrowserSession);
    let session = BrowserSession {
        id: id_of(cookie.expose()),
        user_id: user.id,
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.settings.session_max_lifetime,
        ended_at: None,
        user_stamp: user.security_stamp,
    };
    let events = [AuditEvent::new(EventKind::LoginSucceeded, Outcome::Success, now)
        .actor(user.id)
        .subject(user.id)
        .origin(origin)
        .detail("method", "login_form")];
    let mut tx = state.db.write().await?;
    if !users::lock_unchanged(&mut tx, user.id, user.security_stamp).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    browser_sessions::insert(&mut tx, &session, origin.ip.as_deref(), origin.user_agent.as_deref())
        .await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(Some((session, cookie)))
}

/// The live session a cookie names, with its user — `None` when the cookie
/// is unknown or ended, the user is gone or disabled, or the user's
/// password or roles changed since the login (the change ends the browser
/// session too; the stamp and `tokens_valid_after` also catch sign-ins
/// older than that rule).
pub async fn current(
    state: &AppState,
    cookie: Option<&str>,
) -> Result<Option<(BrowserSession, User)>, StoreError> {
    let Some(cookie) = cookie.filter(|c| c.len() <= 128) else { return Ok(None) };
    let now = state.now();
    let Some(session) = browser_sessions::find_active(state.db.read(), id_of(cookie), now).await?
    else {
        return Ok(None);
    };
    let Some(user) = users::find_by_id(state.db.read(), session.user_id).await? else {
        return Ok(None);
    };
    if !user.accepts(session.user_stamp) || user.issued_before_change(session.auth_time.as_secs()) {
        return Ok(None);
    }
    Ok(Some((session, user)))
}

/// Logout: ends the browser session and every session (refresh family)
/// issued from it.
pub async fn end(
    state: &AppState,
    id: BrowserSessionId,
    user: Option<UserId>,
    origin: &RequestOrigin,
) -> Result<u64, StoreError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    browser_sessions::end(&mut tx, id, now).await?;
    let families = sessions::for_browser_session(&mut *tx, id).await?;
    let mut ended = 0;
    for family in &families {
        if sessions::revoke(&mut tx, *family, now, EndReason::Logout).await? {
            ended += 1;
        }
        refresh_tokens::revoke_for_session(&mut tx, *family, now).await?;
    }
    let mut event = AuditEvent::new(EventKind::SessionEnded, Outcome::Success, now)
        .origin(origin)
        .detail("reason", "logout")
        .detail("sessions_ended", ended);
    if let Some(user) = user {
        event = event.actor(user).subject(user);
    }
    let events = [event];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(ended)
}

/// Logout with an ID token hint (OIDC RP-Initiated Logout §2): ends the
/// session (refresh family) the hint's `sid` names, audited like any other
/// end of a session. `actor` is the user who signed out in the browser,
/// when there is one; otherwise the hint's subject. `false` when the
/// session had already ended (nothing is written then).
pub async fn end_hinted(
    state: &AppState,
    hint: &IdClaims,
    actor: Option<UserId>,
    origin: &RequestOrigin,
) -> Result<bool, StoreError> {
    let Some(id) = hint.sid.as_deref().and_then(|sid| sid.parse::<SessionId>().ok()) else {
        return Ok(false);
    };
    let subject = hint.sub.parse::<UserId>().ok();
    let now = state.now();
    let mut tx = state.db.write().await?;
    let ended = sessions::revoke(&mut tx, id, now, EndReason::Logout).await?;
    refresh_tokens::revoke_for_session(&mut tx, id, now).await?;
    let mut events = Vec::new();
    if ended {
        let mut event = AuditEvent::new(EventKind::SessionEnded, Outcome::Success, now)
            .client(&hint.aud)
            .origin(origin)
            .detail("reason", "logout")
            .detail("via", "id_token_hint")
            .detail("session", id.to_string());
        if let Some(actor) = actor.or(subject) {
            event = event.actor(actor);
        }
        if let Some(subject) = subject {
            event = event.subject(subject);
        }
        events.push(event);
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(ended)
}
