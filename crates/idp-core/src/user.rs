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
