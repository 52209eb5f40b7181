//! Handing a packet to the worker that owns its flow.
//!
//! Each flow has one owner worker, named by the packet alone
//! (`engine/src/owner/`). A worker that receives a packet another owns
//! tags it with its receiving port and puts it on a single-producer,
//! single-consumer ring to that worker, one ring per ordered pair of
//! workers, a burst at a time; the owner takes it off between its own rx
//! bursts, processes it as if it had received it, and transmits on its own
//! tx queues. A full ring is a counted drop (`handoff_full`), never a wait:
//! a saturated owner slows no one else.

use dpdk::{spsc_ring, Burst, DpdkError, RingConsumer, RingProducer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// One worker's ends of the handoff rings.
pub struct Handoff {
    /// Workers in all.
    pub workers: usize,
    /// Every packet goes through a ring (a benchmark of the handoff's cost):
    /// to its owner, or back to the receiving worker itself.
    pub all: bool,
    /// Sending ends, by destination worker (`None`: no ring to it).
    pub to: Vec<Option<RingProducer>>,
    /// Receiving ends, one per worker that sends to this one.
    pub from: Vec<RingConsumer>,
    /// Packets gathered for each destination before they go on its ring.
    pub staging: Vec<Burst>,
    /// Workers still in their main loop: once none is, no ring gets another
    /// packet, and a stopping worker empties its rings for the last time.
    pub polling: Arc<AtomicUsize>,
}

impl Handoff {
    /// Whether packets may be handed off at all (several workers, or the
    /// benchmark's every-packet mode).
    #[inline]
    pub fn active(&self) -> bool {
        self.workers > 1 || self.all
    }

    /// Whether every worker has left its main loop.
    pub fn all_stopped(&self) -> bool {
        self.polling.load(Ordering::Acquire) == 0
    }

    /// Says this worker left its main loop.
    pub fn stop_polling(&self) {
        self.polling.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The handoff ends of `workers` workers, by worker: a ring of `size` slots
/// for each ordered pair (and each worker's own, with `all`).
pub fn build(workers: usize, size: u32, all: bool) -> Result<Vec<Handoff>, DpdkError> {
    let polling = Arc::new(AtomicUsize::new(workers));
    let mut ends: Vec<Handoff> = (0..workers)
        .map(|_| Handoff {
            workers,
            all,
            to: (0..workers).map(|_| None).collect(),
            from: Vec::new(),
            staging: (0..workers).map(|_| Burst::new()).collect(),
            polling: Arc::clone(&polling),
        })
        .collect();
    if workers < 2 && !all {
        return Ok(ends);
    }
    for src in 0..workers {
        for dst in 0..workers {
            if src == dst && !all {
                continue;
            }
            let (p, c) = spsc_ring(&format!("vs_handoff_{src}_{dst}"), size)?;
            ends[src].to[dst] = Some(p);
            ends[dst].from.push(c);
        }
    }
    Ok(ends)
}
