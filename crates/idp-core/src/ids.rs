//! Typed identifiers.
//!
//! Every entity id is a global UUID (v7 where creation order helps an index),
//! stored as canonical TEXT. The newtypes keep a user id from being passed
//! where a session id is expected.

use std::fmt;
use std::str::FromStr;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> &uuid::Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.as_hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                uuid::Uuid::try_parse(s).map(Self).map_err(|_| InvalidId)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                s.parse()
            }
        }
    };
}

/// A string that should have been a UUID was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

uuid_id!(
    /// A user; the `sub` of the tokens issued to them.
    UserId
);
uuid_id!(RoleId);
uuid_id!(PermissionId);
uuid_id!(
    /// A login session: one refresh-token family, the `sid` claim.
    SessionId
);
uuid_id!(
    /// A browser's login at the authorization endpoint (the session cookie).
    BrowserSessionId
);
uuid_id!(RefreshTokenId);
uuid_id!(AuthorizationCodeId);
uuid_id!(AuditEventId);

/// An OAuth client identifier. Generated ones are UUIDs, but operators may
/// choose their own (e.g. `my-spa`), so it is an opaque string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().as_hyphenated().to_string())
    }

    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

impl From<String> for ClientId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = UserId::new();
        let parsed: UserId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert_eq!("1 OR 1=1".parse::<SessionId>(), Err(InvalidId));
    }

    #[test]
    fn new_ids_sort_by_creation() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b);
    }
}
