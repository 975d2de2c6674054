//! What a valid advert does to its virtual router's liveness slot, and the dead-man switch.

use aya_ebpf::{bindings::xdp_action, helpers::bpf_ktime_get_coarse_ns, programs::XdpContext};
use vrrp_common::{
    maps::{
        CONTROL_ABSORB, CONTROL_ORPHANED, Counter, LIVENESS_ORPHANED, Liveness, LivenessKey,
        TAKEOVER_ANY, Takeover,
    },
    wire::vrrp,
};

use crate::{
    advert::Advert,
    maps::{CONTROL, LIVENESS, TAKEOVERS, control, count},
};

/// Updates the liveness slot of the advert's virtual router, heard in `ctx`; drops the advert
/// when it repeats what the slot held and absorption is on, passes it to the daemon otherwise.
#[inline(always)]
pub fn record(ctx: &XdpContext, advert: &Advert) -> u32 {
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
    let control = control();
    let mut flags = entry.flags;
    // Another router advertises while our daemon is dead: it has taken over, and VIPs a dead
    // master left on the interface must follow it (see `steer`).
    if advert.priority != vrrp::PRIORITY_STOP && control.daemon_dead(now) {
        flags |= LIVENESS_ORPHANED;
        orphaned(ctx, slot, &advert.sender_mac, control.flags);
    }
    let seen = Liveness {
        last_seen_ns: now,
        adverts: entry.adverts + 1,
        sender: advert.sender,
        sender_mac: advert.sender_mac,
        priority: advert.priority,
        version: advert.version,
        interval_cs: advert.interval_cs,
        flags,
        // Copied rather than zeroed: zeroing five bytes is a call to memset in BPF.
        pad: entry.pad,
    };
    if entry.adverts != 0 && entry.same_advert(&seen) {
        entry.last_seen_ns = now;
        entry.adverts = seen.adverts;
        entry.flags = flags;
        if control.flags & CONTROL_ABSORB != 0 {
            count(Counter::Absorbed);
            return xdp_action::XDP_DROP;
        }
    } else {
        *entry = seen;
    }
    count(Counter::Passed);
    xdp_action::XDP_PASS
}

/// Records that the router with `sender_mac` took over virtual router `slot` from our dead
/// daemon: in the control flags, and in `TAKEOVERS` for the VIPs on other devices, whose
/// programs never hear it. Out of line: a path taken only after the daemon died, kept out of
/// the registers of the one every advert takes.
#[inline(never)]
fn orphaned(ctx: &XdpContext, slot: u32, sender_mac: &[u8; 6], control_flags: u64) {
    if control_flags & CONTROL_ORPHANED == 0 {
        if let Some(c) = CONTROL.get_ptr_mut(0) {
            // SAFETY: the single slot of the control array; the daemon that writes it is
            // dead, and a restarted one rewrites the whole value anyway.
            unsafe { (*c).flags |= CONTROL_ORPHANED };
        }
    }
    // SAFETY: the context the kernel passed this run.
    let ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
    if let (Some(t), Some(any)) = (
        TAKEOVERS.get_ptr_mut(slot),
        TAKEOVERS.get_ptr_mut(TAKEOVER_ANY),
    ) {
        // SAFETY: slots of an array every program of the daemon shares; only programs whose
        // daemon is dead write them, and a restarted daemon clears them.
        unsafe {
            *t = Takeover {
                ifindex,
                sender_mac: *sender_mac,
                pad: [0; 2],
            };
            (*any).ifindex = ifindex;
        }
    }
}
