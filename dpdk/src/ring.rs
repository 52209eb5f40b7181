//! Single-producer, single-consumer rings of mbufs (`rte_ring` with
//! `RING_F_SP_ENQ | RING_F_SC_DEQ`): how one worker hands packets to
//! another. A ring is split at creation into its two ends, neither of them
//! `Clone`, so each has exactly one user thread as the ring's flags demand.

use crate::{Burst, DpdkError, BURST_MAX};
use std::ffi::CString;
use std::sync::Arc;

/// The ring itself, freed (with any mbuf still in it) when both ends are gone.
struct Ring {
    ptr: *mut dpdk_sys::rte_ring,
}

// SAFETY: the ring is a DPDK object safe for one producer and one consumer
// thread at a time; `RingProducer` and `RingConsumer` are its only users and
// neither can be cloned, so at most one thread enqueues and one dequeues.
unsafe impl Send for Ring {}
// SAFETY: as above: shared only between the two ends.
unsafe impl Sync for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        let mut left = Burst::new();
        loop {
            // SAFETY: no end is left, so this thread is the ring's only user;
            // dequeued mbufs become the burst's, which frees them.
            let n = unsafe { left.dequeue_raw(self.ptr, BURST_MAX) };
            left.clear();
            if n == 0 {
                break;
            }
        }
        // SAFETY: the ring was created by rte_ring_create and is freed once.
        unsafe { dpdk_sys::vs_ring_free(self.ptr) };
    }
}

/// The sending end of a ring.
pub struct RingProducer {
    ring: Arc<Ring>,
}

/// The receiving end of a ring.
pub struct RingConsumer {
    ring: Arc<Ring>,
}

/// Creates a ring of `size` slots (a power of two; it holds `size - 1`
/// packets) named `name` (unique in the process), split into its two ends.
pub fn spsc_ring(name: &str, size: u32) -> Result<(RingProducer, RingConsumer), DpdkError> {
    let cname = CString::new(name).map_err(|_| DpdkError {
        op: "rte_ring_create".into(),
        code: -22,
        msg: "ring name contains a NUL byte".into(),
    })?;
    // SAFETY: cname is a valid C string; the call only reads it.
    let ptr = unsafe { dpdk_sys::vs_ring_create_spsc(cname.as_ptr(), size, -1) };
    if ptr.is_null() {
        // SAFETY: reads the calling thread's rte_errno.
        let code = unsafe { dpdk_sys::vs_errno() };
        return Err(DpdkError::from_code(
            format!("rte_ring_create {name}"),
            -code,
        ));
    }
    let ring = Arc::new(Ring { ptr });
    Ok((
        RingProducer {
            ring: Arc::clone(&ring),
        },
        RingConsumer { ring },
    ))
}

impl RingProducer {
    /// Enqueues every packet of `burst`, in order; those the ring has no
    /// room for are freed. The burst is empty afterwards. Returns (enqueued,
    /// freed).
    #[inline]
    pub fn send(&mut self, burst: &mut Burst) -> (usize, usize) {
        // SAFETY: this end is the ring's only producer (&mut self, not Clone).
        unsafe { burst.enqueue_raw(self.ring.ptr) }
    }
}

impl RingConsumer {
    /// Dequeues up to `max` packets (bounded by the burst's free room) into
    /// `burst`; returns how many.
    #[inline]
    pub fn recv(&mut self, burst: &mut Burst, max: usize) -> usize {
        // SAFETY: this end is the ring's only consumer (&mut self, not Clone).
        unsafe { burst.dequeue_raw(self.ring.ptr, max) }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        // SAFETY: rte_ring_count only reads the ring's indexes.
        unsafe { dpdk_sys::vs_ring_count(self.ring.ptr) as usize }
    }

    /// Whether no packet waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
