//! Leaving Master without losing a packet, and what XDP does with a slot's VIPs.
//!
//! The seed article keeps traffic flowing during a VIP move with iptables DNAT + MASQUERADE on
//! the old master. We do it in XDP, without NAT, in two phases:
//! 1. Awaiting: the fsm has left Master (priority 0 sent, or a better router took over) but
//!    the VIPs stay on the interface and keep being served until the new master's first
//!    advert has been seen by the XDP program (its liveness slot shows another sender with a
//!    non-zero priority, recently). Clients whose neighbour entry still names us lose nothing
//!    meanwhile. If no one takes over within a Master_Down_Interval of the slowest Backup, the
//!    VIPs are removed as the RFC asks of a Backup.
//! 2. Redirecting: the XDP table sends frames still addressed to the VIPs on to the new
//!    master's MAC (as its adverts carried it), for the handover window: until the new
//!    master's GARP bursts have corrected every neighbour cache. The VIPs stay on the
//!    interface for the first `DRAIN` of it, so that a request already past XDP when the
//!    redirect began is still answered (without its address the reply could not be sent);
//!    XDP drops ARP requests and neighbour solicitations for them meanwhile, so that the old
//!    master attracts no client back.
//!
//! A short wait (`SETTLE`) closes a race that lost a few probes on a loaded machine: the
//! redirect starts only a moment after the new master's first advert, since keepalived sends
//! it before it has added the VIPs (xvrrp adds them first, so that with an xvrrp peer the
//! advert alone is proof, however slow the peer's machine).
//!
//! An interface that would drop what XDP sends back out of it (a veth whose peer has neither an
//! XDP program nor GRO, as in many containers) gets no redirect: it keeps the VIPs for the
//! `DRAIN`, answering what reaches it while clients move over, quiet for ARP / NS all the same
//! (`Handover::without_redirect`).
//!
//! A slot that becomes Master again meanwhile ends its handover (its VIPs are added back as
//! usual). Without XDP on the interface, or with `handover_window 0`, VIPs go at once.

use std::{net::IpAddr, time::Duration};

use vrrp_common::wire::vrrp::PRIORITY_STOP;

use crate::{
    dataplane::{RouterLiveness, VipSteering},
    fsm::{self, State},
    time::{Centisecs, Monotonic},
};

/// How often the liveness map is read while awaiting the new master. The VIPs are still
/// served meanwhile, so this only delays the redirect, never loses a packet.
const POLL: Duration = Duration::from_millis(5);

/// See the module doc: how long the new master gets to add its VIPs before the redirect.
const SETTLE: Duration = Duration::from_millis(20);

/// See the module doc: how long the VIPs outlast the start of the redirect (if the window is
/// that long), for replies to what was received before. Long enough for a slow service, such as
/// a DNS resolver answering after a few hundred ms; no longer, because a VIP on two machines,
/// even one not answering ARP for it, looks like split brain to the operator's monitoring.
pub const DRAIN: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handover {
    Awaiting {
        started: Monotonic,
        give_up: Monotonic,
        next_poll: Monotonic,
        /// The new master's MAC, and when its advert was first seen.
        seen: Option<([u8; 6], Monotonic)>,
    },
    Redirecting {
        /// `None`: the interface cannot send frames on (`without_redirect`).
        to: Option<[u8; 6]>,
        /// When our VIPs go from the interface.
        drained: Monotonic,
        until: Monotonic,
        /// Our VIPs are gone from the interface.
        removed: bool,
    },
}

/// What a due handover does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Wait,
    /// The new master is seen and settled: redirect to this MAC (the VIPs stay for `DRAIN`).
    Redirect([u8; 6]),
    /// What was received before the redirect has had its time: remove the VIPs.
    RemoveVips,
    /// No new master: remove the VIPs, no redirect.
    GiveUp,
    /// The window is over: stop redirecting.
    Done,
}

impl Handover {
    /// Starts awaiting a new master, for at most the Master_Down_Interval of a Backup of the
    /// lowest priority (which takes over last, should our priority-0 advert be lost) and one
    /// more interval.
    pub fn begin(version: fsm::Version, advert_int: Centisecs, now: Monotonic) -> Handover {
        let longest = fsm::master_down_interval(version, 1, advert_int) + advert_int.as_duration();
        Handover::Awaiting {
            started: now,
            give_up: now + longest,
            next_poll: now,
            seen: None,
        }
    }

    pub fn deadline(&self) -> Monotonic {
        match *self {
            Handover::Awaiting {
                seen: Some((_, at)),
                ..
            } => at + SETTLE,
            Handover::Awaiting {
                next_poll, give_up, ..
            } => next_poll.min(give_up),
            Handover::Redirecting {
                drained,
                removed: false,
                ..
            } => drained,
            Handover::Redirecting { until, .. } => until,
        }
    }

    /// Whether our VIPs are still on the interface.
    pub fn holds_vips(&self) -> bool {
        !matches!(self, Handover::Redirecting { removed: true, .. })
    }

    /// Decides the next step at `now`, from what the XDP program last heard of this virtual
    /// router; `own` is our address, `interval` the advert interval, `window` how long to
    /// redirect.
    pub fn poll(
        &mut self,
        heard: Option<&RouterLiveness>,
        own: IpAddr,
        interval: Centisecs,
        window: Duration,
        now: Monotonic,
    ) -> Step {
        match *self {
            Handover::Awaiting {
                seen: Some((to, at)),
                ..
            } => {
                if now < at + SETTLE {
                    return Step::Wait;
                }
                *self = Handover::Redirecting {
                    to: Some(to),
                    drained: now + DRAIN.min(window),
                    until: now + window,
                    removed: false,
                };
                Step::Redirect(to)
            }
            Handover::Awaiting {
                started, give_up, ..
            } => {
                // An advert from a router that took over: from another sender, not stopping,
                // and no older than one interval before we left (the advert that made us step
                // down, when a better router preempted us, counts).
                let new_master = heard.filter(|h| {
                    h.sender != own
                        && h.priority != PRIORITY_STOP
                        && h.last_seen.0 + interval.as_duration().as_nanos() as u64 >= started.0
                });
                if now >= give_up && new_master.is_none() {
                    return Step::GiveUp;
                }
                *self = Handover::Awaiting {
                    started,
                    give_up,
                    next_poll: now + POLL,
                    seen: new_master.map(|h| (h.sender_mac, now)),
                };
                Step::Wait
            }
            Handover::Redirecting {
                to,
                drained,
                until,
                removed: false,
            } if now >= drained => {
                *self = Handover::Redirecting {
                    to,
                    drained,
                    until,
                    removed: true,
                };
                Step::RemoveVips
            }
            Handover::Redirecting { until, .. } if now >= until => Step::Done,
            Handover::Redirecting { .. } => Step::Wait,
        }
    }

    /// Turns the redirect just begun into a drain without one: the VIPs stay, quiet, for the
    /// `DRAIN`, and the handover ends when they go.
    pub fn without_redirect(&mut self) {
        if let Handover::Redirecting {
            to, drained, until, ..
        } = self
        {
            *to = None;
            *until = *drained;
        }
    }

    /// For `xvrrp status`.
    pub fn describe(&self, now: Monotonic) -> String {
        match *self {
            Handover::Awaiting { started, .. } => format!(
                "awaiting the new master's advert for {:.2}s",
                now.since(started).as_secs_f64()
            ),
            Handover::Redirecting {
                to: Some(to),
                drained,
                until,
                removed,
            } => format!(
                "redirecting to {} for {:.2}s more{}",
                mac(to),
                until.since(now).as_secs_f64(),
                if removed {
                    String::new()
                } else {
                    format!(
                        ", VIPs kept {:.2}s more (ARP / NS for them dropped)",
                        drained.since(now).as_secs_f64()
                    )
                }
            ),
            Handover::Redirecting {
                to: None, drained, ..
            } => format!(
                "new master seen, VIPs kept {:.2}s more (ARP / NS for them dropped), not \
                 redirecting: the interface drops what XDP sends out of it",
                drained.since(now).as_secs_f64()
            ),
        }
    }
}

/// What XDP should do with the VIPs of a slot in `state`: a Master (or a slot still holding
/// its VIPs while awaiting the new master) guards them when the program outlives the daemon
/// (`pinned`) and drops IP to them without Accept_Mode (RFC 5798 §6.4.3); once the new master
/// is seen, the slot keeps them quiet (ARP / NS dropped) and sends their frames on, if its
/// interface can. A slot leaving Master while it still holds them drops the new master's
/// neighbour advertisements for them (`VipSteering::leaving`).
pub fn steering(
    vrid: u8,
    state: State,
    handover: Option<&Handover>,
    accept: bool,
    pinned: bool,
) -> Option<VipSteering> {
    let holding = state == State::Master || matches!(handover, Some(Handover::Awaiting { .. }));
    let wanted = match handover {
        Some(Handover::Redirecting { to, removed, .. }) => VipSteering {
            vrid,
            redirect_to: *to,
            leaving: !removed,
            quiet: true,
            ..VipSteering::default()
        },
        _ if holding => VipSteering {
            vrid,
            strict: !accept,
            guard: pinned,
            // Awaiting: a Master has no handover.
            leaving: handover.is_some(),
            ..VipSteering::default()
        },
        _ => return None,
    };
    (wanted
        != VipSteering {
            vrid,
            ..VipSteering::default()
        })
    .then_some(wanted)
}

pub fn mac(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use vrrp_common::maps::LivenessKey;

    use super::*;

    const OWN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const SECOND: u64 = 1_000_000_000;

    fn heard(sender: IpAddr, priority: u8, at: u64) -> RouterLiveness {
        RouterLiveness {
            key: LivenessKey::new(51, 4),
            last_seen: Monotonic(at),
            adverts: 1,
            sender,
            sender_mac: PEER_MAC,
            priority,
            version: 3,
            interval: Centisecs(100),
            orphaned: false,
        }
    }

    const WINDOW: Duration = Duration::from_secs(2);

    fn poll(h: &mut Handover, heard: Option<&RouterLiveness>, now: Monotonic) -> Step {
        h.poll(heard, OWN, Centisecs(100), WINDOW, now)
    }

    #[test]
    fn waits_for_the_new_master_then_redirects_then_removes_the_vips() {
        let t0 = Monotonic(100 * SECOND);
        let mut h = Handover::begin(fsm::Version::V3, Centisecs(100), t0);
        // Our own last advert, and a stale one of the peer from long ago, do not count.
        assert_eq!(poll(&mut h, Some(&heard(OWN, 100, t0.0)), t0), Step::Wait);
        let stale = heard(PEER, 100, t0.0 - 10 * SECOND);
        assert_eq!(poll(&mut h, Some(&stale), t0), Step::Wait);
        assert_eq!(h.deadline(), t0 + POLL);
        // Seen: the redirect waits for the new master to have added its VIPs.
        let seen = Monotonic(t0.0 + SECOND / 2);
        let advert = heard(PEER, 100, seen.0);
        assert_eq!(poll(&mut h, Some(&advert), seen), Step::Wait);
        assert_eq!(h.deadline(), seen + SETTLE);
        assert!(h.holds_vips());
        let redirect = seen + SETTLE;
        assert_eq!(
            poll(&mut h, Some(&advert), redirect),
            Step::Redirect(PEER_MAC)
        );
        assert!(h.holds_vips(), "the VIPs outlast the switch");
        assert_eq!(
            h.describe(redirect),
            "redirecting to 02:00:00:00:00:02 for 2.00s more, VIPs kept 1.00s more (ARP / NS \
             for them dropped)"
        );
        assert_eq!(h.deadline(), redirect + DRAIN);
        assert_eq!(poll(&mut h, None, redirect + DRAIN / 2), Step::Wait);
        assert_eq!(poll(&mut h, None, redirect + DRAIN), Step::RemoveVips);
        assert!(!h.holds_vips());
        assert_eq!(
            h.describe(redirect + DRAIN),
            "redirecting to 02:00:00:00:00:02 for 1.00s more"
        );
        assert_eq!(h.deadline(), redirect + WINDOW);
        assert_eq!(poll(&mut h, None, redirect + WINDOW / 2), Step::Wait);
        assert_eq!(poll(&mut h, None, redirect + WINDOW), Step::Done);
    }

    #[test]
    fn a_window_shorter_than_the_drain_keeps_the_vips_to_its_end() {
        let t0 = Monotonic(100 * SECOND);
        let short = Duration::from_millis(300);
        let mut h = Handover::begin(fsm::Version::V3, Centisecs(100), t0);
        let advert = heard(PEER, 100, t0.0);
        let poll = |h: &mut Handover, now| h.poll(Some(&advert), OWN, Centisecs(100), short, now);
        assert_eq!(poll(&mut h, t0), Step::Wait);
        let redirect = t0 + SETTLE;
        assert_eq!(poll(&mut h, redirect), Step::Redirect(PEER_MAC));
        assert_eq!(h.deadline(), redirect + short);
        assert_eq!(poll(&mut h, redirect + short), Step::RemoveVips);
        assert_eq!(poll(&mut h, redirect + short), Step::Done);
    }

    #[test]
    fn without_a_redirect_the_vips_stay_quiet_for_the_drain_and_the_handover_ends_with_them() {
        let t0 = Monotonic(100 * SECOND);
        let mut h = Handover::begin(fsm::Version::V3, Centisecs(100), t0);
        let advert = heard(PEER, 100, t0.0);
        assert_eq!(poll(&mut h, Some(&advert), t0), Step::Wait);
        let redirect = t0 + SETTLE;
        assert_eq!(
            poll(&mut h, Some(&advert), redirect),
            Step::Redirect(PEER_MAC)
        );
        h.without_redirect();
        assert!(h.holds_vips());
        assert_eq!(
            h.describe(redirect),
            "new master seen, VIPs kept 1.00s more (ARP / NS for them dropped), not redirecting: \
             the interface drops what XDP sends out of it"
        );
        assert_eq!(h.deadline(), redirect + DRAIN);
        assert_eq!(poll(&mut h, None, redirect + DRAIN), Step::RemoveVips);
        assert_eq!(h.deadline(), redirect + DRAIN);
        assert_eq!(poll(&mut h, None, redirect + DRAIN), Step::Done);
    }

    #[test]
    fn a_peer_stopping_is_no_new_master() {
        let t0 = Monotonic(100 * SECOND);
        let mut h = Handover::begin(fsm::Version::V3, Centisecs(100), t0);
        let stopping = heard(PEER, PRIORITY_STOP, t0.0);
        assert_eq!(poll(&mut h, Some(&stopping), t0), Step::Wait);
        assert_eq!(h.deadline(), t0 + POLL);
    }

    #[test]
    fn gives_up_after_the_slowest_backups_master_down_interval() {
        let t0 = Monotonic(100 * SECOND);
        let mut h = Handover::begin(fsm::Version::V3, Centisecs(100), t0);
        // Priority 1: Master_Down_Interval = 3 s + 255/256 s, and one more interval.
        assert_eq!(poll(&mut h, None, Monotonic(t0.0 + 4 * SECOND)), Step::Wait);
        assert_eq!(
            poll(&mut h, None, Monotonic(t0.0 + 5 * SECOND)),
            Step::GiveUp
        );
    }

    #[test]
    fn steering_follows_state_and_handover() {
        let master = steering(51, State::Master, None, false, true).unwrap();
        assert!(master.strict && master.guard && master.redirect_to.is_none());
        assert!(!master.leaving, "a Master hears of a conflict");
        // Accept mode, nothing pinned: nothing for XDP to do.
        assert_eq!(steering(51, State::Master, None, true, false), None);
        assert_eq!(steering(51, State::Backup, None, false, true), None);
        let awaiting = Handover::begin(fsm::Version::V3, Centisecs(100), Monotonic(SECOND));
        assert_eq!(
            steering(51, State::Backup, Some(&awaiting), false, true),
            Some(VipSteering {
                leaving: true,
                ..master
            })
        );
        // Even with nothing else to do, a slot leaving Master drops the new master's NAs.
        let quiet = steering(51, State::Backup, Some(&awaiting), true, false).unwrap();
        assert!(quiet.leaving && !quiet.strict && !quiet.guard);
        let mut redirecting = Handover::Redirecting {
            to: Some(PEER_MAC),
            drained: Monotonic(SECOND),
            until: Monotonic(2 * SECOND),
            removed: false,
        };
        let r = steering(51, State::Backup, Some(&redirecting), false, true).unwrap();
        assert_eq!(r.redirect_to, Some(PEER_MAC));
        assert!(!r.strict && !r.guard && r.leaving && r.quiet);
        redirecting.without_redirect();
        let r = steering(51, State::Backup, Some(&redirecting), false, true).unwrap();
        assert_eq!(r.redirect_to, None);
        assert!(r.leaving && r.quiet, "still held, still quiet");
        if let Handover::Redirecting { removed, .. } = &mut redirecting {
            *removed = true;
        }
        let r = steering(51, State::Backup, Some(&redirecting), false, true).unwrap();
        assert!(
            !r.leaving,
            "the VIPs are gone: our cache may learn from the new master"
        );
    }
}
