//! Refresh-token rotation with reuse detection.
//!
//! Each use consumes the presented token with a conditional UPDATE and issues
//! its successor in the same transaction, so under any concurrency one token
//! yields at most one successor. A consumed token presented again means it
//! was stolen or replayed: the whole family (the session) is revoked and the
//! revocation is committed even though the request fails.

use std::time::Duration;

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::client::{Client, GrantType};
use idp_core::clock::UnixTime;
use idp_core::ids::{ClientId, SessionId};
use idp_core::opaque::PlainToken;
use idp_core::scope::Scope;
use idp_core::secret_hash::SecretHash;
use idp_core::session::{EndReason, RequestOrigin, Session};
use idp_store::repo::clients;
use idp_store::repo::refresh_tokens::{self, RefreshToken, Rotation};
use idp_store::repo::{sessions, users};
use idp_store::{AnyExecutor, StoreError, Transaction};

use super::audit;
use super::failure::{Failure, failure_from};
use super::sessions::refresh_token_for;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked, consumed (reuse), or its session ended.
    #[error("Invalid or revoked refresh token")]
    InvalidGrant,
    /// The token belongs to another client.
    #[error("The refresh token was issued to another client")]
    WrongClient,
    /// Its client is confidential and this request did not authenticate.
    #[error("Client authentication is required for this refresh token")]
    ClientAuthRequired,
    /// The client may not use the refresh token grant.
    #[error("This client may not use the refresh_token grant.")]
    GrantNotAllowed,
    /// A narrower scope was asked for, but it is not within the session's.
    #[error("A refresh cannot add scopes the session was not granted.")]
    ScopeNotGranted,
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(RefreshError);

/// Who is asking: an authenticated (or identified public) client, or a
/// request that named none (the original service's `/auth/token/refresh`).
#[derive(Debug)]
pub enum Requester<'a> {
    Client(&'a Client),
    Unidentified,
}

/// A successful rotation.
#[derive(Debug)]
pub struct Rotated {
    pub session: Session,
    pub client: Client,
    pub refresh_token: PlainToken,
    /// The scope of the new access token: the session's, or the narrower
    /// one asked for.
    pub scope: Scope,
}

/// Rotates `presented`. Every check happens before anything is written, so
/// a refused request leaves the token as it was.
///
/// The usual case — a live token presented once — is checked on a read
/// connection and written in one round trip, so that no write lock is held
/// while the checks run; so is a dead one refused. A consumed token (reuse,
/// or a retry within the grace period) and a race lost to a concurrent use
/// are decided again inside a write transaction.
pub async fn rotate(
    state: &AppState,
    presented: &str,
    requester: Requester<'_>,
    narrow_to: Option<&Scope>,
    origin: &RequestOrigin,
) -> Result<Rotated, RefreshError> {
    let p = Presentation {
        hash: SecretHash::of(presented),
        requester,
        narrow_to,
        origin,
        now: state.now(),
    };
    let now = p.now;
    let pool = state.db.read();
    let Some((token, session, user)) = refresh_tokens::find_with_session(pool, &p.hash).await?
    else {
        return Err(RefreshError::InvalidGrant);
    };
    let live = token.is_live(now);
    let replayed = token.is_replay();
    if !live && !replayed {
        // Revoked, or expired unused: refused, with nothing to write.
        return Err(RefreshError::InvalidGrant);
    }
    if replayed && session.revoked_at.is_some() {
        // A consumed token of a family that already ended (its reuse was
        // handled, or the user signed out): nothing left to revoke, and no
        // second reuse event for the same family.
        return Err(RefreshError::InvalidGrant);
    }
    if live {
        let client = resolve_client(pool, &token.client_id, &p.requester).await?;
        if !session.is_live(now, user) {
            return Err(RefreshError::InvalidGrant);
        }
        let scope = scope_for(&session, p.narrow_to)?;
        let (record, plain) = refresh_token_for(state, &session, &client, Some(token.id), now);
        let event = rotation_event(&session, &client, p.origin, now, false);
        let rotation = Rotation {
            parent: &token,
            successor: &record,
            successor_hash: &plain.hash(),
            event: &event,
            now,
        };
        if refresh_tokens::rotate(&state.db, &rotation).await? {
            audit::emit(std::slice::from_ref(&event));
            let session = Session { last_used_at: now, ..session };
            return Ok(Rotated { session, client, refresh_token: plain, scope });
        }
    }
    rotate_locked(state, &p).await
}

/// One presentation of a refresh token, as the request made it.
#[derive(Debug)]
struct Presentation<'a> {
    hash: SecretHash,
    requester: Requester<'a>,
    narrow_to: Option<&'a Scope>,
    origin: &'a RequestOrigin,
    now: UnixTime,
}

/// What the successor of a consumed token is issued for.
#[derive(Debug)]
struct Next {
    session: Session,
    client: Client,
    scope: Scope,
    /// A retry of a rotation whose response was lost (the grace period).
    grace_retry: bool,
}

/// [`rotate`] inside a write transaction, from the start.
async fn rotate_locked(state: &AppState, p: &Presentation<'_>) -> Result<Rotated, RefreshError> {
    let now = p.now;
    // BEGIN IMMEDIATE on SQLite: this transaction will write, take the lock now.
    let mut tx = state.db.write().await?;
    let Some(token) = refresh_tokens::consume(&mut tx, &p.hash, now).await? else {
        return unusable(state, tx, p).await;
    };
    let client = match resolve_client(&mut *tx, &token.client_id, &p.requester).await {
        Ok(client) => client,
        Err(err) => {
            // Not committed: the token stays unconsumed for its rightful owner.
            tx.rollback().await?;
            return Err(err);
        }
    };
    let Some(session) = live_session(&mut tx, token.session_id, now).await? else {
        tx.rollback().await?;
        return Err(RefreshError::InvalidGrant);
    };
    let scope = match scope_for(&session, p.narrow_to) {
        Ok(scope) => scope,
        Err(err) => {
            tx.rollback().await?;
            return Err(err);
        }
    };
    successor(state, tx, p, &token, Next { session, client, scope, grace_retry: false }).await
}

fn scope_for(session: &Session, narrow_to: Option<&Scope>) -> Result<Scope, RefreshError> {
    let granted = Scope::parse(&session.scope).unwrap_or_default();
    match narrow_to {
        None => Ok(granted),
        Some(asked) if asked.is_subset_of(&granted) => Ok(asked.clone()),
        Some(_) => Err(RefreshError::ScopeNotGranted),
    }
}

/// Issues the successor of `parent` and commits.
async fn successor(
    state: &AppState,
    mut tx: Transaction,
    p: &Presentation<'_>,
    parent: &RefreshToken,
    next: Next,
) -> Result<Rotated, RefreshError> {
    let Next { session, client, scope, grace_retry } = next;
    let (record, plain) = refresh_token_for(state, &session, &client, Some(parent.id), p.now);
    refresh_tokens::insert(&mut tx, &record, &plain.hash()).await?;
    let event = rotation_event(&session, &client, p.origin, p.now, grace_retry);
    let events = [event];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(Rotated { session, client, refresh_token: plain, scope })
}

fn rotation_event(
    session: &Session,
    client: &Client,
    origin: &RequestOrigin,
    now: UnixTime,
    grace_retry: bool,
) -> AuditEvent {
    let event = AuditEvent::new(EventKind::TokenRefreshed, Outcome::Success, now)
        .actor(session.user_id)
        .subject(session.user_id)
        .client(&client.id)
        .origin(origin)
        .detail("session", session.id.to_string());
    if grace_retry { event.detail("grace_retry", true) } else { event }
}

/// The token could not be consumed: find out why, and react to reuse.
async fn unusable(
    state: &AppState,
    mut tx: Transaction,
    p: &Presentation<'_>,
) -> Result<Rotated, RefreshError> {
    let now = p.now;
    let Some(token) = refresh_tokens::find_by_hash(&mut *tx, &p.hash).await? else {
        tx.rollback().await?;
        return Err(RefreshError::InvalidGrant);
    };
    let (Some(consumed_at), None) = (token.consumed_at, token.revoked_at) else {
        // Revoked or expired: refused, nothing else to do.
        tx.rollback().await?;
        return Err(RefreshError::InvalidGrant);
    };
    let session = sessions::find(&mut *tx, token.session_id).await?;
    if session.as_ref().is_none_or(|s| s.revoked_at.is_some()) {
        // The family already ended (see `rotate`): nothing to do again.
        tx.rollback().await?;
        return Err(RefreshError::InvalidGrant);
    }
    if let Some((session, client)) =
        grace_retry(state, &mut tx, &token, consumed_at, &p.requester, now).await?
    {
        return match scope_for(&session, p.narrow_to) {
            Ok(scope) => {
                let next = Next { session, client, scope, grace_retry: true };
                successor(state, tx, p, &token, next).await
            }
            Err(err) => {
                // A genuine retry that asked for too much: refuse it, and
                // leave the family (and the lost successor) as they were.
                tx.rollback().await?;
                Err(err)
            }
        };
    }
    // Reuse: whoever holds this family's tokens, one of them is not the
    // rightful client. End the session; every token of it dies.
    sessions::revoke(&mut tx, token.session_id, now, EndReason::RefreshTokenReuse).await?;
    refresh_tokens::revoke_for_session(&mut tx, token.session_id, now).await?;
    let mut event = AuditEvent::new(EventKind::TokenReuseDetected, Outcome::Failure, now)
        .client(&token.client_id)
        .origin(p.origin)
        .detail("session", token.session_id.to_string());
    if let Some(session) = &session {
        event = event.subject(session.user_id);
    }
    let events = [event];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    state.metrics.refresh_reuse_detected();
    tracing::warn!(session = %token.session_id, "refresh token reuse detected; session revoked");
    Err(RefreshError::InvalidGrant)
}

/// Within `REFRESH_REUSE_GRACE_SECONDS` of a rotation, the same client may
/// present the parent again — its response was lost in flight — provided the
/// successor was never used. It gets a fresh successor, and the one it never
/// received is revoked, so the family still has exactly one live token.
async fn grace_retry(
    state: &AppState,
    tx: &mut Transaction,
    token: &RefreshToken,
    consumed_at: UnixTime,
    requester: &Requester<'_>,
    now: UnixTime,
) -> Result<Option<(Session, Client)>, RefreshError> {
    let grace: Duration = state.settings.refresh_reuse_grace;
    if grace.is_zero() || now > consumed_at + grace {
        return Ok(None);
    }
    let Ok(client) = resolve_client(&mut **tx, &token.client_id, requester).await else {
        return Ok(None);
    };
    if refresh_tokens::revoke_live_children(tx, token.id, now).await? != 1 {
        // The successor was already used (or revoked): this is reuse.
        return Ok(None);
    }
    Ok(live_session(tx, token.session_id, now).await?.map(|session| (session, client)))
}

/// The session, marked used, if it is still live: not ended, not expired,
/// and its user enabled and unchanged since it began.
async fn live_session(
    tx: &mut Transaction,
    id: SessionId,
    now: UnixTime,
) -> Result<Option<Session>, StoreError> {
    let Some(session) = sessions::touch_active(tx, id, now).await? else {
        return Ok(None);
    };
    let user = users::find_by_id(&mut **tx, session.user_id).await?;
    Ok(user.filter(|u| u.accepts(session.user_stamp)).map(|_| session))
}

/// The client the token belongs to, checked against who is asking.
async fn resolve_client<'e>(
    db: impl AnyExecutor<'e>,
    owner: &ClientId,
    requester: &Requester<'_>,
) -> Result<Client, RefreshError> {
    let client = match requester {
        Requester::Client(client) if &client.id == owner => (*client).clone(),
        Requester::Client(_) => return Err(RefreshError::WrongClient),
        Requester::Unidentified => {
            let client =
                clients::find(db, owner.as_str()).await?.ok_or(RefreshError::InvalidGrant)?;
            // RFC 6749 §6: confidential clients must authenticate to refresh.
            if client.is_confidential() {
                return Err(RefreshError::ClientAuthRequired);
            }
            client
        }
    };
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(RefreshError::GrantNotAllowed);
    }
    Ok(client)
}
