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

/// Checks the exposition the way a scraper reads it (OpenMetrics text):
/// every family is declared with a known type before its samples, every
/// sample belongs to the family above it and has a numeric value, and the
/// text ends with `# EOF`. Returns each sample line's name+labels and value.
fn parse_exposition(text: &str) -> std::collections::HashMap<String, f64> {
    let mut samples = std::collections::HashMap::new();
    let mut family: Option<(String, String)> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" {
            assert!(lines.peek().is_none(), "nothing after # EOF");
            return samples;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "type {kind}");
            family = Some((name.to_owned(), kind.to_owned()));
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let name = series.split('{').next().unwrap();
        let (family_name, kind) =
            family.as_ref().unwrap_or_else(|| panic!("no # TYPE before {line}"));
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total", "_created"],
            "gauge" => &[""],
            _ => &["_bucket", "_sum", "_count", "_created"],
        };
        assert!(
            suffixes.iter().any(|s| name == format!("{family_name}{s}")),
            "{name} is not in family {family_name} ({kind})"
        );
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "labels in {line}");
        }
        samples.insert(series.to_owned(), value);
    }
    panic!("no # EOF at the end");
}

async fn scrape(app: &TestApp) -> std::collections::HashMap<String, f64> {
    let response = app
        .client
        .get(app.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    parse_exposition(&response.text().await.unwrap())
}

engine_test!(
    async fn metrics_count_requests_tokens_and_failures(engine) {
        let app = TestApp::builder(engine).setting("LOGIN_MAX_FAILURES", "3").spawn().await;
        let before = scrape(&app).await;
        let value = |m: &std::collections::HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
        app.create_user("alice").await;
        app.login("alice").await;
        for _ in 0..3 {
            app.password_grant("alice", "wrong-password").await;
        }
        app.get("/no/such/page").await;

        let after = scrape(&app).await;
        let moved = |k: &str| value(&after, k) - value(&before, k);
        assert_eq!(moved(r#"idp_http_requests_total{route="/auth/token",method="POST",status="200"}"#), 1.0);
        assert_eq!(moved(r#"idp_http_requests_total{route="/auth/token",method="POST",status="400"}"#), 3.0);
        assert_eq!(moved(r#"idp_http_requests_total{route="unmatched",method="GET",status="404"}"#), 1.0);
        assert_eq!(moved(r#"idp_tokens_issued_total{grant_type="password"}"#), 1.0);
        assert_eq!(moved("idp_login_failures_total"), 3.0);
        assert_eq!(moved("idp_lockouts_total"), 1.0, "the third failure locked alice");
        // Registration hashes once, each login checks once.
        assert_eq!(moved("idp_password_hash_wait_seconds_count"), 5.0);
        assert!(moved("idp_db_write_begin_seconds_count") >= 5.0, "writes were timed");
        assert!(moved(r#"idp_http_request_duration_seconds_count{route="/auth/token"}"#) >= 4.0);
        assert_eq!(value(&after, "idp_password_hash_queue"), 0.0);
        assert_eq!(value(&after, "idp_db_pool_max_connections"), 8.0);
        assert!(value(&after, "idp_db_pool_connections") >= 1.0);
        let build = format!(r#"idp_build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"));
        assert_eq!(value(&after, &build), 1.0);
        assert!(after.keys().all(|k| !k.contains("/no/such/page")), "unmatched paths do not become labels");
        assert!(after.keys().all(|k| !k.contains("alice")), "no user data in labels");

        // Without an OpenMetrics Accept header: the classic content type.
        let plain = app.get("/metrics").await;
        assert!(plain.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_bind_serves_metrics_on_their_own_address_only() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let app = TestApp::builder(Engine::Sqlite)
        .setting("METRICS_BIND", format!("127.0.0.1:{port}"))
        .spawn()
        .await;
    assert_eq!(
        app.get("/metrics").await.status(),
        StatusCode::NOT_FOUND,
        "not on the public address"
    );
    let metrics = app.client.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.text().await.unwrap().contains("idp_build_info"));
    let other = app.client.get(format!("http://127.0.0.1:{port}/auth/me")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "nothing else on the metrics address");
}
