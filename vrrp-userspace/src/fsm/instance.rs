//! One VRRP instance: RFC 5798 §6.4.1 Initialize, §6.4.2 Backup, §6.4.3 Master (RFC 3768 §6.4
//! is the same machine with v2 timers), and keepalived's FAULT state.

use std::time::Duration;

use super::{
    Action, Adjustment, Advert, Config, Event, InitialState, NotifyState, PRIORITY_OWNER,
    PRIORITY_STOP, State, TimerId, TrackerId, Version,
    priority::Priorities,
    timers::{Armed, master_down_interval, next_advert, skew_time},
};
use crate::time::{Centisecs, Monotonic};

/// What a sync group needs to know about, and impose on, a member.
#[derive(Clone, Copy, Debug, Default)]
struct GroupLink {
    member: bool,
    /// Master_Down_Timer expired (or an owner started) but the group has not agreed yet.
    wants_master: bool,
    /// Another member is faulted.
    forced_fault: bool,
}

/// The state machine of one VRRP instance; see the module docs of `fsm` for how to drive it.
#[derive(Clone, Debug)]
pub struct Instance {
    cfg: Config,
    adjustments: Vec<Adjustment>,
    state: State,
    priorities: Priorities,
    link_up: bool,
    /// Master_Adver_Interval: learned from the Master in v3, the configured one in v2.
    master_adver_int: Centisecs,
    armed: Armed,
    /// keepalived's `preempt_time`: when a lower-priority Master may be preempted.
    preempt_after: Option<Monotonic>,
    /// Handed mastership over (`Event::Yield`): behave as `nopreempt` until Master again.
    yielded: bool,
    /// When we last answered a lower-priority Master's advert.
    lower_prio_answered: Option<Monotonic>,
    group: GroupLink,
}

impl Instance {
    /// Builds an instance in Initialize with its interface assumed up; settings keepalived
    /// refuses are cleared the way keepalived clears them and listed in [`Self::adjustments`].
    pub fn new(mut cfg: Config) -> Self {
        let mut adjustments = Vec::new();
        if cfg.priority == PRIORITY_STOP {
            cfg.priority = 1;
            adjustments.push(Adjustment::PriorityZeroRaised);
        }
        // Order and wording follow keepalived's vrrp_complete_instance().
        if cfg.priority == PRIORITY_OWNER && cfg.nopreempt {
            cfg.nopreempt = false;
            adjustments.push(Adjustment::NopreemptClearedForOwner);
        }
        if cfg.initial_state == InitialState::Master {
            if cfg.nopreempt {
                cfg.nopreempt = false;
                adjustments.push(Adjustment::NopreemptClearedForInitialMaster);
            }
            if cfg.preempt_delay.0 > 0 {
                cfg.preempt_delay = Centisecs(0);
                adjustments.push(Adjustment::PreemptDelayClearedForInitialMaster);
            }
        }
        if cfg.nopreempt && cfg.preempt_delay.0 > 0 {
            cfg.preempt_delay = Centisecs(0);
            adjustments.push(Adjustment::PreemptDelayClearedForNopreempt);
        }
        Instance {
            priorities: Priorities::new(cfg.priority, cfg.trackers.clone()),
            master_adver_int: cfg.advert_interval,
            cfg,
            adjustments,
            state: State::Initialize,
            link_up: true,
            armed: Armed::default(),
            preempt_after: None,
            yielded: false,
            lower_prio_answered: None,
            group: GroupLink::default(),
        }
    }

    /// The configuration after keepalived's adjustments.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Settings that [`Self::new`] cleared, for the daemon to log.
    pub fn adjustments(&self) -> &[Adjustment] {
        &self.adjustments
    }

    /// The current protocol state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The priority we advertise: base priority adjusted by trackers.
    pub fn priority(&self) -> u8 {
        self.priorities.effective()
    }

    /// Master_Adver_Interval as currently known.
    pub fn master_adver_int(&self) -> Centisecs {
        self.master_adver_int
    }

    /// When `timer` is due, if armed.
    pub fn deadline(&self, timer: TimerId) -> Option<Monotonic> {
        self.armed.deadline(timer)
    }

    /// Feeds one event; returns the actions to execute, in order.
    pub fn handle(&mut self, event: Event, now: Monotonic) -> Vec<Action> {
        let mut out = Vec::new();
        self.step(event, now, &mut out);
        out
    }

    pub(crate) fn step(&mut self, event: Event, now: Monotonic, out: &mut Vec<Action>) {
        match event {
            Event::Startup if self.state == State::Initialize => self.initialize(now, out),
            Event::Resume if self.state == State::Initialize => {
                if self.faulted() || self.group.member {
                    // A sync group resumes through its own agreement (see `SyncGroup`).
                    self.initialize(now, out);
                    self.group.wants_master = self.state == State::Backup;
                } else {
                    self.master_adver_int = self.cfg.advert_interval;
                    self.become_master(now, out);
                }
            }
            Event::Startup | Event::Resume => {}
            Event::Shutdown => self.shutdown(out),
            Event::Yield if self.state == State::Master => {
                self.leave_master(out);
                out.push(Action::SendAdvert {
                    priority: PRIORITY_STOP,
                });
                out.push(Action::RemoveVips);
                let at = now + self.master_down_interval();
                self.armed.arm(out, TimerId::MasterDown, at);
                self.preempt_after = None;
                self.yielded = true;
                self.enter(State::Backup, out);
            }
            Event::Yield => {}
            Event::TimerExpired(timer) => {
                if self.armed.take_due(timer, now) {
                    self.timer_expired(timer, now, out);
                }
            }
            Event::Advert(advert) => match self.state {
                State::Backup => self.backup_received(advert, now, out),
                State::Master => self.master_received(advert, now, out),
                State::Initialize | State::Fault => {}
            },
            Event::Tracker { id, failing } => self.tracker_changed(id, failing, now, out),
            Event::Interface { up } => {
                if self.link_up != up {
                    self.link_up = up;
                    self.health_changed(now, out);
                }
            }
        }
    }

    fn accept_mode(&self) -> bool {
        self.cfg.priority == PRIORITY_OWNER || self.cfg.accept
    }

    fn skew_time(&self) -> Duration {
        skew_time(self.cfg.version, self.priority(), self.master_adver_int)
    }

    fn master_down_interval(&self) -> Duration {
        master_down_interval(self.cfg.version, self.priority(), self.master_adver_int)
    }

    /// "Set Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT" (v3 only;
    /// RFC 3768 keeps the configured interval). A zero interval, which validation should have
    /// dropped, would shrink Master_Down_Interval to a bare skew, so the last one is kept.
    fn learn_interval(&mut self, advert: Advert) {
        if self.cfg.version == Version::V3 && advert.max_adver_int.0 > 0 {
            self.master_adver_int = advert.max_adver_int;
        }
    }

    /// Interface down or a weight-0 tracker failing; what puts a whole sync group in FAULT.
    pub(crate) fn own_fault(&self) -> bool {
        !self.link_up || self.priorities.faulted()
    }

    fn faulted(&self) -> bool {
        self.own_fault() || self.group.forced_fault
    }

    // §6.4.1 Initialize ------------------------------------------------------------------------

    /// RFC 5798 §6.4.1 on Startup; also how keepalived leaves FAULT (vrrp_state_leave_fault
    /// resets Master_Adver_Interval and re-arms the down timer as at startup).
    fn initialize(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        if self.faulted() {
            self.enter(State::Fault, out);
            return;
        }
        self.master_adver_int = self.cfg.advert_interval;
        self.preempt_after = None;
        let owner = self.priority() == PRIORITY_OWNER;
        if owner && !self.group.member {
            self.become_master(now, out);
            return;
        }
        // keepalived's `state MASTER` for a non-owner (vrrp_init_state): wait one interval
        // plus the smallest skew instead of Master_Down_Interval, claiming mastership fast
        // unless a Master answers.
        let wait = match self.cfg.initial_state {
            InitialState::Master => {
                self.master_adver_int.as_duration()
                    + skew_time(self.cfg.version, PRIORITY_OWNER, self.master_adver_int)
            }
            InitialState::Backup => self.master_down_interval(),
        };
        self.armed.arm(out, TimerId::MasterDown, now + wait);
        self.enter(State::Backup, out);
        // An owner in a sync group may not take the group along on its own: it waits for the
        // others like a Backup whose timer expired.
        self.group.wants_master = owner;
    }

    // §6.4.2 Backup ----------------------------------------------------------------------------

    /// RFC 5798 §6.4.2 "If an ADVERTISEMENT is received".
    fn backup_received(&mut self, advert: Advert, now: Monotonic, out: &mut Vec<Action>) {
        if let Some(at) = self.renew(advert, now) {
            out.push(Action::ArmTimer {
                timer: TimerId::MasterDown,
                at,
            });
            return;
        }
        if advert.priority == PRIORITY_STOP {
            let at = now + self.skew_time();
            self.armed.arm(out, TimerId::MasterDown, at);
            return;
        }
        let local = self.priority();
        // keepalived's preempt_delay (vrrp_state_backup): a lower-priority Master is accepted
        // as if preemption were off until `preempt_delay` after the first such advert; an
        // advert of equal or higher priority stops the countdown.
        let delaying = self.cfg.preempt_delay.0 > 0 && self.preempt_after.is_none_or(|at| at > now);
        if self.cfg.nopreempt || self.yielded || advert.priority >= local || delaying {
            self.learn_interval(advert);
            let at = now + self.master_down_interval();
            self.armed.arm(out, TimerId::MasterDown, at);
            if self.cfg.preempt_delay.0 > 0 {
                if advert.priority >= local {
                    self.preempt_after = None;
                } else if self.preempt_after.is_none() {
                    self.preempt_after = Some(now + self.cfg.preempt_delay);
                }
            }
            self.group.wants_master = false;
        }
        // Otherwise Preempt_Mode is on and the Master is below us: discard, let the timer run.
    }

    /// RFC 5798 §6.4.2 "If the Master_Down_Timer fires".
    fn master_down_expired(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        if self.group.member {
            // keepalived's vrrp_sync_can_goto_master: the group decides; meanwhile keep
            // waiting a full Master_Down_Interval.
            self.group.wants_master = true;
            let at = now + self.master_down_interval();
            self.armed.arm(out, TimerId::MasterDown, at);
        } else {
            self.become_master(now, out);
        }
    }

    /// The Backup→Master (and Initialize→Master) steps shared by §6.4.1 and §6.4.2. The VIPs
    /// are added before the first advert: an old master handing over (`daemon::handover`)
    /// takes that advert as the sign that frames for the VIPs can be sent on to us, and a
    /// loaded machine can take tens of milliseconds between the two. The GARPs still follow
    /// the advert, so that an old master has had it before they come (keepalived's reason for
    /// sending its advert first).
    fn become_master(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        self.armed.cancel(out, TimerId::MasterDown);
        self.yielded = false;
        out.push(Action::AddVips {
            accept: self.accept_mode(),
        });
        out.push(Action::SendAdvert {
            priority: self.priority(),
        });
        self.cfg.garp.on_master(&mut self.armed, out, now);
        let at = next_advert(now, self.cfg.advert_interval, self.cfg.advert_grid);
        self.armed.arm(out, TimerId::Adver, at);
        self.group.wants_master = false;
        self.enter(State::Master, out);
    }

    // §6.4.3 Master ----------------------------------------------------------------------------

    /// The common case of §6.4.2, an advert that only resets Master_Down_Timer, without building
    /// actions: if `advert`, received at `now`, would do nothing else (we are Backup, it is
    /// accepted, no preempt_delay countdown, no interval to learn, no sync group waiting on us),
    /// resets the timer and returns its deadline; otherwise returns `None` and changes nothing,
    /// and the advert is for [`Self::handle`]. An idle Backup renews each of its instances
    /// dozens of times a second, most of them from adverts XDP absorbed.
    pub fn renew(&mut self, advert: Advert, now: Monotonic) -> Option<Monotonic> {
        let accepted = self.cfg.nopreempt || self.yielded || advert.priority >= self.priority();
        let learns = self.cfg.version == Version::V3
            && advert.max_adver_int.0 > 0
            && advert.max_adver_int != self.master_adver_int;
        if self.state != State::Backup
            || advert.priority == PRIORITY_STOP
            || !accepted
            || learns
            || self.cfg.preempt_delay.0 > 0
            || self.group.wants_master
        {
            return None;
        }
        let at = now + self.master_down_interval();
        self.armed.set(TimerId::MasterDown, at);
        Some(at)
    }

    /// RFC 5798 §6.4.3 "If an ADVERTISEMENT is received".
    fn master_received(&mut self, advert: Advert, now: Monotonic, out: &mut Vec<Action>) {
        if advert.priority == PRIORITY_STOP {
            self.send_advert(now, out);
            return;
        }
        let local = self.priority();
        let higher = advert.priority > local
            || (advert.priority == local && advert.src > self.cfg.primary_address);
        if higher {
            if self.cfg.garp.higher_prio_send_advert {
                out.push(Action::SendAdvert { priority: local });
            }
            self.learn_interval(advert);
            self.step_down(now, out);
            return;
        }
        // Another Master below us: a split brain ending. RFC 5798 only discards the advert;
        // keepalived answers at once, so the other side steps down without waiting for our
        // Adver_Timer, and re-announces the VIPs to neighbours the other side answered meanwhile.
        // At most once an interval: forged low-priority adverts must not turn us into an
        // amplifier.
        if self
            .lower_prio_answered
            .is_some_and(|at| now < at + self.cfg.advert_interval)
        {
            return;
        }
        self.lower_prio_answered = Some(now);
        out.push(Action::SendAdvert { priority: local });
        if self.cfg.garp.lower_prio_repeat > 0 {
            out.push(Action::SendGarp {
                count: self.cfg.garp.lower_prio_repeat,
            });
        }
    }

    /// RFC 5798 §6.4.3 "If the Adver_Timer fires", and the reply to a priority-0 advert.
    fn send_advert(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        let (priority, at) = self.rearm_advert(now);
        out.push(Action::SendAdvert { priority });
        out.push(Action::ArmTimer {
            timer: TimerId::Adver,
            at,
        });
    }

    /// Re-arms Adver_Timer after an advert sent at `now`; returns the priority to advertise and
    /// the next deadline.
    fn rearm_advert(&mut self, now: Monotonic) -> (u8, Monotonic) {
        let at = next_advert(now, self.cfg.advert_interval, self.cfg.advert_grid);
        self.armed.set(TimerId::Adver, at);
        (self.priority(), at)
    }

    /// The common case of §6.4.3, a Master's Adver_Timer firing, without building actions:
    /// if the timer is due at `now`, re-arms it and returns the priority to advertise and the
    /// next deadline, which is all `TimerExpired(Adver)` would do (a Master's state, and so a
    /// sync group's, does not change by it); otherwise `None`. An idle Master does this once
    /// an interval per instance.
    pub fn readvertise(&mut self, now: Monotonic) -> Option<(u8, Monotonic)> {
        if self.state != State::Master || !self.armed.take_due(TimerId::Adver, now) {
            return None;
        }
        Some(self.rearm_advert(now))
    }

    /// Master→Backup: cancel Adver_Timer, arm Master_Down_Timer, release the addresses (a
    /// Backup "MUST NOT accept packets addressed to the IPvX address(es)").
    fn step_down(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        self.leave_master(out);
        out.push(Action::RemoveVips);
        let at = now + self.master_down_interval();
        self.armed.arm(out, TimerId::MasterDown, at);
        self.preempt_after = None;
        self.enter(State::Backup, out);
    }

    fn leave_master(&mut self, out: &mut Vec<Action>) {
        self.armed.cancel(out, TimerId::Adver);
        self.cfg.garp.on_leave_master(&mut self.armed, out);
    }

    // Shutdown (§6.4.2 / §6.4.3), timers, FAULT, trackers ---------------------------------------

    /// RFC 5798 §6.4.2/§6.4.3 "If a Shutdown event is received"; keepalived runs notify_stop.
    fn shutdown(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::Initialize => return,
            State::Master => {
                self.leave_master(out);
                out.push(Action::SendAdvert {
                    priority: PRIORITY_STOP,
                });
                out.push(Action::RemoveVips);
            }
            State::Backup => self.armed.cancel(out, TimerId::MasterDown),
            State::Fault => {}
        }
        self.group.wants_master = false;
        self.yielded = false;
        self.enter(State::Initialize, out);
    }

    fn timer_expired(&mut self, timer: TimerId, now: Monotonic, out: &mut Vec<Action>) {
        match (self.state, timer) {
            (State::Backup, TimerId::MasterDown) => self.master_down_expired(now, out),
            (State::Master, TimerId::Adver) => self.send_advert(now, out),
            (State::Master, TimerId::GarpDelay | TimerId::GarpRefresh) => {
                self.cfg.garp.on_timer(timer, &mut self.armed, out, now)
            }
            // Every timer is cancelled when its state is left, so nothing else can be due.
            (state, timer) => unreachable!("{timer:?} armed in {state:?}"),
        }
    }

    fn tracker_changed(
        &mut self,
        id: TrackerId,
        failing: bool,
        now: Monotonic,
        out: &mut Vec<Action>,
    ) {
        let before = self.master_down_interval();
        let was_backup = self.state == State::Backup;
        if !self.priorities.set(id, failing) {
            return;
        }
        self.health_changed(now, out);
        // A Backup that just left FAULT armed its timer with the new priority already.
        if was_backup && self.state == State::Backup {
            // keepalived's vrrp_set_effective_priority: the running down timer moves by the
            // change in Skew_Time, so a Backup whose priority rose preempts sooner.
            let after = self.master_down_interval();
            if let Some(at) = self.armed.deadline(TimerId::MasterDown)
                && after != before
            {
                let moved = Monotonic(
                    (at.0 + after.as_nanos() as u64).saturating_sub(before.as_nanos() as u64),
                );
                self.armed.arm(out, TimerId::MasterDown, moved.max(now));
            }
        }
    }

    /// Enters or leaves FAULT after the interface, a tracker or the sync group changed.
    fn health_changed(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        match (self.state, self.faulted()) {
            (State::Backup | State::Master, true) => self.enter_fault(out),
            (State::Fault, false) => self.initialize(now, out),
            _ => {}
        }
    }

    /// keepalived's FAULT: a Master first tells the Backups with a priority-0 advert
    /// (vrrp_state_leave_master with wantstate FAULT), then releases the addresses.
    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                self.leave_master(out);
                out.push(Action::SendAdvert {
                    priority: PRIORITY_STOP,
                });
                out.push(Action::RemoveVips);
            }
            State::Backup => self.armed.cancel(out, TimerId::MasterDown),
            State::Initialize | State::Fault => {}
        }
        self.group.wants_master = false;
        self.enter(State::Fault, out);
    }

    fn enter(&mut self, state: State, out: &mut Vec<Action>) {
        if self.state == state {
            return;
        }
        self.state = state;
        out.push(Action::Notify(match state {
            State::Initialize => NotifyState::Stop,
            State::Backup => NotifyState::Backup,
            State::Master => NotifyState::Master,
            State::Fault => NotifyState::Fault,
        }));
    }

    // Sync group hooks ---------------------------------------------------------------------------

    /// Makes this instance defer its Backup→Master decisions to a sync group; unless
    /// `keep_weights`, trackers only fault (keepalived ignores weights in sync groups without
    /// `sync_group_tracking_weight`).
    pub(crate) fn join_group(&mut self, keep_weights: bool) {
        self.group.member = true;
        if !keep_weights {
            self.priorities.zero_weights();
        }
    }

    pub(crate) fn wants_master(&self) -> bool {
        self.state == State::Backup && self.group.wants_master
    }

    pub(crate) fn set_forced_fault(&mut self, forced: bool, now: Monotonic, out: &mut Vec<Action>) {
        if self.group.forced_fault != forced {
            self.group.forced_fault = forced;
            self.health_changed(now, out);
        }
    }

    pub(crate) fn promote(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        if self.state == State::Backup {
            self.become_master(now, out);
        }
    }

    pub(crate) fn demote(&mut self, now: Monotonic, out: &mut Vec<Action>) {
        if self.state == State::Master {
            self.step_down(now, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::{GarpConfig, Tracker, test_support::*};

    #[test]
    fn settings_keepalived_refuses_are_cleared_and_reported() {
        let owner = Instance::new(Config {
            priority: 255,
            nopreempt: true,
            ..config()
        });
        assert!(!owner.config().nopreempt);
        assert_eq!(owner.adjustments(), [Adjustment::NopreemptClearedForOwner]);

        let initial_master = Instance::new(Config {
            initial_state: InitialState::Master,
            nopreempt: true,
            preempt_delay: Centisecs(500),
            ..config()
        });
        assert!(!initial_master.config().nopreempt);
        assert_eq!(initial_master.config().preempt_delay, Centisecs(0));
        assert_eq!(
            initial_master.adjustments(),
            [
                Adjustment::NopreemptClearedForInitialMaster,
                Adjustment::PreemptDelayClearedForInitialMaster
            ]
        );

        let both = Instance::new(Config {
            nopreempt: true,
            preempt_delay: Centisecs(500),
            ..config()
        });
        assert!(both.config().nopreempt);
        assert_eq!(
            both.adjustments(),
            [Adjustment::PreemptDelayClearedForNopreempt]
        );

        let zero = Instance::new(Config {
            priority: 0,
            ..config()
        });
        assert_eq!(
            (zero.priority(), zero.adjustments()),
            (1, &[Adjustment::PriorityZeroRaised][..])
        );
    }

    #[test]
    fn a_backup_whose_priority_rises_times_out_sooner_by_the_skew_difference() {
        let mut cfg = config();
        cfg.trackers.push(Tracker {
            id: TrackerId(2),
            weight: 50,
            failing: true,
        });
        let mut i = backup(cfg);
        assert_eq!(i.deadline(TimerId::MasterDown), Some(TM));
        // Skew_Time falls from 156/256 s to 106/256 s.
        let actions = i.handle(
            Event::Tracker {
                id: TrackerId(2),
                failing: false,
            },
            T1,
        );
        assert_eq!(i.priority(), 150);
        assert_eq!(actions, vec![arm(TimerId::MasterDown, 103_414_062_500)]);
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn a_master_advertises_its_new_priority_at_the_next_advert() {
        let mut cfg = config();
        cfg.trackers.push(Tracker {
            id: TrackerId(2),
            weight: -30,
            failing: false,
        });
        let mut i = master(cfg);
        assert_eq!(
            i.handle(
                Event::Tracker {
                    id: TrackerId(2),
                    failing: true
                },
                TX
            ),
            vec![]
        );
        assert_eq!(
            i.handle(Event::TimerExpired(TimerId::Adver), TA),
            vec![
                Action::SendAdvert { priority: 70 },
                arm(TimerId::Adver, 105_609_375_000)
            ]
        );
    }

    #[test]
    fn the_delayed_garp_burst_follows_mastership_and_is_dropped_with_it() {
        let cfg = Config {
            garp: GarpConfig {
                master_repeat: 2,
                ..GarpConfig::default()
            },
            ..config()
        };
        let mut i = backup(cfg.clone());
        let actions = i.handle(Event::TimerExpired(TimerId::MasterDown), TM);
        assert!(actions.contains(&Action::SendGarp { count: 2 }));
        assert!(actions.contains(&arm(TimerId::GarpDelay, TM.0 + 5_000_000_000)));
        assert_eq!(
            i.handle(
                Event::TimerExpired(TimerId::GarpDelay),
                Monotonic(TM.0 + 5_000_000_000)
            ),
            vec![Action::SendGarp { count: 2 }]
        );

        let mut i = master(cfg);
        let actions = i.handle(advert(HIGHER, 200, 100), TX);
        assert!(actions.contains(&Action::CancelTimer(TimerId::GarpDelay)));
        assert_eq!(
            i.handle(
                Event::TimerExpired(TimerId::GarpDelay),
                Monotonic(TM.0 + 5_000_000_000)
            ),
            vec![]
        );
    }

    #[test]
    fn accept_mode_is_carried_to_the_dataplane() {
        let mut i = backup(Config {
            accept: true,
            ..config()
        });
        let actions = i.handle(Event::TimerExpired(TimerId::MasterDown), TM);
        assert!(actions.contains(&Action::AddVips { accept: true }));
    }

    #[test]
    fn the_learned_interval_is_forgotten_when_leaving_fault() {
        let mut i = backup(config());
        i.handle(advert(HIGHER, 200, 300), T1);
        assert_eq!(i.master_adver_int(), Centisecs(300));
        i.handle(Event::Interface { up: false }, T1);
        i.handle(Event::Interface { up: true }, T1);
        assert_eq!(i.master_adver_int(), Centisecs(100));
        assert_eq!(
            i.deadline(TimerId::MasterDown),
            Some(Monotonic(T1.0 + 3_609_375_000))
        );
    }

    #[test]
    fn yield_sends_priority_zero_and_accepts_a_lower_master() {
        let mut i = master(config());
        let actions = i.handle(Event::Yield, TX);
        assert_eq!(
            actions[..2],
            [
                Action::CancelTimer(TimerId::Adver),
                Action::SendAdvert {
                    priority: PRIORITY_STOP
                },
            ]
        );
        assert!(actions.contains(&Action::RemoveVips));
        assert_eq!(i.state(), State::Backup);
        // The Backup that took over has a lower priority: accepted, as with nopreempt.
        let accepted = i.handle(advert(LOWER, 50, 100), TA);
        assert!(accepted.iter().any(|a| matches!(
            a,
            Action::ArmTimer {
                timer: TimerId::MasterDown,
                ..
            }
        )));
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn a_yielded_backup_takes_over_again_when_no_one_else_does() {
        let mut i = master(config());
        i.handle(Event::Yield, TX);
        let down = i.deadline(TimerId::MasterDown).expect("armed");
        i.handle(Event::TimerExpired(TimerId::MasterDown), down);
        assert_eq!(i.state(), State::Master);
        // Master again, the yield is over: back to preempting a lower Master.
        i.handle(Event::Yield, down);
        i.handle(
            Event::TimerExpired(TimerId::MasterDown),
            Monotonic(down.0 + 10_000_000_000),
        );
        assert_eq!(i.state(), State::Master);
        i.handle(Event::Shutdown, Monotonic(down.0 + 11_000_000_000));
        i.handle(Event::Startup, Monotonic(down.0 + 12_000_000_000));
        let discarded = i.handle(advert(LOWER, 50, 100), Monotonic(down.0 + 13_000_000_000));
        assert!(discarded.is_empty(), "{discarded:?}");
    }

    #[test]
    fn yield_outside_master_does_nothing() {
        let mut i = backup(config());
        assert!(i.handle(Event::Yield, T1).is_empty());
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn resume_goes_straight_to_master_unless_faulted() {
        let mut i = Instance::new(config());
        let actions = i.handle(Event::Resume, T0);
        assert_eq!(i.state(), State::Master);
        assert_eq!(
            actions[..2],
            [
                Action::AddVips { accept: false },
                Action::SendAdvert { priority: 100 }
            ]
        );

        let mut faulted = Instance::new(config());
        faulted.handle(Event::Interface { up: false }, T0);
        faulted.handle(Event::Resume, T0);
        assert_eq!(faulted.state(), State::Fault);
    }

    #[test]
    fn a_lower_master_is_answered_with_an_advert_and_garps_once_an_interval() {
        let mut i = master(config());
        let first = i.handle(advert(LOWER, 50, 100), TX);
        assert_eq!(
            first,
            [
                Action::SendAdvert { priority: 100 },
                Action::SendGarp { count: 5 }
            ]
        );
        assert_eq!(i.state(), State::Master);
        // A flood of them within the interval: nothing more.
        assert!(
            i.handle(advert(LOWER, 50, 100), Monotonic(TX.0 + 1_000))
                .is_empty()
        );
        let next = Monotonic(TX.0 + 1_000_000_000);
        assert_eq!(i.handle(advert(LOWER, 50, 100), next).len(), 2);
    }

    #[test]
    fn a_master_stepping_down_for_a_higher_one_tells_it_first() {
        let mut cfg = config();
        cfg.garp.higher_prio_send_advert = true;
        let mut i = master(cfg);
        let actions = i.handle(advert(HIGHER, 150, 100), TX);
        assert_eq!(actions[0], Action::SendAdvert { priority: 100 });
        assert!(actions.contains(&Action::RemoveVips));
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn renew_resets_master_down_as_the_advert_would_and_declines_everything_else() {
        let plain = |a: Event| match a {
            Event::Advert(a) => a,
            _ => unreachable!(),
        };
        let mut fed = backup(config());
        let mut renewed = backup(config());
        let same = plain(advert(HIGHER, 150, 100));
        let actions = fed.handle(Event::Advert(same), T1);
        let at = renewed.renew(same, T1).expect("a plain renewal");
        assert_eq!(actions, [arm(TimerId::MasterDown, at.0)]);
        // Both fire at that deadline, and not a nanosecond before.
        let before = Monotonic(at.0 - 1);
        for i in [&mut fed, &mut renewed] {
            assert!(
                i.handle(Event::TimerExpired(TimerId::MasterDown), before)
                    .is_empty()
            );
        }
        assert_eq!(
            fed.handle(Event::TimerExpired(TimerId::MasterDown), at),
            renewed.handle(Event::TimerExpired(TimerId::MasterDown), at)
        );

        let mut b = backup(config());
        for (case, a) in [
            ("priority 0", advert(HIGHER, 0, 100)),
            ("below us, preempting", advert(LOWER, 50, 100)),
            ("a new interval to learn", advert(HIGHER, 150, 50)),
        ] {
            assert_eq!(b.renew(plain(a), T1), None, "{case}");
        }
        let mut cfg = config();
        cfg.preempt_delay = Centisecs(500);
        assert_eq!(backup(cfg).renew(same, T1), None, "preempt_delay");
        assert_eq!(master(config()).renew(same, TX), None, "Master");
    }

    #[test]
    fn readvertise_is_the_adver_timer_expiry_without_actions() {
        let mut fed = master(config());
        let mut sent = master(config());
        let early = Monotonic(TA.0 - 1);
        assert_eq!(sent.readvertise(early), None, "not due");
        let actions = fed.handle(Event::TimerExpired(TimerId::Adver), TA);
        let (priority, next) = sent.readvertise(TA).expect("due");
        assert_eq!(
            actions,
            [Action::SendAdvert { priority }, arm(TimerId::Adver, next.0)]
        );
        assert_eq!(sent.readvertise(TA), None, "once");
        assert_eq!(
            fed.handle(Event::TimerExpired(TimerId::Adver), next),
            sent.handle(Event::TimerExpired(TimerId::Adver), next)
        );
        assert_eq!(backup(config()).readvertise(TA), None, "Backup");
    }
}
