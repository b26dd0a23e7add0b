//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! Swagger UI over it at `/docs` (assets compiled into the binary: no CDN).
//!
//! Every operation lists every status it can answer, in the format it
//! answers it; `scripts/schemathesis.sh` checks that against a running
//! server.

pub mod responses;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    account, admin, browser, email, health, introspect, me, recovery, register, revoke, token,
    well_known,
};
use crate::state::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "idp",
        description = "An OAuth 2.x authorization server and OpenID Connect provider. OAuth endpoints \
                       answer RFC 6749 errors (with the original service's `detail`); everything else \
                       answers RFC 9457 problem documents.",
        license(name = "Apache-2.0")
    ),
    paths(
        health::healthz,
        health::readyz,
        health::metrics,
        register::register,
        token::token,
        token::refresh,
        revoke::revoke,
        introspect::introspect,
        browser::authorize::authorize,
        browser::authorize::authorize_post,
        browser::logout::logout_get,
        browser::logout::logout_post,
        me::me,
        me::userinfo,
        account::change_password,
        account::list_sessions,
        account::end_session,
        browser::recovery::forgot_page,
        recovery::forgot,
        browser::recovery::reset_page,
        recovery::reset,
        browser::email::verify_page,
        email::verify,
        email::resend_verification,
        email::change,
        well_known::openid_configuration,
        well_known::jwks,
        admin::dashboard::dashboard,
        admin::users::list,
        admin::users::create,
        admin::users::get,
        admin::users::update,
        admin::users::delete,
        admin::users::set_roles,
        admin::users::send_password_reset,
        admin::users::sessions,
        admin::users::end_session,
        admin::roles::list,
        admin::roles::create,
        admin::roles::get,
        admin::roles::delete,
        admin::roles::set_permissions,
        admin::permissions::list,
        admin::permissions::create,
        admin::permissions::get,
        admin::permissions::delete,
        admin::clients::list,
        admin::clients::create,
        admin::clients::get,
        admin::clients::update,
        admin::clients::delete,
        admin::clients::reset_secret,
        admin::audit::list,
        admin::keys::list,
        admin::keys::rotate,
        openapi_json,
        docs,
        docs_page,
    ),
    components(
        schemas(
            super::error::Problem,
            super::error::FieldError,
            crate::oauth::error::OAuthErrorBody,
            crate::service::tokens::TokenResponse,
        ),
        responses(
            responses::BadRequest,
            responses::Unauthorized,
            responses::Forbidden,
            responses::NotFound,
            responses::Conflict,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::Unprocessable,
            responses::TooManyRequests,
            responses::Unavailable,
            responses::OAuthBadRequest,
            responses::OAuthUnauthorized,
            responses::OAuthPayloadTooLarge,
            responses::OAuthUnsupportedMediaType,
            responses::OAuthTooManyRequests,
            responses::OAuthUnavailable,
            responses::PageUnavailable,
            token::TokenIssued,
        )
    ),
    modifiers(&SecuritySchemes, &UniqueOperationIds),
    tags(
        (name = "auth", description = "The original service's endpoints and self-service"),
        (name = "oauth", description = "OAuth 2.0 token, revocation and introspection endpoints"),
        (name = "oidc", description = "OpenID Connect discovery, keys and userinfo"),
        (name = "admin", description = "Administration; each route needs a permission"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the schemes the paths name: `bearer` (a user's access token)
/// and `client_secret_basic` (a client's id and secret, RFC 6749 §2.3.1;
/// the OAuth endpoints also take them as form fields, or `client_id` alone
/// for public clients).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// An operation id must be unique in the document (OpenAPI 3.1 §4.8.10.1);
/// a handler routed for two methods (`/auth/me`, `/auth/userinfo`) gets
/// its name once per method, so those become `<name>_<method>`.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut seen = std::collections::HashMap::<String, usize>::new();
        for item in openapi.paths.paths.values() {
            for op in operations(item).into_iter().flatten() {
                if let Some(id) = &op.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            let methods = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, op) in methods {
                if let Some(op) = op
                    && let Some(id) = &op.operation_id
                    && seen.get(id).is_some_and(|n| *n > 1)
                {
                    op.operation_id = Some(format!("{id}_{method}"));
                }
            }
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> [Option<&utoipa::openapi::path::Operation>; 5] {
    [
        item.get.as_ref(),
        item.put.as_ref(),
        item.post.as_ref(),
        item.delete.as_ref(),
        item.patch.as_ref(),
    ]
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This OpenAPI document", body = Object))
)]
#[allow(dead_code)] // served by SwaggerUi below; documentation only
fn openapi_json() {}

/// Swagger UI over this document.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    responses((status = 303, description = "To `/docs/`", headers(("Location" = String))))
)]
#[allow(dead_code)] // served by SwaggerUi below; documentation only
fn docs() {}

/// Swagger UI's page; its scripts and styles are served from `/docs/` too.
#[utoipa::path(
    get,
    path = "/docs/",
    tag = "operations",
    responses((status = 200, description = "Swagger UI", body = String, content_type = "text/html"))
)]
#[allow(dead_code)] // served by SwaggerUi below; documentation only
fn docs_page() {}

/// The document as served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/docs` (Swagger UI) and `/openapi.json`. Swagger UI runs scripts and
/// styles from its own (local) files, so it gets its own CSP.
pub fn routes() -> Router<AppState> {
    let csp = HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", document()))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_of_the_spec_is_documented() {
        let doc = super::document();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for expected in [
            "/auth/register",
            "/auth/token",
            "/auth/token/refresh",
            "/auth/revoke",
            "/auth/introspect",
            "/auth/authorize",
            "/auth/logout",
            "/auth/me",
            "/auth/userinfo",
            "/auth/password",
            "/auth/sessions",
            "/auth/sessions/{id}",
            "/.well-known/openid-configuration",
            "/.well-known/jwks.json",
            "/admin/dashboard",
            "/admin/users",
            "/admin/users/{id}",
            "/admin/users/{id}/roles",
            "/admin/users/{id}/sessions",
            "/admin/roles",
            "/admin/roles/{id}/permissions",
            "/admin/permissions",
            "/admin/clients",
            "/admin/clients/{id}",
            "/admin/audit",
            "/healthz",
            "/readyz",
            "/metrics",
            "/docs",
            "/openapi.json",
        ] {
            assert!(
                paths.iter().any(|p| p.as_str() == expected),
                "{expected} is missing from the OpenAPI document"
            );
        }
        assert!(
            serde_json::to_value(&doc).unwrap()["openapi"].as_str().unwrap().starts_with("3.1")
        );
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                ids.push(op["operationId"].as_str().unwrap().to_owned());
            }
        }
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "duplicate operation ids");
    }
}
