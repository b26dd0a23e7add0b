//! Verifying compact JWS tokens we issued.
//!
//! The signature goes through `jsonwebtoken::decode`; everything around it
//! (which key, which algorithm, `typ`, and the claims against the injected
//! clock) is checked here, before and after, so the order of checks and the
//! error for each is ours and testable.

use super::{Algorithm, Jwk, KeyError, jwk::without_leading_zeros};
use crate::clock::UnixTime;
use aws_lc_rs::signature::{self as aws_signature, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use std::{collections::HashSet, fmt, sync::Arc, time::Duration};

/// Our tokens are a few hundred bytes; refusing big ones before any base64
/// or JSON work bounds what an attacker can make us spend.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A public key ready to verify, with its `jsonwebtoken::DecodingKey` and
/// `Validation` built once.
pub struct VerifyingKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
}

impl VerifyingKey {
    /// Accepts only a signing key (`use: "sig"`) whose `kty`/`crv` fit its
    /// `alg`, RSA of 2048–8192 bits, and EC points that lie on P-256.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        if jwk.use_ != "sig" {
            return Err(KeyError::InvalidJwk("use must be \"sig\""));
        }
        let crv = jwk.crv.as_deref();
        let decoding = match (jwk.alg, jwk.kty.as_str()) {
            (Algorithm::RS256, "RSA") => {
                let n = decode_member(&jwk.n, "RSA key without a valid \"n\"")?;
                let e = decode_member(&jwk.e, "RSA key without a valid \"e\"")?;
                let n = without_leading_zeros(&n);
                if !(2048..=8192).contains(&bit_len(n)) {
                    return Err(KeyError::InvalidJwk("RSA modulus must be 2048 to 8192 bits"));
                }
                if without_leading_zeros(&e).is_empty() {
                    return Err(KeyError::InvalidJwk("RSA exponent is zero"));
                }
                DecodingKey::from_rsa_raw_components(n, &e)
            }
            (Algorithm::ES256, "EC") if crv == Some("P-256") => {
                let x = decode_member(&jwk.x, "EC key without a valid \"x\"")?;
                let y = decode_member(&jwk.y, "EC key without a valid \"y\"")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::InvalidJwk("P-256 coordinates must be 32 bytes"));
                }
                let point = [&[0x04][..], &x, &y].concat();
                // An off-curve point is refused now rather than failing
                // every verification later.
                ParsedPublicKey::new(&aws_signature::ECDSA_P256_SHA256_FIXED, &point)
                    .map_err(|_| KeyError::InvalidJwk("point is not on P-256"))?;
                DecodingKey::from_ec_der(&point)
            }
            (Algorithm::EdDSA, "OKP") if crv == Some("Ed25519") => {
                let x = decode_member(&jwk.x, "OKP key without a valid \"x\"")?;
                ParsedPublicKey::new(&aws_signature::ED25519, &x)
                    .map_err(|_| KeyError::InvalidJwk("not an Ed25519 public key"))?;
                DecodingKey::from_ed_der(&x)
            }
            _ => return Err(KeyError::InvalidJwk("kty and crv do not fit alg")),
        };
        Ok(Self {
            kid: jwk.kid.clone(),
            alg: jwk.alg,
            decoding,
            validation: signature_only_validation(jwk.alg),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn decode_member(member: &Option<String>, invalid: &'static str) -> Result<Vec<u8>, KeyError> {
    let text = member.as_deref().ok_or(KeyError::InvalidJwk(invalid))?;
    URL_SAFE_NO_PAD.decode(text).map_err(|_| KeyError::InvalidJwk(invalid))
}

fn bit_len(big_endian: &[u8]) -> usize {
    match big_endian.first() {
        Some(&top) => big_endian.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

/// jsonwebtoken checks only the signature and the header `alg`; the claims
/// are ours to check, against the injected clock rather than the system's.
fn signature_only_validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(match alg {
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    });
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation
}

/// In [`Expectations::audiences`]: accept whatever `aud` the token has.
pub const ANY_AUDIENCE: &str = "*";

/// What a token must say to be accepted by [`verify`].
#[derive(Clone, Copy, Debug)]
pub struct Expectations<'a> {
    /// `iss` must equal this exactly.
    pub issuer: &'a str,
    /// `aud` (a string or an array) must contain at least one of these; an
    /// empty list accepts no token, [`ANY_AUDIENCE`] accepts any present
    /// `aud` (introspection answers for every audience we issue to).
    pub audiences: &'a [&'a str],
    /// The header `typ`, e.g. `at+jwt`, compared case-insensitively and also
    /// accepted with an `application/` prefix (RFC 7515 §4.1.9, RFC 9068 §4).
    /// Empty means `typ` must be absent or `JWT`.
    pub typ: &'a str,
    pub now: UnixTime,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum VerifyError {
    /// Not a compact JWS, not base64url/JSON, over 16 KiB, a `crit` header,
    /// a claim of the wrong type, or no `exp`.
    #[error("the token is malformed")]
    Malformed,
    /// No `kid`, or one we do not have a key for.
    #[error("the token names no key we know")]
    UnknownKey,
    /// The header `alg` is not the algorithm of the key named by `kid`.
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("the token has the wrong type")]
    WrongType,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token was issued by someone else")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// Verifies a token we issued and returns its claims. `keys` looks up a
/// `kid`. Checks, in order: size and shape, header, `kid`, `alg` equal to
/// the key's (which is what stops `alg: none` and HS256 signed with our
/// public key), `typ`, signature, `iss`, `aud`, `exp` (required), `nbf`,
/// `iat`.
pub fn verify<C: DeserializeOwned>(
    token: &str,
    keys: impl Fn(&str) -> Option<Arc<VerifyingKey>>,
    expect: &Expectations<'_>,
) -> Result<C, VerifyError> {
    let claims = signed_claims(token, &keys, Some(expect.typ))?;
    check_claims(&claims, expect)?;
    serde_json::from_value(claims).map_err(|_| VerifyError::Malformed)
}

/// The key, `alg` and signature checks of [`verify`], but none on `iss`,
/// `aud`, `typ` or times: token revocation (RFC 7009) uses it to recognise
/// our own tokens, expired ones included.
pub fn verify_signature_only<C: DeserializeOwned>(
    token: &str,
    keys: impl Fn(&str) -> Option<Arc<VerifyingKey>>,
) -> Result<C, VerifyError> {
    let claims = signed_claims(token, &keys, None)?;
    serde_json::from_value(claims).map_err(|_| VerifyError::Malformed)
}

/// [`verify_signature_only`] plus the header `typ`: for a token whose age
/// does not matter but whose kind does — logout's `id_token_hint` is an ID
/// token, expired or not (OIDC RP-Initiated Logout §2), never an access
/// token (`at+jwt`, RFC 9068 §2.1).
pub fn verify_signature_and_type<C: DeserializeOwned>(
    token: &str,
    keys: impl Fn(&str) -> Option<Arc<VerifyingKey>>,
    typ: &str,
) -> Result<C, VerifyError> {
    let claims = signed_claims(token, &keys, Some(typ))?;
    serde_json::from_value(claims).map_err(|_| VerifyError::Malformed)
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    /// RFC 7515 §4.1.11: a recipient must refuse extensions it does not
    /// understand, and we understand none.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

fn signed_claims(
    token: &str,
    keys: &impl Fn(&str) -> Option<Arc<VerifyingKey>>,
    typ: Option<&str>,
) -> Result<serde_json::Value, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::Malformed);
    }
    let mut parts = token.split('.');
    let header = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(_signature), None)
            if !header.is_empty() && !payload.is_empty() =>
        {
            header
        }
        _ => return Err(VerifyError::Malformed),
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| VerifyError::Malformed)?;
    let header: JoseHeader = serde_json::from_slice(&header).map_err(|_| VerifyError::Malformed)?;
    if header.crit.is_some() {
        return Err(VerifyError::Malformed);
    }
    let key = header.kid.as_deref().and_then(keys).ok_or(VerifyError::UnknownKey)?;
    // The algorithm comes from our key, never from the token (RFC 8725 §3.1).
    if header.alg != key.alg.as_str() {
        return Err(VerifyError::AlgorithmMismatch);
    }
    if typ.is_some_and(|expected| !typ_matches(header.typ.as_deref(), expected)) {
        return Err(VerifyError::WrongType);
    }
    jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &key.validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            ErrorKind::InvalidSignature => VerifyError::BadSignature,
            _ => VerifyError::Malformed,
        })
}

/// RFC 7515 §4.1.9: `typ` is a media type, compared case-insensitively,
/// and one without a `/` means the same with `application/` in front (RFC
/// 9068 §4 for `at+jwt`).
fn typ_matches(actual: Option<&str>, expected: &str) -> bool {
    if expected.is_empty() {
        return actual.is_none_or(|actual| typ_matches(Some(actual), "JWT"));
    }
    actual.is_some_and(|actual| {
        without_application_prefix(actual)
            .eq_ignore_ascii_case(without_application_prefix(expected))
    })
}

fn without_application_prefix(media_type: &str) -> &str {
    const PREFIX: &str = "application/";
    match (media_type.get(..PREFIX.len()), media_type.get(PREFIX.len()..)) {
        (Some(head), Some(rest)) if head.eq_ignore_ascii_case(PREFIX) => rest,
        _ => media_type,
    }
}

/// The registered claims we check (RFC 7519 §4.1).
#[derive(Deserialize)]
struct Registered {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<i64>,
}

/// RFC 7519 §4.1.3: one audience may be a bare string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, accepted: &[&str]) -> bool {
        if accepted.contains(&ANY_AUDIENCE) {
            return true;
        }
        match self {
            Self::One(aud) => accepted.contains(&aud.as_str()),
            Self::Many(auds) => auds.iter().any(|aud| accepted.contains(&aud.as_str())),
        }
    }
}

/// RFC 7519 §2: a NumericDate may have a fraction; whole seconds suffice.
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let number = Option::<serde_json::Number>::deserialize(deserializer)?;
    Ok(number.and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64))))
}

fn check_claims(claims: &serde_json::Value, expect: &Expectations<'_>) -> Result<(), VerifyError> {
    let registered = Registered::deserialize(claims).map_err(|_| VerifyError::Malformed)?;
    if registered.iss.as_deref() != Some(expect.issuer) {
        return Err(VerifyError::WrongIssuer);
    }
    if !registered.aud.is_some_and(|aud| aud.contains_any(expect.audiences)) {
        return Err(VerifyError::WrongAudience);
    }
    // Every token we issue expires; one without `exp` is not ours.
    let exp = registered.exp.map(UnixTime::from_secs).ok_or(VerifyError::Malformed)?;
    if expect.now > exp + expect.leeway {
        return Err(VerifyError::Expired);
    }
    let latest_start = expect.now + expect.leeway;
    let starts = [registered.nbf, registered.iat].into_iter().flatten();
    if starts.map(UnixTime::from_secs).any(|start| start > latest_start) {
        return Err(VerifyError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
