//! Secrets never reach a log: drive every flow against the real binary at
//! `RUST_LOG=trace` and search everything it wrote for the secrets involved.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
use crate::helpers::*;

const SECRET_KEY: &str = "hygiene-secret-key-0123456789abcdef-XYZ";
const PASSWORD: &str = "Hygiene-Pa55word!";
const WRONG_PASSWORD: &str = "Wrong-Pa55word-Guess";
const NEW_PASSWORD: &str = "Reset-Pa55word-New";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_token_or_key_material_appears_in_trace_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("idp.log");
    let smtp = crate::smtp::SmtpServer::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_idp"))
        .current_dir(dir.path())
        .env_clear()
        .env("RUST_LOG", "trace")
        .env("SECRET_KEY", SECRET_KEY)
        .env("ISSUER", &base)
        .env("SMTP_URL", smtp.url())
        .env("ARGON2_MEMORY_KIB", "1024")
        .env("ARGON2_ITERATIONS", "1")
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "idp did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every flow that handles a secret.
    let url = |p: &str| format!("{base}{p}");
    let registered = http
        .post(url("/auth/register"))
        .json(&serde_json::json!({"username": "hygiene", "email": "hygiene@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let wrong = http
        .post(url("/auth/token"))
        .form(&[("grant_type", "password"), ("username", "hygiene"), ("password", WRONG_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let multipart = reqwest::multipart::Form::new()
        .text("grant_type", "password")
        .text("username", "hygiene")
        .text("password", PASSWORD);
    let tokens: serde_json::Value = http
        .post(url("/auth/token"))
        .multipart(multipart)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    http.get(url("/auth/userinfo")).bearer_auth(&access).send().await.unwrap();
    http.post(url("/auth/me")).bearer_auth(&access).send().await.unwrap();
    let rotated: serde_json::Value = http
        .post(url("/auth/token/refresh"))
        .form(&[("refresh_token", refresh.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    let access2 = rotated["access_token"].as_str().unwrap().to_owned();
    // Reuse of the consumed token (logged as a security event).
    http.post(url("/auth/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    http.post(url("/auth/revoke")).form(&[("token", access2.as_str())]).send().await.unwrap();
    http.post(url("/auth/revoke"))
        .form(&[("refresh_token", refresh2.as_str())])
        .send()
        .await
        .unwrap();
    http.get(url("/auth/me")).bearer_auth("garbage.token.value").send().await.unwrap();

    // The links sent by mail: verification (registration sent one), and a
    // password reset, each opened (GET) and then used (POST).
    let verify_prefix = url("/auth/email/verify");
    let verification = smtp.wait_for(1).await[0].token(&verify_prefix);
    http.get(format!("{verify_prefix}?token={verification}")).send().await.unwrap();
    let verified = http
        .post(&verify_prefix)
        .json(&serde_json::json!({ "token": verification }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 204);
    let forgot = http
        .post(url("/auth/password/forgot"))
        .json(&serde_json::json!({ "email": "hygiene@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forgot.status(), 202);
    let reset_prefix = url("/auth/password/reset");
    let reset = smtp.wait_for(2).await[1].token(&reset_prefix);
    http.get(format!("{reset_prefix}?token={reset}")).send().await.unwrap();
    let done = http
        .post(&reset_prefix)
        .json(&serde_json::json!({ "token": reset, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();

    let logs = std::fs::read_to_string(&log_path).unwrap()
        + &std::fs::read_to_string(dir.path().join("stdout.log")).unwrap();
    assert!(logs.lines().count() > 50, "trace logging was on: {} lines", logs.lines().count());
    assert!(logs.contains("/auth/token"), "requests were logged");
    let jwt_signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    let mut secrets = vec![
        ("password", PASSWORD.to_owned()),
        ("wrong password", WRONG_PASSWORD.to_owned()),
        ("SECRET_KEY", SECRET_KEY.to_owned()),
        ("access token", access.clone()),
        ("access token signature", jwt_signature(&access)),
        ("ID token signature", jwt_signature(&id_token)),
        ("refresh token", refresh.clone()),
        ("rotated refresh token", refresh2.clone()),
        ("rotated access token", access2.clone()),
        ("key material", "PRIVATE KEY".to_owned()),
        ("new password", NEW_PASSWORD.to_owned()),
        ("password reset token", reset.clone()),
        ("email verification token", verification.clone()),
    ];
    // The random part of opaque tokens, in case a prefix-stripped form leaks.
    secrets.push(("refresh token body", refresh.trim_start_matches("rt_").to_owned()));
    secrets.push(("reset token body", reset.trim_start_matches("pr_").to_owned()));
    secrets.push(("verification token body", verification.trim_start_matches("ev_").to_owned()));
    for (what, secret) in secrets {
        assert!(!logs.contains(&secret), "the {what} appears in the logs");
    }
}
