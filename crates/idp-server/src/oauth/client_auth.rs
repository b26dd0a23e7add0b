//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! and `none` for public clients.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idp_core::client::Client;
use idp_store::repo::clients;

use crate::oauth::error::OAuthError;
use crate::oauth::form::FormFields;
use crate::state::AppState;

/// The credentials a request carried.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented {
    /// HTTP Basic (`client_secret_basic`).
    Basic { id: String, secret: String },
    /// `client_id` + `client_secret` in the body (`client_secret_post`).
    Post { id: String, secret: String },
    /// Only `client_id`: a public client (`none`).
    IdOnly { id: String },
    /// Nothing: the original service's clients.
    Absent,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { id, .. } => write!(f, "Basic({id})"),
            Self::Post { id, .. } => write!(f, "Post({id})"),
            Self::IdOnly { id } => write!(f, "IdOnly({id})"),
            Self::Absent => f.write_str("Absent"),
        }
    }
}

impl Presented {
    /// Reads the credentials; using more than one method is an error
    /// (RFC 6749 §2.3: "MUST NOT use more than one authentication method").
    pub fn from_request(headers: &HeaderMap, form: &FormFields) -> Result<Self, OAuthError> {
        let basic = basic_credentials(headers)?;
        let form_id = form.get("client_id");
        let form_secret = form.get("client_secret");
        match (basic, form_id, form_secret) {
            (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
                "Use one client authentication method, not several.",
            )),
            (Some((id, _)), Some(form_id), None) if form_id != id => Err(
                OAuthError::invalid_request("client_id does not match the Authorization header."),
            ),
            (Some((id, secret)), _, None) => Ok(Self::Basic { id, secret }),
            (None, Some(id), Some(secret)) => {
                Ok(Self::Post { id: id.to_owned(), secret: secret.to_owned() })
            }
            (None, Some(id), None) => Ok(Self::IdOnly { id: id.to_owned() }),
            (None, None, Some(_)) => {
                Err(OAuthError::invalid_request("client_secret without client_id."))
            }
            (None, None, None) => Ok(Self::Absent),
        }
    }

    /// The client id to look up, if any; one longer than any stored id
    /// fails without a query.
    pub fn lookup_id(&self) -> Result<Option<&str>, OAuthError> {
        match self {
            Self::Basic { id, .. } | Self::Post { id, .. } | Self::IdOnly { id } => {
                if id.len() > 255 { Err(failed(self)) } else { Ok(Some(id)) }
            }
            Self::Absent => Ok(None),
        }
    }

    fn uses_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`
/// (RFC 6749 §2.3.1). Other schemes are not client authentication here.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed =
        || OAuthError::invalid_client("Malformed Basic credentials.").with_basic_challenge();
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Ok(None) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| malformed())
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(Some((id, secret)))
}

fn failed(presented: &Presented) -> OAuthError {
    let err = OAuthError::invalid_client("Client authentication failed.");
    if presented.uses_basic() { err.with_basic_challenge() } else { err }
}

/// Authenticates the presented credentials. `Ok(None)` when none were
/// presented; each endpoint decides what that means.
pub async fn authenticate(
    state: &AppState,
    presented: &Presented,
) -> Result<Option<Client>, OAuthError> {
    let Some(id) = presented.lookup_id()? else { return Ok(None) };
    let found = clients::find(state.db.read(), id).await?;
    check(presented, found).map(Some)
}

/// Checks the presented credentials against `found`, the client their id
/// names (looked up by the caller, perhaps along with something else).
pub fn check(presented: &Presented, found: Option<Client>) -> Result<Client, OAuthError> {
    let client = found.ok_or_else(|| failed(presented))?;
    let secret = match presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => Some(secret.as_str()),
        Presented::IdOnly { .. } | Presented::Absent => None,
    };
    match secret {
        // Secrets are compared as SHA-256 hashes in constant time.
        Some(secret) if client.is_confidential() && client.secret_matches(secret) => Ok(client),
        Some(_) => Err(failed(presented)),
        None if client.is_confidential() => Err(failed(presented)),
        None => Ok(client),
    }
}

/// The built-in first-party client, for requests that name no client.
pub async fn first_party(state: &AppState) -> Result<Client, OAuthError> {
    clients::find(state.db.read(), idp_core::client::FIRST_PARTY_CLIENT_ID)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("The built-in first-party client is missing."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        // "my%20client:p%40ss" base64
        let encoded = STANDARD.encode("my%20client:p%40ss");
        let p =
            Presented::from_request(&headers(&format!("Basic {encoded}")), &FormFields::default())
                .unwrap();
        assert_eq!(p, Presented::Basic { id: "my client".into(), secret: "p@ss".into() });
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let encoded = STANDARD.encode("a:b");
        let form = FormFields::from_pairs(&[("client_id", "a"), ("client_secret", "b")]);
        assert!(Presented::from_request(&headers(&format!("Basic {encoded}")), &form).is_err());
    }

    #[test]
    fn body_credentials_and_public_clients() {
        let post = FormFields::from_pairs(&[("client_id", "a"), ("client_secret", "b")]);
        assert_eq!(
            Presented::from_request(&HeaderMap::new(), &post).unwrap(),
            Presented::Post { id: "a".into(), secret: "b".into() }
        );
        let public = FormFields::from_pairs(&[("client_id", "spa")]);
        assert_eq!(
            Presented::from_request(&HeaderMap::new(), &public).unwrap(),
            Presented::IdOnly { id: "spa".into() }
        );
        assert_eq!(
            Presented::from_request(&HeaderMap::new(), &FormFields::default()).unwrap(),
            Presented::Absent
        );
    }

    #[test]
    fn bearer_headers_are_not_client_authentication() {
        let p = Presented::from_request(&headers("Bearer abc"), &FormFields::default()).unwrap();
        assert_eq!(p, Presented::Absent);
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let p = Presented::Post { id: "a".into(), secret: "hunter2".into() };
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
