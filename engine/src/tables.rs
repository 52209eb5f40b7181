//! Immutable table snapshots and their RCU-style publication.
//!
//! The management thread builds a whole new [`Snapshot`] for each change and
//! swaps it in with `arc-swap`; a worker loads the current snapshot once per
//! poll loop and uses it without a lock. A worker holding the old snapshot
//! finishes its burst with it, so no update ever drops a packet.

use crate::patch::PatchTable;
use crate::vpc::VpcState;
use crate::{PortIdx, SwitchRole, Verdict};
use arc_swap::{ArcSwap, Guard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use vswitch_api::state::SwitchState;

/// Every table the workers read, as of one generation.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Increases by one with each publication.
    pub generation: u64,
    /// The port patch table (a patched port bypasses the VPC pipeline).
    pub patch: PatchTable,
    /// VNICs, V2P, underlay.
    pub vpc: VpcState,
    /// What the switch is: fixed at start-up, carried by every snapshot.
    pub role: SwitchRole,
    /// What each port is, resolved from the tables above when the snapshot
    /// is published, so that a packet's path is picked by one index.
    kinds: Vec<PortKind>,
    /// The document these tables were compiled from (the workers never read
    /// it): `export` prints it, and the next change starts from it.
    pub state: Arc<SwitchState>,
}

/// What a port's packets are, as of one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// Patched to another port, outside the VPC pipeline.
    Patched(PortIdx),
    /// A guest port with its VNIC.
    Guest,
    /// The underlay uplink (a sled's decapsulation, or the boundary's).
    Uplink,
    /// The boundary's external port.
    External,
    /// A boundary's bridge link (its index in `vpc.bridges`).
    Bridge(u8),
    /// Nothing yet: its packets are dropped.
    Unused,
}

impl Snapshot {
    /// The first snapshot of a sled switch with `ports` ports.
    pub fn empty(ports: usize) -> Self {
        Self::with_role(SwitchRole::Sled, ports)
    }

    /// The first snapshot of a switch of `role` with `ports` ports.
    pub fn with_role(role: SwitchRole, ports: usize) -> Self {
        let mut s = Snapshot {
            generation: 0,
            patch: PatchTable::new(ports),
            vpc: VpcState::new(ports),
            role,
            kinds: Vec::new(),
            state: Arc::new(SwitchState::empty(role.as_str())),
        };
        s.resolve_ports();
        s
    }

    /// The snapshot after this one, of the same switch, with new tables and
    /// the document they were compiled from (its port kinds are resolved
    /// and its generation set when it is published).
    pub(crate) fn next(&self, patch: PatchTable, vpc: VpcState, state: Arc<SwitchState>) -> Self {
        Snapshot {
            generation: self.generation,
            patch,
            vpc,
            role: self.role,
            kinds: Vec::new(),
            state,
        }
    }

    /// The kind of `port` (`Unused` past the last).
    #[inline(always)]
    pub fn port_kind(&self, port: PortIdx) -> PortKind {
        self.kinds
            .get(usize::from(port))
            .copied()
            .unwrap_or(PortKind::Unused)
    }

    /// Resolves every port's kind from the tables: a patch first, then the
    /// boundary's external port, a VNIC, the underlay uplink.
    pub fn resolve_ports(&mut self) {
        let ports = self.patch.ports().max(self.vpc.vnics.len());
        self.kinds = (0..ports)
            .map(|p| {
                let p = p as PortIdx;
                if let Verdict::Forward(to) = self.patch.forward(p) {
                    PortKind::Patched(to)
                } else if self.vpc.external_port.is_some_and(|x| x.port == p) {
                    PortKind::External
                } else if let Some(i) = self.vpc.bridges.iter().position(|b| b.link.port == p) {
                    PortKind::Bridge(i as u8)
                } else if self.vpc.vnic(p).is_some() {
                    PortKind::Guest
                } else if self.vpc.underlay.is_some_and(|u| u.uplink == p) {
                    PortKind::Uplink
                } else {
                    PortKind::Unused
                }
            })
            .collect();
    }
}

/// Where each accepted state is written before it is published (the state
/// file): a state it cannot write is not published.
pub trait Journal: Send + Sync {
    /// Writes `state` durably, or says why it could not.
    fn write(&self, state: &SwitchState) -> Result<(), String>;
}

/// The published snapshot plus a count of publications.
pub struct TableStore {
    current: ArcSwap<Snapshot>,
    swaps: AtomicU64,
    journal: OnceLock<Box<dyn Journal>>,
    /// The clock of [`Self::now_ns`].
    anchor: std::time::Instant,
    /// When the current snapshot was published ([`Self::now_ns`]).
    published_ns: AtomicU64,
}

impl std::fmt::Debug for TableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableStore")
            .field("generation", &self.current.load().generation)
            .field("swaps", &self.swaps)
            .field("journal", &self.journal.get().is_some())
            .finish()
    }
}

impl TableStore {
    /// A store publishing `initial`.
    pub fn new(mut initial: Snapshot) -> Self {
        initial.resolve_ports();
        TableStore {
            current: ArcSwap::from_pointee(initial),
            swaps: AtomicU64::new(0),
            journal: OnceLock::new(),
            anchor: std::time::Instant::now(),
            published_ns: AtomicU64::new(0),
        }
    }

    /// Nanoseconds on the store's own clock (monotonic, from its creation):
    /// the one clock the control side and the workers time a change by, from
    /// the command's arrival to the first packet processed under it.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(std::time::Instant::now())
    }

    /// `t` on the store's clock.
    pub fn ns_at(&self, t: std::time::Instant) -> u64 {
        t.saturating_duration_since(self.anchor).as_nanos() as u64
    }

    /// When the snapshot in force was published, on the store's clock.
    pub fn published_ns(&self) -> u64 {
        self.published_ns.load(Ordering::Relaxed)
    }

    /// Sets where accepted states are written before they are published
    /// (once; a second journal is refused).
    pub fn set_journal(&self, journal: Box<dyn Journal>) -> Result<(), String> {
        self.journal
            .set(journal)
            .map_err(|_| "the table store already has a journal".to_string())
    }

    /// Publishes `next` (compiled from the current snapshot) as the next
    /// generation.
    pub fn publish(&self, mut next: Snapshot) -> Arc<Snapshot> {
        next.resolve_ports();
        next.generation = self.current.load().generation + 1;
        if next.state.generation != Some(next.generation) {
            Arc::make_mut(&mut next.state).generation = Some(next.generation);
        }
        let next = Arc::new(next);
        self.current.store(Arc::clone(&next));
        self.published_ns.store(self.now_ns(), Ordering::Relaxed);
        self.swaps.fetch_add(1, Ordering::Relaxed);
        next
    }

    /// The current snapshot, for a worker's poll loop (lock-free).
    #[inline]
    pub fn load(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc`, for the management side.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Has the journal, if any, write `state` durably.
    pub fn journal(&self, state: &SwitchState) -> Result<(), String> {
        match self.journal.get() {
            Some(j) => j.write(state),
            None => Ok(()),
        }
    }

    /// Builds the next snapshot from the current one with `change` and publishes it.
    /// If `change` fails, nothing is published and the error is returned.
    /// Only the management thread publishes, so there is no lost update.
    ///
    /// This changes the tables behind the state document's back: tests and
    /// benchmarks use it to set up what no command can; the control side
    /// publishes through `control::commit`.
    pub fn update<E>(
        &self,
        change: impl FnOnce(&mut Snapshot) -> Result<(), E>,
    ) -> Result<Arc<Snapshot>, E> {
        let mut next = Snapshot::clone(&self.current.load());
        change(&mut next)?;
        next.resolve_ports();
        next.generation += 1;
        let next = Arc::new(next);
        self.current.store(Arc::clone(&next));
        self.swaps.fetch_add(1, Ordering::Relaxed);
        Ok(next)
    }

    /// Number of snapshots published since start.
    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_publishes_a_new_generation() {
        let s = TableStore::new(Snapshot::empty(2));
        let before = s.load();
        let next = s
            .update(|n| n.patch.set(0, 1).map_err(|e| e.to_string()))
            .unwrap();
        assert_eq!(next.generation, 1);
        assert_eq!(s.swaps(), 1);
        // The old guard still sees the old table: readers finish with what they loaded.
        assert_eq!(before.generation, 0);
        assert_eq!(before.patch.entries().count(), 0);
        assert_eq!(s.load().patch.entries().collect::<Vec<_>>(), vec![(0, 1)]);
    }

    #[test]
    fn port_kinds_are_resolved_whenever_a_snapshot_is_published() {
        // Patched before the store exists (the configuration's patches).
        let mut first = Snapshot::with_role(SwitchRole::Boundary, 3);
        first.patch.set(0, 1).unwrap();
        let s = TableStore::new(first);
        assert_eq!(s.load().port_kind(0), PortKind::Patched(1));
        assert_eq!(s.load().port_kind(1), PortKind::Unused);
        assert_eq!(s.load().port_kind(9), PortKind::Unused);
        assert_eq!(s.load().role, SwitchRole::Boundary);
        s.update(|n| {
            if n.patch.clear(0) {
                Ok(())
            } else {
                Err("no patch")
            }
        })
        .unwrap();
        assert_eq!(s.load().port_kind(0), PortKind::Unused);
    }

    #[test]
    fn failed_update_publishes_nothing() {
        let s = TableStore::new(Snapshot::empty(2));
        let r = s.update(|n| {
            n.patch.set(0, 1).map_err(|e| e.to_string())?;
            n.patch.set(0, 7).map_err(|e| e.to_string())
        });
        assert!(r.is_err());
        assert_eq!(s.swaps(), 0);
        assert_eq!(s.current().generation, 0);
        assert_eq!(s.current().patch.entries().count(), 0);
    }

    #[test]
    fn readers_on_other_threads_never_block() {
        let s = Arc::new(TableStore::new(Snapshot::empty(2)));
        let r = Arc::clone(&s);
        let reader = std::thread::spawn(move || {
            let mut last = 0;
            for _ in 0..200_000 {
                let g = r.load();
                assert!(g.generation >= last, "generations never go back");
                last = g.generation;
            }
        });
        for i in 0..1000u16 {
            s.update(|n| n.patch.set(0, i % 2).map_err(|e| e.to_string()))
                .unwrap();
        }
        reader.join().unwrap();
        assert_eq!(s.swaps(), 1000);
    }
}
