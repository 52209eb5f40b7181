//! A guest packet that would not fit the uplink once encapsulated is
//! answered as a router on the path would: ICMP "fragmentation needed"
//! (type 3, code 4, RFC 1191) for IPv4 with DF set, ICMPv6 "packet too big"
//! (RFC 4443 3.2) for IPv6, from the virtual gateway, with the MTU the guest
//! may use; IPv4 without DF is dropped and counted (the switch does not
//! fragment). The guest then lowers its path MTU and sends again.

use crate::gateway::{
    emit_ip_header, ethertype_of, gateway_link_local, ip_header_len, to_guest, write_reply,
    REPLY_HOP_LIMIT,
};
use crate::pktbuf::PacketBuf;
use crate::vnic::Vnic;
use crate::{proto, DropReason, Verdict};
use crate::{Outcome, Path};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use wire::icmpv4::Icmpv4Packet;
use wire::icmpv6::Icmpv6Packet;
use wire::WireError;

/// The most of an IPv4 error's quote: the error fits 576 bytes (RFC 1812 4.3.2.3).
const QUOTE_V4: usize = 576 - 20 - 8;
/// The most of an ICMPv6 error's quote: the error fits the minimum MTU (RFC 4443 2.4).
const QUOTE_V6: usize = 1280 - 40 - 8;

fn drop_too_big() -> Outcome {
    Outcome {
        verdict: Verdict::Drop(DropReason::TooBig),
        path: Path::Slow,
    }
}

/// Turns the guest's frame in `pkt` (untagged Ethernet, IPv4 or IPv6), too
/// big for a path whose MTU is `mtu`, into the gateway's ICMP error back to
/// the guest; or drops it (IPv4 without DF, or no gateway address of the
/// family), counted `too_big`.
pub fn answer<P: PacketBuf>(vnic: &Vnic, pkt: &mut P, mtu: u16) -> Outcome {
    let l2 = to_guest(vnic, pkt.bytes());
    let f = pkt.bytes();
    let (src, dst, quote_max) = match f.get(12..14) {
        Some([0x08, 0x00]) => {
            let Some(ip) = f.get(14..34) else {
                return drop_too_big();
            };
            // DF clear: a router would fragment; this switch does not.
            if ip[6] & 0x40 == 0 {
                return drop_too_big();
            }
            let guest = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let Some(gw) = vnic.spec.gateway_ipv4 else {
                return drop_too_big();
            };
            (IpAddr::V4(gw), IpAddr::V4(guest), QUOTE_V4)
        }
        Some([0x86, 0xdd]) => {
            let Some(g) = f.get(22..38).and_then(|b| <[u8; 16]>::try_from(b).ok()) else {
                return drop_too_big();
            };
            let gw = vnic
                .spec
                .gateway_ipv6
                .unwrap_or_else(|| gateway_link_local(vnic.spec.gateway_mac));
            (IpAddr::V6(gw), IpAddr::V6(Ipv6Addr::from(g)), QUOTE_V6)
        }
        _ => return drop_too_big(),
    };
    // The quote: the start of the guest's IP packet, copied out before the
    // frame is rewritten in place.
    let mut quote = [0u8; QUOTE_V6];
    let n = f.len().saturating_sub(14).min(quote_max);
    let (Some(q), Some(from)) = (quote.get_mut(..n), f.get(14..14 + n)) else {
        return drop_too_big();
    };
    q.copy_from_slice(from);
    let icmp_at = l2.header_len() + ip_header_len(src);
    let icmp_len = 8 + n;
    write_reply(vnic, pkt, icmp_at + icmp_len, |b| {
        let eth_len = l2.emit(b, ethertype_of(src))?;
        let protocol = if src.is_ipv4() {
            proto::ICMP
        } else {
            proto::ICMPV6
        };
        let ip = b.get_mut(eth_len..).ok_or(WireError::Truncated)?;
        emit_ip_header(ip, src, dst, protocol, icmp_len, REPLY_HOP_LIMIT)?;
        let icmp = b.get_mut(icmp_at..).ok_or(WireError::Truncated)?;
        icmp.get_mut(8..8 + n)
            .ok_or(WireError::Truncated)?
            .copy_from_slice(quote.get(..n).ok_or(WireError::Truncated)?);
        match (src, dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => {
                // Type 3 code 4; bytes 6..8: the next-hop MTU.
                icmp.get_mut(..8)
                    .ok_or(WireError::Truncated)?
                    .copy_from_slice(&[3, 4, 0, 0, 0, 0, (mtu >> 8) as u8, mtu as u8]);
                Icmpv4Packet::new_unchecked(icmp).fill_checksum();
                Ok(())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let m = u32::from(mtu).to_be_bytes();
                icmp.get_mut(..8)
                    .ok_or(WireError::Truncated)?
                    .copy_from_slice(&[2, 0, 0, 0, m[0], m[1], m[2], m[3]]);
                Icmpv6Packet::new_unchecked(icmp).fill_checksum(&s, &d)
            }
            _ => Err(WireError::Malformed("address family mismatch")),
        }
    })
}
