//! Self-service: `/auth/password` and `/auth/sessions`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idp_core::SecretString;
use idp_core::ids::SessionId;
use serde::{Deserialize, Serialize};

use super::auth::AccountUser;
use super::error::ApiError;
use super::extract::{Json, Origin, Path};
use super::openapi::responses::{GuardedErrors, JsonBodyErrors, NotFound, TooManyRequests};
use super::views::SessionOut;
use crate::service::admin::Actor;
use crate::service::users;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(format = Password)]
    pub current_password: String,
    /// 8–128 characters, not the username or email.
    #[schema(format = Password)]
    pub new_password: String,
}

impl std::fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangePassword(..)")
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub detail: &'static str,
}

/// Changes the caller's password. Every session of the user ends — this
/// one too: log in again with the new password. A wrong current password
/// is 400; repeated wrong ones lock the user out (429).
#[utoipa::path(post, path = "/auth/password", tag = "auth", security(("bearer" = [])), request_body = ChangePassword,
    responses(
        (status = 200, body = Detail),
        GuardedErrors,
        JsonBodyErrors,
        (status = 429, response = TooManyRequests)
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    AccountUser(current): AccountUser,
    Origin(origin): Origin,
    Json(body): Json<ChangePassword>,
) -> Result<Json<Detail>, ApiError> {
    let actor = Actor::user(current.user.id, origin);
    users::change_own_password(
        &state,
        &actor,
        &current.user,
        SecretString::from(body.current_password),
        SecretString::from(body.new_password),
    )
    .await?;
    Ok(Json(Detail { detail: "Password changed. Every session has ended; log in again." }))
}

/// The caller's live sessions (devices), newest first.
#[utoipa::path(get, path = "/auth/sessions", operation_id = "list_own_sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [SessionOut]), GuardedErrors))]
pub async fn list_sessions(
    State(state): State<AppState>,
    AccountUser(current): AccountUser,
) -> Result<Response, ApiError> {
    let sessions = users::sessions_of(&state, current.user.id, true).await?;
    let body: Vec<SessionOut> =
        sessions.iter().map(|s| SessionOut::of(s, current.access.session_id)).collect();
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Ends one of the caller's sessions; another user's session id is 404.
#[utoipa::path(delete, path = "/auth/sessions/{id}", operation_id = "end_own_session", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Ended"), GuardedErrors, (status = 404, response = NotFound)))]
pub async fn end_session(
    State(state): State<AppState>,
    AccountUser(current): AccountUser,
    Origin(origin): Origin,
    Path(id): Path<SessionId>,
) -> Result<StatusCode, ApiError> {
    users::end_session(&state, &Actor::user(current.user.id, origin), current.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
