use super::*;
use crate::clock::UnixTime;
use crate::jose::test_keys::*;
use crate::jose::{Expectations, VerifyError, verify};
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_700_000_000;

fn claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "https://idp.example",
        "aud": "api",
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 300,
    })
}

fn expectations() -> Expectations<'static> {
    Expectations {
        issuer: "https://idp.example",
        audiences: &["api"],
        typ: "at+jwt",
        now: UnixTime::from_secs(NOW),
        leeway: Duration::from_secs(60),
    }
}

/// Signs with `key` and verifies against its own public JWK.
fn round_trip(key: &SigningKey) -> Result<serde_json::Value, VerifyError> {
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    let verifying = Arc::new(key.verifying_key().unwrap());
    let kid = key.kid().to_owned();
    verify(&token, |k| (k == kid).then(|| verifying.clone()), &expectations())
}

fn decode_part(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn generated_keys_sign_tokens_that_verify() {
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        assert_eq!(key.alg(), alg);
        assert_eq!(round_trip(&key).unwrap(), claims(), "{alg}");
    }
}

#[test]
fn pkcs8_round_trip_keeps_the_key_and_its_kid() {
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let der = key.to_pkcs8_der().unwrap();
        let reloaded = SigningKey::from_pkcs8_der(&der, alg).unwrap();
        assert_eq!(reloaded.kid(), key.kid(), "{alg}");
        assert_eq!(reloaded.public_jwk(), key.public_jwk(), "{alg}");
        // The reloaded private key signs for the original public key.
        let token = reloaded.sign_jwt("at+jwt", &claims()).unwrap();
        let verifying = Arc::new(key.verifying_key().unwrap());
        verify::<serde_json::Value>(&token, |_| Some(verifying.clone()), &expectations()).unwrap();
    }
}

#[test]
fn different_keys_have_different_kids() {
    for alg in Algorithm::ALL {
        let a = SigningKey::generate(alg).unwrap();
        let b = SigningKey::generate(alg).unwrap();
        assert_ne!(a.kid(), b.kid(), "{alg}");
    }
}

#[test]
fn header_is_alg_typ_kid_and_empty_typ_is_left_out() {
    let key = SigningKey::from_pem(EC_SEC1, Algorithm::ES256).unwrap();
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    let header = token.split('.').next().unwrap();
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(json, format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, key.kid()));

    let token = key.sign_jwt("", &claims()).unwrap();
    let header = decode_part(token.split('.').next().unwrap());
    assert_eq!(header, serde_json::json!({"alg": "ES256", "kid": key.kid()}));
}

#[test]
fn signatures_have_the_jws_sizes() {
    // RFC 7518 §3.3: an RSA signature is as long as the modulus; §3.4:
    // ES256 is the 64-byte R || S, not DER; RFC 8032: Ed25519 is 64 bytes.
    for (pem, alg, len) in [
        (RSA_PKCS8, Algorithm::RS256, 256),
        (EC_SEC1, Algorithm::ES256, 64),
        (ED25519, Algorithm::EdDSA, 64),
    ] {
        let key = SigningKey::from_pem(pem, alg).unwrap();
        for _ in 0..8 {
            let token = key.sign_jwt("at+jwt", &claims()).unwrap();
            let signature = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
            assert_eq!(signature.len(), len, "{alg}");
        }
    }
}

#[test]
fn openssl_private_keys_load_and_sign() {
    for (name, pem, alg) in [
        ("PKCS#8 RSA", RSA_PKCS8, Algorithm::RS256),
        ("PKCS#1 RSA", RSA_PKCS1, Algorithm::RS256),
        ("SEC1 EC", EC_SEC1, Algorithm::ES256),
        ("PKCS#8 EC", EC_PKCS8, Algorithm::ES256),
        ("PKCS#8 Ed25519", ED25519, Algorithm::EdDSA),
    ] {
        let key = SigningKey::from_pem(pem, alg).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(round_trip(&key).unwrap(), claims(), "{name}");
    }
}

#[test]
fn the_same_key_in_sec1_and_pkcs8_has_the_same_kid() {
    let sec1 = SigningKey::from_pem(EC_SEC1, Algorithm::ES256).unwrap();
    let pkcs8 = SigningKey::from_pem(EC_PKCS8, Algorithm::ES256).unwrap();
    assert_eq!(sec1.kid(), pkcs8.kid());
}

#[test]
fn ec_parameters_block_before_the_key_is_skipped() {
    // What `openssl ecparam -name prime256v1 -genkey` writes without -noout.
    let params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    let key = SigningKey::from_pem(&format!("{params}{EC_SEC1}"), Algorithm::ES256).unwrap();
    assert_eq!(key.kid(), SigningKey::from_pem(EC_SEC1, Algorithm::ES256).unwrap().kid());
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let err = SigningKey::from_pem(RSA_1024, Algorithm::RS256).unwrap_err();
    assert!(matches!(err, KeyError::RsaKeyTooSmall), "{err:?}");
    assert!(err.to_string().contains("2048"), "{err}");
}

#[test]
fn key_type_must_fit_algorithm_and_the_error_says_which_fits() {
    for (pem, configured, found, hint) in [
        (RSA_PKCS8, Algorithm::ES256, KeyType::Rsa, "ALGORITHM=RS256"),
        (RSA_PKCS1, Algorithm::EdDSA, KeyType::Rsa, "ALGORITHM=RS256"),
        (EC_SEC1, Algorithm::RS256, KeyType::EcP256, "ALGORITHM=ES256"),
        (EC_PKCS8, Algorithm::EdDSA, KeyType::EcP256, "ALGORITHM=ES256"),
        (ED25519, Algorithm::RS256, KeyType::Ed25519, "ALGORITHM=EdDSA"),
    ] {
        let err = SigningKey::from_pem(pem, configured).unwrap_err();
        match &err {
            KeyError::WrongKeyType { found: f, configured: c } => {
                assert_eq!((*f, *c), (found, configured));
            }
            other => panic!("expected WrongKeyType, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(hint) && message.contains(&found.to_string()), "{message}");
    }
}

#[test]
fn other_curves_are_named_in_the_error() {
    let err = SigningKey::from_pem(EC_P384_SEC1, Algorithm::ES256).unwrap_err();
    assert!(matches!(err, KeyError::UnsupportedCurve("P-384")), "{err:?}");
}

#[test]
fn unusable_pem_input_gets_a_specific_error() {
    assert!(matches!(SigningKey::from_pem("", Algorithm::RS256), Err(KeyError::NotPem)));
    assert!(matches!(SigningKey::from_pem("not a key", Algorithm::RS256), Err(KeyError::NotPem)));
    let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        SigningKey::from_pem(cert, Algorithm::RS256),
        Err(KeyError::UnsupportedPemLabel(label)) if label == "CERTIFICATE"
    ));
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert!(matches!(
        SigningKey::from_pem(encrypted, Algorithm::RS256),
        Err(KeyError::EncryptedPem)
    ));
    // Traditional PEM encryption (RFC 1421 headers), `openssl rsa -aes128 -traditional`.
    let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                  DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n\
                  -----END RSA PRIVATE KEY-----\n";
    assert!(matches!(SigningKey::from_pem(legacy, Algorithm::RS256), Err(KeyError::EncryptedPem)));
    let public = SigningKey::from_pem(RSA_PKCS8_PUBLIC, Algorithm::RS256).unwrap_err();
    assert!(matches!(public, KeyError::UnsupportedPemLabel(_)), "{public:?}");
    let corrupt = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        SigningKey::from_pem(corrupt, Algorithm::RS256),
        Err(KeyError::InvalidKey(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_der(b"junk", Algorithm::EdDSA),
        Err(KeyError::InvalidKey(_))
    ));
}

#[test]
fn key_errors_never_quote_the_key() {
    let body: String = RSA_1024.lines().filter(|l| !l.starts_with("-----")).collect();
    let corrupt = RSA_PKCS8.replace("MIIE", "MIIF");
    for err in [
        SigningKey::from_pem(RSA_1024, Algorithm::RS256).unwrap_err(),
        SigningKey::from_pem(&corrupt, Algorithm::RS256).unwrap_err(),
        SigningKey::from_pem(ED25519, Algorithm::RS256).unwrap_err(),
    ] {
        let message = format!("{err} {err:?}");
        assert!(!message.contains(&body[..16]) && !message.contains("MII"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

#[test]
fn public_pems_match_only_their_private_key() {
    let rsa = SigningKey::from_pem(RSA_PKCS1, Algorithm::RS256).unwrap();
    let ec = SigningKey::from_pem(EC_SEC1, Algorithm::ES256).unwrap();
    let ed = SigningKey::from_pem(ED25519, Algorithm::EdDSA).unwrap();
    assert!(rsa.matches_public_pem(RSA_PKCS1_PUBLIC_SPKI).unwrap());
    assert!(rsa.matches_public_pem(RSA_PKCS1_PUBLIC_PKCS1).unwrap());
    assert!(!rsa.matches_public_pem(RSA_PKCS8_PUBLIC).unwrap());
    assert!(ec.matches_public_pem(EC_PUBLIC).unwrap());
    assert!(ed.matches_public_pem(ED25519_PUBLIC).unwrap());
    // A public key of another type is a mismatch, not an error.
    assert!(!rsa.matches_public_pem(EC_PUBLIC).unwrap());
    assert!(!ec.matches_public_pem(ED25519_PUBLIC).unwrap());
    assert!(!ed.matches_public_pem(RSA_PKCS8_PUBLIC).unwrap());
    let other_ec = SigningKey::generate(Algorithm::ES256).unwrap();
    assert!(!other_ec.matches_public_pem(EC_PUBLIC).unwrap());
}

#[test]
fn public_pem_errors() {
    let ec = SigningKey::from_pem(EC_SEC1, Algorithm::ES256).unwrap();
    assert!(matches!(ec.matches_public_pem("nothing"), Err(KeyError::NotPem)));
    assert!(matches!(ec.matches_public_pem(EC_SEC1), Err(KeyError::UnsupportedPublicPemLabel(_))));
    let junk = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    assert!(matches!(ec.matches_public_pem(junk), Err(KeyError::InvalidPublicKey)));
}

#[test]
fn public_jwks_have_the_members_of_their_key_type() {
    let b64 = |s: &Option<String>| URL_SAFE_NO_PAD.decode(s.as_deref().unwrap()).unwrap();

    let rsa = SigningKey::from_pem(RSA_PKCS8, Algorithm::RS256).unwrap();
    let jwk = rsa.public_jwk();
    assert_eq!((jwk.kty.as_str(), jwk.alg, jwk.use_.as_str()), ("RSA", Algorithm::RS256, "sig"));
    assert_eq!(b64(&jwk.n).len(), 256);
    assert_ne!(b64(&jwk.n)[0], 0);
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    assert!(jwk.crv.is_none() && jwk.x.is_none() && jwk.y.is_none());

    let ec = SigningKey::from_pem(EC_SEC1, Algorithm::ES256).unwrap();
    let jwk = ec.public_jwk();
    assert_eq!((jwk.kty.as_str(), jwk.crv.as_deref()), ("EC", Some("P-256")));
    assert_eq!((b64(&jwk.x).len(), b64(&jwk.y).len()), (32, 32));
    assert!(jwk.n.is_none() && jwk.e.is_none());

    let ed = SigningKey::from_pem(ED25519, Algorithm::EdDSA).unwrap();
    let jwk = ed.public_jwk();
    assert_eq!((jwk.kty.as_str(), jwk.crv.as_deref()), ("OKP", Some("Ed25519")));
    assert_eq!(b64(&jwk.x).len(), 32);
    assert!(jwk.y.is_none());

    for key in [&rsa, &ec, &ed] {
        assert_eq!(key.kid(), key.public_jwk().thumbprint().unwrap());
        assert_eq!(key.public_jwk().kid, key.kid());
    }
}

#[test]
fn kid_is_the_openssl_public_keys_thumbprint() {
    // The Ed25519 SPKI ends with the raw 32-byte key, so the thumbprint can
    // be computed here without our parsing code.
    let spki = pem::parse(ED25519_PUBLIC).unwrap().into_contents();
    let x = URL_SAFE_NO_PAD.encode(&spki[spki.len() - 32..]);
    let input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let expected = URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes()));
    assert_eq!(SigningKey::from_pem(ED25519, Algorithm::EdDSA).unwrap().kid(), expected);
}

#[test]
fn debug_shows_only_kid_and_alg() {
    let key = SigningKey::from_pem(RSA_PKCS8, Algorithm::RS256).unwrap();
    let debug = format!("{key:?}");
    assert_eq!(debug, format!("SigningKey {{ kid: {:?}, alg: RS256, .. }}", key.kid()));
}

#[test]
fn signing_keys_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SigningKey>();
    assert_send_sync::<VerifyingKey>();
}
