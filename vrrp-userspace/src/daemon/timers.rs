//! The deadlines of one instance's named timers, as the fsm's contract asks: at most one per
//! name, replaced by every `ArmTimer`, dropped by `CancelTimer`.

use crate::{fsm::TimerId, time::Monotonic};

/// Held in the instance's own struct rather than in a vector of its own: a wake of the daemon
/// looks at every instance's deadlines, and one more pointer to chase per instance, cold in
/// the cache after the pause, was a large part of what an idle Backup cost.
#[derive(Clone, Debug, Default)]
pub struct Deadlines([Option<Monotonic>; TimerId::ALL.len()]);

impl Deadlines {
    pub fn arm(&mut self, timer: TimerId, at: Monotonic) {
        self.0[timer.index()] = Some(at);
    }

    pub fn cancel(&mut self, timer: TimerId) {
        self.0[timer.index()] = None;
    }

    /// When `timer` is due, if it is armed.
    pub fn get(&self, timer: TimerId) -> Option<Monotonic> {
        self.0[timer.index()]
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next(&self) -> Option<Monotonic> {
        self.0.iter().flatten().min().copied()
    }

    /// The earliest timer due at `now` and its deadline, removed from the table: the caller
    /// reports it as expired, or arms it again to defer that. One at a time, because handling
    /// one may re-arm or cancel the others.
    pub fn take_due(&mut self, now: Monotonic) -> Option<(TimerId, Monotonic)> {
        let (timer, at) = TimerId::ALL
            .into_iter()
            .filter_map(|t| self.get(t).map(|at| (t, at)))
            .filter(|&(_, at)| at <= now)
            .min_by_key(|&(_, at)| at)?;
        self.cancel(timer);
        Some((timer, at))
    }
}

/// The tokio instant at which `deadline` on CLOCK_MONOTONIC is reached.
pub fn instant_of(deadline: Monotonic) -> tokio::time::Instant {
    tokio::time::Instant::now() + deadline.since(Monotonic::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deadline_per_timer_and_earliest_first() {
        let mut d = Deadlines::default();
        d.arm(TimerId::Adver, Monotonic(30));
        d.arm(TimerId::GarpDelay, Monotonic(20));
        d.arm(TimerId::Adver, Monotonic(10));
        assert_eq!(d.next(), Some(Monotonic(10)));
        assert_eq!(d.take_due(Monotonic(5)), None);
        assert_eq!(
            d.take_due(Monotonic(25)),
            Some((TimerId::Adver, Monotonic(10)))
        );
        assert_eq!(
            d.take_due(Monotonic(25)),
            Some((TimerId::GarpDelay, Monotonic(20)))
        );
        assert_eq!(d.take_due(Monotonic(25)), None);
        d.arm(TimerId::MasterDown, Monotonic(40));
        d.cancel(TimerId::MasterDown);
        assert_eq!(d.next(), None);
    }
}
