//! OAuth clients: what they are allowed to do and how they prove who they are.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::clock::UnixTime;
use crate::ids::ClientId;
use crate::jose::Algorithm;
use crate::secret_hash::SecretHash;

/// The built-in first-party client. Clients of the original service send no
/// `client_id` with the password grant or refresh; their requests are
/// attributed to this client (SPEC.md "Clients").
pub const FIRST_PARTY_CLIENT_ID: &str = "idp-first-party";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// Cannot keep a secret (SPA, mobile, CLI): authenticates with PKCE only.
    Public,
    /// Has a secret (a backend).
    Confidential,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Confidential => "confidential",
        }
    }
}

impl FromStr for ClientType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "public" => Ok(Self::Public),
            "confidential" => Ok(Self::Confidential),
            _ => Err(UnknownValue),
        }
    }
}

/// The grant types idp implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    Password,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::Password,
        GrantType::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

impl FromStr for GrantType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Self::ALL.into_iter().find(|g| g.as_str() == s).ok_or(UnknownValue)
    }
}

/// A registered client.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub client_type: ClientType,
    /// SHA-256 of the secret; `Some` exactly for confidential clients.
    pub secret_hash: Option<SecretHash>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    /// Trusted: no consent page.
    pub first_party: bool,
    pub access_token_ttl: Option<Duration>,
    pub refresh_token_ttl: Option<Duration>,
    /// `id_token_signed_response_alg` (OIDC Dynamic Client Registration
    /// §2): the algorithm of this client's ID tokens; `None` means the
    /// server's `ALGORITHM`.
    pub id_token_signed_response_alg: Option<Algorithm>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("client_type", &self.client_type)
            .field("grant_types", &self.grant_types)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn is_confidential(&self) -> bool {
        self.client_type == ClientType::Confidential
    }

    /// Checks a presented secret against the stored hash in constant time.
    /// Public clients have no secret and never match.
    pub fn secret_matches(&self, presented: &str) -> bool {
        self.secret_hash.as_ref().is_some_and(|hash| hash.matches(presented))
    }
}
