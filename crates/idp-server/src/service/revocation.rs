//! Token revocation (RFC 7009): refresh tokens end their family; access
//! tokens are refused by `jti` until they expire.

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::client::Client;
use idp_core::clock::UnixTime;
use idp_core::jose;
use idp_core::secret_hash::SecretHash;
use idp_core::session::{EndReason, RequestOrigin};
use idp_core::token::AccessClaims;
use idp_store::StoreError;
use idp_store::repo::{refresh_tokens, revoked_access_tokens, sessions};

use super::audit;
use crate::state::AppState;

/// What the presented token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    RefreshToken,
    AccessToken,
    /// Not one of ours, or already dead: RFC 7009 §2.2 answers 200 anyway.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The token belongs to another client (RFC 7009 §2.1).
    #[error("The token was issued to another client")]
    NotYourToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The hint only orders the lookups (RFC 7009 §2.1): a wrong hint still
/// finds the token.
pub async fn revoke(
    state: &AppState,
    token: &str,
    hint_access_token: bool,
    client: &Client,
    origin: &RequestOrigin,
) -> Result<Revoked, RevocationError> {
    let now = state.now();
    if hint_access_token {
        if let Some(done) = revoke_access(state, token, client, origin, now).await? {
            return Ok(done);
        }
        return Ok(revoke_refresh(state, token, client, origin, now)
            .await?
            .unwrap_or(Revoked::Unknown));
    }
    if let Some(done) = revoke_refresh(state, token, client, origin, now).await? {
        return Ok(done);
    }
    Ok(revoke_access(state, token, client, origin, now).await?.unwrap_or(Revoked::Unknown))
}

async fn revoke_refresh(
    state: &AppState,
    token: &str,
    client: &Client,
    origin: &RequestOrigin,
    now: UnixTime,
) -> Result<Option<Revoked>, RevocationError> {
    let Some(record) =
        refresh_tokens::find_by_hash(state.db.read(), &SecretHash::of(token)).await?
    else {
        return Ok(None);
    };
    if record.client_id != client.id {
        return Err(RevocationError::NotYourToken);
    }
    let mut tx = state.db.write().await?;
    let ended = sessions::revoke(&mut tx, record.session_id, now, EndReason::Revoked).await?;
    refresh_tokens::revoke_for_session(&mut tx, record.session_id, now).await?;
    let session = sessions::find(&mut *tx, record.session_id).await?;
    let mut events = Vec::new();
    if ended {
        let mut event = AuditEvent::new(EventKind::TokenRevoked, Outcome::Success, now)
            .client(&client.id)
            .origin(origin)
            .detail("token_type", "refresh_token")
            .detail("session", record.session_id.to_string());
        if let Some(session) = &session {
            event = event.subject(session.user_id).actor(session.user_id);
        }
        events.push(event);
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(Some(Revoked::RefreshToken))
}

async fn revoke_access(
    state: &AppState,
    token: &str,
    client: &Client,
    origin: &RequestOrigin,
    now: UnixTime,
) -> Result<Option<Revoked>, RevocationError> {
    // Only a JWT we signed can be revoked; an expired one needs nothing.
    let checked = state
        .keys
        .verify(|keys| jose::verify_signature_only::<AccessClaims>(token, |kid| keys.verifier(kid)))
        .await;
    let Ok(claims) = checked else {
        return Ok(None);
    };
    if claims.client_id != client.id.as_str() {
        return Err(RevocationError::NotYourToken);
    }
    let expires_at = UnixTime::from_secs(claims.exp);
    if expires_at <= now {
        return Ok(Some(Revoked::AccessToken));
    }
    let events = [AuditEvent::new(EventKind::TokenRevoked, Outcome::Success, now)
        .subject(&claims.sub)
        .client(&client.id)
        .origin(origin)
        .detail("token_type", "access_token")
        .detail("jti", claims.jti.clone())];
    let mut tx = state.db.write().await?;
    revoked_access_tokens::insert(&mut tx, &claims.jti, expires_at, now).await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(Some(Revoked::AccessToken))
}
