//! The maps through which the XDP program and the daemon talk, and their value layouts.
//!
//! Every type is `#[repr(C)]` with explicit padding fields, so that the kernel and userspace
//! agree on each byte and no uninitialised padding reaches a map.

use crate::reject::Reject;

/// The XDP program's function name, as the daemon looks it up in the object.
pub const PROGRAM: &str = "xvrrp";
/// A program in the same object that passes every frame (see vrrp-ebpf).
pub const PASS_PROGRAM: &str = "xvrrp_pass";

/// Array of `Liveness`, one slot per (VRID, family) as `LivenessKey::slot` numbers them.
///
/// Each attached interface has its own program and maps, so the interface is implicit. An
/// array rather than a hash: the verifier inlines array lookups into a bounds check and an
/// address computation, which matters on the path every advert takes.
pub const LIVENESS: &str = "LIVENESS";
pub const LIVENESS_SLOTS: u32 = 512;

/// Per-CPU array of `u64`, one slot per `Counter::slot`.
pub const COUNTERS: &str = "COUNTERS";

/// Array with a single `Control`, written by the daemon.
pub const CONTROL: &str = "CONTROL";

pub const FAMILY_IPV4: u8 = 4;
pub const FAMILY_IPV6: u8 = 6;

/// Which virtual router a liveness slot belongs to. IPv4 and IPv6 instances of one VRID are
/// independent (RFC 5798 §5.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LivenessKey {
    pub vrid: u8,
    /// `FAMILY_IPV4` or `FAMILY_IPV6`.
    pub family: u8,
}

impl LivenessKey {
    pub const fn new(vrid: u8, family: u8) -> Self {
        Self { vrid, family }
    }

    pub const fn slot(self) -> u32 {
        self.vrid as u32 | if self.family == FAMILY_IPV6 { 256 } else { 0 }
    }

    pub const fn from_slot(slot: u32) -> Self {
        let family = if slot & 256 != 0 {
            FAMILY_IPV6
        } else {
            FAMILY_IPV4
        };
        Self {
            vrid: slot as u8,
            family,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when the last valid advert arrived.
    pub last_seen_ns: u64,
    /// Valid adverts seen for this virtual router, absorbed or passed; 0 for a slot that has
    /// heard nothing.
    pub adverts: u64,
    /// The sender's IP source address; an IPv4 address fills the first 4 bytes.
    pub sender: [u8; 16],
    pub sender_mac: [u8; 6],
    pub priority: u8,
    pub version: u8,
    /// Advertisement interval in centiseconds (a v2 interval in seconds is converted).
    pub interval_cs: u16,
    pub pad: [u8; 6],
}

impl Liveness {
    /// Whether an advert carrying `other`'s fields changes anything the protocol acts on.
    /// Only then must it go up to the daemon; otherwise it only refreshes the timestamp.
    pub fn same_advert(&self, other: &Liveness) -> bool {
        self.sender == other.sender
            && self.priority == other.priority
            && self.interval_cs == other.interval_cs
            && self.version == other.version
            && self.sender_mac == other.sender_mac
    }
}

/// What the daemon tells the XDP program.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Control {
    /// `CONTROL_ABSORB` and future flags. All clear (the state of a fresh map) means every
    /// valid advert goes up, so a program loaded without a daemon hides nothing.
    pub flags: u64,
}

/// Drop adverts that repeat what the liveness map already holds (after recording them).
pub const CONTROL_ABSORB: u64 = 1;

/// A per-CPU counter slot: one per rejection reason, then the outcomes of valid adverts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Rejected(Reject),
    /// Valid, repeated what the map held, dropped.
    Absorbed,
    /// Valid and new or changed (or absorption off), passed to the daemon.
    Passed,
}

impl Counter {
    pub const SLOTS: u32 = Reject::COUNT as u32 + 2;

    pub const fn slot(self) -> u32 {
        match self {
            Counter::Rejected(r) => r as u32,
            Counter::Absorbed => Reject::COUNT as u32,
            Counter::Passed => Reject::COUNT as u32 + 1,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Counter::Rejected(r) => r.name(),
            Counter::Absorbed => "absorbed",
            Counter::Passed => "passed",
        }
    }

    /// Every slot in order, for readers that present them all.
    pub fn all() -> impl Iterator<Item = Counter> {
        Reject::ALL
            .into_iter()
            .map(Counter::Rejected)
            .chain([Counter::Absorbed, Counter::Passed])
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers and byte arrays with no implicit padding.
    unsafe impl aya::Pod for super::Liveness {}
    unsafe impl aya::Pod for super::Control {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn layouts_have_no_implicit_padding() {
        assert_eq!(size_of::<Liveness>(), 8 + 8 + 16 + 6 + 1 + 1 + 2 + 6);
        assert_eq!(size_of::<Control>(), 8);
    }

    #[test]
    fn liveness_slots_round_trip_and_fit() {
        for family in [FAMILY_IPV4, FAMILY_IPV6] {
            for vrid in 0..=255u8 {
                let key = LivenessKey::new(vrid, family);
                assert!(key.slot() < LIVENESS_SLOTS);
                assert_eq!(LivenessKey::from_slot(key.slot()), key);
            }
        }
    }

    #[test]
    fn slots_are_dense_and_distinct() {
        let mut seen = [false; Counter::SLOTS as usize];
        for c in Counter::all() {
            assert!(!seen[c.slot() as usize], "{c:?} shares a slot");
            seen[c.slot() as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn same_advert_ignores_time_and_count() {
        let a = Liveness {
            last_seen_ns: 1,
            adverts: 1,
            sender: [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            sender_mac: [2, 0, 0, 0, 0, 1],
            priority: 100,
            version: 3,
            interval_cs: 100,
            pad: [0; 6],
        };
        let later = Liveness {
            last_seen_ns: 99,
            adverts: 7,
            ..a
        };
        assert!(a.same_advert(&later));
        assert!(!a.same_advert(&Liveness { priority: 0, ..a }));
        assert!(!a.same_advert(&Liveness {
            interval_cs: 200,
            ..a
        }));
        assert!(!a.same_advert(&Liveness {
            sender: [0; 16],
            ..a
        }));
    }
}
