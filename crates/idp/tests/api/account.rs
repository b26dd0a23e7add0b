//! Self-service: password change and sessions.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

engine_test!(
    async fn a_password_change_ends_every_session_of_the_user(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let laptop = app.login("alice").await;
        let phone = app.login("alice").await;

        let wrong = app
            .call(Method::POST, "/auth/password", &laptop.access_token,
                Some(json!({"current_password": "not-it-at-all", "new_password": "N3w-pass-word!"})))
            .await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        let weak = app
            .call(Method::POST, "/auth/password", &laptop.access_token,
                Some(json!({"current_password": PASSWORD, "new_password": "alice"})))
            .await;
        assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let changed = app
            .call(Method::POST, "/auth/password", &laptop.access_token,
                Some(json!({"current_password": PASSWORD, "new_password": "N3w-pass-word!"})))
            .await;
        assert_eq!(changed.status(), StatusCode::OK);

        // Both devices are signed out: access and refresh tokens alike.
        for device in [&laptop, &phone] {
            assert_eq!(app.get_bearer("/auth/me", &device.access_token).await.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(json(app.refresh(&device.refresh_token).await).await["error"], "invalid_grant");
        }
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), StatusCode::BAD_REQUEST);
        let fresh = app.password_grant("alice", "N3w-pass-word!").await;
        assert_eq!(fresh.status(), StatusCode::OK);
        // A token issued right after the change works.
        let token = json(fresh).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(app.get_bearer("/auth/me", &token).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn users_list_and_end_only_their_own_sessions(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.create_user("bob").await;
        let laptop = app.login("alice").await;
        let phone = app.login("alice").await;
        let bob = app.login("bob").await;

        let sessions = app.get_bearer("/auth/sessions", &laptop.access_token).await;
        assert_eq!(sessions.headers()["cache-control"], "no-store");
        let sessions = json(sessions).await;
        let list = sessions.as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
        let other = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();

        // Someone else's session is not found.
        let bobs = json(app.get_bearer("/auth/sessions", &bob.access_token).await).await;
        let bobs_id = bobs[0]["id"].as_str().unwrap();
        let foreign = app.call(Method::DELETE, &format!("/auth/sessions/{bobs_id}"), &laptop.access_token, None).await;
        assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get_bearer("/auth/me", &bob.access_token).await.status(), StatusCode::OK);

        let ended = app.call(Method::DELETE, &format!("/auth/sessions/{other}"), &laptop.access_token, None).await;
        assert_eq!(ended.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_bearer("/auth/me", &phone.access_token).await.status(), StatusCode::UNAUTHORIZED);
        let remaining = json(app.get_bearer("/auth/sessions", &laptop.access_token).await).await;
        assert_eq!(remaining.as_array().unwrap().len(), 1);
        assert_eq!(app.get("/auth/sessions").await.status(), StatusCode::UNAUTHORIZED);
    }
);
