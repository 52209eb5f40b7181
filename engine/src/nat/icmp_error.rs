//! ICMP errors about translated flows, both ways. An error from outside
//! quotes what the flow sent (its external source): the outer destination
//! and the quoted source are translated back to the guest. An error the
//! guest sends about an internet flow quotes the private address: it leaves
//! from the flow's external address instead, toward the boundary.

use super::inbound::{private_address, reply_passes, set_macs};
use super::rewrite::{self, End};
use super::{has_port, NatState};
use crate::flow::state::FlowState;
use crate::flow::table::{FlowId, FlowTable, Realm};
use crate::frame::FrameInfo;
use crate::overlay::flow_hash;
use crate::pktbuf::PacketBuf;
use crate::router::RouterTarget;
use crate::vnic::Vnic;
use crate::vpc::{Underlay, VpcState};
use crate::{DropReason, FlowKey, Outcome, Path};
use std::net::Ipv6Addr;

/// The flow an ICMP error from outside is about (`quoted`: the packet it
/// quotes, which one of our flows sent).
pub fn flow_of_error_in(nat: &NatState, vpc: &VpcState, quoted: &FlowKey) -> Option<FlowId> {
    // The quote is what we sent; its reverse is what a reply looks like.
    nat.flow_of_reply(&quoted.reverse()).or_else(|| {
        // Or a connection made to a 1:1 address: the flow is keyed by the
        // guest's private address.
        let port = vpc.owners.one_to_one(quoted.src)?;
        let v = vpc.vnic(port)?;
        Some(FlowId {
            port,
            realm: Realm::Internet,
            key: FlowKey {
                src: private_address(v, quoted.src)?,
                ..*quoted
            },
        })
    })
}

/// Translates an error from outside about flow `id` (whose state is
/// `state`) back to the guest of `vnic`.
pub fn untranslate_error_in<P: PacketBuf>(
    pkt: &mut P,
    vnic: &Vnic,
    id: &FlowId,
    state: &FlowState,
) -> Outcome {
    if !reply_passes(state, vnic) {
        return Outcome::drop(DropReason::NatNoState, Path::Slow);
    }
    let port = has_port(&id.key).then_some(id.key.src_port);
    if !rewrite::rewrite_icmp_error(
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

/// What becomes of an ICMP error the guest sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOut {
    /// About VPC traffic: it runs the layers (firewall, router) as a flow
    /// of its own.
    Vpc,
    /// Translated: to the boundary, encapsulated from this sled.
    ToBoundary {
        /// This sled's underlay.
        underlay: Underlay,
        /// The boundary endpoint.
        boundary: Ipv6Addr,
        /// The flow's entropy.
        entropy: u32,
    },
    /// Dropped.
    Drop(DropReason),
}

/// An ICMP error the guest sends (`info`, in `pkt`); `quoted` is the packet
/// it received, as the error quotes it. The error must go back to that
/// packet's source (else a counted drop). One about a flow through an
/// internet gateway passes only if the router still sends its destination
/// there and the firewall allowed the flow: its outer source and quoted
/// destination become the flow's external address, in place.
pub fn error_out<P: PacketBuf>(
    flows: &FlowTable<FlowState>,
    vpc: &VpcState,
    vnic: &Vnic,
    info: &FrameInfo,
    pkt: &mut P,
    quoted: FlowKey,
) -> ErrorOut {
    let mismatch = ErrorOut::Drop(DropReason::IcmpErrorMismatch);
    if info.l3.map(|l| l.dst) != Some(quoted.src) {
        return mismatch;
    }
    let route = vnic.router.lookup(quoted.src);
    if !matches!(
        route.map(|r| &r.target),
        Some(RouterTarget::InternetGateway(_))
    ) {
        return ErrorOut::Vpc;
    }
    // The quote is what the guest received: its reverse is the flow's key.
    let id = FlowId {
        port: vnic.port,
        realm: Realm::Internet,
        key: quoted.reverse(),
    };
    let Some(e) = flows.get(&id) else {
        // Untranslated, its quote would show the private address.
        return mismatch;
    };
    if !e.value.allowed {
        return ErrorOut::Drop(DropReason::FirewallDeny);
    }
    let Some(b) = e.value.nat.as_deref().map(|n| n.binding) else {
        return mismatch;
    };
    let Some(underlay) = vpc.underlay else {
        return ErrorOut::Vpc;
    };
    let ext = b.source.ip();
    let hash = flow_hash(&id.key);
    let Some(boundary) = vpc.v2b.lookup(id.key.dst, hash) else {
        return ErrorOut::Drop(DropReason::NoBoundary);
    };
    let port = has_port(&id.key).then_some(b.ext_port);
    if !rewrite::rewrite_icmp_error(pkt.bytes_mut(), End::Src, ext, End::Dst, ext, port) {
        return ErrorOut::Drop(DropReason::Unsupported);
    }
    ErrorOut::ToBoundary {
        underlay,
        boundary,
        entropy: hash,
    }
}
