//! Validating an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2)
//! as a chain of small named checks, each testable alone. The order
//! matters: until the client and the redirect URI are established, nothing
//! may be redirected (no open redirect), so those checks fail with a page;
//! the checks after them fail with a redirect carrying `error` and `state`.

use std::collections::HashMap;

use idp_core::client::{Client, GrantType};
use idp_core::pkce;
use idp_core::scope::{self, Scope};

/// The parameters of an authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    /// OIDC Core §6 request objects, which idp does not take: present only
    /// so that they are refused rather than ignored. Never carried through
    /// the forms (a request with one never gets that far).
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

impl AuthorizationRequest {
    /// An OpenID Connect request: scope `openid` (OIDC Core §3.1.2.1).
    pub fn is_openid(&self) -> bool {
        self.scope.as_deref().is_some_and(|s| s.split(' ').any(|t| t == scope::OPENID))
    }

    /// The names carried through the login and consent forms.
    pub const PARAMS: [&'static str; 10] = [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
    ];

    pub fn from_map(map: &HashMap<String, String>) -> Self {
        let get = |k: &str| map.get(k).filter(|v| !v.is_empty()).cloned();
        Self {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            response_type: get("response_type"),
            scope: get("scope"),
            state: get("state"),
            nonce: get("nonce"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            prompt: get("prompt"),
            max_age: get("max_age"),
            request: get("request"),
            request_uri: get("request_uri"),
        }
    }

    /// The parameters as (name, value) pairs, for hidden form fields and
    /// the continuation URL.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let values = [
            &self.client_id,
            &self.redirect_uri,
            &self.response_type,
            &self.scope,
            &self.state,
            &self.nonce,
            &self.code_challenge,
            &self.code_challenge_method,
            &self.prompt,
            &self.max_age,
        ];
        Self::PARAMS.iter().zip(values).filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))).collect()
    }

    /// The same request without `prompt=login`: after the user has just
    /// logged in, asking again would loop.
    pub fn after_login(&self) -> Self {
        let mut next = self.clone();
        if next.prompt.as_deref().is_some_and(|p| p.split(' ').any(|v| v == "login")) {
            next.prompt = None;
        }
        next
    }
}

/// How a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Before the redirect URI is trusted: shown as an error page, never
    /// redirected.
    Page(String),
    /// After: sent back to the client (RFC 6749 §4.1.2.1).
    Redirect { error: &'static str, description: String },
}

fn redirect(error: &'static str, description: impl Into<String>) -> Rejection {
    // RFC 6749 §4.1.2.1: the same character set as at the token endpoint.
    let description = idp_core::error_text::error_description(description.into().into());
    Rejection::Redirect { error, description: description.into_owned() }
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prompt {
    #[default]
    Default,
    /// Never show a page: fail with `login_required`/`consent_required`.
    None,
    /// Ask for the password even with a live session.
    Login,
    /// Ask for consent even if it was given before.
    Consent,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Validated {
    pub client: Client,
    pub redirect_uri: String,
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
}

/// Options the server's settings decide.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// PKCE for confidential clients too (always for public ones).
    pub require_pkce_for_confidential: bool,
}

const MAX_PARAM_LEN: usize = 2_048;

/// The client must exist (`client` is what looking `client_id` up found).
pub fn check_client(
    request: &AuthorizationRequest,
    client: Option<Client>,
) -> Result<Client, Rejection> {
    if request.client_id.is_none() {
        return Err(Rejection::Page("The request names no client (client_id is missing).".into()));
    }
    client.ok_or_else(|| Rejection::Page("The client is not known to this server.".into()))
}

/// The redirect URI must be registered for the client, exactly (RFC 8252's
/// loopback ports aside). Without one, a plain OAuth request of a client
/// with exactly one registered URI uses it (RFC 6749 §3.1.2.3); an OpenID
/// request (scope `openid`) must name it (OIDC Core §3.1.2.1: REQUIRED).
pub fn check_redirect_uri(
    request: &AuthorizationRequest,
    client: &Client,
) -> Result<String, Rejection> {
    match request.redirect_uri.as_deref() {
        Some(uri)
            if idp_core::redirect_uri::matches(&client.redirect_uris, uri, client.client_type) =>
        {
            Ok(uri.to_owned())
        }
        Some(_) => {
            Err(Rejection::Page("The redirect URI is not registered for this client.".into()))
        }
        None if request.is_openid() => Err(Rejection::Page(
            "An OpenID Connect request must name its redirect URI (redirect_uri is missing)."
                .into(),
        )),
        None => match client.redirect_uris.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(Rejection::Page(
                "The request names no redirect URI (redirect_uri is missing).".into(),
            )),
        },
    }
}

/// Parameters are bounded in size; a state or nonce of megabytes is abuse.
pub fn check_lengths(request: &AuthorizationRequest) -> Result<(), Rejection> {
    if request.pairs().iter().any(|(_, v)| v.len() > MAX_PARAM_LEN) {
        return Err(redirect("invalid_request", "A parameter is too long."));
    }
    Ok(())
}

/// Only the code flow (`response_type=code`).
pub fn check_response_type(request: &AuthorizationRequest) -> Result<(), Rejection> {
    match request.response_type.as_deref() {
        Some("code") => Ok(()),
        None => Err(redirect("invalid_request", "response_type is missing.")),
        Some(_) => {
            Err(redirect("unsupported_response_type", "Only response_type=code is supported."))
        }
    }
}

/// The client must be allowed the authorization code grant.
pub fn check_grant(client: &Client) -> Result<(), Rejection> {
    if client.allows_grant(GrantType::AuthorizationCode) {
        Ok(())
    } else {
        Err(redirect("unauthorized_client", "This client may not use the authorization code flow."))
    }
}

/// PKCE with S256: required for public clients and, by default, for all;
/// `plain` is refused.
pub fn check_pkce(
    request: &AuthorizationRequest,
    client: &Client,
    policy: Policy,
) -> Result<Option<String>, Rejection> {
    let required = !client.is_confidential() || policy.require_pkce_for_confidential;
    match (request.code_challenge.as_deref(), request.code_challenge_method.as_deref()) {
        (None, None) if !required => Ok(None),
        (None, _) => {
            Err(redirect("invalid_request", "code_challenge is required (PKCE with S256)."))
        }
        (Some(_), Some(method)) if method != pkce::S256 => Err(redirect(
            "invalid_request",
            "code_challenge_method must be S256; plain is not accepted.",
        )),
        (Some(_), None) => Err(redirect(
            "invalid_request",
            "code_challenge_method is required and must be S256 (the default, plain, is not accepted).",
        )),
        (Some(challenge), Some(_)) if !pkce::valid_challenge(challenge) => Err(redirect(
            "invalid_request",
            "code_challenge must be a BASE64URL-encoded SHA-256 hash.",
        )),
        (Some(challenge), Some(_)) => Ok(Some(challenge.to_owned())),
    }
}

/// The requested scopes, within what the client may ask for; by default
/// the OpenID Connect scopes it is allowed.
pub fn check_scope(request: &AuthorizationRequest, client: &Client) -> Result<Scope, Rejection> {
    let requested = match request.scope.as_deref() {
        Some(raw) => Scope::parse(raw).map_err(|e| redirect("invalid_scope", e.to_string()))?,
        None => Scope::from_tokens(
            scope::DEFAULT_USER_SCOPES
                .iter()
                .filter(|s| client.scopes.iter().any(|a| a == *s))
                .copied(),
        ),
    };
    let refused: Vec<&str> = requested.not_in(&client.scopes).collect();
    if !refused.is_empty() {
        return Err(redirect(
            "invalid_scope",
            format!("Scope not allowed for this client: {}", refused.join(" ")),
        ));
    }
    Ok(requested)
}

/// `prompt`: `none`, `login`, `consent`; `none` with anything else is
/// invalid (OIDC Core §3.1.2.1).
pub fn check_prompt(request: &AuthorizationRequest) -> Result<Prompt, Rejection> {
    let Some(raw) = request.prompt.as_deref() else { return Ok(Prompt::Default) };
    let values: Vec<&str> = raw.split(' ').filter(|v| !v.is_empty()).collect();
    if values.contains(&"none") && values.len() > 1 {
        return Err(redirect(
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        ));
    }
    let mut prompt = Prompt::Default;
    for value in values {
        prompt = match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" if prompt != Prompt::Login => Prompt::Consent,
            "consent" => Prompt::Login,
            "select_account" => prompt,
            _ => {
                return Err(redirect(
                    "invalid_request",
                    "prompt must be none, login, consent or select_account.",
                ));
            }
        };
    }
    Ok(prompt)
}

/// `nonce` is passed into the ID token verbatim; keep it printable.
pub fn check_nonce(request: &AuthorizationRequest) -> Result<Option<String>, Rejection> {
    match request.nonce.as_deref() {
        Some(nonce) if nonce.chars().any(char::is_control) => {
            Err(redirect("invalid_request", "nonce must not contain control characters."))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// `max_age` in seconds (OIDC Core §3.1.2.1).
pub fn check_max_age(request: &AuthorizationRequest) -> Result<Option<u64>, Rejection> {
    match request.max_age.as_deref() {
        None => Ok(None),
        Some(raw) => raw
            .parse::<u64>()
            .map(Some)
            .map_err(|_| redirect("invalid_request", "max_age must be a number of seconds.")),
    }
}

/// Request objects (OIDC Core §6) are not supported, and say so, as §6.1
/// and §6.2 ask, instead of being ignored: a client that signed its
/// parameters into one must not have them silently dropped.
pub fn check_request_objects(request: &AuthorizationRequest) -> Result<(), Rejection> {
    if request.request.is_some() {
        return Err(redirect(
            "request_not_supported",
            "Request objects (the request parameter) are not supported.",
        ));
    }
    if request.request_uri.is_some() {
        return Err(redirect(
            "request_uri_not_supported",
            "The request_uri parameter is not supported.",
        ));
    }
    Ok(())
}

/// Where a rejection after the redirect URI is trusted goes back to: the
/// redirect URI and the request's `state`.
pub type ReturnTo = Option<(String, Option<String>)>;

/// Runs every check in order. `client` is the lookup of `client_id`.
pub fn validate(
    request: &AuthorizationRequest,
    client: Option<Client>,
    policy: Policy,
) -> Result<Validated, (Rejection, ReturnTo)> {
    let client = check_client(request, client).map_err(|r| (r, None))?;
    let redirect_uri = check_redirect_uri(request, &client).map_err(|r| (r, None))?;
    // From here on, failures go back to the (now trusted) redirect URI.
    let back = |r: Rejection| (r, Some((redirect_uri.clone(), request.state.clone())));
    check_lengths(request).map_err(back)?;
    check_request_objects(request).map_err(back)?;
    check_response_type(request).map_err(back)?;
    check_grant(&client).map_err(back)?;
    let code_challenge = check_pkce(request, &client, policy).map_err(back)?;
    let scope = check_scope(request, &client).map_err(back)?;
    let prompt = check_prompt(request).map_err(back)?;
    let nonce = check_nonce(request).map_err(back)?;
    let max_age = check_max_age(request).map_err(back)?;
    Ok(Validated {
        client,
        redirect_uri,
        scope,
        state: request.state.clone(),
        nonce,
        code_challenge,
        prompt,
        max_age,
    })
}

#[cfg(test)]
mod tests;
