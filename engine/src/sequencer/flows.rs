//! The sequencer's keeping of the flow table: an entry as the slow path
//! finds it, the entry it installs, and the NAT resources given back when
//! flows go (expired, evicted, cleared).

use super::Engine;
use crate::flow::state::{FlowState, Prior};
use crate::flow::table::{FlowEntry, FlowId, Refused};
use crate::flow::tcp::TcpTracker;
use crate::nat::NatCounters;
use crate::vnic::Vnic;
use crate::{proto, Direction, PortIdx};

impl Engine {
    /// The entry of `id` as the slow path starts from it, refreshed; none
    /// (and the entry removed, with what it held) when it dates from an
    /// earlier VNIC on the port: epochs only grow, switch-wide, so a VNIC's
    /// `birth` is above every epoch an older one used.
    pub(super) fn prior(&mut self, vnic: &Vnic, id: &FlowId, now_ns: u64) -> Option<Prior> {
        match self.flows.get_mut(id, now_ns) {
            None => return None,
            Some(e) if e.epoch >= vnic.birth => return Some(Prior::of(&e.value)),
            Some(_) => {}
        }
        if let Some(e) = self.flows.remove(id) {
            if let Some(n) = e.value.nat {
                self.nat.release(id, &n.binding);
            }
        }
        None
    }

    /// Creates or refreshes the entry of `id` with a newly computed state,
    /// at the VNIC's epoch and within its flow quota.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn install(
        &mut self,
        vnic: &Vnic,
        id: FlowId,
        state: FlowState,
        exists: bool,
        tcp_flags: u8,
        dir: Direction,
        now_ns: u64,
    ) -> Result<(), Refused> {
        let epoch = vnic.epoch;
        if let Some(e) = exists.then(|| self.flows.get_mut(&id, now_ns)).flatten() {
            // Keep the other direction's transform only if it is still current:
            // same epoch, and the firewall's standing of the flow unchanged.
            let keep = e.epoch == epoch && e.value.standing() == state.standing();
            let mut next = state;
            if keep {
                if next.out.is_none() {
                    next.out = e.value.out.take();
                }
                if next.inb.is_none() {
                    next.inb = e.value.inb.take();
                }
            }
            e.refused = next.refused();
            e.value = next;
            e.epoch = epoch;
            e.saw(dir, tcp_flags);
            return Ok(());
        }
        let tcp = (id.key.proto == proto::TCP).then(|| TcpTracker::new(dir, tcp_flags));
        let mut entry = FlowEntry::new(state, epoch, now_ns, tcp);
        entry.refused = entry.value.refused();
        entry.saw_first(dir);
        let r = self
            .flows
            .insert(id, entry, now_ns, vnic.flow_quota.div_ceil(self.workers))
            .map(|_| ());
        // What the insert evicted gives its NAT state back at once.
        self.reap();
        r
    }

    /// Releases the NAT resources of flows the table removed (expired,
    /// evicted, cleared). Runs before any new binding is made, so a port or
    /// reply key is never given out while a dead flow still holds it.
    #[inline]
    pub(super) fn reap(&mut self) {
        let nat = &mut self.nat;
        self.flows.reap(|id, e, _| {
            if let Some(n) = e.value.nat {
                nat.release(&id, &n.binding);
            }
        });
    }

    /// One bounded step of flow expiry (at most `budget` flows looked at),
    /// releasing what the expired flows held; returns how many went.
    pub fn expire_flows(&mut self, now_ns: u64, budget: usize) -> usize {
        let n = self.flows.sweep(now_ns, budget);
        self.reap();
        n
    }

    /// One step of a clear (see [`crate::flow::table::FlowTable::clear_from`]):
    /// the flows of `port` (every port: `None`) below `below_epoch` in the
    /// next `max_slots` slots of `slots`, releasing their NAT resources;
    /// returns how many went and where to go on (`None`: done).
    pub fn clear_flows(
        &mut self,
        port: Option<PortIdx>,
        below_epoch: u64,
        slots: (u32, u32),
        max_slots: usize,
    ) -> (usize, Option<u32>) {
        let r = self.flows.clear_from(port, below_epoch, slots, max_slots);
        self.reap();
        r
    }

    /// The NAT state's counters and sizes (SNAT ports held, reply keys held).
    pub fn nat_state(&self) -> (NatCounters, usize, usize) {
        (
            self.nat.counters(),
            self.nat.snat_ports_held(),
            self.nat.reverse_len(),
        )
    }
}
