//! Randomness for secrets: tokens, codes, client secrets, nonces.
//!
//! Everything comes from aws-lc-rs's CSPRNG, the same one that signs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `N` random bytes. The system RNG failing is not something a request can
/// recover from; aws-lc aborts on it internally, so an error here never
/// happens in practice, and we still refuse to hand out zeroes.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        // Unreachable with aws-lc; fall back to a fresh UUIDv4 stream, which
        // is itself from the OS RNG, rather than returning predictable bytes.
        for chunk in buf.chunks_mut(16) {
            let id = uuid::Uuid::new_v4();
            for (dst, src) in chunk.iter_mut().zip(id.as_bytes()) {
                *dst = *src;
            }
        }
    }
    buf
}

/// A URL-safe, unpadded base64 string of `N` random bytes (32 bytes give a
/// 43-character string carrying 256 bits).
pub fn token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<N>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let a = token::<32>();
        let b = token::<32>();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
