//! What the engine decides for a packet, and why a packet is dropped.

use super::PortIdx;

/// The engine's decision for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit on this port.
    Forward(PortIdx),
    /// Drop, counted under this reason.
    Drop(DropReason),
}

/// Why a packet was dropped. Every drop is counted under exactly one reason,
/// so that received = sent + dropped holds per port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum DropReason {
    /// The ingress port has no patch entry.
    NoPatch = 0,
    /// The egress device refused the packet (tx ring full).
    TxFull = 1,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 2] = [DropReason::NoPatch, DropReason::TxFull];
    /// Number of reasons (the length of a per-reason counter array).
    pub const COUNT: usize = Self::ALL.len();

    /// The label used in the API and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoPatch => "no_patch",
            DropReason::TxFull => "tx_full",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DropReason::COUNT);
    }
}
