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
    helpers::bpf_ktime_get_coarse_ns,
    macros::{map, xdp},
    maps::{Array, PerCpuArray},
    programs::XdpContext,
};
use vrrp_common::{
    maps::{self, CONTROL_ABSORB, Control, Counter, Liveness, LivenessKey},
    wire::{ethernet, ipv4, ipv6, vlan, vrrp},
};

use advert::Advert;

#[map(name = "LIVENESS")]
static LIVENESS: Array<Liveness> = Array::with_max_entries(maps::LIVENESS_SLOTS, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::SLOTS, 0);

#[map(name = "CONTROL")]
static CONTROL: Array<Control> = Array::with_max_entries(1, 0);

#[xdp]
pub fn xvrrp(ctx: XdpContext) -> u32 {
    // A frame too short to hold an IPv4 protocol field cannot be identified as VRRP. One check
    // up front also covers every constant-offset read of the untagged fast path below.
    if !frame::covers(&ctx, ethernet::HEADER_LEN + ipv4::PROTOCOL + 1) {
        return xdp_action::XDP_PASS;
    }
    let Some(ethertype) = frame::ethertype_at(&ctx, ethernet::ETHERTYPE) else {
        return xdp_action::XDP_PASS;
    };
    if ethertype == ethernet::ETHERTYPE_VLAN.to_be()
        || ethertype == ethernet::ETHERTYPE_QINQ.to_be()
    {
        const INNER: usize = ethernet::HEADER_LEN + vlan::INNER_ETHERTYPE;
        return match frame::ethertype_at(&ctx, INNER) {
            Some(inner) => classify::<{ ethernet::HEADER_LEN + vlan::TAG_LEN }>(&ctx, inner),
            None => xdp_action::XDP_PASS,
        };
    }
    classify::<{ ethernet::HEADER_LEN }>(&ctx, ethertype)
}

/// The rest of the decision, given the ethertype (network byte order, as loaded: no byte swap
/// on the common path) and, as a constant so that each copy reads at fixed offsets, where the
/// IP header starts.
#[inline(always)]
fn classify<const L3: usize>(ctx: &XdpContext, ethertype: u16) -> u32 {
    let parsed = if ethertype == ethernet::ETHERTYPE_IPV4.to_be() {
        if frame::u8_at(ctx, L3 + ipv4::PROTOCOL) != Some(vrrp::IP_PROTOCOL) {
            return xdp_action::XDP_PASS;
        }
        advert::parse_v4(ctx, L3)
    } else if ethertype == ethernet::ETHERTYPE_IPV6.to_be() {
        if frame::u8_at(ctx, L3 + ipv6::NEXT_HEADER) != Some(vrrp::IP_PROTOCOL) {
            return xdp_action::XDP_PASS;
        }
        advert::parse_v6(ctx, L3)
    } else {
        return xdp_action::XDP_PASS;
    };
    match parsed {
        Ok(advert) => record(&advert),
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

/// Updates the liveness slot of the advert's virtual router; drops the advert when it repeats
/// what the slot held and absorption is on, passes it to the daemon otherwise.
#[inline(always)]
fn record(advert: &Advert) -> u32 {
    let slot = LivenessKey::new(advert.vrid, advert.family).slot();
    let Some(entry) = LIVENESS.get_ptr_mut(slot) else {
        return xdp_action::XDP_PASS;
    };
    // SAFETY: a pointer into the array's value, valid for this program run. Writes are not
    // atomic: a concurrent reader may see a half-updated entry, which the next read corrects;
    // a changed advert also reaches the daemon's socket, which is what it acts on.
    let entry = unsafe { &mut *entry };
    // The coarse clock (one jiffy of resolution, CLOCK_MONOTONIC_COARSE) costs a fraction of
    // bpf_ktime_get_ns; a few milliseconds are nothing beside a master-down interval.
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let seen = Liveness {
        last_seen_ns: now,
        adverts: entry.adverts + 1,
        sender: advert.sender,
        sender_mac: advert.sender_mac,
        priority: advert.priority,
        version: advert.version,
        interval_cs: advert.interval_cs,
        pad: [0; 6],
    };
    if entry.adverts != 0 && entry.same_advert(&seen) {
        entry.last_seen_ns = now;
        entry.adverts = seen.adverts;
        if absorbing() {
            count(Counter::Absorbed);
            return xdp_action::XDP_DROP;
        }
    } else {
        *entry = seen;
    }
    count(Counter::Passed);
    xdp_action::XDP_PASS
}

#[inline(always)]
fn absorbing() -> bool {
    CONTROL
        .get(0)
        .is_some_and(|c| c.flags & CONTROL_ABSORB != 0)
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
