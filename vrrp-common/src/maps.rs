//! The maps through which the XDP program and the daemon talk, and their value layouts.
//!
//! Every type is `#[repr(C)]` with explicit padding fields, so that the kernel and userspace
//! agree on each byte and no uninitialised padding reaches a map.

use crate::reject::Reject;

/// The XDP program's function name, as the daemon looks it up in the object: the advert
/// tracker alone, what a backup runs.
pub const PROGRAM: &str = "xvrrp";
/// The same program with VIP steering (handover redirect, strict mode, the dead-man switch),
/// swapped in while some address needs it: it costs a flag test on every IP frame.
pub const STEER_PROGRAM: &str = "xvrrp_steer";
/// A program in the same object that passes every frame (see vrrp-ebpf).
pub const PASS_PROGRAM: &str = "xvrrp_pass";
/// A program in the same object that sends every frame back out (see vrrp-ebpf).
pub const BOUNCE_PROGRAM: &str = "xvrrp_bounce";

/// Array of `Liveness`, one slot per (VRID, family) as `LivenessKey::slot` numbers them.
///
/// Each attached interface has its own program and maps, so the interface is implicit. An
/// array rather than a hash: the verifier inlines array lookups into a bounds check and an
/// address computation, which matters on the path every advert takes.
pub const LIVENESS: &str = "LIVENESS";
pub const LIVENESS_SLOTS: u32 = 512;

/// The map flags of `LIVENESS` and `CONTROL`: BPF_F_MMAPABLE, so that the daemon reads the
/// liveness of its instances and writes its heartbeat through shared memory. As syscalls they
/// were most of what an idle daemon with many fast instances did.
pub const SHARED_MEMORY: u32 = 1 << 10;

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Liveness {
    /// `bpf_ktime_get_coarse_ns` (CLOCK_MONOTONIC_COARSE: CLOCK_MONOTONIC at the last tick)
    /// when the last valid advert arrived.
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
    /// `LIVENESS_ORPHANED`: the XDP program's own record, not part of the advert.
    pub flags: u8,
    pub pad: [u8; 5],
}

/// Set by the XDP program when this router's adverts arrived while the daemon's heartbeat was
/// stale: a daemon that died as master left its VIPs on the interface, and this router has
/// taken over. Guarded VIPs of this (VRID, family) then follow this router (see `VIP_GUARD`).
/// A restarted daemon clears it.
pub const LIVENESS_ORPHANED: u8 = 1;

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
    /// `CONTROL_*` bits. All clear (the state of a fresh map) means every valid advert goes up
    /// and no VIP is looked at, so a program loaded without a daemon changes nothing.
    pub flags: u64,
    /// CLOCK_MONOTONIC ns of the daemon's last sign of life; 0 before the first.
    pub heartbeat_ns: u64,
    /// How old the heartbeat may grow before the daemon counts as dead; 0 turns the dead-man
    /// switch off.
    pub heartbeat_timeout_ns: u64,
    /// The interface's MAC: the source of frames the program sends on to a peer.
    pub own_mac: [u8; 6],
    pub pad: [u8; 2],
}

impl Control {
    /// Whether a heartbeat was written and is older than its timeout at `now`.
    pub const fn daemon_dead(&self, now: u64) -> bool {
        self.heartbeat_ns != 0
            && self.heartbeat_timeout_ns != 0
            && now > self.heartbeat_ns + self.heartbeat_timeout_ns
    }
}

/// Array of `Takeover`, shared by the programs of every interface (pinned once, under the pin
/// root, and reused by each loader): slot `LivenessKey::slot` records that the virtual router
/// was taken over while our daemon was dead, as the program of the interface it is heard on
/// saw it; slot `TAKEOVER_ANY` is non-zero once any is. A VIP on another device than its
/// virtual router's interface is guarded from there: only that interface's program hears the
/// adverts.
pub const TAKEOVERS: &str = "TAKEOVERS";
pub const TAKEOVER_ANY: u32 = LIVENESS_SLOTS;
pub const TAKEOVER_SLOTS: u32 = LIVENESS_SLOTS + 1;

/// A virtual router taken over while our daemon was dead.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Takeover {
    /// The interface its adverts were heard on; 0: no takeover.
    pub ifindex: u32,
    /// The router that took over, as its adverts carried it.
    pub sender_mac: [u8; 6],
    pub pad: [u8; 2],
}

/// Drop adverts that repeat what the liveness map already holds (after recording them).
pub const CONTROL_ABSORB: u64 = 1;
/// Some VIP has `VIP_REDIRECT`, `VIP_QUIET`, `VIP_STRICT` or `VIP_LEAVING`: IP frames must be
/// looked up in `VIPS`. Kept by the daemon, so that a box with nothing to steer pays no lookup per frame.
pub const CONTROL_STEER: u64 = 2;
/// Some liveness slot is `LIVENESS_ORPHANED`: guarded VIPs must be looked up too. Set by the
/// XDP program, cleared by a restarted daemon.
pub const CONTROL_ORPHANED: u64 = 4;
/// Some VIP here is guarded from another interface (`VIP_GUARD` with `egress_ifindex`): once
/// `TAKEOVERS` records any takeover, its frames must be looked up too. Kept by the daemon.
pub const CONTROL_REMOTE_GUARD: u64 = 8;
/// Some VIP has `VIP_QUIET`: ARP requests must be looked up too (neighbour solicitations are,
/// with every IPv6 frame, under `CONTROL_STEER`). Kept by the daemon.
pub const CONTROL_QUIET: u64 = 16;

/// Array of `Vip`: the virtual addresses XDP acts on, in an open-addressed table (home slot
/// `vip_home`, then up to `VIP_PROBES` slots on). Only addresses with something to do are in it
/// (a handover window, strict mode, or a guard while master). An array, not a hash map: its
/// lookups are inlined, where a hash map lookup cost ~45 ns a frame, more than the rest of the
/// redirect path together.
pub const VIPS: &str = "VIPS";
pub const VIP_SLOTS: u32 = 256;
pub const VIP_PROBES: u32 = 8;

/// Per-CPU array of `u64`: two per VIP slot, `VipCounter` order.
pub const VIP_COUNTERS: &str = "VIP_COUNTERS";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VipCounter {
    /// Frames rewritten and sent on to a peer.
    Redirected = 0,
    /// Frames dropped: strict mode, or ARP / NS while orphaned.
    Dropped = 1,
}

impl VipCounter {
    pub const fn index(self, slot: u32) -> u32 {
        slot * 2 + self as u32
    }
}

/// A slot that is free, and ends a probe sequence.
pub const VIP_EMPTY: u8 = 0;
/// A slot whose address was removed: free for a new one, but probes go on past it.
pub const VIP_REMOVED: u8 = 0xff;

/// Aligned to 4 with the MACs right after the address, so that XDP loads an IPv4 address as
/// one word and the MACs as whole words (at offset 19, as the MAC once was, it took six byte
/// loads). The size (36; 28 and 32 before) also keeps pinned tables of older layouts from
/// being adopted.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vip {
    /// An IPv4 address fills the first 4 bytes.
    pub addr: [u8; 16],
    /// Where `VIP_REDIRECT` sends frames.
    pub peer_mac: [u8; 6],
    /// The source MAC of frames `VIP_REDIRECT` sends out of `egress_ifindex` (that interface's
    /// own); unused when they go back out of the interface they came in on (`Control.own_mac`).
    pub egress_mac: [u8; 6],
    /// `FAMILY_IPV4`, `FAMILY_IPV6`, `VIP_EMPTY` or `VIP_REMOVED`.
    pub family: u8,
    /// `VIP_*` bits.
    pub flags: u8,
    /// The virtual router the address belongs to, for `VIP_GUARD`.
    pub vrid: u8,
    pub pad: u8,
    /// For an address on another device than its virtual router's interface, that interface,
    /// where the new master is heard: `VIP_REDIRECT` and a guard send frames out of it
    /// (XDP_REDIRECT), and the guard goes by its takeovers (`TAKEOVERS`). 0: the frames go
    /// back out of the interface they came in on (XDP_TX), and the guard goes by its own
    /// liveness map.
    pub egress_ifindex: u32,
}

/// The slot where the search for an address starts: its bytes folded, so that the
/// consecutive addresses a VIP list usually holds land in consecutive slots.
pub const fn vip_home(addr: &[u8; 16]) -> u32 {
    let mut h = 0u8;
    let mut i = 0;
    while i < 16 {
        h ^= addr[i];
        i += 1;
    }
    h as u32 % VIP_SLOTS
}

/// `vip_home` of an IPv4 address given as its 4 bytes in one word (either byte order: the
/// fold is the same), without folding the 12 zero bytes.
pub const fn vip_home_v4(addr: u32) -> u32 {
    let h = addr ^ (addr >> 16);
    ((h ^ (h >> 8)) & 0xff) % VIP_SLOTS
}

/// A planned handover window: send frames for this address to `peer_mac` (XDP_TX, or
/// XDP_REDIRECT out of `egress_ifindex`). The daemon sets `VIP_QUIET` with it.
pub const VIP_REDIRECT: u8 = 1;
/// Master without accept mode (RFC 5798 §6.4.3): drop IP frames for this address that are
/// not VRRP. ARP and ND still pass: a master must answer them.
pub const VIP_STRICT: u8 = 2;
/// We are master for this address: if the daemon dies and another master takes over
/// (`LIVENESS_ORPHANED`, or `TAKEOVERS` for an address on another device), send frames on to
/// it and stop answering ARP / NS for the address.
pub const VIP_GUARD: u8 = 4;
/// We are leaving Master for this address and still hold it (awaiting the new master, or in
/// the first moment of redirecting to it): drop unsolicited neighbour advertisements for it,
/// which the new master sends as it takes over, and which our kernel would log as a duplicate
/// of its own.
pub const VIP_LEAVING: u8 = 8;
/// Drop ARP requests / NS for this address: after a handover the old master keeps it for a
/// moment (the daemon's `handover::DRAIN`), to answer what it received before, but must not
/// attract clients back.
pub const VIP_QUIET: u8 = 16;

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
    unsafe impl aya::Pod for super::Vip {}
    unsafe impl aya::Pod for super::Takeover {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn layouts_have_no_implicit_padding() {
        assert_eq!(size_of::<Liveness>(), 8 + 8 + 16 + 6 + 1 + 1 + 2 + 6);
        assert_eq!(size_of::<Control>(), 8 * 3 + 6 + 2);
        // A mapped array lays its values out 8 bytes apart: no gap between them either.
        assert_eq!(size_of::<Liveness>() % 8, 0);
        assert_eq!(size_of::<Control>() % 8, 0);
        assert_eq!(size_of::<Vip>(), 16 + 6 + 6 + 1 + 1 + 1 + 1 + 4);
        assert_eq!(core::mem::offset_of!(Vip, peer_mac) % 2, 0);
        assert_eq!(core::mem::offset_of!(Vip, egress_mac) % 2, 0);
        assert_eq!(size_of::<Takeover>(), 4 + 6 + 2);
    }

    #[test]
    fn daemon_counts_as_dead_only_after_a_heartbeat_and_its_timeout() {
        let c = Control {
            heartbeat_ns: 1_000,
            heartbeat_timeout_ns: 500,
            ..Control::default()
        };
        assert!(!c.daemon_dead(1_500));
        assert!(c.daemon_dead(1_501));
        assert!(
            !Control {
                heartbeat_ns: 0,
                ..c
            }
            .daemon_dead(u64::MAX / 2),
            "never beat"
        );
        assert!(
            !Control {
                heartbeat_timeout_ns: 0,
                ..c
            }
            .daemon_dead(u64::MAX / 2),
            "off"
        );
    }

    #[test]
    fn consecutive_vips_have_consecutive_homes() {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[192, 0, 2, 100]);
        let mut b = a;
        b[3] = 101;
        assert_ne!(vip_home(&a), vip_home(&b));
        assert!(vip_home(&a) < VIP_SLOTS);
        for v4 in [
            [192, 0, 2, 100],
            [198, 51, 100, 7],
            [255, 1, 128, 3],
            [0; 4],
        ] {
            a[..4].copy_from_slice(&v4);
            assert_eq!(vip_home_v4(u32::from_ne_bytes(v4)), vip_home(&a));
            assert_eq!(vip_home_v4(u32::from_be_bytes(v4)), vip_home(&a));
        }
        assert_eq!(VipCounter::Dropped.index(3), 7);
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
            flags: 0,
            pad: [0; 5],
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
