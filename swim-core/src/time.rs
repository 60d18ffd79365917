//! Time as the core sees it: a monotonic instant that the driver passes in.

use core::ops::{Add, AddAssign};
use core::time::Duration;

/// A point in time, in nanoseconds since an epoch chosen by the driver.
///
/// The core never reads a clock: drivers convert their own monotonic clock
/// (e.g. `std::time::Instant` minus a start instant) and the simulator passes
/// virtual time. Only differences between instants matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `d` after the epoch (saturating at ~584 years).
    pub fn from_duration(d: Duration) -> Self {
        Instant(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

/// `d * k` for a small integer multiplier, saturating.
pub(crate) fn scale(d: Duration, k: u32) -> Duration {
    d.checked_mul(k).unwrap_or(Duration::MAX)
}

/// `d * f`, saturating; `f` must be finite and non-negative.
pub(crate) fn scale_f64(d: Duration, f: f64) -> Duration {
    let nanos = d.as_nanos() as f64 * f;
    if nanos.is_nan() || nanos <= 0.0 {
        Duration::ZERO
    } else if nanos >= u64::MAX as f64 {
        Duration::MAX
    } else {
        Duration::from_nanos(nanos as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_nanos(10);
        assert_eq!(t + Duration::from_nanos(5), Instant::from_nanos(15));
        assert_eq!(Instant::from_nanos(u64::MAX) + Duration::from_secs(1), Instant::from_nanos(u64::MAX));
        assert_eq!(t.saturating_duration_since(Instant::from_nanos(20)), Duration::ZERO);
        assert_eq!(scale(Duration::from_secs(2), 3), Duration::from_secs(6));
        assert_eq!(scale_f64(Duration::from_secs(2), 1.5), Duration::from_secs(3));
        assert_eq!(scale_f64(Duration::from_secs(2), f64::NAN), Duration::ZERO);
    }
}
