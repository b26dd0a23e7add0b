//! Where the OpenID certification plans (Basic OP, Config OP, RP-Initiated
//! Logout) and RFC 6749 are strict about details clients rely on.

#[allow(unused_imports)]
use crate::helpers::*;
use reqwest::StatusCode;

/// RFC 6749 §5.2: `error_description` is printable ASCII without `"` or `\`.
fn assert_rfc6749_text(text: &str) {
    assert!(
        text.chars().all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')),
        "{text:?}"
    );
}

engine_test!(
    async fn error_descriptions_never_echo_quotes_backslashes_or_non_ascii(engine) {
        let app = TestApp::spawn(engine).await;
        for grant_type in ["fo\"o", "back\\slash", "caf\u{e9}", "line\u{2028}break", "nul\u{1}"] {
            let response = app.post_form("/auth/token", &[("grant_type", grant_type)]).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let body = json(response).await;
            assert_eq!(body["error"], "unsupported_grant_type", "{body}");
            assert_rfc6749_text(body["error_description"].as_str().unwrap());
            assert_eq!(body["detail"], body["error_description"]);
        }
        // A parameter name the client chose.
        let response = app.post_form("/auth/token", &[("grant_type", "password"), ("username", "a\"b")]).await;
        assert_rfc6749_text(json(response).await["error_description"].as_str().unwrap());

        // And in the redirect of the authorization endpoint.
        app.create_spa(true).await;
        let response = app.client.get(app.authorize_url(&[("response_type", "tok\"en\u{e9}")])).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        let (_, params) = location_params(&response);
        assert_eq!(params["error"], "unsupported_response_type");
        assert_rfc6749_text(&params["error_description"]);
    }
);
