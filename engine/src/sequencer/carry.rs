//! A NIC's flows carried from one switch to another in a live migration
//! (README, *Live migration*): exported from the source worker's table as
//! [`CarriedFlow`]s, installed by the target's worker before the fabric
//! moves the NIC's traffic.
//!
//! What is carried is what the slow path cannot compute again from the
//! rules: the firewall's standing of the connection (an inbound reply to a
//! guest's connection passes by it), the TCP state, and the NAT binding
//! (external source, gateway and SNAT port: the remote end must keep seeing
//! the same address and port). The transforms are not: an imported entry
//! is stale for the fast path (no transform), and its first packet each
//! way compiles them on the target's tables, keeping the standing and the
//! binding as for any flow whose VNIC's epoch moved on.

use super::Engine;
use crate::flow::state::FlowState;
use crate::flow::table::{FlowEntry, FlowId, Realm, Refused};
use crate::flow::tcp::{TcpState, TcpTracker};
use crate::nat::igw::{NatSource, SnatSpec};
use crate::nat::{FlowNat, NatBinding};
use crate::vnic::Vnic;
use crate::{proto, Direction, FlowKey, PortIdx};
use vswitch_api::migration::{CarriedFlow, CarriedNat, CarriedTcp};

/// Why a carried flow was not installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarryRefused {
    /// A field this build does not know (realm, direction, TCP state, NAT kind).
    Malformed,
    /// The target NIC does not hold the binding's external address (or the
    /// SNAT port is outside its range).
    NatNotHeld,
    /// Another flow holds the binding's SNAT port or reply key.
    NatPortTaken,
    /// The NIC is at its flow quota.
    FlowQuota,
    /// The flow table is full.
    FlowTableFull,
}

impl CarryRefused {
    /// Its name, as counted in an import's report.
    pub fn as_str(self) -> &'static str {
        match self {
            CarryRefused::Malformed => "malformed",
            CarryRefused::NatNotHeld => "nat_not_held",
            CarryRefused::NatPortTaken => "nat_port_taken",
            CarryRefused::FlowQuota => "flow_quota",
            CarryRefused::FlowTableFull => "flow_table_full",
        }
    }
}

fn dir_name(d: Direction) -> &'static str {
    match d {
        Direction::Out => "out",
        Direction::In => "in",
    }
}

fn dir_of(s: &str) -> Option<Direction> {
    match s {
        "out" => Some(Direction::Out),
        "in" => Some(Direction::In),
        _ => None,
    }
}

/// The carried form of one flow-table entry.
pub fn carried(id: &FlowId, e: &FlowEntry<FlowState>) -> CarriedFlow {
    let k = &id.key;
    CarriedFlow {
        realm: match id.realm {
            Realm::Vpc => "vpc",
            Realm::Internet => "internet",
        }
        .into(),
        proto: k.proto,
        src: k.src,
        dst: k.dst,
        src_port: k.src_port,
        dst_port: k.dst_port,
        icmp: k.icmp,
        origin: dir_name(e.value.origin).into(),
        allowed: e.value.allowed,
        tcp: e.tcp.map(|t| {
            let (fin_out, fin_in, first) = t.parts();
            CarriedTcp {
                state: t.state().as_str().into(),
                fin_out,
                fin_in,
                first: dir_name(first).into(),
            }
        }),
        nat: e.value.nat.as_deref().map(|n| CarriedNat {
            gateway: n.binding.tag,
            kind: n.binding.source.kind().into(),
            ip: n.binding.source.ip(),
            ext_port: n.binding.ext_port,
        }),
    }
}

/// Whether an entry is worth carrying: the firewall allowed it and it is
/// not a closed TCP connection.
fn worth_carrying(e: &FlowEntry<FlowState>) -> bool {
    e.value.allowed && e.tcp.is_none_or(|t| t.state() != TcpState::Closed)
}

/// The flow `c` describes on guest port `port`.
pub fn carried_id(port: PortIdx, c: &CarriedFlow) -> Option<FlowId> {
    let realm = match c.realm.as_str() {
        "vpc" => Realm::Vpc,
        "internet" => Realm::Internet,
        _ => return None,
    };
    let icmp = matches!(c.proto, proto::ICMP | proto::ICMPV6);
    if icmp != c.icmp.is_some() || c.src.is_ipv4() != c.dst.is_ipv4() {
        return None;
    }
    Some(FlowId {
        port,
        realm,
        key: FlowKey {
            proto: c.proto,
            src: c.src,
            dst: c.dst,
            src_port: c.src_port,
            dst_port: c.dst_port,
            icmp: c.icmp,
        },
    })
}

/// The binding `n` describes, as `vnic` holds it.
fn binding_on(vnic: &Vnic, n: &CarriedNat) -> Result<NatBinding, CarryRefused> {
    let x = &vnic.external_ips;
    let source = match n.kind.as_str() {
        "floating" if x.floating.contains(&n.ip) => NatSource::Floating(n.ip),
        "ephemeral" if x.ephemeral == Some(n.ip) => NatSource::Ephemeral(n.ip),
        "snat" => match x.snat {
            Some(s @ SnatSpec { ip, .. })
                if ip == n.ip && (s.first_port..=s.last_port).contains(&n.ext_port) =>
            {
                NatSource::Snat(s)
            }
            _ => return Err(CarryRefused::NatNotHeld),
        },
        "floating" | "ephemeral" => return Err(CarryRefused::NatNotHeld),
        _ => return Err(CarryRefused::Malformed),
    };
    if !x.mapped_to(n.ip, n.gateway) {
        return Err(CarryRefused::NatNotHeld);
    }
    Ok(NatBinding {
        tag: n.gateway,
        source,
        ext_port: n.ext_port,
    })
}

impl Engine {
    /// Up to `max` carried flows of guest port `port` from slot `from` of
    /// this worker's table (at most `max_slots` looked at), and the slot to
    /// go on from (`None`: the end).
    pub fn carry_out(
        &self,
        port: PortIdx,
        from: u32,
        max: usize,
        max_slots: usize,
    ) -> (Vec<CarriedFlow>, Option<u32>) {
        let mut out = Vec::new();
        let next = self.flows.visit_from(from, max, max_slots, |id, e| {
            if id.port == port && worth_carrying(e) {
                out.push(carried(id, e));
            }
        });
        (out, next)
    }

    /// Installs flow `c`, carried from another switch, for `vnic`: its
    /// standing, TCP state and NAT binding (the SNAT port taken exactly).
    /// The entry has no transform yet (see the module's doc).
    pub fn carry_in(
        &mut self,
        vnic: &Vnic,
        c: &CarriedFlow,
        now_ns: u64,
    ) -> Result<(), CarryRefused> {
        self.reap();
        let id = carried_id(vnic.port, c).ok_or(CarryRefused::Malformed)?;
        let origin = dir_of(&c.origin).ok_or(CarryRefused::Malformed)?;
        let tcp = match (&c.tcp, id.key.proto == proto::TCP) {
            (Some(t), true) => Some(TcpTracker::restored(
                TcpState::from_name(&t.state).ok_or(CarryRefused::Malformed)?,
                t.fin_out,
                t.fin_in,
                dir_of(&t.first).ok_or(CarryRefused::Malformed)?,
            )),
            (None, false) => None,
            _ => return Err(CarryRefused::Malformed),
        };
        let binding = match &c.nat {
            Some(n) if id.realm == Realm::Internet => Some(binding_on(vnic, n)?),
            None if id.realm == Realm::Vpc => None,
            _ => return Err(CarryRefused::Malformed),
        };
        if let Some(b) = &binding {
            self.nat
                .reserve(id, b)
                .map_err(|_| CarryRefused::NatPortTaken)?;
        }
        // A packet of the flow that reached this switch first made a
        // binding of its own: the carried one replaces it.
        let own = self
            .flows
            .get(&id)
            .and_then(|e| e.value.nat.as_deref())
            .map(|n| n.binding);
        if let Some(old) = own.filter(|o| Some(*o) != binding) {
            self.nat.release(&id, &old);
        }
        let state = FlowState {
            origin,
            allowed: c.allowed,
            out: None,
            inb: None,
            nat: binding.map(|b| FlowNat::new(b, &id.key)),
        };
        // At the VNIC's birth: the slow path takes the standing and the
        // binding from it (`prior`), the fast path no transform.
        let mut entry = FlowEntry::new(state, vnic.birth, now_ns, tcp);
        entry.refused = false;
        let r = self
            .flows
            .insert(id, entry, now_ns, vnic.flow_quota.div_ceil(self.workers))
            .map(|_| ());
        self.reap();
        if let Err(r) = r {
            if let Some(b) = &binding {
                self.nat.release(&id, b);
            }
            return Err(match r {
                Refused::Quota => CarryRefused::FlowQuota,
                Refused::TableFull => CarryRefused::FlowTableFull,
            });
        }
        Ok(())
    }
}
