//! Issuing JWTs: the one place that decides what goes into access and ID
//! tokens. Later token kinds (DPoP-bound, exchanged) add their claims here.

use std::sync::Arc;
use std::time::Duration;

use idp_core::client::Client;
use idp_core::clock::UnixTime;
use idp_core::ids::SessionId;
use idp_core::jose::left_half_hash;
use idp_core::scope::{self, Scope};
use idp_core::token::{ACCESS_TOKEN_TYP, AccessClaims, Audience, ID_TOKEN_TYP, IdClaims};
use idp_core::user::Profile;
use serde::Serialize;

use super::keys::KeyRing;

#[derive(Debug, thiserror::Error)]
#[error("cannot sign a token: {0}")]
pub struct SigningError(String);

/// What an access token is issued for.
#[derive(Debug)]
pub struct AccessGrant<'a> {
    /// The user id, or the client id for client credentials.
    pub subject: String,
    pub client: &'a Client,
    pub scope: &'a Scope,
    /// The user's roles; `None` for client credentials.
    pub roles: Option<&'a [String]>,
    pub session_id: Option<SessionId>,
    pub auth_time: Option<UnixTime>,
    /// The RFC 8707 resource, when one was requested and allowed.
    pub audience: Option<&'a str>,
}

/// A signed access token and what the response says about it.
#[derive(Debug)]
pub struct IssuedAccess {
    pub token: String,
    pub jti: String,
    pub expires_in: u64,
}

/// What an ID token is issued for.
#[derive(Debug)]
pub struct IdGrant<'a> {
    pub profile: &'a Profile,
    pub client: &'a Client,
    pub scope: &'a Scope,
    pub session_id: Option<SessionId>,
    pub auth_time: UnixTime,
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, for `at_hash`.
    pub access_token: Option<&'a str>,
}

/// The token endpoint's success body (RFC 6749 §5.1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

#[derive(Debug)]
pub struct TokenIssuer {
    keys: Arc<KeyRing>,
    issuer: String,
    default_audience: String,
    access_ttl: Duration,
}

impl TokenIssuer {
    pub fn new(
        keys: Arc<KeyRing>,
        issuer: String,
        default_audience: String,
        access_ttl: Duration,
    ) -> Self {
        Self { keys, issuer, default_audience, access_ttl }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn access_ttl_for(&self, client: &Client) -> Duration {
        client.access_token_ttl.unwrap_or(self.access_ttl)
    }

    pub fn issue_access(
        &self,
        grant: &AccessGrant<'_>,
        now: UnixTime,
    ) -> Result<IssuedAccess, SigningError> {
        let ttl = self.access_ttl_for(grant.client);
        let jti = idp_core::random::token::<16>();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: grant.subject.clone(),
            aud: Audience::One(grant.audience.unwrap_or(&self.default_audience).to_owned()),
            exp: (now + ttl).as_secs(),
            iat: now.as_secs(),
            jti: jti.clone(),
            client_id: grant.client.id.to_string(),
            scope: grant.scope.to_string(),
            roles: grant.roles.map(<[String]>::to_vec),
            sid: grant.session_id.map(|s| s.to_string()),
            auth_time: grant.auth_time.map(UnixTime::as_secs),
        };
        let token = self.sign(ACCESS_TOKEN_TYP, &claims)?;
        Ok(IssuedAccess { token, jti, expires_in: ttl.as_secs() })
    }

    /// An ID token with the claims the granted scopes allow (OIDC Core §5.4),
    /// signed with the client's `id_token_signed_response_alg` or, without
    /// one, the configured algorithm.
    pub fn issue_id_token(
        &self,
        grant: &IdGrant<'_>,
        now: UnixTime,
    ) -> Result<String, SigningError> {
        let keys = self.keys.current();
        let signer = match grant.client.id_token_signed_response_alg {
            None => keys.signer(),
            // Registration accepts only algorithms this server signs with;
            // a client registered before ALGORITHM changed may name one it
            // no longer does. Signing with another would break the client
            // (OIDC Registration §2 makes the registered one REQUIRED).
            Some(alg) => keys.signer_for(alg).ok_or_else(|| {
                SigningError(format!(
                    "client {} has id_token_signed_response_alg {alg}, which this server no \
                     longer signs with (ALGORITHM changed?); update the client",
                    grant.client.id
                ))
            })?,
        };
        let alg = signer.alg();
        let profile = grant.profile;
        let with_profile = grant.scope.contains(scope::PROFILE);
        let with_email = grant.scope.contains(scope::EMAIL);
        let claims = IdClaims {
            iss: self.issuer.clone(),
            sub: profile.id.to_string(),
            aud: grant.client.id.to_string(),
            exp: (now + self.access_ttl_for(grant.client)).as_secs(),
            iat: now.as_secs(),
            auth_time: grant.auth_time.as_secs(),
            nonce: grant.nonce.map(str::to_owned),
            sid: grant.session_id.map(|s| s.to_string()),
            // OIDC Core §3.1.3.6: hashed with the hash of the ID token's
            // own alg.
            at_hash: grant.access_token.map(|at| left_half_hash(alg, at)),
            name: if with_profile { profile.name.clone() } else { None },
            preferred_username: with_profile.then(|| profile.username.clone()),
            email: with_email.then(|| profile.email.clone()),
            email_verified: with_email.then_some(profile.email_verified),
            roles: grant.scope.contains(scope::ROLES).then(|| profile.roles.clone()),
        };
        signer.sign_jwt(ID_TOKEN_TYP, &claims).map_err(|e| SigningError(e.to_string()))
    }

    fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, SigningError> {
        self.keys.current().signer().sign_jwt(typ, claims).map_err(|e| SigningError(e.to_string()))
    }
}
