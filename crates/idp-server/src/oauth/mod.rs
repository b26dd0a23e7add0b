//! OAuth 2.x protocol logic: client authentication, scope policy, and one
//! module per grant type.

pub mod authorize;
pub mod client_auth;
pub mod grants;
pub mod scope_policy;
