use super::*;
use crate::jose::SigningKey;
use crate::jose::test_keys::*;
use aws_lc_rs::hmac;
use serde_json::{Value, json};
use std::collections::HashMap;

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://idp.example";
const LEEWAY: u64 = 60;

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": "api", "sub": "user-1", "iat": NOW, "exp": NOW + 300})
}

fn expect() -> Expectations<'static> {
    Expectations {
        issuer: ISSUER,
        audiences: &["api", "other-api"],
        typ: "at+jwt",
        now: UnixTime::from_secs(NOW),
        leeway: Duration::from_secs(LEEWAY),
    }
}

/// A key lookup over the given verifying keys, by their `kid`.
fn keyring(keys: Vec<VerifyingKey>) -> impl Fn(&str) -> Option<Arc<VerifyingKey>> {
    let by_kid: HashMap<String, Arc<VerifyingKey>> =
        keys.into_iter().map(|key| (key.kid().to_owned(), Arc::new(key))).collect();
    move |kid| by_kid.get(kid).cloned()
}

fn loaded(pem: &str, alg: Algorithm) -> SigningKey {
    SigningKey::from_pem(pem, alg).unwrap()
}

/// The three keys from `test_keys`, one per algorithm.
fn fixed_keys() -> [SigningKey; 3] {
    [
        loaded(RSA_PKCS8, Algorithm::RS256),
        loaded(EC_SEC1, Algorithm::ES256),
        loaded(ED25519, Algorithm::EdDSA),
    ]
}

fn check(key: &SigningKey, token: &str, expect: &Expectations<'_>) -> Result<Value, VerifyError> {
    verify(token, keyring(vec![key.verifying_key().unwrap()]), expect)
}

fn check_claims_of(key: &SigningKey, claims: &Value) -> Result<Value, VerifyError> {
    check(key, &key.sign_jwt("at+jwt", claims).unwrap(), &expect())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header, our claims and the given signature bytes.
fn forged(header: &Value, signature: &[u8]) -> String {
    let input =
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims().to_string().as_bytes()));
    format!("{input}.{}", b64(signature))
}

#[test]
fn tokens_of_every_algorithm_verify() {
    for key in fixed_keys() {
        assert_eq!(check_claims_of(&key, &claims()).unwrap(), claims(), "{}", key.alg());
    }
}

#[test]
fn claims_deserialize_into_the_callers_type() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct AccessToken {
        sub: String,
        exp: i64,
    }
    let key = loaded(EC_SEC1, Algorithm::ES256);
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    let parsed: AccessToken =
        verify(&token, keyring(vec![key.verifying_key().unwrap()]), &expect()).unwrap();
    assert_eq!(parsed, AccessToken { sub: "user-1".to_owned(), exp: NOW + 300 });

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct NeedsScope {
        scope: String,
    }
    let missing =
        verify::<NeedsScope>(&token, keyring(vec![key.verifying_key().unwrap()]), &expect());
    assert_eq!(missing.unwrap_err(), VerifyError::Malformed);
}

#[test]
fn alg_none_with_an_empty_signature_is_refused() {
    for key in fixed_keys() {
        let token = forged(&json!({"alg": "none", "typ": "at+jwt", "kid": key.kid()}), b"");
        assert!(token.ends_with('.'));
        assert_eq!(check(&key, &token, &expect()), Err(VerifyError::AlgorithmMismatch));
        for alg in ["None", "NONE", ""] {
            let token = forged(&json!({"alg": alg, "typ": "at+jwt", "kid": key.kid()}), b"");
            assert_eq!(check(&key, &token, &expect()), Err(VerifyError::AlgorithmMismatch));
        }
    }
}

#[test]
fn hs256_keyed_with_our_public_key_is_refused() {
    // The classic confusion: HMAC keyed with bytes the attacker can fetch.
    let key = loaded(RSA_PKCS8, Algorithm::RS256);
    let spki_der = pem::parse(RSA_PKCS8_PUBLIC).unwrap().into_contents();
    for secret in [spki_der.as_slice(), RSA_PKCS8_PUBLIC.as_bytes()] {
        let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        for alg in ["HS256", "RS256"] {
            let header = json!({"alg": alg, "typ": "at+jwt", "kid": key.kid()});
            let input = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(claims().to_string().as_bytes())
            );
            let mac = hmac::sign(&hmac_key, input.as_bytes());
            let token = format!("{input}.{}", b64(mac.as_ref()));
            let expected = if alg == "HS256" {
                VerifyError::AlgorithmMismatch
            } else {
                VerifyError::BadSignature
            };
            assert_eq!(check(&key, &token, &expect()), Err(expected), "{alg}");
        }
    }
}

#[test]
fn header_alg_of_another_of_our_algorithms_is_refused() {
    let [rsa, ec, ed] = fixed_keys();
    for (key, other) in
        [(&rsa, "ES256"), (&ec, "EdDSA"), (&ed, "RS256"), (&ec, "ES384"), (&rsa, "PS256")]
    {
        let token = forged(&json!({"alg": other, "typ": "at+jwt", "kid": key.kid()}), &[0; 64]);
        assert_eq!(check(key, &token, &expect()), Err(VerifyError::AlgorithmMismatch), "{other}");
    }
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    for key in fixed_keys() {
        let token = key.sign_jwt("at+jwt", &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut elevated = claims();
        elevated["sub"] = json!("admin");
        let tampered =
            format!("{}.{}.{}", parts[0], b64(elevated.to_string().as_bytes()), parts[2]);
        assert_eq!(
            check(&key, &tampered, &expect()),
            Err(VerifyError::BadSignature),
            "{}",
            key.alg()
        );
    }
}

#[test]
fn tampered_signature_is_a_bad_signature() {
    for key in fixed_keys() {
        let token = key.sign_jwt("at+jwt", &claims()).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        for i in [0, bytes.len() / 2, bytes.len() - 1] {
            bytes[i] ^= 0x01;
            let tampered = format!("{input}.{}", b64(&bytes));
            assert_eq!(
                check(&key, &tampered, &expect()),
                Err(VerifyError::BadSignature),
                "{}",
                key.alg()
            );
            bytes[i] ^= 0x01;
        }
        let truncated = format!("{input}.{}", b64(&bytes[..bytes.len() - 1]));
        assert_eq!(check(&key, &truncated, &expect()), Err(VerifyError::BadSignature));
        let empty = format!("{input}.");
        assert_eq!(check(&key, &empty, &expect()), Err(VerifyError::BadSignature));
    }
}

#[test]
fn another_key_under_the_same_kid_is_a_bad_signature() {
    for alg in Algorithm::ALL {
        let signer = SigningKey::generate(alg).unwrap();
        let impostor = Arc::new(SigningKey::generate(alg).unwrap().verifying_key().unwrap());
        let token = signer.sign_jwt("at+jwt", &claims()).unwrap();
        let result = verify::<Value>(&token, |_| Some(impostor.clone()), &expect());
        assert_eq!(result, Err(VerifyError::BadSignature), "{alg}");
    }
}

#[test]
fn unknown_or_missing_kid_is_an_unknown_key() {
    let key = loaded(EC_SEC1, Algorithm::ES256);
    let other = loaded(ED25519, Algorithm::EdDSA);
    let token = other.sign_jwt("at+jwt", &claims()).unwrap();
    assert_eq!(check(&key, &token, &expect()), Err(VerifyError::UnknownKey));
    let no_kid = forged(&json!({"alg": "ES256", "typ": "at+jwt"}), &[0; 64]);
    assert_eq!(check(&key, &no_kid, &expect()), Err(VerifyError::UnknownKey));
    let null_kid = forged(&json!({"alg": "ES256", "typ": "at+jwt", "kid": null}), &[0; 64]);
    assert_eq!(check(&key, &null_kid, &expect()), Err(VerifyError::UnknownKey));
}

#[test]
fn issuer_must_match_exactly() {
    let key = loaded(ED25519, Algorithm::EdDSA);
    for iss in [json!("https://evil.example"), json!("https://idp.example/"), Value::Null] {
        let mut claims = claims();
        claims["iss"] = iss.clone();
        assert_eq!(check_claims_of(&key, &claims), Err(VerifyError::WrongIssuer), "{iss}");
    }
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(check_claims_of(&key, &claims), Err(VerifyError::WrongIssuer));
}

#[test]
fn audience_may_be_a_string_or_an_array_containing_one_of_ours() {
    let key = loaded(ED25519, Algorithm::EdDSA);
    for aud in [json!("api"), json!("other-api"), json!(["x", "other-api"]), json!(["api"])] {
        let mut claims = claims();
        claims["aud"] = aud.clone();
        assert!(check_claims_of(&key, &claims).is_ok(), "{aud}");
    }
    for aud in [json!("x"), json!(["x", "y"]), json!([]), Value::Null] {
        let mut claims = claims();
        claims["aud"] = aud.clone();
        assert_eq!(check_claims_of(&key, &claims), Err(VerifyError::WrongAudience), "{aud}");
    }
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    let nobody = Expectations { audiences: &[], ..expect() };
    assert_eq!(check(&key, &token, &nobody), Err(VerifyError::WrongAudience));
}

#[test]
fn typ_is_compared_as_a_media_type() {
    let key = loaded(EC_SEC1, Algorithm::ES256);
    let with = |typ: &str, expected: &str| {
        let token = key.sign_jwt(typ, &claims()).unwrap();
        check(&key, &token, &Expectations { typ: expected, ..expect() })
    };
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"] {
        assert!(with(typ, "at+jwt").is_ok(), "{typ}");
    }
    for typ in ["JWT", "", "jwt", "application/", "text/at+jwt", "at+jwt ", "logout+jwt"] {
        assert_eq!(with(typ, "at+jwt"), Err(VerifyError::WrongType), "{typ}");
    }
    for typ in ["", "JWT", "jwt", "application/jwt"] {
        assert!(with(typ, "").is_ok(), "{typ:?}");
    }
    for typ in ["at+jwt", "jwt+at"] {
        assert_eq!(with(typ, ""), Err(VerifyError::WrongType), "{typ}");
    }
    for typ in ["at+jwt", "application/at+jwt"] {
        assert!(with(typ, "application/at+jwt").is_ok(), "{typ}");
    }
}

#[test]
fn expiry_allows_the_leeway_and_no_more() {
    let key = loaded(RSA_PKCS1, Algorithm::RS256);
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    let exp = NOW + 300;
    let at =
        |now: i64| check(&key, &token, &Expectations { now: UnixTime::from_secs(now), ..expect() });
    assert!(at(exp).is_ok());
    assert!(at(exp + LEEWAY as i64).is_ok());
    assert_eq!(at(exp + LEEWAY as i64 + 1), Err(VerifyError::Expired));
    let strict =
        Expectations { now: UnixTime::from_secs(exp + 1), leeway: Duration::ZERO, ..expect() };
    assert_eq!(check(&key, &token, &strict), Err(VerifyError::Expired));
}

#[test]
fn exp_is_required_and_must_be_a_number() {
    let key = loaded(ED25519, Algorithm::EdDSA);
    let mut without = claims();
    without.as_object_mut().unwrap().remove("exp");
    assert_eq!(check_claims_of(&key, &without), Err(VerifyError::Malformed));
    let mut text = claims();
    text["exp"] = json!("tomorrow");
    assert_eq!(check_claims_of(&key, &text), Err(VerifyError::Malformed));
    let mut fractional = claims();
    fractional["exp"] = json!(NOW as f64 + 0.5);
    assert!(check_claims_of(&key, &fractional).is_ok());
}

#[test]
fn nbf_and_iat_in_the_future_beyond_the_leeway_are_not_yet_valid() {
    let key = loaded(ED25519, Algorithm::EdDSA);
    for claim in ["nbf", "iat"] {
        let mut soon = claims();
        soon[claim] = json!(NOW + LEEWAY as i64);
        assert!(check_claims_of(&key, &soon).is_ok(), "{claim}");
        let mut later = claims();
        later[claim] = json!(NOW + LEEWAY as i64 + 1);
        assert_eq!(check_claims_of(&key, &later), Err(VerifyError::NotYetValid), "{claim}");
    }
}

#[test]
fn garbage_is_malformed_and_never_panics() {
    let key = loaded(EC_SEC1, Algorithm::ES256);
    let huge = "a".repeat(100 * 1024);
    let huge_dotted = format!("{huge}.{huge}.{huge}");
    let header =
        b64(json!({"alg": "ES256", "kid": key.kid(), "typ": "at+jwt"}).to_string().as_bytes());
    let body = b64(claims().to_string().as_bytes());
    let garbage = [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        &huge,
        &huge_dotted,
        "eyJ.eyJ.sig",
        "\u{0}.\u{0}.\u{0}",
        "ü.ö.ä",
        &format!("{header}..sig"),
        &format!(".{body}.sig"),
        &format!("{header}.{body}.not base64!"),
        &format!("{header}.{body}.AAAA="),
        &format!("{header}==.{body}.AAAA"),
        &format!("{}.{body}.AAAA", b64(b"[1,2]")),
        &format!("{}.{body}.AAAA", b64(b"not json")),
        &format!("{}.{body}.AAAA", b64(br#"{"kid":"x"}"#)),
    ];
    for token in garbage {
        let result = check(&key, token, &expect());
        assert_eq!(result, Err(VerifyError::Malformed), "{:?}", token.get(..40.min(token.len())));
        let result =
            verify_signature_only::<Value>(token, keyring(vec![key.verifying_key().unwrap()]));
        assert_eq!(result, Err(VerifyError::Malformed));
    }
    // The payload is not read before the signature holds, so junk there
    // under a forged signature is a bad signature.
    let junk_payload = format!("{header}.{}.AAAA", b64(b"not json"));
    assert_eq!(check(&key, &junk_payload, &expect()), Err(VerifyError::BadSignature));
}

#[test]
fn every_prefix_of_a_token_is_refused_without_panicking() {
    let key = loaded(ED25519, Algorithm::EdDSA);
    let token = key.sign_jwt("at+jwt", &claims()).unwrap();
    for end in 0..token.len() {
        assert!(check(&key, &token[..end], &expect()).is_err(), "prefix of {end} bytes");
    }
}

#[test]
fn signed_claims_that_are_not_an_object_are_malformed() {
    let key = loaded(ED25519, Algorithm::EdDSA);
    for claims in [json!("a string"), json!([1, 2]), json!(null)] {
        assert_eq!(check_claims_of(&key, &claims), Err(VerifyError::Malformed), "{claims}");
    }
}

#[test]
fn crit_and_duplicate_header_members_are_malformed() {
    let key = loaded(EC_SEC1, Algorithm::ES256);
    let crit = forged(
        &json!({"alg": "ES256", "kid": key.kid(), "typ": "at+jwt", "crit": ["exp"]}),
        &[0; 64],
    );
    assert_eq!(check(&key, &crit, &expect()), Err(VerifyError::Malformed));
    let duplicate =
        format!(r#"{{"alg":"none","alg":"ES256","kid":"{}","typ":"at+jwt"}}"#, key.kid());
    let token = format!(
        "{}.{}.{}",
        b64(duplicate.as_bytes()),
        b64(claims().to_string().as_bytes()),
        b64(&[0; 64])
    );
    assert_eq!(check(&key, &token, &expect()), Err(VerifyError::Malformed));
}

#[test]
fn signature_only_skips_claims_and_typ_but_not_the_signature() {
    let key = loaded(RSA_PKCS8, Algorithm::RS256);
    let keys = || keyring(vec![key.verifying_key().unwrap()]);
    let stale = json!({"iss": "elsewhere", "aud": "nobody", "exp": 1, "nbf": i64::MAX});
    let token = key.sign_jwt("logout+jwt", &stale).unwrap();
    assert_eq!(verify_signature_only::<Value>(&token, keys()), Ok(stale.clone()));
    assert_eq!(check(&key, &token, &expect()), Err(VerifyError::WrongType));

    let (input, _) = token.rsplit_once('.').unwrap();
    let forged_signature = format!("{input}.{}", b64(&[0; 256]));
    assert_eq!(
        verify_signature_only::<Value>(&forged_signature, keys()),
        Err(VerifyError::BadSignature)
    );
    let none = forged(&json!({"alg": "none", "kid": key.kid()}), b"");
    assert_eq!(verify_signature_only::<Value>(&none, keys()), Err(VerifyError::AlgorithmMismatch));
    let other = loaded(ED25519, Algorithm::EdDSA).sign_jwt("", &stale).unwrap();
    assert_eq!(verify_signature_only::<Value>(&other, keys()), Err(VerifyError::UnknownKey));
}

#[test]
fn signature_and_type_skips_claims_but_not_the_type() {
    let key = loaded(EC_SEC1, Algorithm::ES256);
    let keys = || keyring(vec![key.verifying_key().unwrap()]);
    let expired = json!({"iss": ISSUER, "aud": "client", "exp": 1});
    let id_token = key.sign_jwt("JWT", &expired).unwrap();
    assert_eq!(verify_signature_and_type::<Value>(&id_token, keys(), "JWT"), Ok(expired.clone()));
    for typ in ["at+jwt", "", "logout+jwt"] {
        let other = key.sign_jwt(typ, &expired).unwrap();
        assert_eq!(
            verify_signature_and_type::<Value>(&other, keys(), "JWT"),
            Err(VerifyError::WrongType),
            "{typ:?}"
        );
    }
    let (input, _) = id_token.rsplit_once('.').unwrap();
    let forged_signature = format!("{input}.{}", b64(&[0; 64]));
    assert_eq!(
        verify_signature_and_type::<Value>(&forged_signature, keys(), "JWT"),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn jwks_must_be_signing_keys_that_fit_their_algorithm() {
    let [rsa, ec, ed] = fixed_keys();
    for key in [&rsa, &ec, &ed] {
        let via_json: Jwk =
            serde_json::from_value(serde_json::to_value(key.public_jwk()).unwrap()).unwrap();
        let verifying = VerifyingKey::from_jwk(&via_json).unwrap();
        assert_eq!((verifying.kid(), verifying.alg()), (key.kid(), key.alg()));
    }
    let refused = |jwk: Jwk| VerifyingKey::from_jwk(&jwk).unwrap_err();
    assert!(matches!(
        refused(Jwk { use_: "enc".to_owned(), ..rsa.public_jwk().clone() }),
        KeyError::InvalidJwk(_)
    ));
    assert!(matches!(
        refused(Jwk { alg: Algorithm::ES256, ..rsa.public_jwk().clone() }),
        KeyError::InvalidJwk(_)
    ));
    assert!(matches!(
        refused(Jwk { alg: Algorithm::EdDSA, ..ec.public_jwk().clone() }),
        KeyError::InvalidJwk(_)
    ));
    assert!(matches!(
        refused(Jwk { crv: Some("X25519".to_owned()), ..ed.public_jwk().clone() }),
        KeyError::InvalidJwk(_)
    ));
    assert!(matches!(
        refused(Jwk { crv: Some("P-384".to_owned()), ..ec.public_jwk().clone() }),
        KeyError::InvalidJwk(_)
    ));
    // A point off the curve: y + 1.
    let mut y = URL_SAFE_NO_PAD.decode(ec.public_jwk().y.as_deref().unwrap()).unwrap();
    y[31] ^= 0x01;
    assert!(matches!(
        refused(Jwk { y: Some(b64(&y)), ..ec.public_jwk().clone() }),
        KeyError::InvalidJwk(_)
    ));
    let small = loaded(RSA_PKCS8, Algorithm::RS256).public_jwk().clone();
    let n = URL_SAFE_NO_PAD.decode(small.n.as_deref().unwrap()).unwrap();
    assert!(matches!(
        refused(Jwk { n: Some(b64(&n[..128])), ..small.clone() }),
        KeyError::InvalidJwk(_)
    ));
    assert!(matches!(
        refused(Jwk { n: Some("not base64!".to_owned()), ..small }),
        KeyError::InvalidJwk(_)
    ));
}
