//! Consent: what a user has allowed a third-party client, remembered per
//! (user, client) as the union of every scope approved so far.

use idp_core::audit::EventKind;
use idp_core::client::Client;
use idp_core::ids::UserId;
use idp_core::scope::Scope;
use idp_core::session::RequestOrigin;
use idp_store::repo::consents;

use super::Failure;
use super::admin::Actor;
use super::audit;
use crate::state::AppState;

/// Whether the user must (still) be asked before `client` gets `scope`:
/// never for a first-party client; always when the request said
/// `prompt=consent`; otherwise when `scope` goes beyond what was granted.
pub async fn needed(
    state: &AppState,
    user: UserId,
    client: &Client,
    scope: &Scope,
    prompt_consent: bool,
) -> Result<bool, Failure> {
    if client.first_party {
        return Ok(false);
    }
    if prompt_consent {
        return Ok(true);
    }
    let granted = consents::find(state.db.read(), user, client.id.as_str()).await?;
    Ok(!granted.is_some_and(|granted| scope.is_subset_of(&granted)))
}

/// Adds `scope` to what the user has granted `client`, atomically: the row
/// is taken before it is read, so two approvals of different scopes arriving
/// together both count. Audited; returns everything now granted.
pub async fn grant(
    state: &AppState,
    user: UserId,
    client: &Client,
    scope: &Scope,
    origin: &RequestOrigin,
) -> Result<Scope, Failure> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    let before = consents::claim(&mut tx, user, client.id.as_str(), now).await?;
    let granted = Scope::from_tokens(before.iter().chain(scope.iter()));
    consents::set_scope(&mut tx, user, client.id.as_str(), &granted, now).await?;
    let events = [Actor::user(user, origin.clone())
        .event(EventKind::ConsentGranted, now)
        .subject(user)
        .client(&client.id)
        .detail("scope", scope.to_string())
        .detail("granted", granted.to_string())];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(granted)
}
