//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! Swagger UI over it at `/docs` (assets compiled into the binary: no CDN).

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{account, admin, browser, health, introspect, me, register, revoke, token, well_known};
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
        browser::logout::logout_get,
        me::me,
        me::userinfo,
        account::change_password,
        account::list_sessions,
        account::end_session,
        well_known::openid_configuration,
        well_known::jwks,
        admin::dashboard::dashboard,
        admin::users::list,
        admin::users::create,
        admin::users::get,
        admin::users::update,
        admin::users::delete,
        admin::users::set_roles,
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
    ),
    components(schemas(super::error::Problem, super::error::FieldError, super::oauth_error::OAuthErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "The original service's endpoints and self-service"),
        (name = "oauth", description = "OAuth 2.0 token, revocation and introspection endpoints"),
        (name = "oidc", description = "OpenID Connect discovery, keys and userinfo"),
        (name = "admin", description = "Administration; each route needs a permission"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the protected paths name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

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
}
