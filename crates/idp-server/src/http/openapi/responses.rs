//! Responses the OpenAPI document shares between operations, so that each
//! operation lists every status it can answer without repeating its shape.
//!
//! Three families, as the server answers them: RFC 9457 problem documents
//! for the REST API (`application/problem+json`, [`crate::http::error`]),
//! RFC 6749 §5.2 error objects for the token, revocation and introspection
//! endpoints (`application/json`, [`crate::oauth::error`]), and HTML
//! pages for the browser endpoints. The groups at the end are what whole
//! kinds of routes have in common: every bearer-protected route can answer
//! 401 and 503, every JSON body 400/413/415/422.
//!
//! Documentation only: nothing here is constructed.
#![allow(dead_code)]

use utoipa::{IntoResponses, ToResponse};

use crate::http::error::Problem;
use crate::oauth::error::OAuthErrorBody;

// Problem documents (application/problem+json).

/// Malformed input: a body that is not JSON, a form that cannot be parsed,
/// a value the database cannot store (a NUL character), or, where the
/// operation says so, a request the server refuses as it stands.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadRequest(Problem);

/// No access token, or one that is malformed, expired, revoked, signed by
/// an unknown key, or meant for another audience (RFC 6750 §3.1).
#[derive(Debug, ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers((
        "WWW-Authenticate" = String,
        description = "`Bearer` without a token, `Bearer error=\"invalid_token\"` otherwise"
    ))
)]
pub struct Unauthorized(Problem);

/// The token is valid but may not do this: its client is third-party and
/// lacks the scope this part of the API needs (`insufficient_scope`, with
/// a `WWW-Authenticate` challenge naming the scope), or its user lacks the
/// role or permission.
#[derive(Debug, ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers((
        "WWW-Authenticate" = String,
        description = "`Bearer error=\"insufficient_scope\", scope=\"…\"` when a scope is missing"
    ))
)]
pub struct Forbidden(Problem);

/// Nothing has this id (an id that does not parse is not found either).
#[derive(Debug, ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(Problem);

/// The change conflicts with what exists (a taken name, a built-in entry).
#[derive(Debug, ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(Problem);

/// The body is larger than 1 MiB.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct PayloadTooLarge(Problem);

/// The body is not `application/json`.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnsupportedMediaType(Problem);

/// The input has the wrong shape or invalid values; `errors` lists each
/// field.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unprocessable(Problem);

/// Rate limited per client IP, or locked out after failed passwords.
#[derive(Debug, ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds until a retry can succeed"))
)]
pub struct TooManyRequests(Problem);

/// The database is unavailable, password hashing is saturated, or the
/// request took longer than `REQUEST_TIMEOUT_SECONDS`.
#[derive(Debug, ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
)]
pub struct Unavailable(Problem);

// OAuth errors (application/json, RFC 6749 §5.2 plus `detail`).

/// `invalid_request`, `invalid_grant`, `unauthorized_client`,
/// `unsupported_grant_type`, `invalid_scope`, `invalid_target`: the body
/// says which.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/json")]
pub struct OAuthBadRequest(OAuthErrorBody);

/// `invalid_client`: client authentication failed (RFC 6749 §5.2).
#[derive(Debug, ToResponse)]
#[response(
    content_type = "application/json",
    headers((
        "WWW-Authenticate" = String,
        description = "`Basic realm=\"idp\"` when the client used HTTP Basic, else `Bearer realm=\"idp\"`"
    ))
)]
pub struct OAuthUnauthorized(OAuthErrorBody);

/// `invalid_request`: the body is larger than 1 MiB.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/json")]
pub struct OAuthPayloadTooLarge(OAuthErrorBody);

/// `invalid_request`: the body is neither
/// `application/x-www-form-urlencoded` nor `multipart/form-data`.
#[derive(Debug, ToResponse)]
#[response(content_type = "application/json")]
pub struct OAuthUnsupportedMediaType(OAuthErrorBody);

/// Rate limited per client IP (`temporarily_unavailable`), or the user is
/// locked out after failed passwords (`invalid_grant`).
#[derive(Debug, ToResponse)]
#[response(
    content_type = "application/json",
    headers(("Retry-After" = u64, description = "Seconds until a retry can succeed"))
)]
pub struct OAuthTooManyRequests(OAuthErrorBody);

/// `temporarily_unavailable` when the database is unavailable or password
/// hashing is saturated; a problem document when the request took longer
/// than `REQUEST_TIMEOUT_SECONDS`.
#[derive(Debug, ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))]
pub enum OAuthUnavailable {
    OAuth(#[content("application/json")] OAuthErrorBody),
    Timeout(#[content("application/problem+json")] Problem),
}

// What kinds of routes have in common.

/// Every route that takes a bearer token.
#[derive(Debug, IntoResponses)]
pub enum BearerErrors {
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 503)]
    Unavailable(#[ref_response] Unavailable),
}

/// Every route behind a guard: `/admin/*` and the account endpoints.
#[derive(Debug, IntoResponses)]
pub enum GuardedErrors {
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] Forbidden),
    #[response(status = 503)]
    Unavailable(#[ref_response] Unavailable),
}

/// Every route that reads a JSON body.
#[derive(Debug, IntoResponses)]
pub enum JsonBodyErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
    #[response(status = 422)]
    Unprocessable(#[ref_response] Unprocessable),
}

/// Every OAuth form endpoint (token, refresh, revocation, introspection).
#[derive(Debug, IntoResponses)]
pub enum OAuthFormErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] OAuthBadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] OAuthUnauthorized),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] OAuthPayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] OAuthUnsupportedMediaType),
    #[response(status = 503)]
    Unavailable(#[ref_response] OAuthUnavailable),
}

// Pages (text/html) of the browser endpoints.

/// A page saying the server is busy or the database is unavailable; a
/// problem document when the request took longer than
/// `REQUEST_TIMEOUT_SECONDS`.
#[derive(Debug, ToResponse)]
pub enum PageUnavailable {
    Page(#[content("text/html")] String),
    Timeout(#[content("application/problem+json")] Problem),
}

/// Every form a browser posts: an error page for a body that is too large
/// (413) or not `application/x-www-form-urlencoded` (415), or that does not
/// parse (400).
#[derive(Debug, IntoResponses)]
pub enum PageFormErrors {
    /// An error page: a form that does not parse, or a request that is not valid.
    #[response(status = 400, content_type = "text/html")]
    BadRequest(String),
    /// An error page: the body is larger than 1 MiB.
    #[response(status = 413, content_type = "text/html")]
    PayloadTooLarge(String),
    /// An error page: the body is not a urlencoded form.
    #[response(status = 415, content_type = "text/html")]
    UnsupportedMediaType(String),
    #[response(status = 503)]
    Unavailable(#[ref_response] PageUnavailable),
}
