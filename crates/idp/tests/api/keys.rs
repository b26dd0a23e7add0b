//! Signing keys from PRIVATE_KEY_PATH, generated keys, and rotation.

#[allow(unused_imports)]
use crate::helpers::*;

use reqwest::StatusCode;

fn openssl(args: &[&str], dir: &std::path::Path) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

engine_test!(
    async fn a_pem_key_file_signs_and_its_public_half_is_checked(engine) {
        let dir = tempfile::tempdir().unwrap();
        openssl(&["genrsa", "-out", "private.pem", "2048"], dir.path());
        openssl(&["rsa", "-in", "private.pem", "-pubout", "-out", "public.pem"], dir.path());
        let private = dir.path().join("private.pem").display().to_string();
        let public = dir.path().join("public.pem").display().to_string();

        let app = TestApp::builder(engine)
            .setting("PRIVATE_KEY_PATH", private.clone())
            .setting("PUBLIC_KEY_PATH", public)
            .spawn()
            .await;
        app.create_user("alice").await;
        let token = app.login("alice").await.access_token;
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        let jwks = json(app.get("/.well-known/jwks.json").await).await;
        assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
        assert_eq!(jwks["keys"][0]["alg"], "RS256");
        assert_eq!(app.get_bearer("/auth/me", &token).await.status(), StatusCode::OK);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_public_key_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    openssl(&["genrsa", "-out", "a.pem", "2048"], dir.path());
    openssl(&["genrsa", "-out", "b.pem", "2048"], dir.path());
    openssl(&["rsa", "-in", "b.pem", "-pubout", "-out", "b.pub.pem"], dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp"))
        .current_dir(dir.path())
        .env_clear()
        .env("PRIVATE_KEY_PATH", "a.pem")
        .env("PUBLIC_KEY_PATH", "b.pub.pem")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("PUBLIC_KEY_PATH"), "{stderr}");
    assert!(!stderr.contains("PRIVATE KEY"), "no key material in errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_publishes_a_new_key_before_it_signs() {
    let dir = tempfile::tempdir().unwrap();
    let idp = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp"))
            .current_dir(dir.path())
            .env_clear()
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    idp(&["migrate", "up"]);
    assert!(idp(&["keys", "list"]).contains("No signing keys yet"));
    let rotated = idp(&["keys", "rotate"]);
    assert!(rotated.contains("signs in 10 minutes"), "{rotated}");
    let list = idp(&["keys", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    let now = idp(&["keys", "rotate", "--now"]);
    assert!(now.contains("signs from now on"), "{now}");
    let list = idp(&["keys", "list"]);
    assert_eq!(list.lines().filter(|l| l.contains("active")).count(), 1, "{list}");
    assert_eq!(list.lines().filter(|l| l.contains("retired")).count(), 1, "{list}");
}
