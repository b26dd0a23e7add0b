//! The outbox: work that must follow a change but must not hold up (or be
//! lost by) the request that made it. A use case writes a job in the
//! transaction of its change ([`Outbox::enqueue`]); a sender task on every
//! node claims due jobs, hands each to the [`Handler`] of its kind, and
//! records the outcome. Delivery is at least once: a node that dies after
//! its handler succeeded but before recording it leaves the job to be run
//! again when its claim runs out.
//!
//! Kinds are registered at start-up; this module knows none of them (mail
//! today, back-channel logout calls later).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use idp_store::StoreError;
use idp_store::repo::outbox::{self, ClaimedJob};

use crate::state::AppState;

pub mod queue;
pub use queue::Outbox;

/// Jobs claimed at once by one node.
const BATCH: i64 = 50;
/// How long a claim holds: longer than any handler may take (a mail's SMTP
/// conversation times out well before), so no second node starts a job
/// that is still running.
const LEASE: Duration = Duration::from_secs(120);
/// How often an idle sender looks for due jobs (enqueues on this node wake
/// it at once; on several nodes, a job enqueued elsewhere waits this long).
const POLL: Duration = Duration::from_secs(1);
/// The first retry's delay; each further one doubles, up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_secs(2);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Attempts before a job is given up: about five hours of retries.
pub const MAX_ATTEMPTS: i64 = 30;

/// What a handler made of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Try again later (after a backoff).
    Retry(String),
    /// Give up: another try would fail the same way.
    Fail(String),
}

/// Runs the jobs of one kind. `payload` is the job's opened payload.
pub trait Handler: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> &'static str;
    fn run<'a>(
        &'a self,
        state: &'a AppState,
        payload: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
}

/// The delay before attempt `attempts + 1`: doubling from [`FIRST_DELAY`]
/// up to [`MAX_DELAY`], then cut by a random part of up to a half, so that
/// jobs failed together (an SMTP outage) do not all come back together.
pub fn backoff(attempts: i64, jitter: u16) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let full = FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
    let cut = full.mul_f64(f64::from(jitter) / f64::from(u16::MAX) / 2.0);
    full.saturating_sub(cut)
}

/// Claims a batch of due jobs and runs them; how many it ran.
pub async fn run_due(state: &AppState, handlers: &[Arc<dyn Handler>]) -> Result<usize, StoreError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    let jobs = outbox::claim(&mut tx, state.db.dialect(), now, now + LEASE, BATCH).await?;
    tx.commit().await?;
    for job in &jobs {
        let outcome = match (handlers.iter().find(|h| h.kind() == job.kind), state.outbox.open(job))
        {
            (None, _) => Outcome::Retry(format!("no handler for jobs of kind {}", job.kind)),
            (Some(_), None) => Outcome::Fail(
                "the payload does not open under SECRET_KEY (or SECRET_KEY_PREVIOUS)".into(),
            ),
            (Some(handler), Some(payload)) => handler.run(state, &payload).await,
        };
        record(state, job, outcome).await?;
    }
    Ok(jobs.len())
}

async fn record(state: &AppState, job: &ClaimedJob, outcome: Outcome) -> Result<(), StoreError> {
    let now = state.now();
    let mut tx = state.db.write().await?;
    match &outcome {
        Outcome::Done => outbox::complete(&mut tx, &job.id, now).await?,
        Outcome::Retry(error) if job.attempts < MAX_ATTEMPTS => {
            let jitter = u16::from_le_bytes(idp_core::random::bytes::<2>());
            let next = now + backoff(job.attempts, jitter);
            outbox::retry(&mut tx, &job.id, next, error).await?;
        }
        Outcome::Retry(error) | Outcome::Fail(error) => {
            outbox::fail(&mut tx, &job.id, now, error).await?;
        }
    }
    tx.commit().await?;
    match outcome {
        Outcome::Done => {}
        Outcome::Retry(error) if job.attempts < MAX_ATTEMPTS => {
            tracing::warn!(kind = %job.kind, job = %job.id, attempts = job.attempts, %error, "outbox job failed; will retry");
        }
        Outcome::Retry(error) | Outcome::Fail(error) => {
            tracing::error!(kind = %job.kind, job = %job.id, attempts = job.attempts, %error, "outbox job given up");
        }
    }
    Ok(())
}

/// The sender: runs due jobs until the database pool closes, waking for
/// this node's enqueues and every [`POLL`] otherwise.
pub fn spawn(state: AppState, handlers: Vec<Arc<dyn Handler>>) {
    tokio::spawn(async move {
        loop {
            if state.db.read().is_closed() {
                break;
            }
            match run_due(&state, &handlers).await {
                // A full batch: more may be due.
                Ok(n) if n >= usize::try_from(BATCH).unwrap_or(usize::MAX) => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "outbox: cannot claim jobs; will retry"),
            }
            if let Ok(depth) = outbox::pending(state.db.read()).await {
                state.metrics.set_outbox_depth(depth);
            }
            tokio::select! {
                () = state.outbox.woken() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_only_shortens() {
        assert_eq!(backoff(1, 0), Duration::from_secs(2));
        assert_eq!(backoff(2, 0), Duration::from_secs(4));
        assert_eq!(backoff(5, 0), Duration::from_secs(32));
        assert_eq!(backoff(29, 0), MAX_DELAY);
        assert_eq!(backoff(1, u16::MAX), Duration::from_secs(1));
        assert!(backoff(10, 1234) <= MAX_DELAY);
        assert!(backoff(10, u16::MAX) >= MAX_DELAY / 2);
    }
}
