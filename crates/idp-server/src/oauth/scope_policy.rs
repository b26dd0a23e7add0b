//! Which scopes a token request gets.

use idp_core::client::Client;
use idp_core::scope::Scope;

use crate::oauth::error::OAuthError;

/// Parses the requested `scope` and checks it against what the client may
/// ask for. With no `scope`, the client gets `default` ∩ its allowed scopes
/// (RFC 6749 §3.3 lets the server pick a default).
pub fn requested(
    raw: Option<&str>,
    client: &Client,
    default: &[&str],
) -> Result<Scope, OAuthError> {
    match raw {
        None => Ok(Scope::from_tokens(
            default.iter().filter(|s| client.scopes.iter().any(|a| a == *s)).copied(),
        )),
        Some(raw) => {
            let scope = Scope::parse(raw).map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
            let refused: Vec<&str> = scope.not_in(&client.scopes).collect();
            if !refused.is_empty() {
                return Err(OAuthError::invalid_scope(format!(
                    "Scope not allowed for this client: {}",
                    refused.join(" ")
                )));
            }
            Ok(scope)
        }
    }
}

/// For a grant that shows the user no consent page (the password grant):
/// refuses the scopes a third-party client gets only through one that names
/// them (`idp:admin`, `idp:account`).
pub fn without_consent(scope: &Scope, client: &Client) -> Result<(), OAuthError> {
    if client.first_party {
        return Ok(());
    }
    match scope.iter().find(|s| idp_core::scope::CONSENTED_ONLY.contains(s)) {
        None => Ok(()),
        Some(s) => Err(OAuthError::invalid_scope(format!(
            "{s} is granted to this client only through the authorization code flow, \
             on a consent page that names it."
        ))),
    }
}

/// Parses an optional `scope` parameter.
pub fn parse(raw: Option<&str>) -> Result<Option<Scope>, OAuthError> {
    raw.map(|raw| Scope::parse(raw).map_err(|e| OAuthError::invalid_scope(e.to_string())))
        .transpose()
}
