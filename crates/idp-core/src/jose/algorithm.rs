use std::fmt;
use std::str::FromStr;

/// The JWS algorithms idp signs with (`ALGORITHM`). HMAC is deliberately
/// absent: a shared secret cannot be published in a JWKS, and accepting HS*
/// is how RS/HS confusion attacks start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA ≥ 2048 bits. The default.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// What a server configured with `self` signs with: `self` first, the
    /// default for every token, then RS256 if `self` is not RS256. OIDC
    /// Core §15.1 and Discovery §3 require every OpenID provider to support
    /// RS256 ID tokens, so an RS256 key is kept beside the configured one
    /// for clients that register `id_token_signed_response_alg=RS256`.
    pub fn signing_algorithms(self) -> &'static [Algorithm] {
        match self {
            Self::RS256 => &[Self::RS256],
            Self::ES256 => &[Self::ES256, Self::RS256],
            Self::EdDSA => &[Self::EdDSA, Self::RS256],
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of RS256, ES256, EdDSA")]
pub struct UnsupportedAlgorithm;

impl FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            "EdDSA" => Ok(Self::EdDSA),
            _ => Err(UnsupportedAlgorithm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
        }
        for bad in ["HS256", "none", "rs256", "RS512", ""] {
            assert!(bad.parse::<Algorithm>().is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn every_configuration_keeps_rs256_and_lists_the_configured_algorithm_first() {
        for alg in Algorithm::ALL {
            let set = alg.signing_algorithms();
            assert_eq!(set.first(), Some(&alg));
            assert!(set.contains(&Algorithm::RS256), "{alg}");
            let mut unique = set.to_vec();
            unique.dedup();
            assert_eq!(unique.len(), set.len(), "{alg}: no duplicates");
        }
    }
}
