//! The port patch table: every frame received on port A leaves on port B,
//! untouched. The first processing stage, and the simplest user of the
//! snapshot mechanism that later carries routes, V2P and gateway maps.

use crate::{DropReason, PortIdx, Verdict};

/// Ingress port -> egress port, for every port of the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchTable {
    out: Vec<Option<PortIdx>>,
}

impl PatchTable {
    /// An empty table for a switch of `ports` ports.
    pub fn new(ports: usize) -> Self {
        PatchTable {
            out: vec![None; ports],
        }
    }

    /// Number of ports the table covers.
    pub fn ports(&self) -> usize {
        self.out.len()
    }

    /// Patches `from` to `to`, replacing any entry of `from`. Refuses an unknown port.
    pub fn set(&mut self, from: PortIdx, to: PortIdx) -> Result<(), PatchError> {
        let n = self.out.len();
        if (to as usize) >= n {
            return Err(PatchError::UnknownPort(to));
        }
        let slot = self
            .out
            .get_mut(from as usize)
            .ok_or(PatchError::UnknownPort(from))?;
        *slot = Some(to);
        Ok(())
    }

    /// Removes the entry of `from`; returns whether there was one.
    pub fn clear(&mut self, from: PortIdx) -> bool {
        self.out
            .get_mut(from as usize)
            .and_then(Option::take)
            .is_some()
    }

    /// Removes every entry.
    pub fn clear_all(&mut self) {
        self.out.iter_mut().for_each(|s| *s = None);
    }

    /// The entries, ordered by ingress port.
    pub fn entries(&self) -> impl Iterator<Item = (PortIdx, PortIdx)> + '_ {
        self.out
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.map(|to| (i as PortIdx, to)))
    }

    /// Where frames received on `from` go.
    #[inline]
    pub fn forward(&self, from: PortIdx) -> Verdict {
        match self.out.get(from as usize) {
            Some(Some(to)) => Verdict::Forward(*to),
            _ => Verdict::Drop(DropReason::NoPatch),
        }
    }
}

/// A patch change that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The port index is outside the switch.
    #[error("port index {0} does not exist")]
    UnknownPort(PortIdx),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_follows_entries_and_drops_unpatched() {
        let mut t = PatchTable::new(3);
        assert_eq!(t.forward(0), Verdict::Drop(DropReason::NoPatch));
        t.set(0, 2).unwrap();
        t.set(2, 2).unwrap();
        assert_eq!(t.forward(0), Verdict::Forward(2));
        assert_eq!(t.forward(2), Verdict::Forward(2));
        assert_eq!(t.forward(1), Verdict::Drop(DropReason::NoPatch));
        assert_eq!(t.forward(9), Verdict::Drop(DropReason::NoPatch));
        assert_eq!(t.entries().collect::<Vec<_>>(), vec![(0, 2), (2, 2)]);
    }

    #[test]
    fn set_replaces_and_refuses_unknown_ports() {
        let mut t = PatchTable::new(2);
        t.set(0, 1).unwrap();
        t.set(0, 0).unwrap();
        assert_eq!(t.forward(0), Verdict::Forward(0));
        assert_eq!(t.set(0, 2), Err(PatchError::UnknownPort(2)));
        assert_eq!(t.set(5, 0), Err(PatchError::UnknownPort(5)));
        assert_eq!(
            t.forward(0),
            Verdict::Forward(0),
            "a refused set changes nothing"
        );
    }

    #[test]
    fn clear_removes_entries() {
        let mut t = PatchTable::new(2);
        t.set(0, 1).unwrap();
        t.set(1, 0).unwrap();
        assert!(t.clear(0));
        assert!(!t.clear(0));
        assert_eq!(t.entries().count(), 1);
        t.clear_all();
        assert_eq!(t.entries().count(), 0);
    }
}
