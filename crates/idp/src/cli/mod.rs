//! The subcommands of `idp`, one module each.

mod keys;
mod migrate;
mod serve;

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
    /// Apply or inspect database migrations.
    #[command(subcommand)]
    Migrate(migrate::Command),
    /// Seed roles, permissions and the admin user (not available yet).
    #[command(disable_help_flag = true)]
    Seed(NotYet),
    /// Manage users (not available yet).
    #[command(disable_help_flag = true)]
    User(NotYet),
    /// Manage roles and permissions (not available yet).
    #[command(disable_help_flag = true)]
    Role(NotYet),
    /// Manage OAuth clients (not available yet).
    #[command(disable_help_flag = true)]
    Client(NotYet),
    /// List and rotate signing keys.
    #[command(subcommand)]
    Keys(keys::Command),
}

/// Arguments of a command that this version does not implement yet.
#[derive(Debug, clap::Args)]
struct NotYet {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<String>,
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
    idp_server::telemetry::init(settings.log_format, &settings.log_filter);
    match cli.command {
        Command::Serve(args) => serve::run(settings, args).await,
        Command::Migrate(command) => migrate::run(settings, command).await,
        Command::Seed(_) => not_yet("seed"),
        Command::User(_) => not_yet("user"),
        Command::Role(_) => not_yet("role"),
        Command::Client(_) => not_yet("client"),
        Command::Keys(command) => keys::run(settings, command).await,
    }
}

/// Opens the configured database (commands other than `serve`).
async fn open_db(settings: &Settings) -> Result<idp_store::Db, Failure> {
    idp_store::Db::connect(&settings.database_url, &settings.pool_settings())
        .await
        .map_err(|e| Failure::failed(format!("cannot open the database: {e}")))
}

fn not_yet(command: &str) -> Result<(), Failure> {
    Err(Failure::usage(format!("`idp {command}` is not available yet in this version")))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
