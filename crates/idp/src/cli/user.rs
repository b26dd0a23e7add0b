//! `idp user …`

use idp_core::ExposeSecret as _;
use idp_server::config::Settings;
use idp_server::service::admin::Actor;
use idp_server::service::recovery::{self, RecoveryError};
use idp_server::service::users::{self, ProfileChange};

use super::{Failure, common};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a user (role `User` unless --role is given).
    #[command(
        after_help = "Examples:\n  idp user create --username alice --email alice@example.com\n  \
        echo 'S3cure-pass!' | idp user create --username bob --email bob@example.com --role Admin --password-stdin"
    )]
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// A role name; repeat for several.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the password from stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (ends all their sessions).
    #[command(
        after_help = "Examples:\n  idp user set-password alice          # generates one and prints it once\n  \
        echo 'N3w-pass!' | idp user set-password alice --password-stdin"
    )]
    SetPassword {
        /// Username or email.
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Replace a user's roles (ends all their sessions if they change).
    #[command(after_help = "Example:\n  idp user set-roles alice Admin User")]
    SetRoles {
        user: String,
        #[arg(required = true)]
        roles: Vec<String>,
    },
    /// Disable a user (ends all their sessions).
    #[command(after_help = "Example:\n  idp user disable alice")]
    Disable { user: String },
    /// Enable a disabled user.
    #[command(after_help = "Example:\n  idp user enable alice")]
    Enable { user: String },
    /// Send a user a link to choose a new password (needs SMTP_URL).
    #[command(after_help = "Example:\n  idp user send-reset alice")]
    SendReset {
        /// Username or email.
        user: String,
    },
    /// List users.
    #[command(after_help = "Examples:\n  idp user list\n  idp user list --search ali")]
    List {
        /// Only usernames containing this.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
}

#[allow(clippy::print_stdout)] // command output
pub async fn run(settings: Settings, command: Command) -> Result<(), Failure> {
    let state = common::state(settings).await?;
    let actor = Actor::cli();
    let result = async {
        match command {
            Command::Create { username, email, name, roles, password_stdin } => {
                let (password, generated) = common::password(password_stdin)?;
                let roles = if roles.is_empty() { vec!["User".to_owned()] } else { roles };
                let (user, roles) =
                    users::create(&state, &actor, username, email, password, name, &roles)
                        .await
                        .map_err(common::failure)?;
                println!(
                    "Created user `{}` ({}) with roles: {}.",
                    user.username,
                    user.id,
                    roles.join(", ")
                );
                if let Some(password) = generated {
                    println!(
                        "Its generated password, shown only now: {}",
                        password.expose_secret()
                    );
                }
            }
            Command::SetPassword { user, password_stdin } => {
                let (found, _) =
                    users::find_by_login(&state, &user).await.map_err(common::failure)?;
                let (password, generated) = common::password(password_stdin)?;
                users::set_password(&state, &actor, found.id, password)
                    .await
                    .map_err(common::failure)?;
                println!("Password of `{}` set; all of its sessions have ended.", found.username);
                if let Some(password) = generated {
                    println!(
                        "The generated password, shown only now: {}",
                        password.expose_secret()
                    );
                }
            }
            Command::SetRoles { user, roles } => {
                let (found, before) =
                    users::find_by_login(&state, &user).await.map_err(common::failure)?;
                let (_, after) = users::set_roles(&state, &actor, found.id, &roles)
                    .await
                    .map_err(common::failure)?;
                if before == after {
                    println!(
                        "`{}` already has roles: {}; nothing changed.",
                        found.username,
                        after.join(", ")
                    );
                } else {
                    println!(
                        "`{}` now has roles: {}; its sessions have ended.",
                        found.username,
                        after.join(", ")
                    );
                }
            }
            Command::SendReset { user } => {
                let (found, _) =
                    users::find_by_login(&state, &user).await.map_err(common::failure)?;
                recovery::send_reset_by_admin(&state, &actor, found.id).await.map_err(
                    |e| match e {
                        RecoveryError::Manage(e) => common::failure(e),
                        other => Failure::failed(other.to_string()),
                    },
                )?;
                // Hand it to SMTP now rather than leave it to a running
                // server's sender (there may be none); a job another node
                // holds is left to it.
                let handlers = idp_server::startup::outbox_handlers();
                idp_server::service::outbox::run_due(&state, &handlers)
                    .await
                    .map_err(|e| Failure::failed(e.to_string()))?;
                println!(
                    "A link to choose a new password is on its way to the address of `{}`.",
                    found.username
                );
            }
            Command::Disable { user } => set_disabled(&state, &actor, &user, true).await?,
            Command::Enable { user } => set_disabled(&state, &actor, &user, false).await?,
            Command::List { search, limit } => {
                let (items, total) =
                    users::list(&state, search.as_deref(), 0, limit.clamp(1, 10_000))
                        .await
                        .map_err(common::failure)?;
                println!("{:<36}  {:<24} {:<32} {:<9} ROLES", "ID", "USERNAME", "EMAIL", "STATE");
                for (user, roles) in &items {
                    let state = if user.is_disabled() { "disabled" } else { "active" };
                    println!(
                        "{:<36}  {:<24} {:<32} {:<9} {}",
                        user.id,
                        user.username,
                        user.email,
                        state,
                        roles.join(",")
                    );
                }
                println!("{} of {total} user(s).", items.len());
            }
        }
        Ok(())
    }
    .await;
    state.db.close().await;
    result
}

#[allow(clippy::print_stdout)] // command output
async fn set_disabled(
    state: &idp_server::AppState,
    actor: &Actor,
    user: &str,
    disabled: bool,
) -> Result<(), Failure> {
    let (found, _) = users::find_by_login(state, user).await.map_err(common::failure)?;
    if found.is_disabled() == disabled {
        println!(
            "`{}` is already {}; nothing changed.",
            found.username,
            if disabled { "disabled" } else { "enabled" }
        );
        return Ok(());
    }
    let change = ProfileChange { disabled: Some(disabled), ..ProfileChange::default() };
    users::update(state, actor, found.id, change).await.map_err(common::failure)?;
    if disabled {
        println!("`{}` disabled; all of its sessions have ended.", found.username);
    } else {
        println!("`{}` enabled.", found.username);
    }
    Ok(())
}
