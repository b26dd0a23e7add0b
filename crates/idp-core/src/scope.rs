//! OAuth scopes (RFC 6749 §3.3) and the OpenID Connect scopes idp knows.

use std::fmt;

/// `openid`: the request is an OpenID Connect request; an ID token is issued.
pub const OPENID: &str = "openid";
/// `profile`: `name`, `preferred_username`.
pub const PROFILE: &str = "profile";
/// `email`: `email`, `email_verified`.
pub const EMAIL: &str = "email";
/// `roles`: the user's role names.
pub const ROLES: &str = "roles";
/// `offline_access`: a refresh token (OIDC Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// `idp:admin`: lets a third-party client's token use idp's admin API
/// (`/admin/*`), within the user's permissions. First-party clients' tokens
/// need no scope for it.
pub const IDP_ADMIN: &str = "idp:admin";
/// `idp:account`: lets a third-party client's token use the user's account
/// endpoints (`/auth/sessions`, `/auth/password`, …).
pub const IDP_ACCOUNT: &str = "idp:account";

/// Scopes a third-party client gets only through a consent page that names
/// them: never by a grant that asks the user nothing (the password grant).
pub const CONSENTED_ONLY: &[&str] = &[IDP_ADMIN, IDP_ACCOUNT];

/// The scopes a user-facing client gets when it asks for none, and what the
/// original service's password grant always granted.
pub const DEFAULT_USER_SCOPES: &[&str] = &[OPENID, PROFILE, EMAIL, ROLES];

/// Every scope with a meaning at this server, advertised in discovery.
pub const SUPPORTED: &[&str] =
    &[OPENID, PROFILE, EMAIL, ROLES, OFFLINE_ACCESS, IDP_ADMIN, IDP_ACCOUNT];

/// A set of scope tokens, kept in the order first given, without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope tokens must be printable ASCII without spaces, quotes or backslashes")]
    Malformed,
    #[error("too many scopes")]
    TooMany,
}

impl Scope {
    const MAX_TOKENS: usize = 64;
    const MAX_TOKEN_LEN: usize = 128;

    /// Parses a space-delimited `scope` parameter. Extra spaces are
    /// tolerated; characters outside RFC 6749's NQCHAR are not.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let mut tokens: Vec<String> = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            let valid = token.len() <= Self::MAX_TOKEN_LEN
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(ScopeError::Malformed);
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
            if tokens.len() > Self::MAX_TOKENS {
                return Err(ScopeError::TooMany);
            }
        }
        Ok(Self(tokens))
    }

    pub fn from_tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out: Vec<String> = Vec::new();
        for token in tokens {
            let token = token.into();
            if !out.contains(&token) {
                out.push(token);
            }
        }
        Self(out)
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.iter().all(|t| other.contains(t))
    }

    /// Tokens of `self` that are not allowed by `allowed`.
    pub fn not_in<'a>(&'a self, allowed: &'a [String]) -> impl Iterator<Item = &'a str> {
        self.iter().filter(move |t| !allowed.iter().any(|a| a == t))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_delimited_tokens_without_duplicates() {
        let scope = Scope::parse("openid  profile openid email").unwrap();
        assert_eq!(scope.to_string(), "openid profile email");
        assert!(scope.contains("profile"));
        assert!(!scope.contains("roles"));
    }

    #[test]
    fn refuses_characters_outside_nqchar() {
        for bad in ["open\"id", "a\\b", "tab\there", "nul\0", "é"] {
            assert_eq!(Scope::parse(bad), Err(ScopeError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn subset_checks() {
        let granted = Scope::parse("openid profile email").unwrap();
        assert!(Scope::parse("openid email").unwrap().is_subset_of(&granted));
        assert!(!Scope::parse("openid admin").unwrap().is_subset_of(&granted));
    }
}
