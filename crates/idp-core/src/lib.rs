//! The domain of idp: identifiers, time, policies, password and token logic.
//!
//! Nothing here knows about HTTP or SQL; the store and server crates depend on
//! this one, never the other way round.

pub mod audit;
pub mod client;
pub mod client_registration;
pub mod clock;
pub mod csrf;
pub mod error_text;
pub mod ids;
pub mod jose;
pub mod log_text;
pub mod opaque;
pub mod password;
pub mod pkce;
pub mod random;
pub mod redirect_uri;
pub mod scope;
pub mod secret_hash;
pub mod session;
pub mod token;
pub mod user;
pub mod validation;

pub use secrecy::{ExposeSecret, SecretString};
