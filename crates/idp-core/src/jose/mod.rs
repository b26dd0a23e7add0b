//! JOSE: signing keys, JWS compact serialization, JWKs.

mod algorithm;

pub use algorithm::{Algorithm, UnsupportedAlgorithm};
