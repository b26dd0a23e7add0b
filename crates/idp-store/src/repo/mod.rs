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
pub mod email_tokens;
pub mod login_failures;
pub mod outbox;
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

/// Which engines a statement is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engines {
    Both,
    Sqlite,
    Postgres,
}

/// One SQL statement of a repository.
#[derive(Clone, Copy, Debug)]
pub struct Statement {
    pub module: &'static str,
    pub sql: &'static str,
    pub engines: Engines,
}

/// Every SQL statement of every repository: a test prepares each one on
/// both engines against the migrated schema, so a typo, a column a
/// migration lost or SQL one engine does not speak fails there rather than
/// in production (the `Any` driver checks nothing at compile time).
pub fn statements() -> Vec<Statement> {
    let modules: [(&str, &[&str]); 16] = [
        ("audit_events", audit_events::STATEMENTS),
        ("authorization_codes", authorization_codes::STATEMENTS),
        ("browser_sessions", browser_sessions::STATEMENTS),
        ("clients", clients::STATEMENTS),
        ("consents", consents::STATEMENTS),
        ("email_tokens", email_tokens::STATEMENTS),
        ("login_failures", login_failures::STATEMENTS),
        ("outbox", outbox::STATEMENTS),
        ("permissions", permissions::STATEMENTS),
        ("rate_limits", rate_limits::STATEMENTS),
        ("refresh_tokens", refresh_tokens::STATEMENTS),
        ("revoked_access_tokens", revoked_access_tokens::STATEMENTS),
        ("roles", roles::STATEMENTS),
        ("sessions", sessions::STATEMENTS),
        ("signing_keys", signing_keys::STATEMENTS),
        ("users", users::STATEMENTS),
    ];
    let mut all = Vec::new();
    for (module, sqls) in modules {
        all.extend(sqls.iter().map(|&sql| Statement { module, sql, engines: Engines::Both }));
    }
    let only = [
        ("refresh_tokens", refresh_tokens::SQLITE_ONLY, Engines::Sqlite),
        ("refresh_tokens", refresh_tokens::POSTGRES_ONLY, Engines::Postgres),
        ("outbox", outbox::SQLITE_ONLY, Engines::Sqlite),
        ("outbox", outbox::POSTGRES_ONLY, Engines::Postgres),
    ];
    for (module, sqls, engines) in only {
        all.extend(sqls.iter().map(|&sql| Statement { module, sql, engines }));
    }
    all
}

#[cfg(test)]
mod tests {
    /// Every `const …: &str` holding SQL in a repository module is in its
    /// list, so the prepare test cannot miss a statement added later.
    #[test]
    fn every_sql_constant_is_listed() {
        let sources = [
            ("audit_events", include_str!("audit_events.rs")),
            ("authorization_codes", include_str!("authorization_codes.rs")),
            ("browser_sessions", include_str!("browser_sessions.rs")),
            ("clients", include_str!("clients.rs")),
            ("consents", include_str!("consents.rs")),
            ("email_tokens", include_str!("email_tokens.rs")),
            ("login_failures", include_str!("login_failures.rs")),
            ("outbox", include_str!("outbox.rs")),
            ("permissions", include_str!("permissions.rs")),
            ("rate_limits", include_str!("rate_limits.rs")),
            ("refresh_tokens", include_str!("refresh_tokens.rs")),
            ("revoked_access_tokens", include_str!("revoked_access_tokens.rs")),
            ("roles", include_str!("roles.rs")),
            ("sessions", include_str!("sessions.rs")),
            ("signing_keys", include_str!("signing_keys.rs")),
            ("users", include_str!("users.rs")),
        ];
        let listed = super::statements();
        for (module, source) in sources {
            // A `const NAME: &str =` whose value starts with a SQL keyword
            // (index and role names are `&str` constants too).
            let sql_constants = source
                .split("const ")
                .skip(1)
                .filter_map(|rest| rest.split_once(": &str")?.1.split_once('=').map(|(_, v)| v))
                .filter(|value| {
                    let value = value.trim_start().trim_start_matches("concat!(").trim_start();
                    let value = value.trim_start_matches('"').trim_start();
                    ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
                        .iter()
                        .any(|keyword| value.starts_with(keyword))
                })
                .count();
            let in_list = listed.iter().filter(|s| s.module == module).count();
            assert_eq!(
                sql_constants, in_list,
                "{module}: a SQL constant is missing from STATEMENTS"
            );
        }
    }
}
