//! A burst of packet mbufs: the unit that moves between rx, the engine and tx.

use super::{Mempool, RxQueue, TxQueue};
use dpdk_sys::rte_mbuf;
use wire::pktbuf::{PacketBuf, PacketBurst};

/// The most packets a burst holds.
pub const BURST_MAX: usize = 64;

/// Up to [`BURST_MAX`] mbufs owned by the holder. Whatever is still held when
/// the burst is dropped or cleared goes back to its pool.
pub struct Burst {
    ptrs: [*mut rte_mbuf; BURST_MAX],
    len: usize,
}

// SAFETY: a Burst exclusively owns its mbufs; moving it to another thread moves
// that ownership, and mbufs may be freed from any thread.
unsafe impl Send for Burst {}

/// What a transmit did with a burst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOutcome {
    /// Packets the device accepted.
    pub sent: u32,
    /// Bytes of the accepted packets.
    pub sent_bytes: u64,
    /// Packets the device refused (ring full); they were freed.
    pub dropped: u32,
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    /// An empty burst.
    pub const fn new() -> Self {
        Burst {
            ptrs: [std::ptr::null_mut(); BURST_MAX],
            len: 0,
        }
    }

    /// Packets held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the burst holds nothing.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Receives up to `max` packets (bounded by the free room) from `q`; returns how many.
    #[inline]
    pub fn rx(&mut self, q: &mut RxQueue, max: usize) -> usize {
        let room = (BURST_MAX - self.len).min(max) as u16;
        // SAFETY: ptrs[len..len+room] is writable; the queue is polled by this thread only
        // (RxQueue is neither Clone nor Sync), and received mbufs become ours.
        let n = unsafe {
            dpdk_sys::vs_rx_burst(q.port, q.queue, self.ptrs.as_mut_ptr().add(self.len), room)
        } as usize;
        self.len += n;
        n
    }

    #[inline]
    fn mbuf(&self, i: usize) -> &rte_mbuf {
        // SAFETY: ptrs[..len] are valid mbufs owned by this burst (indexing checks i < BURST_MAX,
        // and callers index below len).
        unsafe { &*self.ptrs[..self.len][i] }
    }

    /// Total length of packet `i` (all segments).
    #[inline]
    pub fn pkt_len(&self, i: usize) -> u32 {
        self.mbuf(i).pkt_len
    }

    /// Sum of the packets' lengths.
    #[inline]
    pub fn total_bytes(&self) -> u64 {
        (0..self.len).map(|i| self.pkt_len(i) as u64).sum()
    }

    /// The first segment's bytes of packet `i`.
    #[inline(always)]
    pub fn data(&self, i: usize) -> &[u8] {
        let m = self.mbuf(i);
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's data room.
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// The first segment's bytes of packet `i`, writable.
    #[inline(always)]
    pub fn data_mut(&mut self, i: usize) -> &mut [u8] {
        let p = self.ptrs[..self.len][i];
        // SAFETY: the burst owns the mbuf exclusively (&mut self); the range is its data.
        unsafe {
            let m = &*p;
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// Prefetches packet `i`'s data into cache.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if i < self.len {
            let m = self.mbuf(i);
            // SAFETY: prefetch has no memory effect; the address is the mbuf's own data.
            unsafe {
                dpdk_sys::vs_prefetch0(
                    (m.buf_addr as *const u8).add(m.data_off as usize) as *const _
                )
            };
        }
    }

    /// Fills the free room with up to `n` new mbufs from `pool`, each `len` bytes long
    /// (contents undefined until written). Returns how many were added (0 when the pool is empty).
    pub fn alloc(&mut self, pool: &Mempool, n: usize, len: u16) -> usize {
        let n = n.min(BURST_MAX - self.len);
        if n == 0 {
            return 0;
        }
        // SAFETY: ptrs[len..len+n] is writable; the pool is valid.
        let rc = unsafe {
            dpdk_sys::vs_pktmbuf_alloc_bulk(
                pool.as_ptr(),
                self.ptrs.as_mut_ptr().add(self.len),
                n as u32,
            )
        };
        if rc != 0 {
            return 0;
        }
        let start = self.len;
        self.len += n;
        let mut ok = start;
        for i in start..self.len {
            let p = self.ptrs[i];
            // SAFETY: freshly allocated mbufs are owned by the burst; setting the
            // lengths within the tailroom keeps the mbuf consistent.
            let fits = unsafe {
                let m = &mut *p;
                if (m.buf_len as usize) >= m.data_off as usize + len as usize {
                    m.data_len = len;
                    m.pkt_len = len as u32;
                    true
                } else {
                    false
                }
            };
            if fits {
                self.ptrs[ok] = p;
                ok += 1;
            } else {
                // SAFETY: the mbuf is ours and not referenced elsewhere.
                unsafe { dpdk_sys::vs_pktmbuf_free(p) };
            }
        }
        self.len = ok;
        ok - start
    }

    /// Transmits every held packet on `q`; what the device refuses is freed and counted.
    /// The burst is empty afterwards.
    #[inline]
    pub fn tx(&mut self, q: &mut TxQueue) -> TxOutcome {
        if self.len == 0 {
            return TxOutcome::default();
        }
        let bytes = self.total_bytes();
        // SAFETY: ptrs[..len] are owned mbufs; the queue is used by this thread only.
        // Accepted mbufs pass to the driver.
        let sent = unsafe {
            dpdk_sys::vs_tx_burst(q.port, q.queue, self.ptrs.as_mut_ptr(), self.len as u16)
        } as usize;
        let mut unsent_bytes = 0u64;
        for i in sent..self.len {
            unsent_bytes += self.pkt_len(i) as u64;
        }
        let dropped = self.len - sent;
        if dropped > 0 {
            // SAFETY: the refused mbufs are still ours.
            unsafe {
                dpdk_sys::vs_pktmbuf_free_bulk(self.ptrs.as_mut_ptr().add(sent), dropped as u32)
            };
        }
        self.len = 0;
        TxOutcome {
            sent: sent as u32,
            sent_bytes: bytes - unsent_bytes,
            dropped: dropped as u32,
        }
    }

    /// Moves packet `i` to the end of `other`, keeping this burst's order for the rest
    /// only up to a swap (the last packet takes slot `i`). Returns false if `other` is full.
    #[inline]
    pub fn move_to(&mut self, i: usize, other: &mut Burst) -> bool {
        if i >= self.len || other.len == BURST_MAX {
            return false;
        }
        other.ptrs[other.len] = self.ptrs[i];
        other.len += 1;
        self.len -= 1;
        self.ptrs[i] = self.ptrs[self.len];
        true
    }

    /// Whether packet `i` is a single segment (the engine edits only those).
    #[inline]
    pub fn is_contiguous(&self, i: usize) -> bool {
        self.mbuf(i).nb_segs == 1
    }

    #[inline]
    fn mbuf_mut(&mut self, i: usize) -> &mut rte_mbuf {
        // SAFETY: ptrs[..len] are valid mbufs owned exclusively by this burst (&mut self).
        unsafe { &mut *self.ptrs[..self.len][i] }
    }

    /// Adds `n` bytes in front of single-segment packet `i`; false without headroom.
    #[inline(always)]
    pub fn prepend(&mut self, i: usize, n: usize) -> bool {
        let m = self.mbuf_mut(i);
        if m.nb_segs != 1 || n > m.data_off as usize {
            return false;
        }
        m.data_off -= n as u16;
        m.data_len += n as u16;
        m.pkt_len += n as u32;
        true
    }

    /// Removes `n` bytes from the front of single-segment packet `i`.
    #[inline]
    pub fn strip_front(&mut self, i: usize, n: usize) -> bool {
        let m = self.mbuf_mut(i);
        if m.nb_segs != 1 || n > m.data_len as usize {
            return false;
        }
        m.data_off += n as u16;
        m.data_len -= n as u16;
        m.pkt_len -= n as u32;
        true
    }

    /// Sets single-segment packet `i`'s length, within its data room.
    #[inline]
    pub fn resize(&mut self, i: usize, len: usize) -> bool {
        let m = self.mbuf_mut(i);
        if m.nb_segs != 1 || m.data_off as usize + len > m.buf_len as usize {
            return false;
        }
        m.data_len = len as u16;
        m.pkt_len = len as u32;
        true
    }

    /// Packet `i` as an engine packet buffer.
    #[inline]
    pub fn packet(&mut self, i: usize) -> MbufPacket<'_> {
        MbufPacket { burst: self, i }
    }

    /// Moves every packet `i` to `outs[targets[i]]`, in order; packets whose
    /// target is out of range (a drop) are freed. The burst is empty afterwards.
    /// Returns how many were freed (an output that is full frees too).
    #[inline]
    pub fn distribute(&mut self, targets: &[u16], outs: &mut [Burst]) -> usize {
        let mut freed = 0;
        for i in 0..self.len {
            let p = self.ptrs[i];
            let out = targets.get(i).and_then(|t| outs.get_mut(*t as usize));
            match out {
                Some(o) if o.len < BURST_MAX => {
                    o.ptrs[o.len] = p;
                    o.len += 1;
                }
                _ => {
                    // SAFETY: the mbuf is owned by this burst and not referenced elsewhere.
                    unsafe { dpdk_sys::vs_pktmbuf_free(p) };
                    freed += 1;
                }
            }
        }
        self.len = 0;
        freed
    }

    /// Enqueues every held packet on `ring`, in order; those it has no room
    /// for are freed. The burst is empty afterwards. Returns (enqueued, freed).
    ///
    /// # Safety
    /// The caller is `ring`'s only producer thread (see `ring.rs`).
    #[inline]
    pub(crate) unsafe fn enqueue_raw(&mut self, ring: *mut dpdk_sys::rte_ring) -> (usize, usize) {
        if self.len == 0 {
            return (0, 0);
        }
        // SAFETY: ptrs[..len] are owned mbufs; those enqueued pass to the ring,
        // whose single producer the caller is.
        let sent = unsafe {
            dpdk_sys::vs_ring_enqueue_burst(ring, self.ptrs.as_mut_ptr(), self.len as u32)
        } as usize;
        let freed = self.len - sent;
        if freed > 0 {
            // SAFETY: the refused mbufs are still ours.
            unsafe {
                dpdk_sys::vs_pktmbuf_free_bulk(self.ptrs.as_mut_ptr().add(sent), freed as u32)
            };
        }
        self.len = 0;
        (sent, freed)
    }

    /// Dequeues up to `max` packets (bounded by the free room) from `ring`.
    ///
    /// # Safety
    /// The caller is `ring`'s only consumer thread (see `ring.rs`).
    #[inline]
    pub(crate) unsafe fn dequeue_raw(
        &mut self,
        ring: *mut dpdk_sys::rte_ring,
        max: usize,
    ) -> usize {
        let room = (BURST_MAX - self.len).min(max) as u32;
        // SAFETY: ptrs[len..len+room] is writable; dequeued mbufs become ours.
        let n = unsafe {
            dpdk_sys::vs_ring_dequeue_burst(ring, self.ptrs.as_mut_ptr().add(self.len), room)
        } as usize;
        self.len += n;
        n
    }

    /// The port tag of packet `i` (set by [`Self::set_port`], or the
    /// receiving device's id).
    #[inline]
    pub fn port(&self, i: usize) -> u16 {
        self.mbuf(i).port
    }

    /// Tags packet `i` with `port` (a handoff's receiving port).
    #[inline]
    pub fn set_port(&mut self, i: usize, port: u16) {
        self.mbuf_mut(i).port = port;
    }

    /// Moves every packet `i` whose `targets[i]` is below `outs.len()` to
    /// the end of `outs[targets[i]]` (freed if that is full), keeping the
    /// others, in order. Returns how many stayed.
    #[inline]
    pub fn split_off(&mut self, targets: &[u16], outs: &mut [Burst]) -> usize {
        let mut kept = 0;
        for i in 0..self.len {
            let p = self.ptrs[i];
            match targets.get(i).and_then(|t| outs.get_mut(*t as usize)) {
                Some(o) if o.len < BURST_MAX => {
                    o.ptrs[o.len] = p;
                    o.len += 1;
                }
                Some(_) => {
                    // SAFETY: the mbuf is owned by this burst and not referenced elsewhere.
                    unsafe { dpdk_sys::vs_pktmbuf_free(p) };
                }
                None => {
                    self.ptrs[kept] = p;
                    kept += 1;
                }
            }
        }
        self.len = kept;
        kept
    }

    /// Moves the packets tagged `port` (see [`Self::set_port`]) to the end
    /// of `other` while it has room, keeping the rest in order; returns how
    /// many moved.
    #[inline]
    pub fn take_port(&mut self, port: u16, other: &mut Burst) -> usize {
        let mut kept = 0;
        let mut moved = 0;
        for i in 0..self.len {
            let p = self.ptrs[i];
            // SAFETY: ptrs[..len] are valid mbufs owned by this burst.
            let tag = unsafe { (*p).port };
            if tag == port && other.len < BURST_MAX {
                other.ptrs[other.len] = p;
                other.len += 1;
                moved += 1;
            } else {
                self.ptrs[kept] = p;
                kept += 1;
            }
        }
        self.len = kept;
        moved
    }

    /// Frees every held packet.
    pub fn clear(&mut self) {
        if self.len > 0 {
            // SAFETY: ptrs[..len] are owned mbufs, freed once, then forgotten.
            unsafe { dpdk_sys::vs_pktmbuf_free_bulk(self.ptrs.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The burst as the engine processes it (it edits only single-segment packets).
impl PacketBurst for Burst {
    type Packet<'a> = MbufPacket<'a>;

    #[inline(always)]
    fn count(&self) -> usize {
        self.len()
    }

    #[inline(always)]
    fn contiguous(&self, i: usize) -> Option<&[u8]> {
        (i < self.len() && self.is_contiguous(i)).then(|| self.data(i))
    }

    #[inline(always)]
    fn prefetch(&self, i: usize) {
        Burst::prefetch(self, i)
    }

    #[inline(always)]
    fn packet(&mut self, i: usize) -> MbufPacket<'_> {
        Burst::packet(self, i)
    }
}

/// One packet of a burst, seen by the engine as a [`PacketBuf`].
pub struct MbufPacket<'a> {
    burst: &'a mut Burst,
    i: usize,
}

impl PacketBuf for MbufPacket<'_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self.burst.data(self.i)
    }
    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.burst.data_mut(self.i)
    }
    #[inline(always)]
    fn prepend(&mut self, n: usize) -> bool {
        self.burst.prepend(self.i, n)
    }
    #[inline]
    fn strip_front(&mut self, n: usize) -> bool {
        self.burst.strip_front(self.i, n)
    }
    #[inline]
    fn resize(&mut self, len: usize) -> bool {
        self.burst.resize(self.i, len)
    }
}
