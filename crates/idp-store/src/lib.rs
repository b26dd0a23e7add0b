//! Storage for idp: one portable SQL set over SQLite and PostgreSQL through
//! sqlx's `Any` driver, one migration history, one repository module per table
//! with its SQL beside it.

mod db;
mod error;
mod group_commit;
pub mod migrate;
pub mod repo;
mod sqlite_files;

pub use db::{Db, Dialect, Exclusive, PoolSettings, Transaction, sqlite_path};
pub use error::StoreError;
pub use sqlite_files::create_private_dir;
/// What repository functions that write take: a write transaction's
/// connection (`&mut tx`).
pub use sqlx::AnyConnection;
/// What repository functions run on: the pool, or `&mut **tx`.
pub use sqlx::any::AnyExecutor;
