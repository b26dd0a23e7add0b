//! What the administration use cases share: who is acting, and how they fail.

use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::clock::UnixTime;
use idp_core::session::RequestOrigin;
use idp_core::validation::FieldViolation;
use idp_store::StoreError;

use super::hashing::HashingError;

/// Who makes a change: a user (through the API) or the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A user id, or `cli`.
    pub id: String,
    pub origin: RequestOrigin,
}

impl Actor {
    pub fn user(id: idp_core::ids::UserId, origin: RequestOrigin) -> Self {
        Self { id: id.to_string(), origin }
    }

    pub fn cli() -> Self {
        Self { id: "cli".into(), origin: RequestOrigin::default() }
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
    #[error("password hashing is at capacity")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ManageError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation { field, message: message.into() }])
    }
}

impl From<HashingError> for ManageError {
    fn from(err: HashingError) -> Self {
        match err {
            HashingError::Busy => Self::Busy,
            HashingError::Failed(reason) => Self::Internal(reason),
        }
    }
}
