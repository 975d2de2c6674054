//! Shared fixtures for the state machine's unit tests. Base case: v3, priority 100, 1 s
//! interval, so Skew_Time = 156/256 s = 0.609375 s and Master_Down_Interval = 3.609375 s.

use std::net::{IpAddr, Ipv4Addr};

use super::{
    Action, Advert, Config, Event, GarpConfig, Instance, State, TimerId, Tracker, TrackerId,
    Version,
};
use crate::time::{Centisecs, Monotonic};

pub(super) const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
pub(super) const LOWER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
pub(super) const HIGHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));

/// Startup.
pub(super) const T0: Monotonic = Monotonic(100_000_000_000);
/// One second after startup.
pub(super) const T1: Monotonic = Monotonic(101_000_000_000);
/// T0 + Master_Down_Interval: when the base case becomes Master.
pub(super) const TM: Monotonic = Monotonic(103_609_375_000);
/// Half an interval into mastership.
pub(super) const TX: Monotonic = Monotonic(104_109_375_000);
/// TM + one interval: the first Adver_Timer expiry.
pub(super) const TA: Monotonic = Monotonic(104_609_375_000);

pub(super) fn config() -> Config {
    let mut cfg = Config::new(Version::V3, 100, Centisecs(100), LOCAL);
    // The RFC's step-down, without keepalived's extra advert (tested on its own).
    cfg.garp = GarpConfig {
        master_delay: Centisecs(0),
        higher_prio_send_advert: false,
        ..GarpConfig::default()
    };
    cfg.trackers = vec![Tracker {
        id: TrackerId(1),
        weight: 0,
        failing: false,
    }];
    // The RFC's Adver_Timer, one interval after each advert (the grid is tested on its own).
    cfg.advert_grid = false;
    cfg
}

pub(super) fn advert(src: IpAddr, priority: u8, centisecs: u32) -> Event {
    Event::Advert(Advert {
        src,
        priority,
        max_adver_int: Centisecs(centisecs),
    })
}

pub(super) fn arm(timer: TimerId, ns: u64) -> Action {
    Action::ArmTimer {
        timer,
        at: Monotonic(ns),
    }
}

pub(super) fn backup(cfg: Config) -> Instance {
    let mut i = Instance::new(cfg);
    i.handle(Event::Startup, T0);
    assert_eq!(i.state(), State::Backup);
    i
}

pub(super) fn master(cfg: Config) -> Instance {
    let mut i = backup(cfg);
    i.handle(Event::TimerExpired(TimerId::MasterDown), TM);
    assert_eq!(i.state(), State::Master);
    i
}
