//! `/auth/register`: self-service sign-up.

use idp_core::SecretString;
use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::clock::UnixTime;
use idp_core::ids::UserId;
use idp_core::session::RequestOrigin;
use idp_core::user::{SecurityStamp, User};
use idp_core::validation::{self, FieldViolation};
use idp_store::StoreError;
use idp_store::repo::{roles, users};

use super::audit;
use super::failure::{Failure, failure_from};
use crate::state::AppState;

#[derive(Debug)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: SecretString,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    #[error("Username already taken")]
    UsernameTaken,
    #[error("Email already registered")]
    EmailTaken,
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(RegistrationError);

/// Validates, hashes, and stores a new user with the `User` role.
pub async fn register(
    state: &AppState,
    input: Registration,
    origin: &RequestOrigin,
) -> Result<(User, Vec<String>), RegistrationError> {
    use idp_core::ExposeSecret as _;
    let name = input.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let violations = validation::registration(
        &input.username,
        &input.email,
        input.password.expose_secret(),
        name.as_deref(),
    );
    if !violations.is_empty() {
        return Err(RegistrationError::Invalid(violations));
    }
    let password_hash = state.hashing.hash(input.password).await?;
    let now = state.now();
    let user = new_user(input.username, input.email, name, password_hash, now);
    let events = [AuditEvent::new(EventKind::UserRegistered, Outcome::Success, now)
        .actor(user.id)
        .subject(user.id)
        .origin(origin)
        .detail("username", user.username.clone())];
    let mut tx = state.db.write().await?;
    users::insert(&mut tx, &user).await.map_err(conflict)?;
    users::add_role_by_name(&mut tx, user.id, roles::DEFAULT_USER_ROLE).await?;
    let mailed = super::email_address::on_registration(state, &mut tx, &user, now).await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    if mailed {
        state.outbox.wake();
    }
    let roles = users::roles_of(state.db.read(), user.id).await?;
    Ok((user, roles))
}

pub fn new_user(
    username: String,
    email: String,
    name: Option<String>,
    password_hash: String,
    now: UnixTime,
) -> User {
    User {
        id: UserId::new(),
        username,
        email,
        name,
        password_hash,
        email_verified_at: None,
        disabled_at: None,
        tokens_valid_after: UnixTime::EPOCH,
        security_stamp: SecurityStamp::default(),
        created_at: now,
        updated_at: now,
    }
}

/// Maps a unique-index collision to what the client can fix.
pub fn conflict(err: StoreError) -> RegistrationError {
    match err.violated_index() {
        Some(users::USERNAME_INDEX) => RegistrationError::UsernameTaken,
        Some(users::EMAIL_INDEX) => RegistrationError::EmailTaken,
        _ => RegistrationError::Failed(err.into()),
    }
}
