//! Self-service password reset: a request sends a one-time link to the
//! account's address; the link's page sets a new password.
//!
//! A request ([`request_reset`]) does the same thing whatever the address:
//! it writes one outbox job and answers. Whether the address belongs to an
//! enabled user, whether it is over its hourly limit, and the link itself
//! are decided later by the outbox handler ([`ResolveRequest`]), so neither
//! the answer nor its timing says whether an account exists.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use idp_core::SecretString;
use idp_core::audit::{AuditEvent, EventKind, Outcome as AuditOutcome};
use idp_core::clock::UnixTime;
use idp_core::opaque::{PlainToken, TokenKind};
use idp_core::secret_hash::SecretHash;
use idp_core::session::{EndReason, RequestOrigin};
use idp_core::user::User;
use idp_core::validation;
use idp_store::AnyConnection;
use idp_store::repo::email_tokens::{self, NewEmailToken, Purpose};
use idp_store::repo::{login_failures, users};

use super::admin::{Actor, ManageError};
use super::audit;
use super::failure::{Failure, failure_from};
use super::lockout;
use super::mail::{self, MailOff};
use super::outbox::{Handler, Outcome};
use crate::mail::{Content, MailKind};
use crate::state::AppState;

/// The outbox kind of a reset request waiting to be resolved.
pub const REQUEST_KIND: &str = "password_reset.request";

const HOUR: Duration = Duration::from_secs(3_600);

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    MailOff(#[from] MailOff),
    #[error("{0}")]
    Invalid(&'static str, String),
    /// Unknown, used, expired, or superseded by a change of the account.
    #[error(
        "This link is not valid: it was used already, it expired, or the account changed since it was sent. Ask for a new one."
    )]
    InvalidToken,
    #[error(transparent)]
    Manage(#[from] ManageError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(RecoveryError);

/// A reset request's payload: the address as typed, and where from.
#[derive(serde::Serialize, serde::Deserialize)]
struct ResetRequest {
    email: String,
    origin: Origin,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Origin {
    ip: Option<String>,
    user_agent: Option<String>,
}

/// `POST /auth/password/forgot`: queues the request and returns. The same
/// for every well-formed address.
pub async fn request_reset(
    state: &AppState,
    email: &str,
    origin: &RequestOrigin,
) -> Result<(), RecoveryError> {
    mail::mailer(state)?;
    let email = email.trim();
    validation::email(email).map_err(|message| RecoveryError::Invalid("email", message))?;
    let now = state.now();
    let request = ResetRequest {
        email: email.to_owned(),
        origin: Origin { ip: origin.ip.clone(), user_agent: origin.user_agent.clone() },
    };
    let mut tx = state.db.write().await?;
    state.outbox.enqueue(&mut tx, REQUEST_KIND, &request, now).await?;
    tx.commit().await?;
    state.outbox.wake();
    Ok(())
}

/// The outbox handler of reset requests: finds the user, applies the
/// per-address limit, and queues the mail with a new link.
#[derive(Debug)]
pub struct ResolveRequest;

impl Handler for ResolveRequest {
    fn kind(&self) -> &'static str {
        REQUEST_KIND
    }

    fn run<'a>(
        &'a self,
        state: &'a AppState,
        payload: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            let Ok(request) = serde_json::from_slice::<ResetRequest>(payload) else {
                return Outcome::Fail("not a password reset request".into());
            };
            match resolve(state, &request).await {
                Ok(()) => Outcome::Done,
                Err(RecoveryError::MailOff(_)) => Outcome::Retry("mail is off".into()),
                Err(err) => Outcome::Retry(err.to_string()),
            }
        })
    }
}

async fn resolve(state: &AppState, request: &ResetRequest) -> Result<(), RecoveryError> {
    let mailer = mail::mailer(state)?;
    let now = state.now();
    let origin = RequestOrigin {
        ip: request.origin.ip.clone(),
        user_agent: request.origin.user_agent.clone(),
    };
    let event =
        |outcome| AuditEvent::new(EventKind::PasswordResetRequested, outcome, now).origin(&origin);
    let user = users::find_by_login(state.db.read(), &request.email).await?;
    let Some(user) = user.filter(|u| !u.is_disabled()) else {
        // No subject: the address typed is not kept either (it may be a
        // stranger's, or a typo of one).
        let events =
            [event(AuditOutcome::Failure).detail("reason", "no enabled user has this address")];
        audit::record(&state.db, &events).await?;
        return Ok(());
    };
    let mut tx = state.db.write().await?;
    let sent =
        email_tokens::count_sent_to(&mut *tx, &user.email, Purpose::PasswordReset, now - HOUR)
            .await?;
    if sent >= i64::from(state.settings.mail.per_address_per_hour) {
        let events = [event(AuditOutcome::Failure)
            .subject(user.id)
            .detail("reason", "MAIL_PER_ADDRESS_PER_HOUR reached; no mail sent")];
        audit::write(&mut tx, &events).await?;
        tx.commit().await?;
        audit::emit(&events);
        return Ok(());
    }
    send_link(state, mailer, &mut tx, &user, now).await?;
    let events = [event(AuditOutcome::Success).subject(user.id)];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    state.outbox.wake();
    Ok(())
}

/// A new reset link for `user`, stored and queued in `tx`.
async fn send_link(
    state: &AppState,
    mailer: &crate::mail::Mailer,
    tx: &mut AnyConnection,
    user: &User,
    now: UnixTime,
) -> Result<(), RecoveryError> {
    let ttl = state.settings.mail.password_reset_ttl;
    let token = PlainToken::generate(TokenKind::PasswordReset);
    email_tokens::insert(
        tx,
        &NewEmailToken {
            hash: &token.hash(),
            purpose: Purpose::PasswordReset,
            user_id: user.id,
            email: &user.email,
            user_stamp: user.security_stamp,
            created_at: now,
            expires_at: now + ttl,
        },
    )
    .await?;
    let link = format!("{}/auth/password/reset?token={}", state.settings.issuer, token.expose());
    let content = Content {
        kind: MailKind::PasswordReset,
        username: &user.username,
        email: &user.email,
        link: Some(&link),
        valid_for: ttl,
        site: &mail::site(state),
    };
    mail::enqueue(state, mailer, tx, &user.email, &content, now).await?;
    Ok(())
}

/// `POST /admin/users/{id}/password-reset`, `idp user send-reset`: a reset
/// link to the user's address, now (no hourly limit: an administrator
/// asked).
pub async fn send_reset_by_admin(
    state: &AppState,
    actor: &Actor,
    id: idp_core::ids::UserId,
) -> Result<(), RecoveryError> {
    let mailer = mail::mailer(state)?;
    super::users::may_manage(state, actor, id).await?;
    let user =
        users::find_by_id(state.db.read(), id).await?.ok_or(ManageError::NotFound("user"))?;
    if user.is_disabled() {
        return Err(ManageError::Conflict(
            "The user is disabled: enable the account before sending a reset link.".into(),
        )
        .into());
    }
    let now = state.now();
    let events = [actor
        .event(EventKind::PasswordResetRequested, now)
        .subject(id)
        .detail("by", "administrator")];
    let mut tx = state.db.write().await?;
    send_link(state, mailer, &mut tx, &user, now).await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    state.outbox.wake();
    Ok(())
}

/// Whether a reset link still works (for its page, before the user types).
pub async fn check_reset_token(state: &AppState, token: &str) -> Result<User, RecoveryError> {
    let found = email_tokens::find_usable(
        state.db.read(),
        &SecretHash::of(token),
        Purpose::PasswordReset,
        state.now(),
    )
    .await?
    .ok_or(RecoveryError::InvalidToken)?;
    let user = users::find_by_id(state.db.read(), found.user_id)
        .await?
        .filter(|u| !u.is_disabled() && u.security_stamp == found.user_stamp)
        .ok_or(RecoveryError::InvalidToken)?;
    Ok(user)
}

/// `POST /auth/password/reset`: the link's token and a new password. The
/// token works once; every session of the user ends and the lockout is
/// cleared, as after a password change.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: SecretString,
    origin: &RequestOrigin,
) -> Result<(), RecoveryError> {
    use idp_core::ExposeSecret as _;
    let user = check_reset_token(state, token).await?;
    if let Err(message) =
        validation::new_password(new_password.expose_secret(), &user.username, &user.email)
    {
        return Err(RecoveryError::Invalid("new_password", message));
    }
    let hash = state.hashing.hash(new_password).await?;
    let now = state.now();
    let mut tx = state.db.write().await?;
    // Under the write lock: the token is still unused, and the account has
    // not changed since the link was sent (a password change in between
    // moved the stamp and retired the link).
    let found =
        email_tokens::find_usable(&mut *tx, &SecretHash::of(token), Purpose::PasswordReset, now)
            .await?
            .ok_or(RecoveryError::InvalidToken)?;
    let current = users::find_by_id(&mut *tx, found.user_id).await?;
    let unchanged =
        current.as_ref().is_some_and(|u| !u.is_disabled() && u.security_stamp == found.user_stamp);
    if !unchanged || !email_tokens::use_once(&mut tx, &found.id, now).await? {
        return Err(RecoveryError::InvalidToken);
    }
    email_tokens::use_all_for_user(&mut tx, user.id, Purpose::PasswordReset, now).await?;
    users::set_password(&mut tx, user.id, &hash, now).await?;
    let ended =
        super::users::end_sessions(&mut tx, user.id, now, EndReason::PasswordChanged).await?;
    login_failures::clear(&mut tx, lockout::Key::user(user.id).as_str()).await?;
    let events = [AuditEvent::new(EventKind::PasswordReset, AuditOutcome::Success, now)
        .actor(user.id)
        .subject(user.id)
        .origin(origin)
        .detail("sessions_ended", ended)];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}
