//! Private signing keys at rest: AES-256-GCM under a key derived from
//! `SECRET_KEY`, so a copy of the database alone does not give away the keys.

use super::KeyError;
use crate::random;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use zeroize::Zeroizing;

/// RFC 5869 §3.1: a fixed, versioned salt separates this use of SECRET_KEY
/// from any other, and lets a future scheme derive a different key.
const SALT: &[u8] = b"idp/key-encryption/v1";
const INFO: &[u8] = b"signing-keys";
const TAG_LEN: usize = 16;

/// The key that seals signing keys. Its `Debug` shows nothing secret.
pub struct KeyEncryptionKey {
    // The HKDF-Extract output. Expanding it to the AES key on each use keeps
    // `derive` infallible (expansion can only fail for lengths over 255
    // hashes), and sealing happens a few times per key rotation, not per
    // request.
    prk: hkdf::Prk,
    /// HKDF info: which use of SECRET_KEY this key is for.
    info: &'static [u8],
}

impl KeyEncryptionKey {
    /// HKDF-SHA256 (RFC 5869) of `SECRET_KEY` with salt
    /// `idp/key-encryption/v1` and info `signing-keys`.
    pub fn derive(secret_key: &SecretString) -> Self {
        Self::derive_for(secret_key, INFO)
    }

    /// The same derivation with another HKDF info: a key for another kind
    /// of data at rest (the outbox's payloads), independent of the one that
    /// seals signing keys.
    pub fn derive_for(secret_key: &SecretString, info: &'static [u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT);
        Self { prk: salt.extract(secret_key.expose_secret().as_bytes()), info }
    }

    /// `base64url(nonce || ciphertext || tag)` of `plaintext`. The `aad`
    /// (e.g. the key's `kid`) is authenticated but not stored, so a sealed
    /// key moved to another row no longer opens.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, KeyError> {
        let key = self.aead_key()?;
        // A random 96-bit nonce is safe far beyond the number of keys ever
        // sealed under one SECRET_KEY (NIST SP 800-38D §8.3: 2^32 messages).
        let nonce = random::bytes::<NONCE_LEN>();
        // Capacity for the tag up front: a reallocation would free a copy of
        // the plaintext without zeroing it.
        let mut sealed = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN));
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let body = sealed.get_mut(NONCE_LEN..).ok_or(KeyError::Seal)?;
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
            .map_err(|_| KeyError::Seal)?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(&*sealed))
    }

    /// Reverses [`KeyEncryptionKey::seal`]. A different `SECRET_KEY`, a
    /// different `aad` or any changed byte all fail the GCM tag check.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let mut bytes =
            Zeroizing::new(URL_SAFE_NO_PAD.decode(sealed).map_err(|_| KeyError::SealedMalformed)?);
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(KeyError::SealedMalformed);
        }
        let nonce = bytes.get(..NONCE_LEN).ok_or(KeyError::SealedMalformed)?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::SealedMalformed)?;
        let key = self.aead_key()?;
        let plaintext_len = key
            .open_within(nonce, Aad::from(aad), &mut bytes, NONCE_LEN..)
            .map_err(|_| KeyError::Decrypt)?
            .len();
        bytes.truncate(plaintext_len);
        Ok(bytes)
    }

    fn aead_key(&self) -> Result<LessSafeKey, KeyError> {
        let info = [self.info];
        let okm = self.prk.expand(&info, &AES_256_GCM).map_err(|_| KeyError::KeyEncryptionSetup)?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(secret: &str) -> KeyEncryptionKey {
        KeyEncryptionKey::derive(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn sealed_keys_open_with_the_same_secret_and_aad() {
        let kek = kek("a long random SECRET_KEY value");
        let sealed = kek.seal(b"private key bytes", b"kid-1").unwrap();
        assert_eq!(kek.open(&sealed, b"kid-1").unwrap().as_slice(), b"private key bytes");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let kek = kek("secret");
        assert_ne!(kek.seal(b"same", b"").unwrap(), kek.seal(b"same", b"").unwrap());
    }

    #[test]
    fn sealed_layout_is_nonce_ciphertext_tag() {
        let sealed = kek("secret").seal(&[7; 100], b"").unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(sealed).unwrap();
        assert_eq!(bytes.len(), NONCE_LEN + 100 + TAG_LEN);
        assert_ne!(&bytes[NONCE_LEN..NONCE_LEN + 100], &[7; 100][..]);
    }

    #[test]
    fn another_secret_key_cannot_open() {
        let sealed = kek("the old secret").seal(b"private", b"kid").unwrap();
        let err = kek("the new secret").open(&sealed, b"kid").unwrap_err();
        assert!(matches!(err, KeyError::Decrypt));
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    }

    #[test]
    fn another_aad_cannot_open() {
        let kek = kek("secret");
        let sealed = kek.seal(b"private", b"kid-1").unwrap();
        assert!(matches!(kek.open(&sealed, b"kid-2"), Err(KeyError::Decrypt)));
    }

    #[test]
    fn any_changed_byte_is_detected() {
        let kek = kek("secret");
        let sealed = URL_SAFE_NO_PAD.decode(kek.seal(b"private", b"").unwrap()).unwrap();
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            let tampered = URL_SAFE_NO_PAD.encode(tampered);
            assert!(matches!(kek.open(&tampered, b""), Err(KeyError::Decrypt)), "byte {i}");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let kek = kek("secret");
        for garbage in ["", "!!!", "AAAA", &URL_SAFE_NO_PAD.encode([0u8; NONCE_LEN + TAG_LEN - 1])]
        {
            assert!(matches!(kek.open(garbage, b""), Err(KeyError::SealedMalformed)), "{garbage}");
        }
    }

    #[test]
    fn debug_does_not_show_the_key() {
        assert_eq!(format!("{:?}", kek("secret")), "KeyEncryptionKey([redacted])");
    }
}
