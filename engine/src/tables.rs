//! Immutable table snapshots and their RCU-style publication.
//!
//! The management thread builds a whole new [`Snapshot`] for each change and
//! swaps it in with `arc-swap`; a worker loads the current snapshot once per
//! poll loop and uses it without a lock. A worker holding the old snapshot
//! finishes its burst with it, so no update ever drops a packet.

use crate::patch::PatchTable;
use crate::vpc::VpcState;
use arc_swap::{ArcSwap, Guard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Every table the workers read, as of one generation.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Increases by one with each publication.
    pub generation: u64,
    /// The port patch table (a patched port bypasses the VPC pipeline).
    pub patch: PatchTable,
    /// VNICs, V2P, underlay.
    pub vpc: VpcState,
}

impl Snapshot {
    /// The first snapshot of a switch with `ports` ports.
    pub fn empty(ports: usize) -> Self {
        Snapshot {
            generation: 0,
            patch: PatchTable::new(ports),
            vpc: VpcState::new(ports),
        }
    }
}

/// The published snapshot plus a count of publications.
#[derive(Debug)]
pub struct TableStore {
    current: ArcSwap<Snapshot>,
    swaps: AtomicU64,
}

impl TableStore {
    /// A store publishing `initial`.
    pub fn new(initial: Snapshot) -> Self {
        TableStore {
            current: ArcSwap::from_pointee(initial),
            swaps: AtomicU64::new(0),
        }
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

    /// Builds the next snapshot from the current one with `change` and publishes it.
    /// If `change` fails, nothing is published and the error is returned.
    /// Only the management thread publishes, so there is no lost update.
    pub fn update<E>(
        &self,
        change: impl FnOnce(&mut Snapshot) -> Result<(), E>,
    ) -> Result<Arc<Snapshot>, E> {
        let mut next = Snapshot::clone(&self.current.load());
        change(&mut next)?;
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
