//! The replies the switch generates itself, shared by the virtual gateway
//! (to its guests) and the boundary (on its external link): ARP replies,
//! NDP advertisements and echo replies, written over the request's buffer.
//! Each layer decides whether to answer; these only write the frame.

pub mod arp;
pub mod echo;
pub mod ndp;

use crate::pktbuf::PacketBuf;
use std::net::{IpAddr, Ipv6Addr};
use wire::ethernet::{ethertype, EthernetFrame, EthernetRepr};
use wire::ipv4::{self, Ipv4Packet, Ipv4Repr};
use wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use wire::{MacAddr, WireError};

/// TTL / hop limit of the replies that may be routed (echo, DHCP).
pub const REPLY_HOP_LIMIT: u8 = 64;
/// RFC 4861: NDP messages are sent, and only accepted, with hop limit 255,
/// the proof that they were not forwarded.
pub const NDP_HOP_LIMIT: u8 = 255;
/// ff02::1, all nodes: where replies to an unspecified source go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Shortest Ethernet frame (without FCS): shorter replies are zero-padded,
/// since not every driver pads what it transmits.
pub const MIN_FRAME_LEN: usize = 60;

/// Why a reply was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// The buffer cannot hold the reply.
    NoHeadroom,
    /// The request's lengths do not add up.
    Malformed,
    /// An emitter refused the reply (a bug, or a configuration that does
    /// not fit the protocol).
    Refused,
}

/// The Ethernet header of a reply, in the request's VLAN if it had one.
#[derive(Debug, Clone, Copy)]
pub struct ReplyL2 {
    /// Source MAC (the answering gateway's or port's).
    pub src: MacAddr,
    /// Destination MAC.
    pub dst: MacAddr,
    /// The request's VLAN tag, repeated.
    pub vlan: Option<u16>,
}

impl ReplyL2 {
    /// From `src` to `dst`, tagged like the request `frame`.
    pub fn answering(src: MacAddr, dst: MacAddr, frame: &[u8]) -> Self {
        ReplyL2 {
            src,
            dst,
            vlan: EthernetFrame::new_unchecked(frame).vlan(),
        }
    }

    fn repr(&self, ethertype: u16) -> EthernetRepr {
        EthernetRepr {
            src: self.src,
            dst: self.dst,
            vlan: self.vlan,
            ethertype,
        }
    }

    /// The header's length.
    pub fn header_len(&self) -> usize {
        self.repr(0).buffer_len()
    }

    /// Writes the header at the start of `b`; returns its length.
    pub fn emit(&self, b: &mut [u8], ethertype: u16) -> wire::Result<usize> {
        let r = self.repr(ethertype);
        r.emit(&mut EthernetFrame::new_unchecked(b))?;
        Ok(r.buffer_len())
    }
}

/// Turns `pkt` into a zeroed frame of `len` bytes (padded to the Ethernet
/// minimum) and lets `write` fill it.
pub fn write_frame<P: PacketBuf>(
    pkt: &mut P,
    len: usize,
    write: impl FnOnce(&mut [u8]) -> wire::Result<()>,
) -> Result<(), ReplyError> {
    if !pkt.resize(len.max(MIN_FRAME_LEN)) {
        return Err(ReplyError::NoHeadroom);
    }
    let b = pkt.bytes_mut();
    b.fill(0);
    match b.get_mut(..len).map(write) {
        Some(Ok(())) => Ok(()),
        _ => Err(ReplyError::Refused),
    }
}

/// Writes an IPv4 or IPv6 header (no options, no extension headers).
pub fn emit_ip_header(
    b: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload_len: usize,
    hop_limit: u8,
) -> wire::Result<()> {
    match (src, dst) {
        (IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => Ipv4Repr {
            src_addr,
            dst_addr,
            protocol,
            payload_len,
            ttl: hop_limit,
            dscp_ecn: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        }
        .emit(&mut Ipv4Packet::new_unchecked(b)),
        (IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => Ipv6Repr {
            src_addr,
            dst_addr,
            next_header: protocol,
            payload_len,
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut Ipv6Packet::new_unchecked(b)),
        _ => Err(WireError::Malformed("address family mismatch")),
    }
}

/// The length of an IP header of `a`'s family, without options.
pub fn ip_header_len(a: IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => ipv4::HEADER_LEN,
        IpAddr::V6(_) => ipv6::HEADER_LEN,
    }
}

/// The EtherType of `a`'s family.
pub fn ethertype_of(a: IpAddr) -> u16 {
    match a {
        IpAddr::V4(_) => ethertype::IPV4,
        IpAddr::V6(_) => ethertype::IPV6,
    }
}
