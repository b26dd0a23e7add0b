use std::time::Duration;

use idp_core::client::{Client, ClientType, GrantType};
use idp_core::clock::UnixTime;
use idp_core::ids::ClientId;
use idp_core::secret_hash::SecretHash;

use super::*;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(client_type: ClientType) -> Client {
    Client {
        id: ClientId::new("spa"),
        name: "SPA".into(),
        client_type,
        secret_hash: (client_type == ClientType::Confidential).then(|| SecretHash::of("s")),
        redirect_uris: vec!["https://app.example.com/cb".into(), "http://127.0.0.1/native".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["openid".into(), "profile".into(), "email".into(), "offline_access".into()],
        first_party: false,
        access_token_ttl: Some(Duration::from_secs(60)),
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
        created_at: UnixTime::EPOCH,
        updated_at: UnixTime::EPOCH,
    }
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some("spa".into()),
        redirect_uri: Some("https://app.example.com/cb".into()),
        response_type: Some("code".into()),
        scope: Some("openid profile".into()),
        state: Some("xyz".into()),
        nonce: Some("n-0S6".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
        prompt: None,
        max_age: None,
        request: None,
        request_uri: None,
    }
}

#[test]
fn request_objects_are_refused_not_ignored() {
    let mut req = request();
    req.request = Some("eyJhbGciOiJub25lIn0.e30.".into());
    assert!(matches!(
        validate(&req, Some(client(ClientType::Public)), STRICT),
        Err((Rejection::Redirect { error: "request_not_supported", .. }, Some(_)))
    ));
    let mut req = request();
    req.request_uri = Some("https://app.example.com/request.jwt".into());
    assert!(matches!(
        validate(&req, Some(client(ClientType::Public)), STRICT),
        Err((Rejection::Redirect { error: "request_uri_not_supported", .. }, Some(_)))
    ));
}

const STRICT: Policy = Policy { require_pkce_for_confidential: true };

#[test]
fn a_good_request_validates() {
    let v = validate(&request(), Some(client(ClientType::Public)), STRICT).unwrap();
    assert_eq!(v.redirect_uri, "https://app.example.com/cb");
    assert_eq!(v.scope.to_string(), "openid profile");
    assert_eq!(v.code_challenge.as_deref(), Some(CHALLENGE));
}

#[test]
fn unknown_clients_and_unregistered_redirects_are_pages_not_redirects() {
    let (r, back) = validate(&request(), None, STRICT).unwrap_err();
    assert!(matches!(r, Rejection::Page(_)));
    assert!(back.is_none());
    let mut req = request();
    req.redirect_uri = Some("https://evil.example/cb".into());
    let (r, back) = validate(&req, Some(client(ClientType::Public)), STRICT).unwrap_err();
    assert!(matches!(r, Rejection::Page(_)));
    assert!(back.is_none(), "never redirect to an unregistered URI");
    req.client_id = None;
    assert!(matches!(check_client(&req, None), Err(Rejection::Page(_))));
}

#[test]
fn redirect_uri_may_be_omitted_only_when_one_is_registered_and_the_request_is_not_openid() {
    let mut req = request();
    req.redirect_uri = None;
    req.scope = Some("profile".into());
    let mut one = client(ClientType::Public);
    one.redirect_uris.truncate(1);
    assert_eq!(check_redirect_uri(&req, &one).unwrap(), "https://app.example.com/cb");
    assert!(check_redirect_uri(&req, &client(ClientType::Public)).is_err());
    // OIDC Core §3.1.2.1: REQUIRED in an OpenID request.
    req.scope = Some("profile openid".into());
    assert!(matches!(check_redirect_uri(&req, &one), Err(Rejection::Page(_))));
}

#[test]
fn response_type_must_be_code() {
    let mut req = request();
    req.response_type = Some("token".into());
    assert!(matches!(
        check_response_type(&req),
        Err(Rejection::Redirect { error: "unsupported_response_type", .. })
    ));
    req.response_type = None;
    assert!(matches!(
        check_response_type(&req),
        Err(Rejection::Redirect { error: "invalid_request", .. })
    ));
}

#[test]
fn pkce_is_required_s256_only_and_well_formed() {
    let public = client(ClientType::Public);
    let mut req = request();
    req.code_challenge = None;
    req.code_challenge_method = None;
    assert!(check_pkce(&req, &public, STRICT).is_err(), "missing");
    let confidential = client(ClientType::Confidential);
    assert!(
        check_pkce(&req, &confidential, STRICT).is_err(),
        "required for confidential clients by default"
    );
    assert_eq!(
        check_pkce(&req, &confidential, Policy { require_pkce_for_confidential: false }).unwrap(),
        None
    );
    let mut plain = request();
    plain.code_challenge_method = Some("plain".into());
    assert!(check_pkce(&plain, &public, STRICT).is_err(), "plain");
    let mut implicit_plain = request();
    implicit_plain.code_challenge_method = None;
    assert!(check_pkce(&implicit_plain, &public, STRICT).is_err(), "no method means plain");
    let mut short = request();
    short.code_challenge = Some("too-short".into());
    assert!(check_pkce(&short, &public, STRICT).is_err());
}

#[test]
fn scopes_must_be_allowed() {
    let c = client(ClientType::Public);
    let mut req = request();
    req.scope = Some("openid admin".into());
    assert!(matches!(
        check_scope(&req, &c),
        Err(Rejection::Redirect { error: "invalid_scope", .. })
    ));
    req.scope = None;
    assert_eq!(check_scope(&req, &c).unwrap().to_string(), "openid profile email");
}

#[test]
fn prompt_values() {
    let mut req = request();
    for (raw, expected) in [
        ("none", Prompt::None),
        ("login", Prompt::Login),
        ("consent", Prompt::Consent),
        ("login consent", Prompt::Login),
    ] {
        req.prompt = Some(raw.into());
        assert_eq!(check_prompt(&req).unwrap(), expected, "{raw}");
    }
    for bad in ["none login", "bogus"] {
        req.prompt = Some(bad.into());
        assert!(check_prompt(&req).is_err(), "{bad}");
    }
    req.prompt = Some("login".into());
    assert_eq!(req.after_login().prompt, None);
}

#[test]
fn nonce_and_max_age() {
    let mut req = request();
    req.nonce = Some("a\nb".into());
    assert!(check_nonce(&req).is_err());
    req.max_age = Some("soon".into());
    assert!(check_max_age(&req).is_err());
    req.max_age = Some("300".into());
    assert_eq!(check_max_age(&req).unwrap(), Some(300));
}

#[test]
fn failures_after_the_redirect_is_trusted_carry_the_state() {
    let mut req = request();
    req.response_type = Some("token".into());
    let (_, back) = validate(&req, Some(client(ClientType::Public)), STRICT).unwrap_err();
    assert_eq!(back, Some(("https://app.example.com/cb".into(), Some("xyz".into()))));
}

#[test]
fn clients_without_the_code_grant_are_unauthorized() {
    let mut c = client(ClientType::Public);
    c.grant_types = vec![GrantType::RefreshToken];
    assert!(matches!(
        check_grant(&c),
        Err(Rejection::Redirect { error: "unauthorized_client", .. })
    ));
}

#[test]
fn oversized_parameters_are_refused() {
    let mut req = request();
    req.state = Some("x".repeat(5000));
    assert!(check_lengths(&req).is_err());
}
