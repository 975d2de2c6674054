//! Array maps mapped into the daemon's memory (`vrrp_common::maps::SHARED_MEMORY`): the
//! liveness map, read whenever a timer of an instance depends on adverts, and the control
//! slot, whose heartbeat is written every few milliseconds. Each read or write is a plain
//! memory access instead of a bpf(2) call.
//!
//! Neither side locks: the program may update a value while the daemon copies it, exactly as
//! with BPF_MAP_LOOKUP_ELEM on an array. Every reader of these values already tolerates that
//! (see `liveness::record` in vrrp-ebpf).

use std::{
    marker::PhantomData,
    os::fd::{AsFd as _, AsRawFd as _},
    ptr::NonNull,
};

use anyhow::{Context as _, ensure};
use aya::maps::MapData;

pub struct SharedArray<T> {
    base: NonNull<T>,
    entries: u32,
    len: usize,
    /// Owns the map for as long as the mapping lives.
    _map: MapData,
    _values: PhantomData<T>,
}

// SAFETY: the mapping is owned by this value and only ever accessed through it, with
// volatile copies; the map it maps outlives it (held in `_map`).
unsafe impl<T: Send> Send for SharedArray<T> {}
// SAFETY: every access is a volatile copy in or out of the mapping, with no reference into
// it handed out; concurrent copies race exactly as the daemon's and the program's do.
unsafe impl<T: Send> Sync for SharedArray<T> {}

impl<T: Copy> SharedArray<T> {
    /// Maps the `entries` values of `map`, which must have been created with
    /// `SHARED_MEMORY` and a value type of `T`'s size.
    pub fn new(map: MapData, entries: u32) -> anyhow::Result<Self> {
        // The kernel places mapped values 8 bytes apart, rounding their size up; the layout
        // tests in vrrp-common keep these types at multiples of 8 so that the stride is theirs.
        const { assert!(size_of::<T>().is_multiple_of(8) && align_of::<T>() <= 8) };
        let info = map.info().context("reading the map's info")?;
        ensure!(
            info.value_size() as usize == size_of::<T>()
                && info.max_entries() == entries
                && info.map_flags() & vrrp_common::maps::SHARED_MEMORY != 0,
            "the map is not an mmapable array of {entries} values of {} bytes",
            size_of::<T>()
        );
        let page = page_size();
        let len = (size_of::<T>() * entries as usize).div_ceil(page) * page;
        // SAFETY: a shared mapping of a map fd the kernel allows to be mapped (checked above);
        // the result is checked before use.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                map.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error()).context("mapping the map's values");
        }
        Ok(Self {
            base: NonNull::new(addr.cast()).context("mmap returned null")?,
            entries,
            len,
            _map: map,
            _values: PhantomData,
        })
    }

    /// A copy of value `index`.
    ///
    /// # Panics
    /// If `index` is out of range: every caller indexes with the map's own slot numbers.
    pub fn get(&self, index: u32) -> T {
        // SAFETY: in range (asserted), aligned (page-aligned base, stride a multiple of 8),
        // and any bit pattern is a valid `T` (plain integers and byte arrays).
        unsafe { self.slot(index).read_volatile() }
    }

    pub fn set(&self, index: u32, value: T) {
        // SAFETY: as in `get`; the mapping is writable.
        unsafe { self.slot(index).write_volatile(value) }
    }

    /// Writes the field at byte `offset` (from `offset_of!`) of value `index`, leaving the
    /// rest as whatever wrote it last: the program may be setting a flag in the same value.
    ///
    /// # Panics
    /// If the field does not lie within the value, aligned for `F`.
    pub fn set_field<F: Copy>(&self, index: u32, offset: usize, value: F) {
        assert!(
            offset + size_of::<F>() <= size_of::<T>() && offset.is_multiple_of(align_of::<F>()),
            "no {}-byte field at offset {offset}",
            size_of::<F>()
        );
        // SAFETY: within value `index` (in range, checked by `slot`) and aligned for `F`, as
        // asserted; values start at multiples of 8 in a page-aligned mapping.
        unsafe {
            self.slot(index)
                .byte_add(offset)
                .cast::<F>()
                .write_volatile(value)
        }
    }

    pub fn entries(&self) -> u32 {
        self.entries
    }

    fn slot(&self, index: u32) -> *mut T {
        assert!(index < self.entries, "slot {index} of {}", self.entries);
        // SAFETY: in range of the mapping, as just asserted.
        unsafe { self.base.as_ptr().add(index as usize) }
    }
}

impl<T> Drop for SharedArray<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    }
}
