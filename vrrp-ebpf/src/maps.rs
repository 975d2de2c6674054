//! The program's maps (layouts and names in `vrrp_common::maps`) and the counter helper.

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray},
};
use vrrp_common::maps::{self as layout, Control, Counter, Liveness, Takeover, Vip, VipCounter};

#[map(name = "LIVENESS")]
pub static LIVENESS: Array<Liveness> =
    Array::with_max_entries(layout::LIVENESS_SLOTS, layout::SHARED_MEMORY);

#[map(name = "COUNTERS")]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::SLOTS, 0);

#[map(name = "CONTROL")]
pub static CONTROL: Array<Control> = Array::with_max_entries(1, layout::SHARED_MEMORY);

#[map(name = "VIPS")]
pub static VIPS: Array<Vip> = Array::with_max_entries(layout::VIP_SLOTS, 0);

#[map(name = "TAKEOVERS")]
pub static TAKEOVERS: Array<Takeover> = Array::with_max_entries(layout::TAKEOVER_SLOTS, 0);

#[map(name = "VIP_COUNTERS")]
pub static VIP_COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(layout::VIP_SLOTS * 2, 0);

/// All clear: what a control map without its slot reads as.
static CLEAR: Control = Control {
    flags: 0,
    heartbeat_ns: 0,
    heartbeat_timeout_ns: 0,
    own_mac: [0; 6],
    pad: [0; 2],
};

/// The daemon's settings, read in place: the fast path reads one word of them.
#[inline(always)]
pub fn control() -> &'static Control {
    CONTROL.get(0).unwrap_or(&CLEAR)
}

#[inline(always)]
pub fn count(counter: Counter) {
    bump(&COUNTERS, counter.slot());
}

#[inline(always)]
pub fn count_vip(slot: u32, counter: VipCounter) {
    bump(&VIP_COUNTERS, counter.index(slot));
}

#[inline(always)]
fn bump(counters: &PerCpuArray<u64>, index: u32) {
    if let Some(c) = counters.get_ptr_mut(index) {
        // SAFETY: this CPU's own slot; nothing else writes it while the program runs.
        unsafe { *c += 1 };
    }
}
