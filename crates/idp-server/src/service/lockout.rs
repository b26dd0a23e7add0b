//! Brute-force protection: a failure counter per user — whichever of its
//! names (username, email) is typed — and per submitted name that no user
//! has, so that a lockout reveals nothing; with a lockout that doubles each
//! time, stored in the database so every node sees it.

use std::time::Duration;

use idp_core::clock::UnixTime;
use idp_core::ids::UserId;
use idp_store::StoreError;
use idp_store::repo::login_failures;

use crate::state::AppState;

/// A counter left alone this long starts over.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The username is locked for this many more seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after_secs: u64,
}

/// What failures are counted under. The two kinds have distinct prefixes,
/// so that no typed name can share a user's counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The counter of an existing user.
    pub fn user(id: UserId) -> Self {
        Self(format!("user:{id}"))
    }

    /// The counter of a submitted name that no user has (case-insensitive).
    pub fn name(login: &str) -> Self {
        Self(format!("name:{}", login.trim().chars().take(254).collect::<String>().to_lowercase()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Some` while `key` is locked out.
pub async fn locked(state: &AppState, key: &Key) -> Result<Option<Locked>, StoreError> {
    let now = state.now();
    let until = login_failures::locked_until(state.db.read(), key.as_str()).await?;
    Ok(until
        .filter(|until| *until > now)
        .map(|until| Locked { retry_after_secs: now.secs_until(until) }))
}

/// Counts a failure; returns the lockout it started, if this failure
/// reached `LOGIN_MAX_FAILURES`.
pub async fn record_failure(state: &AppState, key: &Key) -> Result<Option<Locked>, StoreError> {
    let settings = &state.settings;
    let now = state.now();
    let mut tx = state.db.write().await?;
    let counted =
        login_failures::record_failure(&mut tx, key.as_str(), now, now - FORGET_AFTER).await?;
    let locked = if counted.failures >= i64::from(settings.login_max_failures) {
        let duration = lockout_duration(settings.lockout, settings.lockout_max, counted.lockouts);
        let until: UnixTime = now + duration;
        login_failures::lock(&mut tx, key.as_str(), until).await?;
        Some(Locked { retry_after_secs: duration.as_secs() })
    } else {
        None
    };
    tx.commit().await?;
    if locked.is_some() {
        state.metrics.lockout_started();
    }
    Ok(locked)
}

/// A successful login resets the counter.
pub async fn clear(state: &AppState, key: &Key) -> Result<(), StoreError> {
    let mut tx = state.db.write().await?;
    login_failures::clear(&mut tx, key.as_str()).await?;
    tx.commit().await
}

/// `base`, doubled for each earlier lockout, capped at `max`.
fn lockout_duration(base: Duration, max: Duration, earlier_lockouts: i64) -> Duration {
    let doublings = u32::try_from(earlier_lockouts.clamp(0, 30)).unwrap_or(30);
    base.saturating_mul(2u32.saturating_pow(doublings)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_double_up_to_the_cap() {
        let base = Duration::from_secs(60);
        let max = Duration::from_secs(3600);
        let secs: Vec<u64> = (0..8).map(|n| lockout_duration(base, max, n).as_secs()).collect();
        assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(lockout_duration(base, max, i64::MAX), max);
    }

    #[test]
    fn name_keys_ignore_case_and_surrounding_space() {
        assert_eq!(Key::name("  Alice "), Key::name("alice"));
        assert_eq!(Key::name("ALICE@Example.com").as_str(), "name:alice@example.com");
    }

    #[test]
    fn no_typed_name_shares_a_users_counter() {
        let id = UserId::new();
        assert_ne!(Key::name(&format!("user:{id}")), Key::user(id));
    }
}
