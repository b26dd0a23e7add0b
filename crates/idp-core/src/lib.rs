//! The domain of idp: identifiers, time, policies, password and token logic.
//!
//! Nothing here knows about HTTP or SQL; the store and server crates depend on
//! this one, never the other way round.

pub mod clock;
pub mod ids;
pub mod jose;
pub mod random;

pub use secrecy::{ExposeSecret, SecretString};
