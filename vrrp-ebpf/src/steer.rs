//! Frames for virtual addresses: sent on to the new master during a handover window or after
//! the daemon died as master (also for an address on another device than its virtual
//! router's interface, through `TAKEOVERS`), dropped where strict mode (no accept) says so.
//!
//! Only the `xvrrp_steer` variant of the program has this code; the daemon attaches it while
//! some address needs it, so that a backup pays nothing per frame. Even there, a frame reaches
//! the VIP table only when the control flags say some address needs a lookup. VRRP never comes
//! here (the advert path takes it first); ARP and ND are never sent on, only dropped for a
//! quiet or orphaned address, whose copy on the interface must stop answering for it (and
//! neighbour advertisements for an address we are leaving, see `VIP_LEAVING`).

use aya_ebpf::{bindings::xdp_action, helpers::bpf_redirect, programs::XdpContext};
use vrrp_common::{
    maps::{
        CONTROL_ORPHANED, CONTROL_QUIET, CONTROL_REMOTE_GUARD, CONTROL_STEER, Control, FAMILY_IPV4,
        FAMILY_IPV6, LIVENESS_ORPHANED, LivenessKey, TAKEOVER_ANY, VIP_EMPTY, VIP_GUARD,
        VIP_LEAVING, VIP_PROBES, VIP_QUIET, VIP_REDIRECT, VIP_SLOTS, VIP_STRICT, Vip, VipCounter,
        vip_home, vip_home_v4,
    },
    wire::{arp, icmpv6, ipv4, ipv6},
};

use crate::{
    frame,
    maps::{LIVENESS, TAKEOVERS, VIPS, control, count_vip},
};

#[inline(always)]
pub fn ipv4<const L3: usize>(ctx: &XdpContext) -> u32 {
    let control = control();
    if !lookups(control) {
        return xdp_action::XDP_PASS;
    }
    match frame::word32_at(ctx, L3 + ipv4::DST) {
        Some(dst) => ip(ctx, control, find_v4(dst), FAMILY_IPV4),
        None => xdp_action::XDP_PASS,
    }
}

#[inline(always)]
pub fn ipv6<const L3: usize>(ctx: &XdpContext, next_header: Option<u8>) -> u32 {
    let control = control();
    if !lookups(control) {
        return xdp_action::XDP_PASS;
    }
    if next_header == Some(icmpv6::NEXT_HEADER) {
        let icmp = L3 + ipv6::HEADER_LEN;
        match frame::u8_at(ctx, icmp + icmpv6::TYPE) {
            Some(icmpv6::TYPE_NEIGHBOR_SOLICIT) => {
                return match frame::bytes_at::<8, 16>(ctx, icmp + icmpv6::TARGET) {
                    Some(target) => neighbour_query(find_v6(&target), FAMILY_IPV6),
                    None => xdp_action::XDP_PASS,
                };
            }
            // Unsolicited only: a solicited one answers our own query, which must be answered.
            Some(icmpv6::TYPE_NEIGHBOR_ADVERT)
                if frame::u8_at(ctx, icmp + icmpv6::FLAGS)
                    .is_some_and(|f| f & icmpv6::FLAG_SOLICITED == 0) =>
            {
                return match frame::bytes_at::<8, 16>(ctx, icmp + icmpv6::TARGET) {
                    Some(target) => neighbour_advert(find_v6(&target)),
                    None => xdp_action::XDP_PASS,
                };
            }
            Some(icmpv6::TYPE_ROUTER_SOLICIT..=icmpv6::TYPE_REDIRECT) => {
                return xdp_action::XDP_PASS;
            }
            _ => {}
        }
    }
    match frame::bytes_at::<8, 16>(ctx, L3 + ipv6::DST) {
        Some(dst) => ip(ctx, control, find_v6(&dst), FAMILY_IPV6),
        None => xdp_action::XDP_PASS,
    }
}

#[inline(always)]
pub fn arp<const L3: usize>(ctx: &XdpContext) -> u32 {
    let control = control();
    if !(control.flags & (CONTROL_ORPHANED | CONTROL_QUIET) != 0 || remote_takeover(control))
        || frame::be16_at(ctx, L3 + arp::OPERATION) != Some(arp::OPERATION_REQUEST)
    {
        return xdp_action::XDP_PASS;
    }
    match frame::word32_at(ctx, L3 + arp::TARGET_PROTOCOL_ADDR) {
        Some(target) => neighbour_query(find_v4(target), FAMILY_IPV4),
        None => xdp_action::XDP_PASS,
    }
}

/// Whether IP frames must be looked up in the VIP table: some address here needs it
/// (`CONTROL_STEER`), a router took over from our dead daemon on this interface
/// (`CONTROL_ORPHANED`), or on another one that guards addresses here.
#[inline(always)]
fn lookups(control: &Control) -> bool {
    control.flags & (CONTROL_STEER | CONTROL_ORPHANED) != 0 || remote_takeover(control)
}

/// Whether addresses here are guarded from another interface and a router took over there.
#[inline(always)]
fn remote_takeover(control: &Control) -> bool {
    control.flags & CONTROL_REMOTE_GUARD != 0
        && TAKEOVERS.get(TAKEOVER_ANY).is_some_and(|t| t.ifindex != 0)
}

/// An IP frame for the address `found` holds: sent on, dropped or passed as its VIP entry
/// says. `control` is the control slot the caller already read, passed on rather than looked
/// up again.
#[inline(always)]
fn ip(ctx: &XdpContext, control: &Control, found: Option<(u32, &Vip)>, family: u8) -> u32 {
    let Some((slot, vip)) = found else {
        return xdp_action::XDP_PASS;
    };
    if vip.flags & VIP_REDIRECT != 0 {
        return send_to(ctx, control, vip, vip.peer_mac, slot);
    }
    if let Some(new_master) = orphaned_to(vip, family) {
        return send_to(ctx, control, vip, new_master, slot);
    }
    if vip.flags & VIP_STRICT != 0 {
        count_vip(slot, VipCounter::Dropped);
        return xdp_action::XDP_DROP;
    }
    xdp_action::XDP_PASS
}

/// An ARP request or neighbour solicitation for the address `found` holds: dropped while the
/// address is quiet (a handover) or orphaned, so that the copy the old master still holds, or
/// a dead master left, on the interface stops attracting traffic.
#[inline(always)]
fn neighbour_query(found: Option<(u32, &Vip)>, family: u8) -> u32 {
    if let Some((slot, vip)) = found {
        if vip.flags & VIP_QUIET != 0 || orphaned_to(vip, family).is_some() {
            count_vip(slot, VipCounter::Dropped);
            return xdp_action::XDP_DROP;
        }
    }
    xdp_action::XDP_PASS
}

/// An unsolicited neighbour advertisement for the address `found` holds: dropped while we leave
/// Master for it still holding it, as the new master announces it (our kernel would log each
/// as a duplicate of its own).
#[inline(always)]
fn neighbour_advert(found: Option<(u32, &Vip)>) -> u32 {
    if let Some((slot, vip)) = found {
        if vip.flags & VIP_LEAVING != 0 {
            count_vip(slot, VipCounter::Dropped);
            return xdp_action::XDP_DROP;
        }
    }
    xdp_action::XDP_PASS
}

/// The table slot holding the IPv4 address whose 4 bytes `addr` holds in memory order.
#[inline(always)]
fn find_v4(addr: u32) -> Option<(u32, &'static Vip)> {
    find(vip_home_v4(addr), FAMILY_IPV4, |vip| {
        let a = &vip.addr;
        u32::from_ne_bytes([a[0], a[1], a[2], a[3]]) == addr
    })
}

#[inline(always)]
fn find_v6(addr: &[u8; 16]) -> Option<(u32, &'static Vip)> {
    find(vip_home(addr), FAMILY_IPV6, |vip| bytes_eq(&vip.addr, addr))
}

/// The table slot of the `family` address that `holds` it: from its `home` slot, up to
/// `VIP_PROBES` slots on, stopping at the first never-used one (the daemon inserts within the
/// same bound).
#[inline(always)]
fn find(home: u32, family: u8, holds: impl Fn(&Vip) -> bool) -> Option<(u32, &'static Vip)> {
    let mut i = 0;
    while i < VIP_PROBES {
        let slot = (home + i) % VIP_SLOTS;
        let vip = VIPS.get(slot)?;
        if vip.family == VIP_EMPTY {
            return None;
        }
        if vip.family == family && holds(vip) {
            return Some((slot, vip));
        }
        i += 1;
    }
    None
}

/// The MAC of the router that took over a guarded address after our daemon died: as this
/// interface's liveness map has it, or, for an address guarded from its virtual router's
/// interface, as that interface's program recorded it.
#[inline(always)]
fn orphaned_to(vip: &Vip, family: u8) -> Option<[u8; 6]> {
    if vip.flags & VIP_GUARD == 0 {
        return None;
    }
    let key = LivenessKey::new(vip.vrid, family).slot();
    if vip.egress_ifindex != 0 {
        let taken = TAKEOVERS.get(key)?;
        return (taken.ifindex == vip.egress_ifindex).then_some(taken.sender_mac);
    }
    let slot = LIVENESS.get(key)?;
    (slot.flags & LIVENESS_ORPHANED != 0).then_some(slot.sender_mac)
}

/// Sends the frame on to `to`: out of the VIP's egress interface, with that interface's MAC as
/// the source, when it has one; back out of this one otherwise.
#[inline(always)]
fn send_to(ctx: &XdpContext, control: &Control, vip: &Vip, to: [u8; 6], slot: u32) -> u32 {
    if vip.egress_ifindex != 0 {
        return send_on(ctx, to, vip.egress_mac, vip.egress_ifindex, slot);
    }
    send_on(ctx, to, control.own_mac, 0, slot)
}

/// Rewrites the frame from `from` (our MAC on the way out) to `to` and transmits it: back out
/// of the interface it came in (`egress` 0, XDP_TX), or out of interface `egress`
/// (XDP_REDIRECT), for an address on another device than the one the new master is heard on.
/// Never back to the router it came from (that would loop); never to ourselves either, which
/// the daemon guarantees (`Dataplane::set_vip` refuses our own MAC, and a router we hear
/// adverts from is never us).
#[inline(always)]
fn send_on(ctx: &XdpContext, to: [u8; 6], from: [u8; 6], egress: u32, slot: u32) -> u32 {
    let to = mac_words(to);
    let Some(macs) = frame::macs_mut(ctx) else {
        return xdp_action::XDP_PASS;
    };
    if macs[3] == to[0] && macs[4] == to[1] && macs[5] == to[2] {
        return xdp_action::XDP_PASS;
    }
    let from = mac_words(from);
    *macs = [to[0], to[1], to[2], from[0], from[1], from[2]];
    count_vip(slot, VipCounter::Redirected);
    if egress == 0 {
        return xdp_action::XDP_TX;
    }
    // SAFETY: a helper call with plain integer arguments; it returns XDP_REDIRECT, or
    // XDP_ABORTED for flags it does not know.
    unsafe { bpf_redirect(egress, 0) as u32 }
}

/// A MAC as the three 16-bit words the frame holds it in.
#[inline(always)]
fn mac_words(m: [u8; 6]) -> [u16; 3] {
    [
        u16::from_ne_bytes([m[0], m[1]]),
        u16::from_ne_bytes([m[2], m[3]]),
        u16::from_ne_bytes([m[4], m[5]]),
    ]
}

/// Byte by byte: an array comparison could become a `bcmp` call, which BPF does not have.
#[inline(always)]
fn bytes_eq<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    let mut diff = 0;
    let mut i = 0;
    while i < N {
        diff |= a[i] ^ b[i];
        i += 1;
    }
    diff == 0
}
