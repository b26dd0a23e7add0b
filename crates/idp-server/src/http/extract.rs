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

/// A JSON body already read (an endpoint that also takes forms reads the
/// body first): the same answers as the [`Json`] extractor.
pub fn json_body<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|v| {
            v.eq_ignore_ascii_case("application/json")
                || (v.starts_with("application/") && v.ends_with("+json"))
        });
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "Expected a JSON body (Content-Type: application/json) or a form.".into(),
        ));
    }
    axum::Json::<T>::from_bytes(body).map(|axum::Json(v)| v).map_err(json_rejection)
}

/// The body of an endpoint that serves both the JSON API and a page's form.
#[derive(Debug)]
pub enum ApiOrPage<T> {
    /// JSON, or a form from an API client: the request, checked against its
    /// schema (a form may hold only the schema's fields, as JSON may).
    Api(T),
    /// The page's own form, which alone carries `csrf_token`.
    Page(crate::oauth::form::FormFields),
}

/// Reads such a body: the same answers as [`json_body`] for JSON; a form
/// that does not parse is a 400, one with other fields than the schema's a
/// 422 naming the first.
pub fn api_or_page<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<ApiOrPage<T>, ApiError> {
    if !is_form(headers) {
        return json_body(headers, body).map(ApiOrPage::Api);
    }
    let fields = crate::oauth::form::FormFields::from_urlencoded(body)
        .map_err(|e| ApiError::bad_request(e.description))?;
    if fields.get("csrf_token").is_some() {
        return Ok(ApiOrPage::Page(fields));
    }
    let object: serde_json::Map<String, serde_json::Value> = fields
        .as_map()
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(object))
        .map(ApiOrPage::Api)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("body", e.to_string())]))
}

/// Whether the body is a urlencoded form (as browsers send).
pub fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
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

/// `axum::extract::Query`, but a bad query string is a 422 naming the
/// parameter, in our format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let message = text.rsplit_once(": ").map_or(text.as_str(), |(_, m)| m).to_owned();
                Err(ApiError::Validation(vec![FieldError::new("query", message)]))
            }
        }
    }
}

/// `axum::extract::Path`, but an id that does not parse is simply not
/// found (404), like an id that parses but names nothing.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::not_found("There is no resource at this path.")),
        }
    }
}

/// `?skip=&limit=` of list endpoints.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
pub struct Paging {
    /// Items to skip (default 0).
    #[serde(default)]
    pub skip: Option<i64>,
    /// Items to return, 1–200 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

impl Paging {
    pub const MAX_LIMIT: i64 = 200;

    /// `(skip, limit)`, or a 422 naming what is out of range.
    pub fn checked(self) -> Result<(i64, i64), ApiError> {
        let skip = self.skip.unwrap_or(0);
        let limit = self.limit.unwrap_or(50);
        let mut errors = Vec::new();
        if skip < 0 {
            errors.push(FieldError::new("skip", "must be 0 or more"));
        }
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            errors.push(FieldError::new("limit", "must be from 1 to 200"));
        }
        if errors.is_empty() { Ok((skip, limit)) } else { Err(ApiError::Validation(errors)) }
    }
}
