//! What can go wrong in the store, in terms the domain understands.

/// A store failure. Unique-constraint violations are told apart (they are the
/// caller's "already exists"); everything else is an infrastructure failure
/// whose details are logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write; the value names the index.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(String),
    #[error("unsupported database URL: expected sqlite: or postgres://")]
    UnsupportedUrl,
    #[error("cannot create the database folder {0}: {1}")]
    CreateDir(String, #[source] std::io::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            // PostgreSQL names the constraint; SQLite only says it in the
            // message ("UNIQUE constraint failed: index 'users_email_key'"
            // for expression indexes, "users.id" for columns).
            let name = db
                .constraint()
                .map(str::to_owned)
                .or_else(|| sqlite_index_name(db.message()))
                .unwrap_or_default();
            return Self::UniqueViolation(name);
        }
        Self::Database(err)
    }
}

fn sqlite_index_name(message: &str) -> Option<String> {
    let rest = message.split("UNIQUE constraint failed: ").nth(1)?;
    let rest = rest.strip_prefix("index '").map(|r| r.trim_end_matches('\'')).unwrap_or(rest);
    Some(rest.to_owned())
}

impl StoreError {
    /// True when the database could not be reached at all (as opposed to a
    /// statement failing): readiness reports it, requests get 503.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            // The server going away mid-session: SQLSTATE class 08
            // (connection exception), 57 (operator intervention: shutdown,
            // "the database system is starting up") and 53 (insufficient
            // resources, e.g. too many connections). SQLSTATEs have five
            // characters; SQLite's numeric codes are shorter.
            Self::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                code.len() == 5 && ["08", "57", "53"].iter().any(|class| code.starts_with(class))
            }),
            _ => false,
        }
    }

    /// True when the database refused a value sent to it rather than
    /// failing: text it cannot hold (PostgreSQL refuses NUL characters,
    /// SQLSTATE 22021 and 22P05) or a value too large for an index (54000).
    /// The request was bad, so it gets a 4xx; nothing was written.
    pub fn is_unstorable_input(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|code| ["22021", "22P05", "54000"].contains(&code.as_ref()))
            }
            _ => false,
        }
    }

    /// The unique index a write collided with, if that is what happened.
    pub fn violated_index(&self) -> Option<&str> {
        match self {
            Self::UniqueViolation(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_name_the_index() {
        assert_eq!(
            sqlite_index_name("UNIQUE constraint failed: index 'users_email_key'").as_deref(),
            Some("users_email_key")
        );
        assert_eq!(
            sqlite_index_name("UNIQUE constraint failed: roles.id").as_deref(),
            Some("roles.id")
        );
        assert_eq!(sqlite_index_name("something else"), None);
    }
}
