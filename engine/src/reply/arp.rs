//! ARP replies (RFC 826).

use super::{write_frame, ReplyError, ReplyL2};
use crate::pktbuf::PacketBuf;
use wire::arp::{ArpPacket, ArpRepr};
use wire::ethernet::{ethertype, EthernetFrame};
use wire::WireError;

/// The ARP message of the frame `frame` and its VLAN tag.
pub fn parse(frame: &[u8]) -> wire::Result<ArpRepr> {
    let eth = EthernetFrame::new_unchecked(frame);
    ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p))
}

/// Turns `pkt` into the ARP message `reply` behind `l2`.
pub fn emit<P: PacketBuf>(pkt: &mut P, l2: &ReplyL2, reply: &ArpRepr) -> Result<(), ReplyError> {
    let eth_len = l2.header_len();
    write_frame(pkt, eth_len + reply.buffer_len(), |b| {
        l2.emit(b, ethertype::ARP)?;
        let arp = b.get_mut(eth_len..).ok_or(WireError::Truncated)?;
        reply.emit(&mut ArpPacket::new_unchecked(arp))
    })
}
