//! Checking a username and password: the password grant and the login page
//! both come through here.

use idp_core::SecretString;
use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::session::RequestOrigin;
use idp_core::user::User;
use idp_store::StoreError;
use idp_store::repo::users;

use super::audit;
use super::hashing::HashingError;
use super::lockout;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: the same answer, after the same work.
    #[error("Incorrect username or password")]
    InvalidCredentials,
    /// Only said after the right password was given.
    #[error("This account is disabled")]
    Disabled,
    /// Too many failures for this login name; no password is checked.
    #[error("Too many failed login attempts; try again in {retry_after_secs} seconds")]
    Locked { retry_after_secs: u64 },
    #[error("password hashing is at capacity")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<HashingError> for LoginError {
    fn from(err: HashingError) -> Self {
        match err {
            HashingError::Busy => Self::Busy,
            HashingError::Failed(reason) => Self::Internal(reason),
        }
    }
}

/// Longest login name worth looking up (an email address is at most 254).
const MAX_LOGIN_LEN: usize = 254;

/// Verifies the credentials and returns the user. Failed attempts are
/// audited here; the caller audits the success together with the session it
/// starts.
pub async fn authenticate(
    state: &AppState,
    login: &str,
    password: SecretString,
    client_id: &str,
    origin: &RequestOrigin,
) -> Result<User, LoginError> {
    let login = login.trim();
    let key = lockout::key(login);
    let now = state.now();
    if let Some(locked) = lockout::locked(state, &key).await? {
        let event = AuditEvent::new(EventKind::LoginLocked, Outcome::Failure, now)
            .client(client_id)
            .origin(origin)
            .detail("login", key.chars().take(64).collect::<String>());
        audit::record(&state.db, &[event]).await?;
        state.metrics.login_failed();
        return Err(LoginError::Locked { retry_after_secs: locked.retry_after_secs });
    }
    let user = if login.is_empty() || login.len() > MAX_LOGIN_LEN || login.contains('\0') {
        None
    } else {
        users::find_by_login(state.db.pool(), login).await?
    };
    // Unknown users are checked against a dummy hash: same time, same answer.
    let checked =
        state.hashing.check(user.as_ref().map(|u| u.password_hash.clone()), password).await?;
    let now = state.now();
    let user_id = user.as_ref().map(|u| u.id);
    let failure = |reason: &'static str| {
        let mut event = AuditEvent::new(EventKind::LoginFailed, Outcome::Failure, now)
            .client(client_id)
            .origin(origin)
            .detail("reason", reason)
            .detail("login", login.chars().take(64).collect::<String>());
        if let Some(id) = user_id {
            event = event.subject(id);
        }
        event
    };
    let Some(user) = user.filter(|_| checked.valid) else {
        state.metrics.login_failed();
        let started = lockout::record_failure(state, &key).await?;
        let mut events = vec![failure("invalid_credentials")];
        if let Some(locked) = started {
            events.push(
                AuditEvent::new(EventKind::LoginLocked, Outcome::Failure, now)
                    .client(client_id)
                    .origin(origin)
                    .detail("login", key.chars().take(64).collect::<String>())
                    .detail("lockout_secs", locked.retry_after_secs),
            );
        }
        audit::record(&state.db, &events).await?;
        return Err(LoginError::InvalidCredentials);
    };
    lockout::clear(state, &key).await?;
    if user.is_disabled() {
        audit::record(&state.db, &[failure("disabled")]).await?;
        return Err(LoginError::Disabled);
    }
    if let Some(rehashed) = checked.rehashed {
        // bcrypt from the original service, or older Argon2 parameters.
        users::update_password_hash(state.db.pool(), user.id, &rehashed, now).await?;
        tracing::info!(user = %user.id, "password hash upgraded");
    }
    Ok(user)
}
