//! `refresh_tokens`: stored only as SHA-256 hashes; consumed exactly once.

use idp_core::audit::AuditEvent;
use idp_core::clock::UnixTime;
use idp_core::ids::{ClientId, RefreshTokenId, SessionId};
use idp_core::secret_hash::SecretHash;
use idp_core::session::{Session, UserStanding};
use idp_core::user::SecurityStamp;
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::{Any, AnyArguments, AnyExecutor};
use sqlx::query::Query;

use super::{audit_events, opt_time, parse_id, sessions, time};
use crate::{Db, StoreError};

pub use idp_core::session::RefreshToken;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    session_id: String,
    parent_id: Option<String>,
    client_id: String,
    issued_at: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<Row> for RefreshToken {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(RefreshToken {
            id: parse_id("refresh_tokens.id", &r.id)?,
            session_id: parse_id("refresh_tokens.session_id", &r.session_id)?,
            parent_id: r
                .parent_id
                .as_deref()
                .map(|p| parse_id("refresh_tokens.parent_id", p))
                .transpose()?,
            client_id: ClientId::new(r.client_id),
            issued_at: time(r.issued_at),
            expires_at: time(r.expires_at),
            consumed_at: opt_time(r.consumed_at),
            revoked_at: opt_time(r.revoked_at),
        })
    }
}

macro_rules! columns {
    () => {
        "id, session_id, parent_id, client_id, issued_at, expires_at, consumed_at, revoked_at"
    };
}

const INSERT: &str = "INSERT INTO refresh_tokens \
    (id, token_hash, session_id, parent_id, client_id, issued_at, expires_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub async fn insert(
    db: &mut AnyConnection,
    token: &RefreshToken,
    hash: &SecretHash,
) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(token.id.to_string())
        .bind(hash.as_str())
        .bind(token.session_id.to_string())
        .bind(token.parent_id.map(|p| p.to_string()))
        .bind(token.client_id.as_str())
        .bind(token.issued_at.as_secs())
        .bind(token.expires_at.as_secs())
        .execute(db)
        .await?;
    Ok(())
}

// Compare-and-set: of any number of concurrent presentations of one token,
// exactly one sees a row. Run first in the transaction, so that SQLite holds
// the write lock from the start and PostgreSQL's row lock serializes racers.
const CONSUME: &str = concat!(
    "UPDATE refresh_tokens SET consumed_at = $2 \
     WHERE token_hash = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
     RETURNING ",
    columns!()
);

/// Consumes a live token. `None` means unknown, expired, revoked, or already
/// consumed — [`find_by_hash`] tells which.
pub async fn consume(
    db: &mut AnyConnection,
    hash: &SecretHash,
    now: UnixTime,
) -> Result<Option<RefreshToken>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(CONSUME).bind(hash.as_str()).bind(now.as_secs()).fetch_optional(db).await?;
    row.map(RefreshToken::try_from).transpose()
}

/// One rotation, as checked beforehand by the caller: consume `parent`,
/// insert its `successor`, mark the session used, record `event`.
#[derive(Debug)]
pub struct Rotation<'a> {
    pub parent: &'a RefreshToken,
    pub successor: &'a RefreshToken,
    pub successor_hash: &'a SecretHash,
    pub event: &'a AuditEvent,
    pub now: UnixTime,
}

// The rotation is one unit across three tables, so it lives here as one
// round trip rather than four statements in four repositories: on the
// hottest write path each round trip is a wait (and on SQLite one the single
// writer holds the lock for). The consume stays a compare-and-set that also
// requires a live session, and everything after it is conditional on it.
//
// PostgreSQL: one statement of data-modifying CTEs, atomic without BEGIN.
const ROTATE_POSTGRES: &str = "WITH consumed AS ( \
        UPDATE refresh_tokens SET consumed_at = $1 \
        WHERE id = $2 AND session_id = $3 \
          AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
          AND EXISTS (SELECT 1 FROM sessions \
                      WHERE id = $3 AND revoked_at IS NULL AND expires_at > $1) \
        RETURNING id), \
    successor AS ( \
        INSERT INTO refresh_tokens \
            (id, token_hash, session_id, parent_id, client_id, issued_at, expires_at) \
        SELECT $4, $5, $3, $2, $6, $7, $8 FROM consumed), \
    touched AS ( \
        UPDATE sessions SET last_used_at = $1 \
        WHERE id = $3 AND EXISTS (SELECT 1 FROM consumed)), \
    audited AS ( \
        INSERT INTO audit_events \
            (id, version, occurred_at, event, outcome, actor_id, subject_id, client_id, ip, \
             user_agent, details) \
        SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM consumed) \
    SELECT count(*) FROM consumed";

/// SQLite: the same four statements, run in a batch of rotations inside one
/// `BEGIN IMMEDIATE` (see [`crate::group_commit`]). The compare-and-set
/// returns the parent's id when it consumed it; each later statement runs
/// only if the one before changed exactly one row (`changes()`), so a
/// rotation writes its four rows or none.
pub(crate) const ROTATE_SQLITE: &str = "UPDATE refresh_tokens SET consumed_at = $1 \
        WHERE id = $2 AND session_id = $3 \
          AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
          AND EXISTS (SELECT 1 FROM sessions \
                      WHERE id = $3 AND revoked_at IS NULL AND expires_at > $1) \
        RETURNING id; \
    INSERT INTO refresh_tokens \
        (id, token_hash, session_id, parent_id, client_id, issued_at, expires_at) \
    SELECT $4, $5, $3, $2, $6, $7, $8 WHERE changes() = 1; \
    UPDATE sessions SET last_used_at = $1 WHERE id = $3 AND changes() = 1; \
    INSERT INTO audit_events \
        (id, version, occurred_at, event, outcome, actor_id, subject_id, client_id, ip, \
         user_agent, details) \
    SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 WHERE changes() = 1";

/// A [`Rotation`]'s values, owned (they wait in the SQLite writer's queue).
#[derive(Debug)]
pub(crate) struct RotationArgs {
    now: i64,
    pub(crate) parent_id: String,
    session_id: String,
    successor_id: String,
    successor_hash: String,
    client_id: String,
    issued_at: i64,
    expires_at: i64,
    event: AuditEvent,
}

impl RotationArgs {
    /// How many parameters one rotation binds (`$1`..`$19`).
    pub(crate) const PARAMS: usize = 19;

    fn new(rotation: &Rotation<'_>) -> Self {
        let Rotation { parent, successor, successor_hash, event, now } = *rotation;
        Self {
            now: now.as_secs(),
            parent_id: parent.id.to_string(),
            session_id: parent.session_id.to_string(),
            successor_id: successor.id.to_string(),
            successor_hash: successor_hash.as_str().to_owned(),
            client_id: successor.client_id.as_str().to_owned(),
            issued_at: successor.issued_at.as_secs(),
            expires_at: successor.expires_at.as_secs(),
            event: event.clone(),
        }
    }

    /// Binds `$1`..`$19` after whatever `query` already has.
    pub(crate) fn bind<'q>(
        &self,
        query: Query<'q, Any, AnyArguments>,
    ) -> Query<'q, Any, AnyArguments> {
        let query = query
            .bind(self.now)
            .bind(self.parent_id.clone())
            .bind(self.session_id.clone())
            .bind(self.successor_id.clone())
            .bind(self.successor_hash.clone())
            .bind(self.client_id.clone())
            .bind(self.issued_at)
            .bind(self.expires_at);
        audit_events::bind(query, &self.event)
    }
}

/// Applies `rotation` atomically. `false` when the parent was no longer
/// live or its session had ended by then (a concurrent use or revocation
/// got there first): nothing was written, and the caller should look again
/// under the write lock.
pub async fn rotate(db: &Db, rotation: &Rotation<'_>) -> Result<bool, StoreError> {
    let args = RotationArgs::new(rotation);
    match db.rotation_queue() {
        Some(queue) => queue.rotate(args).await,
        None => {
            let row = args.bind(sqlx::query(ROTATE_POSTGRES)).fetch_one(db.pool()).await?;
            Ok(row.try_get::<i64, _>(0)? == 1)
        }
    }
}

const FIND_BY_HASH: &str =
    concat!("SELECT ", columns!(), " FROM refresh_tokens WHERE token_hash = $1");

pub async fn find_by_hash<'e>(
    db: impl AnyExecutor<'e>,
    hash: &SecretHash,
) -> Result<Option<RefreshToken>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(FIND_BY_HASH).bind(hash.as_str()).fetch_optional(db).await?;
    row.map(RefreshToken::try_from).transpose()
}

// A token with its session and its user's standing in one round trip: a
// rotation checks all three before it writes, and so does introspection.
const FIND_WITH_SESSION: &str = "SELECT sessions.*, t.id AS token_id, \
        t.parent_id AS token_parent_id, t.client_id AS token_client_id, \
        t.issued_at AS token_issued_at, t.expires_at AS token_expires_at, \
        t.consumed_at AS token_consumed_at, t.revoked_at AS token_revoked_at, \
        u.disabled_at AS user_disabled_at, u.security_stamp AS user_security_stamp \
    FROM refresh_tokens t JOIN sessions ON sessions.id = t.session_id \
    JOIN users u ON u.id = sessions.user_id \
    WHERE t.token_hash = $1";

#[derive(sqlx::FromRow)]
struct WithSession {
    #[sqlx(flatten)]
    session: sessions::Row,
    token_id: String,
    token_parent_id: Option<String>,
    token_client_id: String,
    token_issued_at: i64,
    token_expires_at: i64,
    token_consumed_at: Option<i64>,
    token_revoked_at: Option<i64>,
    user_disabled_at: Option<i64>,
    user_security_stamp: i64,
}

/// [`find_by_hash`] together with the token's session (every token has one)
/// and what [`Session::is_live`] needs to know about its user.
pub async fn find_with_session<'e>(
    db: impl AnyExecutor<'e>,
    hash: &SecretHash,
) -> Result<Option<(RefreshToken, Session, UserStanding)>, StoreError> {
    let row: Option<WithSession> =
        sqlx::query_as(FIND_WITH_SESSION).bind(hash.as_str()).fetch_optional(db).await?;
    let Some(r) = row else { return Ok(None) };
    let standing = UserStanding {
        disabled: r.user_disabled_at.is_some(),
        stamp: SecurityStamp::new(r.user_security_stamp),
    };
    let session = Session::try_from(r.session)?;
    let token = RefreshToken::try_from(Row {
        id: r.token_id,
        session_id: session.id.to_string(),
        parent_id: r.token_parent_id,
        client_id: r.token_client_id,
        issued_at: r.token_issued_at,
        expires_at: r.token_expires_at,
        consumed_at: r.token_consumed_at,
        revoked_at: r.token_revoked_at,
    })?;
    Ok(Some((token, session, standing)))
}

const REVOKE_LIVE_CHILDREN: &str = "UPDATE refresh_tokens SET revoked_at = $2 \
    WHERE parent_id = $1 AND consumed_at IS NULL AND revoked_at IS NULL";

/// Revokes the unused successor(s) of a token; returns how many there were.
pub async fn revoke_live_children(
    db: &mut AnyConnection,
    parent: RefreshTokenId,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(REVOKE_LIVE_CHILDREN)
        .bind(parent.to_string())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const REVOKE_FOR_SESSION: &str = "UPDATE refresh_tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL AND consumed_at IS NULL";

/// Marks the family's live tokens revoked (the session's own revocation
/// already stops them; this keeps each token's state truthful).
pub async fn revoke_for_session(
    db: &mut AnyConnection,
    session: SessionId,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(REVOKE_FOR_SESSION)
        .bind(session.to_string())
        .bind(now.as_secs())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

const DELETE_EXPIRED: &str = "DELETE FROM refresh_tokens WHERE id IN \
    (SELECT id FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)";

/// Deletes up to `limit` tokens that expired before `cutoff` — consumed ones
/// included: until then they are kept, so that a replay is recognised as
/// reuse.
pub async fn delete_expired(
    db: &mut AnyConnection,
    cutoff: UnixTime,
    limit: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(DELETE_EXPIRED).bind(cutoff.as_secs()).bind(limit).execute(db).await?;
    Ok(done.rows_affected())
}

/// Every SQL statement of this module, prepared on both engines by a test
/// (see [`super::statements`]).
pub(crate) const STATEMENTS: &[&str] = &[
    INSERT,
    CONSUME,
    FIND_BY_HASH,
    FIND_WITH_SESSION,
    REVOKE_LIVE_CHILDREN,
    REVOKE_FOR_SESSION,
    DELETE_EXPIRED,
];

/// The statements written for one engine only.
pub(crate) const POSTGRES_ONLY: &[&str] = &[ROTATE_POSTGRES];
pub(crate) const SQLITE_ONLY: &[&str] = &[ROTATE_SQLITE];
