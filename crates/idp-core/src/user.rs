//! Users as the rest of the system sees them.

use std::fmt;

use crate::clock::UnixTime;
use crate::ids::UserId;

/// A stored user. `Debug` leaves the password hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub email_verified_at: Option<UnixTime>,
    pub disabled_at: Option<UnixTime>,
    /// Access tokens issued before this instant are refused.
    pub tokens_valid_after: UnixTime,
    /// Changes with every change that ends the user's sessions.
    pub security_stamp: SecurityStamp,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// Whether an access token issued at `iat` (JWT seconds) predates the
    /// user's last password, role or status change. Whole seconds: a token
    /// issued in the same second as the change passes this check, and is
    /// refused by its ended session instead (see [`SecurityStamp`]).
    pub fn issued_before_change(&self, iat: i64) -> bool {
        iat < self.tokens_valid_after.as_secs()
    }

    /// Whether something created for this user under `stamp` (a session, a
    /// browser sign-in, a code) may still be used.
    pub fn accepts(&self, stamp: SecurityStamp) -> bool {
        !self.is_disabled() && self.security_stamp == stamp
    }
}

/// A user's security stamp: a counter that every password, role or status
/// change moves on, in the transaction that ends the user's sessions.
/// Sessions, browser sign-ins and authorization codes record the stamp they
/// were created under and are void once it has moved — an exact test, where
/// instants have whole seconds (ASP.NET Identity's "security stamp").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityStamp(i64);

impl SecurityStamp {
    pub const fn new(value: i64) -> Self {
        Self(value)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.is_disabled())
            .finish_non_exhaustive()
    }
}

/// What tokens and userinfo say about a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub roles: Vec<String>,
}

impl Profile {
    pub fn of(user: &User, roles: Vec<String>) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified(),
            name: user.name.clone(),
            roles,
        }
    }
}
