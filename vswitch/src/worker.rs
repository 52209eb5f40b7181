//! The poll-mode worker: `rx_burst` -> engine -> `tx_burst`, in batches, on its
//! own lcore, never taking a lock. One packet's path through the switch is
//! this file plus `engine/`.

use crate::config::IdleConfig;
use crate::dpdk::{Burst, RxQueue, TxQueue};
use crate::engine::{PortIdx, Verdict};
use crate::stats::{bump, WorkerCounters};
use crate::tables::TableStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Empty passes a stopping worker makes at most to drain its rx queues.
const DRAIN_PASSES: usize = 64;

/// Everything a worker owns and shares.
pub struct Worker {
    /// Worker index.
    pub id: usize,
    /// The rx queues it polls, with their port index.
    pub rx: Vec<(PortIdx, RxQueue)>,
    /// Its own tx queue on every port, indexed by port index.
    pub tx: Vec<TxQueue>,
    /// Packets per rx burst.
    pub burst: usize,
    /// Idle backoff.
    pub idle: IdleConfig,
    /// Published tables.
    pub tables: Arc<TableStore>,
    /// All workers' counters; this worker writes `stats.workers[id]` only.
    pub stats: Arc<crate::stats::Stats>,
    /// Cleared by the management thread to stop the worker.
    pub running: Arc<AtomicBool>,
}

impl Worker {
    /// Polls until `running` is cleared, then drains; returns 0.
    pub fn run(mut self) -> i32 {
        let stats = Arc::clone(&self.stats);
        let Some(counters) = stats.workers.get(self.id) else {
            return -1;
        };
        let mut burst = Burst::new();
        let spin_cycles = crate::dpdk::tsc_hz() / 1_000_000 * self.idle.spin_us;
        // TSC of the first empty poll since traffic was last seen (0: not idle).
        let mut idle_since = 0u64;
        let mut sleep_us = self.idle.sleep_min_us;
        while self.running.load(Ordering::Relaxed) {
            if self.poll_once(&mut burst, counters) > 0 {
                bump(&counters.loops.busy, 1);
                idle_since = 0;
                sleep_us = self.idle.sleep_min_us;
                continue;
            }
            bump(&counters.loops.idle, 1);
            let now = crate::dpdk::tsc_cycles();
            if idle_since == 0 {
                idle_since = now;
            }
            if now - idle_since >= spin_cycles && self.idle.sleep_max_us > 0 {
                bump(&counters.loops.sleeps, 1);
                std::thread::sleep(Duration::from_micros(sleep_us.max(1)));
                sleep_us = (sleep_us.max(1) * 2).min(self.idle.sleep_max_us);
            }
        }
        // Forward what is already in the rx rings before the ports stop.
        for _ in 0..DRAIN_PASSES {
            if self.poll_once(&mut burst, counters) == 0 {
                break;
            }
        }
        0
    }

    /// One pass over every rx queue; returns the packets received.
    #[inline]
    fn poll_once(&mut self, burst: &mut Burst, counters: &WorkerCounters) -> usize {
        let snapshot = self.tables.load();
        let mut received = 0;
        for (in_port, rxq) in self.rx.iter_mut() {
            let n = burst.rx(rxq, self.burst);
            if n == 0 {
                continue;
            }
            received += n;
            let Some(inc) = counters.ports.get(*in_port as usize) else {
                burst.clear();
                continue;
            };
            bump(&inc.rx_packets, n as u64);
            bump(&inc.rx_bytes, burst.total_bytes());
            match snapshot.patch.forward(*in_port) {
                Verdict::Forward(out) => {
                    let (Some(txq), Some(outc)) = (
                        self.tx.get_mut(out as usize),
                        counters.ports.get(out as usize),
                    ) else {
                        burst.clear();
                        inc.drop(crate::engine::DropReason::NoPatch, n as u64);
                        continue;
                    };
                    let o = burst.tx(txq);
                    bump(&outc.tx_packets, o.sent as u64);
                    bump(&outc.tx_bytes, o.sent_bytes);
                    if o.dropped > 0 {
                        outc.drop(crate::engine::DropReason::TxFull, o.dropped as u64);
                    }
                }
                Verdict::Drop(reason) => {
                    inc.drop(reason, n as u64);
                    burst.clear();
                }
            }
        }
        received
    }
}
