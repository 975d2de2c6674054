//! The two units of time xvrrp deals in.
//!
//! VRRPv3 carries intervals in centiseconds and v2 in seconds; mixing the two up is a classic
//! bug, so intervals have their own type. Points in time are CLOCK_MONOTONIC nanoseconds, the
//! clock the XDP program stamps adverts with (`bpf_ktime_get_ns`), so map timestamps and the
//! daemon's timers compare directly.

use std::{fmt, ops::Add, time::Duration};

/// An interval in hundredths of a second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centisecs(pub u32);

impl Centisecs {
    pub const fn from_secs(secs: u32) -> Self {
        Centisecs(secs * 100)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0 as u64 * 10_000_000
    }

    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.as_nanos())
    }
}

impl fmt::Display for Centisecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}s", self.0 / 100, self.0 % 100)
    }
}

/// A point on CLOCK_MONOTONIC, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Monotonic(pub u64);

impl Monotonic {
    pub fn now() -> Self {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC always exists.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        debug_assert_eq!(rc, 0);
        Monotonic(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: Monotonic) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Centisecs> for Monotonic {
    type Output = Monotonic;
    fn add(self, rhs: Centisecs) -> Monotonic {
        Monotonic(self.0 + rhs.as_nanos())
    }
}

impl Add<Duration> for Monotonic {
    type Output = Monotonic;
    fn add(self, rhs: Duration) -> Monotonic {
        Monotonic(self.0 + rhs.as_nanos() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centisecs_convert_exactly() {
        assert_eq!(Centisecs::from_secs(1), Centisecs(100));
        assert_eq!(Centisecs(1).as_nanos(), 10_000_000);
        assert_eq!(Centisecs(250).as_duration(), Duration::from_millis(2500));
        assert_eq!(Centisecs(5).to_string(), "0.05s");
    }

    #[test]
    fn monotonic_moves_forward_and_adds() {
        let a = Monotonic::now();
        let b = Monotonic::now();
        assert!(b >= a);
        assert_eq!((a + Centisecs(3)).since(a), Duration::from_millis(30));
        assert_eq!(a.since(a + Centisecs(1)), Duration::ZERO);
    }
}
