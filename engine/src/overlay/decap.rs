//! Decapsulation: a Geneve frame from the underlay becomes its inner frame,
//! and the overlay says whom it is for: a guest on this sled, by (VNI,
//! inner MAC), or the NAT layer, for boundary traffic (VNI 99 with the
//! External option), which is addressed by external IP instead.

use crate::flow::key::reverse_words;
use crate::frame::offsets::{BOUNDARY_VNI, ENCAP_LEN};
use crate::frame::parse_encap;
use crate::frame::quick::{quick_encap, quick_words};
use crate::pktbuf::PacketBuf;
use crate::vnic::Vnic;
use crate::vpc::{Underlay, VpcState};
use crate::{DropReason, KeyWords, PortIdx};
use wire::MacAddr;

/// Whom a decapsulated frame is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The guest on `port`; `remote_vni` is the sender's VNI when the frame
    /// came from inside the VPC (metadata for the firewall).
    Guest {
        /// The guest's port.
        port: PortIdx,
        /// The VNI, for traffic from inside the VPC.
        remote_vni: Option<u32>,
    },
    /// From the boundary: the NAT layer finds the guest by external address.
    FromBoundary,
}

/// Keeps only the inner frame of `pkt`, which starts at `offset` and ends at
/// `end` (what follows is the outer frame's padding).
#[inline]
pub fn keep_inner<P: PacketBuf>(pkt: &mut P, offset: usize, end: usize) -> bool {
    (pkt.bytes().len() <= end || pkt.resize(end)) && pkt.strip_front(offset)
}

/// The full decapsulation of an underlay frame for this sled (`u`): checks
/// the outer headers, strips them, and says whom the inner frame is for.
pub fn decap<P: PacketBuf>(
    vpc: &VpcState,
    u: &Underlay,
    pkt: &mut P,
) -> Result<Arrival, DropReason> {
    let encap = parse_encap(pkt.bytes())?;
    if !vpc.sled_addrs(u).takes_addr(&encap.outer_dst) {
        return Err(DropReason::NotGeneve);
    }
    if encap.oam {
        return Err(DropReason::GeneveOam);
    }
    if !keep_inner(
        pkt,
        encap.inner_offset,
        encap.inner_offset + encap.inner_len,
    ) {
        return Err(DropReason::Malformed);
    }
    if encap.external_option && encap.vni == BOUNDARY_VNI {
        return Ok(Arrival::FromBoundary);
    }
    let port = *vpc
        .by_vni_mac
        .get(&(encap.vni, encap.inner_dst_mac))
        .ok_or(DropReason::NoVnic)?;
    // The VNI is metadata only for traffic from inside the VPC.
    Ok(Arrival::Guest {
        port,
        remote_vni: (!encap.external_option).then_some(encap.vni),
    })
}

/// The fast path's reading of an option-less Geneve frame for this sled:
/// the guest it is for, and its inner flow's key (in the guest's, outbound,
/// orientation, as flows are filed) and TCP flags.
#[inline]
pub fn quick_arrival<'s>(
    vpc: &'s VpcState,
    u: &Underlay,
    bytes: &[u8],
) -> Option<(&'s Vnic, KeyWords, u8)> {
    let (vni, mac) = quick_encap(bytes, &vpc.sled_addrs(u))?;
    let port = vpc.by_vni_mac.get(&(vni, MacAddr(mac)))?;
    let vnic = vpc.vnic(*port)?;
    let (words, flags) = quick_words(bytes.get(ENCAP_LEN..)?)?;
    Some((vnic, reverse_words(&words), flags))
}
