//! The user's email address: verification (a link sent on registration,
//! and again on request) and change (a link to the new address; the
//! address changes only when it is followed, and a notice goes to the old
//! one). Both links open `{ISSUER}/auth/email/verify`.

use idp_core::SecretString;
use idp_core::audit::{AuditEvent, EventKind, Outcome as AuditOutcome};
use idp_core::clock::UnixTime;
use idp_core::opaque::{PlainToken, TokenKind};
use idp_core::secret_hash::SecretHash;
use idp_core::session::RequestOrigin;
use idp_core::user::User;
use idp_core::validation;
use idp_store::repo::email_tokens::{self, EmailToken, NewEmailToken, Purpose};
use idp_store::repo::users;
use idp_store::{AnyConnection, StoreError};

use super::audit;
use super::failure::{Failure, failure_from};
use super::lockout;
use super::mail::{self, MailOff};
use crate::mail::{Content, MailKind, Mailer};
use crate::state::AppState;

const HOUR: std::time::Duration = std::time::Duration::from_secs(3_600);

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    MailOff(#[from] MailOff),
    #[error("{0}")]
    Invalid(&'static str, String),
    #[error("The address is already verified.")]
    AlreadyVerified,
    #[error("Email already registered")]
    Taken,
    #[error("The current password is incorrect")]
    WrongPassword,
    #[error("Too many failed attempts; try again in {retry_after_secs} seconds")]
    Locked { retry_after_secs: u64 },
    #[error(
        "This link is not valid: it was used already, it expired, or the address changed since it was sent."
    )]
    InvalidToken,
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(EmailError);

/// A link of `purpose` to `email` for `user`, stored and its mail queued in
/// `tx`. Wake the outbox after the commit.
async fn send_link(
    state: &AppState,
    mailer: &Mailer,
    tx: &mut AnyConnection,
    user: &User,
    purpose: Purpose,
    email: &str,
    now: UnixTime,
) -> Result<(), Failure> {
    let ttl = state.settings.mail.email_verification_ttl;
    let (kind, token_kind) = match purpose {
        Purpose::EmailChange => (MailKind::EmailChange, TokenKind::EmailChange),
        _ => (MailKind::EmailVerification, TokenKind::EmailVerification),
    };
    let token = PlainToken::generate(token_kind);
    email_tokens::insert(
        tx,
        &NewEmailToken {
            hash: &token.hash(),
            purpose,
            user_id: user.id,
            email,
            user_stamp: user.security_stamp,
            created_at: now,
            expires_at: now + ttl,
        },
    )
    .await?;
    let link = format!("{}/auth/email/verify?token={}", state.settings.issuer, token.expose());
    let content = Content {
        kind,
        username: &user.username,
        email,
        link: Some(&link),
        valid_for: ttl,
        site: &mail::site(state),
    };
    mail::enqueue(state, mailer, tx, email, &content, now).await
}

/// Registration: a verification link to the new user's address, in the
/// registration's transaction. Nothing when mail is off.
pub async fn on_registration(
    state: &AppState,
    tx: &mut AnyConnection,
    user: &User,
    now: UnixTime,
) -> Result<bool, Failure> {
    let Ok(mailer) = mail::mailer(state) else { return Ok(false) };
    send_link(state, mailer, tx, user, Purpose::EmailVerification, &user.email, now).await?;
    Ok(true)
}

/// `POST /auth/email/verification`: a new link to the caller's address. At
/// most `MAIL_PER_ADDRESS_PER_HOUR` links go to one address per hour;
/// beyond that the request is answered alike and sends nothing.
pub async fn resend_verification(
    state: &AppState,
    user: &User,
    origin: &RequestOrigin,
) -> Result<(), EmailError> {
    let mailer = mail::mailer(state)?;
    if user.email_verified() {
        return Err(EmailError::AlreadyVerified);
    }
    let now = state.now();
    let mut tx = state.db.write().await?;
    let sent =
        email_tokens::count_sent_to(&mut *tx, &user.email, Purpose::EmailVerification, now - HOUR)
            .await?;
    let event = |outcome| {
        AuditEvent::new(EventKind::EmailVerificationSent, outcome, now)
            .actor(user.id)
            .subject(user.id)
            .origin(origin)
    };
    let events = if sent >= i64::from(state.settings.mail.per_address_per_hour) {
        [event(AuditOutcome::Failure)
            .detail("reason", "MAIL_PER_ADDRESS_PER_HOUR reached; no mail sent")]
    } else {
        send_link(state, mailer, &mut tx, user, Purpose::EmailVerification, &user.email, now)
            .await?;
        [event(AuditOutcome::Success)]
    };
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    state.outbox.wake();
    Ok(())
}

/// `POST /auth/email/change`: the caller proves the password (counted
/// towards the lockout like a login) and names a new address; a link goes
/// there and a notice to the old address. The address changes when the
/// link is followed.
pub async fn request_change(
    state: &AppState,
    user: &User,
    new_email: &str,
    password: SecretString,
    origin: &RequestOrigin,
) -> Result<(), EmailError> {
    let new_email = new_email.trim();
    validation::email(new_email).map_err(|m| EmailError::Invalid("new_email", m))?;
    let mailer = mail::mailer(state)?;
    let key = lockout::Key::user(user.id);
    if let Some(locked) = lockout::locked(state, &key).await? {
        return Err(EmailError::Locked { retry_after_secs: locked.retry_after_secs });
    }
    let checked = state.hashing.check(Some(user.password_hash.clone()), password).await?;
    if !checked.valid {
        state.metrics.login_failed();
        lockout::record_failure(state, &key).await?;
        return Err(EmailError::WrongPassword);
    }
    if new_email.eq_ignore_ascii_case(&user.email) {
        return Err(EmailError::Invalid("new_email", "is the current address".into()));
    }
    if users::find_by_login(state.db.read(), new_email).await?.is_some() {
        return Err(EmailError::Taken);
    }
    let now = state.now();
    let notice = Content {
        kind: MailKind::EmailChangeNotice,
        username: &user.username,
        email: new_email,
        link: None,
        valid_for: state.settings.mail.email_verification_ttl,
        site: &mail::site(state),
    };
    let events = [AuditEvent::new(EventKind::EmailChangeRequested, AuditOutcome::Success, now)
        .actor(user.id)
        .subject(user.id)
        .origin(origin)
        .detail("new_email", new_email.to_owned())];
    let mut tx = state.db.write().await?;
    send_link(state, mailer, &mut tx, user, Purpose::EmailChange, new_email, now).await?;
    mail::enqueue(state, mailer, &mut tx, &user.email, &notice, now).await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    state.outbox.wake();
    Ok(())
}

/// What following a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The address is verified.
    Address,
    /// The address changed to the one the link went to (and is verified).
    Changed,
}

/// The usable token behind a link, of either purpose.
async fn find(state: &AppState, token: &str) -> Result<(EmailToken, Purpose), EmailError> {
    let hash = SecretHash::of(token);
    for purpose in [Purpose::EmailVerification, Purpose::EmailChange] {
        if let Some(found) =
            email_tokens::find_usable(state.db.read(), &hash, purpose, state.now()).await?
        {
            return Ok((found, purpose));
        }
    }
    Err(EmailError::InvalidToken)
}

/// Whether a link still works (for its page).
pub async fn check_token(state: &AppState, token: &str) -> Result<Purpose, EmailError> {
    Ok(find(state, token).await?.1)
}

/// `POST /auth/email/verify`: follows a verification or change link. Each
/// works once.
pub async fn verify(
    state: &AppState,
    token: &str,
    origin: &RequestOrigin,
) -> Result<Verified, EmailError> {
    let (found, purpose) = find(state, token).await?;
    let now = state.now();
    let mut tx = state.db.write().await?;
    if !email_tokens::use_once(&mut tx, &found.id, now).await? {
        return Err(EmailError::InvalidToken);
    }
    let user = found.user_id;
    let (verified, events) = match purpose {
        Purpose::EmailChange => {
            let before =
                users::find_by_id(&mut *tx, user).await?.ok_or(EmailError::InvalidToken)?;
            users::change_email(&mut tx, user, &found.email, now).await.map_err(taken)?;
            email_tokens::use_all_for_user(&mut tx, user, Purpose::EmailChange, now).await?;
            email_tokens::use_all_for_user(&mut tx, user, Purpose::EmailVerification, now).await?;
            let event = AuditEvent::new(EventKind::EmailChanged, AuditOutcome::Success, now)
                .actor(user)
                .subject(user)
                .origin(origin)
                .detail("from", before.email)
                .detail("to", found.email.clone());
            (Verified::Changed, [event])
        }
        _ => {
            // The link names the address it went to: an address changed
            // since then is not verified by it.
            if !users::mark_email_verified(&mut tx, user, &found.email, now).await? {
                return Err(EmailError::InvalidToken);
            }
            email_tokens::use_all_for_user(&mut tx, user, Purpose::EmailVerification, now).await?;
            let event = AuditEvent::new(EventKind::EmailVerified, AuditOutcome::Success, now)
                .actor(user)
                .subject(user)
                .origin(origin);
            (Verified::Address, [event])
        }
    };
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(verified)
}

fn taken(err: StoreError) -> EmailError {
    match err.violated_index() {
        Some(users::EMAIL_INDEX) => EmailError::Taken,
        _ => EmailError::Failed(err.into()),
    }
}
