//! Errors of the OAuth endpoints (token, revoke, introspect): RFC 6749 §5.2
//! bodies, plus the original service's `detail` field carrying the same text,
//! so that its clients, which read `detail`, keep working.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The registered error codes (RFC 6749 §5.2, RFC 8707 §2, RFC 7009 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedTokenType,
    InvalidScope,
    InvalidTarget,
    ServerError,
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An error as the token endpoint answers it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: Cow<'static, str>,
    /// Overrides the status the code implies (429 for lockouts and rate limits).
    status: Option<StatusCode>,
    retry_after_secs: Option<u64>,
    /// How the client tried to authenticate, for the `invalid_client`
    /// challenge (RFC 6749 §5.2: Basic when it used Basic).
    basic_challenge: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    pub error: OAuthErrorCode,
    pub error_description: Cow<'static, str>,
    /// The same text as `error_description`, for clients of the original service.
    pub detail: Cow<'static, str>,
}

impl OAuthError {
    /// `description` is kept to the characters RFC 6749 §5.2 allows (it
    /// may quote what the client sent).
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: idp_core::error_text::error_description(description.into()),
            status: None,
            retry_after_secs: None,
            basic_challenge: false,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::UnauthorizedClient, description)
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    pub fn server_error(err: impl Into<anyhow::Error>) -> Self {
        let err = err.into();
        tracing::error!(error = format!("{err:#}"), "token endpoint failed");
        Self::new(OAuthErrorCode::ServerError, "An internal error occurred. It has been logged.")
    }

    /// 429 with `Retry-After`, keeping the RFC body.
    pub fn too_many_requests(mut self, retry_after_secs: u64) -> Self {
        self.status = Some(StatusCode::TOO_MANY_REQUESTS);
        self.retry_after_secs = Some(retry_after_secs.max(1));
        self
    }

    pub fn unavailable(retry_after_secs: u64, description: impl Into<Cow<'static, str>>) -> Self {
        let mut err = Self::new(OAuthErrorCode::TemporarilyUnavailable, description);
        err.status = Some(StatusCode::SERVICE_UNAVAILABLE);
        err.retry_after_secs = Some(retry_after_secs.max(1));
        err
    }

    /// A status other than the one the code implies (415, 413 for bodies
    /// the token endpoint cannot read).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_basic_challenge(mut self) -> Self {
        self.basic_challenge = true;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(match self.code {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        })
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = OAuthErrorBody {
            error: self.code,
            detail: self.description.clone(),
            error_description: self.description,
        };
        let mut response = (
            status,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response();
        let headers = response.headers_mut();
        if self.code == OAuthErrorCode::InvalidClient {
            let challenge = if self.basic_challenge {
                r#"Basic realm="idp", charset="UTF-8""#
            } else {
                r#"Bearer realm="idp""#
            };
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<idp_store::StoreError> for OAuthError {
    fn from(err: idp_store::StoreError) -> Self {
        if err.is_unavailable() {
            tracing::error!(error = %err, "database unavailable");
            return Self::unavailable(
                5,
                "The service is temporarily unavailable; try again shortly.",
            );
        }
        if err.is_unstorable_input() {
            return Self::invalid_request(crate::service::failure::UNSTORABLE_INPUT);
        }
        Self::server_error(err)
    }
}

// Every use case's failure, as the token, revocation and introspection
// endpoints answer it: the one map for the OAuth protocol.

impl From<crate::service::Failure> for OAuthError {
    fn from(err: crate::service::Failure) -> Self {
        use crate::service::Failure;
        match err {
            Failure::Busy => Self::unavailable(
                crate::service::hashing::RETRY_AFTER_SECS,
                "The server is busy checking passwords; try again shortly.",
            ),
            Failure::Store(e) => e.into(),
            Failure::Unexpected(e) => Self::server_error(e),
        }
    }
}

impl From<crate::service::login::LoginError> for OAuthError {
    fn from(err: crate::service::login::LoginError) -> Self {
        use crate::service::login::LoginError;
        match err {
            LoginError::InvalidCredentials
            | LoginError::Disabled
            | LoginError::Changed
            | LoginError::EmailNotVerified(_) => Self::invalid_grant(err.to_string()),
            LoginError::Locked { retry_after_secs } => {
                Self::invalid_grant(err.to_string()).too_many_requests(retry_after_secs)
            }
            LoginError::Failed(failure) => failure.into(),
        }
    }
}

impl From<crate::service::refresh::RefreshError> for OAuthError {
    fn from(err: crate::service::refresh::RefreshError) -> Self {
        use crate::service::refresh::RefreshError;
        match err {
            RefreshError::InvalidGrant | RefreshError::WrongClient => {
                Self::invalid_grant(err.to_string())
            }
            RefreshError::ClientAuthRequired => Self::invalid_client(err.to_string()),
            RefreshError::GrantNotAllowed => Self::unauthorized_client(err.to_string()),
            RefreshError::ScopeNotGranted => Self::invalid_scope(err.to_string()),
            RefreshError::Failed(failure) => failure.into(),
        }
    }
}

impl From<crate::service::authorization::ExchangeError> for OAuthError {
    fn from(err: crate::service::authorization::ExchangeError) -> Self {
        use crate::service::authorization::ExchangeError;
        match err {
            ExchangeError::InvalidGrant(reason) => Self::invalid_grant(reason),
            ExchangeError::Failed(failure) => failure.into(),
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
    async fn bodies_carry_detail_for_clients_of_the_original() {
        let response =
            OAuthError::invalid_grant("Invalid or revoked refresh token").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let body = body_json(response).await;
        assert_eq!(
            body,
            serde_json::json!({
                "error": "invalid_grant",
                "error_description": "Invalid or revoked refresh token",
                "detail": "Invalid or revoked refresh token",
            })
        );
    }

    #[tokio::test]
    async fn invalid_client_is_401_with_a_challenge() {
        let response = OAuthError::invalid_client("Client authentication failed")
            .with_basic_challenge()
            .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic")
        );
    }

    #[tokio::test]
    async fn lockouts_are_429_with_retry_after() {
        let response = OAuthError::invalid_grant("Too many failed attempts")
            .too_many_requests(60)
            .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "60");
    }
}
