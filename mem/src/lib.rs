//! Memory hints for large tables read at random (the flow table, see
//! `engine/src/flow/table.rs`): software prefetch, which starts loading a cache
//! line that will be read soon so that the read does not wait for memory
//! (used to overlap a burst's lookups), and huge pages, so that the lookups
//! do not also miss the TLB.
//!
//! Not DPDK calls, but they need `unsafe`, which lives in this module only.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

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

/// Huge page size on x86_64 (and the alignment of a [`HugeArray`]).
const HUGE_PAGE: usize = 2 << 20;

/// A fixed-length array aligned to 2 MB, whose memory the kernel is asked,
/// before the first write, to back with transparent huge pages (on Linux).
/// For large tables read at random (the flow table): with 4 KB pages nearly
/// every lookup also misses the TLB, and a page walk (a nested one, in a VM)
/// holds up even a prefetch. The alignment lets every whole 2 MB of the array
/// be one huge page.
pub struct HugeArray<T> {
    ptr: NonNull<T>,
    len: usize,
    /// The allocation's layout; size 0 when nothing was allocated.
    layout: Layout,
}

// SAFETY: a HugeArray owns its elements like a Box<[T]> does; sending or
// sharing it sends or shares them.
unsafe impl<T: Send> Send for HugeArray<T> {}
// SAFETY: as above, &HugeArray gives only &T.
unsafe impl<T: Sync> Sync for HugeArray<T> {}

impl<T> HugeArray<T> {
    /// An array of no elements (allocates nothing).
    pub fn empty() -> Self {
        HugeArray {
            ptr: NonNull::dangling(),
            len: 0,
            layout: Layout::new::<()>(),
        }
    }

    /// `len` values made by `f`, in order; `None` if the size overflows
    /// `isize`. Out of memory, it aborts as `Vec` does.
    pub fn new(len: usize, mut f: impl FnMut() -> T) -> Option<Self> {
        let layout = Layout::array::<T>(len).ok()?.align_to(HUGE_PAGE).ok()?;
        if layout.size() == 0 {
            return Some(HugeArray {
                ptr: NonNull::dangling(),
                len,
                layout,
            });
        }
        // SAFETY: the layout has a nonzero size.
        let Some(ptr) = NonNull::new(unsafe { alloc(layout) }.cast::<T>()) else {
            handle_alloc_error(layout)
        };
        advise_huge_pages(ptr.as_ptr().cast::<u8>(), layout.size());
        for i in 0..len {
            // SAFETY: i < len, inside the allocation; each element is written
            // once before any is read. If `f` panics, the allocation and the
            // values made so far leak (safe).
            unsafe { ptr.as_ptr().add(i).write(f()) };
        }
        Some(HugeArray { ptr, len, layout })
    }
}

impl<T> Deref for HugeArray<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: ptr holds len initialized elements (or is dangling with
        // nothing to read, when the size is 0), owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for HugeArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref, and &mut self makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for HugeArray<T> {
    fn drop(&mut self) {
        // SAFETY: the elements are initialized and dropped once, here; the
        // memory was allocated with this layout (when its size is nonzero).
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ));
            if self.layout.size() != 0 {
                dealloc(self.ptr.as_ptr().cast::<u8>(), self.layout);
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(p: *mut u8, len: usize) {
    const MADV_HUGEPAGE: std::ffi::c_int = 14;
    extern "C" {
        fn madvise(
            addr: *mut std::ffi::c_void,
            len: usize,
            advice: std::ffi::c_int,
        ) -> std::ffi::c_int;
    }
    // SAFETY: the range is one live allocation of ours, page-aligned (it is
    // 2 MB-aligned); MADV_HUGEPAGE changes only how the kernel backs it, never
    // its contents or mapping. A failure (THP disabled, an old kernel) leaves
    // 4 KB pages, so it is ignored.
    let _ = unsafe { madvise(p.cast(), len, MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_p: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn huge_array_holds_and_drops_its_values() {
        let marker = Rc::new(());
        let mut n = 0;
        let mut a = HugeArray::new(1000, || {
            n += 1;
            (n, Rc::clone(&marker))
        })
        .unwrap();
        assert_eq!(a.as_ptr() as usize % HUGE_PAGE, 0);
        assert_eq!(a.len(), 1000);
        assert_eq!(a[999].0, 1000);
        a[0].0 = 7;
        assert_eq!(a.iter().map(|x| x.0).sum::<usize>(), 1000 * 1001 / 2 + 6);
        assert_eq!(Rc::strong_count(&marker), 1001);
        drop(a);
        assert_eq!(Rc::strong_count(&marker), 1);
        let empty = HugeArray::new(0, || 1u8).unwrap();
        assert!(empty.is_empty());
        assert!(HugeArray::<String>::empty().is_empty());
        let zst = HugeArray::new(5, || ()).unwrap();
        assert_eq!(zst.len(), 5);
        assert!(HugeArray::new(usize::MAX, || 0u64).is_none());
    }
}
