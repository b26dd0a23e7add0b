//! Checking the access tokens presented to this server's own endpoints
//! (`/auth/me`, `/auth/userinfo`, `/admin/*`).

use std::sync::Arc;
use std::time::Duration;

use idp_core::clock::UnixTime;
use idp_core::ids::{SessionId, UserId};
use idp_core::jose::{self, Expectations, VerifyError};
use idp_core::token::{ACCESS_TOKEN_TYP, AccessClaims};
use idp_core::user::User;
use idp_store::repo::sessions::AccessStatus;
use idp_store::repo::users;
use idp_store::{Db, StoreError};

use super::keys::KeyRing;

/// Why a bearer token was refused. Clients only ever see `invalid_token`;
/// the reason goes to the debug log.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("token rejected: {0}")]
    Invalid(#[from] VerifyError),
    #[error("the token's session has ended")]
    SessionEnded,
    #[error("the token was revoked")]
    Revoked,
    #[error("the token's subject is not a user")]
    NotAUser,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A verified access token.
#[derive(Debug, Clone)]
pub struct VerifiedAccess {
    pub claims: AccessClaims,
    pub user_id: Option<UserId>,
    pub session_id: Option<SessionId>,
}

impl VerifiedAccess {
    pub fn user_id(&self) -> Result<UserId, BearerError> {
        self.user_id.ok_or(BearerError::NotAUser)
    }
}

#[derive(Debug)]
pub struct BearerVerifier {
    keys: Arc<KeyRing>,
    db: Db,
    issuer: String,
    audiences: Vec<String>,
    leeway: Duration,
}

impl BearerVerifier {
    pub fn new(
        keys: Arc<KeyRing>,
        db: Db,
        issuer: String,
        default_audience: String,
        leeway: Duration,
    ) -> Self {
        let mut audiences = vec![default_audience];
        if !audiences.contains(&issuer) {
            audiences.push(issuer.clone());
        }
        Self { keys, db, issuer, audiences, leeway }
    }

    /// A user's token for this server's own endpoints: signature,
    /// `kid`/`alg`, `typ`, `iss`, `aud` and times, then — in one query with
    /// loading the user — that the session is live and the `jti` not revoked.
    pub async fn verify_user(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<(VerifiedAccess, User), BearerError> {
        let audiences: Vec<&str> = self.audiences.iter().map(String::as_str).collect();
        let access = self.check_signed(token, now, &audiences).await?;
        let (Some(user_id), Some(session_id)) = (access.user_id, access.session_id) else {
            return Err(BearerError::NotAUser);
        };
        let (user, status) = users::find_with_access_status(
            self.db.pool(),
            user_id,
            session_id,
            &access.claims.jti,
            now,
        )
        .await?
        .ok_or(BearerError::SessionEnded)?;
        usable(status)?;
        Ok((access, user))
    }

    /// The checks that need no database, for whatever audience the token
    /// names (introspection answers for resource servers other than this
    /// one). The caller fetches the [`AccessStatus`] (along with whatever
    /// else it needs) and passes it to [`usable`].
    pub async fn check_signed_any_audience(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<VerifiedAccess, BearerError> {
        self.check_signed(token, now, &[jose::ANY_AUDIENCE]).await
    }

    /// Everything that needs no database: signature, `kid`/`alg`, `typ`,
    /// `iss`, `aud`, times, and well-formed `sid`/`sub`.
    async fn check_signed(
        &self,
        token: &str,
        now: UnixTime,
        audiences: &[&str],
    ) -> Result<VerifiedAccess, BearerError> {
        let expect = Expectations {
            issuer: &self.issuer,
            audiences,
            typ: ACCESS_TOKEN_TYP,
            now,
            leeway: self.leeway,
        };
        let claims: AccessClaims =
            self.keys.verify(|keys| jose::verify(token, |kid| keys.verifier(kid), &expect)).await?;
        let session_id = match &claims.sid {
            Some(sid) => Some(sid.parse::<SessionId>().map_err(|_| VerifyError::Malformed)?),
            None => None,
        };
        // A token with a session is a user's; one without is a client's.
        let user_id = match session_id {
            Some(_) => Some(claims.sub.parse::<UserId>().map_err(|_| VerifyError::Malformed)?),
            None => None,
        };
        Ok(VerifiedAccess { claims, user_id, session_id })
    }
}

/// Whether a token whose signature and claims checked out may be used.
pub fn usable(status: AccessStatus) -> Result<(), BearerError> {
    if status.jti_revoked {
        return Err(BearerError::Revoked);
    }
    if !status.session_active {
        return Err(BearerError::SessionEnded);
    }
    Ok(())
}
