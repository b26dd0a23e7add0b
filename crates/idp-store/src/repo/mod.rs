//! One module per table; each SQL statement sits beside the one function that
//! runs it. Functions take any executor — the pool for a single statement,
//! `&mut *tx` inside a use case's transaction.

/// The two checks behind every access token, as integer columns
/// `session_active` and `jti_revoked`, over `$1` (session id), `$2` (`jti`)
/// and `$3` (now). A session is active while it is neither ended nor
/// expired, and its user is enabled and unchanged since it began
/// (`Session::is_live`). CASE keeps them integers on both engines (EXISTS
/// is boolean on PostgreSQL, which `Any` decodes differently).
macro_rules! access_status_columns {
    () => {
        "CASE WHEN EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id \
                           WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $3 \
                             AND u.disabled_at IS NULL AND u.security_stamp = s.user_stamp) \
              THEN 1 ELSE 0 END AS session_active, \
         CASE WHEN EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $2) \
              THEN 1 ELSE 0 END AS jti_revoked"
    };
}

pub mod audit_events;
pub mod authorization_codes;
pub mod browser_sessions;
pub mod clients;
pub mod consents;
pub mod login_failures;
pub mod permissions;
pub mod rate_limits;
pub mod refresh_tokens;
pub mod revoked_access_tokens;
pub mod roles;
pub mod sessions;
pub mod signing_keys;
pub mod users;

use idp_core::clock::UnixTime;

use crate::StoreError;

pub(crate) fn time(secs: i64) -> UnixTime {
    UnixTime::from_secs(secs)
}

pub(crate) fn opt_time(secs: Option<i64>) -> Option<UnixTime> {
    secs.map(UnixTime::from_secs)
}

pub(crate) fn parse_id<T: std::str::FromStr>(what: &str, raw: &str) -> Result<T, StoreError> {
    raw.parse().map_err(|_| StoreError::Corrupt(format!("{what} is not a valid id")))
}

pub(crate) fn json_list(what: &str, raw: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw)
        .map_err(|_| StoreError::Corrupt(format!("{what} is not a JSON list of strings")))
}

pub(crate) fn to_json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::to_string(&items.iter().map(AsRef::as_ref).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned())
}
