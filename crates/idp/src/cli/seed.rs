//! `idp seed`

use idp_core::ExposeSecret as _;
use idp_server::config::Settings;
use idp_server::service::seed::{self, AdminSeeded};

use super::{Failure, common};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  ADMIN_PASSWORD='…' idp seed\n  idp seed                 # generates the admin password and prints it once"
)]
pub struct Args {}

#[allow(clippy::print_stdout)] // command output
pub async fn run(settings: Settings, _args: Args) -> Result<(), Failure> {
    let username = settings.admin_username.clone();
    let email = settings.admin_email.clone();
    let password = settings.admin_password.clone();
    let state = common::state(settings).await?;
    let seeded = seed::seed(&state, &username, &email, password).await.map_err(common::failure)?;
    state.db.close().await;
    match seeded.roles_created.as_slice() {
        [] => println!("Roles: Admin and User present."),
        created => println!("Roles created: {}.", created.join(", ")),
    }
    match seeded.permissions_created.len() {
        0 => println!("Permissions: all {} present.", seed::PERMISSIONS.len()),
        n => println!("Permissions created: {n} ({}).", seeded.permissions_created.join(", ")),
    }
    match seeded.admin {
        Some(AdminSeeded::Created { username, generated_password: Some(password) }) => {
            println!("Admin user `{username}` created with the Admin role.");
            println!("Its generated password, shown only now: {}", password.expose_secret());
        }
        Some(AdminSeeded::Created { username, generated_password: None }) => {
            println!(
                "Admin user `{username}` created with the Admin role and the password from ADMIN_PASSWORD."
            );
        }
        Some(AdminSeeded::Existing { username, role_added: true }) => {
            println!(
                "Admin user `{username}` exists; the Admin role was added (its password is unchanged)."
            );
        }
        Some(AdminSeeded::Existing { username, role_added: false }) => {
            println!("Admin user `{username}` exists with the Admin role; nothing to change.");
        }
        None => {}
    }
    Ok(())
}
