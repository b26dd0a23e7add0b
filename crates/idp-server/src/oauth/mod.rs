//! OAuth 2.x protocol logic: request parsing, client authentication, scope
//! policy, one module per grant type, and the protocol's errors with their
//! one mapping to responses (RFC 6749 §5.2).

pub mod authorize;
pub mod client_auth;
pub mod error;
pub mod form;
pub mod grants;
pub mod introspection;
pub mod scope_policy;
