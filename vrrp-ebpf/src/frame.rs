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
