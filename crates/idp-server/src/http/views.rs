//! The JSON shapes the API answers with, shared by several endpoints.

use idp_core::client::Client;
use idp_core::session::Session;
use idp_core::user::User;
use serde::Serialize;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub disabled: bool,
    pub roles: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

impl UserOut {
    pub fn of(user: &User, roles: Vec<String>) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            email_verified: user.email_verified(),
            disabled: user.is_disabled(),
            roles,
            created_at: user.created_at.to_rfc3339(),
            updated_at: user.updated_at.to_rfc3339(),
        }
    }
}

/// A page of a list: `items` from `skip`, and how many match in all.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// A login session (one refresh-token family).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    pub client_id: String,
    /// The device, as its `User-Agent` said.
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
    pub last_used_at: String,
    /// When it ends at the latest.
    pub expires_at: String,
    /// When it was ended early (logout, revocation, password change…).
    pub ended_at: Option<String>,
    /// True for the session of the token making this request.
    pub current: bool,
}

impl SessionOut {
    pub fn of(session: &Session, current: Option<idp_core::ids::SessionId>) -> Self {
        Self {
            id: session.id.to_string(),
            client_id: session.client_id.to_string(),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            created_at: session.created_at.to_rfc3339(),
            last_used_at: session.last_used_at.to_rfc3339(),
            expires_at: session.expires_at.to_rfc3339(),
            ended_at: session.revoked_at.map(|t| t.to_rfc3339()),
            current: current == Some(session.id),
        }
    }
}

/// A registered OAuth client (never its secret, except once at creation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientOut {
    pub client_id: String,
    pub name: String,
    /// `public` or `confidential`.
    pub client_type: &'static str,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub access_token_ttl_secs: Option<u64>,
    pub refresh_token_ttl_secs: Option<u64>,
    /// The JWS algorithm of the client's ID tokens; `null` means the
    /// server's `ALGORITHM`.
    pub id_token_signed_response_alg: Option<&'static str>,
    pub created_at: String,
    pub updated_at: String,
    /// Only in the response that creates the client or resets its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl ClientOut {
    pub fn of(client: &Client, secret: Option<String>) -> Self {
        Self {
            client_id: client.id.to_string(),
            name: client.name.clone(),
            client_type: client.client_type.as_str(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            grant_types: client.grant_types.iter().map(|g| g.as_str()).collect(),
            scopes: client.scopes.clone(),
            first_party: client.first_party,
            access_token_ttl_secs: client.access_token_ttl.map(|d| d.as_secs()),
            refresh_token_ttl_secs: client.refresh_token_ttl.map(|d| d.as_secs()),
            id_token_signed_response_alg: client.id_token_signed_response_alg.map(|a| a.as_str()),
            created_at: client.created_at.to_rfc3339(),
            updated_at: client.updated_at.to_rfc3339(),
            client_secret: secret,
        }
    }
}
