//! Forged and malformed bearer tokens at `/auth/me` and `/auth/userinfo`:
//! every one is a 401 with `WWW-Authenticate: Bearer error="invalid_token"`.

#[allow(unused_imports)]
use crate::helpers::*;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;

async fn assert_invalid_token(app: &TestApp, token: &str, what: &str) {
    for path in ["/auth/me", "/auth/userinfo"] {
        let response = app.get_bearer(path, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what} at {path}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#,
            "{what} at {path}"
        );
    }
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let mut it = token.split('.');
    let header = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    let claims = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    (header, claims, it.next().unwrap().to_owned())
}

fn encode(value: &serde_json::Value) -> String {
    B64.encode(serde_json::to_vec(value).unwrap())
}

/// Signs arbitrary claims with the server's own key, as a valid signature
/// on a token that must still be refused for what it says.
fn server_signed(app: &TestApp, typ: &str, claims: &serde_json::Value) -> String {
    app.state.keys.current().signer().sign_jwt(typ, claims).unwrap()
}

engine_test!(
    async fn forged_and_malformed_tokens_are_refused(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let good = app.login("alice").await.access_token;
        assert_eq!(app.get_bearer("/auth/me", &good).await.status(), StatusCode::OK);
        let (header, claims, signature) = parts(&good);

        // alg: none, with and without a signature.
        let mut none = header.clone();
        none["alg"] = "none".into();
        assert_invalid_token(&app, &format!("{}.{}.", encode(&none), encode(&claims)), "alg none").await;
        assert_invalid_token(&app, &format!("{}.{}.{signature}", encode(&none), encode(&claims)), "alg none signed").await;

        // HS256 keyed with the public key (RS/HS confusion).
        let jwks: serde_json::Value = json(app.get("/.well-known/jwks.json").await).await;
        let public = serde_json::to_vec(&jwks["keys"][0]).unwrap();
        let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs_header.kid = header["kid"].as_str().map(str::to_owned);
        hs_header.typ = Some("at+jwt".into());
        let hs = jsonwebtoken::encode(&hs_header, &claims, &jsonwebtoken::EncodingKey::from_secret(&public).unwrap()).unwrap();
        assert_invalid_token(&app, &hs, "HS256 with the public key").await;

        // Tampered payload, tampered signature.
        let mut elevated = claims.clone();
        elevated["roles"] = serde_json::json!(["Admin"]);
        assert_invalid_token(&app, &format!("{}.{}.{signature}", encode(&header), encode(&elevated)), "tampered payload").await;
        let mut sig = signature.clone().into_bytes();
        sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
        let tampered_sig = format!("{}.{}.{}", encode(&header), encode(&claims), String::from_utf8(sig).unwrap());
        assert_invalid_token(&app, &tampered_sig, "tampered signature").await;

        // Unknown and missing kid.
        let mut unknown_kid = header.clone();
        unknown_kid["kid"] = "not-a-key".into();
        assert_invalid_token(&app, &format!("{}.{}.{signature}", encode(&unknown_kid), encode(&claims)), "unknown kid").await;

        // Validly signed, but wrong issuer, audience or type.
        let mut wrong_iss = claims.clone();
        wrong_iss["iss"] = "https://evil.example".into();
        assert_invalid_token(&app, &server_signed(&app, "at+jwt", &wrong_iss), "wrong iss").await;
        let mut wrong_aud = claims.clone();
        wrong_aud["aud"] = "https://some-other-api.example".into();
        assert_invalid_token(&app, &server_signed(&app, "at+jwt", &wrong_aud), "wrong aud").await;
        assert_invalid_token(&app, &server_signed(&app, "JWT", &claims), "an ID-token typ").await;
        // An ID token is not an access token.
        let id_token = app.login("alice").await.id_token.unwrap();
        assert_invalid_token(&app, &id_token, "an ID token").await;

        // Garbage of every shape, including 100 KB.
        for junk in ["", "x", "a.b", "a.b.c", "....", "ey.ey.ey", &"a".repeat(100 * 1024), "Ünïcödé.ß.∂"] {
            assert_invalid_token(&app, junk, "garbage").await;
        }
        let no_scheme = app.client.get(app.url("/auth/me")).header("authorization", good.as_str()).send().await.unwrap();
        assert_eq!(no_scheme.status(), StatusCode::UNAUTHORIZED);
        let missing = app.get("/auth/me").await;
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(missing.headers()["www-authenticate"], "Bearer");
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn expired_tokens_are_refused_after_the_leeway(engine) {
        let app = TestApp::builder(engine).setting("JWT_LEEWAY_SECONDS", "30").spawn().await;
        app.create_user("alice").await;
        let token = app.login("alice").await.access_token;

        // 30 minutes of life, plus 30 s of leeway.
        app.clock.advance(Duration::from_secs(30 * 60 + 20));
        assert_eq!(app.get_bearer("/auth/me", &token).await.status(), StatusCode::OK);
        app.clock.advance(Duration::from_secs(20));
        assert_invalid_token(&app, &token, "expired").await;
    }
);

engine_test!(
    async fn tokens_issued_in_the_future_are_refused(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let (_, mut claims, _) = parts(&app.login("alice").await.access_token);
        claims["nbf"] = (claims["iat"].as_i64().unwrap() + 3600).into();
        assert_invalid_token(&app, &server_signed(&app, "at+jwt", &claims), "nbf in an hour").await;
    }
);
