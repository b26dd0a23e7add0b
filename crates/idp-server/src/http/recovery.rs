//! `/auth/password/forgot` and `/auth/password/reset`: the JSON API, and
//! the forms of the pages (told apart by their `csrf_token` field), which
//! `browser::recovery` answers with pages.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use idp_core::SecretString;
use serde::{Deserialize, Serialize};

use super::browser::recovery as pages;
use super::error::ApiError;
use super::extract::{ApiOrPage, Json, Origin, api_or_page};
use super::openapi::responses::{JsonBodyErrors, TooManyRequests, Unavailable};
use crate::service::recovery;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPassword {
    /// The account's address.
    #[schema(example = "alice@example.com")]
    pub email: String,
}

impl std::fmt::Debug for ForgotPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForgotPassword(..)")
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub detail: &'static str,
}

const FORGOT_ACCEPTED: &str =
    "If an account has this address, a link to choose a new password is on its way.";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The token of the link in the mail.
    pub token: String,
    /// 8–128 characters, not the username or email.
    #[schema(format = Password)]
    pub new_password: String,
}

impl std::fmt::Debug for ResetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetPassword(..)")
    }
}

/// Sends a link to choose a new password, if an enabled account has this
/// address. The answer is the same whether or not one does (202), and so
/// is its timing: the address is looked up after the answer. At most
/// `MAIL_PER_ADDRESS_PER_HOUR` links go to one address per hour; further
/// requests are answered alike and send nothing. Takes JSON, or a form
/// (`email`); the page's own form (with `csrf_token`) gets a page.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth",
    request_body(content(
        (ForgotPassword = "application/json"),
        (ForgotPassword = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 202, body = Accepted),
        (status = 200, description = "The page's form, posted: the \"check your inbox\" page",
            body = String, content_type = "text/html"),
        (status = 403, description = "The page's form expired (CSRF)", body = String, content_type = "text/html"),
        JsonBodyErrors,
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable)
    ))]
pub async fn forgot(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let email = match api_or_page::<ForgotPassword>(&headers, &body) {
        Ok(ApiOrPage::Api(request)) => request.email,
        Ok(ApiOrPage::Page(fields)) => {
            return pages::forgot_submitted(&state, &origin, &headers, &fields).await;
        }
        Err(err) => return err.into_response(),
    };
    match recovery::request_reset(&state, &email, &origin).await {
        Ok(()) => {
            (StatusCode::ACCEPTED, Json(Accepted { detail: FORGOT_ACCEPTED })).into_response()
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Sets a new password with the token of a reset link. The token works
/// once and only until it expires (`PASSWORD_RESET_TTL_MINUTES`), and only
/// while the account is unchanged since it was sent. Every session of the
/// user ends and the lockout is cleared. Takes JSON; the link page's form
/// (with `csrf_token`) gets a page.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth",
    request_body(content(
        (ResetPassword = "application/json"),
        (ResetPassword = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 204, description = "The password is changed"),
        (status = 200, description = "The page's form, posted: the \"password changed\" page",
            body = String, content_type = "text/html"),
        (status = 403, description = "The page's form expired (CSRF)", body = String, content_type = "text/html"),
        JsonBodyErrors,
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable)
    ))]
pub async fn reset(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match api_or_page::<ResetPassword>(&headers, &body) {
        Ok(ApiOrPage::Api(request)) => request,
        Ok(ApiOrPage::Page(fields)) => {
            return pages::reset_submitted(&state, &origin, &headers, &fields).await;
        }
        Err(err) => return err.into_response(),
    };
    let password = SecretString::from(request.new_password);
    match recovery::reset_password(&state, &request.token, password, &origin).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
