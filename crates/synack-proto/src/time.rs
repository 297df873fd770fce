//! Time as an argument: the core never reads a clock.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point on the caller's clock, in microseconds since an arbitrary origin.
/// The simulator starts at zero; the TUN driver maps the real monotonic clock.
///
/// Stored as microseconds plus one, so that `Option<Instant>` (every timer
/// deadline of a connection) is 8 bytes instead of 16; the latest instant is
/// `u64::MAX - 1` microseconds, and later ones saturate to it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(NonZeroU64::MIN);

    const fn from_raw(raw: u64) -> Instant {
        match NonZeroU64::new(raw) {
            Some(n) => Instant(n),
            None => Instant::ZERO,
        }
    }

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant::from_raw(micros.saturating_add(1))
    }

    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant::from_micros(millis * 1000)
    }

    /// Microseconds since the origin.
    pub const fn micros(self) -> u64 {
        self.0.get() - 1
    }

    /// Milliseconds since the origin (truncated).
    pub const fn millis(self) -> u64 {
        self.micros() / 1000
    }

    /// The earlier of two optional deadlines (`None` is "never"), without
    /// branches: `None` is stored as zero, so it is compared as the largest value.
    #[inline]
    pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
        let key = |x: Option<Instant>| x.map_or(0, |i| i.0.get()).wrapping_sub(1);
        Instant::from_key(key(a).min(key(b)))
    }

    /// The inverse of `earliest`'s key: `u64::MAX` is `None`.
    #[inline]
    const fn from_key(k: u64) -> Option<Instant> {
        match NonZeroU64::new(k.wrapping_add(1)) {
            Some(n) => Some(Instant(n)),
            None => None,
        }
    }

    /// `self - earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.get().saturating_sub(earlier.0.get()))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant::from_raw(
            self.0
                .get()
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.micros();
        write!(f, "{}.{:06}s", m / 1_000_000, m % 1_000_000)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_treats_none_as_never() {
        let (a, b) = (Instant::from_micros(0), Instant::from_micros(u64::MAX));
        assert_eq!(Instant::earliest(None, None), None);
        assert_eq!(Instant::earliest(Some(a), None), Some(a));
        assert_eq!(Instant::earliest(None, Some(b)), Some(b));
        assert_eq!(Instant::earliest(Some(b), Some(a)), Some(a));
    }
}

/// The bridge between the core's virtual time and `std::time::Instant`, for
/// a driver on a real clock: `Instant::ZERO` is `origin`. The core itself
/// never reads a clock; the driver reads `std::time::Instant::now()` and
/// converts it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    origin: std::time::Instant,
}

impl Epoch {
    /// An epoch whose `Instant::ZERO` is `origin` (usually the driver's start).
    pub fn new(origin: std::time::Instant) -> Epoch {
        Epoch { origin }
    }

    /// The core's instant for the real instant `t` (`Instant::ZERO` for
    /// anything before the origin), to the microsecond.
    pub fn instant(&self, t: std::time::Instant) -> Instant {
        let us = t.saturating_duration_since(self.origin).as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX - 1))
    }

    /// The real instant of the core's instant `i` (for sleeping until
    /// `Stack::poll_timeout`).
    pub fn std_instant(&self, i: Instant) -> std::time::Instant {
        let d = Duration::from_micros(i.micros());
        self.origin.checked_add(d).unwrap_or(self.origin)
    }
}

#[cfg(test)]
mod epoch_tests {
    use super::*;

    // A real instant to convert: the one place the core's crate reads the
    // clock, in a test of the bridge the driver uses.
    #[allow(clippy::disallowed_methods)]
    #[test]
    fn real_and_virtual_instants_convert_both_ways() {
        let origin = std::time::Instant::now();
        let e = Epoch::new(origin);
        assert_eq!(e.instant(origin), Instant::ZERO);
        let later = origin + Duration::from_micros(1_234_567);
        assert_eq!(e.instant(later), Instant::from_micros(1_234_567));
        assert_eq!(e.std_instant(Instant::from_micros(1_234_567)), later);
        // Before the origin is the origin.
        if let Some(before) = origin.checked_sub(Duration::from_secs(1)) {
            assert_eq!(e.instant(before), Instant::ZERO);
        }
    }
}
