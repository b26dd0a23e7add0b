//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use idp_core::jose::Algorithm;
use serde::Serialize;

use crate::service::keys::JWKS_MAX_AGE;
use crate::state::AppState;

/// OpenID Connect Discovery 1.0 §3 (and RFC 8414). Lists only what works.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Discovery {
    pub issuer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    pub claims_supported: Vec<&'static str>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
}

const CLIENT_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

impl Discovery {
    pub fn new(issuer: &str, alg: Algorithm) -> Self {
        let url = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: Some(url("/auth/authorize")),
            token_endpoint: url("/auth/token"),
            userinfo_endpoint: url("/auth/userinfo"),
            jwks_uri: url("/.well-known/jwks.json"),
            revocation_endpoint: url("/auth/revoke"),
            introspection_endpoint: Some(url("/auth/introspect")),
            end_session_endpoint: Some(url("/auth/logout")),
            scopes_supported: idp_core::scope::SUPPORTED.to_vec(),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: vec![
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "password",
            ],
            subject_types_supported: vec!["public"],
            // The configured algorithm, the default, first; RS256 always
            // (OIDC Core §15.1, Discovery §3: REQUIRED).
            id_token_signing_alg_values_supported: alg
                .signing_algorithms()
                .iter()
                .map(|alg| alg.as_str())
                .collect(),
            token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS.to_vec(),
            revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS.to_vec(),
            code_challenge_methods_supported: vec!["S256"],
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
            ],
            authorization_response_iss_parameter_supported: true,
            claims_supported: vec![
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "sid",
                "at_hash",
                "name",
                "preferred_username",
                "email",
                "email_verified",
                "roles",
            ],
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
        }
    }

    /// Serialized once at start-up: it only changes with the configuration.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

fn cached_json(body: Bytes, max_age_secs: u64) -> Response {
    let cache = HeaderValue::from_str(&format!("public, max-age={max_age_secs}"))
        .unwrap_or(HeaderValue::from_static("no-cache"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// The provider's metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc",
    responses((status = 200, body = Discovery, headers(("Cache-Control" = String, description = "`public, max-age=3600`")))))]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    cached_json(state.discovery.clone(), 3600)
}

/// The public signing keys: active ones, and retired ones until every
/// token they signed has expired.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "oidc",
    responses((status = 200, description = "JWK Set (RFC 7517 §5)", body = JwkSetDoc,
        headers(("Cache-Control" = String, description = "`public, max-age=…`"))))
)]
pub async fn jwks(State(state): State<AppState>) -> Response {
    cached_json(state.keys.current().jwks(), JWKS_MAX_AGE.as_secs())
}

/// The JWK Set's shape, for the OpenAPI document (the set itself is built
/// by the key ring: `idp_core::jose::JwkSet`).
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = JwkSet)]
#[allow(dead_code)] // documentation only
pub struct JwkSetDoc {
    keys: Vec<JwkDoc>,
}

/// One public signing key (RFC 7517 §4, RFC 7518 §6).
#[derive(Debug, utoipa::ToSchema)]
#[schema(as = Jwk)]
#[allow(dead_code)] // documentation only
pub struct JwkDoc {
    /// `RSA`, `EC` or `OKP`.
    kty: String,
    /// Always `sig`.
    #[schema(rename = "use")]
    use_: String,
    kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    alg: String,
    /// RSA modulus (base64url).
    #[schema(nullable = false)]
    n: Option<String>,
    /// RSA public exponent (base64url).
    #[schema(nullable = false)]
    e: Option<String>,
    /// `P-256` or `Ed25519`.
    #[schema(nullable = false)]
    crv: Option<String>,
    #[schema(nullable = false)]
    x: Option<String>,
    #[schema(nullable = false)]
    y: Option<String>,
}
