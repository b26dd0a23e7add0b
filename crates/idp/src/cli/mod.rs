//! The subcommands of `idp`, one module each.

mod client;
mod common;
mod keys;
mod migrate;
mod role;
mod seed;
mod serve;
mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use idp_server::config::{ConfigError, Settings};

/// idp: an OAuth 2.x authorization server and OpenID Connect provider.
///
/// Settings come from the environment, a `.env` file in the working
/// directory, and an optional TOML file (--config). With no settings at all,
/// `idp serve` runs on an embedded SQLite database under ./data/.
#[derive(Debug, Parser)]
#[command(name = "idp", version, propagate_version = true)]
pub struct Cli {
    /// A TOML file of settings (same names as the environment variables,
    /// any case); the environment overrides it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    #[command(
        after_help = "Example:\n  idp serve\n  DATABASE_URL=postgres://idp@db/idp SECRET_KEY=… idp serve --bind 0.0.0.0:8000"
    )]
    Serve(serve::Args),
    /// Apply pending database migrations (`idp migrate`, or `idp migrate
    /// up`), or list them (`idp migrate status`).
    #[command(after_help = "Example:\n  idp migrate\n  idp migrate status")]
    Migrate(migrate::Args),
    /// Seed the roles, permissions and admin user (idempotent).
    Seed(seed::Args),
    /// Manage users.
    #[command(subcommand)]
    User(user::Command),
    /// Manage roles and permissions.
    #[command(subcommand)]
    Role(role::Command),
    /// Manage OAuth clients (and the original's oauth_client.json).
    #[command(subcommand)]
    Client(client::Command),
    /// List and rotate signing keys.
    #[command(subcommand)]
    Keys(keys::Command),
}

/// A command failed: what to print and which exit code to return.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    /// Bad settings or usage: exit code 2.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit_code: 2 }
    }

    /// The command ran and failed: exit code 1.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit_code: 1 }
    }
}

impl From<ConfigError> for Failure {
    fn from(err: ConfigError) -> Self {
        Self::usage(err.to_string())
    }
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    let settings = Settings::load(cli.config.as_deref())?;
    // Management commands print what they did; their log lines (audit
    // events, key generation) would only repeat it, unless asked for.
    let quiet = !matches!(cli.command, Command::Serve(_)) && std::env::var_os("RUST_LOG").is_none();
    idp_server::telemetry::init(
        settings.log_format,
        if quiet { "warn" } else { &settings.log_filter },
    );
    match cli.command {
        Command::Serve(args) => serve::run(settings, args).await,
        Command::Migrate(args) => migrate::run(settings, args).await,
        Command::Seed(args) => seed::run(settings, args).await,
        Command::User(command) => user::run(settings, command).await,
        Command::Role(command) => role::run(settings, command).await,
        Command::Client(command) => client::run(settings, command).await,
        Command::Keys(command) => keys::run(settings, command).await,
    }
}

/// Opens the configured database (commands other than `serve`).
async fn open_db(settings: &Settings) -> Result<idp_store::Db, Failure> {
    idp_store::Db::connect(&settings.database_url, &settings.pool_settings())
        .await
        .map_err(|e| Failure::failed(format!("cannot open the database: {e}")))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
