//! One-call parsing for the engine: the offsets and key fields of a frame,
//! and of a Geneve-encapsulated underlay frame.

use std::net::{IpAddr, Ipv6Addr};

use super::ethernet::{ethertype, EthernetFrame};
use super::geneve::{GenevePacket, GeneveRepr, GENEVE_PORT};
use super::icmpv4::{self, Icmpv4Packet};
use super::icmpv6::{self, Icmpv6Packet};
use super::ipv4::Ipv4Packet;
use super::ipv6::Ipv6Packet;
use super::tcp::{self, TcpPacket};
use super::udp::{self, UdpPacket};
use super::{MacAddr, Result, WireError};

/// The Ethernet layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Info {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// 802.1Q tag control information, if tagged.
    pub vlan: Option<u16>,
    /// EtherType of the payload (after the tag).
    pub ethertype: u16,
    /// Offset of the L3 header in the frame (14 or 18).
    pub l3_offset: usize,
}

/// The IP layer of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3Info {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Offset of the upper-layer header in the frame (for a non-first
    /// fragment, of the fragment's data).
    pub l4_offset: usize,
    /// Offset just past the IP datagram: the frame may carry Ethernet
    /// padding after it.
    pub end: usize,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// Part of a fragmented datagram (first fragment included).
    pub is_fragment: bool,
    /// Fragment offset in bytes; nonzero means no L4 header is present.
    pub frag_offset: u16,
}

/// The transport layer of a frame, when it has one the engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Info {
    /// TCP.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Flags byte (see [`super::tcp::flags`]).
        flags: u8,
    },
    /// UDP.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ICMP for IPv4 or ICMPv6 for IPv6 (see [`L3Info::proto`]).
    Icmp {
        /// Message type.
        icmp_type: u8,
        /// Message code.
        code: u8,
        /// The identifier of an echo request or reply.
        echo_id: Option<u16>,
    },
}

/// What [`parse_packet`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedPacket {
    /// Ethernet.
    pub l2: L2Info,
    /// IP, if the EtherType is IPv4 or IPv6.
    pub l3: Option<L3Info>,
    /// TCP, UDP or ICMP, if present and not inside a non-first fragment.
    pub l4: Option<L4Info>,
}

/// What [`parse_geneve_packet`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncapPacket {
    /// The outer Ethernet header (its `ethertype` is IPv6).
    pub outer: L2Info,
    /// Outer (underlay) source.
    pub outer_src: Ipv6Addr,
    /// Outer (underlay) destination.
    pub outer_dst: Ipv6Addr,
    /// Outer hop limit.
    pub hop_limit: u8,
    /// Offset of the UDP header in the frame.
    pub udp_offset: usize,
    /// UDP source port (the remote's flow entropy).
    pub udp_src_port: u16,
    /// Offset of the Geneve header in the frame.
    pub geneve_offset: usize,
    /// The Geneve header and Oxide options.
    pub geneve: GeneveRepr,
    /// The O flag: a control packet, not guest data.
    pub oam: bool,
    /// Offset of the inner Ethernet frame.
    pub inner_offset: usize,
    /// Length of the inner frame (to the end of the UDP datagram).
    pub inner_len: usize,
}

impl ParsedPacket {
    /// Whether this is a fragment other than the first, which carries no
    /// transport header.
    pub fn is_later_fragment(&self) -> bool {
        self.l3.is_some_and(|l3| l3.frag_offset != 0)
    }
}

fn l2_info(frame: &[u8]) -> Result<(L2Info, &[u8])> {
    let eth = EthernetFrame::new_checked(frame)?;
    let info = L2Info {
        dst: eth.dst(),
        src: eth.src(),
        vlan: eth.vlan(),
        ethertype: eth.ethertype(),
        l3_offset: eth.header_len(),
    };
    let payload = frame.get(info.l3_offset..).ok_or(WireError::Truncated)?;
    Ok((info, payload))
}

/// Reads the transport header of a datagram (or first fragment) whose
/// upper-layer bytes are `l4`.
fn l4_info(proto: u8, is_v6: bool, is_fragment: bool, l4: &[u8]) -> Result<Option<L4Info>> {
    Ok(match (proto, is_v6) {
        (tcp::PROTOCOL, _) => {
            // Also for a first fragment: a TCP header split across fragments
            // is an evasion (RFC 1858), not a packet to classify.
            let t = TcpPacket::new_checked(l4)?;
            Some(L4Info::Tcp {
                src_port: t.src_port(),
                dst_port: t.dst_port(),
                flags: t.flags(),
            })
        }
        (udp::PROTOCOL, _) => {
            let u = if is_fragment {
                // The length field covers the reassembled datagram.
                if l4.len() < udp::HEADER_LEN {
                    return Err(WireError::Truncated);
                }
                UdpPacket::new_unchecked(l4)
            } else {
                UdpPacket::new_checked(l4)?
            };
            Some(L4Info::Udp {
                src_port: u.src_port(),
                dst_port: u.dst_port(),
            })
        }
        (icmpv4::PROTOCOL, false) => {
            let i = Icmpv4Packet::new_checked(l4)?;
            Some(L4Info::Icmp {
                icmp_type: i.msg_type(),
                code: i.msg_code(),
                echo_id: i.is_echo().then(|| i.echo_ident()),
            })
        }
        (icmpv6::PROTOCOL, true) => {
            let i = Icmpv6Packet::new_checked(l4)?;
            Some(L4Info::Icmp {
                icmp_type: i.msg_type(),
                code: i.msg_code(),
                echo_id: i.is_echo().then(|| i.echo_ident()),
            })
        }
        _ => None,
    })
}

/// Parses a frame far enough for the engine to classify it.
///
/// Non-IP EtherTypes (ARP included) give `l3: None`; IP protocols other
/// than TCP, UDP and ICMP give `l4: None`. A header that is cut short or
/// malformed, at any layer the frame claims to have, is an error.
/// Checksums are not verified here (NIC offloads may have done it, and
/// the views can): this is classification, not validation.
pub fn parse_packet(frame: &[u8]) -> Result<ParsedPacket> {
    let (l2, payload) = l2_info(frame)?;
    let base = l2.l3_offset;
    let (l3, l4) = match l2.ethertype {
        ethertype::IPV4 => {
            let ip = Ipv4Packet::new_checked(payload)?;
            let l3 = L3Info {
                src: ip.src_addr().into(),
                dst: ip.dst_addr().into(),
                proto: ip.protocol(),
                l4_offset: base + ip.header_len(),
                end: base + usize::from(ip.total_len()),
                ttl: ip.ttl(),
                is_fragment: ip.is_fragment(),
                frag_offset: ip.frag_offset(),
            };
            let l4 = if l3.frag_offset == 0 {
                l4_info(l3.proto, false, l3.is_fragment, ip.payload())?
            } else {
                None
            };
            (Some(l3), l4)
        }
        ethertype::IPV6 => {
            let ip = Ipv6Packet::new_checked(payload)?;
            let ext = ip.walk_ext()?;
            let ip_end = super::ipv6::HEADER_LEN + usize::from(ip.payload_len());
            let frag_offset = ext.fragment.map_or(0, |f| f.offset);
            let l3 = L3Info {
                src: ip.src_addr().into(),
                dst: ip.dst_addr().into(),
                proto: ext.protocol,
                l4_offset: base + ext.offset,
                end: base + ip_end,
                ttl: ip.hop_limit(),
                // An atomic fragment (offset 0, M=0, RFC 6946) is whole.
                is_fragment: ext.fragment.is_some_and(|f| f.offset != 0 || f.more_frags),
                frag_offset,
            };
            let l4 = if frag_offset == 0 {
                let bytes = payload
                    .get(ext.offset..ip_end)
                    .ok_or(WireError::Truncated)?;
                l4_info(l3.proto, true, l3.is_fragment, bytes)?
            } else {
                None
            };
            (Some(l3), l4)
        }
        _ => (None, None),
    };
    Ok(ParsedPacket { l2, l3, l4 })
}

/// Parses an underlay frame: outer Ethernet, IPv6 (extension headers
/// allowed, fragments not), UDP to port 6081, Geneve carrying Ethernet.
/// The outer UDP checksum is not verified (zero is allowed, RFC 6935).
pub fn parse_geneve_packet(frame: &[u8]) -> Result<EncapPacket> {
    let (outer, payload) = l2_info(frame)?;
    if outer.ethertype != ethertype::IPV6 {
        return Err(WireError::Unsupported("underlay is not IPv6"));
    }
    let ip = Ipv6Packet::new_checked(payload)?;
    let ext = ip.walk_ext()?;
    if ext.fragment.is_some() {
        return Err(WireError::Unsupported("fragmented underlay packet"));
    }
    if ext.protocol != udp::PROTOCOL {
        return Err(WireError::Unsupported("underlay is not UDP"));
    }
    let ip_end = super::ipv6::HEADER_LEN + usize::from(ip.payload_len());
    let udp_bytes = payload
        .get(ext.offset..ip_end)
        .ok_or(WireError::Truncated)?;
    let u = UdpPacket::new_checked(udp_bytes)?;
    if u.dst_port() != GENEVE_PORT {
        return Err(WireError::Unsupported("not geneve"));
    }
    let g = GenevePacket::new_checked(u.payload())?;
    let geneve = GeneveRepr::parse(&g)?;
    if geneve.protocol != ethertype::TEB {
        return Err(WireError::Unsupported("geneve payload is not Ethernet"));
    }
    let inner = g.payload();
    EthernetFrame::new_checked(inner)?;
    let udp_offset = outer.l3_offset + ext.offset;
    let geneve_offset = udp_offset + udp::HEADER_LEN;
    Ok(EncapPacket {
        outer,
        outer_src: ip.src_addr(),
        outer_dst: ip.dst_addr(),
        hop_limit: ip.hop_limit(),
        udp_offset,
        udp_src_port: u.src_port(),
        geneve_offset,
        geneve,
        oam: g.oam(),
        inner_offset: geneve_offset + g.header_len(),
        inner_len: inner.len(),
    })
}
