//! The original service's README, step by step, as its clients send it:
//! multipart forms (`curl -F`), `detail` read on errors.

#[allow(unused_imports)]
use crate::helpers::*;

use reqwest::StatusCode;

async fn readme_flow(app: &TestApp, multipart: bool) {
    app.create_user("alice").await;
    let send = |path: &'static str, form: Vec<(&'static str, String)>| async move {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if multipart {
            app.post_multipart(path, &pairs).await
        } else {
            app.post_form(path, &pairs).await
        }
    };

    // 1. Login and token issuance.
    let response = send(
        "/auth/token",
        vec![
            ("grant_type", "password".into()),
            ("username", "alice".into()),
            ("password", PASSWORD.into()),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json(response).await;
    assert!(body["token_type"].as_str().unwrap().eq_ignore_ascii_case("bearer"));
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["scope"], "openid profile email roles");
    let tokens = Tokens::from_body(body);
    assert!(tokens.id_token.is_some(), "the password grant returns an ID token");

    // 2. A protected endpoint, with POST as in the README.
    let me = app
        .client
        .post(app.url("/auth/me"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me = json(me).await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["roles"], serde_json::json!(["User"]));

    let info = json(app.get_bearer("/auth/userinfo", &tokens.access_token).await).await;
    assert_eq!(info["email"], "alice@example.com");

    // 3. Rotation through the original's shortcut.
    let response =
        send("/auth/token/refresh", vec![("refresh_token", tokens.refresh_token.clone())]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rotated = Tokens::from_body(json(response).await);
    assert_ne!(rotated.refresh_token, tokens.refresh_token);
    assert_ne!(rotated.access_token, tokens.access_token);

    // 4. Revocation (logout).
    let response =
        send("/auth/revoke", vec![("refresh_token", rotated.refresh_token.clone())]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json(response).await,
        serde_json::json!({"detail": "Refresh token revoked successfully"})
    );

    // 5. The revoked token is refused with the original's message.
    let response =
        send("/auth/token/refresh", vec![("refresh_token", rotated.refresh_token.clone())]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["detail"], "Invalid or revoked refresh token");
    assert_eq!(body["error"], "invalid_grant");
}

engine_test!(
    async fn the_original_readme_flow_works_with_multipart_forms(engine) {
        let app = TestApp::spawn(engine).await;
        readme_flow(&app, true).await;
    }
);

engine_test!(
    async fn the_original_readme_flow_works_with_urlencoded_forms(engine) {
        let app = TestApp::spawn(engine).await;
        readme_flow(&app, false).await;
    }
);

engine_test!(
    async fn wrong_passwords_and_unknown_users_get_the_same_answer(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("bob").await;

        let wrong = app.password_grant("bob", "not-the-password").await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        let wrong = json(wrong).await;
        let unknown = json(app.password_grant("nobody", "not-the-password").await).await;
        assert_eq!(wrong, unknown);
        assert_eq!(wrong["error"], "invalid_grant");
        assert_eq!(wrong["detail"], "Incorrect username or password");
    }
);

engine_test!(
    async fn users_can_log_in_with_their_email_in_any_case(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("carol").await;
        assert_eq!(app.password_grant("CAROL@Example.com", PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.password_grant("Carol", PASSWORD).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn token_errors_follow_rfc_6749(engine) {
        let app = TestApp::spawn(engine).await;

        let missing = app.post_form("/auth/token", &[("username", "x")]).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(missing).await["error"], "invalid_request");

        let unsupported = app.post_form("/auth/token", &[("grant_type", "magic")]).await;
        assert_eq!(json(unsupported).await["error"], "unsupported_grant_type");

        let duplicated = app
            .client
            .post(app.url("/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&grant_type=refresh_token")
            .send()
            .await
            .unwrap();
        assert_eq!(json(duplicated).await["error"], "invalid_request");

        let json_body = app.client.post(app.url("/auth/token")).json(&serde_json::json!({"grant_type": "password"})).send().await.unwrap();
        assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(json(json_body).await["error"], "invalid_request");

        let bad_client = app
            .post_form("/auth/token", &[("grant_type", "password"), ("client_id", "nope"), ("client_secret", "x"), ("username", "a"), ("password", "b")])
            .await;
        assert_eq!(bad_client.status(), StatusCode::UNAUTHORIZED);
        assert!(bad_client.headers().contains_key("www-authenticate"));
        assert_eq!(json(bad_client).await["error"], "invalid_client");

        let bad_scope = app
            .post_form("/auth/token", &[("grant_type", "password"), ("username", "a"), ("password", "b"), ("scope", "openid admin:everything")])
            .await;
        assert_eq!(json(bad_scope).await["error"], "invalid_scope");
    }
);

engine_test!(
    async fn the_password_grant_without_client_can_be_turned_off(engine) {
        let app = TestApp::builder(engine).setting("ALLOW_PASSWORD_GRANT_WITHOUT_CLIENT", "false").spawn().await;
        app.create_user("dave").await;
        let response = app.password_grant("dave", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(response).await["error"], "invalid_client");
    }
);
