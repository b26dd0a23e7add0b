#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

engine_test!(
    async fn registration_returns_the_user_without_its_hash(engine) {
        let app = TestApp::spawn(engine).await;
        let response = app
            .client
            .post(app.url("/auth/register"))
            .json(&serde_json::json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD, "name": "Alice A."}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body = json(response).await;
        assert_eq!(body["username"], "alice");
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["name"], "Alice A.");
        assert_eq!(body["roles"], serde_json::json!(["User"]));
        assert!(body["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
        let text = body.to_string();
        assert!(!text.contains("argon2") && !text.contains(PASSWORD) && !text.contains("password"));
    }
);

engine_test!(
    async fn taken_usernames_and_emails_conflict_regardless_of_case(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;

        let same_name = app.register("ALICE", "other@example.com", PASSWORD).await;
        assert_eq!(same_name.status(), StatusCode::CONFLICT);
        assert_eq!(same_name.headers()["content-type"], "application/problem+json");
        assert_eq!(json(same_name).await["detail"], "Username already taken");

        let same_email = app.register("alice2", "Alice@Example.COM", PASSWORD).await;
        assert_eq!(same_email.status(), StatusCode::CONFLICT);
        assert_eq!(json(same_email).await["detail"], "Email already registered");
    }
);

engine_test!(
    async fn invalid_fields_are_all_listed(engine) {
        let app = TestApp::spawn(engine).await;
        let response = app.register("a", "not-an-email", "short").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = json(response).await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["username", "email", "password"]);

        let same_as_name = app.register("alice", "alice@example.com", "alice").await;
        assert_eq!(same_as_name.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
);

engine_test!(
    async fn malformed_bodies_get_clear_4xx(engine) {
        let app = TestApp::spawn(engine).await;
        let url = app.url("/auth/register");

        let unknown_field = app
            .client
            .post(&url)
            .json(&serde_json::json!({"username": "alice", "email": "a@example.com", "password": PASSWORD, "admin": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown_field.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let not_json = app.client.post(&url).header("content-type", "application/json").body("{nope").send().await.unwrap();
        assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
        assert_eq!(not_json.headers()["content-type"], "application/problem+json");

        let form = app.client.post(&url).form(&[("username", "alice")]).send().await.unwrap();
        assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        // A fresh connection: the server answers 413 without reading the
        // rest of the body and then closes the connection.
        let huge = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(vec![b' '; 2 * 1024 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

        let sql = app.register("x'; DROP TABLE users;--", "a@example.com", PASSWORD).await;
        assert_eq!(sql.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    }
);
