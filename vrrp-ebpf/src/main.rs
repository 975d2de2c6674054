//! xvrrp's XDP program: validates VRRP advertisements in the kernel, records the liveness of
//! each virtual router's master, and absorbs the adverts that tell the daemon nothing new.
//!
//! Every other frame is passed after reading its ethertype and IP protocol, without a clock
//! read or a map lookup.
#![no_std]
#![no_main]

mod advert;
mod frame;

use aya_ebpf::{
    bindings::xdp_action,
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{Array, HashMap, PerCpuArray},
    programs::XdpContext,
};
use vrrp_common::{
    maps::{self, CONTROL_ABSORB, Control, Counter, Liveness, LivenessKey},
    wire::{ethernet, ipv4, ipv6, vlan, vrrp},
};

use advert::Advert;

#[map(name = "LIVENESS")]
static LIVENESS: HashMap<LivenessKey, Liveness> =
    HashMap::with_max_entries(maps::LIVENESS_MAX_ENTRIES, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::SLOTS, 0);

#[map(name = "CONTROL")]
static CONTROL: Array<Control> = Array::with_max_entries(1, 0);

#[xdp]
pub fn xvrrp(ctx: XdpContext) -> u32 {
    let Some((ethertype, l3)) = l3_start(&ctx) else {
        return xdp_action::XDP_PASS;
    };
    let parsed = match ethertype {
        ethernet::ETHERTYPE_IPV4 => {
            if frame::u8_at(&ctx, l3 + ipv4::PROTOCOL) != Some(vrrp::IP_PROTOCOL) {
                return xdp_action::XDP_PASS;
            }
            advert::parse_v4(&ctx, l3)
        }
        ethernet::ETHERTYPE_IPV6 => {
            if frame::u8_at(&ctx, l3 + ipv6::NEXT_HEADER) != Some(vrrp::IP_PROTOCOL) {
                return xdp_action::XDP_PASS;
            }
            advert::parse_v6(&ctx, l3)
        }
        _ => return xdp_action::XDP_PASS,
    };
    match parsed {
        Ok(advert) => record(&ctx, &advert),
        Err(reason) => {
            count(Counter::Rejected(reason));
            xdp_action::XDP_DROP
        }
    }
}

/// Passes every frame. The baseline of `cargo xtask bench xdp`, and what a lab attaches to the
/// far end of a veth, where frames sent with `XDP_TX` are dropped unless a program is attached.
#[xdp]
pub fn xvrrp_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

/// The ethertype after at most one VLAN tag, and the offset of the header it announces.
#[inline(always)]
fn l3_start(ctx: &XdpContext) -> Option<(u16, usize)> {
    let ethertype = frame::be16_at(ctx, ethernet::ETHERTYPE)?;
    if ethertype == ethernet::ETHERTYPE_VLAN || ethertype == ethernet::ETHERTYPE_QINQ {
        let inner = frame::be16_at(ctx, ethernet::HEADER_LEN + vlan::INNER_ETHERTYPE)?;
        return Some((inner, ethernet::HEADER_LEN + vlan::TAG_LEN));
    }
    Some((ethertype, ethernet::HEADER_LEN))
}

/// Updates the liveness entry of the advert's virtual router; drops the advert when it repeats
/// what the entry held and absorption is on, passes it to the daemon otherwise.
#[inline(always)]
fn record(ctx: &XdpContext, advert: &Advert) -> u32 {
    let now = unsafe { bpf_ktime_get_ns() };
    let key = LivenessKey::new(ctx.ingress_ifindex() as u32, advert.vrid, advert.family);
    let mut seen = Liveness {
        last_seen_ns: now,
        adverts: 1,
        sender: advert.sender,
        sender_mac: advert.sender_mac,
        priority: advert.priority,
        version: advert.version,
        interval_cs: advert.interval_cs,
        pad: [0; 6],
    };
    if let Some(entry) = LIVENESS.get_ptr_mut(&key) {
        // SAFETY: a pointer into the map's value, valid for this program run. Concurrent
        // updates from other CPUs can at worst lose a count or a timestamp that the next
        // advert rewrites.
        let entry = unsafe { &mut *entry };
        if entry.same_advert(&seen) {
            entry.last_seen_ns = now;
            entry.adverts += 1;
            if absorbing() {
                count(Counter::Absorbed);
                return xdp_action::XDP_DROP;
            }
            count(Counter::Passed);
            return xdp_action::XDP_PASS;
        }
        seen.adverts = entry.adverts + 1;
    }
    // A full map cannot hold a new router; the advert still reaches the daemon.
    let _ = LIVENESS.insert(&key, &seen, 0);
    count(Counter::Passed);
    xdp_action::XDP_PASS
}

#[inline(always)]
fn absorbing() -> bool {
    CONTROL.get(0).is_some_and(|c| c.flags & CONTROL_ABSORB != 0)
}

#[inline(always)]
fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter.slot()) {
        // SAFETY: this CPU's own slot; nothing else writes it while the program runs.
        unsafe { *slot += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
