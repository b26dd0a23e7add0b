//! Password hashing off the async runtime, with bounded concurrency.
//!
//! Argon2id is deliberately slow and memory-hard (19 MiB per hash by
//! default). Running it on the async workers would stall every other request,
//! and running it unbounded would let a burst of logins exhaust memory. So
//! each hash takes a permit (at most `HASH_CONCURRENCY` at once, each on a
//! blocking thread); a request that cannot get one within the queue timeout,
//! or finds the queue full, is told to retry (503 + `Retry-After`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use idp_core::SecretString;
use idp_core::password::{PasswordHasher, Verification};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// Every permit is taken and the wait ran out (or the queue is full).
    #[error("password hashing is at capacity")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// How long a caller should wait before retrying after [`HashingError::Busy`].
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug)]
pub struct HashingPool {
    hasher: Arc<PasswordHasher>,
    permits: Arc<Semaphore>,
    concurrency: usize,
    max_wait: Duration,
    max_queued: usize,
    queued: AtomicUsize,
}

/// The result of checking a password at login.
#[derive(Debug)]
pub struct Checked {
    pub valid: bool,
    /// A new hash to store: the old one was bcrypt or outdated Argon2.
    pub rehashed: Option<String>,
}

impl HashingPool {
    pub fn new(
        hasher: PasswordHasher,
        concurrency: usize,
        max_wait: Duration,
        max_queued: usize,
    ) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            hasher: Arc::new(hasher),
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            max_wait,
            max_queued,
            queued: AtomicUsize::new(0),
        }
    }

    /// Requests waiting for a permit right now (exported as a metric).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Hashes currently running.
    pub fn in_use(&self) -> usize {
        self.concurrency.saturating_sub(self.permits.available_permits())
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, HashingError> {
        let hasher = self.hasher.clone();
        self.run(move || hasher.hash(&password).map_err(|e| HashingError::Failed(e.to_string())))
            .await?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no such user, so both cases cost the same. Re-hashes under
    /// the same permit when the stored hash is outdated.
    pub async fn check(
        &self,
        stored: Option<String>,
        password: SecretString,
    ) -> Result<Checked, HashingError> {
        let hasher = self.hasher.clone();
        self.run(move || {
            let Some(stored) = stored else {
                hasher.verify_dummy(&password);
                return Ok(Checked { valid: false, rehashed: None });
            };
            match hasher.verify(&stored, &password) {
                Verification::Invalid => Ok(Checked { valid: false, rehashed: None }),
                Verification::Valid => Ok(Checked { valid: true, rehashed: None }),
                Verification::ValidNeedsRehash => {
                    let rehashed =
                        hasher.hash(&password).map_err(|e| HashingError::Failed(e.to_string()))?;
                    Ok(Checked { valid: true, rehashed: Some(rehashed) })
                }
            }
        })
        .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    return Err(HashingError::Busy);
                }
                let waited =
                    tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await;
                self.queued.fetch_sub(1, Ordering::SeqCst);
                match waited {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(HashingError::Busy),
                }
            }
        };
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(work)
        })
        .await
        .map_err(|e| HashingError::Failed(format!("hashing task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::password::Argon2Params;

    fn pool(concurrency: usize, max_wait: Duration, max_queued: usize) -> HashingPool {
        let params = Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 };
        HashingPool::new(PasswordHasher::new(params).unwrap(), concurrency, max_wait, max_queued)
    }

    #[tokio::test]
    async fn hashes_and_checks_off_the_runtime() {
        let pool = pool(2, Duration::from_secs(5), 16);
        let hash = pool.hash(SecretString::from("correct horse")).await.unwrap();
        let ok = pool.check(Some(hash.clone()), SecretString::from("correct horse")).await.unwrap();
        assert!(ok.valid);
        assert!(ok.rehashed.is_none());
        let bad = pool.check(Some(hash), SecretString::from("wrong")).await.unwrap();
        assert!(!bad.valid);
        let unknown = pool.check(None, SecretString::from("anything")).await.unwrap();
        assert!(!unknown.valid);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_instead_of_growing() {
        let pool = Arc::new(pool(1, Duration::from_secs(30), 0));
        // Hold the only permit.
        let held = pool.permits.clone().acquire_owned().await.unwrap();
        let err = pool.hash(SecretString::from("x")).await.unwrap_err();
        assert!(matches!(err, HashingError::Busy));
        drop(held);
        assert!(pool.hash(SecretString::from("x")).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_too_long_is_refused() {
        let pool = Arc::new(pool(1, Duration::from_millis(100), 8));
        let held = pool.permits.clone().acquire_owned().await.unwrap();
        let err = pool.hash(SecretString::from("x")).await.unwrap_err();
        assert!(matches!(err, HashingError::Busy));
        assert_eq!(pool.queued(), 0);
        drop(held);
    }
}
