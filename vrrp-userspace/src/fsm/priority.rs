//! Effective priority and tracker faults, as keepalived computes them (vrrp_track.c,
//! `vrrp_set_effective_priority`).
//!
//! RFC 5798 has one configured priority; keepalived adds trackers. A tracker with weight 0 puts
//! the instance in FAULT while failing. A negative weight is added while the tracker fails, a
//! positive one while it succeeds. The sum is clamped to 1..=254 so a non-owner never advertises
//! "stopping" (0) or "owner" (255), and the owner's 255 never moves.

use super::{PRIORITY_OWNER, Tracker, TrackerId};

#[derive(Clone, Debug)]
pub(crate) struct Priorities {
    base: u8,
    trackers: Vec<Tracker>,
}

impl Priorities {
    pub(crate) fn new(base: u8, trackers: Vec<Tracker>) -> Self {
        Priorities { base, trackers }
    }

    /// Records a tracker's status; false if the tracker is unknown or did not change.
    pub(crate) fn set(&mut self, id: TrackerId, failing: bool) -> bool {
        match self.trackers.iter_mut().find(|t| t.id == id) {
            Some(t) if t.failing != failing => {
                t.failing = failing;
                true
            }
            _ => false,
        }
    }

    /// Turns every tracker into a fault tracker.
    pub(crate) fn zero_weights(&mut self) {
        for t in &mut self.trackers {
            t.weight = 0;
        }
    }

    /// True while a weight-0 tracker fails.
    pub(crate) fn faulted(&self) -> bool {
        self.trackers.iter().any(|t| t.weight == 0 && t.failing)
    }

    pub(crate) fn effective(&self) -> u8 {
        if self.base == PRIORITY_OWNER {
            return PRIORITY_OWNER;
        }
        let adjust: i32 = self
            .trackers
            .iter()
            .map(|t| match (t.weight, t.failing) {
                (w, true) if w < 0 => i32::from(w),
                (w, false) if w > 0 => i32::from(w),
                _ => 0,
            })
            .sum();
        (i32::from(self.base) + adjust).clamp(1, i32::from(PRIORITY_OWNER) - 1) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(id: u32, weight: i16, failing: bool) -> Tracker {
        Tracker {
            id: TrackerId(id),
            weight,
            failing,
        }
    }

    #[test]
    fn negative_weight_applies_while_failing() {
        let mut p = Priorities::new(100, vec![tracker(1, -30, false)]);
        assert_eq!(p.effective(), 100);
        assert!(p.set(TrackerId(1), true));
        assert_eq!(p.effective(), 70);
        assert!(!p.faulted());
    }

    #[test]
    fn positive_weight_applies_while_succeeding() {
        let mut p = Priorities::new(100, vec![tracker(1, 20, true)]);
        assert_eq!(p.effective(), 100);
        assert!(p.set(TrackerId(1), false));
        assert_eq!(p.effective(), 120);
    }

    #[test]
    fn weights_add_up_and_clamp_to_1_and_254() {
        let mut p = Priorities::new(
            200,
            vec![
                tracker(1, 40, false),
                tracker(2, 50, false),
                tracker(3, -253, false),
            ],
        );
        assert_eq!(p.effective(), 254);
        p.set(TrackerId(3), true);
        assert_eq!(p.effective(), 37);
        p.set(TrackerId(1), true);
        p.set(TrackerId(2), true);
        assert_eq!(p.effective(), 1);
    }

    #[test]
    fn owner_priority_never_moves() {
        let mut p = Priorities::new(255, vec![tracker(1, -50, false)]);
        p.set(TrackerId(1), true);
        assert_eq!(p.effective(), 255);
    }

    #[test]
    fn weight_zero_failure_is_a_fault_not_a_priority() {
        let mut p = Priorities::new(100, vec![tracker(1, 0, false)]);
        assert!(p.set(TrackerId(1), true));
        assert!(p.faulted());
        assert_eq!(p.effective(), 100);
        assert!(p.set(TrackerId(1), false));
        assert!(!p.faulted());
    }

    #[test]
    fn unknown_or_unchanged_reports_are_not_changes() {
        let mut p = Priorities::new(100, vec![tracker(1, -10, false)]);
        assert!(!p.set(TrackerId(9), true));
        assert!(!p.set(TrackerId(1), false));
    }
}
