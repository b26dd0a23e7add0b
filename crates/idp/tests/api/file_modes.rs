//! The embedded database's files are private to idp's user: they hold
//! password hashes. SQLite only; PostgreSQL keeps its own files.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

#[allow(unused_imports)]
use crate::helpers::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The database file and the two SQLite keeps beside it in WAL mode.
fn database_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| PathBuf::from(format!("{}{suffix}", db.display()));
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

async fn serve(db: &Path) -> TestApp {
    TestApp::builder(Engine::Sqlite)
        .database_url(format!("sqlite://{}", db.display()))
        .spawn()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_and_the_folders_idp_creates_for_it_are_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("srv/data");
    let db = dir.join("idp.db");
    let app = serve(&db).await;
    // A write: the WAL and its index exist while the server runs.
    app.create_user("alice").await;

    assert_eq!(mode(&root.path().join("srv")), 0o700);
    assert_eq!(mode(&dir), 0o700);
    for file in database_files(&db) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_modes_of_an_existing_database_are_tightened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    let first = serve(&db).await;
    first.create_user("alice").await;
    first.stop().await;
    // As an idp from before this rule left them under umask 022, or as a
    // restored backup may be.
    for file in database_files(&db) {
        if !file.exists() {
            std::fs::write(&file, b"").unwrap();
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let second = serve(&db).await;
    for file in database_files(&db) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    second.login("alice").await;
}
