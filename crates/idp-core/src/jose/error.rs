//! Errors about keys: loading, generating, using and sealing them.
//!
//! Operators read these at startup, so each says what was found and what to
//! do, in one line. None carries key material: no DER bytes, no base64, and
//! no third-party error text that could quote either.

use super::Algorithm;
use std::fmt;

/// The kinds of private key idp can sign with, one per [`Algorithm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA of at least 2048 bits.
    Rsa,
    /// ECDSA on NIST P-256.
    EcP256,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// The `ALGORITHM` that signs with this kind of key.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::Rsa => Algorithm::RS256,
            Self::EcP256 => Algorithm::ES256,
            Self::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// The kind of key `alg` signs with.
    pub fn for_algorithm(alg: Algorithm) -> Self {
        match alg {
            Algorithm::RS256 => Self::Rsa,
            Algorithm::ES256 => Self::EcP256,
            Algorithm::EdDSA => Self::Ed25519,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rsa => "RSA",
            Self::EcP256 => "EC P-256",
            Self::Ed25519 => "Ed25519",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no PEM block found; expected -----BEGIN PRIVATE KEY----- or similar")]
    NotPem,
    #[error(
        "PEM block \"{0}\" is not a supported private key; expected PRIVATE KEY (PKCS#8), \
         RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC1)"
    )]
    UnsupportedPemLabel(String),
    #[error(
        "PEM block \"{0}\" is not a supported public key; expected PUBLIC KEY (SPKI) \
         or RSA PUBLIC KEY (PKCS#1)"
    )]
    UnsupportedPublicPemLabel(String),
    #[error(
        "the private key is encrypted; write an unencrypted copy with \
         `openssl pkey -in encrypted.pem -out key.pem`"
    )]
    EncryptedPem,
    #[error("the key is not a valid {0}")]
    InvalidKey(&'static str),
    #[error(
        "the RSA key is smaller than 2048 bits; RS256 needs at least 2048 (`openssl genrsa 2048`)"
    )]
    RsaKeyTooSmall,
    #[error("the RSA key is larger than 8192 bits, which is not supported")]
    RsaKeyTooLarge,
    #[error("the key is an EC key on {0}; only P-256 is supported (ALGORITHM=ES256)")]
    UnsupportedCurve(&'static str),
    #[error(
        "the key is an {found} key, which fits ALGORITHM={}, but ALGORITHM is {configured}",
        found.algorithm()
    )]
    WrongKeyType { found: KeyType, configured: Algorithm },
    #[error("the public key is not a valid RSA, EC P-256 or Ed25519 public key")]
    InvalidPublicKey,
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    #[error("could not generate a {0} key")]
    Generate(Algorithm),
    #[error("could not encode the private key as PKCS#8")]
    Encode,
    #[error("signing failed")]
    Sign,
    #[error("cannot serialize the token as JSON")]
    Json(#[source] serde_json::Error),
    #[error("could not set up AES-256-GCM from SECRET_KEY")]
    KeyEncryptionSetup,
    #[error("could not encrypt the signing key")]
    Seal,
    #[error("the stored signing key is not a sealed key (bad base64url or too short)")]
    SealedMalformed,
    #[error("cannot decrypt the stored signing key: was SECRET_KEY changed?")]
    Decrypt,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_has_exactly_one_key_type() {
        for alg in Algorithm::ALL {
            assert_eq!(KeyType::for_algorithm(alg).algorithm(), alg);
        }
    }

    #[test]
    fn wrong_key_type_names_what_was_found_and_what_fits() {
        let err = KeyError::WrongKeyType { found: KeyType::EcP256, configured: Algorithm::RS256 };
        assert_eq!(
            err.to_string(),
            "the key is an EC P-256 key, which fits ALGORITHM=ES256, but ALGORITHM is RS256"
        );
    }
}
