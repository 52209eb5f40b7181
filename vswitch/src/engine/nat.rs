//! The NAT layer's per-worker state: SNAT port allocation and the map from
//! a translated reply's 5-tuple back to its flow.
//!
//! SNAT mapping is endpoint-dependent (as Linux conntrack's): an external
//! port is unique per remote endpoint (address and port), so one SNAT
//! address carries more flows than it has ports, and a reply's full 5-tuple
//! still names exactly one flow.
//!
//! Which external source a flow gets is decided in `external.rs`; this holds
//! what the decision allocates. A flow's resources are released when its
//! flow-table entry goes (expiry, clearing, or a rebinding after an
//! external-IP change). Allocation also re-checks an allocated port's owner,
//! so a port whose flow vanished without notice is never lost for good.

use super::external::{IgwTag, NatSource};
use super::flow_table::FlowId;
use super::{proto, FlowKey, PortIdx};
use hashbrown::HashMap;
use std::net::IpAddr;

/// A flow's translation: the gateway it leaves through, the external source
/// chosen, and the external port (the guest's own port for a 1:1 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatBinding {
    /// The gateway the route tagged the flow with.
    pub tag: IgwTag,
    /// The external source.
    pub source: NatSource,
    /// The external port (or ICMP echo id).
    pub ext_port: u16,
}

impl NatBinding {
    /// The flow's key as it leaves the NAT layer (source translated).
    pub fn translated(&self, guest: &FlowKey) -> FlowKey {
        let echo = has_port(guest) && matches!(guest.proto, proto::ICMP | proto::ICMPV6);
        FlowKey {
            src: self.source.ip(),
            src_port: self.ext_port,
            dst_port: if echo { self.ext_port } else { guest.dst_port },
            ..*guest
        }
    }
}

/// Whether the flow has a port-like field NAT may rewrite (TCP, UDP, ICMP echo).
pub fn has_port(k: &FlowKey) -> bool {
    match k.proto {
        proto::TCP | proto::UDP => true,
        proto::ICMP => matches!(k.icmp, Some((0 | 8, _))),
        proto::ICMPV6 => matches!(k.icmp, Some((128 | 129, _))),
        _ => false,
    }
}

/// What an external port is unique for: the port and the remote endpoint.
type Hold = (u16, IpAddr, u16);

/// The remote endpoint of a guest-side key (for ICMP echo the remote has no
/// port: the identifier is the external port itself).
fn remote(k: &FlowKey) -> (IpAddr, u16) {
    match k.proto {
        proto::TCP | proto::UDP => (k.dst, k.dst_port),
        _ => (k.dst, 0),
    }
}

/// The ports of one SNAT range of one VNIC, and who holds each, per remote.
#[derive(Debug, Default)]
struct SnatRange {
    first: u16,
    last: u16,
    next: u16,
    holders: HashMap<Hold, FlowId>,
}

/// Counters of the NAT state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatCounters {
    /// SNAT ports handed out.
    pub allocated: u64,
    /// SNAT ports given back.
    pub released: u64,
    /// Allocations refused: every port of the range held.
    pub exhausted: u64,
}

/// One worker's NAT state.
#[derive(Debug, Default)]
pub struct NatState {
    /// Translated reply key (remote -> external address) -> the flow.
    reverse: HashMap<FlowKey, FlowId>,
    /// SNAT ranges by (guest port, SNAT address, protocol).
    snat: HashMap<(PortIdx, IpAddr, u8), SnatRange>,
    counters: NatCounters,
}

impl NatState {
    /// Its counters.
    pub fn counters(&self) -> NatCounters {
        self.counters
    }

    /// SNAT ports currently held.
    pub fn snat_ports_held(&self) -> usize {
        self.snat.values().map(|r| r.holders.len()).sum()
    }

    /// Reply keys held.
    pub fn reverse_len(&self) -> usize {
        self.reverse.len()
    }

    /// The flow a translated reply belongs to.
    #[inline]
    pub fn flow_of_reply(&self, reply: &FlowKey) -> Option<FlowId> {
        self.reverse.get(reply).copied()
    }

    /// Allocates an external port of `first..=last` on SNAT address `ip` for
    /// flow `id`, unique for the flow's remote endpoint. A port whose holder
    /// `is_live` denies is free again. `None` when every port is held for
    /// that remote.
    pub fn allocate(
        &mut self,
        id: FlowId,
        ip: IpAddr,
        (first, last): (u16, u16),
        is_live: impl Fn(&FlowId, u16) -> bool,
    ) -> Option<u16> {
        let r = self
            .snat
            .entry((id.port, ip, id.key.proto))
            .or_insert_with(|| SnatRange {
                first,
                last,
                next: first,
                holders: HashMap::new(),
            });
        if r.first != first || r.last != last {
            // The VNIC's range changed: ports outside it are not handed out,
            // and held ones are released as their flows go.
            r.first = first;
            r.last = last;
            r.next = first;
        }
        let size = u32::from(last - first) + 1;
        let (rip, rport) = remote(&id.key);
        let mut p = r.next.clamp(first, last);
        for _ in 0..size {
            let free = match r.holders.get(&(p, rip, rport)) {
                None => true,
                Some(h) => !is_live(h, p),
            };
            if free {
                r.holders.insert((p, rip, rport), id);
                r.next = if p == last { first } else { p + 1 };
                self.counters.allocated += 1;
                return Some(p);
            }
            p = if p == last { first } else { p + 1 };
        }
        self.counters.exhausted += 1;
        None
    }

    /// Records that replies to `binding`'s translated key belong to `id`.
    pub fn bind(&mut self, id: FlowId, binding: &NatBinding) {
        let reply = binding.translated(&id.key).reverse();
        self.reverse.insert(reply, id);
    }

    /// Releases what `binding` holds for flow `id`: its reply key and, for
    /// SNAT, its port.
    pub fn release(&mut self, id: &FlowId, binding: &NatBinding) {
        let reply = binding.translated(&id.key).reverse();
        if self.reverse.get(&reply) == Some(id) {
            self.reverse.remove(&reply);
        }
        if let NatSource::Snat(s) = binding.source {
            if let Some(r) = self.snat.get_mut(&(id.port, s.ip, id.key.proto)) {
                let (rip, rport) = remote(&id.key);
                let hold = (binding.ext_port, rip, rport);
                if r.holders.get(&hold) == Some(id) {
                    r.holders.remove(&hold);
                    self.counters.released += 1;
                }
            }
        }
    }

    /// Keeps only what live flows hold (after the flow table was cleared).
    pub fn retain(&mut self, is_live: impl Fn(&FlowId, &FlowKey, Option<u16>) -> bool) {
        self.reverse.retain(|k, id| is_live(id, k, None));
        let mut released = 0;
        for r in self.snat.values_mut() {
            let before = r.holders.len();
            r.holders
                .retain(|(p, _, _), id| is_live(id, &id.key, Some(*p)));
            released += (before - r.holders.len()) as u64;
        }
        self.counters.released += released;
    }
}

#[cfg(test)]
mod tests {
    use super::super::external::SnatSpec;
    use super::*;

    fn id(sport: u16) -> FlowId {
        FlowId {
            port: 0,
            key: FlowKey {
                proto: proto::TCP,
                src: "172.30.0.5".parse().unwrap(),
                dst: "1.1.1.1".parse().unwrap(),
                src_port: sport,
                dst_port: 80,
                icmp: None,
            },
        }
    }

    #[test]
    fn allocation_wraps_reuses_dead_holders_and_counts_exhaustion() {
        let mut n = NatState::default();
        let ip: IpAddr = "10.77.77.13".parse().unwrap();
        let live = |_: &FlowId, _: u16| true;
        assert_eq!(n.allocate(id(1), ip, (1024, 1026), live), Some(1024));
        assert_eq!(n.allocate(id(2), ip, (1024, 1026), live), Some(1025));
        assert_eq!(n.allocate(id(3), ip, (1024, 1026), live), Some(1026));
        assert_eq!(n.allocate(id(4), ip, (1024, 1026), live), None);
        assert_eq!(n.counters().exhausted, 1);
        // The holder of 1025 vanished without a release: its port is free.
        let dead2 = |h: &FlowId, _: u16| *h != id(2);
        assert_eq!(n.allocate(id(4), ip, (1024, 1026), dead2), Some(1025));
        // A release frees the port for the next flow.
        let b = NatBinding {
            tag: None,
            source: NatSource::Snat(SnatSpec {
                ip,
                first_port: 1024,
                last_port: 1026,
            }),
            ext_port: 1024,
        };
        n.release(&id(1), &b);
        assert_eq!(n.snat_ports_held(), 2);
        assert_eq!(n.allocate(id(5), ip, (1024, 1026), live), Some(1024));
    }

    #[test]
    fn a_port_is_unique_per_remote_endpoint() {
        let mut n = NatState::default();
        let ip: IpAddr = "10.77.77.13".parse().unwrap();
        let live = |_: &FlowId, _: u16| true;
        let mut other = id(9);
        other.key.dst = "2.2.2.2".parse().unwrap();
        assert_eq!(n.allocate(id(1), ip, (1024, 1024), live), Some(1024));
        assert_eq!(
            n.allocate(id(2), ip, (1024, 1024), live),
            None,
            "same remote"
        );
        assert_eq!(
            n.allocate(other, ip, (1024, 1024), live),
            Some(1024),
            "another remote"
        );
    }

    #[test]
    fn reply_key_finds_the_flow() {
        let mut n = NatState::default();
        let b = NatBinding {
            tag: Some(1),
            source: NatSource::Floating("192.168.0.2".parse().unwrap()),
            ext_port: 5555,
        };
        n.bind(id(5555), &b);
        let reply = FlowKey {
            proto: proto::TCP,
            src: "1.1.1.1".parse().unwrap(),
            dst: "192.168.0.2".parse().unwrap(),
            src_port: 80,
            dst_port: 5555,
            icmp: None,
        };
        assert_eq!(n.flow_of_reply(&reply), Some(id(5555)));
        n.release(&id(5555), &b);
        assert_eq!(n.flow_of_reply(&reply), None);
    }
}
