//! The pages of email links: confirming an address (or a new address), and
//! "send a new link" from the login page when `REQUIRE_VERIFIED_EMAIL`
//! refused an unverified user. A GET only shows a page; only the form's
//! POST, CSRF-checked, uses the link.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use idp_core::ids::UserId;
use idp_core::session::RequestOrigin;
use idp_store::repo::email_tokens::Purpose;
use idp_store::repo::users;

use super::cookies::{self, csrf_cookie, csrf_ok};
use super::html::{error_page, escape, failure_page, link_token, page, store_failure};
use crate::http::openapi::responses::PageUnavailable;
use crate::oauth::form::FormFields;
use crate::service::email_address::{self, EmailError, Verified};
use crate::state::AppState;

const VERIFY_PURPOSE: &str = "email-verify";

/// The CSRF purpose of the login page's "send a new link" form: bound to
/// the user the right password was given for, and to the browser.
pub fn resend_purpose(user: &str) -> String {
    format!("verify-resend:{user}")
}

pub fn email_error_page(err: EmailError) -> Response {
    match err {
        EmailError::MailOff(_) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Mail is not available on this server. Ask an administrator.",
        ),
        EmailError::InvalidToken => page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "<h1>This link does not work</h1><p class=\"error\" role=\"alert\">It was used already, \
             it expired, or the address changed since it was sent. Sign in to ask for a new one.</p>",
            &[],
        ),
        EmailError::AlreadyVerified => page(
            StatusCode::CONFLICT,
            "Already confirmed",
            "<h1>Already confirmed</h1><p>Your email address is verified. You can sign in.</p>",
            &[],
        ),
        EmailError::Taken => error_page(
            StatusCode::CONFLICT,
            "Another account has this address now, so it cannot become yours.",
        ),
        EmailError::Failed(failure) => failure_page(failure),
        other => error_page(StatusCode::BAD_REQUEST, &other.to_string()),
    }
}

/// `GET /auth/email/verify?token=…`: the page of a verification or change
/// link, with the button that confirms. Uses nothing.
#[utoipa::path(get, path = "/auth/email/verify", tag = "auth",
    params(("token" = String, Query, description = "The token of the link in the mail")),
    responses(
        (status = 200, description = "The page with the button that confirms", body = String, content_type = "text/html"),
        (status = 400, description = "The link is unknown, used or expired", body = String, content_type = "text/html"),
        (status = 503, response = PageUnavailable)
    ))]
pub async fn verify_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = link_token(query);
    let purpose = match email_address::check_token(&state, &token).await {
        Ok(purpose) => purpose,
        Err(err) => return email_error_page(err),
    };
    let (title, button) = match purpose {
        Purpose::EmailChange => ("Confirm your new email address", "Confirm the new address"),
        _ => ("Confirm your email address", "Confirm my address"),
    };
    let (csrf, set) = csrf_cookie(&state, &headers);
    let body = format!(
        "<h1>{title}</h1>\
         <form method=\"post\" action=\"/auth/email/verify\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\">{button}</button></form>",
        token = escape(&token),
        csrf = escape(&state.csrf.token(&csrf, VERIFY_PURPOSE)),
    );
    let mut response = page(StatusCode::OK, title, &body, &[]);
    if let Some(set) = set {
        cookies::set(&mut response, &set);
    }
    response
}

/// The confirmation form, posted.
pub async fn verify_submitted(
    state: &AppState,
    origin: &RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
) -> Response {
    if !csrf_ok(state, headers, fields, VERIFY_PURPOSE) {
        return error_page(StatusCode::FORBIDDEN, "The form expired. Open the link again.");
    }
    match email_address::verify(state, fields.get("token").unwrap_or_default(), origin).await {
        Ok(Verified::Address) => page(
            StatusCode::OK,
            "Address confirmed",
            "<h1>Address confirmed</h1><p>Thank you: your email address is verified.</p>",
            &[],
        ),
        Ok(Verified::Changed) => page(
            StatusCode::OK,
            "Address changed",
            "<h1>Address changed</h1><p>Your account now uses this email address.</p>",
            &[],
        ),
        Err(err) => email_error_page(err),
    }
}

/// `POST /auth/email/verification/resend`: the login page's "send a new
/// link" form, shown after the right password was given for an unverified
/// user. Its CSRF token names that user, so it sends only to them.
pub async fn resend(
    State(state): State<AppState>,
    crate::http::extract::Origin(origin): crate::http::extract::Origin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = match super::html::form_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(page) => return page,
    };
    let user = fields.get("user").unwrap_or_default();
    if !csrf_ok(&state, &headers, &fields, &resend_purpose(user)) {
        return error_page(StatusCode::FORBIDDEN, "The form expired. Sign in again.");
    }
    let Ok(id) = user.parse::<UserId>() else {
        return error_page(StatusCode::BAD_REQUEST, "The form was changed.");
    };
    let found = match users::find_by_id(state.db.read(), id).await {
        Ok(Some(found)) => found,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "The account no longer exists."),
        Err(e) => return store_failure(e),
    };
    match email_address::resend_verification(&state, &found, &origin).await {
        Ok(()) => page(
            StatusCode::OK,
            "Check your inbox",
            "<h1>Check your inbox</h1><p>A new link to confirm your address is on its way. \
             Follow it, then sign in again.</p>",
            &[],
        ),
        Err(err) => email_error_page(err),
    }
}
