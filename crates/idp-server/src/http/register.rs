//! `/auth/register`

use axum::extract::State;
use axum::http::StatusCode;
use idp_core::SecretString;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Json, Origin};
use super::openapi::responses::{Conflict, JsonBodyErrors, TooManyRequests, Unavailable};
use super::views::UserOut;
use crate::service::registration::{self, Registration};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–64 of `A-Za-z0-9._-`; unique, case-insensitively.
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._-]+$", example = "alice")]
    pub username: String,
    /// Unique, case-insensitively. ASCII, at most 254 characters.
    #[schema(min_length = 3, max_length = 254, example = "alice@example.com")]
    pub email: String,
    /// 8–128 characters without control characters, not equal to the
    /// username or email.
    #[schema(format = Password, min_length = 8, max_length = 128)]
    pub password: String,
    /// 1–128 characters once trimmed.
    pub name: Option<String>,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Creates a user with the `User` role.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = UserOut),
        JsonBodyErrors,
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable)
    )
)]
pub async fn register(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Json(body): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let input = Registration {
        username: body.username,
        email: body.email,
        password: SecretString::from(body.password),
        name: body.name,
    };
    let (user, roles) = registration::register(&state, input, &origin).await?;
    Ok((StatusCode::CREATED, Json(UserOut::of(&user, roles))))
}
