//! The sans-IO VRRP state machine: RFC 5798 §6 (v3) and RFC 3768 §6 (v2), plus keepalived's
//! FAULT state, trackers, sync groups and GARP scheduling.
//!
//! Nothing here touches a socket or reads a clock. The daemon feeds an [`Event`] and the current
//! [`Monotonic`] time to [`Instance::handle`] (or [`SyncGroup::handle`]) and executes the
//! returned [`Action`]s in order. Timers are named ([`TimerId`]) and armed at absolute deadlines;
//! the daemon keeps at most one deadline per name and instance, replaces it on every `ArmTimer`,
//! drops it on `CancelTimer`, and reports `Event::TimerExpired` once the deadline has passed
//! (at once if it already has).
//! A late or stale expiry is harmless: the instance ignores expiries of timers it did not arm
//! or whose deadline is still ahead.
//!
//! Where to look for a rule:
//! - `timers`: Skew_Time and Master_Down_Interval (RFC 5798 §6.1, RFC 3768 §6.1).
//! - `instance`: §6.4.1 Initialize, §6.4.2 Backup, §6.4.3 Master, and keepalived's FAULT.
//! - `priority`: effective priority from trackers (keepalived `track_script` weights).
//! - `sync_group`: keepalived `vrrp_sync_group`.
//! - `garp`: keepalived `garp_master_delay` / `_repeat` / `_refresh`.

mod garp;
mod instance;
mod priority;
mod sync_group;
mod timers;

#[cfg(test)]
mod rfc_tables;
#[cfg(test)]
mod test_support;

use std::net::IpAddr;

use crate::time::{Centisecs, Monotonic};

pub use garp::GarpConfig;
pub use instance::Instance;
pub use sync_group::SyncGroup;
pub use timers::{master_down_interval, skew_time};

/// Priority a Master sends when it stops (RFC 5798 §5.2.4).
pub const PRIORITY_STOP: u8 = 0;
/// Priority of the IP address owner (RFC 5798 §5.2.4).
pub const PRIORITY_OWNER: u8 = 255;

/// The protocol version, which decides the unit of the advertised interval and Skew_Time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// RFC 3768: intervals in whole seconds, Skew_Time independent of the interval.
    V2,
    /// RFC 5798: intervals in centiseconds, Skew_Time scaled by Master_Adver_Interval.
    V3,
}

/// The protocol state of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started, or shut down (RFC 5798 §6.4.1).
    Initialize,
    /// RFC 5798 §6.4.2.
    Backup,
    /// RFC 5798 §6.4.3.
    Master,
    /// keepalived's FAULT: an interface or a weight-0 tracker is down; no adverts, no VIPs.
    Fault,
}

/// The state names keepalived passes to notify scripts (`notify_master` … `notify_stop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

/// keepalived's `state MASTER|BACKUP`: only a hint for how fast to claim mastership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    Backup,
    Master,
}

/// Names a tracked object (script, interface, file) of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrackerId(pub u32);

/// One `track_script` / `track_interface` / `track_file` entry of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracker {
    pub id: TrackerId,
    /// keepalived semantics: 0 means "failing puts the instance in FAULT"; a negative weight is
    /// added while failing, a positive one while succeeding.
    pub weight: i16,
    /// Status before the first report (keepalived's `init_fail`).
    pub failing: bool,
}

/// The configuration of one instance as the state machine needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Decides the timer formulas and whether Master_Adver_Interval is learned.
    pub version: Version,
    /// Base priority, 1..=255; 255 makes this router the address owner.
    pub priority: u8,
    /// Advertisement_Interval. For v2 it must be whole seconds (the wire carries seconds).
    pub advert_interval: Centisecs,
    /// Our primary address: the source of our adverts, compared on equal priority.
    pub primary_address: IpAddr,
    /// keepalived's `state`.
    pub initial_state: InitialState,
    /// keepalived `nopreempt`: Preempt_Mode = false.
    pub nopreempt: bool,
    /// keepalived `preempt_delay`; zero disables it.
    pub preempt_delay: Centisecs,
    /// Accept_Mode (RFC 5798 §6.1), carried to the dataplane with `Action::AddVips`.
    pub accept: bool,
    pub garp: GarpConfig,
    /// Trackers with their status at startup; later changes arrive as `Event::Tracker`.
    pub trackers: Vec<Tracker>,
    /// Arm Adver_Timer on the interval's grid (`timers::next_advert`), so that the adverts
    /// of all instances with one interval leave from one wake of the daemon.
    pub advert_grid: bool,
}

impl Config {
    /// keepalived's defaults around the three settings every instance must have.
    pub fn new(
        version: Version,
        priority: u8,
        advert_interval: Centisecs,
        primary_address: IpAddr,
    ) -> Self {
        Config {
            version,
            priority,
            advert_interval,
            primary_address,
            initial_state: InitialState::Backup,
            nopreempt: false,
            preempt_delay: Centisecs(0),
            accept: false,
            garp: GarpConfig::default(),
            trackers: Vec::new(),
            advert_grid: true,
        }
    }
}

/// A setting keepalived would reject or clear with a warning; [`Instance::new`] does the same
/// and reports it so the daemon can log it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjustment {
    /// "nopreempt is incompatible with priority 255 - resetting nopreempt"
    NopreemptClearedForOwner,
    /// "nopreempt will not work with initial state MASTER - clearing"
    NopreemptClearedForInitialMaster,
    /// "preempt delay will not work with initial state MASTER - clearing"
    PreemptDelayClearedForInitialMaster,
    /// "preempt_delay is incompatible with nopreempt mode - resetting"
    PreemptDelayClearedForNopreempt,
    /// Priority 0 is reserved for "stopping" (RFC 5798 §5.2.4); raised to 1.
    PriorityZeroRaised,
}

/// An advertisement that the codec parsed and the validator accepted for this instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    /// IP source address: the sender's primary address.
    pub src: IpAddr,
    pub priority: u8,
    /// The interval the sender advertises (v2: its seconds, converted).
    pub max_adver_int: Centisecs,
}

/// The named timers an instance arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerId {
    /// Adver_Timer (Master).
    Adver,
    /// Master_Down_Timer (Backup).
    MasterDown,
    /// The second GARP burst, `garp_master_delay` after becoming Master.
    GarpDelay,
    /// The periodic GARP refresh, every `garp_master_refresh` while Master.
    GarpRefresh,
}

impl TimerId {
    pub(crate) const ALL: [TimerId; 4] = [
        TimerId::Adver,
        TimerId::MasterDown,
        TimerId::GarpDelay,
        TimerId::GarpRefresh,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What happened to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Startup,
    /// Startup of a daemon that restarted while Master, when its dataplane shows that no other
    /// router took over meanwhile: straight to Master (keeping the addresses it left
    /// configured) instead of waiting a Master_Down_Interval as Backup. Otherwise as Startup.
    Resume,
    Shutdown,
    /// A planned handover (`xvrrp handover`): a Master sends priority 0, so that the best
    /// Backup takes over after its Skew_Time, and becomes a Backup that accepts any Master, as
    /// if `nopreempt` were set, until it next becomes Master itself (no other router
    /// advertised for a Master_Down_Interval). Ignored in any other state.
    Yield,
    Advert(Advert),
    TimerExpired(TimerId),
    /// A tracker changed status (fall/rise counting already done by the tracker).
    Tracker {
        id: TrackerId,
        failing: bool,
    },
    /// The instance's own interface went up or down.
    Interface {
        up: bool,
    },
}

/// What the daemon must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Multicast one advertisement carrying `priority`.
    SendAdvert {
        priority: u8,
    },
    /// Configure the virtual addresses; `accept` says whether packets addressed to them are
    /// accepted locally (owner or Accept_Mode, RFC 5798 §6.4.3).
    AddVips {
        accept: bool,
    },
    RemoveVips,
    /// Send `count` gratuitous ARPs (IPv4 VIPs) / unsolicited NAs (IPv6 VIPs) now, paced by the
    /// daemon's `garp_interval`.
    SendGarp {
        count: u32,
    },
    /// Run the notify hooks for the new state.
    Notify(NotifyState),
    /// Replace the deadline of `timer` with `at`.
    ArmTimer {
        timer: TimerId,
        at: Monotonic,
    },
    CancelTimer(TimerId),
}

impl Action {
    /// Whether the action only arms or cancels a timer.
    pub fn is_timer(&self) -> bool {
        matches!(self, Action::ArmTimer { .. } | Action::CancelTimer(_))
    }
}
