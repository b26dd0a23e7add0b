//! Serving connections: the accept loop, the connection cap, the header,
//! idle and write deadlines, and shutdown with a deadline. `axum::serve`
//! has none of these, so hyper's HTTP/1 connection is driven here.
//!
//! - **Cap** (`MAX_CONNECTIONS`): at the cap, a new connection is accepted
//!   and the connection that has waited longest without a request in
//!   progress (idle, or still sending its headers) is closed to make room;
//!   if every connection is busy, the new one waits until one finishes.
//!   Idle connections cost nothing to close (RFC 9112 §9.5 lets a server
//!   close them at any time; clients reconnect), and slow or idle
//!   connections held open by an attacker are the longest waiting, so
//!   `/healthz` and real clients still get in. Merely waiting for a free
//!   slot (leaving connections in the kernel's backlog) would queue the
//!   health check behind the attacker's connections until their header
//!   deadline; refusing new ones would refuse the health check outright.
//! - **Shutdown**: stop accepting; close idle and slow connections at
//!   once; let in-flight requests finish (their responses say
//!   `Connection: close`) for up to `SHUTDOWN_TIMEOUT_SECONDS`; then close
//!   whatever is still open.

mod connection;
mod service;

use std::collections::HashMap;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::Settings;
use connection::{ConnectionState, GuardedStream, Stage, Timeouts};
use service::HttpService;

/// How often, while every connection is busy at the cap, the accept loop
/// looks again for one that has gone idle and can be closed.
const CAP_RETRY: Duration = Duration::from_millis(50);

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            max_connections: settings.max_connections,
            shutdown_timeout: settings.shutdown_timeout,
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true, then shuts down
/// as described in the module documentation.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let timeouts = Timeouts { header_read: limits.header_read_timeout, idle: limits.idle_timeout };
    let registry = Arc::new(Registry::default());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let epoch = Instant::now();
    let mut http = hyper::server::conn::http1::Builder::new();
    // The header deadline is ours (see `connection`); hyper's would also
    // cut kept-alive connections after the header timeout.
    http.header_read_timeout(None);
    let mut tasks = JoinSet::new();
    let mut cap_warned: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                accept_failed(err).await;
                continue;
            }
        };
        if slots.available_permits() == 0
            && cap_warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60))
        {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection cap reached; closing the longest-waiting idle connections to make room"
            );
            cap_warned = Some(Instant::now());
        }
        let permit = tokio::select! {
            permit = make_room(&slots, &registry) => permit,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let state = Arc::new(ConnectionState::new(epoch));
        let registration = registry.add(state.clone());
        let io = TokioIo::new(GuardedStream::new(stream, state.clone(), timeouts));
        let connection =
            http.serve_connection(io, HttpService::new(router.clone(), peer, state.clone()));
        tasks.spawn(async move {
            let _permit = permit;
            let _registration = registration;
            let mut connection = pin!(connection);
            let mut closing = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(error = %err, "connection closed");
                        }
                        return;
                    }
                    () = state.close_requested(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    registry.close_all();
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "shutdown deadline reached; closing the connections still open"
        );
        tasks.shutdown().await;
    }
}

/// A free connection slot, closing the longest-waiting idle connection to
/// free one when at the cap.
async fn make_room(slots: &Arc<Semaphore>, registry: &Registry) -> OwnedSemaphorePermit {
    loop {
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return permit;
        }
        registry.close_longest_waiting();
        // The semaphore is never closed, so the only failure is the
        // timeout: every connection was busy, and one may be idle by now.
        if let Ok(Ok(permit)) = tokio::time::timeout(CAP_RETRY, slots.clone().acquire_owned()).await
        {
            return permit;
        }
    }
}

async fn accept_failed(err: io::Error) {
    // A connection reset before it was taken says nothing of the listener.
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    // Out of file descriptors and the like: retrying at once would spin.
    tracing::error!(error = %err, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The open connections, for the cap and for shutdown.
#[derive(Debug, Default)]
struct Registry {
    connections: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn add(self: &Arc<Self>, state: Arc<ConnectionState>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, state);
        Registration { registry: self.clone(), id }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnectionState>>> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the connection that has waited longest without a request in
    /// progress to close.
    fn close_longest_waiting(&self) {
        let connections = self.lock();
        // The older connection first among those waiting since the same
        // instant.
        let longest = connections
            .iter()
            .filter(|(_, c)| !c.is_closing())
            .filter_map(|(id, c)| match c.stage() {
                (Stage::Busy, _) => None,
                (_, since) => Some(((since, *id), c)),
            })
            .min_by_key(|(key, _)| *key);
        if let Some((_, connection)) = longest {
            tracing::debug!("connection cap: closing the longest-waiting idle connection");
            connection.request_close();
        }
    }

    fn close_all(&self) {
        for connection in self.lock().values() {
            connection.request_close();
        }
    }
}

/// Removes its connection from the registry when the connection ends.
#[derive(Debug)]
struct Registration {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}
