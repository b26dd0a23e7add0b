//! Audit events: what happened, to whom, by whom, from where.
//!
//! The shape is versioned ([`AuditEvent::VERSION`]) because events will be
//! delivered to webhooks and brokers; consumers rely on it. `details` never
//! carries a token, secret or password.

use crate::clock::UnixTime;
use crate::ids::AuditEventId;
use crate::session::RequestOrigin;

/// The stable names of audit events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    LoginSucceeded,
    LoginFailed,
    LoginLocked,
    TokenIssued,
    TokenRefreshed,
    TokenReuseDetected,
    TokenRevoked,
    SessionEnded,
    ConsentGranted,
    UserRegistered,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    PasswordChanged,
    RolesChanged,
    RoleCreated,
    RoleDeleted,
    RolePermissionsChanged,
    PermissionCreated,
    PermissionDeleted,
    ClientCreated,
    ClientUpdated,
    ClientSecretReset,
    ClientDeleted,
    KeyCreated,
    KeyRetired,
    KeyResealed,
    PasswordResetRequested,
    PasswordReset,
    EmailVerificationSent,
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::TokenIssued,
        Self::TokenRefreshed,
        Self::TokenReuseDetected,
        Self::TokenRevoked,
        Self::SessionEnded,
        Self::ConsentGranted,
        Self::UserRegistered,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserDeleted,
        Self::PasswordChanged,
        Self::RolesChanged,
        Self::RoleCreated,
        Self::RoleDeleted,
        Self::RolePermissionsChanged,
        Self::PermissionCreated,
        Self::PermissionDeleted,
        Self::ClientCreated,
        Self::ClientUpdated,
        Self::ClientSecretReset,
        Self::ClientDeleted,
        Self::KeyCreated,
        Self::KeyRetired,
        Self::KeyResealed,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailVerificationSent,
        Self::EmailVerified,
        Self::EmailChangeRequested,
        Self::EmailChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::LoginLocked => "login.locked",
            Self::TokenIssued => "token.issued",
            Self::TokenRefreshed => "token.refreshed",
            Self::TokenReuseDetected => "token.reuse_detected",
            Self::TokenRevoked => "token.revoked",
            Self::SessionEnded => "session.ended",
            Self::ConsentGranted => "consent.granted",
            Self::UserRegistered => "user.registered",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::UserDeleted => "user.deleted",
            Self::PasswordChanged => "user.password_changed",
            Self::RolesChanged => "user.roles_changed",
            Self::RoleCreated => "role.created",
            Self::RoleDeleted => "role.deleted",
            Self::RolePermissionsChanged => "role.permissions_changed",
            Self::PermissionCreated => "permission.created",
            Self::PermissionDeleted => "permission.deleted",
            Self::ClientCreated => "client.created",
            Self::ClientUpdated => "client.updated",
            Self::ClientSecretReset => "client.secret_reset",
            Self::ClientDeleted => "client.deleted",
            Self::KeyCreated => "key.created",
            Self::KeyRetired => "key.retired",
            Self::KeyResealed => "key.resealed",
            Self::PasswordResetRequested => "user.password_reset_requested",
            Self::PasswordReset => "user.password_reset",
            Self::EmailVerificationSent => "user.email_verification_sent",
            Self::EmailVerified => "user.email_verified",
            Self::EmailChangeRequested => "user.email_change_requested",
            Self::EmailChanged => "user.email_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One audit record.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub version: i64,
    pub occurred_at: UnixTime,
    pub kind: String,
    pub outcome: Outcome,
    /// Who did it (a user id, `client:<id>`, or `cli`).
    pub actor_id: Option<String>,
    /// Whom it concerns (usually a user id).
    pub subject_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub const VERSION: i64 = 1;

    pub fn new(kind: EventKind, outcome: Outcome, now: UnixTime) -> Self {
        Self {
            id: AuditEventId::new(),
            version: Self::VERSION,
            occurred_at: now,
            kind: kind.as_str().to_owned(),
            outcome,
            actor_id: None,
            subject_id: None,
            client_id: None,
            ip: None,
            user_agent: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    pub fn actor(mut self, actor: impl ToString) -> Self {
        self.actor_id = Some(actor.to_string());
        self
    }

    pub fn subject(mut self, subject: impl ToString) -> Self {
        self.subject_id = Some(subject.to_string());
        self
    }

    pub fn client(mut self, client: impl ToString) -> Self {
        self.client_id = Some(client.to_string());
        self
    }

    pub fn origin(mut self, origin: &RequestOrigin) -> Self {
        self.ip.clone_from(&origin.ip);
        self.user_agent.clone_from(&origin.user_agent);
        self
    }

    /// Adds one detail. Callers pass identifiers and reasons, never secrets.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(*kind));
            assert!(seen.insert(kind.as_str()), "duplicate {}", kind.as_str());
        }
    }
}
