//! Password hashing off the async runtime, with bounded concurrency.
//!
//! Argon2id is deliberately slow and memory-hard (19 MiB per hash by
//! default). Running it on the async workers would stall every other request,
//! and running it unbounded would let a burst of logins exhaust memory. So
//! each hash takes a permit (at most `HASH_CONCURRENCY` at once) and runs on
//! one of `HASH_CONCURRENCY` dedicated threads; a request that cannot get a
//! permit within the queue timeout, or finds the queue full, is told to retry
//! (503 + `Retry-After`).
//!
//! Dedicated threads rather than tokio's blocking pool: the allocator keeps
//! a freed 19 MiB block in the arena of the thread that used it, so hashing
//! on an open-ended set of threads grows the resident set by one block per
//! thread that ever hashed. A fixed set of threads bounds it, and each
//! frees its block after [`IDLE_RELEASE`] without work.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use idp_core::SecretString;
use idp_core::clock::DurationObserver;
use idp_core::password::{HashMemory, PasswordHasher, Verification};
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

type Job = Box<dyn FnOnce(&mut HashMemory) + Send>;

/// A hashing thread frees its working memory (19 MiB by default) after this
/// long without a job, so an idle server stays small; under steady logins
/// the memory is reused and never reallocated.
const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// A fixed set of threads that run hashing jobs.
struct Workers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Workers {
    fn start(count: usize, hasher: Arc<PasswordHasher>) -> Self {
        let (jobs, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..count {
            let receiver = receiver.clone();
            let hasher = hasher.clone();
            let spawned =
                std::thread::Builder::new().name(format!("idp-hash-{n}")).spawn(move || {
                    // Allocated on this thread's first job and reused while
                    // jobs keep coming; freed after IDLE_RELEASE without one.
                    let mut memory: Option<HashMemory> = None;
                    let mut last_job = Instant::now();
                    loop {
                        // The lock is held only while taking the next job.
                        let Ok(receiver) = receiver.lock() else { return };
                        // Waiting for the lock counts as idle time too.
                        if last_job.elapsed() >= IDLE_RELEASE {
                            memory = None;
                        }
                        let job = receiver.recv_timeout(IDLE_RELEASE);
                        drop(receiver);
                        match job {
                            // A panicking job must not take the thread with it:
                            // the pool would shrink by one each time.
                            Ok(job) => {
                                let memory = memory.get_or_insert_with(|| hasher.new_memory());
                                let _ =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        job(memory)
                                    }));
                                last_job = Instant::now();
                            }
                            Err(RecvTimeoutError::Timeout) => memory = None,
                            // Every sender is gone: the pool was dropped.
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a hashing thread");
            }
        }
        Self { jobs }
    }
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workers")
    }
}

#[derive(Debug)]
pub struct HashingPool {
    hasher: Arc<PasswordHasher>,
    workers: Workers,
    permits: Arc<Semaphore>,
    concurrency: usize,
    max_wait: Duration,
    max_queued: usize,
    queued: AtomicUsize,
    /// Told how long each request waited for a hashing slot.
    wait_observer: Option<DurationObserver>,
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
        let hasher = Arc::new(hasher);
        Self {
            workers: Workers::start(concurrency, hasher.clone()),
            hasher,
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            max_wait,
            max_queued,
            queued: AtomicUsize::new(0),
            wait_observer: None,
        }
    }

    /// Reports how long each hash waited for a slot (zero when one was
    /// free); requests turned away as busy are not reported.
    pub fn observe_waits(mut self, observer: DurationObserver) -> Self {
        self.wait_observer = Some(observer);
        self
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
        self.run(move |memory| {
            hasher.hash_in(memory, &password).map_err(|e| HashingError::Failed(e.to_string()))
        })
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
        self.run(move |memory| {
            let Some(stored) = stored else {
                hasher.verify_dummy_in(memory, &password);
                return Ok(Checked { valid: false, rehashed: None });
            };
            match hasher.verify_in(memory, &stored, &password) {
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
        work: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let started = Instant::now();
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
        if let Some(observer) = &self.wait_observer {
            observer.observe(started.elapsed());
        }
        let span = tracing::Span::current();
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _permit = permit;
            let _ = done.send(span.in_scope(|| work(memory)));
        });
        self.workers
            .jobs
            .send(job)
            .map_err(|_| HashingError::Failed("the hashing threads are gone".into()))?;
        result.await.map_err(|_| HashingError::Failed("a hashing job was dropped".into()))
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
