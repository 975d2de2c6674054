//! Bounds-checked reads from the frame, in the shape the verifier can follow.

use aya_ebpf::programs::XdpContext;

/// Reads a `T` at `offset` from the start of the frame, or `None` past its end.
#[inline(always)]
pub fn read<T: Copy>(ctx: &XdpContext, offset: usize) -> Option<T> {
    let start = ctx.data();
    if start + offset + core::mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    // SAFETY: the range was checked against data_end just above; the frame may place `T` at
    // any alignment.
    Some(unsafe { core::ptr::read_unaligned((start + offset) as *const T) })
}

/// Whether the frame is at least `len` bytes long.
#[inline(always)]
pub fn covers(ctx: &XdpContext, len: usize) -> bool {
    ctx.data() + len <= ctx.data_end()
}

/// Whether a length read from a header stays within the frame.
///
/// The length is hidden from LLVM (black_box): knowing it, LLVM would drop later per-read
/// bounds checks as implied by this one, and the verifier accepts only the checks it sees.
#[inline(always)]
pub fn holds(ctx: &XdpContext, end: usize) -> bool {
    covers(ctx, core::hint::black_box(end))
}

/// The ethertype at `offset` (an even offset), in network byte order as the frame holds it.
///
/// One 16-bit load instead of the byte loads `read_unaligned` becomes on BPF: every path into
/// XDP places the frame at an even address, and ethertypes sit at even offsets (12, 16).
#[inline(always)]
pub fn ethertype_at(ctx: &XdpContext, offset: usize) -> Option<u16> {
    let start = ctx.data();
    if start + offset + 2 > ctx.data_end() {
        return None;
    }
    // SAFETY: in bounds as checked above; aligned as the comment explains.
    Some(unsafe { core::ptr::read((start + offset) as *const u16) })
}

/// The MAC at `offset` (0 or 6) as three 16-bit words: aligned loads, for the reason given
/// at `ethertype_at`, instead of six byte loads.
#[inline(always)]
pub fn mac_at(ctx: &XdpContext, offset: usize) -> Option<[u16; 3]> {
    let start = ctx.data();
    if start + offset + 6 > ctx.data_end() {
        return None;
    }
    // SAFETY: in bounds as checked above; aligned to 2 as `ethertype_at` explains.
    Some(unsafe { core::ptr::read((start + offset) as *const [u16; 3]) })
}

/// Writes a MAC (as from `mac_at`) at `offset`; false, and nothing written, past the end.
#[inline(always)]
pub fn set_mac(ctx: &XdpContext, offset: usize, mac: [u16; 3]) -> bool {
    let start = ctx.data();
    if start + offset + 6 > ctx.data_end() {
        return false;
    }
    // SAFETY: in bounds and aligned as in `mac_at`; XDP frames are writable.
    unsafe { core::ptr::write((start + offset) as *mut [u16; 3], mac) };
    true
}

#[inline(always)]
pub fn u8_at(ctx: &XdpContext, offset: usize) -> Option<u8> {
    read::<u8>(ctx, offset)
}

#[inline(always)]
pub fn be16_at(ctx: &XdpContext, offset: usize) -> Option<u16> {
    read::<[u8; 2]>(ctx, offset).map(u16::from_be_bytes)
}

#[inline(always)]
pub fn be32_at(ctx: &XdpContext, offset: usize) -> Option<u32> {
    read::<[u8; 4]>(ctx, offset).map(u32::from_be_bytes)
}
