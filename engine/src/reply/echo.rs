//! Echo replies (ICMP and ICMPv6): the request's identifier, sequence
//! number and data, from the address that was pinged.

use super::{emit_ip_header, ethertype_of, ip_header_len, ReplyError, ReplyL2};
use super::{MIN_FRAME_LEN, REPLY_HOP_LIMIT};
use crate::frame::L3Facts;
use crate::pktbuf::PacketBuf;
use crate::proto;
use std::net::IpAddr;
use wire::icmpv4::{self, Icmpv4Packet, Icmpv4Repr};
use wire::icmpv6::{self, Icmpv6Packet, Icmpv6Repr};
use wire::WireError;

/// What an echo request asks to be echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRequest {
    /// The identifier.
    pub ident: u16,
    /// The sequence number.
    pub seq_no: u16,
    /// How many bytes of data follow the ICMP header.
    pub data_len: usize,
}

/// Reads the echo request in `message` (the ICMP bytes of an IP packet from
/// `src` to `dst`), its checksum verified.
pub fn parse(message: &[u8], src: IpAddr, dst: IpAddr) -> wire::Result<EchoRequest> {
    let (ident, seq_no, data_len) = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            Icmpv4Packet::new_checked(message).and_then(|p| match Icmpv4Repr::parse(&p)? {
                Icmpv4Repr::EchoRequest {
                    ident,
                    seq_no,
                    data,
                } => Ok((ident, seq_no, data.len())),
                _ => Err(WireError::Unsupported("not an echo request")),
            })
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            Icmpv6Packet::new_checked(message).and_then(|p| match Icmpv6Repr::parse(&s, &d, &p)? {
                Icmpv6Repr::EchoRequest {
                    ident,
                    seq_no,
                    data,
                } => Ok((ident, seq_no, data.len())),
                _ => Err(WireError::Unsupported("not an echo request")),
            })
        }
        _ => Err(WireError::Malformed("address family mismatch")),
    }?;
    Ok(EchoRequest {
        ident,
        seq_no,
        data_len,
    })
}

/// Turns the request in `pkt` (whose IP facts are `l3`) into its reply,
/// in place: the data moves to follow the new headers, which `l2` and the
/// swapped addresses make.
pub fn answer<P: PacketBuf>(
    pkt: &mut P,
    l2: &ReplyL2,
    l3: &L3Facts,
    req: EchoRequest,
) -> Result<(), ReplyError> {
    let EchoRequest {
        ident,
        seq_no,
        data_len,
    } = req;
    // The ICMP header is 8 bytes for both families.
    let data_from = l3.l4_offset + icmpv4::HEADER_LEN;
    let icmp_at = l2.header_len() + ip_header_len(l3.src);
    let data_to = icmp_at + icmpv4::HEADER_LEN;
    let total = data_to + data_len;
    {
        let b = pkt.bytes_mut();
        // data_to <= data_from always (the reply's headers are never longer
        // than the request's), but the data path checks rather than trusts.
        if data_from + data_len > b.len() || total > b.len() {
            return Err(ReplyError::Malformed);
        }
        b.copy_within(data_from..data_from + data_len, data_to);
    }
    // Usually the length is unchanged (no options, no padding to remove).
    let len = total.max(MIN_FRAME_LEN);
    if len != pkt.bytes().len() && !pkt.resize(len) {
        return Err(ReplyError::NoHeadroom);
    }
    let b = pkt.bytes_mut();
    if let Some(pad) = b.get_mut(total..) {
        pad.fill(0);
    }
    // The reply comes from the address that was pinged.
    let (src, dst) = (l3.dst, l3.src);
    b.get_mut(..total)
        .ok_or(WireError::Truncated)
        .and_then(|b| emit_echo_reply(b, l2, src, dst, ident, seq_no))
        .map_err(|_| ReplyError::Refused)
}

/// Writes the headers of an echo reply around data already in place at the
/// end of `b` (which is exactly the reply frame).
fn emit_echo_reply(
    b: &mut [u8],
    l2: &ReplyL2,
    src: IpAddr,
    dst: IpAddr,
    ident: u16,
    seq_no: u16,
) -> wire::Result<()> {
    let eth_len = l2.emit(b, ethertype_of(src))?;
    let icmp_at = eth_len + ip_header_len(src);
    let icmp_len = b.len().checked_sub(icmp_at).ok_or(WireError::Truncated)?;
    let (protocol, msg_type) = match src {
        IpAddr::V4(_) => (proto::ICMP, icmpv4::msg_type::ECHO_REPLY),
        IpAddr::V6(_) => (proto::ICMPV6, icmpv6::msg_type::ECHO_REPLY),
    };
    let ip = b.get_mut(eth_len..).ok_or(WireError::Truncated)?;
    emit_ip_header(ip, src, dst, protocol, icmp_len, REPLY_HOP_LIMIT)?;
    let icmp = b.get_mut(icmp_at..).ok_or(WireError::Truncated)?;
    match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let mut p = Icmpv4Packet::new_unchecked(icmp);
            p.set_msg_type(msg_type);
            p.set_msg_code(0);
            p.set_echo_ident(ident);
            p.set_echo_seq_no(seq_no);
            p.fill_checksum();
            Ok(())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut p = Icmpv6Packet::new_unchecked(icmp);
            p.set_msg_type(msg_type);
            p.set_msg_code(0);
            p.set_echo_ident(ident);
            p.set_echo_seq_no(seq_no);
            p.fill_checksum(&s, &d)
        }
        _ => Err(WireError::Malformed("address family mismatch")),
    }
}
