//! The login, consent, sign-out and signed-out pages.

use axum::http::StatusCode;
use axum::response::Response;
use idp_core::scope::{self, Scope};

use super::html::{escape, form_target, page};
use crate::oauth::authorize::AuthorizationRequest;

/// Request parameters carried through a form as hidden fields.
fn hidden_inputs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .map(|(name, value)| {
            format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value))
        })
        .collect()
}

/// The authorization request, carried through a form as hidden fields; it
/// is validated again when the form comes back.
fn hidden_fields(request: &AuthorizationRequest) -> String {
    hidden_inputs(request.pairs())
}

/// What the login page says above the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNotice {
    None,
    InvalidCredentials,
    Locked {
        retry_after_secs: u64,
    },
    FormExpired,
    /// `REQUIRE_VERIFIED_EMAIL`: the right password, an unverified address.
    EmailNotVerified(idp_core::ids::UserId),
}

/// What the login page shows.
#[derive(Debug)]
pub struct LoginForm<'a> {
    pub client_name: &'a str,
    pub request: &'a AuthorizationRequest,
    pub csrf_token: &'a str,
    pub notice: LoginNotice,
    /// The name typed before, shown again.
    pub username: &'a str,
    pub redirect_uri: &'a str,
    /// Mail is on: link "Forgot your password?".
    pub offer_reset: bool,
    /// For [`LoginNotice::EmailNotVerified`]: the user's id and the token
    /// of the "send a new link" form.
    pub resend: Option<(&'a str, &'a str)>,
}

pub fn login(status: StatusCode, form: &LoginForm<'_>) -> Response {
    let LoginForm {
        client_name,
        request,
        csrf_token,
        notice,
        username,
        redirect_uri,
        offer_reset,
        resend,
    } = *form;
    let reset = if offer_reset {
        "<p class=\"aside\"><a href=\"/auth/password/forgot\">Forgot your password?</a></p>"
    } else {
        ""
    };
    let notice = match notice {
        LoginNotice::None => String::new(),
        LoginNotice::InvalidCredentials => {
            "<p class=\"error\" role=\"alert\">Incorrect username or password.</p>".to_owned()
        }
        LoginNotice::Locked { retry_after_secs } => format!(
            "<p class=\"error\" role=\"alert\">Too many failed attempts. Try again in {} {}.</p>",
            retry_after_secs.div_ceil(60).max(1),
            if retry_after_secs > 60 { "minutes" } else { "minute" }
        ),
        LoginNotice::EmailNotVerified(_) => {
            let form = resend
                .map(|(user, token)| {
                    format!(
                        "<form method=\"post\" action=\"/auth/email/verification/resend\">\
                         <input type=\"hidden\" name=\"user\" value=\"{}\">\
                         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
                         <button type=\"submit\" class=\"secondary\">Send a new link</button></form>",
                        escape(user),
                        escape(token)
                    )
                })
                .unwrap_or_default();
            format!(
                "<div class=\"error\" role=\"alert\"><p>Your email address is not verified yet. \
                 Follow the link in the mail we sent you, then sign in.</p>{form}</div>"
            )
        }
        LoginNotice::FormExpired => {
            "<p class=\"error\" role=\"alert\">The form expired. Please sign in again.</p>"
                .to_owned()
        }
    };
    let body = format!(
        "<h1>Sign in</h1><p>to continue to <strong>{client}</strong></p>{notice}\
         <form method=\"post\" action=\"/auth/authorize\">\
         <label for=\"username\">Username or email</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">{hidden}\
         <button type=\"submit\">Sign in</button></form>{reset}",
        client = escape(client_name),
        username = escape(username),
        csrf = escape(csrf_token),
        hidden = hidden_fields(request),
    );
    page(status, "Sign in", &body, &form_target(redirect_uri).into_iter().collect::<Vec<_>>())
}

fn describe(scope: &str) -> Option<&'static str> {
    match scope {
        scope::OPENID => None,
        scope::PROFILE => Some("your name and username"),
        scope::EMAIL => Some("your email address"),
        scope::ROLES => Some("your roles"),
        scope::OFFLINE_ACCESS => Some("access while you are away (a refresh token)"),
        scope::IDP_ADMIN => Some(
            "administer this identity provider as you, with your permissions \
             (users, roles, clients, keys, audit log)",
        ),
        scope::IDP_ACCOUNT => {
            Some("manage your account as you: change your password, see and end your sessions")
        }
        _ => Some("other access it asked for"),
    }
}

pub fn consent(
    client_name: &str,
    request: &AuthorizationRequest,
    scope: &Scope,
    csrf_token: &str,
    username: &str,
    redirect_uri: &str,
) -> Response {
    let mut items: Vec<String> = Vec::new();
    for s in scope.iter() {
        if let Some(text) = describe(s) {
            let item = if text == "other access it asked for" {
                format!("<li><code>{}</code></li>", escape(s))
            } else {
                format!("<li>{text}</li>")
            };
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
    if items.is_empty() {
        items.push("<li>who you are (your user id)</li>".into());
    }
    let body = format!(
        "<h1>Allow access?</h1><p><strong>{client}</strong> asks to see, for <strong>{user}</strong>:</p>\
         <ul>{items}</ul>\
         <form method=\"post\" action=\"/auth/authorize/consent\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></form>",
        client = escape(client_name),
        user = escape(username),
        items = items.concat(),
        csrf = escape(csrf_token),
        hidden = hidden_fields(request),
    );
    page(
        StatusCode::OK,
        "Allow access",
        &body,
        &form_target(redirect_uri).into_iter().collect::<Vec<_>>(),
    )
}

/// "Sign out of idp?": asked when a logout request does not show that the
/// signed-in user's own application sent it (OIDC RP-Initiated Logout §2).
/// `params` are the request's own, posted back with the answer; `notice`
/// says why the request itself was not trusted; `form_targets` are the
/// origins the answer may be redirected to.
pub fn logout_confirmation(
    status: StatusCode,
    username: &str,
    csrf_token: &str,
    params: &[(&str, &str)],
    notice: Option<&str>,
    form_targets: &[String],
) -> Response {
    let notice = notice
        .map(|text| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign out of idp?</h1>{notice}\
         <p>You are signed in as <strong>{user}</strong>. Sign out of this identity provider \
         in this browser?</p>\
         <form method=\"post\" action=\"/auth/logout\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">{hidden}\
         <button type=\"submit\">Sign out</button></form>\
         <p>If you did not ask to sign out, close this page: you stay signed in.</p>",
        user = escape(username),
        csrf = escape(csrf_token),
        hidden = hidden_inputs(params.iter().copied()),
    );
    page(status, "Sign out", &body, form_targets)
}

pub fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You have been signed out</h1><p>You can close this window.</p>",
        &[],
    )
}
