//! `/auth/email/*`: verifying the account's address and changing it. The
//! JSON API; the link page's form (with `csrf_token`) gets a page from
//! `browser::email`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use idp_core::SecretString;
use serde::Deserialize;

use super::auth::AccountUser;
use super::browser::email as pages;
use super::error::ApiError;
use super::extract::{ApiOrPage, Json, Origin, api_or_page};
use super::openapi::responses::{
    Conflict, GuardedErrors, JsonBodyErrors, TooManyRequests, Unavailable,
};
use super::recovery::Accepted;
use crate::service::email_address;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    /// The token of the link in the mail.
    pub token: String,
}

impl std::fmt::Debug for VerifyEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyEmail(..)")
    }
}

/// Follows a verification link (then `email_verified` is true in `/auth/me`,
/// userinfo and new ID tokens) or an address-change link (then the account
/// has the new address, verified). A link works once, for
/// `EMAIL_VERIFICATION_TTL_HOURS`. The link page's form gets a page.
#[utoipa::path(post, path = "/auth/email/verify", tag = "auth",
    request_body(content(
        (VerifyEmail = "application/json"),
        (VerifyEmail = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 204, description = "The address is verified (or changed)"),
        (status = 200, description = "The page's form, posted: the \"address confirmed\" page",
            body = String, content_type = "text/html"),
        (status = 403, description = "The page's form expired (CSRF)", body = String, content_type = "text/html"),
        JsonBodyErrors,
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable)
    ))]
pub async fn verify(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match api_or_page::<VerifyEmail>(&headers, &body) {
        Ok(ApiOrPage::Api(request)) => request.token,
        Ok(ApiOrPage::Page(fields)) => {
            return pages::verify_submitted(&state, &origin, &headers, &fields).await;
        }
        Err(err) => return err.into_response(),
    };
    match email_address::verify(&state, &token, &origin).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Sends a new verification link to the caller's address (`202`); `409`
/// once it is verified. At most `MAIL_PER_ADDRESS_PER_HOUR` links go to one
/// address per hour; further requests are answered alike and send nothing.
#[utoipa::path(post, path = "/auth/email/verification", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, body = Accepted),
        GuardedErrors,
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable)
    ))]
pub async fn resend_verification(
    State(state): State<AppState>,
    AccountUser(current): AccountUser,
    Origin(origin): Origin,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    email_address::resend_verification(&state, &current.user, &origin).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted { detail: "A new link to confirm your address is on its way." }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmail {
    #[schema(example = "alice@new.example.com")]
    pub new_email: String,
    /// The current password.
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for ChangeEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeEmail(..)")
    }
}

/// Starts a change of the caller's address: a link goes to the new address
/// and a notice to the old one; the address changes only when the link is
/// followed. A wrong password is 400 and counts towards the lockout (429);
/// an address another account has is 409.
#[utoipa::path(post, path = "/auth/email/change", tag = "auth", security(("bearer" = [])),
    request_body = ChangeEmail,
    responses(
        (status = 202, body = Accepted),
        GuardedErrors,
        JsonBodyErrors,
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable)
    ))]
pub async fn change(
    State(state): State<AppState>,
    AccountUser(current): AccountUser,
    Origin(origin): Origin,
    Json(body): Json<ChangeEmail>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let password = SecretString::from(body.password);
    email_address::request_change(&state, &current.user, &body.new_email, password, &origin)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            detail: "A link to confirm the new address is on its way to it; the address changes when it is followed.",
        }),
    ))
}
