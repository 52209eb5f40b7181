//! The layered pipeline of a guest port and its unified flow table.
//!
//! Outbound (guest -> wire): gateway -> firewall -> router -> nat -> overlay.
//! Inbound (wire -> guest): overlay -> nat -> router -> firewall -> gateway.
//!
//! A flow's first packet (or its first after an epoch change) runs every
//! layer on the slow path, which compiles the result into a transform cached
//! in the flow table; later packets only apply that transform (fast path).
//! Both directions of a connection share one entry, so the firewall's
//! stateful allow is the entry itself: a reply finds the entry its request
//! created.

use super::firewall::{FwAction, FwContext};
use super::flow_table::{FlowEntry, FlowId, FlowTable, DEFAULT_TTL_NS};
use super::frame::{frame_info, parse_encap, FrameInfo};
use super::overlay::{flow_hash, EncapTemplate, ENCAP_LEN};
use super::pktbuf::PacketBuf;
use super::quick::{quick_encap, quick_info, quick_key, QUICK_ENCAP_LEN};
use super::router::RouterTarget;
use super::tcp::TcpTracker;
use super::vnic::Vnic;
use super::{boundary, gateway, proto, Direction, DropReason, FlowKey, PortIdx, Verdict};
use crate::tables::Snapshot;
use crate::wire::MacAddr;
use hashbrown::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// How a packet went through the engine (for per-port counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Forwarded by the patch table, outside the VPC pipeline.
    Patch,
    /// A cached transform was applied.
    Fast,
    /// The layers ran.
    Slow,
    /// The virtual gateway answered (the reply leaves on the ingress port).
    Hairpin,
    /// Dropped before any flow lookup.
    Early,
}

/// The engine's answer for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Where the packet goes.
    pub verdict: Verdict,
    /// How it got there.
    pub path: Path,
}

impl Outcome {
    fn drop(reason: DropReason, path: Path) -> Self {
        Outcome {
            verdict: Verdict::Drop(reason),
            path,
        }
    }
    fn forward(port: PortIdx, path: Path) -> Self {
        Outcome {
            verdict: Verdict::Forward(port),
            path,
        }
    }
}

/// The outbound half of a compiled flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutXform {
    /// Encapsulate toward another sled.
    Encap {
        /// Outer headers, shared by the flows to the same place.
        template: Arc<EncapTemplate>,
        /// The flow's entropy (outer UDP source port, IPv6 flow label).
        entropy: u32,
        /// The inner destination MAC (the target guest's).
        inner_dst_mac: MacAddr,
        /// The uplink to send on.
        uplink: PortIdx,
    },
    /// Deliver to a guest port on this sled, through its inbound layers.
    Local {
        /// The destination guest port.
        to: PortIdx,
        /// The destination guest's MAC.
        dst_mac: MacAddr,
    },
    /// Drop (a cached denial).
    Drop(DropReason),
}

/// The inbound half of a compiled flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InXform {
    /// Deliver to the guest, the source MAC rewritten to its gateway's.
    Deliver {
        /// The gateway MAC.
        src_mac: MacAddr,
    },
    /// Drop (a cached denial).
    Drop(DropReason),
}

/// What the flow table holds for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    /// The direction of the connection's first packet.
    pub origin: Direction,
    /// Whether the firewall allowed the connection in its origin direction;
    /// if so, the other direction passes too (stateful allow).
    pub allowed: bool,
    /// The compiled outbound transform, once computed.
    pub out: Option<OutXform>,
    /// The compiled inbound transform, once computed.
    pub inb: Option<InXform>,
}

/// Outer-header templates by (source, destination, VNI, source MAC, next-hop MAC).
type TemplateKey = (
    std::net::Ipv6Addr,
    std::net::Ipv6Addr,
    u32,
    MacAddr,
    MacAddr,
);

/// Bound on the template cache; past it the cache starts over.
const MAX_TEMPLATES: usize = 4096;

/// One worker's engine: its flow table and its cache of outer headers.
pub struct Engine {
    flows: FlowTable<FlowState>,
    templates: HashMap<TemplateKey, Arc<EncapTemplate>>,
}

impl Engine {
    /// An engine whose flow table holds at most `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        Engine {
            flows: FlowTable::new(capacity, DEFAULT_TTL_NS),
            templates: HashMap::new(),
        }
    }

    /// The flow table.
    pub fn flows(&self) -> &FlowTable<FlowState> {
        &self.flows
    }

    /// The flow table, writable (expiry, clearing).
    pub fn flows_mut(&mut self) -> &mut FlowTable<FlowState> {
        &mut self.flows
    }

    /// Decides where a packet received on `in_port` goes, editing it in place.
    #[inline]
    pub fn process<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        in_port: PortIdx,
        pkt: &mut P,
        now_ns: u64,
    ) -> Outcome {
        if let Verdict::Forward(to) = snap.patch.forward(in_port) {
            return Outcome::forward(to, Path::Patch);
        }
        // Boundary role: the external port's traffic goes to the sleds.
        if let Some(x) = snap.vpc.external.filter(|x| x.port == in_port) {
            return boundary::from_external(snap, &x, pkt);
        }
        if let Some(vnic) = snap.vpc.vnic(in_port) {
            return self.outbound(snap, vnic, pkt, now_ns);
        }
        match snap.vpc.underlay {
            Some(u) if u.uplink == in_port => self.underlay_in(snap, pkt, now_ns),
            _ => Outcome::drop(DropReason::NoPatch, Path::Early),
        }
    }

    fn outbound<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        pkt: &mut P,
        now_ns: u64,
    ) -> Outcome {
        // Fast path: a common frame of a compiled flow, read at fixed offsets.
        // Its source IP is in the key (checked when the flow was compiled); the
        // source MAC is checked here. Everything else takes the full path.
        let mut looked_up = None;
        if let Some((key, flags)) = quick_key(pkt.bytes()) {
            let src_ok = pkt.bytes().get(6..12) == Some(&vnic.spec.mac.0[..]);
            let id = FlowId {
                port: vnic.port,
                key,
            };
            let mut local = None;
            let prior = match self.flows.get_mut(&id, now_ns) {
                Some(e) => {
                    if let (true, true, Some(x)) = (src_ok, e.epoch == vnic.epoch, &e.value.out) {
                        if let Some(t) = e.tcp.as_mut() {
                            t.update(Direction::Out, flags);
                        }
                        match x {
                            OutXform::Encap {
                                template,
                                entropy,
                                inner_dst_mac,
                                uplink,
                            } => {
                                return encap(
                                    pkt,
                                    template,
                                    *entropy,
                                    *inner_dst_mac,
                                    *uplink,
                                    Path::Fast,
                                )
                            }
                            OutXform::Local { to, dst_mac } => local = Some((*to, *dst_mac)),
                            OutXform::Drop(r) => return Outcome::drop(*r, Path::Fast),
                        }
                    }
                    Some((e.value.origin, e.value.allowed))
                }
                None => None,
            };
            if let Some((to, mac)) = local {
                return self.deliver_local(snap, vnic, to, mac, pkt, now_ns, Path::Fast);
            }
            looked_up = Some((key, prior));
        }
        // On a miss, the quick parse (when it applies) still saves the full
        // parse: it gives the same answer for the frames it reads (tested).
        let quick = looked_up.and_then(|_| quick_info(pkt.bytes()));
        let info = match quick.map_or_else(|| frame_info(pkt.bytes()), Ok) {
            Ok(i) => i,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        if let Some(o) = gateway::outbound(vnic, &info, pkt) {
            return o;
        }
        let Some(key) = info.key else {
            return Outcome::drop(DropReason::Unsupported, Path::Early);
        };
        let id = FlowId {
            port: vnic.port,
            key,
        };
        let prior = match looked_up {
            Some((k, prior)) if k == key => prior,
            _ => self
                .flows
                .get_mut(&id, now_ns)
                .map(|e| (e.value.origin, e.value.allowed)),
        };
        self.outbound_slow(snap, vnic, &info, id, prior, pkt, now_ns)
    }

    #[allow(clippy::too_many_arguments)]
    fn deliver_local<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        from: &Vnic,
        to: PortIdx,
        dst_mac: MacAddr,
        pkt: &mut P,
        now_ns: u64,
        path: Path,
    ) -> Outcome {
        let Some(target) = snap.vpc.vnic(to) else {
            return Outcome::drop(DropReason::NoVnic, path);
        };
        if let Some(d) = pkt.bytes_mut().get_mut(0..6) {
            d.copy_from_slice(&dst_mac.0);
        }
        let o = self.inbound(target, pkt, now_ns, Some(from.spec.vni));
        // The packet's path is the sender's: fast only if both halves were.
        Outcome {
            verdict: o.verdict,
            path: if path == Path::Fast && o.path == Path::Fast {
                Path::Fast
            } else {
                Path::Slow
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn outbound_slow<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        info: &FrameInfo,
        id: FlowId,
        prior: Option<(Direction, bool)>,
        pkt: &mut P,
        now_ns: u64,
    ) -> Outcome {
        let key = id.key;
        // Firewall: a reply to an allowed inbound connection passes.
        let (origin, allowed) = match prior {
            Some((Direction::In, true)) => (Direction::In, true),
            _ => {
                let a = self.fw_allows(vnic, Direction::Out, &key, Some(vnic.spec.vni));
                // An allowed request makes the guest the connection's origin,
                // even if an earlier unsolicited packet from the remote was denied.
                (
                    if a {
                        Direction::Out
                    } else {
                        prior.map_or(Direction::Out, |p| p.0)
                    },
                    a,
                )
            }
        };
        let xform = if !allowed {
            OutXform::Drop(DropReason::FirewallDeny)
        } else {
            route_and_encap(snap, vnic, &key, &mut self.templates)
        };
        let state = FlowState {
            origin,
            allowed,
            out: Some(xform.clone()),
            inb: None,
        };
        let exists = prior.is_some();
        if self
            .install(
                id,
                state,
                exists,
                vnic.epoch,
                key.proto,
                info.tcp_flags,
                Direction::Out,
                now_ns,
            )
            .is_err()
        {
            return Outcome::drop(DropReason::FlowTableFull, Path::Slow);
        }
        match xform {
            OutXform::Encap {
                template,
                entropy,
                inner_dst_mac,
                uplink,
            } => encap(pkt, &template, entropy, inner_dst_mac, uplink, Path::Slow),
            OutXform::Local { to, dst_mac } => {
                self.deliver_local(snap, vnic, to, dst_mac, pkt, now_ns, Path::Slow)
            }
            OutXform::Drop(r) => Outcome::drop(r, Path::Slow),
        }
    }

    fn fw_allows(
        &self,
        vnic: &Vnic,
        direction: Direction,
        key: &FlowKey,
        remote_vni: Option<u32>,
    ) -> bool {
        let d = vnic.firewall.evaluate(FwContext {
            direction,
            key,
            remote_vni,
        });
        if let Some(i) = d.rule {
            vnic.hits.firewall_hit(i);
        }
        d.action == FwAction::Allow
    }

    /// Creates or refreshes the entry of `id` with a newly computed state.
    #[allow(clippy::too_many_arguments)]
    fn install(
        &mut self,
        id: FlowId,
        state: FlowState,
        exists: bool,
        epoch: u64,
        proto_nr: u8,
        tcp_flags: u8,
        dir: Direction,
        now_ns: u64,
    ) -> Result<(), super::flow_table::TableFull> {
        if let Some(e) = exists.then(|| self.flows.get_mut(&id, now_ns)).flatten() {
            // Keep the other direction's transform only if it is still current:
            // same epoch, and the firewall's standing of the flow unchanged.
            let keep = e.epoch == epoch
                && e.value.origin == state.origin
                && e.value.allowed == state.allowed;
            let mut next = state;
            if keep {
                if next.out.is_none() {
                    next.out = e.value.out.take();
                }
                if next.inb.is_none() {
                    next.inb = e.value.inb.take();
                }
            }
            e.value = next;
            e.epoch = epoch;
            if let Some(t) = e.tcp.as_mut() {
                t.update(dir, tcp_flags);
            }
            return Ok(());
        }
        let tcp = (proto_nr == proto::TCP).then(|| TcpTracker::new(tcp_flags));
        self.flows
            .insert(id, FlowEntry::new(state, epoch, now_ns, tcp), now_ns)
            .map(|_| ())
    }

    fn underlay_in<P: PacketBuf>(&mut self, snap: &Snapshot, pkt: &mut P, now_ns: u64) -> Outcome {
        let Some(u) = snap.vpc.underlay else {
            return Outcome::drop(DropReason::NoUnderlay, Path::Early);
        };
        // Boundary role: underlay traffic is boundary traffic for the internet.
        if snap.vpc.external.is_some() {
            return boundary::from_underlay(snap, &u, pkt);
        }
        // Fast path: option-less Geneve for this sled carrying a common frame
        // of a compiled flow. Options (External, critical ones) take the full path.
        if let Some((vni, mac)) = quick_encap(pkt.bytes(), &u.addr) {
            let vnic = snap
                .vpc
                .by_vni_mac
                .get(&(vni, MacAddr(mac)))
                .and_then(|p| snap.vpc.vnic(*p));
            let quick = pkt.bytes().get(QUICK_ENCAP_LEN..).and_then(quick_key);
            if let (Some(vnic), Some((key, flags))) = (vnic, quick) {
                let id = FlowId {
                    port: vnic.port,
                    key: key.reverse(),
                };
                if let Some(e) = self.flows.get_mut(&id, now_ns) {
                    if let (true, Some(x)) = (e.epoch == vnic.epoch, e.value.inb) {
                        if let Some(t) = e.tcp.as_mut() {
                            t.update(Direction::In, flags);
                        }
                        if !pkt.strip_front(QUICK_ENCAP_LEN) {
                            return Outcome::drop(DropReason::Malformed, Path::Fast);
                        }
                        return apply_in(pkt, x, vnic.port, Path::Fast);
                    }
                }
            }
        }
        let encap = match parse_encap(pkt.bytes()) {
            Ok(e) => e,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        if encap.outer_dst != u.addr {
            return Outcome::drop(DropReason::NotGeneve, Path::Early);
        }
        let Some(port) = snap
            .vpc
            .by_vni_mac
            .get(&(encap.vni, encap.inner_dst_mac))
            .copied()
        else {
            return Outcome::drop(DropReason::NoVnic, Path::Early);
        };
        let Some(vnic) = snap.vpc.vnic(port) else {
            return Outcome::drop(DropReason::NoVnic, Path::Early);
        };
        if !pkt.strip_front(encap.inner_offset) {
            return Outcome::drop(DropReason::Malformed, Path::Early);
        }
        // The VNI is metadata only for traffic from inside the VPC.
        let remote_vni = (!encap.external).then_some(encap.vni);
        self.inbound(vnic, pkt, now_ns, remote_vni)
    }

    /// Inbound layers for a frame addressed to `vnic` (already decapsulated).
    fn inbound<P: PacketBuf>(
        &mut self,
        vnic: &Vnic,
        pkt: &mut P,
        now_ns: u64,
        remote_vni: Option<u32>,
    ) -> Outcome {
        let info = match frame_info(pkt.bytes()) {
            Ok(i) => i,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        let Some(key) = info.key else {
            return Outcome::drop(DropReason::Unsupported, Path::Early);
        };
        let id = FlowId {
            port: vnic.port,
            key: key.reverse(),
        };
        if let Some(e) = self.flows.get_mut(&id, now_ns) {
            if e.epoch == vnic.epoch {
                if let Some(x) = e.value.inb {
                    if let Some(t) = e.tcp.as_mut() {
                        t.update(Direction::In, info.tcp_flags);
                    }
                    return apply_in(pkt, x, vnic.port, Path::Fast);
                }
            }
        }
        // Gateway (inbound): only traffic for the guest's own MAC and IP.
        let for_guest = (info.dst_mac == vnic.spec.mac || info.dst_mac.is_multicast())
            && info.l3.is_some_and(|l3| vnic.spec.owns(l3.dst));
        let prior = self
            .flows
            .get_mut(&id, now_ns)
            .map(|e| (e.value.origin, e.value.allowed));
        let exists = prior.is_some();
        let (origin, allowed) = match prior {
            Some((Direction::Out, true)) => (Direction::Out, true),
            _ => {
                let a = self.fw_allows(vnic, Direction::In, &key, remote_vni);
                (
                    if a {
                        Direction::In
                    } else {
                        prior.map_or(Direction::In, |p| p.0)
                    },
                    a,
                )
            }
        };
        let xform = if !for_guest {
            InXform::Drop(DropReason::NotForGuest)
        } else if !allowed {
            InXform::Drop(DropReason::FirewallDeny)
        } else {
            InXform::Deliver {
                src_mac: vnic.spec.gateway_mac,
            }
        };
        let state = FlowState {
            origin,
            allowed,
            out: None,
            inb: Some(xform),
        };
        // Traffic not for the guest creates no state.
        if for_guest
            && self
                .install(
                    id,
                    state,
                    exists,
                    vnic.epoch,
                    key.proto,
                    info.tcp_flags,
                    Direction::In,
                    now_ns,
                )
                .is_err()
        {
            return Outcome::drop(DropReason::FlowTableFull, Path::Slow);
        }
        apply_in(pkt, xform, vnic.port, Path::Slow)
    }
}

/// Router and overlay layers of the outbound slow path (NAT comes with
/// internet gateways; here gateway traffic has no external source yet).
fn route_and_encap(
    snap: &Snapshot,
    vnic: &Vnic,
    key: &FlowKey,
    templates: &mut HashMap<TemplateKey, Arc<EncapTemplate>>,
) -> OutXform {
    let Some(route) = vnic.router.lookup(key.dst) else {
        return OutXform::Drop(DropReason::NoRoute);
    };
    vnic.hits.route_hit(route);
    let target: IpAddr = match &route.target {
        RouterTarget::Drop => return OutXform::Drop(DropReason::RouteDrop),
        RouterTarget::InternetGateway(_) => return OutXform::Drop(DropReason::NoExternalIp),
        RouterTarget::Nic(_) => return OutXform::Drop(DropReason::RouteUnsupported),
        RouterTarget::Ip(nh) => *nh,
        RouterTarget::VpcSubnet(_) => key.dst,
    };
    let vni = vnic.spec.vni;
    let Some(phys) = snap.vpc.v2p.get(vni, target) else {
        return OutXform::Drop(DropReason::NoV2p);
    };
    let Some(u) = snap.vpc.underlay else {
        return OutXform::Drop(DropReason::NoUnderlay);
    };
    if phys.underlay == u.addr {
        return match snap.vpc.by_vni_mac.get(&(vni, phys.mac)) {
            Some(to) => OutXform::Local {
                to: *to,
                dst_mac: phys.mac,
            },
            None => OutXform::Drop(DropReason::NoVnic),
        };
    }
    let tkey = (u.addr, phys.underlay, vni, u.uplink_mac, u.nexthop_mac);
    if templates.len() >= MAX_TEMPLATES && !templates.contains_key(&tkey) {
        templates.clear();
    }
    let template = templates
        .entry(tkey)
        .or_insert_with(|| {
            Arc::new(EncapTemplate::new(
                u.uplink_mac,
                u.nexthop_mac,
                u.addr,
                phys.underlay,
                vni,
            ))
        })
        .clone();
    OutXform::Encap {
        template,
        entropy: flow_hash(key),
        inner_dst_mac: phys.mac,
        uplink: u.uplink,
    }
}

#[inline]
fn encap<P: PacketBuf>(
    pkt: &mut P,
    t: &EncapTemplate,
    entropy: u32,
    inner_dst_mac: MacAddr,
    uplink: PortIdx,
    path: Path,
) -> Outcome {
    let inner_len = pkt.bytes().len();
    if !pkt.prepend(ENCAP_LEN) {
        return Outcome::drop(DropReason::NoHeadroom, path);
    }
    let b = pkt.bytes_mut();
    if !t.write(b, inner_len, entropy) {
        return Outcome::drop(DropReason::NoHeadroom, path);
    }
    if let Some(d) = b.get_mut(ENCAP_LEN..ENCAP_LEN + 6) {
        d.copy_from_slice(&inner_dst_mac.0);
    }
    Outcome::forward(uplink, path)
}

#[inline]
fn apply_in<P: PacketBuf>(pkt: &mut P, x: InXform, port: PortIdx, path: Path) -> Outcome {
    match x {
        InXform::Deliver { src_mac } => {
            if let Some(s) = pkt.bytes_mut().get_mut(6..12) {
                s.copy_from_slice(&src_mac.0);
            }
            Outcome::forward(port, path)
        }
        InXform::Drop(r) => Outcome::drop(r, path),
    }
}
