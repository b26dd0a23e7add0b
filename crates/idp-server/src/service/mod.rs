//! Use cases: each function owns its transaction, calls the repositories and
//! the domain, and returns a typed error that the HTTP layer maps.

pub mod admin;
pub mod audit;
pub mod authorization;
pub mod bearer;
pub mod browser;
pub mod clients;
pub mod consent;
pub mod email_address;
pub mod failure;
pub mod hashing;
pub mod introspection;
pub mod keys;
pub mod lockout;
pub mod login;
pub mod mail;
pub mod outbox;
pub mod rate_limit;
pub mod recovery;
pub mod refresh;
pub mod registration;
pub mod retention;
pub mod revocation;
pub mod roles;
pub mod seed;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use failure::Failure;
