#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

async fn token_with_scope(app: &TestApp, scope: &str) -> String {
    let response = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", scope),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "scope {scope}");
    json(response).await["access_token"].as_str().unwrap().to_owned()
}

engine_test!(
    async fn userinfo_claims_follow_the_token_scopes(engine) {
        let app = TestApp::spawn(engine).await;
        let user = app.create_user("alice").await;

        let only_openid = json(app.get_bearer("/auth/userinfo", &token_with_scope(&app, "openid").await).await).await;
        assert_eq!(only_openid, serde_json::json!({"sub": user["id"]}));

        let email = json(app.get_bearer("/auth/userinfo", &token_with_scope(&app, "openid email").await).await).await;
        assert_eq!(email, serde_json::json!({"sub": user["id"], "email": "alice@example.com", "email_verified": false}));

        let all = token_with_scope(&app, "openid profile email roles").await;
        let info = json(app.get_bearer("/auth/userinfo", &all).await).await;
        assert_eq!(info["preferred_username"], "alice");
        assert_eq!(info["roles"], serde_json::json!(["User"]));
        // POST works too (OIDC Core §5.3.1).
        let posted = app.client.post(app.url("/auth/userinfo")).bearer_auth(&all).send().await.unwrap();
        assert_eq!(json(posted).await, info);
    }
);

engine_test!(
    async fn userinfo_needs_the_openid_scope(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let response = app.get_bearer("/auth/userinfo", &token_with_scope(&app, "profile").await).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    }
);

engine_test!(
    async fn me_lists_roles_and_permissions(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let token = app.login("alice").await.access_token;
        let me = json(app.get_bearer("/auth/me", &token).await).await;
        assert_eq!(me["username"], "alice");
        assert_eq!(me["roles"], serde_json::json!(["User"]));
        assert!(me["permissions"].is_array());
        assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
    }
);
