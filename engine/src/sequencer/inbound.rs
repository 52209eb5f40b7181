//! Inbound (wire -> guest): overlay (decapsulation) -> nat (traffic from the
//! boundary) -> firewall -> gateway, with the fast path first.

use super::{Engine, FlowHint};
use crate::firewall::stateful;
use crate::flow::state::{refusal_reason, FlowState, InXform};
use crate::flow::table::{FlowId, Realm};
use crate::flow::tcp;
use crate::frame::frame_info;
use crate::frame::offsets::{BOUNDARY_ENCAP_LEN, ENCAP_LEN, ETH_SRC};
use crate::frame::quick::{quick_encap_end, quick_from_boundary};
use crate::gateway::mss;
use crate::nat::FlowNat;
use crate::nat::{icmp_error, inbound as nat_in, rewrite, NatBinding};
use crate::overlay::decap::{decap, keep_inner, quick_arrival, Arrival};
use crate::overlay::relay::relay;
use crate::pktbuf::PacketBuf;
use crate::tables::Snapshot;
use crate::vnic::Vnic;
use crate::vpc::Underlay;
use crate::{Direction, DropReason, FlowKey, Outcome, Path, PortIdx};

impl Engine {
    /// A frame from the underlay uplink of a sled (whose underlay is `u`).
    pub(super) fn underlay_in<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        u: &Underlay,
        pkt: &mut P,
        now_ns: u64,
        hint: Option<&FlowHint>,
    ) -> Outcome {
        // A migrated instance's old endpoint, in its grace period: relayed.
        if !snap.vpc.forwards.is_empty() {
            if let Some(o) = relay(&snap.vpc, u, pkt) {
                return o;
            }
        }
        // Fast path: option-less Geneve for this sled carrying a common frame
        // of a compiled flow. Options (External, critical ones) take the full path.
        let quick = match hint.filter(|h| h.realm == Realm::Vpc) {
            Some(h) => snap
                .vpc
                .vnic(h.port)
                .map(|v| (&**v, h.words, h.flags, h.hash)),
            None => quick_arrival(&snap.vpc, u, pkt.bytes())
                .filter(|_| self.quick())
                .map(|(v, w, flags)| (v, w, flags, self.flows.hash_words(v.port, Realm::Vpc, &w))),
        };
        if let Some((vnic, words, flags, hash)) = quick {
            // VPC traffic: the VPC realm only.
            let found = self
                .flows
                .get_mut_words(vnic.port, Realm::Vpc, &words, hash, now_ns);
            if let Some(e) = found {
                if let (true, Some(x)) = (e.epoch == vnic.epoch, e.value.inb) {
                    e.saw(Direction::In, flags);
                    if !keep_inner(pkt, ENCAP_LEN, quick_encap_end(pkt.bytes())) {
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
        if self.quick() && quick_from_boundary(pkt.bytes(), &snap.vpc.sled_addrs(u)) {
            if !keep_inner(pkt, BOUNDARY_ENCAP_LEN, quick_encap_end(pkt.bytes())) {
                return Outcome::drop(DropReason::Malformed, Path::Early);
            }
            return self.nat_inbound(snap, pkt, now_ns);
        }
        match decap(&snap.vpc, u, pkt) {
            Err(r) => Outcome::drop(r, Path::Early),
            Ok(Arrival::FromBoundary) => self.nat_inbound(snap, pkt, now_ns),
            Ok(Arrival::Guest { port, remote_vni }) => match snap.vpc.vnic(port) {
                Some(vnic) => self.inbound(vnic, pkt, now_ns, remote_vni, None),
                None => Outcome::drop(DropReason::NoVnic, Path::Early),
            },
        }
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
        if let Some(err) = rewrite::icmp_error(pkt.bytes()) {
            return self.nat_icmp_error_in(snap, pkt, err.quoted, now_ns);
        }
        if let Some(id) = self.nat.flow_of_reply(&key) {
            if let Some(vnic) = snap.vpc.vnic(id.port) {
                if let Some(e) = self.flows.get_mut(&id, now_ns) {
                    if nat_in::reply_passes(&e.value, vnic) {
                        e.saw(Direction::In, info.tcp_flags);
                        if info.tcp_flags & tcp::flags::SYN != 0 {
                            mss::clamp(pkt.bytes_mut(), vnic.clamp_for(id.realm));
                        }
                        return nat_in::untranslate(pkt, vnic, &id, Path::Fast);
                    }
                }
            }
        }
        match nat_in::dnat(&snap.vpc, &key, pkt) {
            Ok((vnic, b)) => self.inbound(vnic, pkt, now_ns, None, Some(b)),
            Err(r) => Outcome::drop(r, Path::Slow),
        }
    }

    /// An ICMP error from outside about a packet one of our flows sent.
    fn nat_icmp_error_in<P: PacketBuf>(
        &mut self,
        snap: &Snapshot,
        pkt: &mut P,
        quoted: FlowKey,
        now_ns: u64,
    ) -> Outcome {
        let no_state = Outcome::drop(DropReason::NatNoState, Path::Slow);
        let Some(id) = icmp_error::flow_of_error_in(&self.nat, &snap.vpc, &quoted) else {
            return no_state;
        };
        let (Some(vnic), Some(e)) = (snap.vpc.vnic(id.port), self.flows.get_mut(&id, now_ns))
        else {
            return no_state;
        };
        icmp_error::untranslate_error_in(pkt, vnic, &id, &e.value)
    }

    /// Inbound layers for a frame addressed to `vnic` (already decapsulated).
    pub(super) fn inbound<P: PacketBuf>(
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
                        mss::clamp(pkt.bytes_mut(), vnic.clamp_for(realm));
                    }
                    return apply_in(pkt, x, vnic.port, Path::Fast);
                }
            }
        }
        let for_guest = crate::gateway::inbound_for_guest(vnic, &info);
        let prior = self.prior(vnic, &id, now_ns);
        let standing = stateful::admit(
            vnic,
            Direction::In,
            &key,
            remote_vni,
            prior.map(|p| p.standing),
        );
        let xform = if !for_guest {
            InXform::Drop(DropReason::NotForGuest)
        } else if !standing.allowed {
            InXform::Drop(DropReason::FirewallDeny)
        } else {
            InXform::Deliver {
                src_mac: vnic.spec.gateway_mac,
            }
        };
        let state = FlowState {
            origin: standing.origin,
            allowed: standing.allowed,
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
                prior.is_some(),
                info.tcp_flags,
                Direction::In,
                now_ns,
            );
            if let Err(r) = installed {
                return Outcome::drop(refusal_reason(r), Path::Slow);
            }
        }
        if syn {
            mss::clamp(pkt.bytes_mut(), vnic.clamp_for(realm));
        }
        apply_in(pkt, xform, vnic.port, Path::Slow)
    }
}

/// Applies an inbound transform: the gateway's MAC as source, to the guest.
#[inline]
fn apply_in<P: PacketBuf>(pkt: &mut P, x: InXform, port: PortIdx, path: Path) -> Outcome {
    match x {
        InXform::Deliver { src_mac } => {
            if let Some(s) = pkt.bytes_mut().get_mut(ETH_SRC) {
                s.copy_from_slice(&src_mac.0);
            }
            Outcome::forward(port, path)
        }
        InXform::Drop(r) => Outcome::drop(r, path),
    }
}
