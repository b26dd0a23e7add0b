//! Managing roles and permissions.

use idp_core::audit::EventKind;
use idp_core::client_registration;
use idp_core::ids::{PermissionId, RoleId};
use idp_core::session::EndReason;
use idp_store::StoreError;
use idp_store::repo::permissions::{self, Permission};
use idp_store::repo::roles::{self, ADMIN_ROLE, DEFAULT_USER_ROLE, Role};
use idp_store::repo::{sessions, users};

use super::admin::{Actor, ManageError};
use super::{audit, seed};
use crate::state::AppState;

/// A role with the names of the permissions it grants.
pub type RoleWithPermissions = (Role, Vec<String>);

pub async fn list_roles(state: &AppState) -> Result<Vec<RoleWithPermissions>, ManageError> {
    let mut out = Vec::new();
    for role in roles::list(state.db.read()).await? {
        let permissions = granted(state, &role).await?;
        out.push((role, permissions));
    }
    Ok(out)
}

pub async fn get_role(state: &AppState, id: RoleId) -> Result<RoleWithPermissions, ManageError> {
    let role = roles::find(state.db.read(), id).await?.ok_or(ManageError::NotFound("role"))?;
    let permissions = granted(state, &role).await?;
    Ok((role, permissions))
}

/// `Admin` grants every permission whatever its links say.
async fn granted(state: &AppState, role: &Role) -> Result<Vec<String>, ManageError> {
    if role.name.eq_ignore_ascii_case(ADMIN_ROLE) {
        Ok(permissions::list(state.db.read()).await?.into_iter().map(|p| p.name).collect())
    } else {
        Ok(roles::permissions_of_role(state.db.read(), role.id).await?)
    }
}

pub async fn create_role(
    state: &AppState,
    actor: &Actor,
    name: String,
    description: Option<String>,
) -> Result<RoleWithPermissions, ManageError> {
    client_registration::role_name(&name).map_err(|m| ManageError::invalid("name", m))?;
    check_description(description.as_deref())?;
    let now = state.now();
    let role = Role { id: RoleId::new(), name, description, created_at: now };
    let events = [actor.event(EventKind::RoleCreated, now).detail("role", role.name.clone())];
    let mut tx = state.db.write().await?;
    roles::insert(&mut tx, &role)
        .await
        .map_err(|e| conflict(e, roles::NAME_INDEX, "A role with this name exists"))?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok((role, Vec::new()))
}

/// Deleting a role changes its holders' roles, so their sessions end.
pub async fn delete_role(state: &AppState, actor: &Actor, id: RoleId) -> Result<(), ManageError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    let role = roles::find(&mut *tx, id).await?.ok_or(ManageError::NotFound("role"))?;
    if [ADMIN_ROLE, DEFAULT_USER_ROLE].iter().any(|r| r.eq_ignore_ascii_case(&role.name)) {
        return Err(ManageError::Refused(format!(
            "The built-in role {} cannot be deleted",
            role.name
        )));
    }
    let holders = roles::holders(&mut *tx, id).await?;
    for user in &holders {
        users::invalidate_tokens(&mut tx, *user, now).await?;
        sessions::revoke_all_for_user(&mut tx, *user, now, EndReason::RolesChanged).await?;
    }
    roles::delete(&mut tx, id).await?;
    let events = [actor
        .event(EventKind::RoleDeleted, now)
        .detail("role", role.name)
        .detail("holders", holders.len())];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}

/// Replaces the permissions a role grants. Permissions are checked live on
/// every request, so sessions do not need to end.
pub async fn set_role_permissions(
    state: &AppState,
    actor: &Actor,
    id: RoleId,
    names: &[String],
) -> Result<RoleWithPermissions, ManageError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    let role = roles::find(&mut *tx, id).await?.ok_or(ManageError::NotFound("role"))?;
    let mut unknown = Vec::new();
    for name in names {
        // A name no permission could have is unknown without asking.
        let possible = client_registration::permission_name(&name.to_lowercase()).is_ok();
        if !possible || permissions::find_by_name(&mut *tx, name).await?.is_none() {
            unknown.push(name.as_str());
        }
    }
    if !unknown.is_empty() {
        return Err(ManageError::invalid(
            "permissions",
            format!("unknown permissions: {}", unknown.join(", ")),
        ));
    }
    let mut wanted: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    wanted.sort();
    wanted.dedup();
    let current = roles::permissions_of_role(&mut *tx, id).await?;
    let added: Vec<String> = wanted.iter().filter(|p| !current.contains(p)).cloned().collect();
    actor.require_holds(state, &added, "You cannot grant permissions you do not hold").await?;
    if current == wanted {
        // Nothing to change: no write, no audit event.
        tx.rollback().await?;
        return get_role(state, id).await;
    }
    roles::clear_permissions(&mut tx, id).await?;
    for name in &wanted {
        roles::add_permission(&mut tx, id, name).await?;
    }
    let events = [actor
        .event(EventKind::RolePermissionsChanged, now)
        .detail("role", role.name.clone())
        .detail("permissions", wanted.clone())];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    drop(role);
    get_role(state, id).await
}

pub async fn list_permissions(state: &AppState) -> Result<Vec<Permission>, ManageError> {
    Ok(permissions::list(state.db.read()).await?)
}

pub async fn get_permission(state: &AppState, id: PermissionId) -> Result<Permission, ManageError> {
    permissions::find(state.db.read(), id).await?.ok_or(ManageError::NotFound("permission"))
}

pub async fn create_permission(
    state: &AppState,
    actor: &Actor,
    name: String,
    description: Option<String>,
) -> Result<Permission, ManageError> {
    client_registration::permission_name(&name).map_err(|m| ManageError::invalid("name", m))?;
    check_description(description.as_deref())?;
    let now = state.now();
    let permission = Permission { id: PermissionId::new(), name, description, created_at: now };
    let events = [actor
        .event(EventKind::PermissionCreated, now)
        .detail("permission", permission.name.clone())];
    let mut tx = state.db.write().await?;
    permissions::insert(&mut tx, &permission)
        .await
        .map_err(|e| conflict(e, permissions::NAME_INDEX, "A permission with this name exists"))?;
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(permission)
}

/// Built-in permissions (those the guards check) cannot be deleted, and
/// others only by an actor who holds them.
pub async fn delete_permission(
    state: &AppState,
    actor: &Actor,
    id: PermissionId,
) -> Result<(), ManageError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    let permission =
        permissions::find(&mut *tx, id).await?.ok_or(ManageError::NotFound("permission"))?;
    if seed::is_built_in_permission(&permission.name) {
        return Err(ManageError::Refused(format!(
            "The built-in permission {} cannot be deleted: the admin API checks it",
            permission.name
        )));
    }
    // Deleting takes the permission from every role that grants it; only
    // someone who holds it may decide that it is no longer needed.
    actor
        .require_holds(
            state,
            std::slice::from_ref(&permission.name),
            "You cannot delete a permission you do not hold",
        )
        .await?;
    permissions::delete(&mut tx, id).await?;
    let events =
        [actor.event(EventKind::PermissionDeleted, now).detail("permission", permission.name)];
    audit::write(&mut tx, &events).await?;
    tx.commit().await?;
    audit::emit(&events);
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<(), ManageError> {
    match description {
        Some(d) if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') => {
            Err(ManageError::invalid(
                "description",
                "must be at most 500 characters without control characters",
            ))
        }
        _ => Ok(()),
    }
}

fn conflict(err: StoreError, index: &str, message: &str) -> ManageError {
    if err.violated_index() == Some(index) {
        ManageError::Conflict(message.into())
    } else {
        ManageError::Failed(err.into())
    }
}
