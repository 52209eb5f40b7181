//! Packet mbuf pools.

use super::DpdkError;
use std::ffi::CString;
use std::ptr::NonNull;

/// A pool of packet mbufs (`rte_pktmbuf_pool_create`). Freed on drop.
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe; lcores share them.
unsafe impl Send for Mempool {}
// SAFETY: as above; every operation on the pool is thread-safe.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` and the
    /// default data room (2 KiB plus headroom), on NUMA socket `socket` (-1: any).
    pub fn new(name: &str, n: u32, cache: u32, socket: i32) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError {
            op: "rte_pktmbuf_pool_create".into(),
            code: -22,
            msg: "pool name contains a NUL byte".into(),
        })?;
        // SAFETY: cname is a valid C string; the other arguments are plain values.
        let p = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
                socket,
            )
        };
        NonNull::new(p)
            .map(|raw| Mempool { raw })
            .ok_or_else(|| DpdkError::last(format!("rte_pktmbuf_pool_create({name}, {n} mbufs)")))
    }

    pub(super) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }

    /// Mbufs available in the pool (including per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid for self's lifetime.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs currently taken from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid for self's lifetime.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the ports using the pool were stopped and closed first
        // (the owner drops ports before the pool).
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}
