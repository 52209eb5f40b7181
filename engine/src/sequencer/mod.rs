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

use crate::firewall::{FwAction, FwContext};
use crate::flow::key::reverse_words;
use crate::flow::table::{FlowEntry, FlowId, FlowTable, Realm, Refused, DEFAULT_TTL_NS};
use crate::flow::tcp::{self, TcpTracker};
use crate::frame::{frame_info, parse_encap, FrameInfo};
use crate::gateway::{mss, too_big};
use crate::nat::igw::{self as external, NatSource, BOUNDARY_MAC, BOUNDARY_VNI};
use crate::nat::rewrite::{self as nat_rewrite, End, SrcRewrite};
use crate::nat::{has_port, NatBinding, NatState};
use crate::overlay::{flow_hash, EncapTemplate, ENCAP_LEN};
use crate::pktbuf::PacketBuf;
use crate::quick::{
    quick_encap, quick_encap_end, quick_external, quick_info, quick_words, QUICK_ENCAP_LEN,
    QUICK_EXTERNAL_LEN,
};
use crate::router::{RouteEntry, RouterTarget};
use crate::tables::Snapshot;
use crate::vnic::Vnic;
use crate::{boundary, gateway, proto, Direction, DropReason, FlowKey, KeyWords, PortIdx, Verdict};
use hashbrown::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use wire::MacAddr;

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
    /// The flow's NAT binding, when it goes through an internet gateway: its
    /// outbound encapsulation translates the source first. Boxed, so that
    /// flows without NAT keep entries of two cache lines.
    pub nat: Option<Box<FlowNat>>,
}

impl FlowState {
    /// Whether every transform computed so far drops: the flow's traffic is
    /// refused (it then holds its entry only briefly, see `flow_table.rs`).
    pub fn refused(&self) -> bool {
        !matches!(
            self.out,
            Some(OutXform::Encap { .. } | OutXform::Local { .. })
        ) && !matches!(self.inb, Some(InXform::Deliver { .. }))
    }
}

/// A flow's NAT: its binding, and the source rewrite compiled from it for
/// the outbound fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowNat {
    /// The binding.
    pub binding: NatBinding,
    /// The compiled rewrite of the guest's source (`None`: the general one).
    pub rewrite: Option<SrcRewrite>,
    /// Whether the flow has ports (or an echo id) that the binding translates.
    pub ports: bool,
}

impl FlowNat {
    fn new(binding: NatBinding, guest: &FlowKey) -> Box<Self> {
        let ports = has_port(guest);
        let port = ports.then_some(binding.ext_port);
        Box::new(FlowNat {
            binding,
            rewrite: SrcRewrite::compile(guest, binding.source.ip(), port),
            ports,
        })
    }

    /// Rewrites the source of an outbound packet of the flow.
    #[inline]
    fn apply(&self, f: &mut [u8]) -> bool {
        match &self.rewrite {
            Some(r) => r.apply(f),
            None => {
                let port = self.ports.then_some(self.binding.ext_port);
                nat_rewrite::rewrite(f, End::Src, self.binding.source.ip(), port)
            }
        }
    }
}

/// What a flow's existing entry tells the slow path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prior {
    origin: Direction,
    allowed: bool,
    nat: Option<NatBinding>,
}

impl Prior {
    fn of(s: &FlowState) -> Self {
        Prior {
            origin: s.origin,
            allowed: s.allowed,
            nat: s.nat.as_deref().map(|n| n.binding),
        }
    }
}

/// Outer-header templates by (source, destination, VNI, source MAC,
/// next-hop MAC, uplink MTU).
type TemplateKey = (
    std::net::Ipv6Addr,
    std::net::Ipv6Addr,
    u32,
    MacAddr,
    MacAddr,
    u16,
);

/// Bound on the template cache; past it the cache starts over.
const MAX_TEMPLATES: usize = 4096;

/// One worker's engine: its flow table and its cache of outer headers.
pub struct Engine {
    flows: FlowTable<FlowState>,
    templates: HashMap<TemplateKey, Arc<EncapTemplate>>,
    nat: NatState,
    /// By port: whether the last outbound fast-path hit was an internet
    /// flow (that realm is then looked up first).
    prefer: Vec<bool>,
    /// Tests: no fixed-offset reading and no fast path, every frame through
    /// the full parser and the layers (to check both give the same answer).
    #[cfg(test)]
    pub(crate) full_path_only: bool,
}

impl Engine {
    /// An engine whose flow table holds at most `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        Engine {
            flows: FlowTable::new(capacity, DEFAULT_TTL_NS),
            templates: HashMap::new(),
            nat: NatState::default(),
            prefer: Vec::new(),
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

    /// Decides where a packet received on `in_port` goes, editing it in place.
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
    /// reads the frame's key nor hashes it again.
    #[inline]
    pub fn process_hinted<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        in_port: PortIdx,
        pkt: &mut P,
        now_ns: u64,
        hint: Option<&FlowHint>,
    ) -> Outcome {
        if let Verdict::Forward(to) = snap.patch.forward(in_port) {
            return Outcome::forward(to, Path::Patch);
        }
        // Boundary role: the external port's traffic goes to the sleds.
        if let Some(x) = snap.vpc.external.filter(|x| x.port == in_port) {
            return boundary::from_external(snap, &x, pkt);
        }
        if let Some(vnic) = snap.vpc.vnic(in_port) {
            return self.outbound(snap, vnic, pkt, now_ns, hint);
        }
        match snap.vpc.underlay {
            Some(u) if u.uplink == in_port => self.underlay_in(snap, pkt, now_ns, hint),
            _ => Outcome::drop(DropReason::NoPatch, Path::Early),
        }
    }

    fn outbound<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        pkt: &mut P,
        now_ns: u64,
        hint: Option<&FlowHint>,
    ) -> Outcome {
        // Fast path: a common frame of a compiled flow, read at fixed offsets.
        // Its source IP is in the key (checked when the flow was compiled); the
        // source MAC is checked here. Everything else takes the full path.
        let quick = match hint.filter(|h| h.port == vnic.port) {
            Some(h) => Some((h.realm, h.words, h.flags, h.hash)),
            None => quick_words(pkt.bytes())
                .filter(|_| self.quick())
                .map(|(w, flags)| {
                    let realm = self.preferred_realm(vnic.port);
                    (realm, w, flags, self.flows.hash_words(vnic.port, realm, &w))
                }),
        };
        if let Some((first, words, flags, hash)) = quick {
            if pkt.bytes().get(6..12) == Some(&vnic.spec.mac.0[..]) {
                // The realm that hit last on this port first, then the other:
                // at most one of them holds a flow compiled for the current
                // routes (a route change bumps the epoch).
                for realm in [first, first.other()] {
                    let hash = if realm == first {
                        hash
                    } else if self.flows.has_realm(vnic.port, realm) {
                        self.flows.hash_words(vnic.port, realm, &words)
                    } else {
                        break;
                    };
                    match self.outbound_fast(vnic, realm, &words, flags, hash, pkt, now_ns) {
                        Fast::Done(o) => return o,
                        Fast::Local(to, mac) => {
                            return self.deliver_local(snap, vnic, to, mac, pkt, now_ns, Path::Fast)
                        }
                        Fast::Miss => {}
                    }
                }
            }
        }
        // On a miss, the quick parse (when it applies) still saves the full
        // parse: it gives the same answer for the frames it reads (tested).
        let info = match self.info(pkt.bytes()) {
            Ok(i) => i,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        // A tag would ride the underlay (or the boundary's external link).
        if info.vlan {
            return Outcome::drop(DropReason::VlanTagged, Path::Early);
        }
        if let Some(o) = gateway::outbound(vnic, &info, pkt) {
            return o;
        }
        if matches!(info.l3.map(|l| l.proto), Some(proto::ICMP | proto::ICMPV6)) {
            if let Some(err) = nat_rewrite::icmp_error(pkt.bytes()) {
                if let Some(o) = self.icmp_error_out(snap, vnic, &info, pkt, err.quoted) {
                    return o;
                }
            }
        }
        let Some(key) = info.key else {
            return Outcome::drop(DropReason::Unsupported, Path::Early);
        };
        self.outbound_slow(snap, vnic, &info, key, pkt, now_ns)
    }

    /// The outbound fast path in one realm: applies the flow's compiled
    /// transform when its entry is current.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn outbound_fast<P: PacketBuf>(
        &mut self,
        vnic: &Vnic,
        realm: Realm,
        words: &KeyWords,
        flags: u8,
        hash: u64,
        pkt: &mut P,
        now_ns: u64,
    ) -> Fast {
        let Some(e) = self
            .flows
            .get_mut_words(vnic.port, realm, words, hash, now_ns)
        else {
            return Fast::Miss;
        };
        if e.epoch != vnic.epoch || e.value.out.is_none() {
            return Fast::Miss;
        }
        e.saw(Direction::Out, flags);
        let Some(x) = e.value.out.as_ref() else {
            return Fast::Miss;
        };
        if flags & tcp::flags::SYN != 0 {
            mss::clamp(pkt.bytes_mut(), vnic.clamp_mtu);
        }
        let fast = match x {
            OutXform::Encap {
                template,
                entropy,
                inner_dst_mac,
                uplink,
            } => {
                // Before any rewrite: the error quotes what the guest sent.
                if pkt.bytes().len() > template.max_frame {
                    return Fast::Done(too_big::answer(vnic, pkt, path_mtu(template)));
                }
                if let Some(n) = e.value.nat.as_deref() {
                    if !n.apply(pkt.bytes_mut()) {
                        return Fast::Done(Outcome::drop(DropReason::Unsupported, Path::Fast));
                    }
                }
                Fast::Done(encap(
                    pkt,
                    template,
                    *entropy,
                    *inner_dst_mac,
                    *uplink,
                    Path::Fast,
                ))
            }
            OutXform::Local { to, dst_mac } => Fast::Local(*to, *dst_mac),
            OutXform::Drop(r) => Fast::Done(Outcome::drop(*r, Path::Fast)),
        };
        self.prefer_realm(vnic.port, realm);
        fast
    }

    /// The realm whose flows hit last on `port` (tried first).
    #[inline]
    fn preferred_realm(&self, port: PortIdx) -> Realm {
        match self.prefer.get(port as usize) {
            Some(true) => Realm::Internet,
            _ => Realm::Vpc,
        }
    }

    #[inline]
    fn prefer_realm(&mut self, port: PortIdx, realm: Realm) {
        let internet = realm == Realm::Internet;
        match self.prefer.get_mut(port as usize) {
            Some(p) => *p = internet,
            None if internet => {
                self.prefer.resize(port as usize + 1, false);
                if let Some(p) = self.prefer.get_mut(port as usize) {
                    *p = true;
                }
            }
            None => {}
        }
    }

    /// The entry of `id` as the slow path starts from it, refreshed; none
    /// (and the entry removed, with what it held) when it dates from an
    /// earlier VNIC on the port: epochs only grow, switch-wide, so a VNIC's
    /// `birth` is above every epoch an older one used.
    fn prior(&mut self, vnic: &Vnic, id: &FlowId, now_ns: u64) -> Option<Prior> {
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
        let o = self.inbound(target, pkt, now_ns, Some(from.spec.vni), None);
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

    fn outbound_slow<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        info: &FrameInfo,
        key: FlowKey,
        pkt: &mut P,
        now_ns: u64,
    ) -> Outcome {
        self.reap();
        // The route decides the flow's realm (and so its entry), before the
        // firewall looks at it: the layers still run in order below.
        let route = vnic.router.lookup(key.dst);
        let realm = match route.map(|r| &r.target) {
            Some(RouterTarget::InternetGateway(_)) => Realm::Internet,
            _ => Realm::Vpc,
        };
        let id = FlowId {
            port: vnic.port,
            realm,
            key,
        };
        let prior = self.prior(vnic, &id, now_ns);
        // Firewall: a reply to an allowed inbound connection passes.
        let (origin, allowed) = match prior {
            Some(Prior {
                origin: Direction::In,
                allowed: true,
                ..
            }) => (Direction::In, true),
            _ => {
                let a = self.fw_allows(vnic, Direction::Out, &key, Some(vnic.spec.vni));
                // An allowed request makes the guest the connection's origin,
                // even if an earlier unsolicited packet from the remote was denied.
                (
                    if a {
                        Direction::Out
                    } else {
                        prior.map_or(Direction::Out, |p| p.origin)
                    },
                    a,
                )
            }
        };
        let prior_nat = prior.and_then(|p| p.nat);
        let (xform, nat) = if !allowed {
            (OutXform::Drop(DropReason::FirewallDeny), None)
        } else {
            self.route_and_encap(snap, vnic, id, route, origin, prior_nat)
        };
        // A flow rebound (or no longer translated) gives back what it held.
        if let Some(old) = prior_nat.filter(|o| Some(*o) != nat) {
            self.nat.release(&id, &old);
        }
        let state = FlowState {
            origin,
            allowed,
            out: Some(xform.clone()),
            inb: None,
            nat: nat.map(|b| FlowNat::new(b, &key)),
        };
        let installed = self.install(
            vnic,
            id,
            state,
            prior.is_some(),
            info.tcp_flags,
            Direction::Out,
            now_ns,
        );
        if let Some(b) = nat.filter(|b| Some(*b) != prior_nat) {
            if installed.is_ok() {
                self.nat.bind(id, &b);
            } else {
                self.nat.release(&id, &b);
            }
        }
        if let Err(r) = installed {
            return Outcome::drop(refusal_reason(r), Path::Slow);
        }
        if info.tcp_flags & tcp::flags::SYN != 0 {
            mss::clamp(pkt.bytes_mut(), vnic.clamp_mtu);
        }
        match xform {
            OutXform::Encap {
                template,
                entropy,
                inner_dst_mac,
                uplink,
            } => {
                if pkt.bytes().len() > template.max_frame {
                    return too_big::answer(vnic, pkt, path_mtu(&template));
                }
                if let Some(b) = nat {
                    let port = has_port(&key).then_some(b.ext_port);
                    let ip = b.source.ip();
                    if !nat_rewrite::rewrite(pkt.bytes_mut(), End::Src, ip, port) {
                        return Outcome::drop(DropReason::Unsupported, Path::Slow);
                    }
                }
                encap(pkt, &template, entropy, inner_dst_mac, uplink, Path::Slow)
            }
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

    /// Creates or refreshes the entry of `id` with a newly computed state,
    /// at the VNIC's epoch and within its flow quota.
    #[allow(clippy::too_many_arguments)]
    fn install(
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
            .insert(id, entry, now_ns, vnic.flow_quota)
            .map(|_| ());
        // What the insert evicted gives its NAT state back at once.
        self.reap();
        r
    }

    fn underlay_in<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        pkt: &mut P,
        now_ns: u64,
        hint: Option<&FlowHint>,
    ) -> Outcome {
        let Some(u) = snap.vpc.underlay else {
            return Outcome::drop(DropReason::NoUnderlay, Path::Early);
        };
        // Boundary role: underlay traffic is boundary traffic for the internet.
        if snap.vpc.external.is_some() {
            return boundary::from_underlay(snap, &u, pkt);
        }
        // Fast path: option-less Geneve for this sled carrying a common frame
        // of a compiled flow. Options (External, critical ones) take the full path.
        let quick = match hint.filter(|h| h.realm == Realm::Vpc) {
            Some(h) => snap
                .vpc
                .vnic(h.port)
                .map(|v| (&**v, h.words, h.flags, h.hash)),
            None => self
                .underlay_quick(snap, &u, pkt.bytes())
                .filter(|_| self.quick()),
        };
        if let Some((vnic, words, flags, hash)) = quick {
            // VPC traffic: the VPC realm only.
            let found = self
                .flows
                .get_mut_words(vnic.port, Realm::Vpc, &words, hash, now_ns);
            if let Some(e) = found {
                if let (true, Some(x)) = (e.epoch == vnic.epoch, e.value.inb) {
                    e.saw(Direction::In, flags);
                    let end = quick_encap_end(pkt.bytes());
                    if (pkt.bytes().len() > end && !pkt.resize(end))
                        || !pkt.strip_front(QUICK_ENCAP_LEN)
                    {
                        return Outcome::drop(DropReason::Malformed, Path::Fast);
                    }
                    if flags & tcp::flags::SYN != 0 {
                        mss::clamp(pkt.bytes_mut(), vnic.clamp_mtu);
                    }
                    return apply_in(pkt, x, vnic.port, Path::Fast);
                }
            }
        }
        // The boundary's own form of its traffic, read at fixed offsets.
        if self.quick() && quick_external(pkt.bytes(), &u.addr) {
            let end = quick_encap_end(pkt.bytes());
            if (pkt.bytes().len() > end && !pkt.resize(end)) || !pkt.strip_front(QUICK_EXTERNAL_LEN)
            {
                return Outcome::drop(DropReason::Malformed, Path::Early);
            }
            return self.nat_inbound(snap, pkt, now_ns);
        }
        let encap = match parse_encap(pkt.bytes()) {
            Ok(e) => e,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        if encap.outer_dst != u.addr {
            return Outcome::drop(DropReason::NotGeneve, Path::Early);
        }
        if encap.oam {
            return Outcome::drop(DropReason::GeneveOam, Path::Early);
        }
        // The inner frame alone: the outer frame's padding goes.
        let end = encap.inner_offset + encap.inner_len;
        if (pkt.bytes().len() > end && !pkt.resize(end)) || !pkt.strip_front(encap.inner_offset) {
            return Outcome::drop(DropReason::Malformed, Path::Early);
        }
        if encap.external && encap.vni == BOUNDARY_VNI {
            // From the boundary: addressed by external IP, not (VNI, MAC).
            return self.nat_inbound(snap, pkt, now_ns);
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
        // The VNI is metadata only for traffic from inside the VPC.
        let remote_vni = (!encap.external).then_some(encap.vni);
        self.inbound(vnic, pkt, now_ns, remote_vni, None)
    }

    /// Router, NAT and overlay layers of the outbound slow path: the
    /// compiled transform and, for internet-gateway traffic, the NAT binding.
    fn route_and_encap(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        id: FlowId,
        route: Option<&RouteEntry>,
        origin: Direction,
        prior_nat: Option<NatBinding>,
    ) -> (OutXform, Option<NatBinding>) {
        let key = &id.key;
        let Some(route) = route else {
            return (OutXform::Drop(DropReason::NoRoute), None);
        };
        vnic.hits.route_hit(route);
        let target: IpAddr = match &route.target {
            RouterTarget::Drop => return (OutXform::Drop(DropReason::RouteDrop), None),
            RouterTarget::InternetGateway(tag) => {
                return self.nat_and_boundary(snap, vnic, id, *tag, origin, prior_nat)
            }
            RouterTarget::Nic(_) => return (OutXform::Drop(DropReason::RouteUnsupported), None),
            RouterTarget::Ip(nh) => *nh,
            RouterTarget::VpcSubnet(_) => key.dst,
        };
        let vni = vnic.spec.vni;
        let Some(phys) = snap.vpc.v2p.get(vni, target) else {
            return (OutXform::Drop(DropReason::NoV2p), None);
        };
        let Some(u) = snap.vpc.underlay else {
            return (OutXform::Drop(DropReason::NoUnderlay), None);
        };
        if phys.underlay == u.addr {
            let x = match snap.vpc.by_vni_mac.get(&(vni, phys.mac)) {
                Some(to) => OutXform::Local {
                    to: *to,
                    dst_mac: phys.mac,
                },
                None => OutXform::Drop(DropReason::NoVnic),
            };
            return (x, None);
        }
        let template = template_to(&mut self.templates, &u, phys.underlay, vni);
        let x = OutXform::Encap {
            template,
            entropy: flow_hash(key),
            inner_dst_mac: phys.mac,
            uplink: u.uplink,
        };
        (x, None)
    }

    /// NAT (floating > ephemeral > SNAT > deny, per gateway tag) and
    /// encapsulation toward a boundary endpoint chosen by V2B. A flow keeps
    /// its binding while it stays valid (soft revalidation).
    fn nat_and_boundary(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        id: FlowId,
        tag: external::IgwTag,
        origin: Direction,
        prior_nat: Option<NatBinding>,
    ) -> (OutXform, Option<NatBinding>) {
        let key = &id.key;
        let Some(u) = snap.vpc.underlay else {
            return (OutXform::Drop(DropReason::NoUnderlay), None);
        };
        let hash = flow_hash(key);
        let igws = &snap.vpc.igws;
        let keep = prior_nat.filter(|b| match origin {
            // Replies of a connection made to an external address leave from it.
            Direction::In => binding_held(vnic, b),
            Direction::Out => {
                b.tag == tag && external::source_still_valid(&vnic.external, igws, tag, &b.source)
            }
        });
        let binding = match keep {
            Some(b) => b,
            None => {
                let Some(src) = external::select_source(&vnic.external, igws, tag, key.dst, hash)
                else {
                    return (OutXform::Drop(DropReason::NoExternalIp), None);
                };
                let ext_port = match src {
                    NatSource::Snat(s) if has_port(key) => {
                        match self.nat.allocate(id, s.ip, (s.first_port, s.last_port)) {
                            Some(p) => p,
                            None => return (OutXform::Drop(DropReason::SnatExhausted), None),
                        }
                    }
                    _ => key.src_port,
                };
                NatBinding {
                    tag,
                    source: src,
                    ext_port,
                }
            }
        };
        let Some(endpoint) = snap.vpc.v2b.lookup(key.dst, hash) else {
            if Some(binding) != prior_nat {
                self.nat.release(&id, &binding);
            }
            return (OutXform::Drop(DropReason::NoBoundary), None);
        };
        let template = template_to(&mut self.templates, &u, endpoint, BOUNDARY_VNI);
        let x = OutXform::Encap {
            template,
            entropy: hash,
            inner_dst_mac: MacAddr(BOUNDARY_MAC),
            uplink: u.uplink,
        };
        (x, Some(binding))
    }

    /// Traffic from the boundary (External option): a reply to a translated
    /// flow, an ICMP error about one, or a new connection to a 1:1 external
    /// address (DNAT, then the inbound layers). `pkt` is the inner frame.
    fn nat_inbound<P: PacketBuf>(&mut self, snap: &Snapshot, pkt: &mut P, now_ns: u64) -> Outcome {
        let info = match self.info(pkt.bytes()) {
            Ok(i) => i,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        if info.vlan {
            return Outcome::drop(DropReason::VlanTagged, Path::Early);
        }
        let Some(key) = info.key else {
            return Outcome::drop(DropReason::Unsupported, Path::Early);
        };
        if let Some(err) = nat_rewrite::icmp_error(pkt.bytes()) {
            return self.nat_icmp_error_in(snap, pkt, err.quoted, now_ns);
        }
        if let Some(id) = self.nat.flow_of_reply(&key) {
            if let Some(vnic) = snap.vpc.vnic(id.port) {
                if let Some(e) = self.flows.get_mut(&id, now_ns) {
                    if let Some(b) = e.value.nat.as_deref().map(|n| n.binding) {
                        if e.value.allowed && binding_held(vnic, &b) {
                            e.saw(Direction::In, info.tcp_flags);
                            if info.tcp_flags & tcp::flags::SYN != 0 {
                                mss::clamp(pkt.bytes_mut(), vnic.clamp_mtu);
                            }
                            let port = has_port(&id.key).then_some(id.key.src_port);
                            return deliver_translated(pkt, vnic, id.key.src, port, Path::Fast);
                        }
                    }
                }
            }
        }
        // A connection to a floating or ephemeral address: DNAT to the
        // guest's private address (ports kept), then the inbound layers.
        let Some(vnic) = snap
            .vpc
            .owners
            .one_to_one(key.dst)
            .and_then(|p| snap.vpc.vnic(p))
        else {
            return Outcome::drop(DropReason::NatNoState, Path::Slow);
        };
        let source = if vnic.external.floating.contains(&key.dst) {
            NatSource::Floating(key.dst)
        } else {
            NatSource::Ephemeral(key.dst)
        };
        let guest: Option<IpAddr> = match key.dst {
            IpAddr::V4(_) => vnic.spec.ipv4.map(IpAddr::V4),
            IpAddr::V6(_) => vnic.spec.ipv6.map(IpAddr::V6),
        };
        let Some(guest) = guest else {
            return Outcome::drop(DropReason::NatNoState, Path::Slow);
        };
        if !nat_rewrite::rewrite(pkt.bytes_mut(), End::Dst, guest, None) {
            return Outcome::drop(DropReason::Unsupported, Path::Slow);
        }
        set_macs(pkt, vnic);
        let b = NatBinding {
            tag: None,
            source,
            ext_port: key.dst_port,
        };
        self.inbound(vnic, pkt, now_ns, None, Some(b))
    }

    /// An ICMP error from outside about a packet one of our flows sent: the
    /// outer destination and the quoted source are translated back.
    fn nat_icmp_error_in<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        pkt: &mut P,
        quoted: FlowKey,
        now_ns: u64,
    ) -> Outcome {
        // The quote is what we sent; its reverse is what a reply looks like.
        let found = self.nat.flow_of_reply(&quoted.reverse()).or_else(|| {
            // Or a connection made to a 1:1 address: the flow is keyed by the
            // guest's private address.
            let port = snap.vpc.owners.one_to_one(quoted.src)?;
            let v = snap.vpc.vnic(port)?;
            let guest: IpAddr = match quoted.src {
                IpAddr::V4(_) => IpAddr::V4(v.spec.ipv4?),
                IpAddr::V6(_) => IpAddr::V6(v.spec.ipv6?),
            };
            Some(FlowId {
                port,
                realm: Realm::Internet,
                key: FlowKey {
                    src: guest,
                    ..quoted
                },
            })
        });
        let Some(id) = found else {
            return Outcome::drop(DropReason::NatNoState, Path::Slow);
        };
        let (Some(vnic), Some(e)) = (snap.vpc.vnic(id.port), self.flows.get_mut(&id, now_ns))
        else {
            return Outcome::drop(DropReason::NatNoState, Path::Slow);
        };
        if !e.value.allowed
            || !e
                .value
                .nat
                .as_deref()
                .is_some_and(|n| binding_held(vnic, &n.binding))
        {
            return Outcome::drop(DropReason::NatNoState, Path::Slow);
        }
        let port = has_port(&id.key).then_some(id.key.src_port);
        if !nat_rewrite::rewrite_icmp_error(
            pkt.bytes_mut(),
            End::Dst,
            id.key.src,
            End::Src,
            id.key.src,
            port,
        ) {
            return Outcome::drop(DropReason::Unsupported, Path::Slow);
        }
        set_macs(pkt, vnic);
        Outcome::forward(vnic.port, Path::Slow)
    }

    /// An ICMP error the guest sends; `quoted` is the packet it received, as
    /// the error quotes it. The error must go back to that packet's source
    /// (else a counted drop). One about a flow through an internet gateway
    /// passes only if the router still sends its destination there and the
    /// firewall allowed the flow: its outer source and quoted destination
    /// become the flow's external address, and it goes to the boundary.
    /// `None`: an error about VPC traffic, which runs the layers (firewall,
    /// router) as a flow of its own.
    fn icmp_error_out<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        info: &FrameInfo,
        pkt: &mut P,
        quoted: FlowKey,
    ) -> Option<Outcome> {
        let mismatch = Outcome::drop(DropReason::IcmpErrorMismatch, Path::Slow);
        if info.l3.map(|l| l.dst) != Some(quoted.src) {
            return Some(mismatch);
        }
        let route = vnic.router.lookup(quoted.src);
        if !matches!(
            route.map(|r| &r.target),
            Some(RouterTarget::InternetGateway(_))
        ) {
            return None;
        }
        // The quote is what the guest received: its reverse is the flow's key.
        let id = FlowId {
            port: vnic.port,
            realm: Realm::Internet,
            key: quoted.reverse(),
        };
        let Some(e) = self.flows.get(&id) else {
            // Untranslated, its quote would show the private address.
            return Some(mismatch);
        };
        if !e.value.allowed {
            return Some(Outcome::drop(DropReason::FirewallDeny, Path::Slow));
        }
        let Some(b) = e.value.nat.as_deref().map(|n| n.binding) else {
            return Some(mismatch);
        };
        let u = snap.vpc.underlay?;
        let ext = b.source.ip();
        let hash = flow_hash(&id.key);
        let Some(endpoint) = snap.vpc.v2b.lookup(id.key.dst, hash) else {
            return Some(Outcome::drop(DropReason::NoBoundary, Path::Slow));
        };
        let port = has_port(&id.key).then_some(b.ext_port);
        if !nat_rewrite::rewrite_icmp_error(pkt.bytes_mut(), End::Src, ext, End::Dst, ext, port) {
            return Some(Outcome::drop(DropReason::Unsupported, Path::Slow));
        }
        let template = template_to(&mut self.templates, &u, endpoint, BOUNDARY_VNI);
        Some(encap(
            pkt,
            &template,
            hash,
            MacAddr(BOUNDARY_MAC),
            u.uplink,
            Path::Slow,
        ))
    }

    /// Releases the NAT resources of flows the table removed (expired,
    /// evicted, cleared). Runs before any new binding is made, so a port or
    /// reply key is never given out while a dead flow still holds it.
    #[inline]
    fn reap(&mut self) {
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

    /// One step of a clear (see [`FlowTable::clear_from`]): the flows of
    /// `port` (every port: `None`) below `below_epoch` in the next
    /// `max_slots` slots of `slots`, releasing their NAT resources; returns
    /// how many went and where to go on (`None`: done).
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
    pub fn nat_state(&self) -> (crate::nat::NatCounters, usize, usize) {
        (
            self.nat.counters(),
            self.nat.snat_ports_held(),
            self.nat.reverse_len(),
        )
    }

    /// Inbound layers for a frame addressed to `vnic` (already decapsulated).
    fn inbound<P: PacketBuf>(
        &mut self,
        vnic: &Vnic,
        pkt: &mut P,
        now_ns: u64,
        remote_vni: Option<u32>,
        dnat: Option<NatBinding>,
    ) -> Outcome {
        self.reap();
        let info = match frame_info(pkt.bytes()) {
            Ok(i) => i,
            Err(r) => return Outcome::drop(r, Path::Early),
        };
        if info.vlan {
            return Outcome::drop(DropReason::VlanTagged, Path::Early);
        }
        let Some(key) = info.key else {
            return Outcome::drop(DropReason::Unsupported, Path::Early);
        };
        // A connection made to an external address is an internet flow;
        // everything else reaching this point comes from inside the VPC.
        let realm = if dnat.is_some() {
            Realm::Internet
        } else {
            Realm::Vpc
        };
        let id = FlowId {
            port: vnic.port,
            realm,
            key: key.reverse(),
        };
        let syn = info.tcp_flags & tcp::flags::SYN != 0;
        if let Some(e) = self.flows.get_mut(&id, now_ns) {
            if e.epoch == vnic.epoch {
                if let Some(x) = e.value.inb {
                    e.saw(Direction::In, info.tcp_flags);
                    if syn {
                        mss::clamp(pkt.bytes_mut(), vnic.clamp_mtu);
                    }
                    return apply_in(pkt, x, vnic.port, Path::Fast);
                }
            }
        }
        // Gateway (inbound): only traffic for the guest's own MAC and IP.
        let for_guest = (info.dst_mac == vnic.spec.mac || info.dst_mac.is_multicast())
            && info.l3.is_some_and(|l3| vnic.spec.owns(l3.dst));
        let prior = self.prior(vnic, &id, now_ns);
        let exists = prior.is_some();
        let (origin, allowed) = match prior {
            Some(Prior {
                origin: Direction::Out,
                allowed: true,
                ..
            }) => (Direction::Out, true),
            _ => {
                let a = self.fw_allows(vnic, Direction::In, &key, remote_vni);
                (
                    if a {
                        Direction::In
                    } else {
                        prior.map_or(Direction::In, |p| p.origin)
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
            nat: prior
                .and_then(|p| p.nat)
                .or(dnat)
                .map(|b| FlowNat::new(b, &id.key)),
        };
        // Traffic not for the guest creates no state.
        if for_guest {
            let installed = self.install(
                vnic,
                id,
                state,
                exists,
                info.tcp_flags,
                Direction::In,
                now_ns,
            );
            if let Err(r) = installed {
                return Outcome::drop(refusal_reason(r), Path::Slow);
            }
        }
        if syn {
            mss::clamp(pkt.bytes_mut(), vnic.clamp_mtu);
        }
        apply_in(pkt, xform, vnic.port, Path::Slow)
    }

    /// The first pass over a burst, for one packet: reads the key of the
    /// flow the packet would look up on the fast path (the same reading
    /// `outbound` and `underlay_in` do), hashes it and starts loading its
    /// bucket. `None` for packets that take no fast-path lookup. Done for a
    /// whole burst before any packet is processed, the frames' cache misses
    /// and the hashing overlap across packets instead of waiting in line.
    #[inline]
    pub fn flow_hint(&self, snap: &Snapshot, in_port: PortIdx, bytes: &[u8]) -> Option<FlowHint> {
        if !self.quick() {
            return None;
        }
        if let Verdict::Forward(_) = snap.patch.forward(in_port) {
            return None;
        }
        let (port, realm, words, flags, hash) = match snap.vpc.vnic(in_port) {
            Some(vnic) => {
                let (words, flags) = quick_words(bytes)?;
                let realm = self.preferred_realm(vnic.port);
                (
                    vnic.port,
                    realm,
                    words,
                    flags,
                    self.flows.hash_words(vnic.port, realm, &words),
                )
            }
            None => {
                // A boundary's underlay traffic takes no flow lookup.
                if snap.vpc.external.is_some() {
                    return None;
                }
                let u = snap.vpc.underlay.filter(|u| u.uplink == in_port)?;
                let (vnic, words, flags, hash) = self.underlay_quick(snap, &u, bytes)?;
                (vnic.port, Realm::Vpc, words, flags, hash)
            }
        };
        self.flows.prefetch_bucket(hash);
        Some(FlowHint {
            port,
            realm,
            words,
            flags,
            hash,
        })
    }

    /// The fast path's reading of an option-less Geneve frame for this
    /// sled: the guest port it is for, and its inner flow's key (in the
    /// guest's orientation), TCP flags and hash.
    #[inline]
    fn underlay_quick<'s>(
        &self,
        snap: &'s Snapshot,
        u: &crate::vpc::Underlay,
        bytes: &[u8],
    ) -> Option<(&'s Vnic, KeyWords, u8, u64)> {
        let (vni, mac) = quick_encap(bytes, &u.addr)?;
        let port = snap.vpc.by_vni_mac.get(&(vni, MacAddr(mac)))?;
        let vnic = snap.vpc.vnic(*port)?;
        let (words, flags) = quick_words(bytes.get(QUICK_ENCAP_LEN..)?)?;
        // The flow is filed in the guest's (outbound) orientation.
        let words = reverse_words(&words);
        Some((
            vnic,
            words,
            flags,
            self.flows.hash_words(vnic.port, Realm::Vpc, &words),
        ))
    }

    /// Prefetches the entry of a flow whose bucket [`Self::flow_hint`]
    /// prefetched (a little earlier, so that the bucket is in cache).
    #[inline]
    pub fn prefetch_flow_entry(&self, hash: u64) {
        self.flows.prefetch_entry(hash);
    }
}

/// What the outbound fast path did in one realm.
enum Fast {
    /// The packet's outcome.
    Done(Outcome),
    /// Deliver to a guest on this sled (its inbound layers run next).
    Local(PortIdx, MacAddr),
    /// No current compiled flow in that realm.
    Miss,
}

/// The MTU a guest may use toward the uplink of `t` (its IP packets).
fn path_mtu(t: &EncapTemplate) -> u16 {
    u16::try_from(t.max_frame.saturating_sub(14)).unwrap_or(u16::MAX)
}

/// The drop reason of a refused flow-table insert.
fn refusal_reason(r: Refused) -> DropReason {
    match r {
        Refused::TableFull => DropReason::FlowTableFull,
        Refused::Quota => DropReason::FlowQuota,
    }
}

/// The shared outer headers toward `dst` (cached; past the bound the cache starts over).
fn template_to(
    templates: &mut HashMap<TemplateKey, Arc<EncapTemplate>>,
    u: &crate::vpc::Underlay,
    dst: std::net::Ipv6Addr,
    vni: u32,
) -> Arc<EncapTemplate> {
    let tkey = (u.addr, dst, vni, u.uplink_mac, u.nexthop_mac, u.mtu);
    if templates.len() >= MAX_TEMPLATES && !templates.contains_key(&tkey) {
        templates.clear();
    }
    templates
        .entry(tkey)
        .or_insert_with(|| {
            Arc::new(
                EncapTemplate::new(u.uplink_mac, u.nexthop_mac, u.addr, dst, vni).for_mtu(u.mtu),
            )
        })
        .clone()
}

/// Whether the VNIC still holds the external address of `b` (its flows'
/// replies may still be translated back).
fn binding_held(vnic: &Vnic, b: &NatBinding) -> bool {
    vnic.external.holds(&b.source)
}

/// Delivers a translated-back frame to the guest: destination address (and
/// port) to the guest's, MACs to guest and gateway.
fn deliver_translated<P: PacketBuf>(
    pkt: &mut P,
    vnic: &Vnic,
    ip: IpAddr,
    port: Option<u16>,
    path: Path,
) -> Outcome {
    if !nat_rewrite::rewrite(pkt.bytes_mut(), End::Dst, ip, port) {
        return Outcome::drop(DropReason::Unsupported, path);
    }
    set_macs(pkt, vnic);
    Outcome::forward(vnic.port, path)
}

/// Destination MAC the guest's, source MAC its gateway's.
fn set_macs<P: PacketBuf>(pkt: &mut P, vnic: &Vnic) {
    if let Some(m) = pkt.bytes_mut().get_mut(0..12) {
        m[0..6].copy_from_slice(&vnic.spec.mac.0);
        m[6..12].copy_from_slice(&vnic.spec.gateway_mac.0);
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
