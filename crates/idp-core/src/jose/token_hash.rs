//! `at_hash` and `c_hash` (OpenID Connect Core 1.0 §3.1.3.6, §3.3.2.11).

use super::Algorithm;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The base64url of the left-most half of the hash of the ASCII `value`,
/// hashed with the hash of the ID token's `alg`: SHA-256 for RS256 and
/// ES256, SHA-512 for EdDSA, as Ed25519 hashes with SHA-512 (RFC 8032 §5.1).
pub fn left_half_hash(alg: Algorithm, value: &str) -> String {
    let hash = match alg {
        Algorithm::RS256 | Algorithm::ES256 => &digest::SHA256,
        Algorithm::EdDSA => &digest::SHA512,
    };
    let digest = digest::digest(hash, value.as_bytes());
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..bytes.len() / 2).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_half_of_the_algorithms_hash() {
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        for (alg, hash, half) in [
            (Algorithm::RS256, &digest::SHA256, 16),
            (Algorithm::ES256, &digest::SHA256, 16),
            (Algorithm::EdDSA, &digest::SHA512, 32),
        ] {
            let full = digest::digest(hash, token.as_bytes());
            let expected = URL_SAFE_NO_PAD.encode(&full.as_ref()[..half]);
            assert_eq!(left_half_hash(alg, token), expected, "{alg}");
        }
    }

    #[test]
    fn openid_connect_example_at_hash() {
        // OpenID Connect Core 1.0 Appendix A.3: the access token and the
        // at_hash of its RS256 ID token.
        assert_eq!(
            left_half_hash(Algorithm::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
