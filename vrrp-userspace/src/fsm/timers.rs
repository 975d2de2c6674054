//! Skew_Time and Master_Down_Interval, RFC 5798 §6.1 (v3) and RFC 3768 §6.1 (v2).
//!
//! Both are returned as `Duration` in nanoseconds rather than `Centisecs`: Skew_Time is a
//! fraction of 1/256 of an interval, and rounding it to centiseconds would give priorities 100
//! and 101 the same skew at a 1 s interval, losing the "higher priority fires first" ordering the
//! skew exists for. keepalived likewise computes them in microseconds.

use std::time::Duration;

use super::{Action, TimerId, Version};
use crate::time::{Centisecs, Monotonic};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Skew_Time for a router of `priority`.
///
/// v3 (RFC 5798 §6.1): `((256 - Priority) * Master_Adver_Interval) / 256`, the interval in
/// centiseconds. v2 (RFC 3768 §6.1): `(256 - Priority) / 256` seconds, whatever the interval.
pub fn skew_time(version: Version, priority: u8, master_adver_int: Centisecs) -> Duration {
    let weight = 256 - u64::from(priority);
    let nanos = match version {
        Version::V3 => weight * master_adver_int.as_nanos() / 256,
        Version::V2 => weight * NANOS_PER_SEC / 256,
    };
    Duration::from_nanos(nanos)
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time`.
///
/// For v2 the caller passes the configured Advertisement_Interval: RFC 3768 has no learned
/// interval (a mismatching advert is dropped by validation).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_int: Centisecs,
) -> Duration {
    3 * master_adver_int.as_duration() + skew_time(version, priority, master_adver_int)
}

/// When Adver_Timer fires after an advert sent at `now`: one `interval` later, or with `grid`,
/// at the last multiple of `interval` on the clock before that, if it is still after `now`.
///
/// The grid makes the adverts of every instance with one interval leave together, from one
/// wake of the daemon, instead of each from its own (50 instances at 10 ms: 100 wakes a second
/// instead of up to 5000). Only the first advert after an instance becomes Master goes early,
/// by less than one interval; every later one is sent from a point of the grid (a little
/// after it, however late the wake) and is armed for the next point, one interval on. An
/// early advert is harmless: Backups act on silence, never on adverts that come too soon.
pub fn next_advert(now: Monotonic, interval: Centisecs, grid: bool) -> Monotonic {
    let plain = now + interval;
    let every = interval.as_nanos();
    if !grid || every == 0 {
        return plain;
    }
    let snapped = Monotonic(plain.0 - plain.0 % every);
    if snapped > now { snapped } else { plain }
}

/// The deadlines an instance has armed, mirrored so that it emits `CancelTimer` only for armed
/// timers and can tell a due expiry from a stale one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Armed([Option<Monotonic>; TimerId::ALL.len()]);

impl Armed {
    pub(crate) fn arm(&mut self, out: &mut Vec<Action>, timer: TimerId, at: Monotonic) {
        self.set(timer, at);
        out.push(Action::ArmTimer { timer, at });
    }

    /// Arms `timer` for a caller that reports the deadline itself (`Instance::renew`).
    pub(crate) fn set(&mut self, timer: TimerId, at: Monotonic) {
        self.0[timer.index()] = Some(at);
    }

    pub(crate) fn cancel(&mut self, out: &mut Vec<Action>, timer: TimerId) {
        if self.0[timer.index()].take().is_some() {
            out.push(Action::CancelTimer(timer));
        }
    }

    pub(crate) fn deadline(&self, timer: TimerId) -> Option<Monotonic> {
        self.0[timer.index()]
    }

    /// Disarms `timer` and returns true if it was armed and its deadline has passed.
    pub(crate) fn take_due(&mut self, timer: TimerId, now: Monotonic) -> bool {
        match self.0[timer.index()] {
            Some(at) if at <= now => {
                self.0[timer.index()] = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn adverts_of_one_interval_meet_on_its_grid() {
        let every = Centisecs(1);
        // Two instances that became Master at different phases.
        let a = next_advert(Monotonic(993 * MS + 7), every, true);
        let b = next_advert(Monotonic(998 * MS), every, true);
        assert_eq!((a, b), (Monotonic(1000 * MS), Monotonic(1000 * MS)));
        // Sent from a late wake on that point: the next point, one interval on.
        assert_eq!(
            next_advert(Monotonic(1000 * MS + 40_000), every, true),
            Monotonic(1010 * MS)
        );
    }

    #[test]
    fn off_the_grid_or_on_it_an_advert_is_never_due_at_once() {
        let every = Centisecs(100);
        assert_eq!(
            next_advert(Monotonic(2000 * MS), every, true),
            Monotonic(3000 * MS),
            "sent on a point: the next one"
        );
        assert_eq!(
            next_advert(Monotonic(2500 * MS), every, false),
            Monotonic(3500 * MS)
        );
        assert_eq!(
            next_advert(Monotonic(2500 * MS), Centisecs(0), true),
            Monotonic(2500 * MS)
        );
    }

    #[test]
    fn v3_skew_scales_with_the_interval_in_centiseconds() {
        // 1 s interval, priority 100: 156/256 s = 609.375 ms.
        assert_eq!(
            skew_time(Version::V3, 100, Centisecs(100)),
            Duration::from_micros(609_375)
        );
        // 10 ms interval: a hundredth of that.
        assert_eq!(
            skew_time(Version::V3, 100, Centisecs(1)),
            Duration::from_nanos(6_093_750)
        );
        assert_eq!(
            skew_time(Version::V3, 255, Centisecs(256)),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn v2_skew_is_in_seconds_and_ignores_the_interval() {
        assert_eq!(
            skew_time(Version::V2, 100, Centisecs(100)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 100, Centisecs(500)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 1, Centisecs(100)),
            Duration::from_micros(996_093) + Duration::from_nanos(750)
        );
    }

    #[test]
    fn adjacent_priorities_keep_distinct_skews() {
        let a = skew_time(Version::V3, 100, Centisecs(100));
        let b = skew_time(Version::V3, 101, Centisecs(100));
        assert!(b < a);
    }

    #[test]
    fn master_down_interval_is_three_intervals_plus_skew() {
        assert_eq!(
            master_down_interval(Version::V3, 100, Centisecs(100)),
            Duration::from_secs(3) + Duration::from_micros(609_375)
        );
        // v2, 5 s interval: the skew stays under a second.
        assert_eq!(
            master_down_interval(Version::V2, 200, Centisecs::from_secs(5)),
            Duration::from_secs(15) + Duration::from_micros(218_750)
        );
        // v3, 4095 cs (the 12-bit maximum) at priority 1 does not overflow.
        assert_eq!(
            master_down_interval(Version::V3, 1, Centisecs(4095)),
            Duration::from_millis(3 * 40_950) + Duration::from_nanos(255 * 40_950_000_000 / 256)
        );
    }

    #[test]
    fn armed_timers_fire_once_and_only_when_due() {
        let mut armed = Armed::default();
        let mut out = Vec::new();
        armed.cancel(&mut out, TimerId::Adver);
        assert!(out.is_empty(), "cancelling an unarmed timer says nothing");
        armed.arm(&mut out, TimerId::Adver, Monotonic(100));
        assert!(!armed.take_due(TimerId::Adver, Monotonic(99)));
        assert!(!armed.take_due(TimerId::MasterDown, Monotonic(200)));
        assert!(armed.take_due(TimerId::Adver, Monotonic(100)));
        assert!(!armed.take_due(TimerId::Adver, Monotonic(100)));
        assert_eq!(
            out,
            vec![Action::ArmTimer {
                timer: TimerId::Adver,
                at: Monotonic(100)
            }]
        );
    }
}
