//! Time as a value that is passed in.
//!
//! Every expiry decision in idp takes `now` from a [`Clock`] held in the
//! application state, never from the system directly (clippy's
//! `disallowed-methods` enforces it), so tests move a [`ManualClock`] instead
//! of sleeping.

use std::fmt;
use std::ops::{Add, Sub};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// An instant as whole seconds since the Unix epoch: the unit of JWT claims and
/// of every `*_at` column in the store.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(i64);

impl UnixTime {
    pub const EPOCH: UnixTime = UnixTime(0);

    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    pub const fn as_secs(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC, e.g. `2026-11-28T15:04:05Z`.
    pub fn to_rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    }

    /// Seconds from `self` until `later`, zero when `later` is not later.
    pub fn secs_until(self, later: UnixTime) -> u64 {
        u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Add<Duration> for UnixTime {
    type Output = UnixTime;
    fn add(self, rhs: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(secs(rhs)))
    }
}

impl Sub<Duration> for UnixTime {
    type Output = UnixTime;
    fn sub(self, rhs: Duration) -> UnixTime {
        UnixTime(self.0.saturating_sub(secs(rhs)))
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> UnixTime;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> UnixTime {
        let since_epoch =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        UnixTime(secs(since_epoch))
    }
}

/// A clock that only moves when told to; starts at the real time so that
/// tokens it stamps look plausible to third-party verifiers.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: UnixTime) -> Self {
        Self(AtomicI64::new(start.as_secs()))
    }

    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(secs(by), Ordering::SeqCst);
    }

    pub fn set(&self, to: UnixTime) {
        self.0.store(to.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(UnixTime::from_secs(1_000));
        assert_eq!(clock.now(), UnixTime::from_secs(1_000));
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now(), UnixTime::from_secs(1_061));
    }

    #[test]
    fn formats_as_rfc3339_utc() {
        assert_eq!(UnixTime::from_secs(1_700_000_000).to_rfc3339(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn secs_until_is_never_negative() {
        let t = UnixTime::from_secs(100);
        assert_eq!(t.secs_until(UnixTime::from_secs(160)), 60);
        assert_eq!(t.secs_until(UnixTime::from_secs(40)), 0);
    }

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let t = UnixTime::from_secs(i64::MAX - 1);
        assert_eq!(t + Duration::from_secs(10), UnixTime::from_secs(i64::MAX));
    }
}

/// Told how long something took. Lets the store and the hashing pool report
/// timings (the server feeds them into metrics) without knowing about metrics.
#[derive(Clone)]
pub struct DurationObserver(Arc<dyn Fn(Duration) + Send + Sync>);

impl DurationObserver {
    pub fn new(observe: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }

    pub fn observe(&self, took: Duration) {
        (self.0)(took);
    }
}

impl fmt::Debug for DurationObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DurationObserver")
    }
}
