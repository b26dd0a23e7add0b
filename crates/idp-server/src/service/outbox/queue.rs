//! The outbox's write side: sealing a job into the caller's transaction,
//! and waking this node's sender. Held by the application state; knows
//! nothing of it.

use idp_core::SecretString;
use idp_core::clock::UnixTime;
use idp_core::jose::KeyEncryptionKey;
use idp_store::AnyConnection;
use idp_store::repo::outbox::{self, ClaimedJob, NewJob};
use zeroize::Zeroizing;

use crate::service::failure::Failure;

/// Seals payloads, and wakes this node's sender when a job is enqueued.
pub struct Outbox {
    seal: KeyEncryptionKey,
    /// `SECRET_KEY_PREVIOUS`: jobs enqueued before a rotation still open.
    previous: Option<KeyEncryptionKey>,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

const SEAL_INFO: &[u8] = b"outbox";

impl Outbox {
    pub fn new(secret_key: &SecretString, previous: Option<&SecretString>) -> Self {
        Self {
            seal: KeyEncryptionKey::derive_for(secret_key, SEAL_INFO),
            previous: previous.map(|key| KeyEncryptionKey::derive_for(key, SEAL_INFO)),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Adds a job of `kind`, due at once, inside the caller's transaction:
    /// it exists exactly when the change that causes it does. Call
    /// [`Outbox::wake`] after the commit.
    pub async fn enqueue(
        &self,
        tx: &mut AnyConnection,
        kind: &str,
        payload: &impl serde::Serialize,
        now: UnixTime,
    ) -> Result<(), Failure> {
        let plain =
            Zeroizing::new(serde_json::to_vec(payload).map_err(|e| Failure::Unexpected(e.into()))?);
        let sealed = self
            .seal
            .seal(&plain, kind.as_bytes())
            .map_err(|e| Failure::Unexpected(anyhow::anyhow!("sealing an outbox job: {e}")))?;
        outbox::insert(tx, &NewJob { kind: kind.to_owned(), payload: sealed }, now).await?;
        Ok(())
    }

    /// Tells this node's sender that a job is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes when [`Outbox::wake`] is called.
    pub(super) async fn woken(&self) {
        self.wake.notified().await;
    }

    pub(super) fn open(&self, job: &ClaimedJob) -> Option<Zeroizing<Vec<u8>>> {
        let aad = job.kind.as_bytes();
        self.seal
            .open(&job.payload, aad)
            .ok()
            .or_else(|| self.previous.as_ref().and_then(|p| p.open(&job.payload, aad).ok()))
    }
}
