//! Authorization guards a route declares in its signature — the Rust
//! counterpart of the original service's `@role_required(["Admin"])`:
//!
//! ```ignore
//! async fn list_users(Require(admin, ..): Require<UsersRead>, …)
//! ```
//!
//! A guard first requires a valid access token of an enabled user, meant
//! for idp (401 otherwise), issued to a first-party client or carrying
//! `idp:admin` (403 `insufficient_scope` otherwise), then the role or
//! permission (403 otherwise). Permissions are looked up live, so a change
//! to a role's permissions applies at once; roles come from the token, which
//! is current because any change to a user's roles ends their sessions.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use idp_core::scope;
use idp_store::repo::roles::{self, ADMIN_ROLE};

use super::auth::{require_reach, user_token};
use super::error::ApiError;
use crate::service::bearer::{Audience, UserToken};
use crate::state::AppState;

/// What a route requires.
pub trait Requirement: Send + Sync + 'static {
    /// Named in the 403 response.
    const DESCRIPTION: &'static str;
    const ROLE: Option<&'static str> = None;
    const PERMISSION: Option<&'static str> = None;
}

/// The guard: holds the authenticated user once the requirement is met.
#[derive(Debug)]
pub struct Require<R: Requirement>(pub UserToken, pub PhantomData<R>);

impl<R: Requirement> FromRequestParts<AppState> for Require<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let current = user_token(parts, state, Audience::Idp).await?;
        require_reach(&current, scope::IDP_ADMIN)?;
        let token_roles = current.access.claims.roles.clone().unwrap_or_default();
        let allowed = if let Some(role) = R::ROLE {
            token_roles.iter().any(|r| r.eq_ignore_ascii_case(role))
        } else if let Some(permission) = R::PERMISSION {
            let granted =
                roles::permissions_of(state.db.read(), current.user.id, &token_roles).await?;
            granted.iter().any(|p| p == permission)
        } else {
            false
        };
        if !allowed {
            return Err(ApiError::forbidden(format!("This requires {}.", R::DESCRIPTION)));
        }
        Ok(Self(current, PhantomData))
    }
}

/// The `Admin` role.
#[derive(Debug)]
pub struct AdminRole;

impl Requirement for AdminRole {
    const DESCRIPTION: &'static str = "the Admin role";
    const ROLE: Option<&'static str> = Some(ADMIN_ROLE);
}

macro_rules! permissions {
    ($($ty:ident => $name:literal,)*) => {
        $(
            #[doc = concat!("The permission `", $name, "`.")]
            #[derive(Debug)]
            pub struct $ty;

            impl Requirement for $ty {
                const DESCRIPTION: &'static str = concat!("the permission ", $name);
                const PERMISSION: Option<&'static str> = Some($name);
            }
        )*

        /// Every permission a guard can name; the service layer knows them
        /// as `service::seed::PERMISSIONS` (built in: seeded, undeletable).
        #[cfg(test)]
        const GUARDED_PERMISSIONS: &[&str] = &[$($name),*];
    };
}

permissions! {
    UsersRead => "users:read",
    UsersWrite => "users:write",
    RolesRead => "roles:read",
    RolesWrite => "roles:write",
    PermissionsRead => "permissions:read",
    PermissionsWrite => "permissions:write",
    ClientsRead => "clients:read",
    ClientsWrite => "clients:write",
    SessionsRead => "sessions:read",
    SessionsWrite => "sessions:write",
    AuditRead => "audit:read",
}

#[cfg(test)]
mod tests {
    /// A guarded permission missing from the built-in list could be deleted,
    /// locking everyone out of its routes; a built-in one no guard checks
    /// would be kept for nothing.
    #[test]
    fn the_guarded_permissions_are_the_built_in_ones() {
        let mut guarded: Vec<&str> = super::GUARDED_PERMISSIONS.to_vec();
        let mut built_in: Vec<&str> =
            crate::service::seed::PERMISSIONS.iter().map(|(p, _)| *p).collect();
        guarded.sort_unstable();
        built_in.sort_unstable();
        assert_eq!(guarded, built_in);
    }
}
