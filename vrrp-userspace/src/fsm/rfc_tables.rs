//! One table row per rule of RFC 5798 §6.4.1–§6.4.3 (and keepalived's FAULT), each citing
//! its section: starting state, event, time → actions and next state.
//!
//! Deadlines are written out in nanoseconds rather than computed with `timers`, so a wrong
//! formula there cannot make these rows agree with it (fixtures in `test_support`).

use super::{
    Action::{self, *},
    Config, Event, InitialState, Instance, NotifyState, State, TimerId, TrackerId, Version,
    test_support::*,
};
use crate::time::{Centisecs, Monotonic};

struct Row {
    rule: &'static str,
    start: Instance,
    event: Event,
    now: Monotonic,
    actions: Vec<Action>,
    next: State,
}

fn check(rows: Vec<Row>) {
    for Row {
        rule,
        mut start,
        event,
        now,
        actions,
        next,
    } in rows
    {
        let got = start.handle(event, now);
        assert_eq!(got, actions, "{rule}: actions");
        assert_eq!(start.state(), next, "{rule}: next state");
    }
}

#[test]
fn rfc5798_6_4_1_initialize() {
    let owner = Config {
        priority: 255,
        ..config()
    };
    let interface_down = {
        let mut i = Instance::new(config());
        i.handle(Event::Interface { up: false }, T0);
        i
    };
    let v2 = Config {
        version: Version::V2,
        advert_interval: Centisecs::from_secs(5),
        ..config()
    };
    check(vec![
        Row {
            rule: "§6.4.1 Startup, Priority = 255: send ADVERTISEMENT, gratuitous ARP, Adver_Timer, -> Master",
            start: Instance::new(owner),
            event: Event::Startup,
            now: T0,
            actions: vec![
                AddVips { accept: true },
                SendAdvert { priority: 255 },
                SendGarp { count: 5 },
                arm(TimerId::Adver, 101_000_000_000),
                Notify(NotifyState::Master),
            ],
            next: State::Master,
        },
        Row {
            rule: "§6.4.1 Startup, Priority < 255: Master_Down_Timer = Master_Down_Interval, -> Backup",
            start: Instance::new(config()),
            event: Event::Startup,
            now: T0,
            actions: vec![
                arm(TimerId::MasterDown, 103_609_375_000),
                Notify(NotifyState::Backup),
            ],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.1 with RFC 3768 timers: Skew_Time = (256 - 100)/256 s even at a 5 s interval",
            start: Instance::new(v2),
            event: Event::Startup,
            now: T0,
            actions: vec![
                arm(TimerId::MasterDown, 115_609_375_000),
                Notify(NotifyState::Backup),
            ],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.1 + keepalived `state MASTER`: wait one interval + 1/256 of it, not Master_Down_Interval",
            start: Instance::new(Config {
                initial_state: InitialState::Master,
                ..config()
            }),
            event: Event::Startup,
            now: T0,
            actions: vec![
                arm(TimerId::MasterDown, 101_003_906_250),
                Notify(NotifyState::Backup),
            ],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.1 + keepalived: starting with the interface down enters FAULT",
            start: interface_down,
            event: Event::Startup,
            now: T0,
            actions: vec![Notify(NotifyState::Fault)],
            next: State::Fault,
        },
    ]);
}

#[test]
fn rfc5798_6_4_2_backup() {
    let preempt_delay = || Config {
        preempt_delay: Centisecs::from_secs(30),
        ..config()
    };
    let delay_running = {
        let mut i = backup(preempt_delay());
        i.handle(advert(LOWER, 50, 100), T1);
        i
    };
    let v2 = Config {
        version: Version::V2,
        ..config()
    };
    check(vec![
        Row {
            rule: "§6.4.2 Shutdown: cancel Master_Down_Timer, -> Initialize",
            start: backup(config()),
            event: Event::Shutdown,
            now: T1,
            actions: vec![CancelTimer(TimerId::MasterDown), Notify(NotifyState::Stop)],
            next: State::Initialize,
        },
        Row {
            rule: "§6.4.2 Master_Down_Timer fires: send ADVERTISEMENT, gratuitous ARP, Adver_Timer, -> Master",
            start: backup(config()),
            event: Event::TimerExpired(TimerId::MasterDown),
            now: TM,
            actions: vec![
                AddVips { accept: false },
                SendAdvert { priority: 100 },
                SendGarp { count: 5 },
                arm(TimerId::Adver, 104_609_375_000),
                Notify(NotifyState::Master),
            ],
            next: State::Master,
        },
        Row {
            rule: "§6.4.2 a Master_Down_Timer expiry reported early (stale) changes nothing",
            start: backup(config()),
            event: Event::TimerExpired(TimerId::MasterDown),
            now: T1,
            actions: vec![],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 ADVERTISEMENT with Priority 0: Master_Down_Timer = Skew_Time",
            start: backup(config()),
            event: advert(HIGHER, 0, 100),
            now: T1,
            actions: vec![arm(TimerId::MasterDown, 101_609_375_000)],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 higher Priority: Master_Adver_Interval = Adver Interval (2 s), recompute, reset timer",
            start: backup(config()),
            event: advert(HIGHER, 150, 200),
            now: T1,
            actions: vec![arm(TimerId::MasterDown, 108_218_750_000)],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 equal Priority (>= local) resets the timer, whatever the sender's address",
            start: backup(config()),
            event: advert(LOWER, 100, 100),
            now: T1,
            actions: vec![arm(TimerId::MasterDown, 104_609_375_000)],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 Preempt_Mode and lower Priority: discard, the timer keeps running",
            start: backup(config()),
            event: advert(LOWER, 50, 100),
            now: T1,
            actions: vec![],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 Preempt_Mode False (nopreempt): lower Priority still resets the timer",
            start: backup(Config {
                nopreempt: true,
                ..config()
            }),
            event: advert(LOWER, 50, 100),
            now: T1,
            actions: vec![arm(TimerId::MasterDown, 104_609_375_000)],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 + keepalived preempt_delay: the first lower-priority advert is accepted",
            start: backup(preempt_delay()),
            event: advert(LOWER, 50, 100),
            now: T1,
            actions: vec![arm(TimerId::MasterDown, 104_609_375_000)],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 + keepalived preempt_delay: within the delay, lower priority is still accepted",
            start: delay_running.clone(),
            event: advert(LOWER, 50, 100),
            now: Monotonic(T1.0 + 29_000_000_000),
            actions: vec![arm(TimerId::MasterDown, 133_609_375_000)],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 + keepalived preempt_delay: once it elapsed, lower priority is discarded",
            start: delay_running,
            event: advert(LOWER, 50, 100),
            now: Monotonic(T1.0 + 30_000_000_000),
            actions: vec![],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.2 with RFC 3768: no Master_Adver_Interval is learned from the advert",
            start: backup(v2),
            event: advert(HIGHER, 150, 200),
            now: T1,
            actions: vec![arm(TimerId::MasterDown, 104_609_375_000)],
            next: State::Backup,
        },
    ]);
}

#[test]
fn rfc5798_6_4_3_master() {
    let owner = {
        let mut i = Instance::new(Config {
            priority: 255,
            ..config()
        });
        i.handle(Event::Startup, T0);
        i
    };
    check(vec![
        Row {
            rule: "§6.4.3 Shutdown: cancel Adver_Timer, send ADVERTISEMENT with Priority 0, -> Initialize",
            start: master(config()),
            event: Event::Shutdown,
            now: TX,
            actions: vec![
                CancelTimer(TimerId::Adver),
                SendAdvert { priority: 0 },
                RemoveVips,
                Notify(NotifyState::Stop),
            ],
            next: State::Initialize,
        },
        Row {
            rule: "§6.4.3 Adver_Timer fires: send ADVERTISEMENT, reset Adver_Timer",
            start: master(config()),
            event: Event::TimerExpired(TimerId::Adver),
            now: TA,
            actions: vec![
                SendAdvert { priority: 100 },
                arm(TimerId::Adver, 105_609_375_000),
            ],
            next: State::Master,
        },
        Row {
            rule: "§6.4.3 ADVERTISEMENT with Priority 0: send ADVERTISEMENT, reset Adver_Timer",
            start: master(config()),
            event: advert(HIGHER, 0, 100),
            now: TX,
            actions: vec![
                SendAdvert { priority: 100 },
                arm(TimerId::Adver, 105_109_375_000),
            ],
            next: State::Master,
        },
        Row {
            rule: "§6.4.3 higher Priority: cancel Adver_Timer, learn interval (0.5 s), Master_Down_Timer, -> Backup",
            start: master(config()),
            event: advert(LOWER, 150, 50),
            now: TX,
            actions: vec![
                CancelTimer(TimerId::Adver),
                RemoveVips,
                arm(TimerId::MasterDown, 105_914_062_500),
                Notify(NotifyState::Backup),
            ],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.3 equal Priority, sender's primary address greater: -> Backup",
            start: master(config()),
            event: advert(HIGHER, 100, 100),
            now: TX,
            actions: vec![
                CancelTimer(TimerId::Adver),
                RemoveVips,
                arm(TimerId::MasterDown, 107_718_750_000),
                Notify(NotifyState::Backup),
            ],
            next: State::Backup,
        },
        Row {
            rule: "§6.4.3 equal Priority, sender's primary address lower: discard (+ keepalived: \
                   answer with an advert and a GARP burst, see `garp`)",
            start: master(config()),
            event: advert(LOWER, 100, 100),
            now: TX,
            actions: vec![
                Action::SendAdvert { priority: 100 },
                Action::SendGarp { count: 5 },
            ],
            next: State::Master,
        },
        Row {
            rule: "§6.4.3 lower Priority: discard (+ keepalived: answer, as above)",
            start: master(config()),
            event: advert(HIGHER, 99, 100),
            now: TX,
            actions: vec![
                Action::SendAdvert { priority: 100 },
                Action::SendGarp { count: 5 },
            ],
            next: State::Master,
        },
        Row {
            rule: "§6.4.3 owner: a lower-priority advert is discarded, the owner stays Master \
                   (and answers, as above)",
            start: owner,
            event: advert(HIGHER, 254, 100),
            now: T1,
            actions: vec![
                Action::SendAdvert { priority: 255 },
                Action::SendGarp { count: 5 },
            ],
            next: State::Master,
        },
    ]);
}

#[test]
fn keepalived_fault_state() {
    let faulted = {
        let mut i = backup(config());
        i.handle(Event::Interface { up: false }, T1);
        i
    };
    check(vec![
        Row {
            rule: "keepalived FAULT from Master: priority-0 advert, release VIPs",
            start: master(config()),
            event: Event::Interface { up: false },
            now: TX,
            actions: vec![
                CancelTimer(TimerId::Adver),
                SendAdvert { priority: 0 },
                RemoveVips,
                Notify(NotifyState::Fault),
            ],
            next: State::Fault,
        },
        Row {
            rule: "keepalived FAULT from Backup on a weight-0 tracker failure",
            start: backup(config()),
            event: Event::Tracker {
                id: TrackerId(1),
                failing: true,
            },
            now: T1,
            actions: vec![CancelTimer(TimerId::MasterDown), Notify(NotifyState::Fault)],
            next: State::Fault,
        },
        Row {
            rule: "keepalived FAULT ignores adverts",
            start: faulted.clone(),
            event: advert(HIGHER, 0, 100),
            now: T1,
            actions: vec![],
            next: State::Fault,
        },
        Row {
            rule: "keepalived leaving FAULT restarts as §6.4.1 (Backup, Master_Down_Interval)",
            start: faulted,
            event: Event::Interface { up: true },
            now: T1,
            actions: vec![
                arm(TimerId::MasterDown, 104_609_375_000),
                Notify(NotifyState::Backup),
            ],
            next: State::Backup,
        },
        Row {
            rule: "keepalived notify_stop on Shutdown from FAULT",
            start: {
                let mut i = backup(config());
                i.handle(Event::Interface { up: false }, T1);
                i
            },
            event: Event::Shutdown,
            now: T1,
            actions: vec![Notify(NotifyState::Stop)],
            next: State::Initialize,
        },
    ]);
}
