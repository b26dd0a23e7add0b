//! Extractors that own their rejections, so malformed input is answered in
//! our error format, never with axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use idp_core::session::RequestOrigin;
use serde::de::DeserializeOwned;

use super::client_ip::client_ip;
use super::error::{ApiError, FieldError};
use crate::state::AppState;

/// `axum::Json`, but a bad body is a problem document: 415 without a JSON
/// content type, 400 for malformed JSON, 422 naming the field for a body of
/// the wrong shape (missing or unknown fields, wrong types).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "Expected a JSON body (Content-Type: application/json).".into(),
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("The body is not valid JSON."),
        JsonRejection::JsonDataError(err) => {
            // serde's message names the field and what was wrong with it,
            // never the value that was sent.
            let text = err.body_text();
            let message = text.rsplit_once(": ").map_or(text.as_str(), |(_, m)| m).to_owned();
            ApiError::Validation(vec![FieldError::new("body", message)])
        }
        JsonRejection::BytesRejection(err)
            if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// The longest `User-Agent` kept for sessions and audit events.
const MAX_USER_AGENT: usize = 256;

/// Where a request came from: the peer address and the `User-Agent`.
#[derive(Debug, Clone)]
pub struct Origin(pub RequestOrigin);

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, &state.settings.trusted_proxies).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        Ok(Self(RequestOrigin { ip, user_agent }))
    }
}
