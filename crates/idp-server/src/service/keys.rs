//! Signing keys: which key signs, which keys verify, and the JWKS.
//!
//! Keys are parsed once and held in memory ([`KeySet`]), swapped atomically
//! when the set changes. Every node reads the same `signing_keys` table, so a
//! key generated or rotated anywhere is in every node's JWKS within
//! `KEYS_REFRESH_SECONDS`; a token signed with a key this node has not seen
//! yet makes it re-read the table at once (at most once per
//! [`UNKNOWN_KID_REFRESH`]). A rotated key is published [`PUBLISH_AHEAD`]
//! before it signs, so verifiers that cached the JWKS know it before they
//! meet it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::body::Bytes;
use idp_core::audit::{AuditEvent, EventKind, Outcome};
use idp_core::clock::{Clock, UnixTime};
use idp_core::jose::{
    Algorithm, Jwk, JwkSet, KeyEncryptionKey, SigningKey, VerifyError, VerifyingKey,
};
use idp_store::repo::signing_keys::{self, StoredKey};
use idp_store::{Db, StoreError};

use crate::config::Settings;

/// The advisory lock that serializes creating the first key across nodes.
const KEY_SETUP_LOCK: i64 = 0x6964_7000_6b65_7973; // "idp\0keys"

/// The least time between two re-reads caused by tokens naming an unknown
/// `kid`, so that made-up kids cannot turn into a query per request.
pub const UNKNOWN_KID_REFRESH: Duration = Duration::from_secs(1);
/// How long a rotated key is published before it signs. Longer than the
/// JWKS cache lifetime plus every node's refresh interval.
pub const PUBLISH_AHEAD: Duration = Duration::from_secs(10 * 60);
/// `Cache-Control: max-age` of the JWKS.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("PRIVATE_KEY_PATH: cannot read {path}: {source}")]
    ReadFile { path: String, source: std::io::Error },
    #[error("PRIVATE_KEY_PATH: {0}")]
    BadPrivateKey(String),
    #[error("PUBLIC_KEY_PATH: {0}")]
    BadPublicKey(String),
    #[error(
        "SECRET_KEY: cannot decrypt signing key {kid} stored in the database (was SECRET_KEY changed?)"
    )]
    CannotDecrypt { kid: String },
    #[error("cannot generate a signing key: {0}")]
    Generate(String),
    #[error("signing keys come from PRIVATE_KEY_PATH; rotate by replacing that file")]
    FileManaged,
    #[error("stored signing key {kid} is unreadable: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key just added by a rotation.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub kid: String,
    pub alg: Algorithm,
    /// When it starts signing (now, or after [`PUBLISH_AHEAD`]).
    pub signs_from: UnixTime,
}

/// The keys in force at one moment.
#[derive(Debug)]
pub struct KeySet {
    signer: Arc<SigningKey>,
    verifiers: HashMap<String, Arc<VerifyingKey>>,
    jwks: Bytes,
}

impl KeySet {
    pub fn signer(&self) -> &Arc<SigningKey> {
        &self.signer
    }

    pub fn verifier(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.verifiers.get(kid).cloned()
    }

    /// The JWKS document, serialized once per change.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }
}

/// Where signing keys come from and what they are sealed with.
#[derive(Debug)]
pub struct KeySource {
    db: Db,
    clock: Arc<dyn Clock>,
    kek: KeyEncryptionKey,
    algorithm: Algorithm,
    file_key: Option<Arc<SigningKey>>,
    retire_after: Duration,
    refresh_interval: Duration,
}

impl KeySource {
    /// Reads PRIVATE_KEY_PATH (if set) and derives the sealing key.
    pub fn new(settings: &Settings, db: Db, clock: Arc<dyn Clock>) -> Result<Self, KeyRingError> {
        let secret = settings.secret_key().map_err(|e| KeyRingError::Generate(e.to_string()))?;
        let file_key = match &settings.private_key_path {
            Some(path) => Some(Arc::new(load_file_key(settings, path)?)),
            None => None,
        };
        Ok(Self {
            db,
            clock,
            kek: KeyEncryptionKey::derive(secret),
            algorithm: settings.algorithm,
            file_key,
            // No access or ID token lives longer than a day (the global and
            // per-client lifetimes are capped there), so a retired key stays
            // published for a day plus the leeway.
            retire_after: settings.access_token_ttl.max(Duration::from_secs(24 * 3600))
                + settings.jwt_leeway,
            refresh_interval: settings.keys_refresh_interval,
        })
    }

    pub fn is_file_managed(&self) -> bool {
        self.file_key.is_some()
    }

    /// Makes sure a key for the configured algorithm exists and records a
    /// file key in the table (so it stays published after the file changes).
    pub async fn ensure(&self) -> Result<(), KeyRingError> {
        let now = self.clock.now();
        if let Some(key) = &self.file_key {
            let stored = self.stored(key, String::new(), now, now);
            let mut tx = self.db.begin_write().await?;
            if !signing_keys::insert(&mut *tx, &stored).await? {
                signing_keys::reactivate(&mut *tx, key.kid()).await?;
            }
            signing_keys::retire_others(&mut *tx, key.kid(), now, now + self.retire_after).await?;
            tx.commit().await?;
            return Ok(());
        }
        if self.has_usable_key(&signing_keys::published(self.db.pool(), now).await?) {
            return Ok(());
        }
        // First start, a changed ALGORITHM, or a switch away from a key
        // file: a new key signs at once; the others retire. Nodes starting
        // together each get here; the lock and the second look let exactly
        // one of them add the key.
        let (key, sealed) = self.generate().await?;
        let mut tx = self.db.begin_serialized(KEY_SETUP_LOCK).await?;
        if self.has_usable_key(&signing_keys::published(&mut *tx, now).await?) {
            tx.rollback().await?;
            return Ok(());
        }
        self.record_key(tx, &key, sealed, now, true, "system").await?;
        Ok(())
    }

    fn has_usable_key(&self, published: &[StoredKey]) -> bool {
        published.iter().any(|k| {
            k.active && k.alg == self.algorithm.as_str() && !k.private_key_sealed.is_empty()
        })
    }

    /// `idp keys rotate`: adds a key that signs after [`PUBLISH_AHEAD`] (or
    /// at once with `immediately`, e.g. after a compromise); older keys stop
    /// signing then and stay published until their tokens have expired.
    /// `actor` is who asked, for the audit log.
    pub async fn rotate(&self, immediately: bool, actor: &str) -> Result<NewKey, KeyRingError> {
        if self.is_file_managed() {
            return Err(KeyRingError::FileManaged);
        }
        self.add_key(self.clock.now(), immediately, actor).await
    }

    async fn add_key(
        &self,
        now: UnixTime,
        immediately: bool,
        actor: &str,
    ) -> Result<NewKey, KeyRingError> {
        // Generated before the transaction opens: RSA takes a while, and
        // SQLite admits one writer at a time.
        let (key, sealed) = self.generate().await?;
        let tx = self.db.begin_write().await?;
        self.record_key(tx, &key, sealed, now, immediately, actor).await
    }

    /// A new key of the configured algorithm and its sealed private half.
    async fn generate(&self) -> Result<(SigningKey, String), KeyRingError> {
        let algorithm = self.algorithm;
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
            .await
            .map_err(|e| KeyRingError::Generate(e.to_string()))?
            .map_err(|e| KeyRingError::Generate(e.to_string()))?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| KeyRingError::Generate(e.to_string()))?;
        let sealed = self
            .kek
            .seal(&pkcs8, key.kid().as_bytes())
            .map_err(|e| KeyRingError::Generate(e.to_string()))?;
        Ok((key, sealed))
    }

    /// Records `key` in `tx`, retires the others, and commits.
    async fn record_key(
        &self,
        mut tx: idp_store::Transaction,
        key: &SigningKey,
        sealed: String,
        now: UnixTime,
        immediately: bool,
        actor: &str,
    ) -> Result<NewKey, KeyRingError> {
        let algorithm = self.algorithm;
        let signs_from = if immediately { now } else { now + PUBLISH_AHEAD };
        let stored = self.stored(key, sealed, now, signs_from);
        signing_keys::insert(&mut *tx, &stored).await?;
        // The old keys keep signing until the new one takes over, then stay
        // published until every token they signed has expired.
        let retired = signing_keys::retire_others(
            &mut *tx,
            key.kid(),
            signs_from,
            signs_from + self.retire_after,
        )
        .await?;
        let mut events = vec![
            AuditEvent::new(EventKind::KeyCreated, Outcome::Success, now)
                .actor(actor)
                .detail("kid", key.kid())
                .detail("alg", algorithm.as_str())
                .detail("signs_from", signs_from.as_secs()),
        ];
        if retired > 0 {
            events.push(
                AuditEvent::new(EventKind::KeyRetired, Outcome::Success, now)
                    .actor(actor)
                    .detail("keys", retired)
                    .detail("stops_signing", signs_from.as_secs()),
            );
        }
        super::audit::write(&mut tx, &events).await?;
        tx.commit().await?;
        super::audit::emit(&events);
        tracing::info!(kid = key.kid(), alg = %algorithm, signs_from = signs_from.as_secs(), "signing key added");
        Ok(NewKey { kid: key.kid().to_owned(), alg: algorithm, signs_from })
    }

    fn stored(
        &self,
        key: &SigningKey,
        sealed: String,
        now: UnixTime,
        signs_from: UnixTime,
    ) -> StoredKey {
        StoredKey {
            kid: key.kid().to_owned(),
            alg: key.alg().as_str().to_owned(),
            private_key_sealed: sealed,
            public_jwk: serde_json::to_string(key.public_jwk()).unwrap_or_default(),
            active: true,
            created_at: now,
            signs_from,
            retired_at: None,
            expires_at: None,
        }
    }

    /// Builds the key set in force now from the table.
    pub async fn load(&self) -> Result<KeySet, KeyRingError> {
        let now = self.clock.now();
        let rows = signing_keys::published(self.db.pool(), now).await?;
        let mut verifiers = HashMap::new();
        let mut jwks = JwkSet::default();
        for row in &rows {
            let jwk: Jwk = serde_json::from_str(&row.public_jwk).map_err(|e| {
                KeyRingError::Corrupt { kid: row.kid.clone(), reason: e.to_string() }
            })?;
            let verifier = VerifyingKey::from_jwk(&jwk).map_err(|e| KeyRingError::Corrupt {
                kid: row.kid.clone(),
                reason: e.to_string(),
            })?;
            verifiers.insert(row.kid.clone(), Arc::new(verifier));
            jwks.keys.push(jwk);
        }
        let signer = match &self.file_key {
            Some(key) => key.clone(),
            None => Arc::new(self.pick_signer(&rows, now)?),
        };
        if !verifiers.contains_key(signer.kid()) {
            // Just generated elsewhere and not yet visible, or a file key
            // whose row was deleted by hand: always verify what we sign.
            let verifier =
                signer.verifying_key().map_err(|e| KeyRingError::Generate(e.to_string()))?;
            verifiers.insert(signer.kid().to_owned(), Arc::new(verifier));
            jwks.keys.push(signer.public_jwk().clone());
        }
        let jwks = Bytes::from(serde_json::to_vec(&jwks).unwrap_or_default());
        Ok(KeySet { signer, verifiers, jwks })
    }

    /// The newest key of the configured algorithm that has started signing
    /// and not yet handed over to a successor.
    fn pick_signer(&self, rows: &[StoredKey], now: UnixTime) -> Result<SigningKey, KeyRingError> {
        let candidate = rows
            .iter()
            .filter(|k| k.alg == self.algorithm.as_str() && !k.private_key_sealed.is_empty())
            .filter(|k| k.signs_from <= now && k.retired_at.is_none_or(|r| r > now))
            .max_by_key(|k| (k.signs_from, k.created_at))
            .or_else(|| {
                rows.iter()
                    .filter(|k| {
                        k.alg == self.algorithm.as_str()
                            && !k.private_key_sealed.is_empty()
                            && k.active
                    })
                    .min_by_key(|k| k.signs_from)
            })
            .ok_or_else(|| {
                KeyRingError::Generate(format!("no {} key in the database", self.algorithm))
            })?;
        let der = self
            .kek
            .open(&candidate.private_key_sealed, candidate.kid.as_bytes())
            .map_err(|_| KeyRingError::CannotDecrypt { kid: candidate.kid.clone() })?;
        SigningKey::from_pkcs8_der(&der, self.algorithm).map_err(|e| KeyRingError::Corrupt {
            kid: candidate.kid.clone(),
            reason: e.to_string(),
        })
    }
}

fn load_file_key(settings: &Settings, path: &std::path::Path) -> Result<SigningKey, KeyRingError> {
    let pem = std::fs::read_to_string(path)
        .map_err(|source| KeyRingError::ReadFile { path: path.display().to_string(), source })?;
    let key = SigningKey::from_pem(&pem, settings.algorithm)
        .map_err(|e| KeyRingError::BadPrivateKey(e.to_string()))?;
    if let Some(public_path) = &settings.public_key_path {
        let public = std::fs::read_to_string(public_path).map_err(|e| {
            KeyRingError::BadPublicKey(format!("cannot read {}: {e}", public_path.display()))
        })?;
        let matches = key
            .matches_public_pem(&public)
            .map_err(|e| KeyRingError::BadPublicKey(e.to_string()))?;
        if !matches {
            return Err(KeyRingError::BadPublicKey(
                "does not match the key in PRIVATE_KEY_PATH".into(),
            ));
        }
    }
    Ok(key)
}

/// The keys this node uses, refreshed from the table in the background.
#[derive(Debug)]
pub struct KeyRing {
    source: KeySource,
    current: ArcSwap<KeySet>,
    /// When a token with an unknown `kid` last made us re-read the table.
    last_unknown_kid_refresh: Mutex<Option<Instant>>,
}

impl KeyRing {
    /// Ensures a usable key exists, then loads the set.
    pub async fn start(source: KeySource) -> Result<Arc<Self>, KeyRingError> {
        source.ensure().await?;
        let set = source.load().await?;
        Ok(Arc::new(Self {
            source,
            current: ArcSwap::from_pointee(set),
            last_unknown_kid_refresh: Mutex::new(None),
        }))
    }

    pub fn current(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// Re-reads the table; on failure keeps the keys it has (a database
    /// blip must not stop signing).
    pub async fn refresh(&self) {
        match self.source.load().await {
            Ok(set) => self.current.store(Arc::new(set)),
            Err(err) => {
                tracing::warn!(error = %err, "could not refresh signing keys; keeping the current ones")
            }
        }
    }

    /// Runs a signature check against this node's keys. When the token
    /// names a `kid` this node does not know (another node may have just
    /// rotated), re-reads the table and checks once more, unless a re-read
    /// for that reason happened less than [`UNKNOWN_KID_REFRESH`] ago.
    /// Every check of a token we signed goes through here, so none of them
    /// trusts a stale key set.
    pub async fn verify<T>(
        &self,
        check: impl Fn(&KeySet) -> Result<T, VerifyError>,
    ) -> Result<T, VerifyError> {
        match check(&self.current()) {
            Err(VerifyError::UnknownKey) if self.refresh_for_unknown_kid().await => {
                check(&self.current())
            }
            other => other,
        }
    }

    async fn refresh_for_unknown_kid(&self) -> bool {
        {
            let mut last = self.last_unknown_kid_refresh.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_REFRESH) {
                return false;
            }
            *last = Some(Instant::now());
        }
        self.refresh().await;
        true
    }

    /// Adds a key (see [`KeySource::rotate`]) and uses it on this node at
    /// once; the other nodes follow within `KEYS_REFRESH_SECONDS`.
    pub async fn rotate(&self, immediately: bool, actor: &str) -> Result<NewKey, KeyRingError> {
        let key = self.source.rotate(immediately, actor).await?;
        self.refresh().await;
        Ok(key)
    }

    /// Refreshes every `KEYS_REFRESH_SECONDS` until the ring is dropped.
    pub fn spawn_refresher(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let period = self.source.refresh_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(ring) => ring.refresh().await,
                    None => break,
                }
            }
        });
    }
}
