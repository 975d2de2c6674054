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

use super::{Action, Event, Instance, State};
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

    pub fn members(&self) -> &[Instance] {
        &self.members
    }

    /// Feeds `event` to member `index`; returns the actions of every member, tagged with the
    /// member's index, in execution order.
    pub fn handle(&mut self, index: usize, event: Event, now: Monotonic) -> Vec<(usize, Action)> {
        let mut out = Vec::new();
        self.run(index, &mut out, |m, o| m.step(event, now, o));
        self.synchronise(now, &mut out);
        out
    }

    fn run(&mut self, index: usize, out: &mut Vec<(usize, Action)>, f: impl FnOnce(&mut Instance, &mut Vec<Action>)) {
        let mut actions = Vec::new();
        f(&mut self.members[index], &mut actions);
        out.extend(actions.into_iter().map(|a| (index, a)));
    }

    fn synchronise(&mut self, now: Monotonic, out: &mut Vec<(usize, Action)>) {
        let group_fault = self.members.iter().any(|m| m.state() != State::Initialize && m.own_fault());
        for i in 0..self.members.len() {
            self.run(i, out, |m, o| m.set_forced_fault(group_fault, now, o));
        }

        let running = |m: &Instance| m.state() != State::Initialize;
        let some_master = self.members.iter().any(|m| m.state() == State::Master);
        let some_content_backup =
            self.members.iter().any(|m| running(m) && m.state() == State::Backup && !m.wants_master());
        if some_master && some_content_backup {
            for i in 0..self.members.len() {
                self.run(i, out, |m, o| m.demote(now, o));
            }
            return;
        }

        let all_agree = self.members.iter().all(|m| m.state() == State::Master || m.wants_master());
        if all_agree && self.members.iter().any(Instance::wants_master) {
            for i in 0..self.members.len() {
                self.run(i, out, |m, o| m.promote(now, o));
            }
        }
    }
}
