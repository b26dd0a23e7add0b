//! Mail (SPEC §5.1): password reset by a link sent over real SMTP, through
//! the outbox.

use std::time::{Duration, Instant};

#[allow(unused_imports)]
use crate::helpers::*;
use crate::smtp::{Mail, SmtpServer};
use idp_store::repo::outbox;
use reqwest::StatusCode;
use serde_json::json as j;

const NEW_PASSWORD: &str = "N3w-secret-pass!";

async fn mail_app(engine: Engine, smtp: &SmtpServer) -> TestApp {
    TestApp::builder(engine).setting("SMTP_URL", smtp.url()).spawn().await
}

impl TestApp {
    async fn forgot(&self, email: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/password/forgot"))
            .json(&j!({ "email": email }))
            .send()
            .await
            .unwrap()
    }

    async fn reset(&self, token: &str, new_password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/password/reset"))
            .json(&j!({ "token": token, "new_password": new_password }))
            .send()
            .await
            .unwrap()
    }

    /// Waits until every outbox job has finished (sent, or given up).
    async fn outbox_drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while outbox::pending(self.state.db.read()).await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "the outbox did not drain");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn audit_events(&self, event: &str) -> Vec<serde_json::Value> {
        let admin = self.admin_token().await;
        let page = json(
            self.call(reqwest::Method::GET, &format!("/admin/audit?event={event}"), &admin, None)
                .await,
        )
        .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

const RESET_SUBJECT: &str = "Reset your password";

impl SmtpServer {
    /// The reset mails received so far (registration sends a verification
    /// mail too).
    fn reset_mails(&self) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.subject == RESET_SUBJECT).collect()
    }

    /// Waits until `n` reset mails have arrived.
    async fn resets(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.reset_mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(Instant::now() < deadline, "{} reset mail(s), expected {n}", mails.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn reset_link(mail: &Mail, app: &TestApp) -> String {
    mail.link(&app.url("/auth/password/reset?token="))
}

engine_test!(
    async fn a_forgotten_password_is_reset_through_the_link_in_the_mail(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        let before = app.login("alice").await;

        let response = app.forgot("alice@example.com").await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let mails = smtp.resets(1).await;
        let mail = &mails[0];
        assert_eq!(mail.to, "alice@example.com");
        assert_eq!(mail.subject, "Reset your password");
        assert_eq!(mail.parts, ["text/plain", "text/html"]);
        let link = reset_link(mail, &app);
        assert!(mail.html.contains(&link.replace('&', "&amp;")), "{}", mail.html);
        let token = mail.token(&app.url("/auth/password/reset"));
        assert!(token.starts_with("pr_") && token.len() >= 40, "{token}");

        // Opening the link (twice, as a mail scanner and then the person
        // would) shows the form and uses nothing up.
        for _ in 0..2 {
            let page = app.client.get(&link).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let html = page.text().await.unwrap();
            assert!(html.contains("Choose a new password") && html.contains("alice"), "{html}");
        }

        assert_eq!(app.reset(&token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);

        // Every session ended: the old tokens are dead.
        assert_eq!(app.get_bearer("/auth/me", &before.access_token).await.status(), 401);
        let refreshed = app.refresh(&before.refresh_token).await;
        assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(refreshed).await["error"], "invalid_grant");
        // The new password works, the old one does not.
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), 400);
        assert_eq!(app.password_grant("alice", NEW_PASSWORD).await.status(), 200);

        // The link works once.
        let again = app.reset(&token, "An0ther-pass-word!").await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        assert_eq!(again.headers()["content-type"], "application/problem+json");
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);

        app.outbox_drained().await;
        let requested = app.audit_events("user.password_reset_requested").await;
        assert_eq!(requested.len(), 1, "{requested:?}");
        assert_eq!(requested[0]["outcome"], "success");
        let done = app.audit_events("user.password_reset").await;
        assert_eq!(done.len(), 1);
        assert_eq!(done[0]["details"]["sessions_ended"], 1);
        // Nothing in the outbox still holds the link.
        let jobs = outbox::list_status(app.state.db.read()).await.unwrap();
        assert!(jobs.iter().all(|j| j.sent), "{jobs:?}");
    }
);

engine_test!(
    async fn known_unknown_and_disabled_addresses_get_the_same_answer_and_one_mail(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        let carol = app.create_user("carol").await;
        let admin = app.admin_token().await;
        let disabled = app
            .call(
                reqwest::Method::PATCH,
                &format!("/admin/users/{}", carol["id"].as_str().unwrap()),
                &admin,
                Some(j!({ "disabled": true })),
            )
            .await;
        assert_eq!(disabled.status(), 200);

        let mut answers = Vec::new();
        for email in ["alice@example.com", "nobody@example.com", "carol@example.com", "ALICE@example.com"] {
            let response = app.forgot(email).await;
            answers.push((response.status(), response.text().await.unwrap()));
        }
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        assert_eq!(answers[0].0, StatusCode::ACCEPTED);

        app.outbox_drained().await;
        let mails = smtp.reset_mails();
        assert_eq!(mails.len(), 2, "{mails:?}");
        assert!(mails.iter().all(|m| m.to == "alice@example.com"));
    }
);

engine_test!(
    async fn the_link_is_built_from_the_issuer_whatever_the_host_header_says(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        let response = app
            .client
            .post(app.url("/auth/password/forgot"))
            .header("Host", "evil.example")
            .header("X-Forwarded-Host", "evil.example")
            .header("Forwarded", "host=evil.example")
            .json(&j!({ "email": "alice@example.com" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let mail = &smtp.resets(1).await[0];
        assert!(!mail.text.contains("evil") && !mail.html.contains("evil"), "{}", mail.text);
        assert!(reset_link(mail, &app).starts_with(&app.base_url));
    }
);

engine_test!(
    async fn an_expired_link_fails_and_a_password_change_retires_it(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;

        app.forgot("alice@example.com").await;
        let token = smtp.resets(1).await[0].token(&app.url("/auth/password/reset"));
        app.clock.advance(Duration::from_secs(31 * 60));
        assert_eq!(app.reset(&token, NEW_PASSWORD).await.status(), StatusCode::BAD_REQUEST);

        // A fresh link dies when the password changes by other means.
        app.forgot("alice@example.com").await;
        let token = smtp.resets(2).await[1].token(&app.url("/auth/password/reset"));
        let tokens = app.login("alice").await;
        let changed = app
            .client
            .post(app.url("/auth/password"))
            .bearer_auth(&tokens.access_token)
            .json(&j!({ "current_password": PASSWORD, "new_password": "Ch4nged-password!" }))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
        assert_eq!(app.reset(&token, NEW_PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.password_grant("alice", "Ch4nged-password!").await.status(), 200);
    }
);

engine_test!(
    async fn the_sixth_request_within_the_hour_sends_no_sixth_mail(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        for _ in 0..6 {
            assert_eq!(app.forgot("alice@example.com").await.status(), StatusCode::ACCEPTED);
        }
        app.outbox_drained().await;
        assert_eq!(smtp.reset_mails().len(), 5);
        let throttled = app.audit_events("user.password_reset_requested").await;
        assert_eq!(throttled.iter().filter(|e| e["outcome"] == "failure").count(), 1);

        // An hour later the address may get mail again.
        app.clock.advance(Duration::from_secs(3_601));
        app.forgot("alice@example.com").await;
        smtp.resets(6).await;
    }
);

engine_test!(
    async fn a_reset_requested_while_smtp_is_down_arrives_when_it_is_back(engine) {
        let mut smtp = SmtpServer::stopped(SmtpServer::free_port());
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;

        assert_eq!(app.forgot("alice@example.com").await.status(), StatusCode::ACCEPTED);
        // The sender tries, fails, and schedules a retry.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let jobs = outbox::list_status(app.state.db.read()).await.unwrap();
            // Both mails (registration's verification, and the reset).
            let failed_once =
                jobs.iter().filter(|j| j.kind == "mail" && j.attempts >= 1 && j.last_error.is_some());
            if failed_once.count() >= 2 {
                assert!(jobs.iter().all(|j| !j.failed), "{jobs:?}");
                break;
            }
            assert!(Instant::now() < deadline, "no failed attempt recorded: {jobs:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        smtp.run().await;
        // The retry comes due (the backoff runs on the server's clock).
        app.clock.advance(Duration::from_secs(60));
        let mail = &smtp.resets(1).await[0];
        assert_eq!(mail.to, "alice@example.com");
        let token = mail.token(&app.url("/auth/password/reset"));
        assert_eq!(app.reset(&token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);
        app.outbox_drained().await;
        assert_eq!(smtp.reset_mails().len(), 1);

        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains(r#"idp_mail_sent_total{kind="password_reset",result="sent"} 1"#),
            "{metrics}"
        );
        assert!(metrics.contains(r#"idp_mail_sent_total{kind="password_reset",result="retry"}"#));
        assert!(metrics.contains("idp_outbox_depth"));
    }
);

engine_test!(
    async fn a_reset_clears_the_lockout(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        for _ in 0..5 {
            app.password_grant("alice", "wrong-password").await;
        }
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), 429);
        app.forgot("alice@example.com").await;
        let token = smtp.resets(1).await[0].token(&app.url("/auth/password/reset"));
        assert_eq!(app.reset(&token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.password_grant("alice", NEW_PASSWORD).await.status(), 200);
    }
);

engine_test!(
    async fn the_pages_reset_a_password_in_a_browser(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        app.create_spa(true).await;
        let browser = app.browser();

        // The login page offers the way.
        let login = browser.get(app.authorize_url(&[])).send().await.unwrap();
        let html = login.text().await.unwrap();
        assert!(html.contains("href=\"/auth/password/forgot\""), "{html}");

        let page = browser.get(app.url("/auth/password/forgot")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let mut form: Vec<(String, String)> = hidden_fields(&html);
        form.push(("email".into(), "alice@example.com".into()));
        let sent = browser.post(app.url("/auth/password/forgot")).form(&form).send().await.unwrap();
        assert_eq!(sent.status(), 200);
        assert!(sent.text().await.unwrap().contains("Check your inbox"));

        let link = reset_link(&smtp.resets(1).await[0], &app);
        let page = browser.get(&link).send().await.unwrap();
        let html = page.text().await.unwrap();
        let mut form = hidden_fields(&html);
        assert!(form.iter().any(|(k, _)| k == "token"));

        // A weak password is refused on the page, naming the field.
        let mut weak = form.clone();
        weak.push(("new_password".into(), "short".into()));
        let refused = browser.post(app.url("/auth/password/reset")).form(&weak).send().await.unwrap();
        assert_eq!(refused.status(), 422);
        let html = refused.text().await.unwrap();
        assert!(html.contains("id=\"password-error\""), "{html}");

        // Without the CSRF token the form is refused.
        let forged: Vec<_> = form.iter().filter(|(k, _)| k != "csrf_token").cloned().collect();
        let mut forged = forged;
        forged.push(("csrf_token".into(), "forged".into()));
        forged.push(("new_password".into(), NEW_PASSWORD.into()));
        let refused = browser.post(app.url("/auth/password/reset")).form(&forged).send().await.unwrap();
        assert_eq!(refused.status(), 403);

        form.push(("new_password".into(), NEW_PASSWORD.into()));
        let done = browser.post(app.url("/auth/password/reset")).form(&form).send().await.unwrap();
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("Password changed"));
        assert_eq!(app.password_grant("alice", NEW_PASSWORD).await.status(), 200);
    }
);

engine_test!(
    async fn an_administrator_sends_a_reset_link(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        let alice = app.create_user("alice").await;
        let admin = app.admin_token().await;
        let path = format!("/admin/users/{}/password-reset", alice["id"].as_str().unwrap());
        let response = app.call(reqwest::Method::POST, &path, &admin, None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let mail = &smtp.resets(1).await[0];
        assert_eq!(mail.to, "alice@example.com");
        // Not for a plain user.
        let user = app.login("alice").await;
        let response = app.call(reqwest::Method::POST, &path, &user.access_token, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // An unknown user is 404.
        let response = app
            .call(
                reqwest::Method::POST,
                "/admin/users/00000000-0000-7000-8000-00000000abcd/password-reset",
                &admin,
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
);

engine_test!(
    async fn with_mail_off_the_mail_endpoints_say_so(engine) {
        let app = TestApp::spawn(engine).await;
        let alice = app.create_user("alice").await;
        let response = app.forgot("alice@example.com").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert!(json(response).await["detail"].as_str().unwrap().contains("SMTP_URL"));

        let page = app.get("/auth/password/forgot").await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));

        let admin = app.admin_token().await;
        let path = format!("/admin/users/{}/password-reset", alice["id"].as_str().unwrap());
        let response = app.call(reqwest::Method::POST, &path, &admin, None).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

        app.create_spa(true).await;
        let login = app.browser().get(app.authorize_url(&[])).send().await.unwrap();
        let html = login.text().await.unwrap();
        assert!(html.contains("Sign in") && !html.contains("/auth/password/forgot"), "{html}");
    }
);

engine_test!(
    async fn bad_input_to_the_mail_endpoints_gets_a_clear_4xx(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        let long = format!("{}@example.com", "a".repeat(10_000));
        for email in [long.as_str(), "not-an-address", "a@b\r\nBcc: x@evil.example", "", "x@@y"] {
            let response = app.forgot(email).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email:?}");
        }
        let wrong_type = app
            .client
            .post(app.url("/auth/password/forgot"))
            .json(&j!({ "email": 5 }))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = app
            .client
            .post(app.url("/auth/password/forgot"))
            .header("content-type", "text/plain")
            .body("email=a@b.c")
            .send()
            .await
            .unwrap();
        assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // A form, like JSON, holds only the fields of the schema.
        let extra = app.post_form("/auth/password/forgot", &[("email", "a@b.example"), ("admin", "1")]).await;
        assert_eq!(extra.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(extra.headers()["content-type"], "application/problem+json");
        for token in ["", "garbage", "pr_", &"x".repeat(10_000), "pr_\u{0}"] {
            let response = app.reset(token, NEW_PASSWORD).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{token:?}");
        }
        let page = app.get("/auth/password/reset?token=%00%ff").await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        app.outbox_drained().await;
        assert!(smtp.reset_mails().is_empty());
    }
);

/// The claims of a JWT, unverified (the tests trust their own server).
fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap(),
    )
    .unwrap()
}

impl TestApp {
    async fn verify_email(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/email/verify"))
            .json(&j!({ "token": token }))
            .send()
            .await
            .unwrap()
    }

    async fn me(&self, token: &str) -> serde_json::Value {
        json(self.get_bearer("/auth/me", token).await).await
    }
}

engine_test!(
    async fn registration_sends_a_link_that_verifies_the_address(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        let mail = &smtp.wait_for(1).await[0];
        assert_eq!(mail.to, "alice@example.com");
        assert_eq!(mail.subject, "Confirm your email address");
        let link = mail.link(&app.url("/auth/email/verify?token="));
        let token = mail.token(&app.url("/auth/email/verify"));
        assert!(token.starts_with("ev_"), "{token}");

        let tokens = app.login("alice").await;
        assert_eq!(app.me(&tokens.access_token).await["email_verified"], false);

        // The link's page shows a button and uses nothing.
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Confirm my address"));

        assert_eq!(app.verify_email(&token).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.verify_email(&token).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.me(&tokens.access_token).await["email_verified"], true);
        let userinfo = json(app.get_bearer("/auth/userinfo", &tokens.access_token).await).await;
        assert_eq!(userinfo["email_verified"], true, "{userinfo}");
        let fresh = app.login("alice").await;
        let id_token = fresh.id_token.expect("an ID token");
        assert_eq!(claims(&id_token)["email_verified"], true);
        assert_eq!(app.audit_events("user.email_verified").await.len(), 1);
    }
);

engine_test!(
    async fn a_new_verification_link_needs_a_bearer_and_none_is_sent_once_verified(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        smtp.wait_for(1).await;
        let anonymous = app.client.post(app.url("/auth/email/verification")).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        let tokens = app.login("alice").await;
        let again = app.call(reqwest::Method::POST, "/auth/email/verification", &tokens.access_token, None).await;
        assert_eq!(again.status(), StatusCode::ACCEPTED);
        let token = smtp.wait_for(2).await[1].token(&app.url("/auth/email/verify"));
        assert_eq!(app.verify_email(&token).await.status(), StatusCode::NO_CONTENT);
        let done = app.call(reqwest::Method::POST, "/auth/email/verification", &tokens.access_token, None).await;
        assert_eq!(done.status(), StatusCode::CONFLICT);
    }
);

engine_test!(
    async fn an_address_changes_only_when_the_link_sent_to_it_is_followed(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        app.create_user("bob").await;
        smtp.wait_for(2).await;
        let tokens = app.login("alice").await;
        let change = |email: &'static str, password: &'static str| {
            let app = &app;
            let token = tokens.access_token.clone();
            async move {
                app.call(
                    reqwest::Method::POST,
                    "/auth/email/change",
                    &token,
                    Some(j!({ "new_email": email, "password": password })),
                )
                .await
            }
        };
        assert_eq!(change("alice@new.example", "wrong-password").await.status(), 400);
        assert_eq!(change("bob@example.com", PASSWORD).await.status(), StatusCode::CONFLICT);
        assert_eq!(change("not an address", PASSWORD).await.status(), 422);
        assert_eq!(change("alice@new.example", PASSWORD).await.status(), StatusCode::ACCEPTED);

        let mails = smtp.wait_for(4).await;
        let link = mails.iter().find(|m| m.to == "alice@new.example").expect("a link to the new address");
        assert_eq!(link.subject, "Confirm your new email address");
        let notice = mails.iter().find(|m| m.to == "alice@example.com" && m.subject.contains("being changed"));
        let notice = notice.expect("a notice to the old address");
        assert!(notice.text.contains("alice@new.example") && !notice.text.contains("token="));

        // Nothing changes until the link is followed.
        assert_eq!(app.me(&tokens.access_token).await["email"], "alice@example.com");
        let token = link.token(&app.url("/auth/email/verify"));
        assert!(token.starts_with("ec_"));
        assert_eq!(app.verify_email(&token).await.status(), StatusCode::NO_CONTENT);
        let me = app.me(&tokens.access_token).await;
        assert_eq!(me["email"], "alice@new.example");
        assert_eq!(me["email_verified"], true);
        assert_eq!(app.password_grant("alice@new.example", PASSWORD).await.status(), 200);
        assert_eq!(app.password_grant("alice@example.com", PASSWORD).await.status(), 400);
        let changed = app.audit_events("user.email_changed").await;
        assert_eq!(changed[0]["details"]["from"], "alice@example.com");
        // The old address's verification link no longer verifies anything.
        let old = smtp.mails()[0].token(&app.url("/auth/email/verify"));
        assert_eq!(app.verify_email(&old).await.status(), StatusCode::BAD_REQUEST);
    }
);

engine_test!(
    async fn require_verified_email_refuses_an_unverified_user_after_the_right_password(engine) {
        let smtp = SmtpServer::start().await;
        let app = TestApp::builder(engine)
            .setting("SMTP_URL", smtp.url())
            .setting("REQUIRE_VERIFIED_EMAIL", "true")
            .spawn()
            .await;
        app.create_user("alice").await;
        smtp.wait_for(1).await;

        let wrong = json(app.password_grant("alice", "wrong-password").await).await;
        assert!(!wrong["error_description"].as_str().unwrap().contains("verified"), "{wrong}");
        let refused = app.password_grant("alice", PASSWORD).await;
        assert_eq!(refused.status(), 400);
        let body = json(refused).await;
        assert_eq!(body["error"], "invalid_grant");
        assert!(body["error_description"].as_str().unwrap().contains("not verified"), "{body}");

        // The login page says so and offers a new link.
        app.create_spa(true).await;
        let browser = app.browser();
        let page = browser.get(app.authorize_url(&[])).send().await.unwrap().text().await.unwrap();
        let mut form = hidden_fields(&page);
        form.push(("username".into(), "alice".into()));
        form.push(("password".into(), PASSWORD.into()));
        let refused = browser.post(app.url("/auth/authorize")).form(&form).send().await.unwrap();
        assert_eq!(refused.status(), 403);
        let html = refused.text().await.unwrap();
        assert!(html.contains("not verified yet"), "{html}");
        let start = html.find("/auth/email/verification/resend").unwrap();
        let end = start + html[start..].find("</form>").unwrap();
        let resend_form = hidden_fields(&html[start..end]);
        let sent = browser
            .post(app.url("/auth/email/verification/resend"))
            .form(&resend_form)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        // The form's token is bound to this browser and this user.
        let stranger = app
            .browser()
            .post(app.url("/auth/email/verification/resend"))
            .form(&resend_form)
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), 403);

        let token = smtp.wait_for(2).await[1].token(&app.url("/auth/email/verify"));
        assert_eq!(app.verify_email(&token).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), 200);
    }
);

engine_test!(
    async fn two_nodes_on_one_database_send_each_mail_once(engine) {
        let smtp = SmtpServer::start().await;
        let db = TestDb::create(engine).await;
        let one = TestApp::builder(engine).database(&db).setting("SMTP_URL", smtp.url()).spawn().await;
        let two = TestApp::builder(engine).database(&db).setting("SMTP_URL", smtp.url()).spawn().await;
        let users = 6;
        for i in 0..users {
            one.create_user(&format!("user{i}")).await;
        }
        // Each address asks twice, once through each node.
        for i in 0..users {
            for node in [&one, &two] {
                let email = format!("user{i}@example.com");
                assert_eq!(node.forgot(&email).await.status(), StatusCode::ACCEPTED);
            }
        }
        let expected = users * 3; // a verification and two resets each
        smtp.wait_for(expected).await;
        one.outbox_drained().await;
        two.outbox_drained().await;
        // Both senders ran; give a duplicate time to show up.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mails = smtp.mails();
        assert_eq!(mails.len(), expected, "{:?}", mails.iter().map(|m| (&m.to, &m.subject)).collect::<Vec<_>>());
        let mut links: Vec<String> = mails.iter().map(|m| m.text.clone()).collect();
        links.sort();
        links.dedup();
        assert_eq!(links.len(), expected, "a mail went out twice");
    }
);

engine_test!(
    async fn sent_mails_and_old_links_are_swept(engine) {
        let smtp = SmtpServer::start().await;
        let app = mail_app(engine, &smtp).await;
        app.create_user("alice").await;
        app.forgot("alice@example.com").await;
        smtp.resets(1).await;
        app.outbox_drained().await;
        let jobs = outbox::list_status(app.state.db.read()).await.unwrap();
        assert_eq!(jobs.len(), 3, "{jobs:?}"); // verification mail, reset request, reset mail

        // Kept while they may matter (an admin looking into a mail, the
        // hourly limit counting links)...
        let swept = idp_server::service::retention::sweep(&app.state).await.unwrap().unwrap();
        assert_eq!((swept.outbox, swept.email_tokens), (0, 0));
        // ...and gone once they cannot.
        app.clock.advance(Duration::from_secs(8 * 86_400));
        let swept = idp_server::service::retention::sweep(&app.state).await.unwrap().unwrap();
        assert_eq!((swept.outbox, swept.email_tokens), (3, 2));
        assert!(outbox::list_status(app.state.db.read()).await.unwrap().is_empty());
    }
);
