//! JOSE: signing keys, compact JWS, JWKs, verification, and sealing private
//! keys at rest.
//!
//! Signing uses aws-lc-rs key pairs parsed once ([`SigningKey`]);
//! verification goes through `jsonwebtoken` with a key built once
//! ([`VerifyingKey`]) and our own header and claim checks ([`verify`]).

mod algorithm;
mod error;
mod jwk;
mod keys;
mod seal;
mod token_hash;
mod verify;

#[cfg(test)]
mod test_keys;

pub use algorithm::{Algorithm, UnsupportedAlgorithm};
pub use error::{KeyError, KeyType};
pub use jwk::{Jwk, JwkSet};
pub use keys::SigningKey;
pub use seal::KeyEncryptionKey;
pub use token_hash::left_half_hash;
pub use verify::{
    ANY_AUDIENCE, Expectations, VerifyError, VerifyingKey, verify, verify_signature_and_type,
    verify_signature_only,
};
