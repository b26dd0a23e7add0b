//! Per-client-IP rate limits on the endpoints that attackers hammer,
//! counted in the database (fixed one-minute windows) so that every node
//! shares them.

use std::net::IpAddr;

use idp_core::clock::UnixTime;
use idp_store::StoreError;
use idp_store::repo::rate_limits;

use crate::state::AppState;

const WINDOW_SECS: i64 = 60;

/// Which counter a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Token,
    Register,
    Login,
    Password,
    /// Requests that send mail (forgot password, new links).
    Mail,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Register => "register",
            Self::Login => "login",
            Self::Password => "password",
            Self::Mail => "mail",
        }
    }
}

/// Over the limit: retry when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

/// Counts the request; `Err(Limited)` past `RATE_LIMIT_PER_MINUTE`
/// (0 turns limiting off).
pub async fn charge(
    state: &AppState,
    bucket: Bucket,
    ip: IpAddr,
) -> Result<Result<(), Limited>, StoreError> {
    let limit = state.settings.rate_limit_per_minute;
    if limit == 0 {
        return Ok(Ok(()));
    }
    let now = state.now();
    let window_start = UnixTime::from_secs(now.as_secs() - now.as_secs().rem_euclid(WINDOW_SECS));
    let key = format!("{}:{ip}", bucket.name());
    let mut tx = state.db.write().await?;
    let hits = rate_limits::hit(&mut tx, &key, window_start).await?;
    tx.commit().await?;
    if hits > i64::from(limit) {
        let window_end = UnixTime::from_secs(window_start.as_secs() + WINDOW_SECS);
        return Ok(Err(Limited { retry_after_secs: now.secs_until(window_end).max(1) }));
    }
    Ok(Ok(()))
}
