//! Discovery and JWKS: their shape, and tokens verified by an independent
//! JOSE library against the served JWKS, for each signing algorithm.

#[allow(unused_imports)]
use crate::helpers::*;

use reqwest::StatusCode;

engine_test!(
    async fn discovery_lists_what_works(engine) {
        let app = TestApp::spawn(engine).await;
        let response = app.get("/.well-known/openid-configuration").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["cache-control"].to_str().unwrap().starts_with("public"));
        let body = json(response).await;
        assert_eq!(body["issuer"], app.base_url);
        // The issuer carries the test's random port.
        let body: serde_json::Value = serde_json::from_str(&body.to_string().replace(&app.base_url, "[issuer]")).unwrap();
        insta::assert_json_snapshot!("discovery", body);
    }
);

engine_test!(
    async fn the_jwks_publishes_the_signing_key(engine) {
        let app = TestApp::spawn(engine).await;
        let response = app.get("/.well-known/jwks.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "public, max-age=300");
        let body = json(response).await;
        insta::assert_json_snapshot!("jwks_rs256", body, {
            ".keys[].kid" => "[kid]",
            ".keys[].n" => "[modulus]",
        });
    }
);

async fn tokens_verify_independently(engine: Engine, alg: &str) {
    let app = TestApp::builder(engine).setting("ALGORITHM", alg).spawn().await;
    app.create_user("alice").await;
    let tokens = app.login("alice").await;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(json(app.get("/.well-known/jwks.json").await).await).unwrap();

    for (token, typ, audience) in [
        (tokens.access_token.as_str(), "at+jwt", app.base_url.as_str()),
        (tokens.id_token.as_deref().unwrap(), "JWT", "idp-first-party"),
    ] {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        assert_eq!(header.typ.as_deref(), Some(typ));
        let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid in the JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[app.base_url.as_str()]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap();
        assert!(data.claims["sub"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
        assert!(data.claims["sid"].is_string());
    }
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(tokens.id_token.unwrap())
            .unwrap()
            .claims;
    assert!(claims["at_hash"].is_string());
    assert!(claims["auth_time"].is_i64());
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["roles"], serde_json::json!(["User"]));
}

engine_test!(
    async fn rs256_tokens_verify_with_an_independent_library(engine) {
        tokens_verify_independently(engine, "RS256").await;
    }
);

engine_test!(
    async fn es256_tokens_verify_with_an_independent_library(engine) {
        tokens_verify_independently(engine, "ES256").await;
    }
);

engine_test!(
    async fn eddsa_tokens_verify_with_an_independent_library(engine) {
        tokens_verify_independently(engine, "EdDSA").await;
    }
);

engine_test!(
    async fn changing_the_algorithm_keeps_the_old_key_published(engine) {
        let test_db = TestDb::create(engine).await;
        let first = TestApp::builder(engine).database(&test_db).spawn().await;
        let old_kid = json(first.get("/.well-known/jwks.json").await).await["keys"][0]["kid"].clone();
        first.stop().await;

        let second = TestApp::builder(engine).database(&test_db).setting("ALGORITHM", "ES256").spawn().await;
        let jwks = json(second.get("/.well-known/jwks.json").await).await;
        let kids: Vec<&serde_json::Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
        assert_eq!(kids.len(), 2, "{jwks}");
        assert!(kids.contains(&&old_kid));
        second.create_user("alice").await;
        let token = second.login("alice").await.access_token;
        assert_eq!(jsonwebtoken::decode_header(&token).unwrap().alg, jsonwebtoken::Algorithm::ES256);
    }
);

engine_test!(
    async fn the_openapi_document_and_swagger_ui_are_served_locally(engine) {
        let app = TestApp::spawn(engine).await;
        let doc = app.get("/openapi.json").await;
        assert_eq!(doc.status(), StatusCode::OK);
        let doc = json(doc).await;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        insta::assert_json_snapshot!("openapi", doc);

        let ui = app.get("/docs/").await;
        assert_eq!(ui.status(), StatusCode::OK);
        let csp = ui.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = ui.text().await.unwrap();
        assert!(!html.contains("https://"), "no external assets in the page");
        // The page's own scripts and styles come from this server.
        for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/swagger-initializer.js"] {
            let response = app.get(asset).await;
            assert_eq!(response.status(), StatusCode::OK, "{asset}");
        }
    }
);
