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
        for (path, kind) in ENDPOINTS {
            for case in cases(*kind) {
                // A fresh connection per case: oversized bodies are answered
                // before they are read, and that connection is then closed.
                let client = reqwest::Client::new();
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
