//! The introspection endpoint's protocol (RFC 7662 §2.1): only a
//! confidential client may ask, authenticated like at the token endpoint.

use axum::http::HeaderMap;

use super::client_auth::{self, Presented};
use super::error::OAuthError;
use super::form::FormFields;
use crate::service::introspection::{self, Introspection};
use crate::state::AppState;

/// Authenticates the asking client and answers about `token`.
pub async fn introspect(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormFields,
) -> Result<Introspection, OAuthError> {
    let presented = Presented::from_request(headers, form)?;
    let basic = matches!(presented, Presented::Basic { .. });
    let refused = || {
        let err =
            OAuthError::invalid_client("Introspection needs a confidential client's credentials.");
        if basic { err.with_basic_challenge() } else { err }
    };
    let Some(client_id) = presented.lookup_id()? else { return Err(refused()) };
    let refresh_first = form.get("token_type_hint") == Some("refresh_token");
    let mut found =
        introspection::lookup(state, client_id, form.get("token"), refresh_first).await?;
    if !client_auth::check(&presented, found.client.take())?.is_confidential() {
        return Err(refused());
    }
    let token = form.required("token")?;
    Ok(introspection::answer(state, found, token).await?)
}
