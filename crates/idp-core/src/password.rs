//! Password hashing and verification.
//!
//! New hashes are Argon2id PHC strings with the OWASP parameters by default.
//! Stored hashes may also be Argon2i/Argon2d or bcrypt (the original Python
//! service stored passlib bcrypt hashes); those verify, and the caller is told
//! to re-hash so that every account converges on the current parameters.
//!
//! Everything here is synchronous and CPU-bound on purpose: the server decides
//! where it runs (a bounded blocking pool), so this module knows no runtime.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as PhcHash, Salt};
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHasher as _, PasswordVerifier as _, Version,
};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize as _;

use crate::random;

/// Argon2 cost parameters for new hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, t=2, p=1.
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

const MEMORY_KIB: std::ops::RangeInclusive<u32> = 8..=1_048_576;
const ITERATIONS: std::ops::RangeInclusive<u32> = 1..=20;
const PARALLELISM: std::ops::RangeInclusive<u32> = 1..=16;

/// bcrypt costs above this are refused rather than computed: cost 31 would
/// pin a blocking thread for days, and no real deployment stored more than
/// this (passlib's default is 12).
const MAX_BCRYPT_COST: u32 = 16;

impl Argon2Params {
    /// Bounds that keep a typo in the configuration from either making hashes
    /// trivially cheap or exhausting memory (each concurrent hash allocates
    /// `memory_kib`). Argon2 itself needs at least 8 KiB per lane.
    pub fn validate(&self) -> Result<(), String> {
        if !MEMORY_KIB.contains(&self.memory_kib) {
            return Err(format!(
                "argon2 memory must be between {} and {} KiB, got {}",
                MEMORY_KIB.start(),
                MEMORY_KIB.end(),
                self.memory_kib
            ));
        }
        if !ITERATIONS.contains(&self.iterations) {
            return Err(format!(
                "argon2 iterations must be between {} and {}, got {}",
                ITERATIONS.start(),
                ITERATIONS.end(),
                self.iterations
            ));
        }
        if !PARALLELISM.contains(&self.parallelism) {
            return Err(format!(
                "argon2 parallelism must be between {} and {}, got {}",
                PARALLELISM.start(),
                PARALLELISM.end(),
                self.parallelism
            ));
        }
        if u64::from(self.memory_kib) < 8 * u64::from(self.parallelism) {
            return Err(format!(
                "argon2 memory must be at least 8 KiB per lane ({} KiB for parallelism {})",
                8 * u64::from(self.parallelism),
                self.parallelism
            ));
        }
        Ok(())
    }
}

/// Why hashing failed. No variant carries the password or anything derived
/// from it, so these are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    Invalid,
    Valid,
    /// Valid, but the stored hash is bcrypt or Argon2 with other parameters or
    /// variant: the caller re-hashes the password and stores the new hash.
    ValidNeedsRehash,
}

impl Verification {
    pub fn is_valid(self) -> bool {
        !matches!(self, Verification::Invalid)
    }
}

/// Working memory for one Argon2 computation at the configured parameters
/// (19 MiB by default). A hashing thread keeps one and reuses it, so the
/// process holds exactly one such block per hashing thread instead of
/// allocating and freeing 19 MiB per login — which glibc's allocator turns
/// into a resident set that grows with every login.
pub struct HashMemory(Vec<Block>);

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashMemory({} blocks)", self.0.len())
    }
}

/// Hashes new passwords with the configured parameters and verifies stored
/// hashes of any supported kind.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Argon2Params,
    argon2: Argon2<'static>,
    /// A hash of a random, forgotten password made with the current
    /// parameters, so an unknown username costs the same as a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(params: Argon2Params) -> Result<Self, PasswordError> {
        params.validate().map_err(PasswordError::InvalidParams)?;
        let argon_params =
            Params::new(params.memory_kib, params.iterations, params.parallelism, None)
                .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut hasher = Self { params, argon2, dummy_hash: String::new() };
        hasher.dummy_hash = hasher.hash(&SecretString::from(random::token::<32>()))?;
        Ok(hasher)
    }

    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// An Argon2id PHC string with a fresh random 16-byte salt.
    pub fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        let salt = random::bytes::<16>();
        self.argon2
            .hash_password_with_salt(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    /// Working memory sized for the configured parameters.
    pub fn new_memory(&self) -> HashMemory {
        HashMemory(vec![Block::default(); self.argon2.params().block_count()])
    }

    /// [`Self::hash`], computed in `memory` instead of a fresh allocation.
    pub fn hash_in(
        &self,
        memory: &mut HashMemory,
        password: &SecretString,
    ) -> Result<String, PasswordError> {
        let salt = random::bytes::<16>();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute_in(memory, password.expose_secret().as_bytes(), &salt, &mut out)?;
        let hash = PhcHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(u32::from(Version::V0x13)),
            params: ParamsString::try_from(self.argon2.params())
                .map_err(|e| PasswordError::Hashing(e.to_string()))?,
            salt: Some(Salt::new(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?),
            hash: Some(Output::new(&out).map_err(|e| PasswordError::Hashing(e.to_string()))?),
        };
        out.zeroize();
        Ok(hash.to_string())
    }

    /// [`Self::verify`], computed in `memory` when the stored hash has the
    /// current parameters (other hashes are rare and re-hashed at once).
    pub fn verify_in(
        &self,
        memory: &mut HashMemory,
        stored: &str,
        password: &SecretString,
    ) -> Verification {
        let Some((salt, expected)) = self.current_argon2id(stored) else {
            return self.verify(stored, password);
        };
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        if self
            .compute_in(memory, password.expose_secret().as_bytes(), salt.as_ref(), &mut out)
            .is_err()
        {
            return Verification::Invalid;
        }
        // `Output`'s equality is constant-time.
        let matches = Output::new(&out).is_ok_and(|computed| computed == expected);
        out.zeroize();
        if matches { Verification::Valid } else { Verification::Invalid }
    }

    /// [`Self::verify_dummy`] in `memory`.
    pub fn verify_dummy_in(&self, memory: &mut HashMemory, password: &SecretString) -> bool {
        let _ = std::hint::black_box(self.verify_in(memory, &self.dummy_hash, password));
        false
    }

    /// The salt and output of `stored` when it is an Argon2id v0x13 hash with
    /// exactly the configured parameters.
    fn current_argon2id(&self, stored: &str) -> Option<(Salt, Output)> {
        let hash = PhcHash::new(stored).ok()?;
        let params = Params::try_from(&hash).ok()?;
        let current = hash.algorithm == Algorithm::Argon2id.ident()
            && hash.version == Some(u32::from(Version::V0x13))
            && params.m_cost() == self.params.memory_kib
            && params.t_cost() == self.params.iterations
            && params.p_cost() == self.params.parallelism
            && hash.hash.as_ref().is_some_and(|h| h.len() == Params::DEFAULT_OUTPUT_LEN);
        if !current {
            return None;
        }
        Some((hash.salt?, hash.hash?))
    }

    fn compute_in(
        &self,
        memory: &mut HashMemory,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), PasswordError> {
        let blocks = self.argon2.params().block_count();
        if memory.0.len() != blocks {
            *memory = self.new_memory();
        }
        let result = self
            .argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory.0)
            .map_err(|e| PasswordError::Hashing(e.to_string()));
        // The blocks hold state derived from the password; wipe them as the
        // allocating path does when it drops its blocks.
        memory.0.iter_mut().for_each(|b| b.zeroize());
        result
    }

    /// Checks `password` against a stored hash. Anything that is not a hash we
    /// understand, or is malformed, is `Invalid`: a broken row must lock its
    /// user out, never let them in or take the request down.
    pub fn verify(&self, stored: &str, password: &SecretString) -> Verification {
        let password = password.expose_secret().as_bytes();
        if stored.starts_with("$argon2") {
            self.verify_argon2(stored, password)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| stored.starts_with(prefix)) {
            verify_bcrypt(stored, password)
        } else {
            Verification::Invalid
        }
    }

    /// For an unknown username: does the work of verifying against a real
    /// hash so that the response time matches a wrong password and reveals
    /// nothing about which usernames exist. Always false.
    pub fn verify_dummy(&self, password: &SecretString) -> bool {
        // The dummy's password was random and dropped, so a match is
        // impossible; black_box keeps the work from being optimised away.
        let _ = std::hint::black_box(self.verify(&self.dummy_hash, password));
        false
    }

    fn verify_argon2(&self, stored: &str, password: &[u8]) -> Verification {
        let Ok(hash) = PhcHash::new(stored) else {
            return Verification::Invalid;
        };
        let Ok(algorithm) = Algorithm::new(hash.algorithm.as_str()) else {
            return Verification::Invalid;
        };
        let Ok(params) = Params::try_from(&hash) else {
            return Verification::Invalid;
        };
        // The stored string chooses the cost of its own verification; refuse
        // costs we would never configure so a tampered row cannot exhaust
        // memory or CPU.
        let stored_cost = Argon2Params {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        };
        if stored_cost.validate().is_err() {
            return Verification::Invalid;
        }
        // Uses the algorithm, version and parameters of the stored hash (not
        // ours); the final comparison is constant-time (`phc::Output: PartialEq`).
        if self.argon2.verify_password(password, &hash).is_err() {
            return Verification::Invalid;
        }
        let current = algorithm == Algorithm::Argon2id
            && hash.version == Some(u32::from(Version::V0x13))
            && stored_cost == self.params
            && params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
                == Params::DEFAULT_OUTPUT_LEN;
        if current { Verification::Valid } else { Verification::ValidNeedsRehash }
    }
}

/// bcrypt only ever sees the first 72 bytes of a password. That is how the
/// original service's hashes were made (passlib truncates silently), so we
/// verify the same way; the re-hash to Argon2id that follows removes the limit
/// for that user. The comparison inside `bcrypt::verify` is constant-time.
fn verify_bcrypt(stored: &str, password: &[u8]) -> Verification {
    let cost = stored.get(4..6).and_then(|c| c.parse::<u32>().ok());
    if cost.is_none_or(|c| c > MAX_BCRYPT_COST) {
        return Verification::Invalid;
    }
    match bcrypt::verify(password, stored) {
        Ok(true) => Verification::ValidNeedsRehash,
        Ok(false) | Err(_) => Verification::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small enough to keep the suite fast; the defaults are checked separately.
    const FAST: Argon2Params = Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(FAST).unwrap()
    }

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn hashing_in_reused_memory_agrees_with_the_allocating_path() {
        let h = hasher();
        let mut memory = h.new_memory();
        let made_in_memory = h.hash_in(&mut memory, &secret("correct horse")).unwrap();
        assert_eq!(h.verify(&made_in_memory, &secret("correct horse")), Verification::Valid);
        let made_normally = h.hash(&secret("battery staple")).unwrap();
        assert_eq!(
            h.verify_in(&mut memory, &made_normally, &secret("battery staple")),
            Verification::Valid
        );
        assert_eq!(
            h.verify_in(&mut memory, &made_normally, &secret("battery stapler")),
            Verification::Invalid
        );
        assert!(!h.verify_dummy_in(&mut memory, &secret("anything")));
        // Hashes made elsewhere with other parameters still verify (and ask for a re-hash).
        let other =
            PasswordHasher::new(Argon2Params { memory_kib: 2048, iterations: 1, parallelism: 1 })
                .unwrap();
        let old = other.hash(&secret("pw-from-before")).unwrap();
        assert_eq!(
            h.verify_in(&mut memory, &old, &secret("pw-from-before")),
            Verification::ValidNeedsRehash
        );
    }

    // Made by passlib 1.7.4 (bcrypt 4.0.1 backend) and argon2-cffi 25.1,
    // i.e. by other implementations than the ones under test.
    const PASSLIB_2B_12: &str = "$2b$12$ILF1hjaniAQ6VLWOuWbF4.LcJMIRbO7k53GmYE1t.DhQ1b0qtV/qq";
    const PASSLIB_2A_4: &str = "$2a$04$21hgBJcyrBcd46IwbsWocuzKmtHf6a3vjcL5EDrwN26wDH2Kgo5A2";
    const PASSLIB_2Y_4: &str = "$2y$04$SD8TBLPHac65VZO3GER9Mel5FhCy5qscquV.bonC9TxpP1sYCyAUm";
    /// `"x" * 72 + "tail-ignored"`, which passlib truncated to 72 bytes.
    const PASSLIB_LONG: &str = "$2b$04$BRw6NoyZJKGkRamt80zHaOnzXbJi12kpcMHp2uTpJs17ad3D5p2QS";
    const PASSLIB_UTF8: &str = "$2b$04$a16eiubkS4s75YDjeYbnsO3yLXDDeEQS73dtQMvo0jhZzbY6zV8Ma";
    const CFFI_ID_FAST: &str = "$argon2id$v=19$m=1024,t=1,p=1$M5ZL6cay7b7fa2BhA4VSnA$T0fC9LHU6mqqyuvAv65FBbGHsR+tBUfxvU0G3KqTuJI";
    const CFFI_I: &str = "$argon2i$v=19$m=1024,t=1,p=1$6kWpBwSyKRKaUfrTD5mftA$k0qLnii0rhluJLhpW7ckfx1rXqdEvKOaWxUwtssz2BM";
    const CFFI_D: &str = "$argon2d$v=19$m=1024,t=1,p=1$ra4PrR0TxwpWMDeG4wO4Ug$WOYess1SZXF7wlxKcnbz/ibJzWDqbN8R1eOeU3nLIxs";
    const CFFI_ID_T2_P2: &str = "$argon2id$v=19$m=1024,t=2,p=2$t+4JutS0WbFn/yfrgGRrfg$/V7dcqdwN7+RSj191sbPLQno/HJmZwX0hL5NaTT9Wb8";
    const CFFI_ID_V16: &str = "$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$3dZHWVbZcmcr6g6bRb5NjCjL8gpb0rXo/nIrTLgQJNo";

    #[test]
    fn default_params_are_owasp() {
        let d = Argon2Params::default();
        assert_eq!((d.memory_kib, d.iterations, d.parallelism), (19_456, 2, 1));
        assert_eq!(d.validate(), Ok(()));
    }

    #[test]
    fn params_out_of_bounds_are_refused() {
        let bad = [
            Argon2Params { memory_kib: 7, ..FAST },
            Argon2Params { memory_kib: 1_048_577, ..FAST },
            Argon2Params { iterations: 0, ..FAST },
            Argon2Params { iterations: 21, ..FAST },
            Argon2Params { parallelism: 0, ..FAST },
            Argon2Params { parallelism: 17, ..FAST },
            Argon2Params { memory_kib: 64, iterations: 1, parallelism: 9 },
        ];
        for params in bad {
            assert!(params.validate().is_err(), "{params:?}");
            assert!(matches!(PasswordHasher::new(params), Err(PasswordError::InvalidParams(_))));
        }
        let edge = Argon2Params { memory_kib: 128, iterations: 20, parallelism: 16 };
        assert_eq!(edge.validate(), Ok(()));
    }

    #[test]
    fn hash_then_verify_round_trips() {
        let h = hasher();
        let stored = h.hash(&secret("correct horse")).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{stored}");
        assert_eq!(h.verify(&stored, &secret("correct horse")), Verification::Valid);
        assert_eq!(h.params(), FAST);
    }

    #[test]
    fn wrong_password_is_invalid() {
        let h = hasher();
        let stored = h.hash(&secret("correct horse")).unwrap();
        assert_eq!(h.verify(&stored, &secret("correct horsf")), Verification::Invalid);
        assert_eq!(h.verify(&stored, &secret("")), Verification::Invalid);
        assert!(!Verification::Invalid.is_valid());
    }

    #[test]
    fn same_password_hashes_differently_each_time() {
        let h = hasher();
        let a = h.hash(&secret("same")).unwrap();
        let b = h.hash(&secret("same")).unwrap();
        assert_ne!(a, b);
        assert_eq!(h.verify(&a, &secret("same")), Verification::Valid);
        assert_eq!(h.verify(&b, &secret("same")), Verification::Valid);
    }

    #[test]
    fn argon2_from_another_implementation_verifies() {
        let h = hasher();
        assert_eq!(h.verify(CFFI_ID_FAST, &secret("adminpass")), Verification::Valid);
        assert_eq!(h.verify(CFFI_ID_FAST, &secret("adminpasS")), Verification::Invalid);
    }

    #[test]
    fn argon2_with_other_variant_version_or_params_needs_rehash() {
        let h = hasher();
        for stored in [CFFI_I, CFFI_D, CFFI_ID_T2_P2, CFFI_ID_V16] {
            assert_eq!(h.verify(stored, &secret("adminpass")), Verification::ValidNeedsRehash);
            assert_eq!(h.verify(stored, &secret("wrong")), Verification::Invalid);
        }
        let stronger =
            PasswordHasher::new(Argon2Params { memory_kib: 2048, iterations: 2, parallelism: 1 })
                .unwrap();
        let stored = h.hash(&secret("pw")).unwrap();
        assert_eq!(stronger.verify(&stored, &secret("pw")), Verification::ValidNeedsRehash);
        assert_eq!(stronger.verify(&stored, &secret("px")), Verification::Invalid);
    }

    #[test]
    fn bcrypt_from_this_crate_verifies_and_needs_rehash() {
        let h = hasher();
        let stored = bcrypt::hash("adminpass", 4).unwrap();
        assert!(stored.starts_with("$2b$04$"));
        assert_eq!(h.verify(&stored, &secret("adminpass")), Verification::ValidNeedsRehash);
        assert_eq!(h.verify(&stored, &secret("adminpasss")), Verification::Invalid);
    }

    #[test]
    fn bcrypt_from_passlib_verifies_and_needs_rehash() {
        let h = hasher();
        for stored in [PASSLIB_2B_12, PASSLIB_2A_4, PASSLIB_2Y_4] {
            assert_eq!(h.verify(stored, &secret("adminpass")), Verification::ValidNeedsRehash);
            assert_eq!(h.verify(stored, &secret("Adminpass")), Verification::Invalid);
        }
        assert_eq!(h.verify(PASSLIB_UTF8, &secret("pässwörd")), Verification::ValidNeedsRehash);
    }

    #[test]
    fn bcrypt_ignores_bytes_after_72_as_the_original_did() {
        let h = hasher();
        let x72 = "x".repeat(72);
        for pw in [format!("{x72}tail-ignored"), x72.clone(), format!("{x72}anything")] {
            assert_eq!(h.verify(PASSLIB_LONG, &secret(&pw)), Verification::ValidNeedsRehash);
        }
        assert_eq!(h.verify(PASSLIB_LONG, &secret(&"x".repeat(71))), Verification::Invalid);
    }

    #[test]
    fn garbage_and_malformed_hashes_are_invalid() {
        let h = hasher();
        let truncated_bcrypt = PASSLIB_2A_4.get(..59).unwrap();
        let multibyte_bcrypt = format!("$2b$04${}a", "é".repeat(26)); // 60 bytes, not ASCII
        let huge_bcrypt_cost = PASSLIB_2A_4.replacen("$04$", "$31$", 1);
        let huge_argon_memory = CFFI_ID_FAST.replacen("m=1024", "m=4194304", 1);
        let cases = [
            "",
            "adminpass",
            "$",
            "$2x$04$21hgBJcyrBcd46IwbsWocuzKmtHf6a3vjcL5EDrwN26wDH2Kgo5A2",
            "$2b$",
            "$2b$xx$21hgBJcyrBcd46IwbsWocuzKmtHf6a3vjcL5EDrwN26wDH2Kgo5A2",
            truncated_bcrypt,
            &multibyte_bcrypt,
            &huge_bcrypt_cost,
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1$",
            "$argon2id$v=19$m=1024,t=1,p=1$M5ZL6cay7b7fa2BhA4VSnA",
            "$argon2id$v=19$m=1024,t=1,p=1$M5ZL6cay7b7fa2BhA4VSnA$!!!",
            "$argon2id$v=99$m=1024,t=1,p=1$M5ZL6cay7b7fa2BhA4VSnA$T0fC9LHU6mqqyuvAv65FBbGHsR+tBUfxvU0G3KqTuJI",
            "$argon2x$v=19$m=1024,t=1,p=1$M5ZL6cay7b7fa2BhA4VSnA$T0fC9LHU6mqqyuvAv65FBbGHsR+tBUfxvU0G3KqTuJI",
            "$argon2id$v=19$m=1,t=1,p=1$M5ZL6cay7b7fa2BhA4VSnA$T0fC9LHU6mqqyuvAv65FBbGHsR+tBUfxvU0G3KqTuJI",
            &huge_argon_memory,
            "$pbkdf2-sha256$29000$N2bM$abc",
            "{SSHA}abcdef",
        ];
        for stored in cases {
            assert_eq!(h.verify(stored, &secret("adminpass")), Verification::Invalid, "{stored}");
        }
    }

    #[test]
    fn dummy_verification_never_succeeds() {
        let h = hasher();
        assert!(!h.verify_dummy(&secret("adminpass")));
        assert!(!h.verify_dummy(&secret("")));
        assert!(h.dummy_hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    }

    #[test]
    fn errors_do_not_mention_passwords() {
        let err = PasswordHasher::new(Argon2Params { iterations: 0, ..FAST }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argon2 parameters: argon2 iterations must be between 1 and 20, got 0"
        );
    }
}
