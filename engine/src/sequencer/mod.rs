//! The sequencer: runs the layers in order for each packet and owns what a
//! worker keeps between packets (the flow table, the NAT state, the
//! outer-header templates). It decides nothing itself: each step is a
//! layer's decision (`gateway`, `firewall::stateful`, `router::decision`,
//! `nat`, `overlay`, `boundary`), and the sequencer only passes one's
//! result to the next and caches what they compiled.
//!
//! Outbound (guest -> wire, `outbound.rs`): gateway -> firewall -> router
//! -> nat -> overlay. Inbound (wire -> guest, `inbound.rs`): overlay -> nat
//! -> router -> firewall -> gateway.
//!
//! A flow's first packet (or its first after an epoch change) runs every
//! layer on the slow path, which compiles the result into a transform cached
//! in the flow table; later packets only apply that transform (fast path).
//! Both directions of a connection share one entry, so the firewall's
//! stateful allow is the entry itself: a reply finds the entry its request
//! created. `burst.rs` runs a whole burst, with its prefetch passes.

mod burst;
pub mod carry;
mod flows;
mod inbound;
mod outbound;

pub use crate::pktbuf::PacketBurst;
pub use burst::BURST_MAX;

use crate::flow::state::FlowState;
use crate::flow::table::{FlowTable, Realm, DEFAULT_TTL_NS};
use crate::frame::quick::{quick_info, quick_words};
use crate::frame::{frame_info, FrameInfo};
use crate::nat::NatState;
use crate::overlay::decap::quick_arrival;
use crate::overlay::encap::Templates;
use crate::pktbuf::PacketBuf;
use crate::tables::{PortKind, Snapshot};
use crate::{boundary, DropReason, KeyWords, Outcome, Path, PortIdx, SwitchRole};

/// What a first pass over a burst reads of a packet's flow (see
/// [`Engine::flow_hint`]): the lookup of the second pass, which processes
/// the packet, starts from it instead of reading the frame and hashing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowHint {
    /// The guest port whose flow table entry the packet looks up.
    pub port: PortIdx,
    /// The realm looked up first.
    pub realm: Realm,
    /// The flow's key, packed, in the guest's (outbound) orientation.
    pub words: KeyWords,
    /// The frame's TCP flags.
    pub flags: u8,
    /// The flow's hash in the table.
    pub hash: u64,
}

/// One worker's engine: its flow table, its NAT state and its cache of
/// outer headers.
pub struct Engine {
    flows: FlowTable<FlowState>,
    templates: Templates,
    nat: NatState,
    /// Workers sharing the switch's flows (a VNIC's flow quota is split
    /// between them).
    workers: usize,
    /// By port: whether the last outbound fast-path hit was an internet
    /// flow (that realm is then looked up first).
    prefer: Vec<bool>,
    /// The hints of the burst being processed (see `burst.rs`).
    hints: Vec<Option<FlowHint>>,
    /// Tests: no fixed-offset reading and no fast path, every frame through
    /// the full parser and the layers (to check both give the same answer).
    #[cfg(test)]
    pub(crate) full_path_only: bool,
}

impl Engine {
    /// An engine whose flow table holds at most `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        Self::for_worker(capacity, 0, 1)
    }

    /// The engine of worker `worker` of `workers`: it holds the flows that
    /// worker owns (`owner`), allocates SNAT ports from its own slice of
    /// each range, and enforces its share of each VNIC's flow quota.
    pub fn for_worker(capacity: usize, worker: usize, workers: usize) -> Self {
        Engine {
            flows: FlowTable::new(capacity, DEFAULT_TTL_NS),
            templates: Templates::default(),
            nat: NatState::for_worker(worker, workers),
            workers: workers.max(1),
            prefer: Vec::new(),
            hints: vec![None; BURST_MAX],
            #[cfg(test)]
            full_path_only: false,
        }
    }

    /// Whether the fixed-offset readings and fast paths may be used (always,
    /// but in tests that compare them with the full path).
    #[inline(always)]
    fn quick(&self) -> bool {
        #[cfg(test)]
        {
            !self.full_path_only
        }
        #[cfg(not(test))]
        {
            true
        }
    }

    /// The frame's facts, read at fixed offsets when the frame is common.
    #[inline]
    fn info(&self, f: &[u8]) -> Result<FrameInfo, DropReason> {
        match quick_info(f).filter(|_| self.quick()) {
            Some(i) => Ok(i),
            None => frame_info(f),
        }
    }

    /// The flow table.
    pub fn flows(&self) -> &FlowTable<FlowState> {
        &self.flows
    }

    /// Decides where a packet received on `in_port` goes, editing it in
    /// place (one packet; a worker calls [`Self::process_burst`]).
    #[inline]
    pub fn process<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        in_port: PortIdx,
        pkt: &mut P,
        now_ns: u64,
    ) -> Outcome {
        self.process_hinted(snap, in_port, pkt, now_ns, None)
    }

    /// [`Self::process`], given the hint [`Self::flow_hint`] gave for the
    /// same packet and snapshot (`None`: none), so that the lookup neither
    /// reads the frame's key nor hashes it again. The port's kind, resolved
    /// when the snapshot was published, picks the path.
    #[inline]
    pub(crate) fn process_hinted<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        in_port: PortIdx,
        pkt: &mut P,
        now_ns: u64,
        hint: Option<&FlowHint>,
    ) -> Outcome {
        match snap.port_kind(in_port) {
            PortKind::Patched(to) => Outcome::forward(to, Path::Patch),
            PortKind::Guest => match snap.vpc.vnic(in_port) {
                Some(vnic) => self.outbound(snap, vnic, pkt, now_ns, hint),
                None => Outcome::drop(DropReason::NoPatch, Path::Early),
            },
            PortKind::Uplink => match (snap.role, snap.vpc.underlay) {
                (SwitchRole::Sled, Some(u)) => self.underlay_in(snap, &u, pkt, now_ns, hint),
                (SwitchRole::Boundary, Some(u)) => boundary::from_underlay(snap, &u, pkt),
                (_, None) => Outcome::drop(DropReason::NoUnderlay, Path::Early),
            },
            PortKind::External => match snap.vpc.external_port {
                Some(x) => boundary::from_external(snap, &x, pkt),
                None => Outcome::drop(DropReason::NoExternalPort, Path::Early),
            },
            PortKind::Bridge(i) => match snap.vpc.bridges.get(usize::from(i)) {
                Some(b) => boundary::bridge::from_bridge(snap, b, pkt),
                None => Outcome::drop(DropReason::NoExternalPort, Path::Early),
            },
            PortKind::Unused => Outcome::drop(DropReason::NoPatch, Path::Early),
        }
    }

    /// The first pass over a burst, for one packet: reads the key of the
    /// flow the packet would look up on the fast path (the same reading
    /// `outbound` and `underlay_in` do), hashes it and starts loading its
    /// bucket. `None` for packets that take no fast-path lookup.
    #[inline]
    pub(crate) fn flow_hint(
        &self,
        snap: &Snapshot,
        in_port: PortIdx,
        bytes: &[u8],
    ) -> Option<FlowHint> {
        if !self.quick() {
            return None;
        }
        let (port, realm, words, flags) = match snap.port_kind(in_port) {
            PortKind::Guest => {
                let vnic = snap.vpc.vnic(in_port)?;
                let (words, flags) = quick_words(bytes)?;
                (vnic.port, self.preferred_realm(vnic.port), words, flags)
            }
            // A boundary's underlay traffic takes no flow lookup.
            PortKind::Uplink if snap.role == SwitchRole::Sled => {
                let u = snap.vpc.underlay?;
                let (vnic, words, flags) = quick_arrival(&snap.vpc, &u, bytes)?;
                (vnic.port, Realm::Vpc, words, flags)
            }
            _ => return None,
        };
        let hash = self.flows.hash_words(port, realm, &words);
        self.flows.prefetch_bucket(hash);
        Some(FlowHint {
            port,
            realm,
            words,
            flags,
            hash,
        })
    }
}
