//! The XDP maps' raw values turned into the daemon's types.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use aya::maps::{MapData, PerCpuArray};
use vrrp_common::maps::{Counter, FAMILY_IPV4, LIVENESS_ORPHANED, Liveness, LivenessKey};

use crate::time::{Centisecs, Monotonic};

/// The last valid advert the XDP program saw from one virtual router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterLiveness {
    pub key: LivenessKey,
    pub last_seen: Monotonic,
    pub adverts: u64,
    pub sender: IpAddr,
    pub sender_mac: [u8; 6],
    pub priority: u8,
    pub version: u8,
    pub interval: Centisecs,
    /// This router took over while our daemon was dead (the XDP dead-man switch).
    pub orphaned: bool,
}

impl RouterLiveness {
    pub fn new(key: LivenessKey, raw: Liveness) -> Self {
        let sender = if key.family == FAMILY_IPV4 {
            let [a, b, c, d, ..] = raw.sender;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        } else {
            IpAddr::V6(Ipv6Addr::from(raw.sender))
        };
        Self {
            key,
            last_seen: Monotonic(raw.last_seen_ns),
            adverts: raw.adverts,
            sender,
            sender_mac: raw.sender_mac,
            priority: raw.priority,
            version: raw.version,
            interval: Centisecs(u32::from(raw.interval_cs)),
            orphaned: raw.flags & LIVENESS_ORPHANED != 0,
        }
    }
}

impl fmt::Display for RouterLiveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.sender_mac;
        write!(
            f,
            "vrid {} v{} from {} ({:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}) prio {} every {}, {} adverts",
            self.key.vrid,
            self.version,
            self.sender,
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[5],
            self.priority,
            self.interval,
            self.adverts
        )
    }
}

/// The program's counters, summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters([u64; Counter::SLOTS as usize]);

impl Counters {
    pub(super) fn read(map: &PerCpuArray<MapData, u64>) -> anyhow::Result<Self> {
        let mut sums = [0u64; Counter::SLOTS as usize];
        for (slot, sum) in sums.iter_mut().enumerate() {
            *sum = map.get(&(slot as u32), 0)?.iter().sum();
        }
        Ok(Counters(sums))
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter.slot() as usize]
    }

    /// Every counter with its name, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        Counter::all().map(|c| (c, self.get(c)))
    }
}
