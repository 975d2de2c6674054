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

/// The `N` 16-bit words at `offset` (an even offset), as the frame holds them: aligned loads,
/// for the reason given at `ethertype_at`, where `read` would load byte by byte. Every field
/// read this way sits at an even offset: MACs, IP addresses, and the VRRP message (IP headers
/// are a multiple of 4 long).
#[inline(always)]
pub fn words_at<const N: usize>(ctx: &XdpContext, offset: usize) -> Option<[u16; N]> {
    let start = ctx.data();
    if start + offset + 2 * N > ctx.data_end() {
        return None;
    }
    // SAFETY: in bounds as checked above; aligned to 2 as `ethertype_at` explains.
    Some(unsafe { core::ptr::read((start + offset) as *const [u16; N]) })
}

/// The 4 bytes at `offset` (even) in one native-endian word, memory order kept: for
/// comparisons and byte-order-blind hashing, from two 16-bit loads.
#[inline(always)]
pub fn word32_at(ctx: &XdpContext, offset: usize) -> Option<u32> {
    // SAFETY: two u16 are 4 plain bytes, any value of which is a u32.
    words_at::<2>(ctx, offset).map(|w| unsafe { core::mem::transmute::<[u16; 2], u32>(w) })
}

/// The `2 * N` bytes at `offset` (even), read by `words_at`.
#[inline(always)]
pub fn bytes_at<const N: usize, const B: usize>(
    ctx: &XdpContext,
    offset: usize,
) -> Option<[u8; B]> {
    const { assert!(B == 2 * N) };
    // SAFETY: the same bytes, reinterpreted; sizes asserted equal above.
    words_at::<N>(ctx, offset)
        .map(|w| unsafe { core::mem::transmute_copy::<[u16; N], [u8; B]>(&w) })
}

/// The 12 bytes of the two MACs, as 16-bit words (destination, then source), for rewriting
/// both with one bounds check.
#[inline(always)]
pub fn macs_mut(ctx: &XdpContext) -> Option<&mut [u16; 6]> {
    let start = ctx.data();
    if start + 12 > ctx.data_end() {
        return None;
    }
    // SAFETY: in bounds as checked above, aligned to 2 (see `ethertype_at`); XDP frames are
    // writable and nothing else refers to these bytes during the run.
    Some(unsafe { &mut *(start as *mut [u16; 6]) })
}

#[inline(always)]
pub fn u8_at(ctx: &XdpContext, offset: usize) -> Option<u8> {
    read::<u8>(ctx, offset)
}

#[inline(always)]
pub fn be16_at(ctx: &XdpContext, offset: usize) -> Option<u16> {
    read::<[u8; 2]>(ctx, offset).map(u16::from_be_bytes)
}
