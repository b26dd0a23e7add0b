//! `idp serve`

use std::net::SocketAddr;

use idp_server::config::Settings;
use idp_server::{Application, BuildOptions, StartupError};

use super::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not apply pending migrations; refuse to start if any are pending.
    #[arg(long)]
    no_migrate: bool,
    /// Address to listen on (overrides BIND).
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
}

pub async fn run(mut settings: Settings, args: Args) -> Result<(), Failure> {
    if let Some(bind) = args.bind {
        settings.bind = bind;
    }
    let options = BuildOptions { migrate: !args.no_migrate, ..BuildOptions::default() };
    let app = Application::build(settings, options).await.map_err(|err| match err {
        StartupError::Config(e) => Failure::from(e),
        other => Failure::failed(other.to_string()),
    })?;
    app.run_until_stopped(idp_server::startup::shutdown_signal())
        .await
        .map_err(|e| Failure::failed(format!("server error: {e}")))
}
