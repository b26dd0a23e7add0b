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
//!
//! The configured `ALGORITHM` signs every token by default. When it is not
//! RS256, an RS256 key is kept beside it, generated, rotated and retired
//! the same way: OIDC Core §15.1 and Discovery §3 require every provider to
//! offer RS256 ID tokens, which clients ask for with
//! `id_token_signed_response_alg`. Keys of each algorithm rotate and retire
//! on their own; a key file (`PRIVATE_KEY_PATH`) stands in for the
//! generated key of its algorithm only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
        "SECRET_KEY: cannot decrypt signing key {kid} stored in the database (was SECRET_KEY changed? set SECRET_KEY_PREVIOUS to the old value to re-seal the keys under the new one)"
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
    /// The configured `ALGORITHM`'s key: signs every token by default.
    signer: Arc<SigningKey>,
    /// The keys of the other algorithms in use (the RS256 key beside an
    /// ES256 or EdDSA one), for clients that ask for them.
    others: Vec<Arc<SigningKey>>,
    verifiers: HashMap<String, Arc<VerifyingKey>>,
    jwks: Bytes,
}

impl KeySet {
    pub fn signer(&self) -> &Arc<SigningKey> {
        &self.signer
    }

    /// The key that signs `alg` tokens now; `None` if this server does not
    /// sign with `alg`.
    pub fn signer_for(&self, alg: Algorithm) -> Option<&Arc<SigningKey>> {
        std::iter::once(&self.signer).chain(&self.others).find(|key| key.alg() == alg)
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
    /// From `SECRET_KEY_PREVIOUS`, during a rotation of `SECRET_KEY`.
    previous_kek: Option<KeyEncryptionKey>,
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
            previous_kek: settings.secret_key_previous().map(KeyEncryptionKey::derive),
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

    /// The algorithm of the PRIVATE_KEY_PATH key, if there is one.
    pub fn file_key_algorithm(&self) -> Option<Algorithm> {
        self.file_key.as_ref().map(|key| key.alg())
    }

    /// What this server signs with: `ALGORITHM` first, then RS256.
    fn algorithms(&self) -> &'static [Algorithm] {
        self.algorithm.signing_algorithms()
    }

    /// The algorithms whose keys are generated and sealed in the database:
    /// all but a key file's.
    fn generated_algorithms(&self) -> Vec<Algorithm> {
        let file_alg = self.file_key_algorithm();
        self.algorithms().iter().copied().filter(|alg| Some(*alg) != file_alg).collect()
    }

    /// Makes sure a key exists for every algorithm in use, retires the keys
    /// of algorithms no longer in use, and records a file key in the table
    /// (so it stays published after the file changes).
    pub async fn ensure(&self) -> Result<(), KeyRingError> {
        let now = self.clock.now();
        if self.previous_kek.is_some() {
            self.reseal().await?;
        }
        if let Some(key) = &self.file_key {
            self.record_file_key(key, now).await?;
        }
        let published = signing_keys::published(self.db.read(), now).await?;
        if self.missing(&published).is_empty() && !self.has_unused(&published) {
            return Ok(());
        }
        // First start, a changed ALGORITHM, or a switch away from a key
        // file: each missing key signs at once; keys of algorithms no longer
        // in use retire. Nodes starting together each get here; the lock
        // and the second look let exactly one of them do it, for every
        // algorithm in one transaction.
        let mut generated = Vec::new();
        for alg in self.missing(&published) {
            generated.push(self.generate(alg).await?);
        }
        let mut tx = self.db.begin_serialized(KEY_SETUP_LOCK).await?;
        let missing = self.missing(&signing_keys::published(&mut *tx, now).await?);
        generated.retain(|(key, _)| missing.contains(&key.alg()));
        for alg in missing {
            if !generated.iter().any(|(key, _)| key.alg() == alg) {
                generated.push(self.generate(alg).await?);
            }
        }
        let retired = self.retire_unused(&mut tx, now).await?;
        self.record_keys(tx, generated, now, true, "system", retired).await?;
        Ok(())
    }

    /// `SECRET_KEY` rotation: every stored private key that opens only
    /// under `SECRET_KEY_PREVIOUS` is sealed again under `SECRET_KEY`. Runs
    /// at every start while `SECRET_KEY_PREVIOUS` is set; once every key
    /// opens under the new key it writes nothing.
    async fn reseal(&self) -> Result<(), KeyRingError> {
        let Some(previous) = &self.previous_kek else { return Ok(()) };
        let mut resealed = Vec::new();
        let mut tx = self.db.write().await?;
        for row in signing_keys::all(&mut *tx).await? {
            let aad = row.kid.as_bytes();
            if row.private_key_sealed.is_empty()
                || self.kek.open(&row.private_key_sealed, aad).is_ok()
            {
                continue;
            }
            let Ok(der) = previous.open(&row.private_key_sealed, aad) else {
                tracing::warn!(kid = %row.kid, "signing key opens under neither SECRET_KEY nor SECRET_KEY_PREVIOUS");
                continue;
            };
            let sealed =
                self.kek.seal(&der, aad).map_err(|e| KeyRingError::Generate(e.to_string()))?;
            if signing_keys::reseal(&mut tx, &row.kid, &row.private_key_sealed, &sealed).await? {
                resealed.push(row.kid);
            }
        }
        if resealed.is_empty() {
            tx.rollback().await?;
        } else {
            let events =
                [AuditEvent::new(EventKind::KeyResealed, Outcome::Success, self.clock.now())
                    .actor("system")
                    .detail("keys", resealed.clone())];
            super::audit::write(&mut tx, &events).await?;
            tx.commit().await?;
            super::audit::emit(&events);
            tracing::info!(keys = ?resealed, "signing keys re-sealed under the new SECRET_KEY");
        }
        Ok(())
    }

    /// A stored key, its private half opened under `SECRET_KEY` or
    /// (mid-rotation) `SECRET_KEY_PREVIOUS`.
    fn unseal(&self, row: &StoredKey, algorithm: Algorithm) -> Result<SigningKey, KeyRingError> {
        let aad = row.kid.as_bytes();
        let der = self
            .kek
            .open(&row.private_key_sealed, aad)
            .or_else(|err| match &self.previous_kek {
                Some(previous) => previous.open(&row.private_key_sealed, aad),
                None => Err(err),
            })
            .map_err(|_| KeyRingError::CannotDecrypt { kid: row.kid.clone() })?;
        SigningKey::from_pkcs8_der(&der, algorithm)
            .map_err(|e| KeyRingError::Corrupt { kid: row.kid.clone(), reason: e.to_string() })
    }

    /// Records the PRIVATE_KEY_PATH key as the active key of its algorithm;
    /// the generated keys of that algorithm, and of algorithms no longer in
    /// use, retire.
    async fn record_file_key(&self, key: &SigningKey, now: UnixTime) -> Result<(), KeyRingError> {
        let stored = self.stored(key, String::new(), now, now);
        let mut tx = self.db.write().await?;
        if !signing_keys::insert(&mut tx, &stored).await? {
            signing_keys::reactivate(&mut tx, key.kid()).await?;
        }
        let alg = key.alg().as_str();
        let retired =
            signing_keys::retire_others(&mut tx, alg, key.kid(), now, now + self.retire_after)
                .await?;
        let mut events = self.retire_unused(&mut tx, now).await?;
        if retired > 0 {
            events.push(retired_event(now, "system", alg, retired, now));
        }
        super::audit::write(&mut tx, &events).await?;
        tx.commit().await?;
        super::audit::emit(&events);
        Ok(())
    }

    /// The generated algorithms without an active key.
    fn missing(&self, published: &[StoredKey]) -> Vec<Algorithm> {
        self.generated_algorithms()
            .into_iter()
            .filter(|alg| {
                !published
                    .iter()
                    .any(|k| k.active && k.alg == alg.as_str() && !k.private_key_sealed.is_empty())
            })
            .collect()
    }

    /// Whether an active key has an algorithm this server no longer uses.
    fn has_unused(&self, published: &[StoredKey]) -> bool {
        published
            .iter()
            .any(|k| k.active && !self.algorithms().iter().any(|alg| alg.as_str() == k.alg))
    }

    /// Retires the active keys of algorithms no longer in use: nothing
    /// signs with them from now on.
    async fn retire_unused(
        &self,
        tx: &mut idp_store::Transaction,
        now: UnixTime,
    ) -> Result<Vec<AuditEvent>, KeyRingError> {
        let mut events = Vec::new();
        for alg in Algorithm::ALL.into_iter().filter(|alg| !self.algorithms().contains(alg)) {
            let retired =
                signing_keys::retire_algorithm(tx, alg.as_str(), now, now + self.retire_after)
                    .await?;
            if retired > 0 {
                events.push(retired_event(now, "system", alg.as_str(), retired, now));
            }
        }
        Ok(events)
    }

    /// `idp keys rotate`: adds a key for every algorithm in use that signs
    /// after [`PUBLISH_AHEAD`] (or at once with `immediately`, e.g. after a
    /// compromise); the older keys of each algorithm stop signing then and
    /// stay published until their tokens have expired. A key file is not
    /// rotated here (replace the file), only the generated keys beside it.
    /// `actor` is who asked, for the audit log. The configured algorithm's
    /// key comes first.
    pub async fn rotate(
        &self,
        immediately: bool,
        actor: &str,
    ) -> Result<Vec<NewKey>, KeyRingError> {
        let algorithms = self.generated_algorithms();
        if algorithms.is_empty() {
            return Err(KeyRingError::FileManaged);
        }
        // Generated before the transaction opens: RSA takes a while, and
        // SQLite admits one writer at a time.
        let mut keys = Vec::new();
        for alg in algorithms {
            keys.push(self.generate(alg).await?);
        }
        let tx = self.db.write().await?;
        self.record_keys(tx, keys, self.clock.now(), immediately, actor, Vec::new()).await
    }

    /// A new key of `algorithm` and its sealed private half.
    async fn generate(&self, algorithm: Algorithm) -> Result<(SigningKey, String), KeyRingError> {
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

    /// Records `keys` in `tx`, each retiring the other keys of its
    /// algorithm, with `events` and their own audit events, and commits.
    async fn record_keys(
        &self,
        mut tx: idp_store::Transaction,
        keys: Vec<(SigningKey, String)>,
        now: UnixTime,
        immediately: bool,
        actor: &str,
        mut events: Vec<AuditEvent>,
    ) -> Result<Vec<NewKey>, KeyRingError> {
        let signs_from = if immediately { now } else { now + PUBLISH_AHEAD };
        let mut added = Vec::new();
        for (key, sealed) in keys {
            let alg = key.alg();
            signing_keys::insert(&mut tx, &self.stored(&key, sealed, now, signs_from)).await?;
            // The old keys keep signing until the new one takes over, then
            // stay published until every token they signed has expired.
            let retired = signing_keys::retire_others(
                &mut tx,
                alg.as_str(),
                key.kid(),
                signs_from,
                signs_from + self.retire_after,
            )
            .await?;
            events.push(
                AuditEvent::new(EventKind::KeyCreated, Outcome::Success, now)
                    .actor(actor)
                    .detail("kid", key.kid())
                    .detail("alg", alg.as_str())
                    .detail("signs_from", signs_from.as_secs()),
            );
            if retired > 0 {
                events.push(retired_event(now, actor, alg.as_str(), retired, signs_from));
            }
            added.push(NewKey { kid: key.kid().to_owned(), alg, signs_from });
        }
        if events.is_empty() {
            tx.rollback().await?;
            return Ok(added);
        }
        super::audit::write(&mut tx, &events).await?;
        tx.commit().await?;
        super::audit::emit(&events);
        for key in &added {
            tracing::info!(kid = key.kid, alg = %key.alg, signs_from = key.signs_from.as_secs(), "signing key added");
        }
        Ok(added)
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
        let rows = signing_keys::published(self.db.read(), now).await?;
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
        let signer = self.signer(&rows, self.algorithm, now)?;
        let others = self
            .algorithms()
            .iter()
            .filter(|alg| **alg != self.algorithm)
            .map(|alg| self.signer(&rows, *alg, now))
            .collect::<Result<Vec<_>, _>>()?;
        for signer in std::iter::once(&signer).chain(&others) {
            if !verifiers.contains_key(signer.kid()) {
                // Just generated elsewhere and not yet visible, or a file
                // key whose row was deleted by hand: always verify what we
                // sign.
                let verifier =
                    signer.verifying_key().map_err(|e| KeyRingError::Generate(e.to_string()))?;
                verifiers.insert(signer.kid().to_owned(), Arc::new(verifier));
                jwks.keys.push(signer.public_jwk().clone());
            }
        }
        let jwks = Bytes::from(serde_json::to_vec(&jwks).unwrap_or_default());
        Ok(KeySet { signer, others, verifiers, jwks })
    }

    /// The key that signs `alg` tokens: the key file's, or a generated one.
    fn signer(
        &self,
        rows: &[StoredKey],
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<Arc<SigningKey>, KeyRingError> {
        match &self.file_key {
            Some(key) if key.alg() == alg => Ok(key.clone()),
            _ => self.pick_signer(rows, alg, now).map(Arc::new),
        }
    }

    /// The newest `algorithm` key that has started signing and not yet
    /// handed over to a successor.
    fn pick_signer(
        &self,
        rows: &[StoredKey],
        algorithm: Algorithm,
        now: UnixTime,
    ) -> Result<SigningKey, KeyRingError> {
        let candidate = rows
            .iter()
            .filter(|k| k.alg == algorithm.as_str() && !k.private_key_sealed.is_empty())
            .filter(|k| k.signs_from <= now && k.retired_at.is_none_or(|r| r > now))
            .max_by_key(|k| (k.signs_from, k.created_at))
            .or_else(|| {
                rows.iter()
                    .filter(|k| {
                        k.alg == algorithm.as_str() && !k.private_key_sealed.is_empty() && k.active
                    })
                    .min_by_key(|k| k.signs_from)
            })
            .ok_or_else(|| KeyRingError::Generate(format!("no {algorithm} key in the database")))?;
        self.unseal(candidate, algorithm)
    }
}

/// `count` keys of `alg` stop signing at `stops_signing`.
fn retired_event(
    now: UnixTime,
    actor: &str,
    alg: &str,
    count: u64,
    stops_signing: UnixTime,
) -> AuditEvent {
    AuditEvent::new(EventKind::KeyRetired, Outcome::Success, now)
        .actor(actor)
        .detail("alg", alg)
        .detail("keys", count)
        .detail("stops_signing", stops_signing.as_secs())
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
    /// When a token with an unknown `kid` last made us re-read the table
    /// (by the injected clock, so tests move time instead of sleeping).
    last_unknown_kid_refresh: Mutex<Option<UnixTime>>,
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
            let now = self.source.clock.now();
            let mut last = self.last_unknown_kid_refresh.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| now < at + UNKNOWN_KID_REFRESH) {
                return false;
            }
            *last = Some(now);
        }
        self.refresh().await;
        true
    }

    /// Adds a key per algorithm (see [`KeySource::rotate`]) and uses them
    /// on this node at once; the other nodes follow within
    /// `KEYS_REFRESH_SECONDS`.
    pub async fn rotate(
        &self,
        immediately: bool,
        actor: &str,
    ) -> Result<Vec<NewKey>, KeyRingError> {
        let keys = self.source.rotate(immediately, actor).await?;
        self.refresh().await;
        Ok(keys)
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
