//! Login sessions: one per authentication, each a refresh-token family and
//! the `sid` of every token issued in it.

use crate::clock::UnixTime;
use crate::ids::{BrowserSessionId, ClientId, RefreshTokenId, SessionId, UserId};
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

/// A refresh token as stored (only its hash is; see `idp_store`): one link
/// of its session's family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: RefreshTokenId,
    pub session_id: SessionId,
    pub parent_id: Option<RefreshTokenId>,
    pub client_id: ClientId,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub consumed_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

impl RefreshToken {
    /// Usable once more: neither consumed nor revoked, and not expired.
    /// (Its session must be live too: [`Session::is_live`].)
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.consumed_at.is_none() && self.revoked_at.is_none() && now < self.expires_at
    }

    /// Consumed by a rotation and presented again (reuse, or a retry within
    /// the grace period), as opposed to revoked.
    pub fn is_replay(&self) -> bool {
        self.consumed_at.is_some() && self.revoked_at.is_none()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn token(consumed: Option<i64>, revoked: Option<i64>) -> RefreshToken {
        RefreshToken {
            id: RefreshTokenId::new(),
            session_id: SessionId::new(),
            parent_id: None,
            client_id: ClientId::new("spa"),
            issued_at: UnixTime::from_secs(100),
            expires_at: UnixTime::from_secs(200),
            consumed_at: consumed.map(UnixTime::from_secs),
            revoked_at: revoked.map(UnixTime::from_secs),
        }
    }

    #[test]
    fn a_refresh_token_is_live_until_consumed_revoked_or_expired() {
        let now = UnixTime::from_secs(150);
        assert!(token(None, None).is_live(now));
        assert!(!token(None, None).is_live(UnixTime::from_secs(200)));
        assert!(!token(Some(120), None).is_live(now));
        assert!(!token(None, Some(120)).is_live(now));
        assert!(token(Some(120), None).is_replay());
        assert!(!token(Some(120), Some(130)).is_replay());
        assert!(!token(None, None).is_replay());
    }

    #[test]
    fn a_session_is_live_only_for_an_enabled_unchanged_user() {
        let session = Session {
            id: SessionId::new(),
            user_id: UserId::new(),
            client_id: ClientId::new("spa"),
            browser_session_id: None,
            scope: "openid".into(),
            roles: vec![],
            auth_time: UnixTime::from_secs(100),
            created_at: UnixTime::from_secs(100),
            last_used_at: UnixTime::from_secs(100),
            expires_at: UnixTime::from_secs(200),
            revoked_at: None,
            ip: None,
            user_agent: None,
            user_stamp: SecurityStamp::new(3),
        };
        let now = UnixTime::from_secs(150);
        let user = |disabled, stamp| UserStanding { disabled, stamp: SecurityStamp::new(stamp) };
        assert!(session.is_live(now, user(false, 3)));
        assert!(!session.is_live(now, user(true, 3)));
        assert!(!session.is_live(now, user(false, 4)));
        assert!(!session.is_live(UnixTime::from_secs(200), user(false, 3)));
    }
}
