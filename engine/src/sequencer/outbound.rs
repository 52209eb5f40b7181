//! Outbound (guest -> wire): the fast path, then gateway -> firewall ->
//! router -> nat -> overlay on the slow path, whose result is compiled into
//! the flow's entry.

use super::{Engine, FlowHint};
use crate::firewall::stateful;
use crate::flow::state::{refusal_reason, FlowState, OutXform};
use crate::flow::table::{FlowId, Realm};
use crate::flow::tcp;
use crate::frame::offsets::{BOUNDARY_MAC, BOUNDARY_VNI, ETH_DST, ETH_SRC};
use crate::frame::quick::quick_words;
use crate::frame::FrameInfo;
use crate::gateway::{self, mss, too_big};
use crate::nat::icmp_error::{self, ErrorOut};
use crate::nat::rewrite::{self, End};
use crate::nat::{self, has_port, FlowNat, NatBinding};
use crate::overlay::encap::{encap, path_mtu};
use crate::overlay::flow_hash;
use crate::overlay::place::{place, Placement};
use crate::pktbuf::PacketBuf;
use crate::router::decision::{self, RouteDecision};
use crate::router::RouteEntry;
use crate::tables::Snapshot;
use crate::vnic::Vnic;
use crate::{proto, Direction, DropReason, FlowKey, KeyWords, Outcome, Path, PortIdx};
use wire::MacAddr;

/// What the outbound fast path did in one realm.
enum Fast {
    /// The packet's outcome.
    Done(Outcome),
    /// Deliver to a guest on this sled (its inbound layers run next).
    Local(PortIdx, MacAddr),
    /// No current compiled flow in that realm.
    Miss,
}

impl Engine {
    pub(super) fn outbound<P: PacketBuf>(
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
            if pkt.bytes().get(ETH_SRC) == Some(&vnic.spec.mac.0[..]) {
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
            if let Some(err) = rewrite::icmp_error(pkt.bytes()) {
                match icmp_error::error_out(&self.flows, &snap.vpc, vnic, &info, pkt, err.quoted) {
                    ErrorOut::Vpc => {}
                    ErrorOut::Drop(r) => return Outcome::drop(r, Path::Slow),
                    ErrorOut::ToBoundary {
                        underlay,
                        boundary,
                        entropy,
                    } => {
                        let t = self.templates.to(&underlay, boundary, BOUNDARY_VNI);
                        let mac = MacAddr(BOUNDARY_MAC);
                        return encap(pkt, &t, entropy, mac, underlay.uplink, Path::Slow);
                    }
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
            mss::clamp(pkt.bytes_mut(), vnic.clamp_for(realm));
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
    pub(super) fn preferred_realm(&self, port: PortIdx) -> Realm {
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

    /// A packet between two guests of this sled: the receiver's inbound layers.
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
        if let Some(d) = pkt.bytes_mut().get_mut(ETH_DST) {
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

    /// The slow path: every layer, in order, and the result compiled.
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
        let id = FlowId {
            port: vnic.port,
            realm: decision::realm(route),
            key,
        };
        let prior = self.prior(vnic, &id, now_ns);
        let standing = stateful::admit(
            vnic,
            Direction::Out,
            &key,
            Some(vnic.spec.vni),
            prior.map(|p| p.standing),
        );
        let prior_nat = prior.and_then(|p| p.nat);
        let (xform, nat) = if !standing.allowed {
            (OutXform::Drop(DropReason::FirewallDeny), None)
        } else {
            self.route_and_encap(snap, vnic, id, route, standing.origin, prior_nat)
        };
        // A flow rebound (or no longer translated) gives back what it held.
        if let Some(old) = prior_nat.filter(|o| Some(*o) != nat) {
            self.nat.release(&id, &old);
        }
        let state = FlowState {
            origin: standing.origin,
            allowed: standing.allowed,
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
            mss::clamp(pkt.bytes_mut(), vnic.clamp_for(id.realm));
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
                    if !rewrite::rewrite(pkt.bytes_mut(), End::Src, ip, port) {
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

    /// Router, NAT and overlay decisions of the outbound slow path, compiled
    /// into a transform (with, for internet-gateway traffic, the NAT binding).
    fn route_and_encap(
        &mut self,
        snap: &Snapshot,
        vnic: &Vnic,
        id: FlowId,
        route: Option<&RouteEntry>,
        origin: Direction,
        prior_nat: Option<NatBinding>,
    ) -> (OutXform, Option<NatBinding>) {
        let target = match decision::decide(
            &vnic.hits,
            &snap.vpc.nic_targets,
            vnic.spec.vni,
            route,
            id.key.dst,
        ) {
            RouteDecision::Drop(r) => return (OutXform::Drop(r), None),
            RouteDecision::Vpc(target) => target,
            RouteDecision::Internet(tag) => {
                let Some(u) = snap.vpc.underlay else {
                    return (OutXform::Drop(DropReason::NoUnderlay), None);
                };
                return match nat::outbound::to_internet(
                    &mut self.nat,
                    &snap.vpc,
                    vnic,
                    id,
                    tag,
                    origin,
                    prior_nat,
                ) {
                    Ok(n) => {
                        let x = OutXform::Encap {
                            template: self.templates.to(&u, n.boundary, BOUNDARY_VNI),
                            entropy: n.entropy,
                            inner_dst_mac: MacAddr(BOUNDARY_MAC),
                            uplink: u.uplink,
                        };
                        (x, Some(n.binding))
                    }
                    Err(r) => (OutXform::Drop(r), None),
                };
            }
        };
        let vni = vnic.spec.vni;
        let x = match place(&snap.vpc, vni, target) {
            Err(r) => OutXform::Drop(r),
            Ok(Placement::Local { to, dst_mac }) => OutXform::Local { to, dst_mac },
            Ok(Placement::Remote {
                underlay,
                inner_dst_mac,
            }) => match snap.vpc.underlay {
                Some(u) => OutXform::Encap {
                    template: self.templates.to(&u, underlay, vni),
                    entropy: flow_hash(&id.key),
                    inner_dst_mac,
                    uplink: u.uplink,
                },
                None => OutXform::Drop(DropReason::NoUnderlay),
            },
        };
        (x, None)
    }
}
