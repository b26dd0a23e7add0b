//! Checking the access tokens presented to this server's own endpoints
//! (`/auth/me`, `/auth/userinfo`, `/admin/*`, the account endpoints).

use std::sync::Arc;
use std::time::Duration;

use idp_core::clock::UnixTime;
use idp_core::ids::{SessionId, UserId};
use idp_core::jose::{self, Expectations, VerifyError};
use idp_core::scope::Scope;
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
    #[error("the token predates its user's last password, role or status change")]
    UserChanged,
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

/// Which audiences a token must name to be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// idp's own APIs (`/auth/me`, the account endpoints, `/admin/*`):
    /// only tokens for the issuer itself (SPEC §2 "Access to idp's own APIs").
    Idp,
    /// OIDC userinfo, the resource every user's access token may call: the
    /// issuer or `DEFAULT_AUDIENCE`.
    UserInfo,
}

/// A user's access token that passed every check, with its user.
#[derive(Debug, Clone)]
pub struct UserToken {
    pub access: VerifiedAccess,
    pub user: User,
    /// Whether the client the token was issued to is first-party.
    pub first_party: bool,
}

impl UserToken {
    /// The token's granted scopes.
    pub fn scope(&self) -> Scope {
        Scope::parse(&self.access.claims.scope).unwrap_or_default()
    }

    /// Whether the token may use the part of idp's API that `scope` guards
    /// (`idp:admin`, `idp:account`): a first-party client's token may, a
    /// third-party client's only with the scope, which it gets only through
    /// a consent page that names it.
    pub fn reaches(&self, scope: &str) -> bool {
        self.first_party || self.scope().contains(scope)
    }
}

#[derive(Debug)]
pub struct BearerVerifier {
    keys: Arc<KeyRing>,
    db: Db,
    issuer: String,
    userinfo_audiences: Vec<String>,
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
        let mut userinfo_audiences = vec![default_audience];
        if !userinfo_audiences.contains(&issuer) {
            userinfo_audiences.push(issuer.clone());
        }
        Self { keys, db, issuer, userinfo_audiences, leeway }
    }

    /// A user's token for this server's own endpoints: signature,
    /// `kid`/`alg`, `typ`, `iss`, `aud` and times, then — in one query with
    /// loading the user — that the session is live (its user enabled and
    /// unchanged since it began), the `jti` not revoked, and whether the
    /// client is first-party.
    pub async fn verify_user(
        &self,
        token: &str,
        now: UnixTime,
        audience: Audience,
    ) -> Result<UserToken, BearerError> {
        let access = match audience {
            Audience::Idp => self.check_signed(token, now, &[&self.issuer]).await?,
            Audience::UserInfo => {
                let audiences: Vec<&str> =
                    self.userinfo_audiences.iter().map(String::as_str).collect();
                self.check_signed(token, now, &audiences).await?
            }
        };
        let (Some(user_id), Some(session_id)) = (access.user_id, access.session_id) else {
            return Err(BearerError::NotAUser);
        };
        let found = users::find_with_access_status(
            self.db.read(),
            user_id,
            session_id,
            &access.claims.jti,
            &access.claims.client_id,
            now,
        )
        .await?
        .ok_or(BearerError::SessionEnded)?;
        usable(found.status)?;
        // Belt and braces next to the session's: a token older than the
        // user's last change is done.
        if found.user.issued_before_change(access.claims.iat) {
            return Err(BearerError::UserChanged);
        }
        Ok(UserToken { access, user: found.user, first_party: found.client_first_party })
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
