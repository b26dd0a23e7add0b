#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

engine_test!(
    async fn a_fresh_server_is_live_and_ready(engine) {
        let app = TestApp::spawn(engine).await;

        let live = app.get("/healthz").await;
        assert_eq!(live.status(), StatusCode::OK);

        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK);
        let body = json(ready).await;
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["migrations"], "ok");
    }
);

engine_test!(
    async fn readiness_reports_an_unreachable_database(engine) {
        let app = TestApp::spawn(engine).await;
        // Closing the pool is what a lost database looks like from inside.
        app.state.db.close().await;

        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(ready).await["database"], "unreachable");
        // Liveness does not depend on the database.
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn unknown_paths_and_methods_get_problem_documents(engine) {
        let app = TestApp::spawn(engine).await;

        let missing = app.get("/no/such/thing").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()["content-type"], "application/problem+json");
        assert_eq!(json(missing).await["status"], 404);

        let wrong_method = app.client.delete(app.url("/healthz")).send().await.unwrap();
        assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
    }
);

engine_test!(
    async fn every_response_carries_a_request_id(engine) {
        let app = TestApp::spawn(engine).await;

        let generated = app.get("/healthz").await;
        let id = generated.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a UUID: {id}");

        let echoed = app.client.get(app.url("/healthz")).header("x-request-id", "trace-abc-123").send().await.unwrap();
        assert_eq!(echoed.headers()["x-request-id"], "trace-abc-123");
    }
);

engine_test!(
    async fn shutdown_finishes_cleanly(engine) {
        let app = TestApp::spawn(engine).await;
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
        app.stop().await;
    }
);

engine_test!(
    async fn metrics_count_requests_tokens_and_failures(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        app.login("alice").await;
        app.password_grant("alice", "wrong-password").await;
        app.get("/no/such/page").await;

        let response = app.get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = response.text().await.unwrap();
        for expected in [
            r#"idp_http_requests_total{route="/auth/token",method="POST",status="200"} 1"#,
            r#"idp_http_requests_total{route="/auth/token",method="POST",status="400"} 1"#,
            r#"idp_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"idp_tokens_issued_total{grant_type="password"} 1"#,
            "idp_login_failures_total 1",
            "idp_http_request_duration_seconds_bucket",
            "idp_password_hash_queue 0",
            "idp_db_pool_connections",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert!(!text.contains("/no/such/page"), "unmatched paths do not become labels");
    }
);
