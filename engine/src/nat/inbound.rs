//! The NAT layer's inbound decisions, for traffic from the boundary (the
//! Geneve External option), addressed by external IP: a reply to a
//! translated flow goes back to the guest's private address; a new
//! connection to a floating or ephemeral IP is DNATed to its owner.

use super::outbound::binding_held;
use super::rewrite::{self, End};
use super::{has_port, NatBinding};
use crate::flow::state::FlowState;
use crate::flow::table::FlowId;
use crate::nat::igw::NatSource;
use crate::pktbuf::PacketBuf;
use crate::vnic::Vnic;
use crate::vpc::VpcState;
use crate::{DropReason, FlowKey, Outcome, Path};
use std::net::IpAddr;

/// Whether a reply to the flow `state` of `vnic` may be translated back:
/// the firewall allowed the flow and the VNIC still holds its address.
pub fn reply_passes(state: &FlowState, vnic: &Vnic) -> bool {
    state.allowed
        && state
            .nat
            .as_deref()
            .is_some_and(|n| binding_held(vnic, &n.binding))
}

/// Translates a reply to flow `id` back: the destination address (and
/// port) become the guest's, the MACs the guest's and its gateway's.
pub fn untranslate<P: PacketBuf>(pkt: &mut P, vnic: &Vnic, id: &FlowId, path: Path) -> Outcome {
    let port = has_port(&id.key).then_some(id.key.src_port);
    if !rewrite::rewrite(pkt.bytes_mut(), End::Dst, id.key.src, port) {
        return Outcome::drop(DropReason::Unsupported, path);
    }
    set_macs(pkt, vnic);
    Outcome::forward(vnic.port, path)
}

/// A new connection to a floating or ephemeral address (`key`, as it
/// arrived): DNAT to the owner's private address, ports kept. Returns the
/// owner and the binding its flow is made with.
pub fn dnat<'s, P: PacketBuf>(
    vpc: &'s VpcState,
    key: &FlowKey,
    pkt: &mut P,
) -> Result<(&'s Vnic, NatBinding), DropReason> {
    let vnic = vpc
        .owners
        .one_to_one(key.dst)
        .and_then(|p| vpc.vnic(p))
        .ok_or(DropReason::NatNoState)?;
    let source = if vnic.external_ips.floating.contains(&key.dst) {
        NatSource::Floating(key.dst)
    } else {
        NatSource::Ephemeral(key.dst)
    };
    let guest = private_address(vnic, key.dst).ok_or(DropReason::NatNoState)?;
    if !rewrite::rewrite(pkt.bytes_mut(), End::Dst, guest, None) {
        return Err(DropReason::Unsupported);
    }
    set_macs(pkt, vnic);
    let binding = NatBinding {
        tag: None,
        source,
        ext_port: key.dst_port,
    };
    Ok((&**vnic, binding))
}

/// The guest's private address of the family of `like`.
pub fn private_address(vnic: &Vnic, like: IpAddr) -> Option<IpAddr> {
    match like {
        IpAddr::V4(_) => vnic.spec.ipv4.map(IpAddr::V4),
        IpAddr::V6(_) => vnic.spec.ipv6.map(IpAddr::V6),
    }
}

/// Destination MAC the guest's, source MAC its gateway's.
pub fn set_macs<P: PacketBuf>(pkt: &mut P, vnic: &Vnic) {
    if let Some(m) = pkt.bytes_mut().get_mut(0..12) {
        m[0..6].copy_from_slice(&vnic.spec.mac.0);
        m[6..12].copy_from_slice(&vnic.spec.gateway_mac.0);
    }
}
