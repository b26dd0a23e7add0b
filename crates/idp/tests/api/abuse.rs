//! Brute-force lockout, per-IP rate limits, security headers.

use std::time::Duration;

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

async fn assert_locked(response: reqwest::Response) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body = json(response).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["detail"].as_str().unwrap().starts_with("Too many failed login attempts"),
        "{body}"
    );
    retry_after
}

engine_test!(
    async fn five_failures_lock_the_login_name_whether_or_not_it_exists(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;

        for name in ["alice", "ghost"] {
            for attempt in 1..=5 {
                let response = app.password_grant(name, "wrong-password").await;
                assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name} attempt {attempt}");
            }
        }
        // Locked: even the right password is refused, and an unknown name
        // looks exactly the same.
        let alice = assert_locked(app.password_grant("alice", PASSWORD).await).await;
        let ghost = assert_locked(app.password_grant("ghost", PASSWORD).await).await;
        assert_eq!(alice, 60);
        assert_eq!(ghost, 60);
        // Case does not dodge the counter.
        assert_locked(app.password_grant("ALICE", PASSWORD).await).await;

        // After the lockout, the right password works and resets the counter.
        app.clock.advance(Duration::from_secs(61));
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), StatusCode::OK);
        for _ in 0..4 {
            app.password_grant("alice", "wrong-password").await;
        }
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn a_lockout_covers_every_name_of_the_user(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_user("bob").await;

        // Failures under the username lock the email address too, and the
        // email gives no fresh guesses of its own.
        for _ in 0..3 {
            app.password_grant("alice", "wrong-password").await;
        }
        for _ in 0..2 {
            app.password_grant("Alice@Example.com", "wrong-password").await;
        }
        assert_locked(app.password_grant("alice@example.com", PASSWORD).await).await;
        assert_locked(app.password_grant("alice", PASSWORD).await).await;
        // A self-service password change is a password check too.
        app.clock.advance(Duration::from_secs(61));
        let tokens = app.login("alice").await;
        for _ in 0..5 {
            let wrong = app
                .call(reqwest::Method::POST, "/auth/password", &tokens.access_token,
                    Some(serde_json::json!({"current_password": "not-it-at-all", "new_password": "N3w-pass-word!"})))
                .await;
            assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        }
        assert_locked(app.password_grant("alice@example.com", PASSWORD).await).await;

        // Bob is untouched, and names nobody has keep their own counters.
        assert_eq!(app.password_grant("bob@example.com", PASSWORD).await.status(), StatusCode::OK);
        for _ in 0..5 {
            app.password_grant("ghost@example.com", "wrong-password").await;
        }
        assert_locked(app.password_grant("ghost@example.com", PASSWORD).await).await;
        assert_eq!(app.password_grant("ghost", PASSWORD).await.status(), StatusCode::BAD_REQUEST);
    }
);

engine_test!(
    async fn repeated_lockouts_grow(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let mut waits = Vec::new();
        for _ in 0..3 {
            for _ in 0..5 {
                app.password_grant("alice", "wrong-password").await;
            }
            let wait = assert_locked(app.password_grant("alice", "wrong-password").await).await;
            waits.push(wait);
            app.clock.advance(Duration::from_secs(wait + 1));
        }
        assert_eq!(waits, [60, 120, 240]);
    }
);

engine_test!(
    async fn the_61st_request_in_a_minute_from_one_address_is_refused(engine) {
        let app = TestApp::builder(engine).setting("RATE_LIMIT_PER_MINUTE", "60").spawn().await;
        let other_ip = reqwest::Client::builder()
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();

        for _ in 0..60 {
            let response = app.post_form("/auth/token", &[("grant_type", "nothing")]).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        let limited = app.post_form("/auth/token", &[("grant_type", "nothing")]).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after));
        assert!(json(limited).await["detail"].as_str().unwrap().starts_with("Too many requests"));

        // Another address has its own budget.
        let other = other_ip.post(app.url("/auth/token")).form(&[("grant_type", "nothing")]).send().await.unwrap();
        assert_eq!(other.status(), StatusCode::BAD_REQUEST);

        // Registration has its own bucket and answers in problem+json.
        for _ in 0..60 {
            app.register("x", "bad", "short").await;
        }
        let limited = app.register("x", "bad", "short").await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()["content-type"], "application/problem+json");

        // The next window starts afresh.
        app.clock.advance(Duration::from_secs(60));
        assert_eq!(app.post_form("/auth/token", &[("grant_type", "nothing")]).await.status(), StatusCode::BAD_REQUEST);
    }
);

engine_test!(
    async fn forwarded_for_is_believed_only_from_trusted_proxies(engine) {
        let untrusting = TestApp::builder(engine).setting("RATE_LIMIT_PER_MINUTE", "2").spawn().await;
        for i in 0..3 {
            let response = untrusting
                .client
                .post(untrusting.url("/auth/token"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .form(&[("grant_type", "nothing")])
                .send()
                .await
                .unwrap();
            let expected = if i < 2 { StatusCode::BAD_REQUEST } else { StatusCode::TOO_MANY_REQUESTS };
            assert_eq!(response.status(), expected, "a spoofed header does not buy a new budget");
        }

        let behind_proxy = TestApp::builder(engine)
            .setting("RATE_LIMIT_PER_MINUTE", "2")
            .setting("TRUSTED_PROXIES", "127.0.0.1")
            .spawn()
            .await;
        for i in 0..3 {
            let response = behind_proxy
                .client
                .post(behind_proxy.url("/auth/token"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .form(&[("grant_type", "nothing")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "each client behind the proxy has its own budget");
        }
    }
);

engine_test!(
    async fn every_response_carries_the_security_headers(engine) {
        let app = TestApp::spawn(engine).await;
        for response in [
            app.get("/healthz").await,
            app.get("/nowhere").await,
            app.post_form("/auth/token", &[("grant_type", "password")]).await,
            app.get("/.well-known/jwks.json").await,
        ] {
            let h = response.headers();
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert_eq!(h["x-frame-options"], "DENY");
            assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
            assert!(!h.contains_key("strict-transport-security"), "no HSTS over plain http");
        }
        let https = TestApp::builder(engine).setting("ISSUER", "https://id.example.com").spawn().await;
        assert_eq!(https.get("/healthz").await.headers()["strict-transport-security"], "max-age=31536000");
    }
);
