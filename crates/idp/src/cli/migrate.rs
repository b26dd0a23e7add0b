//! `idp migrate [up|status]`: bare `idp migrate` applies, as `up` does
//! (SPEC §1).

use idp_server::config::Settings;
use idp_store::Db;

use super::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do; without one, pending migrations are applied.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Apply every pending migration (safe to run on every deploy, and from
    /// several nodes at once on PostgreSQL).
    Up,
    /// List every migration and whether it is applied.
    Status,
}

pub async fn run(settings: Settings, args: Args) -> Result<(), Failure> {
    let db = super::open_db(&settings).await?;
    let result = match args.command.unwrap_or(Command::Up) {
        Command::Up => up(&db).await,
        Command::Status => status(&db).await,
    };
    db.close().await;
    result
}

#[allow(clippy::print_stdout)] // command output
async fn up(db: &Db) -> Result<(), Failure> {
    let applied = idp_store::migrate::run(db)
        .await
        .map_err(|e| Failure::failed(format!("cannot apply migrations: {e}")))?;
    match applied {
        0 => println!("The database is up to date."),
        n => println!("Applied {n} migration(s)."),
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // command output
async fn status(db: &Db) -> Result<(), Failure> {
    let rows = idp_store::migrate::status(db).await.map_err(|e| Failure::failed(e.to_string()))?;
    for m in &rows {
        println!(
            "{:>6}  {:<8} {}",
            m.version,
            if m.applied { "applied" } else { "pending" },
            m.description
        );
    }
    Ok(())
}
