//! Per-worker counters. Each worker writes only its own cache-padded block,
//! with plain relaxed load+store (single writer, no locked instruction); the
//! management thread and the metrics endpoint sum the blocks when asked.

use crossbeam_utils::CachePadded;
use engine::{DropReason, PortIdx};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use vswitch_api::PortCounters as ApiCounters;

/// Adds `n` to a counter that only the calling worker writes.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// One value per drop reason, indexed by `DropReason as usize` (an array
/// type of its own: arrays of more than 32 derive no `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerReason<T>(pub [T; DropReason::COUNT]);

impl<T: Default> Default for PerReason<T> {
    fn default() -> Self {
        PerReason(std::array::from_fn(|_| T::default()))
    }
}

impl<T> std::ops::Deref for PerReason<T> {
    type Target = [T; DropReason::COUNT];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> std::ops::DerefMut for PerReason<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// One worker's counters for one port.
#[derive(Debug, Default)]
pub struct PortCounters {
    /// Packets received on the port.
    pub rx_packets: AtomicU64,
    /// Bytes received on the port.
    pub rx_bytes: AtomicU64,
    /// Packets the port accepted for transmission.
    pub tx_packets: AtomicU64,
    /// Bytes the port accepted for transmission.
    pub tx_bytes: AtomicU64,
    /// Drops charged to the port, by reason.
    pub drops: PerReason<AtomicU64>,
    /// Packets a cached flow transform handled (flow-table hits).
    pub fast_path: AtomicU64,
    /// Packets the layers handled (flow-table misses and stale entries).
    pub slow_path: AtomicU64,
    /// Packets the virtual gateway answered.
    pub hairpin: AtomicU64,
    /// Geneve relayed from a migrated instance's old endpoint to its new one.
    pub relayed: AtomicU64,
    /// Packets handed to the instance metadata service.
    pub punted: AtomicU64,
    /// Packets sent on the port for the metadata service (also in
    /// `tx_packets`): received + injected = sent + punted + dropped.
    pub injected: AtomicU64,
}

impl PortCounters {
    /// Counts `n` drops for `reason`.
    #[inline]
    pub fn drop(&self, reason: DropReason, n: u64) {
        bump(&self.drops[reason as usize], n);
    }

    fn add_into(&self, out: &mut Totals) {
        out.rx_packets += self.rx_packets.load(Relaxed);
        out.rx_bytes += self.rx_bytes.load(Relaxed);
        out.tx_packets += self.tx_packets.load(Relaxed);
        out.tx_bytes += self.tx_bytes.load(Relaxed);
        for (o, d) in out.drops.iter_mut().zip(self.drops.iter()) {
            *o += d.load(Relaxed);
        }
        out.fast_path += self.fast_path.load(Relaxed);
        out.slow_path += self.slow_path.load(Relaxed);
        out.hairpin += self.hairpin.load(Relaxed);
        out.relayed += self.relayed.load(Relaxed);
        out.punted += self.punted.load(Relaxed);
        out.injected += self.injected.load(Relaxed);
    }
}

/// A worker's loop counters.
#[derive(Debug, Default)]
pub struct LoopCounters {
    /// Loops that received at least one packet.
    pub busy: AtomicU64,
    /// TSC cycles spent in those loops.
    pub busy_cycles: AtomicU64,
    /// Packets those loops received.
    pub busy_packets: AtomicU64,
    /// Loops that received nothing.
    pub idle: AtomicU64,
    /// Backoff sleeps.
    pub sleeps: AtomicU64,
    /// Flows in the worker's flow table (a gauge, updated periodically).
    pub flows: AtomicU64,
    /// Flow-table entries expired.
    pub flows_expired: AtomicU64,
    /// SNAT ports held by live flows (a gauge, updated periodically).
    pub snat_ports: AtomicU64,
    /// SNAT ports handed out since start (mirrors the engine's count).
    pub snat_allocated: AtomicU64,
    /// SNAT allocations refused for a full range since start.
    pub snat_exhausted: AtomicU64,
    /// Live flows evicted to make room since start, by class
    /// (`FlowClass` order; mirrors the flow table's counts).
    pub flows_evicted: [AtomicU64; engine::flow::table::FlowClass::COUNT],
    /// NAT reply keys held (a gauge): one per translated flow.
    pub nat_reverse: AtomicU64,
    /// Packets it handed to the worker owning their flow.
    pub handoff_out: AtomicU64,
    /// Packets other workers handed to it (it owns their flows).
    pub handoff_in: AtomicU64,
    /// The newest table generation a packet was processed under.
    pub generation_seen: AtomicU64,
    /// When the first packet under it was (`TableStore::now_ns`).
    pub generation_seen_ns: AtomicU64,
}

/// Everything one worker counts.
#[derive(Debug)]
pub struct WorkerCounters {
    /// Loop counters.
    pub loops: CachePadded<LoopCounters>,
    /// Per-port counters, indexed by port index.
    pub ports: Box<[CachePadded<PortCounters>]>,
}

/// The counters of every worker.
#[derive(Debug)]
pub struct Stats {
    /// Indexed by worker id.
    pub workers: Box<[WorkerCounters]>,
}

/// Plain sums of port counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Drops by reason.
    pub drops: PerReason<u64>,
    /// Flow-table hits.
    pub fast_path: u64,
    /// Slow-path packets.
    pub slow_path: u64,
    /// Gateway replies.
    pub hairpin: u64,
    /// Relayed after a migration.
    pub relayed: u64,
    /// Handed to the metadata service.
    pub punted: u64,
    /// Sent for the metadata service.
    pub injected: u64,
}

impl Totals {
    /// All drops.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// The API form, every reason named.
    pub fn to_api(&self) -> ApiCounters {
        ApiCounters {
            rx_packets: self.rx_packets,
            rx_bytes: self.rx_bytes,
            tx_packets: self.tx_packets,
            tx_bytes: self.tx_bytes,
            drops: DropReason::ALL
                .iter()
                .map(|r| (r.as_str().to_string(), self.drops[*r as usize]))
                .collect(),
            fast_path: self.fast_path,
            slow_path: self.slow_path,
            hairpin: self.hairpin,
            relayed: self.relayed,
            punted: self.punted,
            injected: self.injected,
        }
    }
}

impl Stats {
    /// Zeroed counters for `workers` workers and `ports` ports.
    pub fn new(workers: usize, ports: usize) -> Self {
        Stats {
            workers: (0..workers)
                .map(|_| WorkerCounters {
                    loops: CachePadded::new(LoopCounters::default()),
                    ports: (0..ports)
                        .map(|_| CachePadded::new(PortCounters::default()))
                        .collect(),
                })
                .collect(),
        }
    }

    /// One port's counters summed over workers.
    pub fn port(&self, port: PortIdx) -> Totals {
        let mut t = Totals::default();
        for w in self.workers.iter() {
            if let Some(p) = w.ports.get(port as usize) {
                p.add_into(&mut t);
            }
        }
        t
    }

    /// One worker's counters summed over ports.
    pub fn worker(&self, worker: usize) -> Totals {
        let mut t = Totals::default();
        if let Some(w) = self.workers.get(worker) {
            for p in w.ports.iter() {
                p.add_into(&mut t);
            }
        }
        t
    }

    /// Everything summed.
    pub fn total(&self) -> Totals {
        let mut t = Totals::default();
        for w in self.workers.iter() {
            for p in w.ports.iter() {
                p.add_into(&mut t);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_over_workers_and_ports() {
        let s = Stats::new(2, 3);
        bump(&s.workers[0].ports[1].rx_packets, 5);
        bump(&s.workers[1].ports[1].rx_packets, 7);
        bump(&s.workers[1].ports[2].tx_packets, 4);
        s.workers[0].ports[1].drop(DropReason::NoPatch, 2);
        s.workers[1].ports[2].drop(DropReason::TxFull, 1);
        assert_eq!(s.port(1).rx_packets, 12);
        assert_eq!(s.port(1).drops[DropReason::NoPatch as usize], 2);
        assert_eq!(s.worker(1).tx_packets, 4);
        let t = s.total();
        assert_eq!((t.rx_packets, t.tx_packets, t.dropped()), (12, 4, 3));
        let api = t.to_api();
        assert_eq!(api.drops["no_patch"], 2);
        assert_eq!(api.drops["tx_full"], 1);
    }
}
