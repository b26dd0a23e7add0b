//! Hashes of high-entropy secrets: refresh tokens, authorization codes,
//! client secrets, session cookies.
//!
//! These secrets carry ≥ 256 bits of randomness, so a fast hash is enough: no
//! guessing attack is feasible, and the store never holds a usable secret.
//! (Passwords, which people choose, go through Argon2id instead.)

use std::fmt;

use aws_lc_rs::digest;

/// SHA-256 of a secret, as lowercase hex (how it is stored and looked up).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(hex::encode(digest::digest(&digest::SHA256, secret.as_bytes())))
    }

    /// A hash read back from the store.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison of `presented`'s hash with this one.
    pub fn matches(&self, presented: &str) -> bool {
        let candidate = Self::of(presented);
        constant_time_eq(candidate.0.as_bytes(), self.0.as_bytes())
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            SecretHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn matching_is_exact() {
        let stored = SecretHash::of("s3cret-value");
        assert!(stored.matches("s3cret-value"));
        assert!(!stored.matches("s3cret-valuE"));
        assert!(!stored.matches(""));
    }

    #[test]
    fn debug_never_shows_the_hash() {
        assert_eq!(format!("{:?}", SecretHash::of("x")), "SecretHash(..)");
    }
}
