//! Building and running the server. `main` and the integration tests go
//! through the same [`Application::build`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use idp_core::clock::{Clock, SystemClock};
use idp_store::{Db, StoreError};
use tokio::net::TcpListener;

use idp_core::password::PasswordHasher;

use crate::config::{ConfigError, Settings};
use crate::http;
use crate::http::well_known::Discovery;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::serve;
use crate::service::bearer::BearerVerifier;
use crate::service::hashing::HashingPool;
use crate::service::keys::{KeyRing, KeyRingError, KeySource};
use crate::service::outbox::{Handler, Outbox};
use crate::service::tokens::TokenIssuer;
use crate::state::{AppState, Inner};

/// Why the server could not start. Each displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database: {0}")]
    Database(#[source] StoreError),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] StoreError),
    #[error(
        "the database schema is behind this version of idp; run `idp migrate` (or start without --no-migrate)"
    )]
    SchemaBehind,
    #[error(transparent)]
    Keys(#[from] KeyRingError),
    #[error("{0}")]
    Mail(String),
    #[error("ARGON2_MEMORY_KIB: {0}")]
    Hashing(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Choices that differ between `idp serve` and tests.
#[derive(Debug)]
pub struct BuildOptions {
    /// Apply pending migrations before serving (`--no-migrate` turns it off).
    pub migrate: bool,
    pub clock: Arc<dyn Clock>,
    /// A socket already bound (tests bind port 0 first so that they know the
    /// issuer URL before the server is built); otherwise `settings.bind`.
    pub listener: Option<std::net::TcpListener>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self { migrate: true, clock: Arc::new(SystemClock), listener: None }
    }
}

/// A server bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    /// `METRICS_BIND`: `/metrics` is served here instead.
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    /// Connects to the database, migrates it (unless told not to), binds
    /// `settings.bind` (port 0 picks a free port) and builds the router.
    pub async fn build(settings: Settings, options: BuildOptions) -> Result<Self, StartupError> {
        let db = Db::connect(&settings.database_url, &settings.pool_settings())
            .await
            .map_err(StartupError::Database)?;
        if options.migrate {
            let applied = idp_store::migrate::run(&db).await.map_err(StartupError::Migrate)?;
            if applied > 0 {
                tracing::info!(applied, "migrations applied");
            }
        } else if !idp_store::migrate::is_up_to_date(&db).await.map_err(StartupError::Database)? {
            return Err(StartupError::SchemaBehind);
        }
        warn_if_over_the_file_limit(&settings);
        let addr = settings.bind;
        let bind_error = |source| StartupError::Bind { addr, source };
        let listener = match options.listener {
            Some(listener) => {
                listener.set_nonblocking(true).map_err(bind_error)?;
                TcpListener::from_std(listener).map_err(bind_error)?
            }
            None => TcpListener::bind(addr).await.map_err(bind_error)?,
        };
        let metrics_listener = match settings.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
            None => None,
        };
        let state = build_state(settings, db, options.clock).await?;
        crate::service::retention::spawn(state.clone());
        crate::service::outbox::spawn(state.clone(), outbox_handlers());
        Ok(Self { listener, metrics_listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.settings.bind)
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, closes idle
    /// connections, lets in-flight requests finish for up to
    /// `SHUTDOWN_TIMEOUT_SECONDS`, closes what is still open, and closes
    /// the database pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = http::router(self.state.clone());
        tracing::info!(addr = %self.local_addr(), issuer = %self.state.settings.issuer, "idp listening");
        let limits = serve::Limits::from_settings(&self.state.settings);
        // One shutdown signal, seen by both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let metrics_server = self.metrics_listener.map(|listener| {
            tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "metrics listening");
            let router = http::metrics_router(self.state.clone());
            // A scraper or two: a small cap of its own, so that a flood
            // there cannot use up the main listener's descriptors.
            let limits = serve::Limits {
                max_connections: limits.max_connections.min(METRICS_MAX_CONNECTIONS),
                ..limits
            };
            tokio::spawn(serve::serve(listener, router, limits, stopped.clone()))
        });
        serve::serve(self.listener, router, limits, stopped).await;
        if let Some(server) = metrics_server
            && let Err(err) = server.await
        {
            tracing::warn!(error = %err, "the metrics listener failed");
        }
        self.state.db.close().await;
        tracing::info!("idp stopped");
        Ok(())
    }
}

/// Past the open-file limit, `accept` fails and nothing is answered, not
/// even `/healthz`; the cap is meant to be reached first.
fn warn_if_over_the_file_limit(settings: &Settings) {
    let Some(room) =
        crate::config::connections_the_file_limit_allows(settings.database_max_connections)
    else {
        return;
    };
    if u64::try_from(settings.max_connections).unwrap_or(u64::MAX) > room {
        tracing::warn!(
            max_connections = settings.max_connections,
            open_file_limit = crate::config::open_file_limit().unwrap_or_default(),
            "MAX_CONNECTIONS is more than the open-file limit leaves room for (about {room}); raise the limit (`ulimit -n`, systemd LimitNOFILE=) or lower MAX_CONNECTIONS"
        );
    }
}

/// Connections the `METRICS_BIND` listener keeps open at once.
const METRICS_MAX_CONNECTIONS: usize = 32;

/// The application state without an HTTP listener, for commands that run
/// the use cases directly (`idp seed`, `idp user …`). Migrates first.
pub async fn open_state(
    settings: Settings,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartupError> {
    let db = Db::connect(&settings.database_url, &settings.pool_settings())
        .await
        .map_err(StartupError::Database)?;
    idp_store::migrate::run(&db).await.map_err(StartupError::Migrate)?;
    build_state(settings, db, clock).await
}

/// Everything the handlers share: keys loaded and parsed once, the hashing
/// pool with its dummy hash computed, the discovery document serialized.
async fn build_state(
    settings: Settings,
    db: Db,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartupError> {
    let metrics = Metrics::new();
    let db = db.observe_write_begins(metrics.db_write_begin_observer());
    let keys = KeyRing::start(KeySource::new(&settings, db.clone(), clock.clone())?).await?;
    keys.spawn_refresher();
    let hasher =
        PasswordHasher::new(settings.argon2).map_err(|e| StartupError::Hashing(e.to_string()))?;
    let hashing = HashingPool::new(
        hasher,
        settings.hash_concurrency,
        settings.hash_queue_timeout,
        settings.hash_queue_max,
    )
    .observe_waits(metrics.hash_wait_observer());
    let tokens = TokenIssuer::new(
        keys.clone(),
        settings.issuer.clone(),
        settings.default_audience.clone(),
        settings.access_token_ttl,
    );
    let bearer = BearerVerifier::new(
        keys.clone(),
        db.clone(),
        settings.issuer.clone(),
        settings.default_audience.clone(),
        settings.jwt_leeway,
    );
    let discovery = Discovery::new(&settings.issuer, settings.algorithm).to_bytes();
    let csrf = idp_core::csrf::CsrfKey::derive(settings.secret_key()?);
    let outbox = Outbox::new(settings.secret_key()?, settings.secret_key_previous());
    let mailer = match &settings.mail.smtp {
        Some(smtp) => Some(Mailer::new(smtp).map_err(StartupError::Mail)?),
        None => None,
    };
    Ok(AppState::new(Inner {
        csrf,
        settings,
        db,
        clock,
        keys,
        tokens,
        bearer,
        hashing,
        discovery,
        metrics,
        outbox,
        mailer,
    }))
}

/// The kinds of outbox jobs and who runs them.
pub fn outbox_handlers() -> Vec<Arc<dyn Handler>> {
    vec![
        Arc::new(crate::service::mail::Deliver),
        Arc::new(crate::service::recovery::ResolveRequest),
    ]
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
