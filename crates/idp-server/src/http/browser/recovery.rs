//! The password-reset pages: "Forgot your password?" (asks for the
//! address) and the page a reset link opens (asks for the new password).
//! A GET only shows a page; only the form's POST, CSRF-checked, acts, so a
//! mail scanner that prefetches the link consumes nothing.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use idp_core::SecretString;
use idp_core::session::RequestOrigin;

use super::cookies::{self, csrf_cookie, csrf_ok};
use super::html::{error_page, escape, failure_page, link_token, page};
use crate::http::openapi::responses::PageUnavailable;
use crate::oauth::form::FormFields;
use crate::service::mail::MailOff;
use crate::service::recovery::{self, RecoveryError};
use crate::state::AppState;

const FORGOT_PURPOSE: &str = "password-forgot";
const RESET_PURPOSE: &str = "password-reset";

/// A page with a form, and the CSRF cookie it needs if the browser has none.
fn with_csrf(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
    render: impl FnOnce(&str) -> Response,
) -> Response {
    let (csrf, set) = csrf_cookie(state, headers);
    let mut response = render(&state.csrf.token(&csrf, purpose));
    if let Some(set) = set {
        cookies::set(&mut response, &set);
    }
    response
}

fn expired_form() -> Response {
    error_page(StatusCode::FORBIDDEN, "The form expired. Go back, reload the page and try again.")
}

fn mail_off_page(_: MailOff) -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Password reset by mail is not available on this server. Ask an administrator to set a new password.",
    )
}

fn forgot_form(status: StatusCode, csrf: &str, email: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\" id=\"email-error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let described = if error.is_empty() { "" } else { " aria-describedby=\"email-error\"" };
    let body = format!(
        "<h1>Forgot your password?</h1>\
         <p>Enter the email address of your account. If an account has it, we send a link to \
         choose a new password.</p>{error}\
         <form method=\"post\" action=\"/auth/password/forgot\">\
         <label for=\"email\">Email address</label>\
         <input type=\"email\" id=\"email\" name=\"email\" value=\"{email}\" autocomplete=\"email\" \
         maxlength=\"254\" required autofocus{described}>\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\">Send the link</button></form>",
        email = escape(email),
        csrf = escape(csrf),
    );
    page(status, "Forgot your password?", &body, &[])
}

/// `GET /auth/password/forgot`
#[utoipa::path(get, path = "/auth/password/forgot", tag = "auth",
    responses(
        (status = 200, description = "The page asking for the account's address", body = String, content_type = "text/html"),
        (status = 503, response = PageUnavailable)
    ))]
pub async fn forgot_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(off) = crate::service::mail::mailer(&state) {
        return mail_off_page(off);
    }
    with_csrf(&state, &headers, FORGOT_PURPOSE, |csrf| forgot_form(StatusCode::OK, csrf, "", None))
}

/// The forgot-password form, posted (it alone carries `csrf_token`).
pub async fn forgot_submitted(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
) -> Response {
    if !csrf_ok(state, headers, fields, FORGOT_PURPOSE) {
        return expired_form();
    }
    let email = fields.get("email").unwrap_or_default();
    match recovery::request_reset(state, email, origin).await {
        Ok(()) => {
            let minutes = state.settings.mail.password_reset_ttl.as_secs().div_ceil(60);
            page(
                StatusCode::OK,
                "Check your inbox",
                &format!(
                    "<h1>Check your inbox</h1><p>If an account has the address you entered, a link \
                     to choose a new password is on its way. It works once, for {minutes} minutes.</p>\
                     <p>No mail after a few minutes? Check the spam folder, or ask again.</p>"
                ),
                &[],
            )
        }
        Err(RecoveryError::Invalid(_, message)) => {
            with_csrf(state, headers, FORGOT_PURPOSE, |csrf| {
                let shown: String = email.chars().take(254).collect();
                forgot_form(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    csrf,
                    &shown,
                    Some(&format!("The email address {message}.")),
                )
            })
        }
        Err(err) => recovery_error_page(err),
    }
}

fn recovery_error_page(err: RecoveryError) -> Response {
    match err {
        RecoveryError::MailOff(off) => mail_off_page(off),
        RecoveryError::InvalidToken => invalid_link(),
        RecoveryError::Invalid(_, message) => {
            error_page(StatusCode::UNPROCESSABLE_ENTITY, &message)
        }
        RecoveryError::Manage(e) => error_page(StatusCode::BAD_REQUEST, &e.to_string()),
        RecoveryError::Failed(failure) => failure_page(failure),
    }
}

fn invalid_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Link not valid",
        "<h1>This link does not work</h1>\
         <p class=\"error\" role=\"alert\">It was used already, it expired, or the account changed \
         since it was sent.</p><p><a href=\"/auth/password/forgot\">Ask for a new link</a></p>",
        &[],
    )
}

fn reset_form(
    status: StatusCode,
    csrf: &str,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| {
            format!("<p class=\"error\" role=\"alert\" id=\"password-error\">{}</p>", escape(e))
        })
        .unwrap_or_default();
    let described = if error.is_empty() { "" } else { " aria-describedby=\"password-error\"" };
    let body = format!(
        "<h1>Choose a new password</h1><p>for <strong>{username}</strong></p>{error}\
         <form method=\"post\" action=\"/auth/password/reset\">\
         <input type=\"text\" name=\"username\" value=\"{username}\" autocomplete=\"username\" hidden>\
         <label for=\"new_password\">New password</label>\
         <input type=\"password\" id=\"new_password\" name=\"new_password\" autocomplete=\"new-password\" \
         minlength=\"8\" maxlength=\"128\" required autofocus{described}>\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\">Set the new password</button></form>\
         <p>Every session of the account ends: sign in again afterwards.</p>",
        username = escape(username),
        token = escape(token),
        csrf = escape(csrf),
    );
    page(status, "Choose a new password", &body, &[])
}

/// `GET /auth/password/reset?token=…`: the page of a reset link. Shows the
/// form; consumes nothing.
#[utoipa::path(get, path = "/auth/password/reset", tag = "auth",
    params(("token" = String, Query, description = "The token of the link in the mail")),
    responses(
        (status = 200, description = "The page asking for a new password", body = String, content_type = "text/html"),
        (status = 400, description = "The link is unknown, used or expired", body = String, content_type = "text/html"),
        (status = 503, response = PageUnavailable)
    ))]
pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = link_token(query);
    match recovery::check_reset_token(&state, &token).await {
        Ok(user) => with_csrf(&state, &headers, RESET_PURPOSE, |csrf| {
            reset_form(StatusCode::OK, csrf, &token, &user.username, None)
        }),
        Err(err) => recovery_error_page(err),
    }
}

/// The reset form, posted.
pub async fn reset_submitted(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
) -> Response {
    if !csrf_ok(state, headers, fields, RESET_PURPOSE) {
        return expired_form();
    }
    let token = fields.get("token").unwrap_or_default();
    let password = SecretString::from(fields.get("new_password").unwrap_or_default().to_owned());
    match recovery::reset_password(state, token, password, origin).await {
        Ok(()) => page(
            StatusCode::OK,
            "Password changed",
            "<h1>Password changed</h1><p>Every session of your account has ended. Sign in again \
             with the new password.</p>",
            &[],
        ),
        Err(RecoveryError::Invalid(_, message)) => {
            let username = recovery::check_reset_token(state, token)
                .await
                .map(|u| u.username)
                .unwrap_or_default();
            with_csrf(state, headers, RESET_PURPOSE, |csrf| {
                reset_form(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    csrf,
                    token,
                    &username,
                    Some(&format!("The new password {message}.")),
                )
            })
        }
        Err(err) => recovery_error_page(err),
    }
}
