//! keepalived's `vrrp_sync_group`: instances that change state together (vrrp_sync.c).
//!
//! Not in any RFC. keepalived's rules, which this follows:
//! - one member in FAULT puts every member in FAULT, and the group leaves FAULT only when no
//!   member has a fault of its own (`vrrp_sync_fault`, `vrrp_sync_leave_fault`);
//! - a member falling back from Master to Backup takes every Master member along
//!   (`vrrp_sync_backup`);
//! - a member going Master takes the others along, but only once every member wants Master,
//!   "i.e. prefer backup state to avoid thrashing" (`vrrp_sync_can_goto_master`): a member
//!   whose Master_Down_Timer expires alone keeps waiting;
//! - tracker weights are ignored unless `sync_group_tracking_weight` is set, so members cannot
//!   disagree on who should be Master.

use super::{Action, Advert, Event, Instance, State};
use crate::time::Monotonic;

/// Instances driven as one `vrrp_sync_group`.
#[derive(Clone, Debug)]
pub struct SyncGroup {
    members: Vec<Instance>,
}

impl SyncGroup {
    /// Takes the members in Initialize; `tracking_weight` is keepalived's
    /// `sync_group_tracking_weight`.
    pub fn new(mut members: Vec<Instance>, tracking_weight: bool) -> Self {
        for m in &mut members {
            m.join_group(tracking_weight);
        }
        SyncGroup { members }
    }

    /// The members, in the order their indices refer to.
    pub fn members(&self) -> &[Instance] {
        &self.members
    }

    /// Feeds `event` to member `index`; returns the actions of every member, tagged with the
    /// member's index, in execution order. Startup and Shutdown go to each member in turn: a
    /// member that has not started holds the others back from Master. A Yield goes to every
    /// member: the group hands over as one, each Master member sending priority 0, rather
    /// than the others stepping down silently and their Backups waiting out a
    /// Master_Down_Interval.
    pub fn handle(&mut self, index: usize, event: Event, now: Monotonic) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        if event == Event::Yield {
            for i in 0..self.members.len() {
                self.run(i, &mut out, |m, o| m.step(event, now, o));
            }
        } else {
            self.run(index, &mut out, |m, o| m.step(event, now, o));
        }
        self.synchronise(now, &mut out);
        out
    }

    /// Starts every member at once, member `i` with `event(i)` (`Startup`, or `Resume` for a
    /// member that was Master), and only then brings them to agreement, so that the daemon,
    /// which records states once the step is over, sees only where the group ends: a group
    /// whose members all resume is Master, without a Backup on the way for its notify scripts
    /// to announce.
    pub fn start(
        &mut self,
        event: impl Fn(usize) -> Event,
        now: Monotonic,
    ) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        for i in 0..self.members.len() {
            self.run(i, &mut out, |m, o| m.step(event(i), now, o));
        }
        self.synchronise(now, &mut out);
        out
    }

    /// [`Instance::renew`] for one member: what it leaves alone, the group's agreement has
    /// nothing to redo for.
    pub fn renew(&mut self, index: usize, advert: Advert, now: Monotonic) -> Option<Monotonic> {
        self.members[index].renew(advert, now)
    }

    /// [`Instance::readvertise`] for one member: a Master's advert changes no member's state,
    /// so the group's agreement has nothing to redo.
    pub fn readvertise(&mut self, index: usize, now: Monotonic) -> Option<(u8, Monotonic)> {
        self.members[index].readvertise(now)
    }

    fn run(
        &mut self,
        index: usize,
        out: &mut Vec<(usize, Action)>,
        f: impl FnOnce(&mut Instance, &mut Vec<Action>),
    ) {
        let mut actions = Vec::new();
        f(&mut self.members[index], &mut actions);
        out.extend(actions.into_iter().map(|a| (index, a)));
    }

    fn synchronise(&mut self, now: Monotonic, out: &mut Vec<(usize, Action)>) {
        let group_fault = self
            .members
            .iter()
            .any(|m| m.state() != State::Initialize && m.own_fault());
        for i in 0..self.members.len() {
            self.run(i, out, |m, o| m.set_forced_fault(group_fault, now, o));
        }

        let some_master = self.members.iter().any(|m| m.state() == State::Master);
        let some_content_backup = self
            .members
            .iter()
            .any(|m| m.state() == State::Backup && !m.wants_master());
        if some_master && some_content_backup {
            for i in 0..self.members.len() {
                self.run(i, out, |m, o| m.demote(now, o));
            }
            return;
        }

        let all_agree = self
            .members
            .iter()
            .all(|m| m.state() == State::Master || m.wants_master());
        if all_agree && self.members.iter().any(Instance::wants_master) {
            for i in 0..self.members.len() {
                self.run(i, out, |m, o| m.promote(now, o));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::{Config, NotifyState, TimerId, Tracker, TrackerId, test_support::*};

    fn group(tracking_weight: bool) -> SyncGroup {
        let member = || {
            let mut cfg = config();
            cfg.trackers.push(Tracker {
                id: TrackerId(2),
                weight: -20,
                failing: false,
            });
            Instance::new(cfg)
        };
        let mut g = SyncGroup::new(vec![member(), member()], tracking_weight);
        g.handle(0, Event::Startup, T0);
        g.handle(1, Event::Startup, T0);
        g
    }

    fn states(g: &SyncGroup) -> Vec<State> {
        g.members().iter().map(Instance::state).collect()
    }

    fn master_group() -> SyncGroup {
        let mut g = group(false);
        g.handle(0, Event::TimerExpired(TimerId::MasterDown), TM);
        g.handle(1, Event::TimerExpired(TimerId::MasterDown), TM);
        assert_eq!(states(&g), [State::Master, State::Master]);
        g
    }

    #[test]
    fn a_member_goes_master_only_with_the_whole_group() {
        let mut g = group(false);
        let actions = g.handle(0, Event::TimerExpired(TimerId::MasterDown), TM);
        assert_eq!(
            actions,
            vec![(0, arm(TimerId::MasterDown, TM.0 + 3_609_375_000))]
        );
        assert_eq!(states(&g), [State::Backup, State::Backup]);

        let actions = g.handle(1, Event::TimerExpired(TimerId::MasterDown), TM);
        assert_eq!(states(&g), [State::Master, State::Master]);
        assert!(actions.contains(&(0, Action::Notify(NotifyState::Master))));
        assert!(actions.contains(&(1, Action::SendAdvert { priority: 100 })));
    }

    #[test]
    fn a_group_that_resumes_whole_goes_straight_to_master() {
        let mut g = SyncGroup::new(
            vec![Instance::new(config()), Instance::new(config())],
            false,
        );
        let actions = g.start(|_| Event::Resume, T0);
        // Master by the end of the one step, which is all the daemon settles on.
        assert_eq!(states(&g), [State::Master, State::Master]);
        for m in 0..2 {
            assert!(actions.contains(&(m, Action::AddVips { accept: false })));
        }

        // One member another router took over starts as Backup, and holds the group there.
        let mut g = SyncGroup::new(
            vec![Instance::new(config()), Instance::new(config())],
            false,
        );
        let actions = g.start(
            |m| {
                if m == 0 {
                    Event::Resume
                } else {
                    Event::Startup
                }
            },
            T0,
        );
        assert_eq!(states(&g), [State::Backup, State::Backup]);
        assert!(
            !actions
                .iter()
                .any(|(_, a)| matches!(a, Action::AddVips { .. }))
        );
    }

    #[test]
    fn a_renewal_leaves_the_group_as_the_advert_would() {
        let (mut fed, mut renewed) = (group(false), group(false));
        let Event::Advert(a) = advert(HIGHER, 150, 100) else {
            unreachable!()
        };
        let actions = fed.handle(1, Event::Advert(a), T1);
        let at = renewed.renew(1, a, T1).expect("a plain renewal");
        assert_eq!(actions, [(1, arm(TimerId::MasterDown, at.0))]);
        // A member waiting on the group for mastership is the group's business.
        renewed.handle(0, Event::TimerExpired(TimerId::MasterDown), TM);
        assert_eq!(renewed.renew(0, a, TX), None);
    }

    #[test]
    fn an_advert_withdraws_a_members_wish_for_master() {
        let mut g = group(false);
        g.handle(0, Event::TimerExpired(TimerId::MasterDown), TM);
        g.handle(0, advert(HIGHER, 100, 100), TX);
        g.handle(1, Event::TimerExpired(TimerId::MasterDown), TA);
        assert_eq!(states(&g), [State::Backup, State::Backup]);
    }

    #[test]
    fn a_member_stepping_down_takes_the_group_to_backup() {
        let mut g = master_group();
        let actions = g.handle(0, advert(HIGHER, 200, 100), TX);
        assert_eq!(states(&g), [State::Backup, State::Backup]);
        assert_eq!(
            actions
                .iter()
                .filter(|(m, _)| *m == 1)
                .map(|&(_, a)| a)
                .collect::<Vec<_>>(),
            vec![
                Action::CancelTimer(TimerId::Adver),
                Action::RemoveVips,
                arm(TimerId::MasterDown, TX.0 + 3_609_375_000),
                Action::Notify(NotifyState::Backup),
            ]
        );
    }

    #[test]
    fn one_faulted_member_faults_the_group_until_it_recovers() {
        let mut g = master_group();
        let actions = g.handle(1, Event::Interface { up: false }, TX);
        assert_eq!(states(&g), [State::Fault, State::Fault]);
        for m in 0..2 {
            assert!(
                actions.contains(&(m, Action::SendAdvert { priority: 0 })),
                "member {m} tells its Backups"
            );
        }
        g.handle(
            0,
            Event::Tracker {
                id: TrackerId(1),
                failing: true,
            },
            TA,
        );
        g.handle(1, Event::Interface { up: true }, TA);
        assert_eq!(
            states(&g),
            [State::Fault, State::Fault],
            "member 0 is still faulted"
        );
        let actions = g.handle(
            0,
            Event::Tracker {
                id: TrackerId(1),
                failing: false,
            },
            TA,
        );
        assert_eq!(states(&g), [State::Backup, State::Backup]);
        assert!(actions.contains(&(1, Action::Notify(NotifyState::Backup))));
    }

    #[test]
    fn tracker_weights_fault_the_group_unless_sync_group_tracking_weight() {
        let mut g = group(false);
        g.handle(
            0,
            Event::Tracker {
                id: TrackerId(2),
                failing: true,
            },
            T1,
        );
        assert_eq!(states(&g), [State::Fault, State::Fault]);

        let mut g = group(true);
        g.handle(
            0,
            Event::Tracker {
                id: TrackerId(2),
                failing: true,
            },
            T1,
        );
        assert_eq!(states(&g), [State::Backup, State::Backup]);
        assert_eq!(g.members()[0].priority(), 80);
    }

    #[test]
    fn an_owner_in_a_group_waits_for_the_others() {
        let owner = Instance::new(Config {
            priority: 255,
            ..config()
        });
        let mut g = SyncGroup::new(vec![owner, Instance::new(config())], false);
        g.handle(0, Event::Startup, T0);
        g.handle(1, Event::Startup, T0);
        assert_eq!(states(&g), [State::Backup, State::Backup]);
        g.handle(1, Event::TimerExpired(TimerId::MasterDown), TM);
        assert_eq!(states(&g), [State::Master, State::Master]);
    }
}
