//! The one place where failures become HTTP responses for the non-OAuth API:
//! RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, ApiError>`; domain and store errors convert into
//! it with `From`, and only here are status codes chosen. Internal errors are
//! logged with their cause chain and answered with a fixed body.

use std::borrow::Cow;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid input field, listed in a 422 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub message: Cow<'static, str>,
}

impl FieldError {
    pub fn new(field: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An RFC 9457 problem document as this API sends it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status code says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: Cow<'static, str>,
    pub status: u16,
    pub detail: Cow<'static, str>,
    /// Present on validation errors: one entry per bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Why a bearer token was refused (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No credentials at all: the challenge carries no error code.
    Missing,
    /// Malformed, expired, revoked, badly signed, wrong issuer/audience/type.
    InvalidToken,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("unauthorized")]
    Unauthorized(BearerError),
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// A valid token without the scope a resource needs (RFC 6750 §3.1).
    #[error("{detail}")]
    InsufficientScope { scope: &'static str, detail: Cow<'static, str> },
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(Cow<'static, str>),
    #[error("{detail}")]
    TooManyRequests { retry_after_secs: u64, detail: Cow<'static, str> },
    #[error("{detail}")]
    Unavailable { retry_after_secs: u64, detail: Cow<'static, str> },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::BadRequest(detail.into())
    }

    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::NotFound(detail.into())
    }

    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict(detail.into())
    }

    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Forbidden(detail.into())
    }

    pub fn invalid_field(
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> Cow<'static, str> {
        match self {
            Self::BadRequest(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::UnsupportedMediaType(d)
            | Self::InsufficientScope { detail: d, .. }
            | Self::TooManyRequests { detail: d, .. }
            | Self::Unavailable { detail: d, .. } => d.clone(),
            Self::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message).into(),
                _ => "Some fields are invalid; see `errors`.".into(),
            },
            Self::Unauthorized(BearerError::Missing) => "Not authenticated".into(),
            Self::Unauthorized(BearerError::InvalidToken) => {
                "Invalid or expired access token".into()
            }
            Self::MethodNotAllowed => "This resource does not support that method.".into(),
            Self::PayloadTooLarge => {
                "The request body is larger than this endpoint accepts.".into()
            }
            Self::Internal(_) => "An internal error occurred. It has been logged.".into(),
        }
    }
}

/// Builds the problem response for `status`; also used for errors raised
/// outside handlers (fallbacks, middleware).
pub fn problem_response(
    status: StatusCode,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
) -> Response {
    let problem = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))], body).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "request failed");
        }
        let status = self.status();
        let detail = self.detail();
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        match &self {
            Self::Unauthorized(kind) => {
                let challenge = match kind {
                    BearerError::Missing => HeaderValue::from_static("Bearer"),
                    BearerError::InvalidToken => {
                        HeaderValue::from_static(r#"Bearer error="invalid_token""#)
                    }
                };
                headers.push((header::WWW_AUTHENTICATE, challenge));
            }
            Self::InsufficientScope { scope, .. } => {
                let challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
                if let Ok(challenge) = HeaderValue::from_str(&challenge) {
                    headers.push((header::WWW_AUTHENTICATE, challenge));
                }
            }
            Self::TooManyRequests { retry_after_secs, .. }
            | Self::Unavailable { retry_after_secs, .. } => {
                headers.push((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)));
            }
            _ => {}
        }
        let errors = match self {
            Self::Validation(errors) => errors,
            _ => Vec::new(),
        };
        let mut response = problem_response(status, detail, errors);
        response.headers_mut().extend(headers);
        response
    }
}

impl From<idp_store::StoreError> for ApiError {
    fn from(err: idp_store::StoreError) -> Self {
        if err.is_unavailable() {
            tracing::error!(error = %err, "database unavailable");
            return Self::Unavailable {
                retry_after_secs: 5,
                detail: "The database is unavailable; try again shortly.".into(),
            };
        }
        if err.is_unstorable_input() {
            return Self::bad_request(UNSTORABLE_INPUT);
        }
        Self::Internal(err.into())
    }
}

pub use crate::service::failure::UNSTORABLE_INPUT;

impl From<crate::service::admin::ManageError> for ApiError {
    fn from(err: crate::service::admin::ManageError) -> Self {
        use crate::service::admin::ManageError;
        match err {
            ManageError::NotFound(what) => Self::not_found(format!("No such {what}.")),
            ManageError::Invalid(violations) => Self::Validation(
                violations.into_iter().map(|v| FieldError::new(v.field, v.message)).collect(),
            ),
            ManageError::Conflict(detail) | ManageError::Refused(detail) => Self::conflict(detail),
            ManageError::Forbidden(detail) => Self::forbidden(detail),
            ManageError::Failed(failure) => failure.into(),
        }
    }
}

// Every use case's failure, as the JSON API answers it: the one map for
// problem+json.

impl From<crate::service::Failure> for ApiError {
    fn from(err: crate::service::Failure) -> Self {
        use crate::service::Failure;
        match err {
            Failure::Busy => Self::Unavailable {
                retry_after_secs: crate::service::hashing::RETRY_AFTER_SECS,
                detail: "The server is busy; try again shortly.".into(),
            },
            Failure::Store(e) => e.into(),
            Failure::Unexpected(e) => Self::Internal(e),
        }
    }
}

impl From<crate::service::registration::RegistrationError> for ApiError {
    fn from(err: crate::service::registration::RegistrationError) -> Self {
        use crate::service::registration::RegistrationError;
        match err {
            RegistrationError::Invalid(violations) => Self::Validation(
                violations.into_iter().map(|v| FieldError::new(v.field, v.message)).collect(),
            ),
            RegistrationError::UsernameTaken | RegistrationError::EmailTaken => {
                Self::conflict(err.to_string())
            }
            RegistrationError::Failed(failure) => failure.into(),
        }
    }
}

impl From<crate::service::users::PasswordChangeError> for ApiError {
    fn from(err: crate::service::users::PasswordChangeError) -> Self {
        use crate::service::users::PasswordChangeError;
        match err {
            PasswordChangeError::WrongCurrentPassword => {
                Self::bad_request("The current password is incorrect.")
            }
            PasswordChangeError::Locked { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs, detail: err.to_string().into() }
            }
            PasswordChangeError::Manage(e) => e.into(),
        }
    }
}

impl From<crate::service::mail::MailOff> for ApiError {
    fn from(err: crate::service::mail::MailOff) -> Self {
        Self::Unavailable {
            retry_after_secs: 3_600,
            detail: format!("{}.", capitalized(&err.to_string())).into(),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

impl From<crate::service::recovery::RecoveryError> for ApiError {
    fn from(err: crate::service::recovery::RecoveryError) -> Self {
        use crate::service::recovery::RecoveryError;
        match err {
            RecoveryError::MailOff(off) => off.into(),
            RecoveryError::Invalid(field, message) => Self::invalid_field(field, message),
            RecoveryError::InvalidToken => Self::bad_request(err.to_string()),
            RecoveryError::Manage(e) => e.into(),
            RecoveryError::Failed(failure) => failure.into(),
        }
    }
}

impl From<crate::service::email_address::EmailError> for ApiError {
    fn from(err: crate::service::email_address::EmailError) -> Self {
        use crate::service::email_address::EmailError;
        match err {
            EmailError::MailOff(off) => off.into(),
            EmailError::Invalid(field, message) => Self::invalid_field(field, message),
            EmailError::AlreadyVerified | EmailError::Taken => Self::conflict(err.to_string()),
            EmailError::WrongPassword => Self::bad_request("The current password is incorrect."),
            EmailError::Locked { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs, detail: err.to_string().into() }
            }
            EmailError::InvalidToken => Self::bad_request(err.to_string()),
            EmailError::Failed(failure) => failure.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_errors_list_every_field() {
        let err = ApiError::Validation(vec![
            FieldError::new("username", "must be 3 to 64 characters"),
            FieldError::new("email", "is not a valid email address"),
        ]);
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = body_json(response).await;
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][1]["field"], "email");
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_their_cause() {
        let response =
            ApiError::internal(anyhow::anyhow!("connection to 10.0.0.5 refused")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert!(!body.to_string().contains("10.0.0.5"));
    }

    #[tokio::test]
    async fn invalid_tokens_get_a_bearer_challenge() {
        let response = ApiError::Unauthorized(BearerError::InvalidToken).into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
    }
}
