//! Managing users: the admin API and the CLI. Every change that alters who
//! a user is for the purpose of authorization — password, roles, disabled —
//! ends all of the user's sessions in the same transaction.

use idp_core::SecretString;
use idp_core::audit::EventKind;
use idp_core::client_registration;
use idp_core::clock::UnixTime;
use idp_core::ids::{SessionId, UserId};
use idp_core::session::{EndReason, Session};
use idp_core::user::User;
use idp_core::validation::{self, FieldViolation};
use idp_store::repo::roles::Role;
use idp_store::repo::{browser_sessions, refresh_tokens, roles, sessions, users};
use idp_store::{StoreError, Transaction};

use super::admin::{Actor, ManageError};
use super::audit;
use super::registration::new_user;
use crate::state::AppState;

/// A user with the names of their roles.
pub type UserWithRoles = (User, Vec<String>);

async fn with_roles(state: &AppState, user: User) -> Result<UserWithRoles, ManageError> {
    let roles = users::roles_of(state.db.read(), user.id).await?;
    Ok((user, roles))
}

pub async fn list(
    state: &AppState,
    username_contains: Option<&str>,
    skip: i64,
    limit: i64,
) -> Result<(Vec<UserWithRoles>, i64), ManageError> {
    let (found, total) =
        users::list(state.db.read(), username_contains, users::Page { skip, limit }).await?;
    let mut items = Vec::with_capacity(found.len());
    for user in found {
        items.push(with_roles(state, user).await?);
    }
    Ok((items, total))
}

pub async fn get(state: &AppState, id: UserId) -> Result<UserWithRoles, ManageError> {
    let user =
        users::find_by_id(state.db.read(), id).await?.ok_or(ManageError::NotFound("user"))?;
    with_roles(state, user).await
}

pub async fn find_by_login(state: &AppState, login: &str) -> Result<UserWithRoles, ManageError> {
    let user =
        users::find_by_login(state.db.read(), login).await?.ok_or(ManageError::NotFound("user"))?;
    with_roles(state, user).await
}

/// Ends every session and browser sign-in of the user and refuses their
/// older access tokens; returns how many sessions were live.
///
/// The stamp moves first: that write takes the user's row lock, which a
/// sign-in holds while it writes its session (`users::lock_unchanged`). So
/// the sessions ended below include every one written before the change, and
/// none can be written after it under the old stamp.
pub(super) async fn end_sessions(
    tx: &mut Transaction,
    id: UserId,
    now: UnixTime,
    reason: EndReason,
) -> Result<u64, StoreError> {
    users::invalidate_tokens(tx, id, now).await?;
    let ended = sessions::revoke_all_for_user(tx, id, now, reason).await?;
    browser_sessions::end_all_for_user(tx, id, now).await?;
    Ok(ended)
}

/// A new user (admin API, `idp user create`, `idp seed`).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    username: String,
    email: String,
    password: SecretString,
    name: Option<String>,
    role_names: &[String],
) -> Result<UserWithRoles, ManageError> {
    use idp_core::ExposeSecret as _;
    let violations =
        validation::registration(&username, &email, password.expose_secret(), name.as_deref());
    if !violations.is_empty() {
        return Err(ManageError::Invalid(violations));
    }
    let new_roles = resolve_roles(state, role_names).await?;
    may_assign(state, actor, &new_roles, &[]).await?;
    let hash = state.hashing.hash(password).await?;
    let now = state.now();
    let user = new_user(username, email, name, hash, now);
    let events = [actor
        .event(EventKind::UserCreated, now)
        .subject(user.id)
        .detail("username", user.username.clone())];
    let mut tx = state.db.write().await?;
    users::insert(&mut tx, &user).await.map_err(taken)?;
    for role in &new_roles {
        roles::add_user(&mut tx, role.id, user.id).await?;
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    with_roles(state, user).await
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
    pub email: Option<String>,
    pub disabled: Option<bool>,
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: UserId,
    change: ProfileChange,
) -> Result<UserWithRoles, ManageError> {
    let mut violations: Vec<FieldViolation> = Vec::new();
    if let Some(Some(name)) = &change.name
        && let Err(message) = validation::display_name(name)
    {
        violations.push(FieldViolation { field: "name", message });
    }
    if let Some(email) = &change.email
        && let Err(message) = validation::email(email)
    {
        violations.push(FieldViolation { field: "email", message });
    }
    if !violations.is_empty() {
        return Err(ManageError::Invalid(violations));
    }
    let held = may_manage(state, actor, id).await?;
    let disables_an_admin = change.disabled == Some(true) && is_admin(&held);
    let now = state.now();
    let mut tx = state.db.write().await?;
    if disables_an_admin {
        roles::lock_by_name(&mut tx, roles::ADMIN_ROLE).await?;
    }
    let mut user = users::find_by_id(&mut *tx, id).await?.ok_or(ManageError::NotFound("user"))?;
    let was_disabled = user.is_disabled();
    if let Some(name) = change.name {
        user.name = name.map(|n| n.trim().to_owned());
    }
    if let Some(email) = change.email {
        // A new address is unverified until its owner follows a link.
        if !email.eq_ignore_ascii_case(&user.email) {
            user.email_verified_at = None;
        }
        user.email = email;
    }
    let mut events = vec![actor.event(EventKind::UserUpdated, now).subject(id)];
    match change.disabled {
        Some(true) if !was_disabled => {
            user.disabled_at = Some(now);
            let ended = end_sessions(&mut tx, id, now, EndReason::UserDisabled).await?;
            events.push(
                actor
                    .event(EventKind::UserDisabled, now)
                    .subject(id)
                    .detail("sessions_ended", ended),
            );
        }
        Some(false) if was_disabled => {
            user.disabled_at = None;
            events.push(actor.event(EventKind::UserEnabled, now).subject(id));
        }
        _ => {}
    }
    users::update_profile(&mut tx, &user, now).await.map_err(taken)?;
    if disables_an_admin {
        keep_an_administrator(&mut tx, "disable").await?;
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    with_roles(state, user).await
}

pub async fn delete(state: &AppState, actor: &Actor, id: UserId) -> Result<(), ManageError> {
    let held = may_manage(state, actor, id).await?;
    let deletes_an_admin = is_admin(&held);
    let now = state.now();
    let events = [actor.event(EventKind::UserDeleted, now).subject(id)];
    let mut tx = state.db.write().await?;
    if deletes_an_admin {
        roles::lock_by_name(&mut tx, roles::ADMIN_ROLE).await?;
    }
    if !users::delete(&mut tx, id).await? {
        return Err(ManageError::NotFound("user"));
    }
    if deletes_an_admin {
        keep_an_administrator(&mut tx, "delete").await?;
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}

/// Replaces the user's roles. Any change ends every session of the user:
/// tokens carry roles, and none may outlive a change of them.
pub async fn set_roles(
    state: &AppState,
    actor: &Actor,
    id: UserId,
    role_names: &[String],
) -> Result<UserWithRoles, ManageError> {
    let new_roles = resolve_roles(state, role_names).await?;
    let held = may_manage(state, actor, id).await?;
    may_assign(state, actor, &new_roles, &held).await?;
    let demotes_an_admin = is_admin(&held)
        && !new_roles.iter().any(|r| r.name.eq_ignore_ascii_case(roles::ADMIN_ROLE));
    let now = state.now();
    let mut tx = state.db.write().await?;
    if demotes_an_admin {
        roles::lock_by_name(&mut tx, roles::ADMIN_ROLE).await?;
    }
    let user = users::find_by_id(&mut *tx, id).await?.ok_or(ManageError::NotFound("user"))?;
    let before = users::roles_of(&mut *tx, id).await?;
    users::clear_roles(&mut tx, id).await?;
    for role in &new_roles {
        roles::add_user(&mut tx, role.id, id).await?;
    }
    let after = users::roles_of(&mut *tx, id).await?;
    if demotes_an_admin {
        keep_an_administrator(&mut tx, "demote").await?;
    }
    let mut events = Vec::new();
    if before != after {
        let ended = end_sessions(&mut tx, id, now, EndReason::RolesChanged).await?;
        events.push(
            actor
                .event(EventKind::RolesChanged, now)
                .subject(id)
                .detail("before", before)
                .detail("after", after.clone())
                .detail("sessions_ended", ended),
        );
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok((user, after))
}

/// Sets a password without knowing the old one (admin, CLI); ends every
/// session.
pub async fn set_password(
    state: &AppState,
    actor: &Actor,
    id: UserId,
    password: SecretString,
) -> Result<(), ManageError> {
    use idp_core::ExposeSecret as _;
    let user =
        users::find_by_id(state.db.read(), id).await?.ok_or(ManageError::NotFound("user"))?;
    may_manage(state, actor, id).await?;
    if let Err(message) =
        validation::new_password(password.expose_secret(), &user.username, &user.email)
    {
        return Err(ManageError::invalid("password", message));
    }
    let hash = state.hashing.hash(password).await?;
    store_password(state, actor, id, &hash).await
}

async fn store_password(
    state: &AppState,
    actor: &Actor,
    id: UserId,
    hash: &str,
) -> Result<(), ManageError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    if !users::set_password(&mut tx, id, hash, now).await? {
        return Err(ManageError::NotFound("user"));
    }
    let ended = end_sessions(&mut tx, id, now, EndReason::PasswordChanged).await?;
    let events =
        [actor.event(EventKind::PasswordChanged, now).subject(id).detail("sessions_ended", ended)];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}

/// Why a self-service password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("The current password is incorrect")]
    WrongCurrentPassword,
    #[error("Too many failed attempts; try again in {retry_after_secs} seconds")]
    Locked { retry_after_secs: u64 },
    #[error(transparent)]
    Manage(#[from] ManageError),
}

impl From<StoreError> for PasswordChangeError {
    fn from(err: StoreError) -> Self {
        Self::Manage(err.into())
    }
}

/// `/auth/password`: the user proves the current password (which counts
/// towards the lockout like any login), picks a new one, and every session
/// — this one included — ends.
pub async fn change_own_password(
    state: &AppState,
    actor: &Actor,
    user: &User,
    current: SecretString,
    new: SecretString,
) -> Result<(), PasswordChangeError> {
    use idp_core::ExposeSecret as _;
    let key = super::lockout::Key::user(user.id);
    if let Some(locked) = super::lockout::locked(state, &key).await? {
        return Err(PasswordChangeError::Locked { retry_after_secs: locked.retry_after_secs });
    }
    let checked = state
        .hashing
        .check(Some(user.password_hash.clone()), current)
        .await
        .map_err(ManageError::from)?;
    if !checked.valid {
        state.metrics.login_failed();
        super::lockout::record_failure(state, &key).await?;
        return Err(PasswordChangeError::WrongCurrentPassword);
    }
    if let Err(message) = validation::new_password(new.expose_secret(), &user.username, &user.email)
    {
        return Err(ManageError::invalid("new_password", message).into());
    }
    let hash = state.hashing.hash(new).await.map_err(ManageError::from)?;
    store_password(state, actor, user.id, &hash).await?;
    Ok(())
}

/// The user's sessions, newest first: `active_only` for the user's own view.
pub async fn sessions_of(
    state: &AppState,
    id: UserId,
    active_only: bool,
) -> Result<Vec<Session>, ManageError> {
    if users::find_by_id(state.db.read(), id).await?.is_none() {
        return Err(ManageError::NotFound("user"));
    }
    if active_only {
        Ok(sessions::list_active_for_user(state.db.read(), id, state.now()).await?)
    } else {
        Ok(sessions::list_for_user(state.db.read(), id).await?)
    }
}

/// Ends one session of the user; another user's session id is "not found".
pub async fn end_session(
    state: &AppState,
    actor: &Actor,
    user: UserId,
    session: SessionId,
) -> Result<(), ManageError> {
    may_manage(state, actor, user).await?;
    let now = state.now();
    let mut tx = state.db.write().await?;
    match sessions::find(&mut *tx, session).await? {
        Some(found) if found.user_id == user => {}
        _ => return Err(ManageError::NotFound("session")),
    }
    let ended = sessions::revoke(&mut tx, session, now, EndReason::AdminRevoked).await?;
    refresh_tokens::revoke_for_session(&mut tx, session, now).await?;
    let events: Vec<_> = if ended {
        vec![
            actor
                .event(EventKind::SessionEnded, now)
                .subject(user)
                .detail("session", session.to_string()),
        ]
    } else {
        Vec::new()
    };
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}

/// Another user's account is changed only by an actor who holds everything
/// the user holds: `Admin` for an administrator's account, and every
/// permission the user's roles grant. Otherwise `users:write` would reach
/// an account with more rights than the actor's — a changed email address
/// or password is a takeover. As for assigning roles (`may_assign`), a
/// manager's reach stops at what they hold. A user acting on their own
/// account gains nothing this way and is not restricted. Returns the roles
/// the target holds.
pub(super) async fn may_manage(
    state: &AppState,
    actor: &Actor,
    target: UserId,
) -> Result<Vec<String>, ManageError> {
    let held = users::roles_of(state.db.read(), target).await?;
    if actor.is(target) {
        return Ok(held);
    }
    if is_admin(&held) {
        actor.require_admin(state, "change an administrator's account").await?;
    }
    let permissions = roles::permissions_of(state.db.read(), target, &held).await?;
    actor
        .require_holds(
            state,
            &permissions,
            "You cannot change a user who holds permissions you do not hold",
        )
        .await?;
    Ok(held)
}

/// Roles are assigned only by an actor who holds everything they grant:
/// `Admin` by an administrator, any other role by someone holding all of its
/// permissions. Roles the user already `held` are not a new grant.
async fn may_assign(
    state: &AppState,
    actor: &Actor,
    new_roles: &[Role],
    held: &[String],
) -> Result<(), ManageError> {
    let mut granted = Vec::new();
    for role in new_roles {
        if held.iter().any(|h| h.eq_ignore_ascii_case(&role.name)) {
            continue;
        }
        if role.name.eq_ignore_ascii_case(roles::ADMIN_ROLE) {
            actor.require_admin(state, "assign the Admin role").await?;
        }
        granted.extend(roles::permissions_of_role(state.db.read(), role.id).await?);
    }
    actor.require_holds(state, &granted, "You cannot grant permissions you do not hold").await
}

/// Role names to roles; unknown names are a validation error listing them.
async fn resolve_roles(state: &AppState, names: &[String]) -> Result<Vec<Role>, ManageError> {
    let mut found: Vec<Role> = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        // A name no role could have is unknown without asking.
        if client_registration::role_name(name).is_err() {
            unknown.push(name.as_str());
            continue;
        }
        match roles::find_by_name(state.db.read(), name).await? {
            Some(role) if !found.iter().any(|r| r.id == role.id) => found.push(role),
            Some(_) => {}
            None => unknown.push(name.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(ManageError::invalid(
            "roles",
            format!("unknown roles: {}", unknown.join(", ")),
        ));
    }
    Ok(found)
}

fn is_admin(roles: &[String]) -> bool {
    roles.iter().any(|r| r.eq_ignore_ascii_case(roles::ADMIN_ROLE))
}

/// Inside a change that may take `Admin` from its last enabled holder, after
/// the change: refuses it (the transaction rolls back) when no enabled
/// administrator would be left, since then nobody could administer idp
/// but through the command line. The change took the `Admin` role's row
/// lock first, so two such changes run one after the other and the second
/// counts what the first left.
async fn keep_an_administrator(tx: &mut Transaction, what: &str) -> Result<(), ManageError> {
    if users::count_enabled_with_role(&mut **tx, roles::ADMIN_ROLE).await? > 0 {
        return Ok(());
    }
    Err(ManageError::Conflict(format!(
        "Cannot {what} the last enabled administrator: give another user the Admin role first."
    )))
}

fn taken(err: StoreError) -> ManageError {
    match err.violated_index() {
        Some(users::USERNAME_INDEX) => ManageError::Conflict("Username already taken".into()),
        Some(users::EMAIL_INDEX) => ManageError::Conflict("Email already registered".into()),
        _ => ManageError::Failed(err.into()),
    }
}
