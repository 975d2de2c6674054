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
//! The cost: a Master learns of an absorbed advert only at its next Adver_Timer, up to one
//! Advertisement_Interval after a socket would have told it.
//!
//! Known gap: the program compares neither the address list nor the v2 password, so a sender
//! that keeps its priority and interval but changes those after a validated advert is believed
//! until its next change that the program does see.

use std::net::IpAddr;

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

#[derive(Clone, Debug, Default)]
pub struct Heard {
    /// The last content validated from each sender. A list, not a map: it holds one or two
    /// senders, and is searched every time a Backup's timer consults the liveness map.
    validated: Vec<Validated>,
    /// Slot timestamps up to here are accounted for.
    consumed: Monotonic,
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
    }

    /// The instance changed state at `now`: older slot contents belong to the previous state.
    pub fn state_changed(&mut self, now: Monotonic) {
        self.consumed = self.consumed.max(now);
    }

    /// The advert to feed, and when it arrived, if `slot` holds one worth crediting.
    pub fn credit(
        &mut self,
        slot: &RouterLiveness,
        own: IpAddr,
        version: u8,
    ) -> Option<(Advert, Monotonic)> {
        if slot.last_seen <= self.consumed || slot.sender == own || slot.version != version {
            return None;
        }
        self.consumed = slot.last_seen;
        let known = self
            .validated
            .iter()
            .find(|v| v.src == slot.sender)
            .map(|v| (v.priority, v.interval));
        (known == Some((slot.priority, slot.interval))).then_some((
            Advert {
                src: slot.sender,
                priority: slot.priority,
                max_adver_int: slot.interval,
            },
            slot.last_seen,
        ))
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
        assert_eq!(h.credit(&slot(MASTER, 200, 9 * SEC), US, 3), None, "older");
        let (advert, at) = h.credit(&slot(MASTER, 200, 13 * SEC), US, 3).unwrap();
        assert_eq!(
            (advert.src, advert.priority, at),
            (MASTER, 200, Monotonic(13 * SEC))
        );
        assert_eq!(h.credit(&slot(MASTER, 200, 13 * SEC), US, 3), None, "twice");
    }

    #[test]
    fn content_the_daemon_did_not_validate_is_never_credited() {
        let mut h = Heard::default();
        h.validated(MASTER, 200, Centisecs(100), Monotonic(SEC));
        assert_eq!(
            h.credit(&slot(MASTER, 150, 2 * SEC), US, 3),
            None,
            "other priority"
        );
        h.invalid(MASTER);
        assert_eq!(
            h.credit(&slot(MASTER, 200, 3 * SEC), US, 3),
            None,
            "now invalid"
        );
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(
            h.credit(&slot(other, 200, 4 * SEC), US, 3),
            None,
            "unknown sender"
        );
        h.validated(US, 200, Centisecs(100), Monotonic(SEC));
        assert_eq!(h.credit(&slot(US, 200, 5 * SEC), US, 3), None, "ourselves");
        h.validated(MASTER, 200, Centisecs(100), Monotonic(SEC));
        assert_eq!(
            h.credit(&slot(MASTER, 200, 6 * SEC), US, 2),
            None,
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
        assert_eq!(h.credit(&slot(MASTER, 200, 4 * SEC), US, 3), None);
        assert!(h.credit(&slot(MASTER, 200, 6 * SEC), US, 3).is_some());
    }
}
