//! Automatic invalidation under concurrency: a login whose password check
//! ran before a password change, a disable or a demotion, and whose session
//! is written after it, must not outlive the change (SPEC §2, "A session is
//! created only if the user is still enabled and its credentials are
//! unchanged since the password was checked").
//!
//! Each test races three clients looping the password grant against the
//! change, several times over; before the fix, every trial left one to
//! three live sessions behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const TRIALS: usize = 5;
const RACERS: usize = 3;

/// Loops the password grant from [`RACERS`] clients while `change` runs,
/// and a little after it; returns every token pair obtained.
async fn logins_racing(
    app: &TestApp,
    username: &str,
    password: &str,
    change: impl Future<Output = ()>,
) -> Vec<Tokens> {
    let stop = Arc::new(AtomicBool::new(false));
    let logged_in = Arc::new(AtomicUsize::new(0));
    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let (client, url, stop) = (app.client.clone(), app.url("/auth/token"), stop.clone());
        let logged_in = logged_in.clone();
        let (username, password) = (username.to_owned(), password.to_owned());
        racers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = client
                    .post(&url)
                    .form(&[
                        ("grant_type", "password"),
                        ("username", &username),
                        ("password", &password),
                    ])
                    .send()
                    .await
                    .unwrap();
                if response.status() == StatusCode::OK {
                    got.push(Tokens::from_body(response.json().await.unwrap()));
                    logged_in.fetch_add(1, Ordering::Relaxed);
                }
            }
            got
        }));
    }
    // Let every racer log in once, so that they are in full swing (some
    // mid-login) when the change lands, however slow the machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while logged_in.load(Ordering::Relaxed) < RACERS {
        assert!(std::time::Instant::now() < deadline, "the racers could not log in");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    change.await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for racer in racers {
        all.extend(racer.await.unwrap());
    }
    all
}

/// Whether any of `tokens` still works: its access token at `/auth/me`, or
/// its refresh token.
async fn survivors(app: &TestApp, tokens: &[Tokens]) -> usize {
    let mut alive = 0;
    for t in tokens {
        let me = app.get_bearer("/auth/me", &t.access_token).await.status() == StatusCode::OK;
        let refreshed = app.refresh(&t.refresh_token).await.status() == StatusCode::OK;
        if me || refreshed {
            alive += 1;
        }
    }
    alive
}

engine_test!(
    async fn logins_racing_a_password_change_never_outlive_it(engine) {
        let app = TestApp::spawn(engine).await;
        let mut surviving = Vec::new();
        for trial in 0..TRIALS {
            let name = format!("racer{trial}");
            app.create_user(&name).await;
            let own = app.login(&name).await;
            let change = async {
                let changed = app
                    .call(Method::POST, "/auth/password", &own.access_token,
                        Some(json!({"current_password": PASSWORD, "new_password": "N3w-pass-word!"})))
                    .await;
                assert_eq!(changed.status(), StatusCode::OK);
            };
            let tokens = logins_racing(&app, &name, PASSWORD, change).await;
            assert!(!tokens.is_empty(), "the racers logged in before the change");
            surviving.push(survivors(&app, &tokens).await);
        }
        eprintln!("sessions that outlived the password change, per trial: {surviving:?}");
        assert!(surviving.iter().all(|n| *n == 0), "{surviving:?}");
    }
);

engine_test!(
    async fn logins_racing_a_disable_never_outlive_it(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let introspector = introspection_client(&app).await;
        let mut surviving = Vec::new();
        for trial in 0..TRIALS {
            let name = format!("racer{trial}");
            let id = app.create_user(&name).await["id"].as_str().unwrap().to_owned();
            let change = async {
                let disabled = app
                    .call(Method::PATCH, &format!("/admin/users/{id}"), &admin, Some(json!({"disabled": true})))
                    .await;
                assert_eq!(disabled.status(), StatusCode::OK);
            };
            let tokens = logins_racing(&app, &name, PASSWORD, change).await;
            assert!(!tokens.is_empty(), "the racers logged in before the disable");
            let mut alive = survivors(&app, &tokens).await;
            for t in &tokens {
                let body = json(
                    app.client.post(app.url("/auth/introspect")).basic_auth("reports", Some(&introspector))
                        .form(&[("token", t.access_token.as_str())]).send().await.unwrap(),
                )
                .await;
                if body["active"] == true {
                    alive += 1;
                }
            }
            surviving.push(alive);
        }
        eprintln!("sessions that outlived the disable, per trial: {surviving:?}");
        assert!(surviving.iter().all(|n| *n == 0), "{surviving:?}");
    }
);

engine_test!(
    async fn logins_racing_a_demotion_never_keep_the_old_roles(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let mut kept_admin = Vec::new();
        for trial in 0..TRIALS {
            let name = format!("racer{trial}");
            let id = app.create_user(&name).await["id"].as_str().unwrap().to_owned();
            let promoted = app
                .call(Method::PUT, &format!("/admin/users/{id}/roles"), &admin, Some(json!({"roles": ["Admin"]})))
                .await;
            assert_eq!(promoted.status(), StatusCode::OK);
            let change = async {
                let demoted = app
                    .call(Method::PUT, &format!("/admin/users/{id}/roles"), &admin, Some(json!({"roles": ["User"]})))
                    .await;
                assert_eq!(demoted.status(), StatusCode::OK);
            };
            let tokens = logins_racing(&app, &name, PASSWORD, change).await;
            let mut kept = 0;
            for t in &tokens {
                let admin_api = app.get_bearer("/admin/users", &t.access_token).await.status();
                let refreshed = app.refresh(&t.refresh_token).await;
                let refreshed_as_admin = refreshed.status() == StatusCode::OK && {
                    let body = json(refreshed).await;
                    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(
                        body["access_token"].as_str().unwrap(),
                    )
                    .unwrap()
                    .claims;
                    claims["roles"].to_string().contains("Admin")
                };
                if admin_api == StatusCode::OK || refreshed_as_admin {
                    kept += 1;
                }
            }
            kept_admin.push(kept);
        }
        eprintln!("sessions that kept Admin after the demotion, per trial: {kept_admin:?}");
        assert!(kept_admin.iter().all(|n| *n == 0), "{kept_admin:?}");
    }
);

engine_test!(
    async fn a_browser_sign_in_in_the_same_second_as_a_password_change_does_not_survive_it(engine) {
        // The test clock stands still: everything below happens in one second.
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();
        let signed_in = app.browser_login(&browser, &app.authorize_url(&[]), "alice").await;
        assert_eq!(signed_in.status(), StatusCode::FOUND, "signed in, with a code");

        let tokens = app.login("alice").await;
        let changed = app
            .call(Method::POST, "/auth/password", &tokens.access_token,
                Some(json!({"current_password": PASSWORD, "new_password": "N3w-pass-word!"})))
            .await;
        assert_eq!(changed.status(), StatusCode::OK);

        // The browser's sign-in ended with the change: the login page again.
        let again = browser.get(app.authorize_url(&[])).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK, "asked to sign in again");
        let silent = browser.get(app.authorize_url(&[("prompt", "none")])).send().await.unwrap();
        assert_eq!(location_params(&silent).1.get("error").map(String::as_str), Some("login_required"));
    }
);

engine_test!(
    async fn a_password_set_disable_or_role_change_ends_browser_sign_ins(engine) {
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        app.create_spa(true).await;
        for name in ["pwuser", "roles", "off"] {
            let id = app.create_user(name).await["id"].as_str().unwrap().to_owned();
            let browser = app.browser();
            let signed_in = app.browser_login(&browser, &app.authorize_url(&[]), name).await;
            assert_eq!(signed_in.status(), StatusCode::FOUND);
            match name {
                "pwuser" => idp_server::service::users::set_password(
                    &app.state,
                    &idp_server::service::admin::Actor::cli(),
                    id.parse().unwrap(),
                    idp_core::SecretString::from("Other-pass-123!"),
                )
                .await
                .unwrap(),
                "roles" => {
                    let response = app.call(Method::PUT, &format!("/admin/users/{id}/roles"), &admin, Some(json!({"roles": []}))).await;
                    assert_eq!(response.status(), StatusCode::OK);
                }
                _ => {
                    let response = app.call(Method::PATCH, &format!("/admin/users/{id}"), &admin, Some(json!({"disabled": true}))).await;
                    assert_eq!(response.status(), StatusCode::OK);
                }
            }
            let silent = browser.get(app.authorize_url(&[("prompt", "none")])).send().await.unwrap();
            assert_eq!(location_params(&silent).1.get("error").map(String::as_str), Some("login_required"), "{name}");
        }
    }
);

/// A confidential client `reports` that may introspect; returns its secret.
async fn introspection_client(app: &TestApp) -> String {
    use idp_core::client::{ClientType, GrantType};
    app.create_client(idp_server::service::clients::ClientSpec {
        id: Some("reports".into()),
        name: "Reports backend".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        scopes: vec![],
        first_party: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
    })
    .await
    .unwrap()
}
