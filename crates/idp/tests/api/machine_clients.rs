//! Client credentials and introspection.

#[allow(unused_imports)]
use crate::helpers::*;
use idp_core::client::{ClientType, GrantType};
use idp_server::service::clients::ClientSpec;
use reqwest::StatusCode;

async fn backend(app: &TestApp) -> String {
    app.create_client(ClientSpec {
        id: Some("reports".into()),
        name: "Reports backend".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        scopes: vec!["reports:read".into(), "reports:write".into()],
        first_party: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
    })
    .await
    .unwrap()
}

engine_test!(
    async fn confidential_clients_get_tokens_for_themselves(engine) {
        let app = TestApp::spawn(engine).await;
        let secret = backend(&app).await;

        let basic = app.client.post(app.url("/auth/token")).basic_auth("reports", Some(&secret))
            .form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(basic.status(), StatusCode::OK);
        let body = json(basic).await;
        assert_eq!(body["scope"], "reports:read reports:write");
        assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
        let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(body["access_token"].as_str().unwrap()).unwrap().claims;
        assert_eq!(claims["sub"], "reports");
        assert_eq!(claims["client_id"], "reports");
        assert!(claims.get("sid").is_none());

        let post = app.post_form("/auth/token", &[("grant_type", "client_credentials"), ("client_id", "reports"), ("client_secret", &secret), ("scope", "reports:read")]).await;
        assert_eq!(json(post).await["scope"], "reports:read");

        let too_much = app.post_form("/auth/token", &[("grant_type", "client_credentials"), ("client_id", "reports"), ("client_secret", &secret), ("scope", "openid admin")]).await;
        assert_eq!(json(too_much).await["error"], "invalid_scope");
        let wrong = app.client.post(app.url("/auth/token")).basic_auth("reports", Some("cs_wrong"))
            .form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        app.create_spa(true).await;
        let public = app.post_form("/auth/token", &[("grant_type", "client_credentials"), ("client_id", "spa")]).await;
        assert_eq!(json(public).await["error"], "unauthorized_client");
        let anonymous = app.post_form("/auth/token", &[("grant_type", "client_credentials")]).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
);

engine_test!(
    async fn introspection_tells_live_tokens_from_dead_ones(engine) {
        let app = TestApp::spawn(engine).await;
        let secret = backend(&app).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let introspect = |token: String, hint: Option<&'static str>| {
            let app = &app;
            let secret = secret.clone();
            async move {
                let mut form = vec![("token", token)];
                if let Some(hint) = hint {
                    form.push(("token_type_hint", hint.to_owned()));
                }
                let response = app.client.post(app.url("/auth/introspect")).basic_auth("reports", Some(secret)).form(&form).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                assert_eq!(response.headers()["cache-control"], "no-store");
                json(response).await
            }
        };
        let live = introspect(tokens.access_token.clone(), None).await;
        assert_eq!(live["active"], true);
        assert_eq!(live["username"], "alice");
        assert_eq!(live["token_type"], "access_token");
        assert_eq!(live["client_id"], "idp-first-party");
        let refresh = introspect(tokens.refresh_token.clone(), Some("refresh_token")).await;
        assert_eq!(refresh["active"], true);
        assert_eq!(refresh["token_type"], "refresh_token");

        // A machine token introspects too.
        let machine = app.client.post(app.url("/auth/token")).basic_auth("reports", Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        let machine = json(machine).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(introspect(machine, None).await["sub"], "reports");

        // Revocation and rotation are seen at once.
        app.post_form("/auth/revoke", &[("token", &tokens.refresh_token)]).await;
        assert_eq!(introspect(tokens.access_token.clone(), None).await, serde_json::json!({"active": false}));
        assert_eq!(introspect(tokens.refresh_token.clone(), None).await, serde_json::json!({"active": false}));
        assert_eq!(introspect("garbage".into(), None).await, serde_json::json!({"active": false}));
        let expired = app.login("alice").await;
        app.clock.advance(std::time::Duration::from_secs(31 * 60 + 60));
        assert_eq!(introspect(expired.access_token, None).await["active"], false);

        // Only confidential clients may ask.
        app.create_spa(true).await;
        let public = app.post_form("/auth/introspect", &[("token", "x"), ("client_id", "spa")]).await;
        assert_eq!(public.status(), StatusCode::UNAUTHORIZED);
        let nobody = app.post_form("/auth/introspect", &[("token", "x")]).await;
        assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);

        // A live token does not help a wrong secret; a wrong hint does not
        // hide a live token.
        let fresh = app.login("alice").await;
        let wrong = app.client.post(app.url("/auth/introspect")).basic_auth("reports", Some("wrong")).form(&[("token", &fresh.access_token)]).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(wrong).await["error"], "invalid_client");
        let hinted = introspect(fresh.access_token.clone(), Some("refresh_token")).await;
        assert_eq!((hinted["active"].clone(), hinted["username"].clone()), (true.into(), "alice".into()));
    }
);

engine_test!(
    async fn logout_ends_the_browser_session_and_redirects_only_where_registered(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let coded = app.browser_login(&browser, &app.authorize_url(&[]), "alice").await;
        let code = location_params(&coded).1["code"].clone();
        let tokens = Tokens::from_body(json(app.exchange(&code, VERIFIER).await).await);
        let id_token = tokens.id_token.clone().unwrap();

        let url = |extra: &str| app.url(&format!("/auth/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye-1{extra}", urlencode("https://app.example.com/bye")));
        let out = browser.get(url("")).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::FOUND);
        assert_eq!(out.headers()["location"], "https://app.example.com/bye?state=bye-1");
        assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));

        // The session and its refresh family are over.
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(app.refresh(&tokens.refresh_token).await).await["error"], "invalid_grant");
        let page = browser.get(app.authorize_url(&[])).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the login page again");

        // An unregistered redirect is never followed.
        let evil = browser.get(app.url(&format!("/auth/logout?client_id=spa&post_logout_redirect_uri={}", urlencode("https://evil.example/")))).send().await.unwrap();
        assert_eq!(evil.status(), StatusCode::OK);
        assert!(!evil.headers().contains_key("location"));
        assert!(evil.text().await.unwrap().contains("signed out"));
        let forged = browser.get(app.url("/auth/logout?id_token_hint=eyJhbGciOiJub25lIn0.e30.")).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    }
);

engine_test!(
    async fn logout_takes_only_an_id_token_we_issued_as_its_hint(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let logout = |hint: String| {
            let app = &app;
            async move { app.get(&format!("/auth/logout?id_token_hint={hint}")).await }
        };
        let refused = |response: reqwest::Response| async move {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let page = response.text().await.unwrap();
            assert!(page.contains("not an ID token issued by this server"), "{page}");
        };

        // An access token names the session (`sid`) too, but whoever holds
        // one — a resource server — must not end the session with it.
        refused(logout(tokens.access_token.clone()).await).await;
        // Nor does our signature with the ID token's `typ` make one: the
        // audience must be a client of ours (the access token's claims,
        // whose `aud` is the issuer, signed as an ID token).
        use base64::Engine as _;
        let payload = tokens.access_token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let typed = app.state.keys.current().signer().sign_jwt(idp_core::token::ID_TOKEN_TYP, &claims).unwrap();
        refused(logout(typed).await).await;
        let refreshed = app.refresh(&tokens.refresh_token).await;
        assert_eq!(refreshed.status(), StatusCode::OK, "the session lives on");
        let rotated = Tokens::from_body(json(refreshed).await);

        // The ID token of that sign-in is the hint that ends it.
        let out = logout(tokens.id_token.clone().unwrap()).await;
        assert_eq!(out.status(), StatusCode::OK, "the signed-out page");
        assert_eq!(json(app.refresh(&rotated.refresh_token).await).await["error"], "invalid_grant");
    }
);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
