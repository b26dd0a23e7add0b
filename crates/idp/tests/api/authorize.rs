//! The authorization code flow with PKCE, through the login and consent
//! pages, and every way it must refuse.

#[allow(unused_imports)]
use crate::helpers::*;
use std::time::Duration;

use reqwest::StatusCode;

async fn code_for(app: &TestApp, browser: &reqwest::Client, url: &str) -> String {
    let response = app.browser_login(browser, url, "alice").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let (base, params) = location_params(&response);
    assert_eq!(base, REDIRECT_URI);
    params["code"].clone()
}

engine_test!(
    async fn the_code_flow_logs_in_once_and_issues_verifiable_tokens(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();

        let page = browser.get(app.authorize_url(&[])).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let set_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        let html = page.text().await.unwrap();
        assert!(html.contains("name=\"username\"") && html.contains("name=\"password\"") && html.contains("name=\"csrf_token\""));
        assert!(html.contains("The SPA"));
        assert!(!html.contains("http://") && !html.contains("https://cdn"), "no external assets");

        let response = app.browser_login(&browser, &app.authorize_url(&[]), "alice").await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let (_, params) = location_params(&response);
        assert_eq!(params["state"], "st-123");
        assert_eq!(params["iss"], app.base_url);
        let tokens = app.exchange(&params["code"], VERIFIER).await;
        assert_eq!(tokens.status(), StatusCode::OK);
        assert_eq!(tokens.headers()["cache-control"], "no-store");
        let tokens = Tokens::from_body(json(tokens).await);
        let id = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(tokens.id_token.as_deref().unwrap()).unwrap().claims;
        assert_eq!(id["nonce"], "n-456");
        assert_eq!(id["aud"], "spa");
        assert!(id["auth_time"].is_i64() && id["sid"].is_string() && id["at_hash"].is_string());
        assert_eq!(app.get_bearer("/auth/userinfo", &tokens.access_token).await.status(), StatusCode::OK);
        assert_eq!(app.refresh(&tokens.refresh_token).await.status(), StatusCode::OK);

        // The browser session skips the form the next time.
        let again = browser.get(app.authorize_url(&[("state", "second")])).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::FOUND);
        assert_eq!(location_params(&again).1["state"], "second");
        // prompt=login asks for the password even so.
        let forced = browser.get(app.authorize_url(&[("prompt", "login")])).send().await.unwrap();
        assert_eq!(forced.status(), StatusCode::OK);
        // prompt=none with the session: straight to a code.
        let silent = browser.get(app.authorize_url(&[("prompt", "none")])).send().await.unwrap();
        assert!(location_params(&silent).1.contains_key("code"));
    }
);

engine_test!(
    async fn third_party_clients_ask_for_consent_once(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(false).await;
        let browser = app.browser();

        let consent = app.browser_login(&browser, &app.authorize_url(&[]), "alice").await;
        assert_eq!(consent.status(), StatusCode::OK);
        let html = consent.text().await.unwrap();
        assert!(html.contains("Allow access?") && html.contains("your email address"), "{html}");
        let mut form = hidden_fields(&html);
        form.push(("decision".into(), "allow".into()));
        let allowed = browser.post(app.url("/auth/authorize/consent")).form(&form).send().await.unwrap();
        assert_eq!(allowed.status(), StatusCode::SEE_OTHER);
        let next = allowed.headers()["location"].to_str().unwrap().to_owned();
        let coded = browser.get(app.url(&next)).send().await.unwrap();
        assert!(location_params(&coded).1.contains_key("code"));

        // Remembered: no consent page the second time.
        let second = browser.get(app.authorize_url(&[])).send().await.unwrap();
        assert_eq!(second.status(), StatusCode::FOUND);
        // And audited, with what was granted.
        let admin = app.admin_token().await;
        let audit = json(app.call(reqwest::Method::GET, "/admin/audit?event=consent.granted", &admin, None).await).await;
        assert_eq!(audit["total"], 1, "{audit}");
        assert_eq!(audit["items"][0]["client_id"], "spa");
        assert_eq!(audit["items"][0]["details"]["scope"], "openid profile email offline_access");

        // A new browser that denies gets access_denied back at the client.
        let other = app.browser();
        let page = app.browser_login(&other, &app.authorize_url(&[("prompt", "consent")]), "alice").await;
        let mut form = hidden_fields(&page.text().await.unwrap());
        form.push(("decision".into(), "deny".into()));
        let denied = other.post(app.url("/auth/authorize/consent")).form(&form).send().await.unwrap();
        let (base, params) = location_params(&denied);
        assert_eq!(base, REDIRECT_URI);
        assert_eq!(params["error"], "access_denied");
        assert_eq!(params["state"], "st-123");
    }
);

engine_test!(
    async fn pkce_is_required_s256_and_checked(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();

        for (extra, what) in [
            (vec![("code_challenge", ""), ("code_challenge_method", "")], "missing"),
            (vec![("code_challenge_method", "plain"), ("code_challenge", VERIFIER)], "plain"),
            (vec![("code_challenge_method", "")], "no method"),
        ] {
            let response = browser.get(app.authorize_url(&extra)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FOUND, "{what}");
            let (base, params) = location_params(&response);
            assert_eq!(base, REDIRECT_URI);
            assert_eq!(params["error"], "invalid_request", "{what}");
            assert_eq!(params["state"], "st-123");
        }

        let code = code_for(&app, &browser, &app.authorize_url(&[])).await;
        let wrong = app.exchange(&code, "wrong-verifier-wrong-verifier-wrong-verifier-x").await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(wrong).await["error"], "invalid_grant");
        // The failed attempt used the code up.
        assert_eq!(json(app.exchange(&code, VERIFIER).await).await["error"], "invalid_grant");
        let code = code_for(&app, &browser, &app.authorize_url(&[("state", "x")])).await;
        let no_verifier = app
            .post_form("/auth/token", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI), ("client_id", "spa")])
            .await;
        assert_eq!(json(no_verifier).await["error"], "invalid_grant");
    }
);

engine_test!(
    async fn redirect_uri_tricks_get_an_error_page_and_never_a_redirect(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_spa(true).await;
        let browser = app.browser();
        for trick in [
            "https://app.example.com/callbac",
            "https://app.example.com/callback/",
            "https://app.example.com/callback/../evil",
            "https://APP.example.com/callback",
            "https://app.example.com/Callback",
            "https://app.example.com/callback?extra=1",
            "https://app.example.com.evil.com/callback",
            "javascript:alert(1)",
            "http://app.example.com/callback",
        ] {
            let response = browser.get(app.authorize_url(&[("redirect_uri", trick)])).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{trick}");
            assert!(!response.headers().contains_key("location"), "{trick} must not redirect");
            assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
            assert!(response.text().await.unwrap().contains("not registered"), "{trick}");
        }
        // Unknown client: a page, not a redirect.
        let unknown = browser.get(app.authorize_url(&[("client_id", "nobody")])).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
        assert!(!unknown.headers().contains_key("location"));
        // A native app's loopback redirect matches on any port.
        let native = browser
            .get(app.authorize_url(&[("redirect_uri", "http://127.0.0.1:50123/native"), ("prompt", "none")]))
            .send()
            .await
            .unwrap();
        let (base, params) = location_params(&native);
        assert_eq!(base, "http://127.0.0.1/native");
        assert_eq!(params["error"], "login_required");
        // Parameters given twice are refused outright.
        let dup = browser.get(format!("{}&state=again", app.authorize_url(&[]))).send().await.unwrap();
        assert_eq!(dup.status(), StatusCode::BAD_REQUEST);
    }
);

engine_test!(
    async fn a_replayed_code_fails_and_revokes_what_it_issued(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let code = code_for(&app, &browser, &app.authorize_url(&[])).await;
        let first = Tokens::from_body(json(app.exchange(&code, VERIFIER).await).await);
        let replay = app.exchange(&code, VERIFIER).await;
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(replay).await["error"], "invalid_grant");
        assert_eq!(app.get_bearer("/auth/me", &first.access_token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(app.refresh(&first.refresh_token).await).await["error"], "invalid_grant");
    }
);

engine_test!(
    async fn codes_expire_after_a_minute(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let code = code_for(&app, &browser, &app.authorize_url(&[])).await;
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(json(app.exchange(&code, VERIFIER).await).await["error"], "invalid_grant");
        // Another client cannot redeem a code either.
        let code = code_for(&app, &browser, &app.authorize_url(&[("state", "2")])).await;
        let other_client = app
            .post_form("/auth/token", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI), ("client_id", "idp-first-party"), ("code_verifier", VERIFIER)])
            .await;
        assert!(other_client.status().is_client_error());
    }
);

engine_test!(
    async fn the_login_form_needs_a_valid_csrf_token(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let html = browser.get(app.authorize_url(&[])).send().await.unwrap().text().await.unwrap();
        let mut form: Vec<(String, String)> = hidden_fields(&html).into_iter().filter(|(k, _)| k != "csrf_token").collect();
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), PASSWORD.into()));
        let missing = browser.post(app.url("/auth/authorize")).form(&form).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::FORBIDDEN);
        assert!(missing.text().await.unwrap().contains("The form expired"));
        let mut wrong = form.clone();
        wrong.push(("csrf_token".into(), "forged-token".into()));
        assert_eq!(browser.post(app.url("/auth/authorize")).form(&wrong).send().await.unwrap().status(), StatusCode::FORBIDDEN);
        // A token from another browser does not work with this one's cookie.
        let stranger = app.browser();
        let html = stranger.get(app.authorize_url(&[])).send().await.unwrap().text().await.unwrap();
        let mut stolen = hidden_fields(&html);
        stolen.push(("username".into(), "alice".into()));
        stolen.push(("password".into(), PASSWORD.into()));
        assert_eq!(browser.post(app.url("/auth/authorize")).form(&stolen).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
);

engine_test!(
    async fn wrong_passwords_and_lockouts_show_on_the_page(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let submit = |password: &'static str, username: &'static str| {
            let app = &app;
            let browser = &browser;
            async move {
                let html = browser.get(app.authorize_url(&[])).send().await.unwrap().text().await.unwrap();
                let mut form = hidden_fields(&html);
                form.push(("username".into(), username.into()));
                form.push(("password".into(), password.into()));
                browser.post(app.url("/auth/authorize")).form(&form).send().await.unwrap()
            }
        };
        let wrong = submit("wrong-password", "alice").await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        let wrong_html = wrong.text().await.unwrap();
        assert!(wrong_html.contains("Incorrect username or password"));
        let unknown_html = submit("wrong-password", "nobody").await.text().await.unwrap();
        assert!(unknown_html.contains("Incorrect username or password"));
        for _ in 0..4 {
            submit("wrong-password", "alice").await;
        }
        let locked = submit(PASSWORD, "alice").await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(locked.text().await.unwrap().contains("Too many failed attempts"));
    }
);

engine_test!(
    async fn prompt_none_without_a_session_says_login_required(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_spa(true).await;
        let response = app.browser().get(app.authorize_url(&[("prompt", "none")])).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        let (base, params) = location_params(&response);
        assert_eq!(base, REDIRECT_URI);
        assert_eq!(params["error"], "login_required");
        assert_eq!(params["state"], "st-123");
        // Other bad requests go back to the client too, with their state.
        for (extra, error) in [
            (vec![("response_type", "token")], "unsupported_response_type"),
            (vec![("scope", "openid admin")], "invalid_scope"),
            (vec![("prompt", "none login")], "invalid_request"),
        ] {
            let response = app.browser().get(app.authorize_url(&extra)).send().await.unwrap();
            assert_eq!(location_params(&response).1["error"], error);
        }
    }
);

engine_test!(
    async fn a_csrf_cookie_value_the_client_chose_is_refused(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        // An attacker picks a cookie value (to plant in a victim's browser)
        // and asks the login page for the token that matches it.
        let chosen = "idp_csrf=chosen-by-the-attacker-0123456789";
        let page = app.client.get(app.authorize_url(&[])).header("cookie", chosen).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let set_cookie = page.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
        let mut form = hidden_fields(&page.text().await.unwrap());
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), PASSWORD.into()));
        let posted = app.client.post(app.url("/auth/authorize")).header("cookie", chosen).form(&form).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::FORBIDDEN, "a client-chosen CSRF cookie must not count");
        assert!(!posted.headers().contains_key("location"));
        assert!(posted.text().await.unwrap().contains("The form expired"));
        // The page ignored the chosen value and minted a signed one instead.
        let set_cookie = set_cookie.expect("a fresh CSRF cookie");
        assert!(set_cookie.starts_with("idp_csrf=") && !set_cookie.contains("chosen-by-the-attacker"), "{set_cookie}");
        assert!(set_cookie.contains("Path=/;") || set_cookie.ends_with("Path=/"), "{set_cookie}");
    }
);

/// A third-party client `spa2` with the same redirect URIs as `spa`.
async fn create_second_third_party_client(app: &TestApp) {
    use idp_core::client::{ClientType, GrantType};
    app.create_client(idp_server::service::clients::ClientSpec {
        id: Some("spa2".into()),
        name: "Another SPA".into(),
        client_type: ClientType::Public,
        redirect_uris: vec![REDIRECT_URI.into(), "http://127.0.0.1/native".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec![
            "openid".into(),
            "profile".into(),
            "email".into(),
            "roles".into(),
            "offline_access".into(),
        ],
        first_party: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
    })
    .await;
}

/// `form` with `decision=allow`.
fn allow(form: &[(String, String)]) -> Vec<(String, String)> {
    let mut form = form.to_vec();
    form.push(("decision".into(), "allow".into()));
    form
}

/// `form` with `name` set to `value`, and `decision=allow`.
fn allow_with(form: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = form.iter().filter(|(k, _)| k != name).cloned().collect();
    form.push((name.into(), value.into()));
    allow(&form)
}

/// The consent page's hidden fields, after signing `browser` in.
async fn consent_form(
    app: &TestApp,
    browser: &reqwest::Client,
    url: &str,
) -> Vec<(String, String)> {
    let page = app.browser_login(browser, url, "alice").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Allow access?"), "{html}");
    hidden_fields(&html)
}

/// Whether `browser` would get a code for `client` and `scope` without
/// being asked again (`prompt=none`).
async fn silently_coded(
    app: &TestApp,
    browser: &reqwest::Client,
    client: &str,
    scope: &str,
) -> bool {
    let url = app.authorize_url(&[("client_id", client), ("scope", scope), ("prompt", "none")]);
    let response = browser.get(url).send().await.unwrap();
    let (_, params) = location_params(&response);
    assert!(params.contains_key("code") || params["error"] == "consent_required", "{params:?}");
    params.contains_key("code")
}

engine_test!(
    async fn a_consent_token_approves_only_the_client_scope_and_redirect_uri_it_was_shown_for(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(false).await;
        create_second_third_party_client(&app).await;
        let browser = app.browser();
        let form = consent_form(&app, &browser, &app.authorize_url(&[])).await;

        let mut answers = Vec::new();
        for (name, value) in [
            ("client_id", "spa2"),
            ("scope", "openid profile email offline_access roles"),
            ("redirect_uri", "http://127.0.0.1/native"),
        ] {
            let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow_with(&form, name, value)).send().await.unwrap();
            let redirected = posted.headers().contains_key("location");
            let expired = posted.status() == StatusCode::FORBIDDEN && posted.text().await.unwrap().contains("The form expired");
            answers.push((name, expired && !redirected));
        }
        assert!(answers.iter().all(|(_, refused)| *refused), "refused per changed field: {answers:?}");
        // Nothing was granted: neither client gets a code without asking.
        assert!(!silently_coded(&app, &browser, "spa2", "openid profile email offline_access").await);
        assert!(!silently_coded(&app, &browser, "spa", "openid profile email offline_access roles").await);
        assert!(!silently_coded(&app, &browser, "spa", "openid profile email offline_access").await);

        // The untouched form still works, for what it showed.
        let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow(&form)).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
        assert!(silently_coded(&app, &browser, "spa", "openid profile email offline_access").await);
        assert!(!silently_coded(&app, &browser, "spa2", "openid profile email offline_access").await);
    }
);

engine_test!(
    async fn an_expired_consent_token_is_refused(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(false).await;
        let browser = app.browser();
        let form = consent_form(&app, &browser, &app.authorize_url(&[])).await;
        // A consent token lives five minutes (idp_core::csrf::CONSENT_TOKEN_LIFETIME).
        app.clock.advance(Duration::from_secs(5 * 60 + 1));
        let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow(&form)).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::FORBIDDEN);
        assert!(!posted.headers().contains_key("location"));
        assert!(!silently_coded(&app, &browser, "spa", "openid profile email offline_access").await);
        // A fresh page gives a fresh token.
        let page = browser.get(app.authorize_url(&[])).send().await.unwrap();
        let fresh = hidden_fields(&page.text().await.unwrap());
        let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow(&fresh)).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    }
);

engine_test!(
    async fn a_consent_token_from_another_browser_session_is_refused(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(false).await;
        let browser = app.browser();
        let old = consent_form(&app, &browser, &app.authorize_url(&[])).await;
        // Signing in again starts another browser session; the CSRF cookie
        // stays the same.
        let new = consent_form(&app, &browser, &app.authorize_url(&[("prompt", "login")])).await;
        let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow(&old)).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::FORBIDDEN);
        assert!(!posted.headers().contains_key("location"));
        assert!(!silently_coded(&app, &browser, "spa", "openid profile email offline_access").await);
        let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow(&new)).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    }
);

/// A third-party client `racer` with eight scopes of its own, registered
/// through the admin API.
async fn create_client_with_many_scopes(app: &TestApp) -> Vec<String> {
    let scopes: Vec<String> = (1..=8).map(|i| format!("api:{i}")).collect();
    let admin = app.admin_token().await;
    let body = serde_json::json!({
        "client_id": "racer",
        "name": "Racer",
        "client_type": "public",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code"],
        "scopes": std::iter::once("openid".to_owned()).chain(scopes.iter().cloned()).collect::<Vec<_>>(),
        "first_party": false,
    });
    let created = app.call(reqwest::Method::POST, "/admin/clients", &admin, Some(body)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    scopes
}

engine_test!(
    async fn consents_to_different_scopes_answered_at_once_are_all_kept(engine) {
        let app = TestApp::spawn(engine).await;
        let alice = app.create_user("alice").await;
        let alice: idp_core::ids::UserId = alice["id"].as_str().unwrap().parse().unwrap();
        let scopes = create_client_with_many_scopes(&app).await;
        let browser = app.browser();
        let url = |scope: &str| app.authorize_url(&[("client_id", "racer"), ("scope", &format!("openid {scope}"))]);
        // One consent page per scope, all in the same browser session.
        let mut forms = vec![consent_form(&app, &browser, &url(&scopes[0])).await];
        for scope in &scopes[1..] {
            let page = browser.get(url(scope)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            forms.push(hidden_fields(&page.text().await.unwrap()));
        }
        // Every answer at once.
        let mut answers = tokio::task::JoinSet::new();
        for form in forms {
            let (browser, target) = (browser.clone(), app.url("/auth/authorize/consent"));
            answers.spawn(async move { browser.post(target).form(&allow(&form)).send().await.unwrap().status() });
        }
        while let Some(status) = answers.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::SEE_OTHER);
        }
        let granted = idp_store::repo::consents::find(app.state.db.read(), alice, "racer").await.unwrap().unwrap();
        let missing: Vec<&String> = scopes.iter().filter(|s| !granted.contains(s.as_str())).collect();
        assert!(missing.is_empty(), "lost grants {missing:?}; stored: {granted}");
        assert!(silently_coded(&app, &browser, "racer", &format!("openid {}", scopes.join(" "))).await);
    }
);

engine_test!(
    async fn a_consent_that_cannot_be_read_is_an_error_not_an_empty_grant(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(false).await;
        let browser = app.browser();
        let form = consent_form(&app, &browser, &app.authorize_url(&[])).await;
        // An earlier consent that does not read back as a scope.
        let corrupt = "offline_access \"broken";
        sqlx::query("INSERT INTO consents (user_id, client_id, scope, granted_at) SELECT id, 'spa', $1, 0 FROM users WHERE username = 'alice'")
            .bind(corrupt)
            .execute(app.state.db.read())
            .await
            .unwrap();

        let posted = browser.post(app.url("/auth/authorize/consent")).form(&allow(&form)).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!posted.headers().contains_key("location"));
        assert!(posted.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        // Nothing was overwritten.
        let (stored,): (String,) = sqlx::query_as("SELECT scope FROM consents WHERE client_id = 'spa'")
            .fetch_one(app.state.db.read())
            .await
            .unwrap();
        assert_eq!(stored, corrupt);
    }
);

/// The parameters of [`TestApp::authorize_url`], to send as a form.
fn authorize_form(app: &TestApp, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let url = url::Url::parse(&app.authorize_url(extra)).unwrap();
    url.query_pairs().into_owned().collect()
}

engine_test!(
    async fn an_authorization_request_sent_by_post_is_answered_as_the_get_is(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(false).await;
        let browser = app.browser();
        let authorize = app.url("/auth/authorize");
        let params = authorize_form(&app, &[]);

        // Not signed in: the login page (OIDC Core §3.1.2.1), not "form expired".
        let page = browser.post(&authorize).form(&params).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = page.text().await.unwrap();
        assert!(html.contains("Sign in") && html.contains("The SPA") && html.contains("name=\"csrf_token\""), "{html}");
        // Its form signs in as the GET's does.
        let mut form = hidden_fields(&html);
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), PASSWORD.into()));
        let signed_in = browser.post(&authorize).form(&form).send().await.unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);

        // Signed in, not yet asked: the consent page.
        let consent = browser.post(&authorize).form(&params).send().await.unwrap();
        assert_eq!(consent.status(), StatusCode::OK);
        let html = consent.text().await.unwrap();
        assert!(html.contains("Allow access?"), "{html}");
        let allowed = browser.post(app.url("/auth/authorize/consent")).form(&allow(&hidden_fields(&html))).send().await.unwrap();
        assert_eq!(allowed.status(), StatusCode::SEE_OTHER);

        // Consented: a code for the client, with its state.
        let coded = browser.post(&authorize).form(&params).send().await.unwrap();
        assert_eq!(coded.status(), StatusCode::FOUND);
        let (base, back) = location_params(&coded);
        assert_eq!(base, REDIRECT_URI);
        assert_eq!(back["state"], "st-123");
        assert_eq!(app.exchange(&back["code"], VERIFIER).await.status(), StatusCode::OK);
        // prompt=none and errors go back to the client as by GET.
        let silent = browser.post(&authorize).form(&authorize_form(&app, &[("prompt", "none"), ("scope", "openid roles")])).send().await.unwrap();
        assert_eq!(location_params(&silent).1["error"], "consent_required");
        // A bad client gets the error page, never a redirect.
        let unknown = browser.post(&authorize).form(&authorize_form(&app, &[("client_id", "nobody")])).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
        assert!(!unknown.headers().contains_key("location"));

        // A POST with login fields is a login attempt: without its CSRF
        // token it is refused, whatever else it carries.
        let mut forged = params.clone();
        forged.push(("username".into(), "alice".into()));
        forged.push(("password".into(), PASSWORD.into()));
        let refused = app.browser().post(&authorize).form(&forged).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("The form expired"));
    }
);

engine_test!(
    async fn a_rate_limited_login_form_gets_a_page_with_retry_after(engine) {
        let app = TestApp::builder(engine).setting("RATE_LIMIT_PER_MINUTE", "3").spawn().await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let html = browser.get(app.authorize_url(&[])).send().await.unwrap().text().await.unwrap();
        let mut form = hidden_fields(&html);
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), "wrong-password".into()));
        for _ in 0..3 {
            let wrong = browser.post(app.url("/auth/authorize")).form(&form).send().await.unwrap();
            assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        }
        let limited = browser.post(app.url("/auth/authorize")).form(&form).send().await.unwrap();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(limited.headers()["content-type"], "text/html; charset=utf-8");
        let csp = limited.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("style-src 'nonce-") && csp.contains("frame-ancestors 'none'"), "{csp}");
        let page = limited.text().await.unwrap();
        assert!(page.contains("Too many requests; try again in"), "{page}");

        // Showing the pages is not limited: the login page by GET, and an
        // authorization request by POST, which is no login attempt.
        assert_eq!(browser.get(app.authorize_url(&[])).send().await.unwrap().status(), StatusCode::OK);
        let by_post = browser.post(app.url("/auth/authorize")).form(&authorize_form(&app, &[])).send().await.unwrap();
        assert_eq!(by_post.status(), StatusCode::OK);
    }
);
