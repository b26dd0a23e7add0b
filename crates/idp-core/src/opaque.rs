//! Opaque bearer secrets that idp hands out and stores only as hashes:
//! refresh tokens, authorization codes, client secrets, session cookies.

use std::fmt;

use crate::secret_hash::SecretHash;

/// What kind of secret a token is; its prefix makes a leaked token
/// recognisable to secret scanners and to people reading logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    RefreshToken,
    AuthorizationCode,
    ClientSecret,
    BrowserSession,
    PasswordReset,
    EmailVerification,
    EmailChange,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::RefreshToken => "rt_",
            Self::AuthorizationCode => "ac_",
            Self::ClientSecret => "cs_",
            Self::BrowserSession => "bs_",
            Self::PasswordReset => "pr_",
            Self::EmailVerification => "ev_",
            Self::EmailChange => "ec_",
        }
    }
}

/// A freshly generated secret in plain text: shown once to its owner, then
/// only its [`SecretHash`] is kept. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl PlainToken {
    /// 256 bits from the CSPRNG behind the kind's prefix.
    pub fn generate(kind: TokenKind) -> Self {
        Self(format!("{}{}", kind.prefix(), crate::random::token::<32>()))
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    /// The secret itself, for the one response that hands it out.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_prefixed_random_and_redacted() {
        let a = PlainToken::generate(TokenKind::RefreshToken);
        let b = PlainToken::generate(TokenKind::RefreshToken);
        assert!(a.expose().starts_with("rt_"));
        assert_eq!(a.expose().len(), 3 + 43);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "PlainToken(..)");
        assert!(a.hash().matches(a.expose()));
    }
}
