//! The whole flow driven by an independent, widely used OpenID Connect
//! client library (the `openidconnect` crate): discovery, authorization URL
//! with PKCE and nonce, login form, code exchange, ID token validation
//! against the JWKS (signature, issuer, audience, nonce, expiry, at_hash),
//! userinfo, refresh.

#[allow(unused_imports)]
use crate::helpers::*;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

/// The library's HTTP client, over reqwest.
fn http_client(
    client: reqwest::Client,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<dyn Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>> + Send>,
> {
    move |request: openidconnect::HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let mut builder = client.request(request.method().clone(), request.uri().to_string());
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            let response = builder.body(request.body().clone()).send().await?;
            let mut out = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            Ok(out.body(body).expect("a valid response"))
        })
    }
}

async fn flow_with_a_real_client_library(engine: Engine, algorithm: &str) {
    let app = TestApp::builder(engine).setting("ALGORITHM", algorithm).spawn().await;
    app.create_user("alice").await;
    app.create_spa(true).await;
    complete_flow(&app, "spa", None).await;
}

/// Signs `alice` in through public client `client_id` (redirecting to
/// [`REDIRECT_URI`], first-party) and checks every step; with `only_alg`,
/// the ID token must be signed with that algorithm. Returns the ID token's
/// algorithm and the access token.
async fn complete_flow(
    app: &TestApp,
    client_id: &str,
    only_alg: Option<CoreJwsSigningAlgorithm>,
) -> (CoreJwsSigningAlgorithm, String) {
    let http = http_client(app.client.clone());

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base_url.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.into()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The user signs in through the server's login page.
    let browser = app.browser();
    let redirect = app.browser_login(&browser, auth_url.as_str(), "alice").await;
    let (base, params) = location_params(&redirect);
    assert_eq!(base, REDIRECT_URI);
    assert_eq!(&params["state"], csrf.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = match only_alg.clone() {
        Some(alg) => client.id_token_verifier().set_allowed_algs([alg]),
        None => client.id_token_verifier(),
    };
    let claims = id_token.claims(&verifier, &nonce).expect("the ID token validates");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "alice");
    assert_eq!(claims.email().unwrap().as_str(), "alice@example.com");
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual_hash, expected_hash);

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(userinfo.email().unwrap().as_str(), "alice@example.com");

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );
    (id_token.signing_alg().unwrap().clone(), tokens.access_token().secret().clone())
}

engine_test!(
    async fn the_openidconnect_crate_completes_the_flow(engine) {
        flow_with_a_real_client_library(engine, "RS256").await;
    }
);

engine_test!(
    async fn the_openidconnect_crate_completes_the_flow_with_es256(engine) {
        flow_with_a_real_client_library(engine, "ES256").await;
    }
);

/// OIDC Core §15.1: RS256 ID tokens for a client that registered
/// `id_token_signed_response_alg=RS256` (through the admin API) while the
/// server signs with `algorithm`; its access tokens keep `algorithm`.
async fn rs256_id_tokens_beside(engine: Engine, algorithm: &str) {
    let app = TestApp::builder(engine).setting("ALGORITHM", algorithm).spawn().await;
    let admin = app.admin_token().await;
    app.create_user("alice").await;
    let created = app
        .call(
            reqwest::Method::POST,
            "/admin/clients",
            &admin,
            Some(serde_json::json!({
                "client_id": "rs256-rp", "name": "An RS256-only RP", "client_type": "public",
                "redirect_uris": [REDIRECT_URI], "first_party": true,
                "scopes": ["openid", "profile", "email", "offline_access"],
                "id_token_signed_response_alg": "RS256"})),
        )
        .await;
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    assert_eq!(json(created).await["id_token_signed_response_alg"], "RS256");

    let (id_token_alg, access_token) =
        complete_flow(&app, "rs256-rp", Some(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)).await;
    assert_eq!(id_token_alg, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
    let access_alg = jsonwebtoken::decode_header(&access_token).unwrap().alg;
    assert_eq!(format!("{access_alg:?}"), algorithm, "access tokens keep ALGORITHM");
}

engine_test!(
    async fn a_client_registered_for_rs256_gets_rs256_id_tokens_from_an_es256_server(engine) {
        rs256_id_tokens_beside(engine, "ES256").await;
    }
);

engine_test!(
    async fn a_client_registered_for_rs256_gets_rs256_id_tokens_from_an_eddsa_server(engine) {
        rs256_id_tokens_beside(engine, "EdDSA").await;
    }
);
