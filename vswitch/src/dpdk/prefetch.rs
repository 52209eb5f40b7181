//! Software prefetch: starts loading a cache line that will be read soon, so
//! that the read later does not wait for memory. The flow table uses it to
//! overlap a burst's lookups (see `engine/flow_table.rs`).
//!
//! Not a DPDK call, but it needs `unsafe`, which lives in this module only.

/// Starts loading the cache line holding the start of `*r` into all levels.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    prefetch_ptr((r as *const T).cast::<u8>());
}

/// Starts loading the cache line `offset` bytes past the start of `*r` (e.g.
/// the second line of a two-line object). The address may lie outside `*r`:
/// it is only a hint and is never dereferenced.
#[inline(always)]
pub fn prefetch_offset<T>(r: &T, offset: usize) {
    prefetch_ptr((r as *const T).cast::<u8>().wrapping_add(offset));
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_ptr(p: *const u8) {
    use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: a prefetch is a hint with no architectural effect on memory or
    // registers; it does not fault, even on an unmapped or invalid address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn prefetch_ptr(_p: *const u8) {}
