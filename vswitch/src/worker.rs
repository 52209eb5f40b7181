//! The poll-mode worker: `rx_burst` -> engine -> `tx_burst`, in batches, on its
//! own lcore, never taking a lock. The engine takes a whole burst at a time
//! (`engine/src/sequencer/burst.rs`); `docs/ARCHITECTURE.md` follows one
//! packet from `rx_burst` to `tx_burst`.

use crate::config::IdleConfig;
use crate::handoff::Handoff;
use crate::stats::{bump, PortCounters, WorkerCounters};
use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::CachePadded;
use dpdk::{Burst, RxQueue, TxQueue, BURST_MAX};
use engine::sequencer::Engine;
use engine::tables::{Snapshot, TableStore};
use engine::{DropReason, Outcome, Path, PortIdx, Verdict};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vswitch_api::migration::{CarriedFlow, FlowImportReport};

/// Empty passes a stopping worker makes at most to drain its rx queues.
const DRAIN_PASSES: usize = 64;
/// Poll loops between looks at the mailbox and the expiry sweep.
const HOUSEKEEPING_LOOPS: u32 = 1024;
/// Flows the expiry sweep looks at per housekeeping pass (it is incremental:
/// a full table is never swept in one go).
const EXPIRY_STEPS: usize = 256;
/// Flow-table slots a clear looks at per housekeeping pass.
const CLEAR_SLOTS: usize = 16_384;
/// Flow-table slots a `flows` page looks at, at most, between two bursts.
pub const PAGE_SLOTS: usize = 16_384;
/// Flows a worker copies out for one `flows` request, at most.
pub const PAGE_FLOWS: usize = 512;
/// Cycles of the worker each rx queue may spend per pass (deficit round
/// robin, see `Worker::poll_once`): more than a burst of fast-path packets
/// costs, so that a queue alone is served at full speed.
const QUANTUM_CYCLES: i64 = 16_384;
/// Bursts a queue is served at most per pass.
const BURSTS_PER_PASS: usize = 4;

/// A flow as a worker reports it to the management thread.
#[derive(Debug, Clone)]
pub struct FlowReport {
    /// The flow's key.
    pub id: engine::flow::table::FlowId,
    /// Its state.
    pub state: engine::flow::state::FlowState,
    /// Epoch it was computed at.
    pub epoch: u64,
    /// TCP state name.
    pub tcp: Option<&'static str>,
    /// Its class (eviction order).
    pub class: engine::flow::table::FlowClass,
    /// Packets that used it.
    pub hits: u64,
    /// Nanoseconds since its last packet.
    pub idle_ns: u64,
}

/// A page of a worker's flows: at most [`PAGE_FLOWS`], and the slot to go on
/// from (`None`: the end of the table).
pub type FlowPage = (Vec<FlowReport>, Option<u32>);

/// What the management thread may ask a worker; answered between bursts.
pub enum WorkerRequest {
    /// Report up to `max` flows (of one port), from slot `from` on.
    Flows {
        /// Only this port's flows.
        port: Option<PortIdx>,
        /// The slot to start at.
        from: u32,
        /// Most flows to report (at most [`PAGE_FLOWS`]).
        max: usize,
        /// Where the page goes.
        reply: Sender<FlowPage>,
    },
    /// Carry out a page of a port's flows for a migration, from slot `from`.
    CarryOut {
        /// The NIC's guest port.
        port: PortIdx,
        /// The slot to start at.
        from: u32,
        /// Where the page goes.
        reply: Sender<(Vec<CarriedFlow>, Option<u32>)>,
    },
    /// Install flows carried from another switch for the VNIC on `port`
    /// (the ones this worker owns); answer what was done.
    CarryIn {
        /// The NIC's guest port.
        port: PortIdx,
        /// The flows.
        flows: Vec<CarriedFlow>,
        /// Where the report goes.
        reply: Sender<FlowImportReport>,
    },
    /// Remove the flows (of one port) whose epoch is below the bound,
    /// releasing what they hold; answer how many once the whole table was
    /// walked (a large table is cleared over several passes).
    ClearFlows(Option<PortIdx>, u64, Sender<u64>),
    /// Poll and send on a port created at run time: its rx queues that this
    /// worker polls, its own tx queue, and the worker that sends for it
    /// where it has none. Answered once it polls them.
    AddPort {
        /// The port's index.
        port: PortIdx,
        /// Rx queues for this worker.
        rx: Vec<RxQueue>,
        /// Its own tx queue.
        tx: Option<TxQueue>,
        /// The worker that transmits for it where `tx` is `None`.
        via: usize,
        /// Answered when done.
        reply: Sender<()>,
    },
    /// Stop polling and sending on a port about to be removed (its queues
    /// are dropped between two bursts); answered once done, after which the
    /// port may be stopped and closed.
    RemovePort {
        /// The port's index.
        port: PortIdx,
        /// Answered when done.
        reply: Sender<()>,
    },
}

/// A clear under way.
pub struct Clearing {
    port: Option<PortIdx>,
    below_epoch: u64,
    reply: Sender<u64>,
    /// The slot to go on from.
    at: u32,
    /// The slab's end when the clear began (later slots hold later flows).
    end: u32,
    removed: u64,
}

/// Everything a worker owns and shares.
pub struct Worker {
    /// Worker index.
    pub id: usize,
    /// The rx queues it polls, with their port index.
    pub rx: Vec<(PortIdx, RxQueue)>,
    /// What processes a burst and transmits the result.
    pub pipe: Pipeline,
    /// Its ends of the handoff rings.
    pub handoff: Handoff,
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
    /// Requests from the management thread.
    pub mailbox: Receiver<WorkerRequest>,
    /// Clears under way, oldest first.
    pub clearing: Vec<Clearing>,
    /// Cycles each rx queue may still spend in this pass (by queue index).
    pub credit: Vec<i64>,
    /// Frames the metadata service asks this worker to send (worker 0 only).
    pub inject: Option<Receiver<crate::metadata::Injected>>,
}

/// The part of a worker that processes a burst received on one port and
/// transmits the result: the engine and the worker's own tx queues.
pub struct Pipeline {
    /// The worker's flow table and layers.
    pub engine: Engine,
    /// Its own tx queue on every port, indexed by port index (`None`: the
    /// device has fewer tx queues than workers and this one has none).
    pub tx: Vec<Option<TxQueue>>,
    /// By port: the worker that transmits for this one where it has no tx
    /// queue of its own.
    pub tx_via: Vec<usize>,
    /// Output bursts, by port index.
    pub outs: Vec<Burst>,
    /// The newest generation it processed a packet under (`u64::MAX`: none yet).
    pub seen_generation: u64,
    /// Where packets for the instance metadata service go.
    pub punt: Option<Sender<crate::metadata::Punted>>,
}

impl Pipeline {
    /// A pipeline over `engine` and `tx` (see [`Pipeline::tx_via`]).
    pub fn new(
        engine: Engine,
        tx: Vec<Option<TxQueue>>,
        tx_via: Vec<usize>,
        punt: Option<Sender<crate::metadata::Punted>>,
    ) -> Self {
        let outs = (0..tx.len()).map(|_| Burst::new()).collect();
        Pipeline {
            engine,
            tx,
            tx_via,
            outs,
            seen_generation: u64::MAX,
            punt,
        }
    }
}

/// A monotonic clock in nanoseconds from the TSC.
struct Clock {
    ns_per_cycle: f64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            ns_per_cycle: 1e9 / dpdk::tsc_hz().max(1) as f64,
        }
    }
    #[inline]
    fn now_ns(&self) -> u64 {
        (dpdk::tsc_cycles() as f64 * self.ns_per_cycle) as u64
    }
}

impl Worker {
    /// Polls until `running` is cleared, then drains; returns 0.
    pub fn run(mut self) -> i32 {
        let stats = Arc::clone(&self.stats);
        let Some(counters) = stats.workers.get(self.id) else {
            return -1;
        };
        let clock = Clock::new();
        let mut rx = Burst::new();
        let mut outcomes = [Outcome::drop(DropReason::Unsupported, Path::Early); BURST_MAX];
        let spin_cycles = dpdk::tsc_hz() / 1_000_000 * self.idle.spin_us;
        let mut idle_since = 0u64;
        let mut sleep_us = self.idle.sleep_min_us;
        let mut loops = 0u32;
        while self.running.load(Ordering::Relaxed) {
            loops = loops.wrapping_add(1);
            if loops.is_multiple_of(HOUSEKEEPING_LOOPS) {
                self.housekeeping(&clock, counters);
            }
            let t0 = dpdk::tsc_cycles();
            let (got, taken, deferred) =
                self.poll_once(&mut rx, &mut outcomes, counters, &clock, Mode::Polling);
            if got + taken == 0 && deferred {
                // Work is waiting on a queue that spent its share: not idle.
                continue;
            }
            if got + taken > 0 {
                // The cost of a packet: cycles of loops that had work, over
                // the packets they received from the ports (idle polling is
                // not the switch's cost; a handed-off packet is counted
                // once, where it arrived, while both workers' cycles count).
                bump(
                    &counters.loops.busy_cycles,
                    dpdk::tsc_cycles().saturating_sub(t0),
                );
                bump(&counters.loops.busy_packets, got as u64);
                bump(&counters.loops.busy, 1);
                idle_since = 0;
                sleep_us = self.idle.sleep_min_us;
                continue;
            }
            bump(&counters.loops.idle, 1);
            let now = dpdk::tsc_cycles();
            if idle_since == 0 {
                idle_since = now;
            }
            if now - idle_since >= spin_cycles && self.idle.sleep_max_us > 0 {
                bump(&counters.loops.sleeps, 1);
                self.housekeeping(&clock, counters);
                std::thread::sleep(Duration::from_micros(sleep_us.max(1)));
                sleep_us = (sleep_us.max(1) * 2).min(self.idle.sleep_max_us);
            }
        }
        // Forward what is already in the rx rings before the ports stop,
        // processing it here (no more handoffs), then what other workers
        // handed over before they stopped too.
        self.handoff.stop_polling();
        for _ in 0..DRAIN_PASSES {
            let (got, taken, deferred) =
                self.poll_once(&mut rx, &mut outcomes, counters, &clock, Mode::Draining);
            if got + taken == 0 && !deferred {
                break;
            }
        }
        let deadline = dpdk::tsc_cycles() + dpdk::tsc_hz() * 2;
        while !self.handoff.all_stopped() && dpdk::tsc_cycles() < deadline {
            let snapshot = self.tables.load();
            self.poll_rings(&snapshot, &mut rx, &mut outcomes, counters, &clock);
            std::thread::sleep(Duration::from_micros(50));
        }
        loop {
            let snapshot = self.tables.load();
            if self.poll_rings(&snapshot, &mut rx, &mut outcomes, counters, &clock) == 0 {
                break;
            }
        }
        0
    }

    /// Answers the mailbox, takes a step of any clear under way and of the
    /// expiry sweep, and publishes the table's gauges; never blocks, and
    /// does a bounded amount of work.
    fn housekeeping(&mut self, clock: &Clock, counters: &WorkerCounters) {
        let now = clock.now_ns();
        while let Ok(req) = self.mailbox.try_recv() {
            match req {
                WorkerRequest::Flows {
                    port,
                    from,
                    max,
                    reply,
                } => {
                    let mut flows = Vec::new();
                    let next = self.pipe.engine.flows().visit_from(
                        from,
                        max.min(PAGE_FLOWS),
                        PAGE_SLOTS,
                        |id, e| {
                            if port.is_none_or(|p| id.port == p) {
                                flows.push(FlowReport {
                                    id: *id,
                                    state: e.value.clone(),
                                    epoch: e.epoch,
                                    tcp: e.tcp.map(|t| t.state().as_str()),
                                    class: e.class(),
                                    hits: e.hits,
                                    idle_ns: now.saturating_sub(e.last_seen_ns),
                                });
                            }
                        },
                    );
                    let _ = reply.send((flows, next));
                }
                WorkerRequest::CarryOut { port, from, reply } => {
                    let page = self
                        .pipe
                        .engine
                        .carry_out(port, from, PAGE_FLOWS, PAGE_SLOTS);
                    let _ = reply.send(page);
                }
                WorkerRequest::CarryIn { port, flows, reply } => {
                    let mut report = FlowImportReport::default();
                    let snapshot = self.tables.load();
                    match snapshot.vpc.vnic(port) {
                        Some(vnic) => {
                            for c in &flows {
                                match self.pipe.engine.carry_in(vnic, c, now) {
                                    Ok(()) => report.imported += 1,
                                    Err(r) => {
                                        *report.refused.entry(r.as_str().into()).or_default() += 1
                                    }
                                }
                            }
                        }
                        None => {
                            report.refused.insert("no_vnic".into(), flows.len() as u64);
                        }
                    }
                    let _ = reply.send(report);
                }
                WorkerRequest::AddPort {
                    port,
                    rx,
                    tx,
                    via,
                    reply,
                } => {
                    self.rx.extend(rx.into_iter().map(|q| (port, q)));
                    self.credit.clear();
                    self.pipe.set_port(port, tx, via);
                    let _ = reply.send(());
                }
                WorkerRequest::RemovePort { port, reply } => {
                    self.rx.retain(|(p, _)| *p != port);
                    self.credit.clear();
                    self.pipe.set_port(port, None, self.id);
                    let _ = reply.send(());
                }
                WorkerRequest::ClearFlows(port, below_epoch, reply) => {
                    self.clearing.push(Clearing {
                        port,
                        below_epoch,
                        reply,
                        at: 0,
                        end: self.pipe.engine.flows().slots(),
                        removed: 0,
                    })
                }
            }
        }
        if let Some(inject) = &self.inject {
            for mut i in inject.try_iter().take(crate::metadata::INJECT_QUEUE) {
                let n = i.frames.len() as u64;
                self.pipe.transmit(i.port, &mut i.frames, &counters.ports);
                if let Some(c) = counters.ports.get(i.port as usize) {
                    bump(&c.injected, n);
                }
            }
        }
        let mut cleared = None;
        if let Some(c) = self.clearing.first_mut() {
            let (n, next) =
                self.pipe
                    .engine
                    .clear_flows(c.port, c.below_epoch, (c.at, c.end), CLEAR_SLOTS);
            c.removed += n as u64;
            match next {
                Some(at) => c.at = at,
                None => cleared = Some(self.clearing.remove(0)),
            }
        }
        let n = self.pipe.engine.expire_flows(now, EXPIRY_STEPS);
        bump(&counters.loops.flows_expired, n as u64);
        let loops = &counters.loops;
        loops
            .flows
            .store(self.pipe.engine.flows().len() as u64, Ordering::Relaxed);
        let ft = self.pipe.engine.flows().counters();
        for (c, n) in loops.flows_evicted.iter().zip(ft.evicted) {
            c.store(n, Ordering::Relaxed);
        }
        let (nat, held, reverse) = self.pipe.engine.nat_state();
        loops.snat_ports.store(held as u64, Ordering::Relaxed);
        loops.nat_reverse.store(reverse as u64, Ordering::Relaxed);
        loops.snat_allocated.store(nat.allocated, Ordering::Relaxed);
        loops.snat_exhausted.store(nat.exhausted, Ordering::Relaxed);
        // Answered once the gauges show the clear.
        if let Some(c) = cleared {
            let _ = c.reply.send(c.removed);
        }
    }

    /// One pass over every rx queue, then over the handoff rings; returns
    /// the packets received from the queues, those taken off the rings, and
    /// whether a queue was left for a later pass (it had spent its share).
    ///
    /// The queues share the worker by the cycles their packets cost
    /// (deficit round robin): each pass gives every queue [`QUANTUM_CYCLES`]
    /// (never banking more than that), and a queue is served, a burst at a
    /// time, while it has credit. A port whose packets are expensive (a guest
    /// flooding new flows, each a slow-path run) gets no more of the core
    /// than one whose packets are cheap, however fast it sends.
    #[inline]
    fn poll_once(
        &mut self,
        rx: &mut Burst,
        outcomes: &mut [Outcome; BURST_MAX],
        counters: &WorkerCounters,
        clock: &Clock,
        mode: Mode,
    ) -> (usize, usize, bool) {
        let id = self.id;
        let Worker {
            rx: rx_queues,
            pipe,
            handoff,
            tables,
            burst,
            credit,
            ..
        } = self;
        let snapshot = tables.load();
        let mut received = 0;
        let mut deferred = false;
        if credit.len() < rx_queues.len() {
            credit.resize(rx_queues.len(), QUANTUM_CYCLES);
        }
        let handing = handoff.active() && mode == Mode::Polling;
        for ((in_port, rxq), credit) in rx_queues.iter_mut().zip(credit.iter_mut()) {
            *credit = (*credit + QUANTUM_CYCLES).min(QUANTUM_CYCLES);
            if *credit <= 0 {
                deferred = true;
                continue;
            }
            for _ in 0..BURSTS_PER_PASS {
                let t0 = dpdk::tsc_cycles();
                let n = rx.rx(rxq, *burst);
                if n == 0 {
                    break;
                }
                received += n;
                let Some(inc) = counters.ports.get(*in_port as usize) else {
                    rx.clear();
                    break;
                };
                bump(&inc.rx_packets, n as u64);
                bump(&inc.rx_bytes, rx.total_bytes());
                if handing {
                    hand_off(id, &snapshot, *in_port, rx, handoff, counters);
                }
                if !rx.is_empty() {
                    let rings = &mut handoff.to;
                    pipe.process(
                        &snapshot, tables, *in_port, rx, outcomes, counters, clock, rings,
                    );
                }
                *credit -= dpdk::tsc_cycles().saturating_sub(t0) as i64;
                if *credit <= 0 {
                    break;
                }
            }
        }
        let taken = self.poll_rings(&snapshot, rx, outcomes, counters, clock);
        (received, taken, deferred)
    }

    /// Takes what other workers handed over off the rings (a bounded number
    /// of bursts from each) and processes it, port by port, as received
    /// here; returns how many packets it took.
    #[inline]
    fn poll_rings(
        &mut self,
        snapshot: &Snapshot,
        rx: &mut Burst,
        outcomes: &mut [Outcome; BURST_MAX],
        counters: &WorkerCounters,
        clock: &Clock,
    ) -> usize {
        let Worker {
            pipe,
            handoff,
            tables,
            burst,
            ..
        } = self;
        let Handoff { from, to, .. } = handoff;
        if from.is_empty() {
            return 0;
        }
        let mut taken = 0;
        let mut ring_in = Burst::new();
        for ring in from.iter_mut() {
            for _ in 0..BURSTS_PER_PASS {
                let n = ring.recv(&mut ring_in, *burst);
                if n == 0 {
                    break;
                }
                taken += n;
                bump(&counters.loops.handoff_in, n as u64);
                // A sender enqueues one rx burst at a time, so packets of
                // one port come in runs.
                while !ring_in.is_empty() {
                    let tag = ring_in.port(0);
                    ring_in.take_port(tag, rx);
                    if tag & TX_ONLY != 0 {
                        pipe.transmit(tag & !TX_ONLY, rx, &counters.ports);
                    } else {
                        pipe.process(snapshot, tables, tag, rx, outcomes, counters, clock, to);
                    }
                }
            }
        }
        taken
    }
}

/// A ring entry's port tag with this bit set is a processed packet to
/// transmit on that port (for a worker that has no tx queue there), not one
/// to process.
const TX_ONLY: u16 = 0x8000;

/// Whether a worker still hands packets off, or is stopping (it then
/// processes whatever it receives itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Polling,
    Draining,
}

/// Moves the packets of `rx` (received on `in_port`) that another worker
/// owns onto that worker's ring, tagged with `in_port`; what stays in `rx`
/// is this worker's to process. A ring without room is a counted drop.
#[inline]
fn hand_off(
    me: usize,
    snapshot: &Snapshot,
    in_port: PortIdx,
    rx: &mut Burst,
    handoff: &mut Handoff,
    counters: &WorkerCounters,
) {
    let mut dest = [u16::MAX; BURST_MAX];
    let mut any = false;
    for (i, d) in dest.iter_mut().enumerate().take(rx.len()) {
        let owner = engine::owner::owner_of(snapshot, in_port, rx.data(i), handoff.workers);
        let to = match owner {
            Some(o) if o != me || handoff.all => o,
            None if handoff.all => me,
            _ => continue,
        };
        if handoff.to.get(to).is_some_and(|r| r.is_some()) {
            rx.set_port(i, in_port);
            *d = to as u16;
            any = true;
        }
    }
    if !any {
        return;
    }
    rx.split_off(&dest, &mut handoff.staging);
    for (out, ring) in handoff.staging.iter_mut().zip(handoff.to.iter_mut()) {
        let (Some(ring), false) = (ring.as_mut(), out.is_empty()) else {
            continue;
        };
        if let Some(c) = counters.ports.get(in_port as usize) {
            send_on_ring(ring, out, counters, c);
        } else {
            out.clear();
        }
    }
}

/// Puts `out` (tagged already) on a handoff ring; what finds no room is
/// dropped as `handoff_full`, charged to `charge`. `out` is empty afterwards.
#[inline]
fn send_on_ring(
    ring: &mut dpdk::RingProducer,
    out: &mut Burst,
    counters: &WorkerCounters,
    charge: &PortCounters,
) {
    let (sent, full) = ring.send(out);
    bump(&counters.loops.handoff_out, sent as u64);
    if full > 0 {
        charge.drop(DropReason::HandoffFull, full as u64);
    }
}

/// Hands a copy of a guest's IPv4 packet (its Ethernet header removed) to
/// the metadata service; the mbuf is freed by the caller. A full queue is a
/// counted drop.
#[cold]
fn punt(
    to: Option<&Sender<crate::metadata::Punted>>,
    nic: Option<u32>,
    frame: &[u8],
    c: &PortCounters,
) {
    let Some(nic) = nic else {
        c.drop(DropReason::NoVnic, 1);
        return;
    };
    let packet = frame.get(14..).unwrap_or_default().to_vec();
    match to.map(|t| t.try_send(crate::metadata::Punted { nic, packet })) {
        Some(Ok(())) => bump(&c.punted, 1),
        _ => c.drop(DropReason::MetadataBusy, 1),
    }
}

/// Counts what a transmit on a port's own tx queue did.
#[inline]
fn count_tx(c: &PortCounters, o: dpdk::TxOutcome) {
    bump(&c.tx_packets, o.sent as u64);
    bump(&c.tx_bytes, o.sent_bytes);
    if o.dropped > 0 {
        c.drop(DropReason::TxFull, o.dropped as u64);
    }
}

impl Pipeline {
    /// Runs the engine over `rx` (received on `in_port`), counts the
    /// outcomes on `in_port` and transmits what it forwards on this
    /// worker's own tx queues. `rx` is empty afterwards.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn process(
        &mut self,
        snapshot: &Snapshot,
        tables: &TableStore,
        in_port: PortIdx,
        rx: &mut Burst,
        outcomes: &mut [Outcome; BURST_MAX],
        counters: &WorkerCounters,
        clock: &Clock,
        rings: &mut [Option<dpdk::RingProducer>],
    ) {
        let Some(inc) = counters.ports.get(in_port as usize) else {
            rx.clear();
            return;
        };
        let now = clock.now_ns();
        let n = self
            .engine
            .process_burst(snapshot, in_port, rx, now, &mut outcomes[..]);
        if snapshot.generation != self.seen_generation && n > 0 {
            // The first packet under a new generation: when a change took
            // effect (`stats`: publication to first packet).
            self.seen_generation = snapshot.generation;
            counters
                .loops
                .generation_seen
                .store(snapshot.generation, Ordering::Relaxed);
            counters
                .loops
                .generation_seen_ns
                .store(tables.now_ns(), Ordering::Relaxed);
        }
        let mut targets = [u16::MAX; BURST_MAX];
        let (mut fast, mut slow, mut hairpin, mut relayed) = (0u64, 0u64, 0u64, 0u64);
        let mut metadata = false;
        let outs_len = self.outs.len();
        for (outcome, target) in outcomes.iter().zip(targets.iter_mut()).take(n) {
            match outcome.path {
                Path::Fast => fast += 1,
                Path::Slow => slow += 1,
                Path::Hairpin => hairpin += 1,
                Path::Relayed => relayed += 1,
                Path::Patch | Path::Early => {}
            }
            *target = match outcome.verdict {
                Verdict::Forward(out) if (out as usize) < outs_len => out,
                Verdict::Forward(_) => {
                    inc.drop(DropReason::NoPatch, 1);
                    u16::MAX
                }
                Verdict::Drop(reason) => {
                    inc.drop(reason, 1);
                    u16::MAX
                }
                Verdict::Metadata => {
                    metadata = true;
                    u16::MAX
                }
            };
        }
        if metadata {
            // Off the per-packet loop: copies for the metadata service.
            let nic = snapshot.vpc.vnic(in_port).map(|v| v.spec.id);
            for (i, o) in outcomes.iter().enumerate().take(n) {
                if o.verdict == Verdict::Metadata {
                    punt(self.punt.as_ref(), nic, rx.data(i), inc);
                }
            }
        }
        bump(&inc.fast_path, fast);
        bump(&inc.slow_path, slow);
        bump(&inc.hairpin, hairpin);
        bump(&inc.relayed, relayed);
        rx.distribute(&targets[..n], &mut self.outs);
        self.flush(counters, rings);
    }

    /// Sets port `port`'s tx queue and the worker that sends for it where it
    /// has none (a run-time port added or removed); drops anything still
    /// waiting for it.
    fn set_port(&mut self, port: PortIdx, tx: Option<TxQueue>, via: usize) {
        let i = port as usize;
        if self.tx.len() <= i {
            self.tx.resize_with(i + 1, || None);
            self.tx_via.resize(i + 1, via);
            self.outs.resize_with(i + 1, Burst::new);
        }
        if let (Some(q), Some(v), Some(out)) = (
            self.tx.get_mut(i),
            self.tx_via.get_mut(i),
            self.outs.get_mut(i),
        ) {
            *q = tx;
            *v = via;
            out.clear();
        }
    }

    /// Transmits what another worker processed for `port` (it has no tx
    /// queue there); `burst` is empty afterwards.
    fn transmit(
        &mut self,
        port: PortIdx,
        burst: &mut Burst,
        counters: &[CachePadded<PortCounters>],
    ) {
        let Some(c) = counters.get(port as usize) else {
            burst.clear();
            return;
        };
        match self.tx.get_mut(port as usize).and_then(|q| q.as_mut()) {
            Some(txq) => count_tx(c, burst.tx(txq)),
            None => {
                c.drop(DropReason::TxFull, burst.len() as u64);
                burst.clear();
            }
        }
    }

    /// Transmits every non-empty output burst: on the worker's own tx queue
    /// of the port, or through the ring to the worker that has one.
    #[inline(always)]
    fn flush(&mut self, counters: &WorkerCounters, rings: &mut [Option<dpdk::RingProducer>]) {
        for (port, (out, txq)) in self.outs.iter_mut().zip(self.tx.iter_mut()).enumerate() {
            if out.is_empty() {
                continue;
            }
            let Some(c) = counters.ports.get(port) else {
                out.clear();
                continue;
            };
            if let Some(txq) = txq {
                count_tx(c, out.tx(txq));
                continue;
            }
            let via = self.tx_via.get(port).copied().unwrap_or(0);
            let Some(ring) = rings.get_mut(via).and_then(|r| r.as_mut()) else {
                c.drop(DropReason::TxFull, out.len() as u64);
                out.clear();
                continue;
            };
            for i in 0..out.len() {
                out.set_port(i, TX_ONLY | port as u16);
            }
            send_on_ring(ring, out, counters, c);
        }
    }
}
