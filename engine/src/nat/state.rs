//! The NAT layer's per-worker state: SNAT port allocation and the map from
//! a translated reply's 5-tuple back to its flow.
//!
//! SNAT mapping is endpoint-dependent (as Linux conntrack's): an external
//! port is unique per remote endpoint (address and port), so one SNAT
//! address carries more flows than it has ports, and a reply's full 5-tuple
//! still names exactly one flow.
//!
//! Which external source a flow gets is decided in `igw.rs`; this holds
//! what the decision allocates. A flow's resources are released on every
//! path its flow-table entry leaves by (expiry, eviction, clearing, a
//! rebinding after an external-IP change; the flow table hands each removed
//! entry over before any new binding is made).
//!
//! Allocation costs a bounded number of steps whatever the load: each range
//! counts the ports held per remote endpoint, so an exhausted range is known
//! at once, and at most [`MAX_PROBES`] ports are looked at from a rotating
//! cursor (a range so nearly full for one remote that they are all held is
//! treated as exhausted).

use crate::flow::table::FlowId;
use crate::nat::igw::{IgwTag, NatSource};
use crate::{proto, FlowKey, PortIdx};
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

/// A carried binding's port or reply key is held by another flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveRefused;

/// Ports an allocation looks at, at most.
pub const MAX_PROBES: u32 = 64;

/// The ports of one SNAT range of one VNIC, and who holds each, per remote.
#[derive(Debug, Default)]
struct SnatRange {
    first: u16,
    last: u16,
    next: u16,
    holders: HashMap<Hold, FlowId>,
    /// Ports of `first..=last` held, per remote endpoint.
    per_remote: HashMap<(IpAddr, u16), u32>,
}

impl SnatRange {
    fn contains(&self, p: u16) -> bool {
        (self.first..=self.last).contains(&p)
    }

    /// Counts the holders per remote again (after the range changed).
    fn recount(&mut self) {
        let mut per_remote: HashMap<(IpAddr, u16), u32> = HashMap::new();
        for (p, rip, rport) in self.holders.keys() {
            if (self.first..=self.last).contains(p) {
                *per_remote.entry((*rip, *rport)).or_default() += 1;
            }
        }
        self.per_remote = per_remote;
    }
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
    /// Ports allocations looked at (the work they did).
    pub probes: u64,
}

/// One worker's NAT state.
#[derive(Debug, Default)]
pub struct NatState {
    /// Translated reply key (remote -> external address) -> the flow.
    reverse: HashMap<FlowKey, FlowId>,
    /// SNAT ranges by (guest port, SNAT address, protocol).
    snat: HashMap<(PortIdx, IpAddr, u8), SnatRange>,
    counters: NatCounters,
    /// This worker's index and the number of workers: it allocates only
    /// from its own slice of every range (`owner::slice`).
    slice: (usize, usize),
}

impl NatState {
    /// The NAT state of worker `worker` of `workers`.
    pub fn for_worker(worker: usize, workers: usize) -> Self {
        NatState {
            slice: (worker, workers.max(1)),
            ..Default::default()
        }
    }

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
    /// flow `id`, unique for the flow's remote endpoint. `None` when every
    /// port is held for that remote (or the [`MAX_PROBES`] looked at are).
    /// With several workers, only this worker's slice of the range is
    /// looked at: an exhausted slice is an exhausted range for this worker
    /// (the owner of a reply is named by its port; another worker's ports
    /// are never borrowed).
    pub fn allocate(&mut self, id: FlowId, ip: IpAddr, range: (u16, u16)) -> Option<u16> {
        let (w, n) = self.slice;
        let Some((first, last)) = crate::owner::slice::slice_of_range(range, w, n.max(1)) else {
            self.counters.exhausted += 1;
            return None;
        };
        let r = self
            .snat
            .entry((id.port, ip, id.key.proto))
            .or_insert_with(|| SnatRange {
                first,
                last,
                next: first,
                ..Default::default()
            });
        if r.first != first || r.last != last {
            // The VNIC's range changed: ports outside it are not handed out,
            // and held ones are released as their flows go.
            r.first = first;
            r.last = last;
            r.next = first;
            r.recount();
        }
        let size = u32::from(last.saturating_sub(first)) + 1;
        let (rip, rport) = remote(&id.key);
        let held = r.per_remote.get(&(rip, rport)).copied().unwrap_or(0);
        if held < size {
            let mut p = r.next.clamp(first, last);
            for _ in 0..size.min(MAX_PROBES) {
                self.counters.probes += 1;
                if let hashbrown::hash_map::Entry::Vacant(v) = r.holders.entry((p, rip, rport)) {
                    v.insert(id);
                    *r.per_remote.entry((rip, rport)).or_default() += 1;
                    r.next = if p == last { first } else { p + 1 };
                    self.counters.allocated += 1;
                    return Some(p);
                }
                p = if p == last { first } else { p + 1 };
            }
        }
        self.counters.exhausted += 1;
        None
    }

    /// Takes what `binding` holds for flow `id`, carried from another
    /// switch in a migration: its SNAT port exactly (whichever slice of the
    /// range it is in) and its reply key. Refused, with nothing taken, when
    /// another flow holds either.
    pub fn reserve(&mut self, id: FlowId, binding: &NatBinding) -> Result<(), ReserveRefused> {
        let reply = binding.translated(&id.key).reverse();
        if self.reverse.get(&reply).is_some_and(|f| *f != id) {
            return Err(ReserveRefused);
        }
        if let NatSource::Snat(spec) = binding.source {
            let (w, n) = self.slice;
            let (first, last) =
                crate::owner::slice::slice_of_range((spec.first_port, spec.last_port), w, n.max(1))
                    .unwrap_or((spec.first_port, spec.last_port));
            let r = self
                .snat
                .entry((id.port, spec.ip, id.key.proto))
                .or_insert_with(|| SnatRange {
                    first,
                    last,
                    next: first,
                    ..Default::default()
                });
            let (rip, rport) = remote(&id.key);
            match r.holders.entry((binding.ext_port, rip, rport)) {
                hashbrown::hash_map::Entry::Occupied(o) if *o.get() != id => {
                    return Err(ReserveRefused)
                }
                hashbrown::hash_map::Entry::Occupied(_) => {}
                hashbrown::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                    if r.contains(binding.ext_port) {
                        *r.per_remote.entry((rip, rport)).or_default() += 1;
                    }
                    self.counters.allocated += 1;
                }
            }
        }
        self.reverse.insert(reply, id);
        Ok(())
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
                    if r.contains(binding.ext_port) {
                        if let Some(n) = r.per_remote.get_mut(&(rip, rport)) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                r.per_remote.remove(&(rip, rport));
                            }
                        }
                    }
                    self.counters.released += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat::igw::SnatSpec;

    fn id(sport: u16) -> FlowId {
        FlowId {
            port: 0,
            realm: crate::flow::table::Realm::Internet,
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
    fn allocation_wraps_and_counts_exhaustion() {
        let mut n = NatState::default();
        let ip: IpAddr = "10.77.77.13".parse().unwrap();
        assert_eq!(n.allocate(id(1), ip, (1024, 1026)), Some(1024));
        assert_eq!(n.allocate(id(2), ip, (1024, 1026)), Some(1025));
        assert_eq!(n.allocate(id(3), ip, (1024, 1026)), Some(1026));
        assert_eq!(n.allocate(id(4), ip, (1024, 1026)), None);
        assert_eq!(n.counters().exhausted, 1);
        // A release frees the port for the next flow.
        let b = NatBinding {
            tag: None,
            source: NatSource::Snat(SnatSpec {
                ip,
                first_port: 1024,
                last_port: 1026,
            }),
            ext_port: 1025,
        };
        n.release(&id(2), &b);
        assert_eq!(n.snat_ports_held(), 2);
        assert_eq!(n.allocate(id(5), ip, (1024, 1026)), Some(1025));
    }

    /// An exhausted range is known without looking at its ports, and a
    /// nearly full one looks at no more than MAX_PROBES: allocation costs
    /// the same whatever the range's size and fill.
    #[test]
    fn exhaustion_costs_no_scan() {
        let mut n = NatState::default();
        let ip: IpAddr = "10.77.77.13".parse().unwrap();
        for p in 1024..=65535u16 {
            assert_eq!(n.allocate(id(p), ip, (1024, 65535)), Some(p));
        }
        let r = n.snat.values().next().unwrap();
        assert_eq!(
            r.per_remote.values().copied().collect::<Vec<_>>(),
            vec![64512]
        );
        let probes = n.counters().probes;
        for i in 0..100_000u32 {
            let mut f = id(1);
            f.key.src_port = i as u16;
            assert_eq!(n.allocate(f, ip, (1024, 65535)), None);
        }
        assert_eq!(n.counters().exhausted, 100_000);
        assert_eq!(n.counters().probes, probes, "no port was looked at");
        // One port free (the last one the cursor reaches): the allocation
        // looks at MAX_PROBES ports and gives up.
        let b = NatBinding {
            tag: None,
            source: NatSource::Snat(SnatSpec {
                ip,
                first_port: 1024,
                last_port: 65535,
            }),
            ext_port: 1023 + 64512,
        };
        n.release(&id(65535), &b);
        let probes = n.counters().probes;
        assert_eq!(n.allocate(id(1), ip, (1024, 65535)), None);
        assert_eq!(n.counters().probes - probes, u64::from(MAX_PROBES));
        // Another remote still gets ports.
        let mut other = id(7);
        other.key.dst = "2.2.2.2".parse().unwrap();
        assert_eq!(n.allocate(other, ip, (1024, 65535)), Some(1024));
    }

    #[test]
    fn a_port_is_unique_per_remote_endpoint() {
        let mut n = NatState::default();
        let ip: IpAddr = "10.77.77.13".parse().unwrap();
        let mut other = id(9);
        other.key.dst = "2.2.2.2".parse().unwrap();
        assert_eq!(n.allocate(id(1), ip, (1024, 1024)), Some(1024));
        assert_eq!(n.allocate(id(2), ip, (1024, 1024)), None, "same remote");
        assert_eq!(
            n.allocate(other, ip, (1024, 1024)),
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
