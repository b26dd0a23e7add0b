//! OpenID Connect RP-Initiated Logout 1.0 at `/auth/logout`: who may end a
//! sign-in without being asked, the confirmation page for everyone else, and
//! the audit trail.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

/// The claims of a JWT, unverified (the test issued it).
fn claims(jwt: &str) -> serde_json::Value {
    jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(jwt).unwrap().claims
}

/// The `session.ended` audit events about session `sid`.
async fn session_ended_events(app: &TestApp, admin: &str, sid: &str) -> Vec<serde_json::Value> {
    let all = json(app.get_bearer("/admin/audit?event=session.ended&limit=200", admin).await).await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["session"] == sid)
        .cloned()
        .collect()
}

engine_test!(
    async fn a_logout_through_an_id_token_hint_is_audited(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let alice = app.create_user("alice").await;
        let tokens = app.login("alice").await;
        let id_token = tokens.id_token.clone().unwrap();
        let sid = claims(&id_token)["sid"].as_str().unwrap().to_owned();

        let out = app.get(&format!("/auth/logout?id_token_hint={id_token}")).await;
        assert_eq!(out.status(), StatusCode::OK);
        assert_eq!(json(app.refresh(&tokens.refresh_token).await).await["error"], "invalid_grant");
        let events = session_ended_events(&app, &admin, &sid).await;
        assert_eq!(events.len(), 1, "one session.ended event for the hinted session: {events:#?}");
        let event = &events[0];
        assert_eq!(event["subject"], alice["id"]);
        assert_eq!(event["actor"], alice["id"]);
        assert_eq!(event["client_id"], claims(&id_token)["aud"]);
        assert_eq!(event["details"]["reason"], "logout");
        assert!(!event.to_string().contains(&id_token), "the hint itself is not logged");

        // The same hint again ends nothing, and writes nothing.
        assert_eq!(app.get(&format!("/auth/logout?id_token_hint={id_token}")).await.status(), StatusCode::OK);
        assert_eq!(session_ended_events(&app, &admin, &sid).await.len(), 1);
    }
);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Signs `username` in through `browser` for `spa`; returns the tokens.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, username: &str) -> Tokens {
    let coded = app.browser_login(browser, &app.authorize_url(&[]), username).await;
    assert_eq!(coded.status(), StatusCode::FOUND);
    let code = location_params(&coded).1["code"].clone();
    Tokens::from_body(json(app.exchange(&code, VERIFIER).await).await)
}

/// Whether `browser` still has a sign-in (a code without a login page).
async fn still_signed_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    let response = browser.get(app.authorize_url(&[("prompt", "none")])).send().await.unwrap();
    let (_, params) = location_params(&response);
    assert!(params.contains_key("code") || params["error"] == "login_required", "{params:?}");
    params.contains_key("code")
}

/// Posts the confirmation page's form back.
async fn confirm(app: &TestApp, browser: &reqwest::Client, page: &str) -> reqwest::Response {
    browser.post(app.url("/auth/logout")).form(&hidden_fields(page)).send().await.unwrap()
}

engine_test!(
    async fn a_logout_without_a_hint_asks_first_and_signs_out_only_on_the_confirmed_post(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let tokens = sign_in(&app, &browser, "alice").await;
        let bye = urlencode("https://app.example.com/bye");

        // Any page can send the browser here: it is asked, nothing ends.
        let asked = browser.get(app.url(&format!("/auth/logout?client_id=spa&post_logout_redirect_uri={bye}&state=s-1"))).send().await.unwrap();
        assert_eq!(asked.status(), StatusCode::OK);
        assert!(!asked.headers().contains_key("location"));
        let csp = asked.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("form-action 'self';") && !csp.contains("app.example.com"), "no redirect is to follow: {csp}");
        let page = asked.text().await.unwrap();
        assert!(page.contains("Sign out of idp?") && page.contains("<strong>alice</strong>"), "{page}");
        assert!(page.contains("name=\"csrf_token\""));
        assert!(still_signed_in(&app, &browser).await, "asking ends nothing");
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::OK);
        // A logout request sent as a form is asked about too.
        let posted = browser.post(app.url("/auth/logout")).form(&[("state", "s-2")]).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::OK);
        assert!(posted.text().await.unwrap().contains("Sign out of idp?"));
        assert!(still_signed_in(&app, &browser).await);

        // The answer needs the token bound to this browser's CSRF cookie.
        let mut forged = hidden_fields(&page);
        forged.retain(|(name, _)| name != "csrf_token");
        forged.push(("csrf_token".into(), "forged".into()));
        let refused = browser.post(app.url("/auth/logout")).form(&forged).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("The form expired"));
        let stranger = app.browser();
        sign_in(&app, &stranger, "alice").await;
        let strangers_page = stranger.get(app.url("/auth/logout")).send().await.unwrap().text().await.unwrap();
        assert_eq!(confirm(&app, &browser, &strangers_page).await.status(), StatusCode::FORBIDDEN);
        assert!(still_signed_in(&app, &browser).await);

        // Confirmed: signed out, with the signed-out page (no valid hint,
        // so no redirect, registered or not).
        let out = confirm(&app, &browser, &page).await;
        assert_eq!(out.status(), StatusCode::OK);
        assert!(!out.headers().contains_key("location"));
        assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        assert!(out.text().await.unwrap().contains("You have been signed out"));
        assert!(!still_signed_in(&app, &browser).await);
        assert_eq!(app.get_bearer("/auth/me", &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(app.refresh(&tokens.refresh_token).await).await["error"], "invalid_grant");
        // The other browser's sign-in was not touched.
        assert!(still_signed_in(&app, &stranger).await);
    }
);

engine_test!(
    async fn another_users_hint_or_one_we_did_not_issue_asks_too(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_user("bob").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let alice = sign_in(&app, &browser, "alice").await;
        let bob = sign_in(&app, &app.browser(), "bob").await;
        let bye = urlencode("https://app.example.com/bye");

        // Bob's ID token in Alice's browser: Alice is asked.
        let hint = bob.id_token.clone().unwrap();
        let url = format!("/auth/logout?id_token_hint={hint}&post_logout_redirect_uri={bye}&state=s-3");
        let asked = browser.get(app.url(&url)).send().await.unwrap();
        assert_eq!(asked.status(), StatusCode::OK);
        let csp = asked.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("https://app.example.com"), "the answer may be redirected there: {csp}");
        let page = asked.text().await.unwrap();
        assert!(page.contains("Sign out of idp?") && page.contains("<strong>alice</strong>"), "{page}");
        assert!(still_signed_in(&app, &browser).await);
        assert_eq!(app.refresh(&bob.refresh_token).await.status(), StatusCode::OK, "nothing ended yet");
        // Confirmed: the hint is valid and its client registered the URI,
        // so the browser goes there with the state.
        let out = confirm(&app, &browser, &page).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(out.headers()["location"], "https://app.example.com/bye?state=s-3");
        assert!(!still_signed_in(&app, &browser).await);
        assert_eq!(app.get_bearer("/auth/me", &alice.access_token).await.status(), StatusCode::UNAUTHORIZED);

        // A hint we did not issue (an access token): asked, with a notice,
        // and never redirected.
        sign_in(&app, &browser, "alice").await;
        let url = format!("/auth/logout?id_token_hint={}&post_logout_redirect_uri={bye}&state=s-4", alice.access_token);
        let asked = browser.get(app.url(&url)).send().await.unwrap();
        assert_eq!(asked.status(), StatusCode::BAD_REQUEST);
        let page = asked.text().await.unwrap();
        assert!(page.contains("not an ID token issued by this server") && page.contains("Sign out of idp?"), "{page}");
        assert!(!page.contains(&alice.access_token), "the refused hint is not carried on");
        assert!(still_signed_in(&app, &browser).await);
        let out = confirm(&app, &browser, &page).await;
        assert_eq!(out.status(), StatusCode::OK);
        assert!(!out.headers().contains_key("location"));
        assert!(!still_signed_in(&app, &browser).await);
    }
);

engine_test!(
    async fn the_signed_in_users_own_hint_signs_out_at_once(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let tokens = sign_in(&app, &browser, "alice").await;
        let hint = tokens.id_token.clone().unwrap();
        let url = format!("/auth/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=s-5", urlencode("https://app.example.com/bye"));
        // Sent as a form, too.
        let form = url::Url::parse(&app.url(&url)).unwrap().query_pairs().into_owned().collect::<Vec<(String, String)>>();
        let out = browser.post(app.url("/auth/logout")).form(&form).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(out.headers()["location"], "https://app.example.com/bye?state=s-5");
        assert!(!still_signed_in(&app, &browser).await);
        assert_eq!(json(app.refresh(&tokens.refresh_token).await).await["error"], "invalid_grant");
    }
);
