//! Signing keys, parsed once and held in memory, and compact JWS signing.
//!
//! jsonwebtoken's `encode` re-parses the private key's DER on every call
//! (`RsaKeyPair::from_der` per signature), too slow for thousands of tokens a
//! second, so we sign with aws-lc-rs key pairs parsed at load time and only
//! *verify* through jsonwebtoken (see `verify.rs`). Private-key operations are
//! aws-lc's constant-time code; the `rsa` crate, whose decryption and signing
//! leak timing (RUSTSEC-2023-0071), is never linked.

use super::{Algorithm, Jwk, KeyError, KeyType, VerifyingKey};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P256K1_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    RsaPublicKeyComponents, VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use zeroize::Zeroizing;

/// A private key that signs tokens, with its public JWK and `kid`.
pub struct SigningKey {
    pair: Pair,
    jwk: Jwk,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// The protected header we write (RFC 7515 §4.1). `kid` lets verifiers pick
/// the key during rotation without trying each one.
#[derive(serde::Serialize)]
struct Header<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    kid: &'a str,
}

impl SigningKey {
    /// A fresh key: RSA-2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let pair = match alg {
            Algorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048).map(Pair::Rsa),
            Algorithm::ES256 => {
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map(Pair::Ec)
            }
            Algorithm::EdDSA => Ed25519KeyPair::generate().map(Pair::Ed),
        }
        .map_err(|_| KeyError::Generate(alg))?;
        Self::new(pair, alg)
    }

    /// Loads a PEM private key: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY`
    /// (PKCS#1) or `EC PRIVATE KEY` (SEC1). Its type must fit `alg`.
    pub fn from_pem(pem: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let blocks = pem::parse_many(pem).map_err(|_| KeyError::NotPem)?;
        let first_label = blocks.first().map(|block| block.tag().to_owned());
        // A file may hold more than the key: `openssl ecparam -genkey`
        // writes an EC PARAMETERS block first, and bundles put certificates
        // beside keys (RFC 7468 §2 allows several blocks).
        let block = blocks
            .into_iter()
            .find(|block| block.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| first_label.map_or(KeyError::NotPem, KeyError::UnsupportedPemLabel))?;
        // RFC 1421 encryption of traditional PEM ("Proc-Type: 4,ENCRYPTED").
        let encrypted_legacy =
            block.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED"));
        let label = block.tag().to_owned();
        let der = Zeroizing::new(block.into_contents());
        let pair = match label.as_str() {
            _ if encrypted_legacy => return Err(KeyError::EncryptedPem),
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::EncryptedPem),
            "PRIVATE KEY" => parse_pkcs8(&der)?,
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(Pair::Rsa)
                .map_err(|e| rsa_rejected(&e, "PKCS#1 RSA private key"))?,
            "EC PRIVATE KEY" => parse_sec1(&der)?,
            _ => return Err(KeyError::UnsupportedPemLabel(label)),
        };
        Self::new(pair, alg)
    }

    /// Loads an unencrypted PKCS#8 (RFC 5208) private key, the form we
    /// store sealed; see [`SigningKey::to_pkcs8_der`].
    pub fn from_pkcs8_der(der: &[u8], alg: Algorithm) -> Result<Self, KeyError> {
        Self::new(parse_pkcs8(der)?, alg)
    }

    /// The private key as PKCS#8 v1 DER, zeroed when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match &self.pair {
            Pair::Rsa(pair) => pair.as_der().map(|der| Zeroizing::new(der.as_ref().to_vec())),
            Pair::Ec(pair) => pair.to_pkcs8v1().map(|der| Zeroizing::new(der.as_ref().to_vec())),
            Pair::Ed(pair) => pair.to_pkcs8v1().map(|der| Zeroizing::new(der.as_ref().to_vec())),
        }
        .map_err(|_| KeyError::Encode)
    }

    pub fn alg(&self) -> Algorithm {
        self.jwk.alg
    }

    /// The RFC 7638 thumbprint of the public key, so the same key always has
    /// the same `kid` whichever file or database row it came from.
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    /// The public half, with `kid`, `alg` and `use: "sig"`, for the JWKS.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        VerifyingKey::from_jwk(&self.jwk)
    }

    /// Whether a PEM public key (`PUBLIC KEY`, SPKI, or `RSA PUBLIC KEY`,
    /// PKCS#1) is this key's public half. A public key of another type is
    /// simply not a match.
    pub fn matches_public_pem(&self, pem: &str) -> Result<bool, KeyError> {
        let blocks = pem::parse_many(pem).map_err(|_| KeyError::NotPem)?;
        let first_label = blocks.first().map(|block| block.tag().to_owned());
        let block = blocks
            .iter()
            .find(|block| matches!(block.tag(), "PUBLIC KEY" | "RSA PUBLIC KEY"))
            .ok_or_else(|| {
                first_label.map_or(KeyError::NotPem, KeyError::UnsupportedPublicPemLabel)
            })?;
        let der = block.contents();
        let Ok(public) = ParsedPublicKey::new(self.verification_algorithm(), der) else {
            let other_type = PUBLIC_KEY_TYPES
                .into_iter()
                .any(|algorithm| ParsedPublicKey::new(algorithm, der).is_ok());
            return if other_type { Ok(false) } else { Err(KeyError::InvalidPublicKey) };
        };
        // Verifying a signature made with the private key compares the keys
        // across every encoding of the public one (PKCS#1 or SPKI,
        // compressed or uncompressed EC points) without parsing them here.
        const PROBE: &[u8] = b"idp: does this public key belong to the signing key?";
        let signature = self.pair.sign(PROBE)?;
        Ok(public.verify_sig(PROBE, &signature).is_ok())
    }

    /// A compact JWS (RFC 7515 §7.1) over `claims` as JSON, with the header
    /// `{"alg","typ","kid"}`; an empty `typ` leaves the member out.
    pub fn sign_jwt<C: serde::Serialize>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        let header = Header {
            alg: self.alg().as_str(),
            typ: Some(typ).filter(|t| !t.is_empty()),
            kid: self.kid(),
        };
        let header = serde_json::to_vec(&header).map_err(KeyError::Json)?;
        let payload = serde_json::to_vec(claims).map_err(KeyError::Json)?;
        let signature_len = self.pair.signature_len();
        let mut token = String::with_capacity(
            base64_len(header.len()) + base64_len(payload.len()) + base64_len(signature_len) + 2,
        );
        URL_SAFE_NO_PAD.encode_string(&header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.pair.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    fn new(pair: Pair, alg: Algorithm) -> Result<Self, KeyError> {
        let found = pair.key_type();
        if found.algorithm() != alg {
            return Err(KeyError::WrongKeyType { found, configured: alg });
        }
        let jwk = pair.public_jwk()?;
        Ok(Self { pair, jwk })
    }

    fn verification_algorithm(&self) -> &'static dyn VerificationAlgorithm {
        match self.pair {
            Pair::Rsa(_) => &signature::RSA_PKCS1_2048_8192_SHA256,
            Pair::Ec(_) => &signature::ECDSA_P256_SHA256_FIXED,
            Pair::Ed(_) => &signature::ED25519,
        }
    }
}

const PUBLIC_KEY_TYPES: [&'static dyn VerificationAlgorithm; 3] = [
    &signature::RSA_PKCS1_2048_8192_SHA256,
    &signature::ECDSA_P256_SHA256_FIXED,
    &signature::ED25519,
];

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl Pair {
    fn key_type(&self) -> KeyType {
        match self {
            Self::Rsa(_) => KeyType::Rsa,
            Self::Ec(_) => KeyType::EcP256,
            Self::Ed(_) => KeyType::Ed25519,
        }
    }

    fn public_jwk(&self) -> Result<Jwk, KeyError> {
        match self {
            Self::Rsa(pair) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                Jwk::rsa(&public.n, &public.e)
            }
            Self::Ec(pair) => Jwk::p256(pair.public_key().as_ref()),
            Self::Ed(pair) => Jwk::ed25519(pair.public_key().as_ref()),
        }
    }

    fn signature_len(&self) -> usize {
        match self {
            Self::Rsa(pair) => pair.public_modulus_len(),
            // RFC 7518 §3.4: R || S, 32 bytes each; RFC 8032 §5.1.6: 64 bytes.
            Self::Ec(_) | Self::Ed(_) => 64,
        }
    }

    /// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3); ES256 wants
    /// the fixed-width R || S form, not DER (§3.4); EdDSA is RFC 8037 §3.1.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map(|()| signature)
            }
            Self::Ec(pair) => pair.sign(&SystemRandom::new(), message).map(|s| s.as_ref().to_vec()),
            Self::Ed(pair) => pair.try_sign(message).map(|s| s.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Sign)
    }
}

/// PKCS#8 names the key type in its AlgorithmIdentifier; each aws-lc parser
/// checks that OID, so we let them accept or refuse in turn rather than
/// decode ASN.1 ourselves, and name what was found when none fits.
fn parse_pkcs8(der: &[u8]) -> Result<Pair, KeyError> {
    match RsaKeyPair::from_pkcs8(der) {
        Ok(pair) => return Ok(Pair::Rsa(pair)),
        Err(rejected) => {
            if let Some(size) = rsa_size_error(&rejected) {
                return Err(size);
            }
        }
    }
    if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
        return Ok(Pair::Ec(pair));
    }
    if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
        return Ok(Pair::Ed(pair));
    }
    Err(unsupported_curve(der, EcdsaKeyPair::from_pkcs8)
        .unwrap_or(KeyError::InvalidKey("PKCS#8 RSA, EC P-256 or Ed25519 private key")))
}

/// SEC1 `ECPrivateKey` (RFC 5915), what `openssl ecparam -genkey` writes.
fn parse_sec1(der: &[u8]) -> Result<Pair, KeyError> {
    match EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
        Ok(pair) => Ok(Pair::Ec(pair)),
        Err(_) => Err(unsupported_curve(der, EcdsaKeyPair::from_private_key_der)
            .unwrap_or(KeyError::InvalidKey("SEC1 EC private key"))),
    }
}

type EcParser = fn(&'static EcdsaSigningAlgorithm, &[u8]) -> Result<EcdsaKeyPair, KeyRejected>;

/// Names the curve of an EC key we cannot sign with, for the error message.
fn unsupported_curve(der: &[u8], parse: EcParser) -> Option<KeyError> {
    [
        (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
        (&ECDSA_P521_SHA512_FIXED_SIGNING, "P-521"),
        (&ECDSA_P256K1_SHA256_FIXED_SIGNING, "secp256k1"),
    ]
    .into_iter()
    .find(|(algorithm, _)| parse(algorithm, der).is_ok())
    .map(|(_, curve)| KeyError::UnsupportedCurve(curve))
}

fn rsa_size_error(rejected: &KeyRejected) -> Option<KeyError> {
    // aws-lc refuses RSA outside 2048..=8192 bits with these reasons.
    match rejected.description_() {
        "TooSmall" => Some(KeyError::RsaKeyTooSmall),
        "TooLarge" => Some(KeyError::RsaKeyTooLarge),
        _ => None,
    }
}

fn rsa_rejected(rejected: &KeyRejected, expected: &'static str) -> KeyError {
    rsa_size_error(rejected).unwrap_or(KeyError::InvalidKey(expected))
}

/// An upper bound on the unpadded base64 length of `bytes` bytes.
fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3).saturating_mul(4)
}

#[cfg(test)]
mod tests;
