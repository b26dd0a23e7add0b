//! `idp seed`: the roles, permissions and admin user every installation
//! needs. Idempotent: a second run changes nothing, and never touches an
//! existing admin's password.

use idp_core::SecretString;
use idp_core::ids::RoleId;
use idp_store::repo::permissions::{self, Permission};
use idp_store::repo::roles::{self, ADMIN_ROLE, DEFAULT_USER_ROLE, Role};
use idp_store::repo::users;

use super::admin::{Actor, ManageError};
use crate::state::AppState;

/// The built-in permissions, with what they allow: exactly the ones the
/// admin API's guards check (a test in `http::authz` holds the two lists
/// together). They cannot be deleted: without them no one, not even
/// `Admin`, could reach the admin API until the next `idp seed`.
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("users:read", "List and read users"),
    ("users:write", "Create, change, disable and delete users"),
    ("roles:read", "List and read roles"),
    ("roles:write", "Create and delete roles, assign roles and their permissions"),
    ("permissions:read", "List and read permissions"),
    ("permissions:write", "Create and delete permissions"),
    ("clients:read", "List and read OAuth clients"),
    ("clients:write", "Register, change and delete OAuth clients, reset their secrets"),
    ("sessions:read", "List users' sessions"),
    ("sessions:write", "End users' sessions"),
    ("audit:read", "Read the audit log"),
];

/// Whether `name` is one of the built-in [`PERMISSIONS`].
pub fn is_built_in_permission(name: &str) -> bool {
    PERMISSIONS.iter().any(|(p, _)| p.eq_ignore_ascii_case(name))
}

/// What a seed run did.
#[derive(Debug, Default)]
pub struct Seeded {
    pub roles_created: Vec<String>,
    pub permissions_created: Vec<String>,
    pub admin: Option<AdminSeeded>,
}

#[derive(Debug)]
pub enum AdminSeeded {
    /// Created now; the password is here only when it was generated.
    Created { username: String, generated_password: Option<SecretString> },
    /// Already there (its password was left alone); `role_added` when it
    /// lacked the Admin role.
    Existing { username: String, role_added: bool },
}

pub async fn seed(
    state: &AppState,
    admin_username: &str,
    admin_email: &str,
    admin_password: Option<SecretString>,
) -> Result<Seeded, ManageError> {
    let now = state.now();
    let mut seeded = Seeded::default();
    let mut tx = state.db.write().await?;
    for (name, description) in
        [(ADMIN_ROLE, "Full administrative access"), (DEFAULT_USER_ROLE, "A registered user")]
    {
        if roles::find_by_name(&mut *tx, name).await?.is_none() {
            let role = Role {
                id: RoleId::new(),
                name: name.into(),
                description: Some(description.into()),
                created_at: now,
            };
            roles::insert(&mut tx, &role).await?;
            seeded.roles_created.push(name.into());
        }
    }
    for (name, description) in PERMISSIONS {
        if permissions::find_by_name(&mut *tx, name).await?.is_none() {
            let permission = Permission {
                id: idp_core::ids::PermissionId::new(),
                name: (*name).into(),
                description: Some((*description).into()),
                created_at: now,
            };
            permissions::insert(&mut tx, &permission).await?;
            seeded.permissions_created.push((*name).into());
        }
    }
    // Admin holds every permission implicitly; the links make it visible
    // in the role's listing too.
    if let Some(admin) = roles::find_by_name(&mut *tx, ADMIN_ROLE).await? {
        for (name, _) in PERMISSIONS {
            roles::add_permission(&mut tx, admin.id, name).await?;
        }
    }
    tx.commit().await?;

    let actor = Actor::cli();
    seeded.admin = Some(match users::find_by_login(state.db.read(), admin_username).await? {
        Some(user) => {
            let current = users::roles_of(state.db.read(), user.id).await?;
            let role_added = !current.iter().any(|r| r.eq_ignore_ascii_case(ADMIN_ROLE));
            if role_added {
                let mut wanted = current;
                wanted.push(ADMIN_ROLE.into());
                super::users::set_roles(state, &actor, user.id, &wanted).await?;
            }
            AdminSeeded::Existing { username: user.username, role_added }
        }
        None => {
            let (password, generated) = match admin_password {
                Some(password) => (password, false),
                None => (SecretString::from(idp_core::random::token::<18>()), true),
            };
            let shown = generated.then(|| password.clone());
            let (user, _) = super::users::create(
                state,
                &actor,
                admin_username.into(),
                admin_email.into(),
                password,
                Some("Administrator".into()),
                &[ADMIN_ROLE.into()],
            )
            .await?;
            // The operator configured this address (ADMIN_EMAIL): with
            // REQUIRE_VERIFIED_EMAIL, the first administrator must still
            // be able to sign in.
            let mut tx = state.db.write().await?;
            users::mark_email_verified(&mut tx, user.id, &user.email, state.now()).await?;
            tx.commit().await?;
            AdminSeeded::Created { username: user.username, generated_password: shown }
        }
    });
    Ok(seeded)
}
