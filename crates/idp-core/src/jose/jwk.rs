//! Public keys as JWKs (RFC 7517) and their thumbprints (RFC 7638).

use super::{Algorithm, KeyError};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A public signing key as published in the JWKS.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Jwk {
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Always `sig` for keys we publish (RFC 7517 §4.2).
    #[serde(rename = "use")]
    pub use_: String,
    pub kid: String,
    pub alg: Algorithm,
    /// RSA modulus, base64url of the unsigned big-endian integer (RFC 7518 §6.3.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (RFC 7518 §6.3.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// `P-256` (RFC 7518 §6.2.1.1) or `Ed25519` (RFC 8037 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, or the Ed25519 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JWK Set (RFC 7517 §5), the body of `jwks_uri`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

// RFC 7638 §3.2: the thumbprint input holds only the required members, in
// lexicographic order, without whitespace. serde writes struct fields in
// declaration order, so the field order below *is* the canonical order.
#[derive(serde::Serialize)]
struct RsaMembers<'a> {
    e: &'a str,
    kty: &'a str,
    n: &'a str,
}

#[derive(serde::Serialize)]
struct EcMembers<'a> {
    crv: &'a str,
    kty: &'a str,
    x: &'a str,
    y: &'a str,
}

#[derive(serde::Serialize)]
struct OkpMembers<'a> {
    crv: &'a str,
    kty: &'a str,
    x: &'a str,
}

fn required<'a>(member: &'a Option<String>, missing: &'static str) -> Result<&'a str, KeyError> {
    member.as_deref().ok_or(KeyError::InvalidJwk(missing))
}

impl Jwk {
    /// The RFC 7638 SHA-256 thumbprint, base64url without padding. `kid`,
    /// `alg` and `use` are not part of it (§3.2), so it names the key itself.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        let kty = self.kty.as_str();
        let members = match kty {
            "RSA" => serde_json::to_vec(&RsaMembers {
                e: required(&self.e, "RSA key without \"e\"")?,
                kty,
                n: required(&self.n, "RSA key without \"n\"")?,
            }),
            "EC" => serde_json::to_vec(&EcMembers {
                crv: required(&self.crv, "EC key without \"crv\"")?,
                kty,
                x: required(&self.x, "EC key without \"x\"")?,
                y: required(&self.y, "EC key without \"y\"")?,
            }),
            "OKP" => serde_json::to_vec(&OkpMembers {
                crv: required(&self.crv, "OKP key without \"crv\"")?,
                kty,
                x: required(&self.x, "OKP key without \"x\"")?,
            }),
            _ => return Err(KeyError::InvalidJwk("kty must be RSA, EC or OKP")),
        }
        .map_err(KeyError::Json)?;
        Ok(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &members)))
    }

    /// An RS256 key from its modulus and exponent as unsigned big-endian bytes.
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        Self {
            n: Some(URL_SAFE_NO_PAD.encode(without_leading_zeros(n))),
            e: Some(URL_SAFE_NO_PAD.encode(without_leading_zeros(e))),
            ..Self::empty("RSA", Algorithm::RS256)
        }
        .with_thumbprint_kid()
    }

    /// An ES256 key from its SEC1 uncompressed point `04 || x || y`.
    pub(crate) fn p256(point: &[u8]) -> Result<Self, KeyError> {
        // RFC 7518 §6.2.1.2/3: x and y are the full 32-byte coordinates,
        // leading zeros kept, unlike RSA integers.
        let (x, y) = match point {
            [0x04, xy @ ..] => xy.split_at_checked(32).filter(|(_, y)| y.len() == 32),
            _ => None,
        }
        .ok_or(KeyError::InvalidKey("uncompressed P-256 point"))?;
        Self {
            crv: Some("P-256".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            ..Self::empty("EC", Algorithm::ES256)
        }
        .with_thumbprint_kid()
    }

    /// An EdDSA key from the 32-byte Ed25519 public key (RFC 8037 §2).
    pub(crate) fn ed25519(public_key: &[u8]) -> Result<Self, KeyError> {
        if public_key.len() != 32 {
            return Err(KeyError::InvalidKey("Ed25519 public key"));
        }
        Self {
            crv: Some("Ed25519".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(public_key)),
            ..Self::empty("OKP", Algorithm::EdDSA)
        }
        .with_thumbprint_kid()
    }

    fn empty(kty: &str, alg: Algorithm) -> Self {
        Self {
            kty: kty.to_owned(),
            use_: "sig".to_owned(),
            kid: String::new(),
            alg,
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        }
    }

    fn with_thumbprint_kid(mut self) -> Result<Self, KeyError> {
        self.kid = self.thumbprint()?;
        Ok(self)
    }
}

/// RFC 7518 §2 (Base64urlUInt): "the minimum number of octets", so zero
/// bytes that aws-lc may pad a big integer with are dropped.
pub(crate) fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example key of RFC 7638 §3.1.
    fn rfc7638_example() -> Jwk {
        Jwk {
            kty: "RSA".to_owned(),
            use_: "sig".to_owned(),
            kid: "2011-04-29".to_owned(),
            alg: Algorithm::RS256,
            n: Some(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
                    .to_owned(),
            ),
            e: Some("AQAB".to_owned()),
            crv: None,
            x: None,
            y: None,
        }
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        assert_eq!(
            rfc7638_example().thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprint_ignores_kid_alg_and_use_but_not_key_members() {
        let original = rfc7638_example().thumbprint().unwrap();
        let relabelled =
            Jwk { kid: "other".to_owned(), use_: "enc".to_owned(), ..rfc7638_example() };
        assert_eq!(relabelled.thumbprint().unwrap(), original);
        let other_exponent = Jwk { e: Some("AQAC".to_owned()), ..rfc7638_example() };
        assert_ne!(other_exponent.thumbprint().unwrap(), original);
    }

    #[test]
    fn thumbprint_refuses_incomplete_or_unknown_keys() {
        let no_n = Jwk { n: None, ..rfc7638_example() };
        assert!(matches!(no_n.thumbprint(), Err(KeyError::InvalidJwk(_))));
        let oct = Jwk { kty: "oct".to_owned(), ..rfc7638_example() };
        assert!(matches!(oct.thumbprint(), Err(KeyError::InvalidJwk(_))));
    }

    #[test]
    fn serialization_uses_use_and_omits_absent_members() {
        let json = serde_json::to_value(rfc7638_example()).unwrap();
        assert_eq!(json["use"], "sig");
        assert_eq!(json["alg"], "RS256");
        assert!(json.get("use_").is_none());
        assert!(json.get("crv").is_none() && json.get("x").is_none() && json.get("y").is_none());
        let back: Jwk = serde_json::from_value(json).unwrap();
        assert_eq!(back, rfc7638_example());
    }

    #[test]
    fn rsa_integers_lose_leading_zeros() {
        let jwk = Jwk::rsa(&[0, 0, 1, 2], &[0, 1, 0, 1]).unwrap();
        assert_eq!(jwk.n.as_deref(), Some("AQI"));
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        assert_eq!(jwk.kid, jwk.thumbprint().unwrap());
    }

    #[test]
    fn p256_points_must_be_uncompressed_and_full_length() {
        let mut point = vec![0x04];
        point.extend([0u8; 31].iter().chain(&[1]));
        point.extend([2u8; 32]);
        let jwk = Jwk::p256(&point).unwrap();
        // Coordinates keep their leading zeros (RFC 7518 §6.2.1.2).
        assert_eq!(jwk.x.as_deref().map(str::len), Some(43));
        assert!(Jwk::p256(&point[..64]).is_err());
        let mut compressed = point.clone();
        compressed[0] = 0x02;
        assert!(Jwk::p256(&compressed).is_err());
    }
}
