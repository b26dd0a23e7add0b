//! Checking a username and password: the password grant and the login page
//! both come through here.

use idp_core::SecretString;
use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::session::RequestOrigin;
use idp_core::user::User;
use idp_store::StoreError;
use idp_store::repo::users;

use super::audit;
use super::failure::{Failure, failure_from};
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
    /// The user changed (password, roles, disabled) while signing in, and
    /// again on the second try.
    #[error("The account changed while signing in; try again")]
    Changed,
    /// `REQUIRE_VERIFIED_EMAIL`, and the user has not followed the
    /// verification link yet; only said after the right password.
    #[error(
        "The email address of this account is not verified: follow the link in the verification mail, or ask for a new one"
    )]
    EmailNotVerified(idp_core::ids::UserId),
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(LoginError);

/// Longest login name worth looking up (an email address is at most 254).
const MAX_LOGIN_LEN: usize = 254;

/// How often a sign-in checks the password: once, and once more if the
/// user changed between the check and the session it starts.
const ATTEMPTS: usize = 2;

/// Checks the credentials, then runs `start`, which writes the session (or
/// the browser sign-in) for the user it is given and returns `None` when the
/// user changed since that user was read: password, roles, disabled. Then
/// the credentials are checked again against what is current: an old
/// password fails, a disabled user is refused, and new roles go into the
/// session.
pub async fn sign_in<T, F, Fut>(
    state: &AppState,
    login: &str,
    password: SecretString,
    client_id: &str,
    origin: &RequestOrigin,
    mut start: F,
) -> Result<T, LoginError>
where
    F: FnMut(User) -> Fut,
    Fut: Future<Output = Result<Option<T>, StoreError>>,
{
    for _ in 0..ATTEMPTS {
        let user = authenticate(state, login, password.clone(), client_id, origin).await?;
        let id = user.id;
        if let Some(started) = start(user).await? {
            return Ok(started);
        }
        tracing::info!(user = %id, "the user changed during sign-in; checking again");
    }
    Err(LoginError::Changed)
}

/// Verifies the credentials and returns the user, as read before the check
/// (its security stamp is what the session must be written under). Failed
/// attempts are audited here; the caller audits the success together with
/// the session it starts.
pub async fn authenticate(
    state: &AppState,
    login: &str,
    password: SecretString,
    client_id: &str,
    origin: &RequestOrigin,
) -> Result<User, LoginError> {
    let login = login.trim();
    let user = if login.is_empty() || login.len() > MAX_LOGIN_LEN || login.contains('\0') {
        None
    } else {
        users::find_by_login(state.db.read(), login).await?
    };
    // One counter per user, whichever of its names is typed; one per name
    // for names nobody has, so that a lockout reveals nothing.
    let key = match &user {
        Some(user) => lockout::Key::user(user.id),
        None => lockout::Key::name(login),
    };
    let logged_login: String = login.chars().take(64).collect();
    let now = state.now();
    if let Some(locked) = lockout::locked(state, &key).await? {
        let mut event = AuditEvent::new(EventKind::LoginLocked, Outcome::Failure, now)
            .client(client_id)
            .origin(origin)
            .detail("login", logged_login.clone());
        if let Some(user) = &user {
            event = event.subject(user.id);
        }
        audit::record(&state.db, &[event]).await?;
        state.metrics.login_failed();
        return Err(LoginError::Locked { retry_after_secs: locked.retry_after_secs });
    }
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
            .detail("login", logged_login.clone());
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
            let mut event = AuditEvent::new(EventKind::LoginLocked, Outcome::Failure, now)
                .client(client_id)
                .origin(origin)
                .detail("login", logged_login.clone())
                .detail("lockout_secs", locked.retry_after_secs);
            if let Some(id) = user_id {
                event = event.subject(id);
            }
            events.push(event);
        }
        audit::record(&state.db, &events).await?;
        return Err(LoginError::InvalidCredentials);
    };
    lockout::clear(state, &key).await?;
    if user.is_disabled() {
        audit::record(&state.db, &[failure("disabled")]).await?;
        return Err(LoginError::Disabled);
    }
    if state.settings.mail.require_verified_email && !user.email_verified() {
        audit::record(&state.db, &[failure("email_not_verified")]).await?;
        return Err(LoginError::EmailNotVerified(user.id));
    }
    if let Some(rehashed) = checked.rehashed {
        // bcrypt from the original service, or older Argon2 parameters;
        // skipped if the password changed meanwhile.
        let mut tx = state.db.write().await?;
        let upgraded =
            users::update_password_hash(&mut tx, user.id, &user.password_hash, &rehashed, now)
                .await?;
        tx.commit().await?;
        if upgraded {
            tracing::info!(user = %user.id, "password hash upgraded");
        }
    }
    Ok(user)
}
