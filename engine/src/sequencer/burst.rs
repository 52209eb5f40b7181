//! A burst at a time (VPP's way): the worker hands the engine a whole burst
//! and gets one outcome per packet. A first pass reads and hashes every
//! packet's flow key and prefetches its bucket before any packet is
//! processed, so that the frames' cache misses and the hashing of different
//! packets overlap instead of each waiting behind the last packet's
//! processing; the second pass processes each packet from that hint. With
//! many flows each lookup also misses on the entry, so entries are
//! prefetched a few packets ahead of the processing loop (software
//! pipelining), by which time their bucket has arrived; spreading them over
//! the loop keeps fewer misses in flight at once than another pass would.

use super::Engine;
use crate::pktbuf::PacketBurst;
use crate::tables::Snapshot;
use crate::{DropReason, Outcome, Path, PortIdx};

/// The most packets one pass handles; a longer burst is taken in pieces.
pub const BURST_MAX: usize = 64;

/// How many packets ahead the first pass prefetches a packet's data.
const PREFETCH_DATA_AHEAD: usize = 3;

/// How many packets ahead of the one being processed a flow's entry is
/// prefetched. Its bucket, read to find the entry, was prefetched by the
/// first pass.
const PREFETCH_AHEAD: usize = 8;

/// Flows above which the flow-table entries of a burst are prefetched.
/// Below it the table stays in cache, and the extra bucket reads would cost
/// more than the misses they hide.
const PREFETCH_MIN_FLOWS: usize = 4096;

impl Engine {
    /// Decides where each packet of `burst`, received on `in_port`, goes,
    /// editing it in place; `out[i]` is packet `i`'s outcome. Returns how
    /// many packets were processed (the burst, or as many as `out` holds).
    pub fn process_burst<B: PacketBurst + ?Sized>(
        &mut self,
        snap: &Snapshot,
        in_port: PortIdx,
        burst: &mut B,
        now_ns: u64,
        out: &mut [Outcome],
    ) -> usize {
        let n = burst.count().min(out.len());
        let mut done = 0;
        while done < n {
            let len = (n - done).min(BURST_MAX);
            self.process_piece(
                snap,
                in_port,
                burst,
                done,
                len,
                now_ns,
                &mut out[done..done + len],
            );
            done += len;
        }
        n
    }

    /// Both passes over packets `from..from + len` of `burst`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn process_piece<B: PacketBurst + ?Sized>(
        &mut self,
        snap: &Snapshot,
        in_port: PortIdx,
        burst: &mut B,
        from: usize,
        len: usize,
        now_ns: u64,
        out: &mut [Outcome],
    ) {
        let entries = self.flows.len() > PREFETCH_MIN_FLOWS;
        // First pass: hints (and buckets).
        for j in 0..len {
            burst.prefetch(from + j + PREFETCH_DATA_AHEAD);
            let h = burst
                .contiguous(from + j)
                .and_then(|bytes| self.flow_hint(snap, in_port, bytes));
            if let Some(slot) = self.hints.get_mut(j) {
                *slot = h;
            }
        }
        if entries {
            for j in 0..PREFETCH_AHEAD.min(len) {
                self.prefetch_entry(j);
            }
        }
        // Second pass: the packets.
        for (j, o) in out.iter_mut().enumerate().take(len) {
            if entries && j + PREFETCH_AHEAD < len {
                self.prefetch_entry(j + PREFETCH_AHEAD);
            }
            *o = if burst.contiguous(from + j).is_some() {
                let hint = self.hints.get(j).copied().flatten();
                self.process_hinted(
                    snap,
                    in_port,
                    &mut burst.packet(from + j),
                    now_ns,
                    hint.as_ref(),
                )
            } else {
                Outcome::drop(DropReason::Unsupported, Path::Early)
            };
        }
    }

    /// Prefetches the flow-table entry of the burst's packet `j`, whose
    /// bucket the first pass prefetched.
    #[inline]
    fn prefetch_entry(&self, j: usize) {
        if let Some(Some(h)) = self.hints.get(j) {
            self.flows.prefetch_entry(h.hash);
        }
    }
}
