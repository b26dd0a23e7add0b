//! Signing keys from PRIVATE_KEY_PATH, generated keys, and rotation.

#[allow(unused_imports)]
use crate::helpers::*;

use idp_core::token::{ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use idp_server::service::keys::{KeyRing, KeySource};
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

/// Another node on the same database: its own key ring, which rotates
/// while this app's ring has not re-read the table.
async fn other_node_rotates(app: &TestApp) -> std::sync::Arc<KeyRing> {
    let source =
        KeySource::new(&app.state.settings, app.state.db.clone(), app.state.clock.clone()).unwrap();
    let ring = KeyRing::start(source).await.unwrap();
    ring.rotate(true, "test").await.unwrap();
    ring
}

/// The same claims, signed with the other node's current key.
fn resigned(ring: &KeyRing, typ: &str, token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap(),
    )
    .unwrap();
    let signed = ring.current().signer().sign_jwt(typ, &claims).unwrap();
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_ne!(kid(&signed), kid(token), "signed with a key the app has not seen");
    signed
}

engine_test!(
    async fn tokens_signed_with_a_key_rotated_on_another_node_count_at_once_everywhere(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let tokens = app.login("alice").await;
        // The unknown-kid re-read is throttled to once a second (by the
        // app's clock), so each check below gets a key of its own and moves
        // the clock past the throttle.
        let throttle = idp_server::service::keys::UNKNOWN_KID_REFRESH;

        // Revocation: an access token signed with the new key is revoked
        // (not ignored with a 200), so its jti is refused from then on.
        let other = other_node_rotates(&app).await;
        let access = resigned(&other, ACCESS_TOKEN_TYP, &tokens.access_token);
        let revoked = app.post_form("/auth/revoke", &[("token", &access)]).await;
        assert_eq!(revoked.status(), StatusCode::OK);
        assert_eq!(
            app.get_bearer("/auth/me", &tokens.access_token).await.status(),
            StatusCode::UNAUTHORIZED,
            "the revocation took effect"
        );

        // Logout: an id_token_hint signed with a newer key names the session
        // to end.
        app.clock.advance(throttle);
        other.rotate(true, "test").await.unwrap();
        let fresh = app.login("alice").await;
        let hint = resigned(&other, ID_TOKEN_TYP, fresh.id_token.as_deref().expect("id_token"));
        let out = app.get(&format!("/auth/logout?id_token_hint={hint}")).await;
        assert_eq!(out.status(), StatusCode::OK, "{}", out.text().await.unwrap());
        assert_eq!(json(app.refresh(&fresh.refresh_token).await).await["error"], "invalid_grant");

        // Bearer: userinfo accepts a token signed with a newer key.
        app.clock.advance(throttle);
        other.rotate(true, "test").await.unwrap();
        let latest = app.login("alice").await;
        let access = resigned(&other, ACCESS_TOKEN_TYP, &latest.access_token);
        assert_eq!(app.get_bearer("/auth/userinfo", &access).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn secret_key_is_rotated_with_secret_key_previous(engine) {
        const NEW: &str = "the-new-secret-key-0123456789abcdef-0123456789";
        let db = TestDb::create(engine).await;
        let first = TestApp::builder(engine).database(&db).spawn().await;
        first.create_user("alice").await;
        let tokens = first.login("alice").await;
        let kid = |jwt: &str| jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
        let signing_kid = kid(&tokens.access_token);
        first.stop().await;

        // The new key alone cannot open the stored keys, and says what to do.
        let refused = TestApp::builder(engine).database(&db).setting("SECRET_KEY", NEW).start_error().await;
        assert!(refused.contains("SECRET_KEY_PREVIOUS"), "{refused}");
        assert!(!refused.contains(NEW) && !refused.contains(TEST_SECRET_KEY), "no secret echoed: {refused}");

        // With the old one as SECRET_KEY_PREVIOUS: the keys open and are
        // sealed again under the new one; sessions carry on.
        let rotating = TestApp::builder(engine)
            .database(&db)
            .setting("SECRET_KEY", NEW)
            .setting("SECRET_KEY_PREVIOUS", TEST_SECRET_KEY)
            .spawn()
            .await;
        let refreshed = rotating.refresh(&tokens.refresh_token).await;
        assert_eq!(refreshed.status(), StatusCode::OK);
        let refreshed = Tokens::from_body(json(refreshed).await);
        assert_eq!(kid(&refreshed.access_token), signing_kid, "the same key signs");
        let admin = rotating.admin_token().await;
        let audit = json(rotating.call(reqwest::Method::GET, "/admin/audit?event=key.resealed", &admin, None).await).await;
        assert_eq!(audit["total"], 1, "{audit}");
        rotating.stop().await;

        // Afterwards the new key alone is enough, and the old one no longer.
        let done = TestApp::builder(engine).database(&db).setting("SECRET_KEY", NEW).spawn().await;
        let again = done.refresh(&refreshed.refresh_token).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(kid(json(again).await["access_token"].as_str().unwrap()), signing_kid);
        done.stop().await;
        let old = TestApp::builder(engine).database(&db).start_error().await;
        assert!(old.contains("cannot decrypt"), "{old}");
        // Nonsense is refused with one line naming the setting.
        let same = TestApp::builder(engine).database(&db).setting("SECRET_KEY", NEW).setting("SECRET_KEY_PREVIOUS", NEW).start_error().await;
        assert!(same.starts_with("SECRET_KEY_PREVIOUS:"), "{same}");
    }
);

engine_test!(
    async fn an_unknown_kid_rereads_the_keys_at_most_once_a_second_by_the_apps_clock(engine) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let app = TestApp::spawn(engine).await;
        let ring = app.state.keys.clone();
        // A check that never finds its key: each call of it is one look at
        // the key set, so two looks mean the keys were re-read in between.
        let looks = AtomicUsize::new(0);
        let check = |_: &idp_server::service::keys::KeySet| -> Result<(), idp_core::jose::VerifyError> {
            looks.fetch_add(1, Ordering::Relaxed);
            Err(idp_core::jose::VerifyError::UnknownKey)
        };
        let mut seen = Vec::new();
        for step in ["first", "same second", "after a second"] {
            if step == "after a second" {
                app.clock.advance(idp_server::service::keys::UNKNOWN_KID_REFRESH);
            }
            looks.store(0, Ordering::Relaxed);
            assert!(ring.verify(check).await.is_err());
            seen.push((step, looks.load(Ordering::Relaxed)));
        }
        assert_eq!(seen, [("first", 2), ("same second", 1), ("after a second", 2)]);
    }
);
