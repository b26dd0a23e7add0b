//! What the administration use cases share: who is acting, and how they fail.

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::clock::UnixTime;
use idp_core::ids::UserId;
use idp_core::session::RequestOrigin;
use idp_core::validation::FieldViolation;
use idp_store::StoreError;
use idp_store::repo::roles::{self, ADMIN_ROLE};
use idp_store::repo::users;

use super::failure::{Failure, failure_from};
use crate::state::AppState;

/// Who makes a change: a user (through the API) or the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A user id, or `cli`.
    pub id: String,
    pub origin: RequestOrigin,
    /// The acting user; `None` for the command line, which has every right.
    user: Option<UserId>,
}

impl Actor {
    pub fn user(id: UserId, origin: RequestOrigin) -> Self {
        Self { id: id.to_string(), origin, user: Some(id) }
    }

    pub fn cli() -> Self {
        Self { id: "cli".into(), origin: RequestOrigin::default(), user: None }
    }

    /// Whether the actor holds `Admin` (the command line always does).
    /// Read from the store, not the token: the guard let the request in on
    /// a permission, and this decides what that permission may reach.
    pub async fn is_admin(&self, state: &AppState) -> Result<bool, StoreError> {
        let Some(id) = self.user else { return Ok(true) };
        let held = users::roles_of(state.db.read(), id).await?;
        Ok(held.iter().any(|r| r.eq_ignore_ascii_case(ADMIN_ROLE)))
    }

    /// Refuses unless the actor is an administrator: `users:write` must not
    /// reach an administrator's account, nor hand out `Admin`.
    pub async fn require_admin(&self, state: &AppState, to: &str) -> Result<(), ManageError> {
        if self.is_admin(state).await? {
            Ok(())
        } else {
            Err(ManageError::Forbidden(format!("Only an administrator may {to}.")))
        }
    }

    /// Whether the actor is the user `id` acting on their own account.
    pub fn is(&self, id: UserId) -> bool {
        self.user == Some(id)
    }

    /// Refuses unless the actor holds every one of `permissions` (the
    /// command line holds them all), so that a permission to manage
    /// something cannot be widened into more: granting what the actor
    /// lacks, or reaching a user who holds it. `refusal` starts the 403's
    /// text, which goes on to list what is missing.
    pub async fn require_holds(
        &self,
        state: &AppState,
        permissions: &[String],
        refusal: &str,
    ) -> Result<(), ManageError> {
        let Some(id) = self.user else { return Ok(()) };
        if permissions.is_empty() {
            return Ok(());
        }
        let held = users::roles_of(state.db.read(), id).await?;
        let granted = roles::permissions_of(state.db.read(), id, &held).await?;
        let mut missing: Vec<&str> = permissions
            .iter()
            .filter(|p| !granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
            .map(String::as_str)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ManageError::Forbidden(format!("{refusal}: {}.", missing.join(", "))))
        }
    }

    /// An audit event of this actor's doing.
    pub fn event(&self, kind: EventKind, now: UnixTime) -> AuditEvent {
        AuditEvent::new(kind, Outcome::Success, now).actor(&self.id).origin(&self.origin)
    }
}

/// Why an administrative change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    #[error("{0}")]
    Conflict(String),
    /// The change is never allowed (deleting a built-in role or client…).
    #[error("{0}")]
    Refused(String),
    /// The actor lacks the authority for this particular change.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Failed(#[from] Failure),
}

failure_from!(ManageError);

impl ManageError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation { field, message: message.into() }])
    }
}
