//! xvrrp's XDP program: validates VRRP advertisements in the kernel, records the liveness of
//! each virtual router's master, absorbs the adverts that tell the daemon nothing new, and
//! steers frames for virtual addresses that are being handed over (see `steer`).
//!
//! Every other frame is passed after reading its ethertype and its IP protocol (and, in the
//! steering variant, one flag word), without a clock read or a hash lookup.
#![no_std]
#![no_main]

mod advert;
mod frame;
mod liveness;
mod maps;
mod steer;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use vrrp_common::{
    maps::Counter,
    wire::{ethernet, ipv4, ipv6, vlan, vrrp},
};

/// The advert tracker alone: what a backup runs.
#[xdp]
#[inline(always)]
pub fn xvrrp(ctx: XdpContext) -> u32 {
    decide::<false>(&ctx)
}

/// The tracker and VIP steering (`steer`): what runs while some address needs it.
#[xdp]
#[inline(always)]
pub fn xvrrp_steer(ctx: XdpContext) -> u32 {
    decide::<true>(&ctx)
}

#[inline(always)]
fn decide<const STEER: bool>(ctx: &XdpContext) -> u32 {
    // A frame too short to hold an IPv4 protocol field cannot be identified as VRRP. One check
    // up front also covers every constant-offset read of the untagged fast path below.
    if !frame::covers(ctx, ethernet::HEADER_LEN + ipv4::PROTOCOL + 1) {
        return xdp_action::XDP_PASS;
    }
    let Some(ethertype) = frame::ethertype_at(ctx, ethernet::ETHERTYPE) else {
        return xdp_action::XDP_PASS;
    };
    if ethertype == ethernet::ETHERTYPE_VLAN.to_be()
        || ethertype == ethernet::ETHERTYPE_QINQ.to_be()
    {
        const INNER: usize = ethernet::HEADER_LEN + vlan::INNER_ETHERTYPE;
        const L3: usize = ethernet::HEADER_LEN + vlan::TAG_LEN;
        return match frame::ethertype_at(ctx, INNER) {
            Some(inner) => classify::<L3, STEER>(ctx, inner),
            None => xdp_action::XDP_PASS,
        };
    }
    classify::<{ ethernet::HEADER_LEN }, STEER>(ctx, ethertype)
}

/// The rest of the decision, given the ethertype (network byte order, as loaded: no byte swap
/// on the common path) and, as a constant so that each copy reads at fixed offsets, where the
/// IP header starts.
#[inline(always)]
fn classify<const L3: usize, const STEER: bool>(ctx: &XdpContext, ethertype: u16) -> u32 {
    let parsed = if ethertype == ethernet::ETHERTYPE_IPV4.to_be() {
        if frame::u8_at(ctx, L3 + ipv4::PROTOCOL) != Some(vrrp::IP_PROTOCOL) {
            return if STEER {
                steer::ipv4::<L3>(ctx)
            } else {
                xdp_action::XDP_PASS
            };
        }
        advert::parse_v4(ctx, L3)
    } else if ethertype == ethernet::ETHERTYPE_IPV6.to_be() {
        let next_header = frame::u8_at(ctx, L3 + ipv6::NEXT_HEADER);
        if next_header != Some(vrrp::IP_PROTOCOL) {
            return if STEER {
                steer::ipv6::<L3>(ctx, next_header)
            } else {
                xdp_action::XDP_PASS
            };
        }
        advert::parse_v6(ctx, L3)
    } else if STEER && ethertype == ethernet::ETHERTYPE_ARP.to_be() {
        return steer::arp::<L3>(ctx);
    } else {
        return xdp_action::XDP_PASS;
    };
    match parsed {
        Ok(advert) => liveness::record(ctx, &advert),
        Err(reason) => {
            maps::count(Counter::Rejected(reason));
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

/// Sends every frame back out of the interface it came in on. `cargo xtask bench idle` runs it
/// with BPF_PROG_RUN's live frames: the least a master could spend putting its adverts on the
/// wire from the kernel, without a socket.
#[xdp]
pub fn xvrrp_bounce(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_TX
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
