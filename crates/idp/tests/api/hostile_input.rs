//! The hostile-input matrix: every POST endpoint gets wrong content types,
//! malformed and non-UTF-8 bodies, oversized bodies, duplicated fields, huge
//! strings, NUL bytes and SQL metacharacters. Each must get a clear 4xx in
//! the endpoint's error format, and the server must stay healthy.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Body {
    /// JSON API: problem+json errors.
    Json,
    /// OAuth form endpoint: RFC 6749 error bodies.
    Form,
    /// A form a browser posts: errors are HTML pages a person can read.
    Page,
}

/// Every POST endpoint and what it reads.
const ENDPOINTS: &[(&str, Body)] = &[
    ("/auth/register", Body::Json),
    ("/auth/token", Body::Form),
    ("/auth/token/refresh", Body::Form),
    ("/auth/revoke", Body::Form),
    ("/auth/introspect", Body::Form),
    ("/auth/authorize", Body::Page),
    ("/auth/authorize/consent", Body::Page),
    ("/auth/logout", Body::Page),
    ("/auth/password/forgot", Body::Json),
    ("/auth/password/reset", Body::Json),
    ("/auth/email/verify", Body::Json),
];

struct Case {
    name: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

fn cases(kind: Body) -> Vec<Case> {
    let huge = "a".repeat(200_000);
    let mut cases = vec![
        Case { name: "wrong content type", content_type: "text/plain", body: b"hello".to_vec() },
        Case { name: "no content type", content_type: "", body: b"grant_type=password".to_vec() },
        Case {
            name: "oversized",
            content_type: content_type(kind),
            body: vec![b'a'; 2 * 1024 * 1024],
        },
        Case {
            name: "non-UTF-8",
            content_type: content_type(kind),
            body: vec![0xff, 0xfe, 0xfd, b'=', 0xc3, 0x28],
        },
    ];
    match kind {
        Body::Json => cases.extend([
            Case { name: "malformed JSON", content_type: "application/json", body: b"{\"username\": ".to_vec() },
            Case { name: "JSON array", content_type: "application/json", body: b"[1,2,3]".to_vec() },
            Case {
                name: "duplicated field",
                content_type: "application/json",
                body: format!(r#"{{"username":"a1b2c","username":"x","email":"a@example.com","password":"{PASSWORD}"}}"#).into_bytes(),
            },
            Case {
                name: "unknown field",
                content_type: "application/json",
                body: format!(r#"{{"username":"alice9","email":"a@example.com","password":"{PASSWORD}","is_admin":true}}"#).into_bytes(),
            },
            Case {
                name: "huge strings",
                content_type: "application/json",
                body: format!(r#"{{"username":"{huge}","email":"{huge}@example.com","password":"{huge}"}}"#).into_bytes(),
            },
            Case {
                name: "NUL bytes",
                content_type: "application/json",
                body: format!(r#"{{"username":"al\u0000ice","email":"a@example.com","password":"{PASSWORD}\u0000"}}"#).into_bytes(),
            },
            Case {
                name: "SQL metacharacters",
                content_type: "application/json",
                body: format!(r#"{{"username":"a' OR '1'='1","email":"x@example.com'; DROP TABLE users;--","password":"{PASSWORD}"}}"#).into_bytes(),
            },
            Case { name: "wrong types", content_type: "application/json", body: br#"{"username":1,"email":[],"password":{}}"#.to_vec() },
        ]),
        Body::Form | Body::Page => cases.extend([
            Case {
                name: "malformed multipart",
                content_type: "multipart/form-data; boundary=XYZ",
                body: b"--XYZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--XY".to_vec(),
            },
            Case { name: "multipart without boundary", content_type: "multipart/form-data", body: b"whatever".to_vec() },
            Case {
                name: "duplicated fields",
                content_type: "application/x-www-form-urlencoded",
                body: b"grant_type=refresh_token&refresh_token=a&refresh_token=b&token=a&token=b".to_vec(),
            },
            Case {
                name: "bad percent-encoding",
                content_type: "application/x-www-form-urlencoded",
                body: b"grant_type=password&username=%FF%FE&password=x&token=%C3%28&refresh_token=%FF".to_vec(),
            },
            Case {
                name: "huge strings",
                content_type: "application/x-www-form-urlencoded",
                body: format!("grant_type=password&username={huge}&password={huge}&token={huge}&refresh_token={huge}").into_bytes(),
            },
            Case {
                name: "NUL bytes",
                content_type: "application/x-www-form-urlencoded",
                body: b"grant_type=password&username=al%00ice&password=x%00&token=a%00&refresh_token=a%00".to_vec(),
            },
            Case {
                name: "SQL metacharacters",
                content_type: "application/x-www-form-urlencoded",
                body: b"grant_type=password&username=a'%20OR%20'1'%3D'1&password=';DROP%20TABLE%20users;--&token=';--&refresh_token=%27%3B--".to_vec(),
            },
        ]),
    }
    cases
}

fn content_type(kind: Body) -> &'static str {
    match kind {
        Body::Json => "application/json",
        Body::Form | Body::Page => "application/x-www-form-urlencoded",
    }
}

engine_test!(
    async fn every_post_endpoint_answers_hostile_input_with_a_clear_4xx(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        let client = reqwest::Client::new();
        for (path, kind) in ENDPOINTS {
            for case in cases(*kind) {
                // One keep-alive client for the whole matrix: after a
                // refused body, the connection is drained and reused, or the
                // response said `Connection: close`; either way the next
                // request must not meet a dead connection.
                let mut request = client.post(app.url(path)).body(case.body.clone());
                if !case.content_type.is_empty() {
                    request = request.header("content-type", case.content_type);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let what = format!("{path}: {}", case.name);
                if *path == "/auth/logout" && case.name == "SQL metacharacters" {
                    // No logout parameter among them (unknown ones are
                    // ignored): a plain sign-out, which is fine.
                    assert_eq!(status, StatusCode::OK, "{what}");
                    continue;
                }
                if *path == "/auth/revoke" && case.name == "SQL metacharacters" {
                    // A well-formed revocation of a token that does not
                    // exist: RFC 7009 §2.2 says 200.
                    assert_eq!(status, StatusCode::OK, "{what}");
                    assert_eq!(json(response).await["detail"], "Refresh token revoked successfully");
                    continue;
                }
                assert!(status.is_client_error(), "{what}: got {status}");
                let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
                if *kind == Body::Page {
                    assert_eq!(content_type, "text/html; charset=utf-8", "{what}");
                    let page = response.text().await.unwrap();
                    assert!(page.contains("<p"), "{what}: a readable page");
                    assert!(!page.contains("'1'='1") && !page.contains("DROP TABLE"), "{what}: input is not echoed");
                    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "healthy after {what}");
                    continue;
                }
                let body = json(response).await;
                match kind {
                    Body::Json => {
                        assert_eq!(content_type, "application/problem+json", "{what}");
                        assert_eq!(body["status"], status.as_u16(), "{what}");
                    }
                    Body::Form | Body::Page => {
                        assert!(body["error"].is_string(), "{what}: {body}");
                        assert_eq!(body["detail"], body["error_description"], "{what}");
                    }
                }
                if case.name == "wrong content type" {
                    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
                }
                if case.name == "oversized" {
                    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{what}");
                }
                assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "healthy after {what}");
            }
        }
        // Nothing was created or broken along the way.
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), StatusCode::OK);
    }
);

/// A JSON write that needs a bearer token: method, path, and a valid body
/// with `$V` where a hostile string goes.
struct Write {
    method: reqwest::Method,
    path: String,
    template: &'static str,
    admin: bool,
}

/// Hostile values for `$V`, already JSON-escaped. The SQL one may be
/// accepted where any text is (a display name); it must then be stored as
/// text, never run.
const VALUES: &[(&str, &str)] = &[
    ("NUL byte", r"al\u0000ice"),
    ("lone surrogate escape", r"\ud800"),
    ("control characters", r"a\u0007\u001b[2Jb"),
    ("SQL metacharacters", "x' OR '1'='1'; DROP TABLE users;--"),
];

engine_test!(
    async fn every_authenticated_write_answers_hostile_input_with_a_clear_4xx(engine) {
        use reqwest::Method;
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        let alice = app.create_user("alice").await;
        let alice_id = alice["id"].as_str().unwrap().to_owned();
        let alice_token = app.login("alice").await.access_token;
        app.create_spa(false).await;
        let roles = json(app.call(Method::GET, "/admin/roles", &admin, None).await).await;
        let role_id = roles.as_array().or_else(|| roles["items"].as_array()).unwrap()[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let writes = [
            Write { method: Method::POST, path: "/auth/password".into(), template: r#"{"current_password":"$V","new_password":"$V"}"#, admin: false },
            Write { method: Method::POST, path: "/auth/email/change".into(), template: r#"{"new_email":"$V@example.com","password":"$V"}"#, admin: false },
            Write { method: Method::POST, path: "/admin/users".into(), template: r#"{"username":"$V","email":"$V@example.com","password":"$V","name":"$V"}"#, admin: true },
            Write { method: Method::PATCH, path: format!("/admin/users/{alice_id}"), template: r#"{"name":"$V","email":"$V@example.com"}"#, admin: true },
            Write { method: Method::PUT, path: format!("/admin/users/{alice_id}/roles"), template: r#"{"roles":["$V"]}"#, admin: true },
            Write { method: Method::POST, path: "/admin/roles".into(), template: r#"{"name":"$V","description":"$V"}"#, admin: true },
            Write { method: Method::PUT, path: format!("/admin/roles/{role_id}/permissions"), template: r#"{"permissions":["$V"]}"#, admin: true },
            Write { method: Method::POST, path: "/admin/permissions".into(), template: r#"{"name":"$V","description":"$V"}"#, admin: true },
            Write { method: Method::POST, path: "/admin/clients".into(), template: r#"{"name":"$V","client_type":"public","redirect_uris":["https://$V.example/cb"]}"#, admin: true },
            Write { method: Method::PATCH, path: "/admin/clients/spa".into(), template: r#"{"name":"$V"}"#, admin: true },
        ];
        let huge = "a".repeat(200_000);
        let client = reqwest::Client::new();
        for write in &writes {
            let token = if write.admin { &admin } else { &alice_token };
            let mut bodies: Vec<(String, &str, Vec<u8>)> = vec![
                ("wrong content type".into(), "text/plain", b"{}".to_vec()),
                ("no content type".into(), "", b"{}".to_vec()),
                ("oversized".into(), "application/json", vec![b' '; 2 * 1024 * 1024]),
                ("non-UTF-8".into(), "application/json", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
                ("malformed JSON".into(), "application/json", b"{\"name\": ".to_vec()),
                ("JSON array".into(), "application/json", b"[1,2,3]".to_vec()),
                ("unknown field".into(), "application/json", br#"{"is_admin":true}"#.to_vec()),
                ("wrong types".into(), "application/json", write.template.replace("\"$V\"", "1").into_bytes()),
                ("duplicated field".into(), "application/json", format!("{},{}", write.template.trim_end_matches('}'), &write.template[1..]).replace("$V", "dup").into_bytes()),
                ("huge strings".into(), "application/json", write.template.replace("$V", &huge).into_bytes()),
            ];
            for (name, value) in VALUES {
                bodies.push((name.to_string(), "application/json", write.template.replace("$V", value).into_bytes()));
            }
            for (name, content_type, body) in bodies {
                let what = format!("{} {}: {name}", write.method, write.path);
                let mut request =
                    client.request(write.method.clone(), app.url(&write.path)).bearer_auth(token).body(body);
                if !content_type.is_empty() {
                    request = request.header("content-type", content_type);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
                let text = response.text().await.unwrap();
                if name == "SQL metacharacters" && status.is_success() {
                    assert!(text.contains("x' OR '1'='1'; DROP TABLE users;--"), "{what}: kept as text: {text}");
                } else {
                    assert!(status.is_client_error(), "{what}: got {status}: {text}");
                    assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{what}");
                    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(problem["status"], status.as_u16(), "{what}");
                }
                match name.as_str() {
                    "wrong content type" | "no content type" => assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}"),
                    "oversized" => assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{what}"),
                    _ => {}
                }
                assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "healthy after {what}");
            }
        }
        // Nothing broke: the store answers and both users still sign in.
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
        assert_eq!(app.password_grant("alice", PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.password_grant("admin", ADMIN_PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.call(Method::GET, "/admin/users?limit=100", &admin, None).await.status(), StatusCode::OK);
    }
);

engine_test!(
    async fn a_nul_character_in_a_lookup_is_a_4xx_never_a_500(engine) {
        // PostgreSQL refuses NUL in text outright; SQLite stores it. Either
        // way the client hears about its own bad input, never a 500.
        let app = TestApp::spawn(engine).await;
        let admin = app.admin_token().await;
        for path in ["/admin/users?username=al%00ice", "/admin/clients/sp%00a"] {
            let response = app.call(reqwest::Method::GET, path, &admin, None).await;
            let status = response.status();
            let body = json(response).await;
            match engine {
                Engine::Postgres => {
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
                    assert!(body["detail"].as_str().unwrap().contains("NUL"), "{path}: {body}");
                }
                Engine::Sqlite => assert!(
                    status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                    "{path}: nothing matches: {status}"
                ),
            }
        }
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    }
);
