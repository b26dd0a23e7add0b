//! `idp role …`

use idp_server::config::Settings;
use idp_server::service::admin::{Actor, ManageError};
use idp_server::service::roles;

use super::{Failure, common};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List roles with the permissions they grant.
    #[command(after_help = "Example:\n  idp role list")]
    List,
    /// Create a role (nothing changes if it exists).
    #[command(after_help = "Example:\n  idp role create Support --description 'Help desk'")]
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a role (its holders' sessions end).
    #[command(after_help = "Example:\n  idp role delete Support")]
    Delete { name: String },
    /// Replace the permissions a role grants.
    #[command(after_help = "Example:\n  idp role set-permissions Support users:read sessions:read")]
    SetPermissions { name: String, permissions: Vec<String> },
    /// Create a permission (`resource:action`; nothing changes if it exists).
    #[command(
        after_help = "Example:\n  idp role create-permission reports:read --description 'Read reports'"
    )]
    CreatePermission {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List permissions.
    #[command(after_help = "Example:\n  idp role permissions")]
    Permissions,
}

#[allow(clippy::print_stdout)] // command output
pub async fn run(settings: Settings, command: Command) -> Result<(), Failure> {
    let state = common::state(settings).await?;
    let actor = Actor::cli();
    let find = |name: String| {
        let state = state.clone();
        async move {
            roles::list_roles(&state)
                .await
                .map_err(common::failure)?
                .into_iter()
                .find(|(r, _)| r.name.eq_ignore_ascii_case(&name))
                .map(|(r, _)| r)
                .ok_or_else(|| Failure::failed(format!("no such role: {name}")))
        }
    };
    let result = async {
        match command {
            Command::List => {
                for (role, permissions) in
                    roles::list_roles(&state).await.map_err(common::failure)?
                {
                    println!("{:<20} {}", role.name, permissions.join(" "));
                }
            }
            Command::Create { name, description } => {
                match roles::create_role(&state, &actor, name.clone(), description).await {
                    Ok(_) => println!("Role `{name}` created."),
                    Err(ManageError::Conflict(_)) => {
                        println!("Role `{name}` exists; nothing changed.")
                    }
                    Err(e) => return Err(common::failure(e)),
                }
            }
            Command::Delete { name } => {
                let role = find(name).await?;
                roles::delete_role(&state, &actor, role.id).await.map_err(common::failure)?;
                println!("Role `{}` deleted.", role.name);
            }
            Command::SetPermissions { name, permissions } => {
                let role = find(name).await?;
                let (_, now) = roles::set_role_permissions(&state, &actor, role.id, &permissions)
                    .await
                    .map_err(common::failure)?;
                println!(
                    "Role `{}` grants: {}.",
                    role.name,
                    if now.is_empty() { "nothing".into() } else { now.join(" ") }
                );
            }
            Command::CreatePermission { name, description } => {
                match roles::create_permission(&state, &actor, name.clone(), description).await {
                    Ok(_) => println!("Permission `{name}` created."),
                    Err(ManageError::Conflict(_)) => {
                        println!("Permission `{name}` exists; nothing changed.")
                    }
                    Err(e) => return Err(common::failure(e)),
                }
            }
            Command::Permissions => {
                for p in roles::list_permissions(&state).await.map_err(common::failure)? {
                    println!("{:<24} {}", p.name, p.description.unwrap_or_default());
                }
            }
        }
        Ok(())
    }
    .await;
    state.db.close().await;
    result
}
