//! `/auth/authorize`: the authorization endpoint (RFC 6749 §4.1.1, OIDC
//! Core §3.1.2), its login form (POST), and the consent form.

// The helpers here fail with the page to send; a response is large, but it
// is built once per failed request, and boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use idp_core::csrf::ConsentSubject;
use idp_core::user::User;
use idp_store::repo::browser_sessions::BrowserSession;
use idp_store::repo::clients;

use super::cookies::{self, BrowserCookie, Cookies, csrf_cookie, signed_csrf_cookie};
use super::html::{error_page, failure_page, form_fields, redirect, store_failure};
use super::pages::{self, LoginNotice};
use crate::http::extract::Origin;
use crate::http::openapi::responses::{PageFormErrors, PageUnavailable};
use crate::oauth::authorize::{self, AuthorizationRequest, Policy, Prompt, Rejection, Validated};
use crate::oauth::form::FormFields;
use crate::service::browser;
use crate::service::login::{self, LoginError};
use crate::state::AppState;

type Page = Response;

/// Runs the checks; a failure is an error page (before the redirect URI is
/// trusted) or a redirect back to the client with `error` and `state`.
async fn validate(state: &AppState, request: &AuthorizationRequest) -> Result<Validated, Page> {
    let client = match request.client_id.as_deref() {
        Some(id) if id.len() <= 255 => {
            clients::find(state.db.read(), id).await.map_err(store_failure)?
        }
        _ => None,
    };
    let policy = Policy {
        require_pkce_for_confidential: state.settings.require_pkce_for_confidential_clients,
    };
    authorize::validate(request, client, policy).map_err(|(rejection, back)| {
        match (rejection, back) {
            (Rejection::Page(message), _)
            | (Rejection::Redirect { description: message, .. }, None) => {
                error_page(StatusCode::BAD_REQUEST, &message)
            }
            (Rejection::Redirect { error, description }, Some((uri, state_param))) => {
                error_redirect(
                    state,
                    &uri,
                    error,
                    &description,
                    state_param.as_deref(),
                    StatusCode::FOUND,
                )
            }
        }
    })
}

/// `redirect_uri` with the response parameters added, and `iss` (RFC 9207)
/// so the client can tell which server answered.
fn client_location(state: &AppState, redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in params {
                    query.append_pair(k, v);
                }
                query.append_pair("iss", &state.settings.issuer);
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

fn error_redirect(
    state: &AppState,
    redirect_uri: &str,
    error: &str,
    description: &str,
    state_param: Option<&str>,
    status: StatusCode,
) -> Page {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state_param {
        params.push(("state", s));
    }
    redirect(status, &client_location(state, redirect_uri, &params))
}

/// `/auth/authorize?…` for a request (the continuation after a form).
fn continuation(request: &AuthorizationRequest) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in request.pairs() {
        query.append_pair(k, v);
    }
    format!("/auth/authorize?{}", query.finish())
}

/// What a consent page asks for, and who is asked.
fn consent_subject<'a>(
    v: &'a Validated,
    session: &BrowserSession,
    user: &User,
) -> ConsentSubject<'a> {
    ConsentSubject {
        browser_session: session.id,
        user: user.id,
        client_id: v.client.id.as_str(),
        scope: &v.scope,
        redirect_uri: &v.redirect_uri,
    }
}

fn form_expired() -> Page {
    error_page(StatusCode::FORBIDDEN, "The form expired. Go back to the application and try again.")
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    v: &Validated,
    request: &AuthorizationRequest,
    notice: LoginNotice,
    username: &str,
) -> Page {
    let (csrf, set) = csrf_cookie(state, headers);
    let token = state.csrf.token(&csrf, "login");
    let resend = match notice {
        LoginNotice::EmailNotVerified(user) => {
            let user = user.to_string();
            let token = state.csrf.token(&csrf, &super::email::resend_purpose(&user));
            Some((user, token))
        }
        _ => None,
    };
    let form = pages::LoginForm {
        client_name: &v.client.name,
        request,
        csrf_token: &token,
        notice,
        username,
        redirect_uri: &v.redirect_uri,
        offer_reset: state.settings.mail.is_on(),
        resend: resend.as_ref().map(|(user, token)| (user.as_str(), token.as_str())),
    };
    let mut page = pages::login(status, &form);
    if let Some(set) = set {
        cookies::set(&mut page, &set);
    }
    page
}

/// Whether the user must (still) be asked before this client gets the scopes.
async fn needs_consent(
    state: &AppState,
    v: &Validated,
    session: &BrowserSession,
) -> Result<bool, Page> {
    let prompt_consent = v.prompt == Prompt::Consent;
    crate::service::consent::needed(state, session.user_id, &v.client, &v.scope, prompt_consent)
        .await
        .map_err(failure_page)
}

/// An authorization request by GET (by POST it is answered the same way):
/// the login page, the consent page, or a code.
#[utoipa::path(
    get,
    path = "/auth/authorize",
    tag = "oidc",
    params(
        ("client_id" = String, Query), ("redirect_uri" = String, Query), ("response_type" = String, Query, description = "`code`"),
        ("scope" = Option<String>, Query), ("state" = Option<String>, Query), ("nonce" = Option<String>, Query),
        ("code_challenge" = String, Query), ("code_challenge_method" = String, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none`, `login`, `consent`"), ("max_age" = Option<u64>, Query)
    ),
    responses(
        (status = 200, description = "The login or consent page", body = String, content_type = "text/html"),
        (status = 302, description = "To the redirect URI with `code` (or `error`), `state` and `iss`",
            headers(("Location" = String))),
        (status = 400, description = "An error page: unknown client, unregistered redirect URI, malformed request",
            body = String, content_type = "text/html"),
        (status = 503, response = PageUnavailable)
    )
)]
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Page {
    match FormFields::from_urlencoded(query.unwrap_or_default().as_bytes()) {
        Ok(fields) => answer(&state, &headers, &fields).await,
        Err(e) => error_page(StatusCode::BAD_REQUEST, &e.description),
    }
}

/// The fields only the login form sends. Authorization requests have none
/// of them (OIDC Core §3.1.2.1 lists its parameters), so their presence
/// tells the form apart from a request sent by POST; with any of them the
/// POST is a login attempt, whose CSRF token must then be valid.
const LOGIN_FIELDS: [&str; 3] = ["csrf_token", "username", "password"];

/// Whether an urlencoded POST body is the login form rather than an
/// authorization request. Decided on the raw body, so that the rate limit
/// (which must know before the handler runs) and the handler agree.
pub(super) fn is_login_form(body: &[u8]) -> bool {
    url::form_urlencoded::parse(body).any(|(name, _)| LOGIN_FIELDS.contains(&name.as_ref()))
}

/// POST: the login form, or an authorization request sent by POST (OIDC
/// Core §3.1.2.1: the authorization endpoint MUST support it), which is
/// answered exactly as the same request by GET.
#[utoipa::path(
    post,
    path = "/auth/authorize",
    tag = "oidc",
    request_body(content = AuthorizeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The login or consent page", body = String, content_type = "text/html"),
        (status = 302, description = "To the redirect URI with `code` (or `error`), `state` and `iss`",
            headers(("Location" = String))),
        (status = 303, description = "Signed in: on to the authorization request", headers(("Location" = String))),
        PageFormErrors,
        (status = 403, description = "The login page again: the form expired (its CSRF token is missing or stale)",
            body = String, content_type = "text/html"),
        (status = 429, description = "A login page: locked out after failed passwords, or too many login attempts",
            body = String, content_type = "text/html", headers(("Retry-After" = u64)))
    )
)]
pub async fn authorize_post(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Page {
    let fields = match form_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(page) => return page,
    };
    if is_login_form(&body) {
        login(&state, &origin, &headers, &fields).await
    } else {
        answer(&state, &headers, &fields).await
    }
}

/// An authorization request (GET, or POST without a login form): the login
/// page, the consent page, or a code.
async fn answer(state: &AppState, headers: &HeaderMap, fields: &FormFields) -> Page {
    let request = AuthorizationRequest::from_map(fields.as_map());
    let v = match validate(state, &request).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let session_cookie = Cookies::of(state).get(headers, BrowserCookie::Session);
    let session = match browser::current(state, session_cookie).await {
        Ok(session) => session,
        Err(e) => return store_failure(e),
    };
    let now = state.now();
    let fresh = |s: &BrowserSession| {
        v.max_age.is_none_or(|max| (s.auth_time + std::time::Duration::from_secs(max)) >= now)
    };
    match session {
        Some((browser_session, user)) if v.prompt != Prompt::Login && fresh(&browser_session) => {
            match needs_consent(state, &v, &browser_session).await {
                Ok(false) => {}
                Ok(true) if v.prompt == Prompt::None => {
                    return error_redirect(
                        state,
                        &v.redirect_uri,
                        "consent_required",
                        "The user has not consented.",
                        v.state.as_deref(),
                        StatusCode::FOUND,
                    );
                }
                Ok(true) => {
                    // The answer is good only for this request, this
                    // browser session and a few minutes.
                    let (csrf, set) = csrf_cookie(state, headers);
                    let subject = consent_subject(&v, &browser_session, &user);
                    let token = state.csrf.consent_token(&csrf, &subject, state.now());
                    let mut page = pages::consent(
                        &v.client.name,
                        &request,
                        &v.scope,
                        &token,
                        &user.username,
                        &v.redirect_uri,
                    );
                    if let Some(set) = set {
                        cookies::set(&mut page, &set);
                    }
                    return page;
                }
                Err(page) => return page,
            }
            match crate::service::authorization::issue_code(
                state,
                &v.code_request(),
                &browser_session,
            )
            .await
            {
                Ok(code) => {
                    let mut params = vec![("code", code.expose())];
                    if let Some(s) = v.state.as_deref() {
                        params.push(("state", s));
                    }
                    redirect(StatusCode::FOUND, &client_location(state, &v.redirect_uri, &params))
                }
                Err(e) => store_failure(e),
            }
        }
        _ if v.prompt == Prompt::None => error_redirect(
            state,
            &v.redirect_uri,
            "login_required",
            "The user is not signed in.",
            v.state.as_deref(),
            StatusCode::FOUND,
        ),
        _ => login_page(state, headers, StatusCode::OK, &v, &request, LoginNotice::None, ""),
    }
}

/// The login form: `username`, `password`, `csrf_token`, and the
/// authorization request in hidden fields (checked again here).
async fn login(
    state: &AppState,
    origin: &idp_core::session::RequestOrigin,
    headers: &HeaderMap,
    fields: &FormFields,
) -> Page {
    let request = AuthorizationRequest::from_map(fields.as_map());
    let v = match validate(state, &request).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let username = fields.get("username").unwrap_or_default();
    let csrf_ok = signed_csrf_cookie(state, headers)
        .zip(fields.get("csrf_token"))
        .is_some_and(|(csrf, token)| state.csrf.verify(&csrf, "login", token));
    if !csrf_ok {
        return login_page(
            state,
            headers,
            StatusCode::FORBIDDEN,
            &v,
            &request,
            LoginNotice::FormExpired,
            username,
        );
    }
    let password =
        idp_core::SecretString::from(fields.get("password").unwrap_or_default().to_owned());
    let start = |user| async move { browser::start(state, &user, origin).await };
    match login::sign_in(state, username, password, v.client.id.as_str(), origin, start).await {
        Ok((_, cookie_value)) => {
            let mut response =
                redirect(StatusCode::SEE_OTHER, &continuation(&request.after_login()));
            let session_cookie = Cookies::of(state).build(
                BrowserCookie::Session,
                cookie_value.expose().to_owned(),
                state.settings.session_max_lifetime,
            );
            cookies::set(&mut response, &session_cookie);
            response
        }
        Err(LoginError::InvalidCredentials | LoginError::Disabled | LoginError::Changed) => {
            login_page(
                state,
                headers,
                StatusCode::BAD_REQUEST,
                &v,
                &request,
                LoginNotice::InvalidCredentials,
                username,
            )
        }
        Err(LoginError::EmailNotVerified(user)) => login_page(
            state,
            headers,
            StatusCode::FORBIDDEN,
            &v,
            &request,
            LoginNotice::EmailNotVerified(user),
            username,
        ),
        Err(LoginError::Locked { retry_after_secs }) => {
            let mut page = login_page(
                state,
                headers,
                StatusCode::TOO_MANY_REQUESTS,
                &v,
                &request,
                LoginNotice::Locked { retry_after_secs },
                username,
            );
            if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                page.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
            }
            page
        }
        Err(LoginError::Failed(failure)) => failure_page(failure),
    }
}

/// POST of the consent form: `decision=allow|deny`, `csrf_token` (the
/// consent token the page was shown with), and the authorization request.
pub async fn consent(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Page {
    let fields = match form_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(page) => return page,
    };
    let request = AuthorizationRequest::from_map(fields.as_map());
    let v = match validate(&state, &request).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let Some(csrf) = signed_csrf_cookie(&state, &headers) else { return form_expired() };
    let session_cookie = Cookies::of(&state).get(&headers, BrowserCookie::Session);
    let (session, user) = match browser::current(&state, session_cookie).await {
        Ok(Some(found)) => found,
        // Signed out meanwhile: start again from the login page.
        Ok(None) => return redirect(StatusCode::SEE_OTHER, &continuation(&request)),
        Err(e) => return store_failure(e),
    };
    // The token must have been shown to this browser session and user, for
    // this client, scope and redirect URI, a few minutes ago at most: a
    // token minted for one request approves nothing else.
    let subject = consent_subject(&v, &session, &user);
    let token_ok = fields
        .get("csrf_token")
        .is_some_and(|token| state.csrf.verify_consent(&csrf, &subject, token, state.now()));
    if !token_ok {
        return form_expired();
    }
    match fields.get("decision") {
        Some("allow") => {
            // Added to what was granted before, atomically: two answers for
            // different scopes arriving together both count.
            let granted = crate::service::consent::grant(
                &state,
                session.user_id,
                &v.client,
                &v.scope,
                &origin,
            );
            if let Err(e) = granted.await {
                return failure_page(e);
            }
            let mut next = request.after_login();
            next.prompt = None;
            redirect(StatusCode::SEE_OTHER, &continuation(&next))
        }
        Some("deny") => error_redirect(
            &state,
            &v.redirect_uri,
            "access_denied",
            "The user denied the request.",
            v.state.as_deref(),
            StatusCode::SEE_OTHER,
        ),
        _ => error_page(StatusCode::BAD_REQUEST, "The form was incomplete."),
    }
}

/// An authorization request sent by POST, or the login form, which carries
/// the request in hidden fields plus `csrf_token`, `username` and
/// `password` (any of those three makes the POST a login attempt).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct AuthorizeForm {
    client_id: String,
    redirect_uri: String,
    /// `code`.
    response_type: String,
    #[schema(nullable = false)]
    scope: Option<String>,
    #[schema(nullable = false)]
    state: Option<String>,
    #[schema(nullable = false)]
    nonce: Option<String>,
    code_challenge: String,
    /// `S256`.
    code_challenge_method: String,
    /// `none`, `login`, `consent`.
    #[schema(nullable = false)]
    prompt: Option<String>,
    #[schema(nullable = false)]
    max_age: Option<u64>,
    /// The login form: from the page, bound to this browser's CSRF cookie.
    #[schema(nullable = false)]
    csrf_token: Option<String>,
    /// The login form.
    #[schema(nullable = false)]
    username: Option<String>,
    /// The login form.
    #[schema(nullable = false, format = Password)]
    password: Option<String>,
}
