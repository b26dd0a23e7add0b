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
    queue: Arc<Queue>,
}

/// The jobs waiting for a thread. Every idle thread waits on the condition
/// variable with its own timeout, so each frees its memory on time. (With
/// one channel receiver behind a mutex, a thread blocked on that mutex
/// could wait indefinitely, keeping its 19 MiB.)
#[derive(Default)]
struct Queue {
    pending: std::sync::Mutex<Pending>,
    ready: std::sync::Condvar,
    /// How many threads hold their working memory right now.
    holding_memory: AtomicUsize,
}

#[derive(Default)]
struct Pending {
    jobs: std::collections::VecDeque<Job>,
    closed: bool,
}

/// What a waiting thread does next.
enum Next {
    Run(Job),
    /// `IDLE_RELEASE` passed without a job.
    FreeMemory,
    Stop,
}

impl Queue {
    fn push(&self, job: Job) -> Result<(), HashingError> {
        let gone = || HashingError::Failed("the hashing threads are gone".into());
        let mut pending = self.pending.lock().map_err(|_| gone())?;
        if pending.closed {
            return Err(gone());
        }
        pending.jobs.push_back(job);
        drop(pending);
        self.ready.notify_one();
        Ok(())
    }

    /// Waits for a job; with memory held, for at most `IDLE_RELEASE`.
    fn next(&self, holding_memory: bool) -> Next {
        let Ok(mut pending) = self.pending.lock() else { return Next::Stop };
        loop {
            if let Some(job) = pending.jobs.pop_front() {
                return Next::Run(job);
            }
            if pending.closed {
                return Next::Stop;
            }
            pending = if holding_memory {
                match self.ready.wait_timeout(pending, IDLE_RELEASE) {
                    Ok((pending, waited)) if waited.timed_out() && pending.jobs.is_empty() => {
                        return Next::FreeMemory;
                    }
                    Ok((pending, _)) => pending,
                    Err(_) => return Next::Stop,
                }
            } else {
                match self.ready.wait(pending) {
                    Ok(pending) => pending,
                    Err(_) => return Next::Stop,
                }
            };
        }
    }

    fn close(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.closed = true;
        }
        self.ready.notify_all();
    }
}

impl Workers {
    fn start(count: usize, hasher: Arc<PasswordHasher>) -> Self {
        let queue = Arc::new(Queue::default());
        for n in 0..count {
            let (queue, hasher) = (queue.clone(), hasher.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("idp-hash-{n}"))
                .spawn(move || work(&queue, &hasher));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a hashing thread");
            }
        }
        Self { queue }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// One hashing thread: its working memory is allocated on its first job,
/// reused while jobs keep coming, and freed after `IDLE_RELEASE` without one.
fn work(queue: &Queue, hasher: &PasswordHasher) {
    let mut memory: Option<HashMemory> = None;
    loop {
        match queue.next(memory.is_some()) {
            Next::Run(job) => {
                let memory = memory.get_or_insert_with(|| {
                    queue.holding_memory.fetch_add(1, Ordering::SeqCst);
                    hasher.new_memory()
                });
                // A panicking job must not take the thread with it: the pool
                // would shrink by one each time.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(memory)));
            }
            Next::FreeMemory => {
                memory = None;
                queue.holding_memory.fetch_sub(1, Ordering::SeqCst);
            }
            Next::Stop => return,
        }
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
        self.workers.queue.push(job)?;
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

    #[tokio::test]
    async fn every_idle_thread_frees_its_memory() {
        let pool = Arc::new(pool(2, Duration::from_secs(5), 16));
        let holding = || pool.workers.queue.holding_memory.load(Ordering::SeqCst);
        // Keep both threads busy at once until each has allocated.
        for round in 0.. {
            if holding() == 2 {
                break;
            }
            assert!(round < 200, "both threads should have taken a job by now");
            let (a, b) = (pool.clone(), pool.clone());
            let (x, y) =
                tokio::join!(a.hash(SecretString::from("one")), b.hash(SecretString::from("two")));
            x.unwrap();
            y.unwrap();
        }
        // Both free their memory once idle, not only the one that happens
        // to be waiting first.
        let deadline = Instant::now() + IDLE_RELEASE * 4;
        while holding() > 0 {
            assert!(Instant::now() < deadline, "{} thread(s) still hold memory", holding());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // And allocate again when work comes back.
        pool.hash(SecretString::from("three")).await.unwrap();
        assert_eq!(holding(), 1);
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
