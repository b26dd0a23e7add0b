//! Group commit of refresh-token rotations on SQLite.
//!
//! SQLite has one writer, and the cost of a write transaction there is less
//! the work than the hand-offs: the writer queue, then each statement and
//! `BEGIN`/`COMMIT` a round trip to the connection's worker thread while
//! every other writer waits. Rotations are the one write that arrives by
//! the thousand per second, so they are queued to a single task that
//! writes whatever has gathered — up to [`MAX_BATCH`] — as one batch in one
//! transaction, in one round trip. Each rotation in it stays a
//! compare-and-set of its own ([`ROTATE_SQLITE`]): one that finds its token
//! already consumed writes nothing and is reported as such, while the
//! others commit.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection as _, Executor as _, Row as _};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::StoreError;
use crate::repo::refresh_tokens::{ROTATE_SQLITE, RotationArgs};

/// The most rotations written together. sqlx streams a batch's results
/// (one per statement, and a row per applied rotation) through a channel
/// of 50; a larger batch would stall the connection's worker on it.
const MAX_BATCH: usize = 8;

/// The queue in front of the rotation writer.
#[derive(Debug)]
pub(crate) struct RotationQueue {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    args: RotationArgs,
    done: oneshot::Sender<Result<bool, StoreError>>,
}

impl RotationQueue {
    /// Starts the writer task. It opens its own connection (so its prepared
    /// batches live on one connection, not on every pooled one), takes the
    /// store's writer lock for each batch, and stops when `pool` closes.
    pub(crate) fn start(
        options: AnyConnectOptions,
        pragmas: String,
        pool: AnyPool,
        writer: Arc<Mutex<()>>,
    ) -> Self {
        let (jobs, queue) = mpsc::channel(1024);
        let writer = Writer { options, pragmas, writer, conn: None, sql: HashMap::new() };
        tokio::spawn(writer.run(queue, pool));
        Self { jobs }
    }

    /// Queues one rotation and waits for its batch to commit: `true` when
    /// it was applied, `false` when its parent was no longer live.
    pub(crate) async fn rotate(&self, args: RotationArgs) -> Result<bool, StoreError> {
        let (done, outcome) = oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.jobs.send(Job { args, done }).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }
}

struct Writer {
    options: AnyConnectOptions,
    pragmas: String,
    writer: Arc<Mutex<()>>,
    conn: Option<AnyConnection>,
    /// The batch statement for each batch size, built on first use.
    sql: HashMap<usize, String>,
}

impl Writer {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>, pool: AnyPool) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            tokio::select! {
                () = pool.close_event() => break,
                received = queue.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        break;
                    }
                }
            }
            let lock = Arc::clone(&self.writer);
            let _writer = lock.lock().await;
            match self.write(&batch).await {
                Ok(applied) => {
                    for (job, applied) in batch.drain(..).zip(applied) {
                        let _ = job.done.send(Ok(applied));
                    }
                }
                Err(err) if batch.len() == 1 => {
                    let _ = batch.remove(0).done.send(Err(err));
                }
                // One bad rotation must not fail the others: write each alone.
                Err(_) => {
                    for job in batch.drain(..) {
                        let outcome = self
                            .write(std::slice::from_ref(&job))
                            .await
                            .map(|a| a.first() == Some(&true));
                        let _ = job.done.send(outcome);
                    }
                }
            }
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Writes `jobs` in one transaction; for each, whether it was applied.
    /// Each rotation's later statements run only if its compare-and-set
    /// changed a row, so a rotation is applied whole or not at all.
    async fn write(&mut self, jobs: &[Job]) -> Result<Vec<bool>, StoreError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let mut conn = AnyConnection::connect_with(&self.options).await?;
                conn.execute(sqlx::AssertSqlSafe(self.pragmas.clone())).await?;
                self.conn.insert(conn)
            }
        };
        let sql = batch_sql(&mut self.sql, jobs.len());
        let query = jobs.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, j| j.args.bind(q));
        // Each rotation's compare-and-set returns its parent's id when it
        // consumed it; nothing else in the batch returns rows.
        let mut consumed: Vec<String> = match query.fetch_all(&mut *conn).await {
            Ok(rows) => rows.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?,
            Err(err) => {
                // Wherever it failed, the connection may be left inside the
                // transaction: never reuse it.
                self.conn = None;
                return Err(err.into());
            }
        };
        // Two presentations of one token in a batch: the first in it, which
        // ran first, is the one that consumed it.
        Ok(jobs
            .iter()
            .map(|job| match consumed.iter().position(|id| *id == job.args.parent_id) {
                Some(at) => {
                    consumed.swap_remove(at);
                    true
                }
                None => false,
            })
            .collect())
    }
}

/// `BEGIN IMMEDIATE`, `size` rotations with their parameters numbered on
/// from each other's, `COMMIT`.
fn batch_sql(cache: &mut HashMap<usize, String>, size: usize) -> String {
    cache
        .entry(size)
        .or_insert_with(|| {
            let params = RotationArgs::PARAMS;
            let mut sql = String::from("BEGIN IMMEDIATE; ");
            for i in 0..size {
                sql.push_str(&renumber(ROTATE_SQLITE, i * params));
                sql.push_str("; ");
            }
            sql.push_str("COMMIT");
            sql
        })
        .clone()
}

/// `sql` with every `$n` turned into `$(n + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_on() {
        assert_eq!(renumber("a = $1 AND b = $19, $", 19), "a = $20 AND b = $38, $");
    }

    #[test]
    fn a_batch_is_one_transaction_of_its_rotations() {
        let mut cache = HashMap::new();
        let two = batch_sql(&mut cache, 2);
        assert!(two.starts_with("BEGIN IMMEDIATE; ") && two.ends_with("; COMMIT"));
        assert_eq!(two.matches("UPDATE refresh_tokens").count(), 2);
        assert!(two.contains("$38") && !two.contains("$39"));
        assert_eq!(batch_sql(&mut cache, 2), two);
    }
}
