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

use super::{Engine, FlowHint};
use crate::pktbuf::PacketBurst;
use crate::tables::{PortKind, Snapshot};
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
        // A patched port forwards every packet as it is: no pass reads them.
        if let PortKind::Patched(to) = snap.port_kind(in_port) {
            for (j, o) in out.iter_mut().enumerate().take(len) {
                *o = if burst.contiguous(from + j).is_some() {
                    Outcome::forward(to, Path::Patch)
                } else {
                    Outcome::drop(DropReason::Unsupported, Path::Early)
                };
            }
            return;
        }
        let entries = self.flows.len() > PREFETCH_MIN_FLOWS;
        // The hints leave the engine for the burst (a move, no copy), so
        // that processing borrows them while it changes the engine.
        let mut hints = std::mem::take(&mut self.hints);
        hints.resize(BURST_MAX, None);
        // First pass: hints (and buckets).
        for (j, h) in hints.iter_mut().enumerate().take(len) {
            burst.prefetch(from + j + PREFETCH_DATA_AHEAD);
            *h = burst
                .contiguous(from + j)
                .and_then(|bytes| self.flow_hint(snap, in_port, bytes));
        }
        if entries {
            for h in hints.iter().take(PREFETCH_AHEAD.min(len)) {
                self.prefetch_entry(h);
            }
        }
        // Second pass: the packets.
        for (j, o) in out.iter_mut().enumerate().take(len) {
            if entries {
                if let Some(h) = hints
                    .get(j + PREFETCH_AHEAD)
                    .filter(|_| j + PREFETCH_AHEAD < len)
                {
                    self.prefetch_entry(h);
                }
            }
            *o = if burst.contiguous(from + j).is_some() {
                let hint = hints.get(j).and_then(Option::as_ref);
                self.process_hinted(snap, in_port, &mut burst.packet(from + j), now_ns, hint)
            } else {
                Outcome::drop(DropReason::Unsupported, Path::Early)
            };
        }
        self.hints = hints;
    }

    /// Prefetches the flow-table entry of a packet whose bucket the first
    /// pass prefetched.
    #[inline]
    fn prefetch_entry(&self, hint: &Option<FlowHint>) {
        if let Some(h) = hint {
            self.flows.prefetch_entry(h.hash);
        }
    }
}
