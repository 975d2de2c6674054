//! Adverts the XDP program absorbed, credited to an instance when one of its timers fires.
//!
//! With absorption on, an advert that repeats the liveness slot of its (VRID, family) is
//! dropped in XDP: the daemon's socket sees only adverts whose sender, priority, interval,
//! version or MAC changed. The slot still records when the last one arrived. So before an
//! instance acts on a timer whose outcome depends on adverts it may not have seen, the daemon
//! reads the slot:
//! - Master_Down_Timer of a Backup: the master may be alive with every advert absorbed;
//! - Adver_Timer of a Master: a router whose adverts repeat the slot (a returning master whose
//!   last advert before it died is still there) must still make us step down.
//!
//! A slot is credited, as one advert received at the slot's timestamp, only when
//! - it is newer than anything the instance acted on (a socket advert, an earlier credit, its
//!   last change of state), so each absorbed advert counts at most once;
//! - its sender, priority and interval are exactly what the daemon itself last validated from
//!   that sender (the XDP program checks the codec's rules but knows nothing of VIP lists or
//!   passwords, so an advert the daemon discarded is never credited: its repeats are discarded
//!   too); and it is not our own address and is of the instance's version.
//!
//! Most credits on an idle Backup repeat the advert the fsm last only renewed Master_Down_Timer
//! for (`fsm::Instance::renew`). Until the unit handles any other event the fsm would renew a
//! repeat the same way, so `renew` (and `credit`, which starts with it) renews it here from the
//! remembered interval, and the fsm is told, replayed, just before its next event
//! (`Unit::handle`). Such renewals need only this struct and the liveness slot, which is what
//! lets the renewer thread do them (`renewer`).
//!
//! The cost: a Master learns of an absorbed advert only at its next Adver_Timer, up to one
//! Advertisement_Interval after a socket would have told it.
//!
//! Known gap: the program compares neither the address list nor the v2 password, so a sender
//! that keeps its priority and interval but changes those after a validated advert is believed
//! until its next change that the program does see.

use std::{net::IpAddr, time::Duration};

use crate::{
    dataplane::RouterLiveness,
    fsm::Advert,
    time::{Centisecs, Monotonic},
};

/// Senders remembered per instance; a LAN has a handful of routers per virtual router, and
/// forged sources must not grow the table without bound.
const MAX_SENDERS: usize = 64;

/// What was last validated from one sender.
#[derive(Clone, Copy, Debug)]
struct Validated {
    src: IpAddr,
    priority: u8,
    interval: Centisecs,
    at: Monotonic,
}

/// A renewal of Master_Down_Timer by the fsm: the advert, and what the fsm added to its time.
#[derive(Clone, Copy, Debug)]
struct Renewal {
    advert: Advert,
    adds: Duration,
}

/// What `Heard::renew` makes of a liveness slot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Repeat {
    /// Nothing newer than what was accounted for, or nothing of ours.
    Nothing,
    /// A repeat of the last renewal, renewed the same way: Master_Down_Timer is now `deadline`.
    Renewed {
        seen: Monotonic,
        deadline: Monotonic,
    },
    /// Something newer that is no repeat, left as it is for `Heard::credit`.
    Other,
}

/// What an absorbed advert in the liveness map comes to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Credit {
    /// Nothing new, or nothing to believe.
    Nothing,
    /// A repeat of the last renewal, renewed the same way: Master_Down_Timer is now `deadline`.
    Renewed {
        seen: Monotonic,
        deadline: Monotonic,
    },
    /// An advert for the fsm, received at the given time.
    Feed(Advert, Monotonic),
}

#[derive(Clone, Debug, Default)]
pub struct Heard {
    /// The last content validated from each sender. A list, not a map: it holds one or two
    /// senders, and is searched every time a Backup's timer consults the liveness map.
    validated: Vec<Validated>,
    /// Slot timestamps up to here are accounted for.
    consumed: Monotonic,
    /// The fsm's last renewal, while the unit has handled nothing else since.
    renewal: Option<Renewal>,
    /// The last renewal done here in the fsm's place, for it to replay.
    unreplayed: Option<(Advert, Monotonic)>,
}

impl Heard {
    /// A socket advert from `src` passed validation and is being handed to the fsm at `now`.
    pub fn validated(&mut self, src: IpAddr, priority: u8, interval: Centisecs, now: Monotonic) {
        self.invalid(src);
        if self.validated.len() >= MAX_SENDERS
            && let Some(oldest) = (0..self.validated.len()).min_by_key(|&i| self.validated[i].at)
        {
            self.validated.swap_remove(oldest);
        }
        self.validated.push(Validated {
            src,
            priority,
            interval,
            at: now,
        });
        self.consumed = self.consumed.max(now);
    }

    /// A socket advert from `src` failed validation: the slot now holds its content.
    pub fn invalid(&mut self, src: IpAddr) {
        self.validated.retain(|v| v.src != src);
        self.renewal = None;
    }

    /// The instance changed state at `now`: older slot contents belong to the previous state.
    pub fn state_changed(&mut self, now: Monotonic) {
        self.consumed = self.consumed.max(now);
    }

    /// The fsm renewed Master_Down_Timer for `advert`, received at `at`, until `deadline`.
    pub fn renewed(&mut self, advert: Advert, at: Monotonic, deadline: Monotonic) {
        self.renewal = Some(Renewal {
            advert,
            adds: deadline.since(at),
        });
        self.unreplayed = None;
    }

    /// The unit is about to handle an event: the renewal done in the fsm's place, if any, for
    /// it to replay first. The fsm may decide otherwise after the event, so the renewal is
    /// forgotten until it renews again.
    pub fn replay(&mut self) -> Option<(Advert, Monotonic)> {
        self.renewal = None;
        self.unreplayed.take()
    }

    /// What `slot` comes to for an instance whose own address is `own`, of `version`.
    pub fn credit(&mut self, slot: &RouterLiveness, own: IpAddr, version: u8) -> Credit {
        match self.renew(slot, own, version) {
            Repeat::Nothing => Credit::Nothing,
            Repeat::Renewed { seen, deadline } => Credit::Renewed { seen, deadline },
            Repeat::Other => {
                self.consumed = slot.last_seen;
                let known = self
                    .validated
                    .iter()
                    .find(|v| v.src == slot.sender)
                    .map(|v| (v.priority, v.interval));
                if known == Some((slot.priority, slot.interval)) {
                    Credit::Feed(advert_in(slot), slot.last_seen)
                } else {
                    Credit::Nothing
                }
            }
        }
    }

    /// `credit` for a repeat of the renewal only; anything else newer is left for `credit`.
    pub fn renew(&mut self, slot: &RouterLiveness, own: IpAddr, version: u8) -> Repeat {
        if slot.last_seen <= self.consumed || slot.sender == own || slot.version != version {
            return Repeat::Nothing;
        }
        let advert = advert_in(slot);
        // A renewal is only ever of validated content, and forgotten with it.
        match self.renewal {
            Some(r) if r.advert == advert => {
                self.consumed = slot.last_seen;
                self.unreplayed = Some((advert, slot.last_seen));
                Repeat::Renewed {
                    seen: slot.last_seen,
                    deadline: slot.last_seen + r.adds,
                }
            }
            _ => Repeat::Other,
        }
    }
}

fn advert_in(slot: &RouterLiveness) -> Advert {
    Advert {
        src: slot.sender,
        priority: slot.priority,
        max_adver_int: slot.interval,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use vrrp_common::maps::{FAMILY_IPV4, LivenessKey};

    use super::*;

    const MASTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const US: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const SEC: u64 = 1_000_000_000;

    fn slot(sender: IpAddr, priority: u8, at: u64) -> RouterLiveness {
        RouterLiveness {
            key: LivenessKey::new(51, FAMILY_IPV4),
            last_seen: Monotonic(at),
            adverts: 7,
            sender,
            sender_mac: [2, 0, 0, 0, 0, 1],
            priority,
            version: 3,
            interval: Centisecs(100),
            orphaned: false,
        }
    }

    #[test]
    fn an_absorbed_repeat_of_validated_content_counts_once() {
        let mut h = Heard::default();
        h.validated(MASTER, 200, Centisecs(100), Monotonic(10 * SEC));
        let nothing = Credit::Nothing;
        assert_eq!(
            h.credit(&slot(MASTER, 200, 9 * SEC), US, 3),
            nothing,
            "older"
        );
        let Credit::Feed(advert, at) = h.credit(&slot(MASTER, 200, 13 * SEC), US, 3) else {
            panic!("not for the fsm")
        };
        assert_eq!(
            (advert.src, advert.priority, at),
            (MASTER, 200, Monotonic(13 * SEC))
        );
        assert_eq!(
            h.credit(&slot(MASTER, 200, 13 * SEC), US, 3),
            nothing,
            "twice"
        );
    }

    #[test]
    fn content_the_daemon_did_not_validate_is_never_credited() {
        let mut h = Heard::default();
        h.validated(MASTER, 200, Centisecs(100), Monotonic(SEC));
        assert_eq!(
            h.credit(&slot(MASTER, 150, 2 * SEC), US, 3),
            Credit::Nothing,
            "other priority"
        );
        h.invalid(MASTER);
        assert_eq!(
            h.credit(&slot(MASTER, 200, 3 * SEC), US, 3),
            Credit::Nothing,
            "now invalid"
        );
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(
            h.credit(&slot(other, 200, 4 * SEC), US, 3),
            Credit::Nothing,
            "unknown sender"
        );
        h.validated(US, 200, Centisecs(100), Monotonic(SEC));
        assert_eq!(
            h.credit(&slot(US, 200, 5 * SEC), US, 3),
            Credit::Nothing,
            "ourselves"
        );
        h.validated(MASTER, 200, Centisecs(100), Monotonic(SEC));
        assert_eq!(
            h.credit(&slot(MASTER, 200, 6 * SEC), US, 2),
            Credit::Nothing,
            "other version"
        );
    }

    #[test]
    fn the_least_recent_sender_makes_room() {
        let mut h = Heard::default();
        for n in 0..MAX_SENDERS as u32 + 1 {
            let src = IpAddr::V4(Ipv4Addr::from(0xc000_0200 + n));
            h.validated(src, 100, Centisecs(100), Monotonic(u64::from(n)));
        }
        assert_eq!(h.validated.len(), MAX_SENDERS);
        let first = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0));
        assert!(h.validated.iter().all(|v| v.src != first));
    }

    #[test]
    fn a_state_change_makes_older_slots_stale() {
        let mut h = Heard::default();
        h.validated(MASTER, 200, Centisecs(100), Monotonic(SEC));
        h.state_changed(Monotonic(5 * SEC));
        assert_eq!(
            h.credit(&slot(MASTER, 200, 4 * SEC), US, 3),
            Credit::Nothing
        );
        assert!(matches!(
            h.credit(&slot(MASTER, 200, 6 * SEC), US, 3),
            Credit::Feed(..)
        ));
    }

    #[test]
    fn a_repeat_of_the_fsms_renewal_is_renewed_here_and_kept_for_replay() {
        let mut h = Heard::default();
        h.validated(MASTER, 200, Centisecs(100), Monotonic(SEC));
        let Credit::Feed(advert, at) = h.credit(&slot(MASTER, 200, 2 * SEC), US, 3) else {
            panic!("not for the fsm")
        };
        // The fsm renewed it: Master_Down_Timer 3.2 s after the advert.
        h.renewed(advert, at, Monotonic(at.0 + 3_200_000_000));
        assert_eq!(
            h.credit(&slot(MASTER, 200, 3 * SEC), US, 3),
            Credit::Renewed {
                seen: Monotonic(3 * SEC),
                deadline: Monotonic(6_200_000_000)
            }
        );
        // Content never validated is not believed; after the unit's next event, a repeat is
        // for the fsm again.
        assert_eq!(
            h.credit(&slot(MASTER, 100, 4 * SEC), US, 3),
            Credit::Nothing
        );
        assert_eq!(h.replay(), Some((advert, Monotonic(3 * SEC))));
        assert_eq!(h.replay(), None);
        assert!(matches!(
            h.credit(&slot(MASTER, 200, 5 * SEC), US, 3),
            Credit::Feed(..)
        ));
        // Content that fails validation is not renewed any more.
        h.renewed(advert, Monotonic(5 * SEC), Monotonic(8 * SEC));
        h.invalid(MASTER);
        assert_eq!(
            h.credit(&slot(MASTER, 200, 6 * SEC), US, 3),
            Credit::Nothing
        );
    }
}
