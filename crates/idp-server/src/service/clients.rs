//! Managing OAuth clients. A confidential client's secret is generated here,
//! returned once, and stored only as a SHA-256 hash.

use std::time::Duration;

use idp_core::audit::EventKind;
use idp_core::client::{Client, ClientType, FIRST_PARTY_CLIENT_ID, GrantType};
use idp_core::client_registration;
use idp_core::ids::ClientId;
use idp_core::jose::Algorithm;
use idp_core::opaque::{PlainToken, TokenKind};
use idp_store::repo::clients;

use super::admin::{Actor, ManageError};
use super::audit;
use crate::state::AppState;

/// Everything a client registration says.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Chosen by the operator, or generated.
    pub id: Option<String>,
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub access_token_ttl: Option<Duration>,
    pub refresh_token_ttl: Option<Duration>,
    /// The algorithm of the client's ID tokens; `None` for `ALGORITHM`.
    pub id_token_signed_response_alg: Option<Algorithm>,
}

/// Scopes a client gets when its registration names none.
pub fn default_scopes(grants: &[GrantType]) -> Vec<String> {
    let mut scopes: Vec<String> =
        idp_core::scope::DEFAULT_USER_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    if grants.contains(&GrantType::RefreshToken) {
        scopes.push(idp_core::scope::OFFLINE_ACCESS.to_owned());
    }
    scopes
}

fn validate(spec: &ClientSpec, configured: Algorithm) -> Result<(), ManageError> {
    let mut violations = client_registration::registration(
        spec.client_type,
        &spec.name,
        &spec.redirect_uris,
        &spec.post_logout_redirect_uris,
        &spec.grant_types,
        &spec.scopes,
        spec.access_token_ttl,
        spec.refresh_token_ttl,
    );
    if let Some(id) = &spec.id
        && let Err(message) = client_registration::client_id(id)
    {
        violations.insert(0, idp_core::validation::FieldViolation { field: "client_id", message });
    }
    if let Some(alg) = spec.id_token_signed_response_alg
        && let Err(message) = client_registration::id_token_alg(alg.as_str(), configured)
    {
        violations.push(idp_core::validation::FieldViolation {
            field: "id_token_signed_response_alg",
            message,
        });
    }
    if violations.is_empty() { Ok(()) } else { Err(ManageError::Invalid(violations)) }
}

/// Registers a client; the plain secret (confidential clients only) is in
/// the result and nowhere else.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    spec: ClientSpec,
) -> Result<(Client, Option<PlainToken>), ManageError> {
    validate(&spec, state.settings.algorithm)?;
    let now = state.now();
    let secret = (spec.client_type == ClientType::Confidential)
        .then(|| PlainToken::generate(TokenKind::ClientSecret));
    let client = Client {
        id: spec.id.map_or_else(ClientId::generate, ClientId::new),
        name: spec.name.trim().to_owned(),
        client_type: spec.client_type,
        secret_hash: secret.as_ref().map(PlainToken::hash),
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        grant_types: spec.grant_types,
        scopes: spec.scopes,
        first_party: spec.first_party,
        access_token_ttl: spec.access_token_ttl,
        refresh_token_ttl: spec.refresh_token_ttl,
        id_token_signed_response_alg: spec.id_token_signed_response_alg,
        created_at: now,
        updated_at: now,
    };
    let events = [actor
        .event(EventKind::ClientCreated, now)
        .client(&client.id)
        .detail("name", client.name.clone())];
    let mut tx = state.db.write().await?;
    clients::insert(&mut tx, &client).await.map_err(|e| {
        if e.violated_index().is_some() {
            ManageError::Conflict("A client with this id exists".into())
        } else {
            ManageError::Failed(e.into())
        }
    })?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok((client, secret))
}

pub async fn list(state: &AppState) -> Result<Vec<Client>, ManageError> {
    Ok(clients::list(state.db.read()).await?)
}

pub async fn get(state: &AppState, id: &str) -> Result<Client, ManageError> {
    clients::find(state.db.read(), id).await?.ok_or(ManageError::NotFound("client"))
}

/// Changes to a registration; `None` leaves a field as it is. The type and
/// the id never change.
#[derive(Debug, Default, Clone)]
pub struct ClientChange {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    pub scopes: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub access_token_ttl: Option<Option<Duration>>,
    pub refresh_token_ttl: Option<Option<Duration>>,
    /// `Some(None)` goes back to the server's `ALGORITHM`.
    pub id_token_signed_response_alg: Option<Option<Algorithm>>,
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: &str,
    change: ClientChange,
) -> Result<Client, ManageError> {
    let mut client = get(state, id).await?;
    if client.id.as_str() == FIRST_PARTY_CLIENT_ID {
        return Err(ManageError::Refused(
            "The built-in first-party client cannot be changed".into(),
        ));
    }
    if let Some(v) = change.name {
        client.name = v.trim().to_owned();
    }
    if let Some(v) = change.redirect_uris {
        client.redirect_uris = v;
    }
    if let Some(v) = change.post_logout_redirect_uris {
        client.post_logout_redirect_uris = v;
    }
    if let Some(v) = change.grant_types {
        client.grant_types = v;
    }
    if let Some(v) = change.scopes {
        client.scopes = v;
    }
    if let Some(v) = change.first_party {
        client.first_party = v;
    }
    if let Some(v) = change.access_token_ttl {
        client.access_token_ttl = v;
    }
    if let Some(v) = change.refresh_token_ttl {
        client.refresh_token_ttl = v;
    }
    if let Some(v) = change.id_token_signed_response_alg {
        client.id_token_signed_response_alg = v;
    }
    validate(
        &ClientSpec {
            id: None,
            name: client.name.clone(),
            client_type: client.client_type,
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            grant_types: client.grant_types.clone(),
            scopes: client.scopes.clone(),
            first_party: client.first_party,
            access_token_ttl: client.access_token_ttl,
            refresh_token_ttl: client.refresh_token_ttl,
            id_token_signed_response_alg: client.id_token_signed_response_alg,
        },
        state.settings.algorithm,
    )?;
    let now = state.now();
    client.updated_at = now;
    let events = [actor.event(EventKind::ClientUpdated, now).client(&client.id)];
    let mut tx = state.db.write().await?;
    clients::update(&mut tx, &client).await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(client)
}

/// A new secret for a confidential client; the old one stops working at once.
pub async fn reset_secret(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<PlainToken, ManageError> {
    let client = get(state, id).await?;
    if !client.is_confidential() {
        return Err(ManageError::Refused("Public clients have no secret".into()));
    }
    let secret = PlainToken::generate(TokenKind::ClientSecret);
    let now = state.now();
    let events = [actor.event(EventKind::ClientSecretReset, now).client(&client.id)];
    let mut tx = state.db.write().await?;
    clients::set_secret(&mut tx, id, &secret.hash(), now).await?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(secret)
}

/// Deletes a client and, with it, its sessions and codes.
pub async fn delete(state: &AppState, actor: &Actor, id: &str) -> Result<(), ManageError> {
    if id == FIRST_PARTY_CLIENT_ID {
        return Err(ManageError::Refused(
            "The built-in first-party client cannot be deleted".into(),
        ));
    }
    let now = state.now();
    let events = [actor.event(EventKind::ClientDeleted, now).client(id)];
    let mut tx = state.db.write().await?;
    if !clients::delete(&mut tx, id).await? {
        return Err(ManageError::NotFound("client"));
    }
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}
