//! The connection pool over either engine, and the few places where the
//! engines must be told apart.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection as _, Executor};

use idp_core::clock::DurationObserver;

use crate::StoreError;
use crate::group_commit::RotationQueue;
use crate::sqlite_files;

/// Which engine a URL points at. Almost every statement is shared; this is
/// consulted only where SQLite and PostgreSQL really differ (connection
/// pragmas, how a write transaction starts, database creation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// How a transaction that will write begins. SQLite's default `BEGIN` is
    /// deferred: a transaction that reads first and writes later can fail with
    /// `SQLITE_BUSY` when another writer got in between, which the busy
    /// timeout cannot resolve. `BEGIN IMMEDIATE` takes the write lock up
    /// front and waits for it under `busy_timeout` instead.
    fn begin_write_statement(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// Pool settings that the configuration decides.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the write lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool plus the dialect it speaks.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite has one writer at a time. Left to SQLite, waiting writers
    /// poll the lock with growing sleeps (its busy handler), which turns
    /// contention into latency spikes of tens of milliseconds; queueing
    /// them here hands the lock over the moment it is free. (An embedded
    /// database has one process, so an in-process lock covers every writer.)
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Told how long each write transaction took to start.
    begin_observer: Option<DurationObserver>,
    /// SQLite: refresh-token rotations, written in groups.
    rotations: Option<Arc<RotationQueue>>,
}

/// Proof of [`Db::try_exclusive`]: the connection holding the lock.
#[derive(Debug)]
pub struct Exclusive {
    held: Option<(sqlx::pool::PoolConnection<sqlx::Any>, i64)>,
}

impl Exclusive {
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some((mut conn, lock)) = self.held.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(lock).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

impl Drop for Exclusive {
    /// Not released (an error or a panic on the way): close the connection
    /// rather than return it to the pool still holding the lock; PostgreSQL
    /// drops a session's locks with the session.
    fn drop(&mut self) {
        if let Some((conn, _)) = self.held.take() {
            drop(conn.detach());
        }
    }
}

/// A database transaction. Dereferences to the connection, so repository
/// functions take `&mut *tx`; ends with [`Transaction::commit`] or
/// [`Transaction::rollback`] (dropping it rolls back too).
#[derive(Debug)]
pub struct Transaction {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Held until the transaction ends (SQLite's writer queue).
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Transaction {
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}

impl std::ops::Deref for Transaction {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// How long a pooled connection may sit idle and still be used without a
/// ping first.
const TRUSTED_IDLE: Duration = Duration::from_secs(1);

impl Db {
    /// Connects to `url`. SQLite databases are created when missing; on
    /// PostgreSQL the database must exist.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url).ok_or(StoreError::UnsupportedUrl)?;
        let url = match dialect {
            Dialect::Sqlite => {
                let url_with_create = sqlite_url_with_create(url);
                if let Some(path) = sqlite_path(url) {
                    // SQLite creates the file but not its folder (`data/` on
                    // a fresh machine).
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        sqlite_files::create_private_dir(dir)
                            .map_err(|e| StoreError::CreateDir(dir.display().to_string(), e))?;
                    }
                    sqlite_files::secure(&path, url_with_create.contains("mode=rwc"));
                }
                url_with_create
            }
            Dialect::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        // The pool retries failed connects until its acquire timeout and then
        // reports only "timed out"; one direct attempt first surfaces the
        // real reason (refused, unknown database, authentication failed).
        sqlx::AnyConnection::connect_with(&options).await?.close().await?;
        let pragmas = sqlite_pragmas(settings.sqlite_busy_timeout);
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            // sqlx pings every connection on release, and by default again on
            // every acquire: a second round trip per query. One that came
            // back (alive) moments ago is handed out untested, as HikariCP
            // does; only one idle for longer, which a restarted database may
            // have cut, is pinged first.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > TRUSTED_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect({
                let pragmas = pragmas.clone();
                move |conn, _meta| {
                    let pragmas = pragmas.clone();
                    Box::pin(async move {
                        if dialect == Dialect::Sqlite {
                            conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                        }
                        Ok(())
                    })
                }
            })
            .connect_with(options.clone())
            .await?;
        let writer = (dialect == Dialect::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let rotations = writer.as_ref().map(|writer| {
            Arc::new(RotationQueue::start(options, pragmas, pool.clone(), Arc::clone(writer)))
        });
        Ok(Self { pool, dialect, writer, begin_observer: None, rotations })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// For reads: statements that change nothing. The repository functions
    /// that write take `&mut AnyConnection` — the connection of a
    /// [`Db::write`] transaction — so a write cannot be sent here, where on
    /// SQLite it would bypass the single-writer queue and meet the other
    /// writers in SQLite's busy handler instead:
    ///
    /// ```compile_fail
    /// async fn clear_lockout(db: &idp_store::Db) {
    ///     idp_store::repo::login_failures::clear(db.read(), "name:alice").await;
    /// }
    /// ```
    ///
    /// ```
    /// async fn clear_lockout(db: &idp_store::Db) -> Result<(), idp_store::StoreError> {
    ///     let mut tx = db.write().await?;
    ///     idp_store::repo::login_failures::clear(&mut tx, "name:alice").await?;
    ///     tx.commit().await
    /// }
    /// ```
    pub fn read(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool itself, for the store's own writes that are one atomic
    /// statement or manage their own locking (migrations, PostgreSQL's
    /// rotation statement).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQLite's group-committing writer of refresh-token rotations.
    pub(crate) fn rotation_queue(&self) -> Option<&RotationQueue> {
        self.rotations.as_deref()
    }

    /// Reports how long every write transaction takes to start: the wait
    /// for a pooled connection (and on SQLite for the writer queue) plus
    /// `BEGIN`. The one place where pool pressure shows as latency.
    pub fn observe_write_begins(mut self, observer: DurationObserver) -> Self {
        self.begin_observer = Some(observer);
        self
    }

    /// Starts a transaction that will write (see [`Dialect`]): the only way
    /// to a connection that the writing repository functions take.
    pub async fn write(&self) -> Result<Transaction, StoreError> {
        let started = std::time::Instant::now();
        let writer = match &self.writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin_with(self.dialect.begin_write_statement()).await?;
        if let Some(observer) = &self.begin_observer {
            observer.observe(started.elapsed());
        }
        Ok(Transaction { tx, _writer: writer })
    }

    /// A write transaction that no other node's `begin_serialized` with the
    /// same `lock` overlaps: for check-then-act work that every node may try
    /// at once (creating the first signing key). PostgreSQL takes a
    /// transaction-scoped advisory lock; SQLite's `BEGIN IMMEDIATE` already
    /// admits one writer at a time.
    pub async fn begin_serialized(&self, lock: i64) -> Result<Transaction, StoreError> {
        let mut tx = self.write().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(lock)
                .execute(&mut *tx.tx)
                .await?;
        }
        Ok(tx)
    }

    /// Work that only one node may do at a time (the cleanup sweep): on
    /// PostgreSQL a session advisory lock, taken without waiting; `None`
    /// when another node holds it. SQLite has a single process, which
    /// runs one such task at a time anyway. Hold the guard for the work's
    /// duration, then [`Exclusive::release`] it.
    pub async fn try_exclusive(&self, lock: i64) -> Result<Option<Exclusive>, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(Some(Exclusive { held: None }));
        }
        let mut conn = self.pool.acquire().await?;
        let (taken,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(lock)
            .fetch_one(&mut *conn)
            .await?;
        Ok(taken.then_some(Exclusive { held: Some((conn, lock)) }))
    }

    /// One round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn size(&self) -> u32 {
        self.pool.size()
    }

    pub fn idle(&self) -> usize {
        self.pool.num_idle()
    }

    pub fn max_connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Waits for checked-out connections to return, then closes them all.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Every SQLite connection's settings. WAL lets readers proceed while one
/// writer commits; synchronous=NORMAL in WAL mode never loses a committed
/// transaction to a process crash (the WAL is in the OS page cache), only
/// possibly to a power cut.
fn sqlite_pragmas(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
        busy_timeout.as_millis()
    )
}

/// `mode=rwc` makes SQLite create the file on first start.
fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The file a `sqlite:` URL points at, if any (not for in-memory databases).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" { None } else { Some(std::path::PathBuf::from(path)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_url_scheme() {
        assert_eq!(Dialect::from_url("sqlite://data/idp.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("sqlite::memory:"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("postgres://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("postgresql://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("mysql://u@h/db"), None);
    }

    #[test]
    fn sqlite_files_are_created_on_first_start() {
        assert_eq!(sqlite_url_with_create("sqlite://data/idp.db"), "sqlite://data/idp.db?mode=rwc");
        assert_eq!(
            sqlite_url_with_create("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(sqlite_url_with_create("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
    }

    #[test]
    fn sqlite_path_is_the_file_part_of_the_url() {
        assert_eq!(sqlite_path("sqlite://data/idp.db"), Some("data/idp.db".into()));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/idp/idp.db?mode=rwc"),
            Some("/var/lib/idp/idp.db".into())
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
