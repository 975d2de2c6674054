//! Telling the XDP program what to do with frames for virtual addresses: hand them to a peer
//! during a handover window, drop them in strict mode, guard them while master; and keeping
//! the heartbeat that tells it the daemon is alive (the dead-man switch of `vrrp-ebpf/steer`).
//!
//! The addresses live in an open-addressed array (`vrrp_common::maps::vip_home`); this side
//! inserts within `VIP_PROBES` slots of an address's home, where the program searches.

use std::{
    mem::offset_of,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use anyhow::{Context as _, bail};
use vrrp_common::maps::{
    self as names, CONTROL_ORPHANED, CONTROL_QUIET, CONTROL_REMOTE_GUARD, CONTROL_STEER, Control,
    FAMILY_IPV4, FAMILY_IPV6, LIVENESS_ORPHANED, TAKEOVER_ANY, Takeover, VIP_EMPTY, VIP_GUARD,
    VIP_LEAVING, VIP_PROBES, VIP_QUIET, VIP_REDIRECT, VIP_REMOVED, VIP_SLOTS, VIP_STRICT, Vip,
    VipCounter, vip_home,
};

use super::Dataplane;
use crate::time::Monotonic;

/// What XDP does with frames for one virtual address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipSteering {
    /// The virtual router the address belongs to.
    pub vrid: u8,
    /// A planned handover: send IP frames for the address to this MAC (the new master's).
    pub redirect_to: Option<[u8; 6]>,
    /// The interface (index, MAC) a redirect leaves by (XDP_REDIRECT), its MAC the frames'
    /// new source, when `redirect_to` is not reached through the interface they came in on:
    /// for an address on another device than its virtual router's interface.
    pub egress: Option<(u32, [u8; 6])>,
    /// Master without accept mode: drop IP frames for the address (ARP / ND still pass).
    pub strict: bool,
    /// Master: should the daemon die and another router take over, send frames on to it and
    /// stop answering ARP / NS for the address.
    pub guard: bool,
    /// Leaving Master (a handover) while still holding the address: drop the new master's
    /// unsolicited neighbour advertisements for it, which our kernel would log as duplicates.
    pub leaving: bool,
    /// A handover: drop ARP requests / NS for the address, which we may still hold but must not
    /// attract clients back to.
    pub quiet: bool,
}

/// An address XDP steers, and what it did with its frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipState {
    pub addr: IpAddr,
    pub steering: VipSteering,
    pub redirected: u64,
    pub dropped: u64,
}

impl Dataplane {
    /// Sets (or replaces) what XDP does for `addr`, and attaches the steering variant of the
    /// program if it was not.
    /// Refuses to redirect to the MAC of the interface the frames leave by (see `set_own_mac`
    /// and `egress`): they would come straight back.
    pub fn set_vip(&mut self, addr: IpAddr, steering: VipSteering) -> anyhow::Result<()> {
        let own = steering
            .egress
            .map_or(self.control.get(0).own_mac, |(_, mac)| mac);
        if steering.redirect_to == Some(own) {
            bail!("refusing to redirect {addr} to our own MAC");
        }
        let (bytes, family) = parts(addr);
        let slot = match self.find(addr)? {
            Some(slot) => slot,
            None => self.free_slot(&bytes)?.with_context(|| {
                format!("no room to steer {addr}: {VIP_PROBES} slots from its home are taken")
            })?,
        };
        let vip = Vip {
            addr: bytes,
            family,
            flags: (if steering.redirect_to.is_some() {
                VIP_REDIRECT
            } else {
                0
            }) | (if steering.strict { VIP_STRICT } else { 0 })
                | (if steering.guard { VIP_GUARD } else { 0 })
                | (if steering.leaving { VIP_LEAVING } else { 0 })
                | (if steering.quiet { VIP_QUIET } else { 0 }),
            vrid: steering.vrid,
            peer_mac: steering.redirect_to.unwrap_or_default(),
            egress_mac: steering.egress.map(|(_, mac)| mac).unwrap_or_default(),
            egress_ifindex: steering.egress.map_or(0, |(ifindex, _)| ifindex),
            pad: 0,
        };
        self.vips
            .set(slot, vip, 0)
            .with_context(|| format!("steering {addr} in XDP"))?;
        self.refresh_steering()
    }

    /// Stops steering `addr` (its frames pass untouched again); nothing to do if it was not.
    pub fn remove_vip(&mut self, addr: IpAddr) -> anyhow::Result<()> {
        if let Some(slot) = self.find(addr)? {
            let removed = Vip {
                family: VIP_REMOVED,
                ..Vip::default()
            };
            self.vips
                .set(slot, removed, 0)
                .with_context(|| format!("unsteering {addr}"))?;
            // A fresh address in this slot must not inherit the old one's counts.
            for c in [VipCounter::Redirected, VipCounter::Dropped] {
                let zeros = vec![0u64; aya::util::nr_cpus().map_err(|(_, e)| e)?];
                self.vip_counters.set(c.index(slot), zeros.try_into()?, 0)?;
            }
        }
        self.refresh_steering()
    }

    /// Every address XDP steers, with its counters.
    pub fn vips(&self) -> anyhow::Result<Vec<VipState>> {
        let mut out = Vec::new();
        for slot in 0..VIP_SLOTS {
            let vip = self.vips.get(&slot, 0)?;
            if vip.family != FAMILY_IPV4 && vip.family != FAMILY_IPV6 {
                continue;
            }
            let count = |c: VipCounter| -> anyhow::Result<u64> {
                Ok(self.vip_counters.get(&c.index(slot), 0)?.iter().sum())
            };
            out.push(VipState {
                addr: address(&vip),
                steering: VipSteering {
                    vrid: vip.vrid,
                    redirect_to: (vip.flags & VIP_REDIRECT != 0).then_some(vip.peer_mac),
                    egress: (vip.egress_ifindex != 0)
                        .then_some((vip.egress_ifindex, vip.egress_mac)),
                    strict: vip.flags & VIP_STRICT != 0,
                    guard: vip.flags & VIP_GUARD != 0,
                    leaving: vip.flags & VIP_LEAVING != 0,
                    quiet: vip.flags & VIP_QUIET != 0,
                },
                redirected: count(VipCounter::Redirected)?,
                dropped: count(VipCounter::Dropped)?,
            });
        }
        Ok(out)
    }

    /// The interface's MAC, the source of frames XDP sends on.
    pub fn set_own_mac(&mut self, mac: [u8; 6]) {
        self.update_control(|c| c.own_mac = mac)
    }

    /// A sign of life at `now`: if none follows within `timeout`, XDP counts the daemon as dead
    /// and lets guarded addresses follow the router that takes over. A zero `timeout` disarms
    /// the switch.
    pub fn heartbeat(&mut self, now: Monotonic, timeout: Duration) {
        let timeout = timeout.as_nanos() as u64;
        self.control
            .set_field(0, offset_of!(Control, heartbeat_timeout_ns), timeout);
        self.control
            .set_field(0, offset_of!(Control, heartbeat_ns), now.0);
    }

    /// For a daemon taking over from a dead one: forget which routers took over meanwhile.
    pub fn clear_orphaned(&mut self) -> anyhow::Result<()> {
        for slot in 0..names::LIVENESS_SLOTS {
            let mut entry = self.liveness.get(slot);
            if entry.flags & LIVENESS_ORPHANED != 0 {
                entry.flags &= !LIVENESS_ORPHANED;
                self.liveness.set(slot, entry);
            }
        }
        self.update_control(|c| c.flags &= !CONTROL_ORPHANED);
        self.forget_takeovers()
    }

    /// Forgets the takeovers this interface's program recorded for the other devices
    /// (`TAKEOVERS`): the daemon is alive, and guards those devices' VIPs itself again.
    pub fn forget_takeovers(&mut self) -> anyhow::Result<()> {
        let Some(link) = &self.link else {
            return Ok(());
        };
        // One read in the usual case, where nothing was ever recorded: this runs whenever the
        // switch is armed, as a new master starts, on the loop its first GARPs wait for.
        if self.takeovers.get(&TAKEOVER_ANY, 0)?.ifindex == 0 {
            return Ok(());
        }
        let ifindex = crate::net::iface::Interface::by_name(&link.interface)?.index();
        let mut any = 0;
        for slot in 0..names::LIVENESS_SLOTS {
            let taken = self.takeovers.get(&slot, 0)?;
            if taken.ifindex == ifindex {
                self.takeovers.set(slot, Takeover::default(), 0)?;
            } else if taken.ifindex != 0 {
                any = taken.ifindex;
            }
        }
        let summary = Takeover {
            ifindex: any,
            ..Takeover::default()
        };
        self.takeovers.set(TAKEOVER_ANY, summary, 0)?;
        Ok(())
    }

    /// The variant of the program the table needs: steering while any address is in it.
    pub(super) fn wanted_program(&self) -> &'static str {
        if self.steering {
            names::STEER_PROGRAM
        } else {
            names::PROGRAM
        }
    }

    /// Keeps `CONTROL_STEER` on exactly while some address needs a lookup on every IP frame
    /// (`CONTROL_QUIET`: on every ARP request), and the attached variant in line with the
    /// table.
    pub(super) fn refresh_steering(&mut self) -> anyhow::Result<()> {
        let vips = self.vips()?;
        let quiet = vips.iter().any(|v| v.steering.quiet);
        let lookups = quiet
            || vips.iter().any(|v| {
                v.steering.redirect_to.is_some() || v.steering.strict || v.steering.leaving
            });
        let remote_guards = vips
            .iter()
            .any(|v| v.steering.guard && v.steering.egress.is_some());
        let set = |flags: u64, bit: u64, on: bool| if on { flags | bit } else { flags & !bit };
        self.update_control(|c| {
            c.flags = set(c.flags, CONTROL_STEER, lookups);
            c.flags = set(c.flags, CONTROL_QUIET, quiet);
            c.flags = set(c.flags, CONTROL_REMOTE_GUARD, remote_guards);
        });
        self.steering = !vips.is_empty();
        self.sync_program()
    }

    /// The slot holding `addr`, searched as the program searches.
    fn find(&self, addr: IpAddr) -> anyhow::Result<Option<u32>> {
        let (bytes, family) = parts(addr);
        for slot in probes(&bytes) {
            let vip = self.vips.get(&slot, 0)?;
            if vip.family == VIP_EMPTY {
                return Ok(None);
            }
            if vip.family == family && vip.addr == bytes {
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }

    /// The first slot on `addr`'s probe sequence that holds no address.
    fn free_slot(&self, bytes: &[u8; 16]) -> anyhow::Result<Option<u32>> {
        for slot in probes(bytes) {
            let family = self.vips.get(&slot, 0)?.family;
            if family == VIP_EMPTY || family == VIP_REMOVED {
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }
}

fn probes(bytes: &[u8; 16]) -> impl Iterator<Item = u32> {
    let home = vip_home(bytes);
    (0..VIP_PROBES).map(move |i| (home + i) % VIP_SLOTS)
}

fn parts(addr: IpAddr) -> ([u8; 16], u8) {
    match addr {
        IpAddr::V4(a) => {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&a.octets());
            (bytes, FAMILY_IPV4)
        }
        IpAddr::V6(a) => (a.octets(), FAMILY_IPV6),
    }
}

fn address(vip: &Vip) -> IpAddr {
    if vip.family == FAMILY_IPV4 {
        let [a, b, c, d, ..] = vip.addr;
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    } else {
        IpAddr::V6(Ipv6Addr::from(vip.addr))
    }
}
