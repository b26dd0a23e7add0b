//! Login sessions: one per authentication, each a refresh-token family and
//! the `sid` of every token issued in it.

use crate::clock::UnixTime;
use crate::ids::{BrowserSessionId, ClientId, SessionId, UserId};
use crate::user::SecurityStamp;

/// Why a session ended; stored, shown to admins, and audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    Revoked,
    RefreshTokenReuse,
    CodeReuse,
    PasswordChanged,
    RolesChanged,
    UserDisabled,
    UserDeleted,
    AdminRevoked,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::CodeReuse => "authorization_code_reuse",
            Self::PasswordChanged => "password_changed",
            Self::RolesChanged => "roles_changed",
            Self::UserDisabled => "user_disabled",
            Self::UserDeleted => "user_deleted",
            Self::AdminRevoked => "admin_revoked",
        }
    }
}

/// A login session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub browser_session_id: Option<BrowserSessionId>,
    pub scope: String,
    pub roles: Vec<String>,
    pub auth_time: UnixTime,
    pub created_at: UnixTime,
    pub last_used_at: UnixTime,
    /// The absolute cap; no refresh goes past it.
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The user's security stamp when the session began.
    pub user_stamp: SecurityStamp,
}

impl Session {
    /// Not ended, and within its absolute lifetime.
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// [`Session::is_active`], and its user is still enabled and unchanged
    /// since it began (the session would have been ended with the change;
    /// this holds even for one written by a node that missed it).
    pub fn is_live(&self, now: UnixTime, user: UserStanding) -> bool {
        self.is_active(now) && !user.disabled && user.stamp == self.user_stamp
    }
}

/// What a session's liveness needs to know about its user, read together
/// with the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserStanding {
    pub disabled: bool,
    pub stamp: SecurityStamp,
}

/// Where a request came from, recorded on sessions and audit events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}
