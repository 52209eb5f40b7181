//! NDP replies (RFC 4861): router and neighbour advertisements, sent with
//! hop limit 255.

use super::{emit_ip_header, write_frame, ReplyError, ReplyL2, NDP_HOP_LIMIT};
use crate::pktbuf::PacketBuf;
use crate::proto;
use std::net::Ipv6Addr;
use wire::ethernet::ethertype;
use wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
use wire::ipv6;
use wire::ndp::NdpRepr;
use wire::WireError;

/// Turns `pkt` into an Ethernet / IPv6 / ICMPv6 NDP message `ndp` from
/// `src` to `dst`.
pub fn emit<P: PacketBuf>(
    pkt: &mut P,
    l2: &ReplyL2,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ndp: NdpRepr,
) -> Result<(), ReplyError> {
    let icmp = Icmpv6Repr::Ndp(ndp);
    let icmp_len = icmp.buffer_len();
    let icmp_at = l2.header_len() + ipv6::HEADER_LEN;
    write_frame(pkt, icmp_at + icmp_len, |b| {
        let eth_len = l2.emit(b, ethertype::IPV6)?;
        let ip = b.get_mut(eth_len..).ok_or(WireError::Truncated)?;
        emit_ip_header(
            ip,
            src.into(),
            dst.into(),
            proto::ICMPV6,
            icmp_len,
            NDP_HOP_LIMIT,
        )?;
        let message = b.get_mut(icmp_at..).ok_or(WireError::Truncated)?;
        icmp.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(message))
    })
}
