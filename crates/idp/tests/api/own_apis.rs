//! Who may call idp's own APIs (SPEC §2 "Access to idp's own APIs"): a
//! token must be meant for idp (`aud` = the issuer), and `/admin/*` and the
//! account endpoints also need a first-party client or the scope
//! (`idp:admin`, `idp:account`) that the user granted on a consent page
//! naming it.

#[allow(unused_imports)]
use crate::helpers::*;
use idp_core::client::{ClientType, GrantType};
use idp_server::service::admin::Actor;
use idp_server::service::clients::ClientSpec;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A third-party public client `third-party` that may ask for `scopes`.
async fn third_party(app: &TestApp, scopes: &[&str]) {
    app.create_client(ClientSpec {
        id: Some("third-party".into()),
        name: "Third Party".into(),
        client_type: ClientType::Public,
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        first_party: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
    })
    .await;
}

/// An administrator `alice` (seeded permissions, role Admin).
async fn admin_alice(app: &TestApp) {
    app.admin_token().await;
    let alice = app.create_user("alice").await;
    let id = alice["id"].as_str().unwrap().parse().unwrap();
    idp_server::service::users::set_roles(&app.state, &Actor::cli(), id, &["Admin".into()])
        .await
        .unwrap();
}

/// Signs `alice` in to `third-party` for `scope` through the login and consent
/// pages; returns the consent page's text and the access token.
async fn consented_token(app: &TestApp, scope: &str) -> (String, String) {
    let browser = app.browser();
    let url = app.authorize_url(&[("client_id", "third-party"), ("scope", scope)]);
    let consent = app.browser_login(&browser, &url, "alice").await;
    assert_eq!(consent.status(), StatusCode::OK, "the consent page");
    let html = consent.text().await.unwrap();
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let allowed =
        browser.post(app.url("/auth/authorize/consent")).form(&form).send().await.unwrap();
    assert_eq!(allowed.status(), StatusCode::SEE_OTHER);
    let next = allowed.headers()["location"].to_str().unwrap().to_owned();
    let coded = browser.get(app.url(&next)).send().await.unwrap();
    let code = location_params(&coded).1["code"].clone();
    let tokens = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", "third-party"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(tokens.status(), StatusCode::OK);
    (html, json(tokens).await["access_token"].as_str().unwrap().to_owned())
}

fn assert_insufficient_scope(response: &reqwest::Response, scope: &str, what: &str) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer")
            && challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(&format!(r#"scope="{scope}""#)),
        "{what}: {challenge}"
    );
}

engine_test!(
    async fn a_third_party_token_for_openid_only_reaches_neither_admin_nor_account_apis(engine) {
        let app = TestApp::spawn(engine).await;
        admin_alice(&app).await;
        third_party(&app, &["openid", "profile", "email", "roles"]).await;
        let (consent, token) = consented_token(&app, "openid").await;
        assert!(consent.contains("who you are"), "{consent}");

        for (method, path, body) in [
            (Method::GET, "/admin/users", None),
            (Method::GET, "/admin/dashboard", None),
            (Method::GET, "/admin/audit", None),
            (
                Method::POST,
                "/admin/clients",
                Some(json!({"name": "evil", "client_type": "public", "redirect_uris": ["https://evil.example/cb"], "grant_types": ["authorization_code"], "scopes": ["openid"], "first_party": true})),
            ),
        ] {
            let response = app.call(method.clone(), path, &token, body).await;
            assert_insufficient_scope(&response, "idp:admin", &format!("{method} {path}"));
        }
        for (method, path, body) in [
            (Method::GET, "/auth/sessions", None),
            (
                Method::POST,
                "/auth/password",
                Some(json!({"current_password": PASSWORD, "new_password": "N3w-pass-word!"})),
            ),
        ] {
            let response = app.call(method.clone(), path, &token, body).await;
            assert_insufficient_scope(&response, "idp:account", &format!("{method} {path}"));
        }
        // The password was not changed, and no client was created.
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), StatusCode::OK);
        let admin = app.admin_token().await;
        let clients = json(app.call(Method::GET, "/admin/clients", &admin, None).await).await;
        assert!(!clients.to_string().contains("evil"), "{clients}");

        // /auth/me answers what the scopes allow, as userinfo does: the id.
        let me = app.get_bearer("/auth/me", &token).await;
        assert_eq!(me.status(), StatusCode::OK);
        let me = json(me).await;
        assert!(me["id"].is_string(), "{me}");
        for hidden in ["email", "username", "roles", "permissions", "name"] {
            assert!(me.get(hidden).is_none(), "{hidden} leaked: {me}");
        }
        let info = json(app.get_bearer("/auth/userinfo", &token).await).await;
        assert_eq!(info["sub"], me["id"]);
        assert!(info.get("email").is_none(), "{info}");
    }
);

engine_test!(
    async fn profile_and_email_scopes_show_those_claims_on_me_but_no_permissions(engine) {
        let app = TestApp::spawn(engine).await;
        admin_alice(&app).await;
        third_party(&app, &["openid", "profile", "email", "roles"]).await;
        let (_, token) = consented_token(&app, "openid profile email roles").await;
        let me = json(app.get_bearer("/auth/me", &token).await).await;
        assert_eq!(me["username"], "alice");
        assert_eq!(me["email"], "alice@example.com");
        assert_eq!(me["roles"], json!(["Admin"]));
        assert!(me.get("permissions").is_none(), "{me}");
    }
);

engine_test!(
    async fn idp_scopes_come_only_from_a_consent_page_that_names_them(engine) {
        let app = TestApp::spawn(engine).await;
        admin_alice(&app).await;
        third_party(&app, &["openid", "idp:admin", "idp:account"]).await;

        let (consent, admin) = consented_token(&app, "openid idp:admin").await;
        assert!(consent.contains("administer"), "the consent page names idp:admin: {consent}");
        assert_eq!(app.get_bearer("/admin/users", &admin).await.status(), StatusCode::OK);
        // idp:admin is not idp:account.
        assert_insufficient_scope(&app.get_bearer("/auth/sessions", &admin).await, "idp:account", "sessions");

        let (consent, account) = consented_token(&app, "openid idp:account").await;
        assert!(consent.contains("manage your account"), "{consent}");
        assert_eq!(app.get_bearer("/auth/sessions", &account).await.status(), StatusCode::OK);
        let me = json(app.get_bearer("/auth/me", &account).await).await;
        assert!(me["permissions"].is_array() && me["email"].is_string(), "{me}");
        assert_insufficient_scope(&app.get_bearer("/admin/users", &account).await, "idp:admin", "admin");

        // The password grant shows no consent page, so a third-party client
        // cannot get these scopes through it.
        let secret = app
            .create_client(ClientSpec {
                id: Some("backend".into()),
                name: "Backend".into(),
                client_type: ClientType::Confidential,
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                grant_types: vec![GrantType::Password],
                scopes: vec!["openid".into(), "idp:admin".into(), "idp:account".into()],
                first_party: false,
                access_token_ttl: None,
                refresh_token_ttl: None,
                id_token_signed_response_alg: None,
            })
            .await
            .unwrap();
        for scope in ["idp:admin", "openid idp:account"] {
            let response = app
                .client
                .post(app.url("/auth/token"))
                .basic_auth("backend", Some(&secret))
                .form(&[("grant_type", "password"), ("username", "alice"), ("password", PASSWORD), ("scope", scope)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{scope}");
            assert_eq!(json(response).await["error"], "invalid_scope", "{scope}");
        }
        let plain = app
            .client
            .post(app.url("/auth/token"))
            .basic_auth("backend", Some(&secret))
            .form(&[("grant_type", "password"), ("username", "alice"), ("password", PASSWORD), ("scope", "openid")])
            .send()
            .await
            .unwrap();
        let plain = json(plain).await["access_token"].as_str().unwrap().to_owned();
        assert_insufficient_scope(&app.get_bearer("/admin/users", &plain).await, "idp:admin", "backend's token");
    }
);

engine_test!(
    async fn tokens_for_another_audience_are_refused_by_idps_own_apis(engine) {
        let api = "https://api.example.com";
        let app = TestApp::builder(engine).setting("ALLOWED_RESOURCES", api).spawn().await;
        app.admin_token().await;
        let for_api = app
            .post_form(
                "/auth/token",
                &[("grant_type", "password"), ("username", "admin"), ("password", ADMIN_PASSWORD), ("resource", api)],
            )
            .await;
        assert_eq!(for_api.status(), StatusCode::OK);
        let for_api = json(for_api).await["access_token"].as_str().unwrap().to_owned();
        for path in ["/auth/me", "/auth/sessions", "/admin/users", "/auth/userinfo"] {
            let response = app.get_bearer(path, &for_api).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
        }
        // Asking for idp itself as the resource is always allowed.
        let for_idp = app
            .post_form(
                "/auth/token",
                &[("grant_type", "password"), ("username", "admin"), ("password", ADMIN_PASSWORD), ("resource", &app.base_url)],
            )
            .await;
        assert_eq!(for_idp.status(), StatusCode::OK);
        let for_idp = json(for_idp).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(app.get_bearer("/admin/users", &for_idp).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn a_custom_default_audience_is_not_accepted_by_idps_own_apis(engine) {
        let api = "https://api.example.com";
        let app = TestApp::builder(engine).setting("DEFAULT_AUDIENCE", api).spawn().await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&tokens.access_token).unwrap().claims;
        assert_eq!(claims["aud"], api);
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
        // userinfo is the OpenID resource every access token of a user may
        // call; it is not one of idp's own management APIs.
        assert_eq!(app.get_bearer("/auth/userinfo", &tokens.access_token).await.status(), StatusCode::OK);
    }
);
