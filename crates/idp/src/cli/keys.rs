//! `idp keys list|rotate`

use std::sync::Arc;

use idp_core::clock::SystemClock;
use idp_server::config::Settings;
use idp_server::service::keys::{KeySource, PUBLISH_AHEAD};
use idp_store::Db;
use idp_store::repo::signing_keys;

use super::{Failure, open_db};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List signing keys: active, and retired ones still published.
    #[command(after_help = "Example:\n  idp keys list")]
    List,
    /// Add a new signing key for every algorithm in use (ALGORITHM and,
    /// when that is not RS256, RS256). Each is published at once and starts
    /// signing ten minutes later (so verifiers' cached JWKS already hold
    /// it); the previous key of its algorithm then stops signing and stays
    /// published until every token it signed has expired. A PRIVATE_KEY_PATH
    /// key is rotated by replacing the file.
    #[command(
        after_help = "Examples:\n  idp keys rotate\n  idp keys rotate --now    # after a suspected compromise"
    )]
    Rotate {
        /// Sign with the new key at once instead of after the publication delay.
        #[arg(long)]
        now: bool,
    },
}

pub async fn run(settings: Settings, command: Command) -> Result<(), Failure> {
    let db = open_db(&settings).await?;
    let result = match command {
        Command::List => list(&db).await,
        Command::Rotate { now } => rotate(&settings, &db, now).await,
    };
    db.close().await;
    result
}

#[allow(clippy::print_stdout)] // command output
async fn list(db: &Db) -> Result<(), Failure> {
    let keys = signing_keys::all(db.read()).await.map_err(|e| Failure::failed(e.to_string()))?;
    if keys.is_empty() {
        println!("No signing keys yet; `idp serve` creates one on first start.");
        return Ok(());
    }
    println!(
        "{:<44} {:<6} {:<8} {:<9} {:<21} {:<21} PUBLISHED UNTIL",
        "KID", "ALG", "STATE", "SOURCE", "SIGNS FROM", "RETIRED"
    );
    for k in keys {
        println!(
            "{:<44} {:<6} {:<8} {:<9} {:<21} {:<21} {}",
            k.kid,
            k.alg,
            if k.active { "active" } else { "retired" },
            if k.private_key_sealed.is_empty() { "file" } else { "generated" },
            k.signs_from.to_rfc3339(),
            k.retired_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into()),
            k.expires_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into()),
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // command output
async fn rotate(settings: &Settings, db: &Db, immediately: bool) -> Result<(), Failure> {
    idp_store::migrate::run(db)
        .await
        .map_err(|e| Failure::failed(format!("cannot apply migrations: {e}")))?;
    let source = KeySource::new(settings, db.clone(), Arc::new(SystemClock))
        .map_err(|e| Failure::usage(e.to_string()))?;
    let keys =
        source.rotate(immediately, "cli").await.map_err(|e| Failure::failed(e.to_string()))?;
    for key in &keys {
        if immediately {
            println!(
                "New {} key {} signs from now on (other running nodes within KEYS_REFRESH_SECONDS).",
                key.alg, key.kid
            );
        } else {
            println!(
                "New {} key {} is published now and signs in {} minutes.",
                key.alg,
                key.kid,
                PUBLISH_AHEAD.as_secs() / 60
            );
        }
    }
    if let Some(alg) = source.file_key_algorithm() {
        println!("The {alg} key comes from PRIVATE_KEY_PATH: rotate it by replacing that file.");
    }
    Ok(())
}
