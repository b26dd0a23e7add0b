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

engine_test!(
    async fn an_openid_request_without_redirect_uri_gets_an_error_page_not_a_code(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_user("alice").await;
        use idp_core::client::{ClientType, GrantType};
        app.create_client(idp_server::service::clients::ClientSpec {
            id: Some("one-uri".into()),
            name: "One URI".into(),
            client_type: ClientType::Public,
            redirect_uris: vec![REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec!["openid".into(), "profile".into()],
            first_party: true,
            access_token_ttl: None,
            refresh_token_ttl: None,
            id_token_signed_response_alg: None,
        })
        .await;
        let browser = app.browser();
        let openid = app.authorize_url(&[("client_id", "one-uri"), ("redirect_uri", ""), ("scope", "openid profile")]);
        let page = browser.get(&openid).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.text().await.unwrap().contains("redirect_uri is missing"));
        // A plain OAuth request may still rely on the one registered URI
        // (RFC 6749 §3.1.2.3): it gets the login page.
        let oauth = app.authorize_url(&[("client_id", "one-uri"), ("redirect_uri", ""), ("scope", "profile")]);
        assert_eq!(browser.get(&oauth).send().await.unwrap().status(), StatusCode::OK);
    }
);

engine_test!(
    async fn request_objects_are_refused_with_the_errors_oidc_names(engine) {
        let app = TestApp::spawn(engine).await;
        app.create_spa(true).await;
        for (param, error) in [("request", "request_not_supported"), ("request_uri", "request_uri_not_supported")] {
            let url = app.authorize_url(&[(param, "eyJhbGciOiJub25lIn0.e30.")]);
            let response = app.client.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FOUND, "{param}");
            let (base, params) = location_params(&response);
            assert_eq!(base, REDIRECT_URI);
            assert_eq!(params["error"], error);
            assert_eq!(params["state"], "st-123");
        }
    }
);
