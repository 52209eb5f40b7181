//! What the pipeline reads of a frame, from the `wire` parsers: one parse per
//! packet, whose result every layer shares.

pub mod offsets;
pub mod quick;

use crate::{DropReason, FlowKey};
use std::net::{IpAddr, Ipv6Addr};
use wire::{self, MacAddr};

/// The network-layer facts of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3Facts {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol number (after IPv6 extension headers).
    pub proto: u8,
    /// Offset of the IP header in the frame.
    pub l3_offset: usize,
    /// Offset of the upper-layer header in the frame.
    pub l4_offset: usize,
    /// Whether this is a non-first fragment (no transport header).
    pub is_fragment: bool,
}

/// A parsed frame, as the layers need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Destination MAC.
    pub dst_mac: MacAddr,
    /// Source MAC.
    pub src_mac: MacAddr,
    /// EtherType after any 802.1Q tag.
    pub ethertype: u16,
    /// Whether the frame carries an 802.1Q tag (guest ports are untagged).
    pub vlan: bool,
    /// IP facts, for IPv4 and IPv6 frames.
    pub l3: Option<L3Facts>,
    /// The flow key, when the frame has one.
    pub key: Option<FlowKey>,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
    /// UDP ports (source, destination), for UDP frames.
    pub udp_ports: Option<(u16, u16)>,
    /// ICMP or ICMPv6 (type, code), for those frames.
    pub icmp: Option<(u8, u8)>,
}

/// Parses a frame for the pipeline; a frame that does not parse is a counted drop.
pub fn frame_info(frame: &[u8]) -> Result<FrameInfo, DropReason> {
    let p = wire::parse_packet(frame).map_err(|_| DropReason::Malformed)?;
    Ok(from_parsed(&p))
}

/// A Geneve packet from the underlay, as the overlay layer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncapFacts {
    /// Outer destination address (must be this sled's).
    pub outer_dst: Ipv6Addr,
    /// The VNI.
    pub vni: u32,
    /// Whether the Oxide External option was present.
    pub external_option: bool,
    /// The O flag: a control packet between tunnel ends, not guest data.
    pub oam: bool,
    /// Offset of the inner Ethernet frame.
    pub inner_offset: usize,
    /// Length of the inner frame (to the end of the UDP datagram: what
    /// follows is the outer frame's padding).
    pub inner_len: usize,
    /// The inner destination MAC.
    pub inner_dst_mac: MacAddr,
}

/// Parses an underlay frame: outer Ethernet / IPv6 / UDP 6081 / Geneve.
pub fn parse_encap(frame: &[u8]) -> Result<EncapFacts, DropReason> {
    let e = wire::parse_geneve_packet(frame).map_err(encap_error)?;
    encap_facts(frame, &e)
}

/// The drop reason of an underlay frame the Geneve parser refuses: a
/// critical option it does not know; a frame cut short or with a length
/// or option that does not add up (`malformed`); anything else is not
/// Geneve for this switch.
pub fn encap_error(err: wire::WireError) -> DropReason {
    match err {
        wire::WireError::Unsupported(what) if what.contains("critical") => {
            DropReason::GeneveCriticalOption
        }
        wire::WireError::Truncated | wire::WireError::Malformed(_) => DropReason::Malformed,
        _ => DropReason::NotGeneve,
    }
}

fn from_parsed(p: &wire::ParsedPacket) -> FrameInfo {
    let l3_offset = if p.l2.vlan.is_some() {
        wire::ethernet::VLAN_HEADER_LEN
    } else {
        wire::ethernet::HEADER_LEN
    };
    let (tcp_flags, udp_ports, icmp) = match p.l4 {
        Some(wire::L4Info::Tcp { flags, .. }) => (flags, None, None),
        Some(wire::L4Info::Udp { src_port, dst_port }) => (0, Some((src_port, dst_port)), None),
        Some(wire::L4Info::Icmp {
            icmp_type, code, ..
        }) => (0, None, Some((icmp_type, code))),
        None => (0, None, None),
    };
    FrameInfo {
        dst_mac: p.l2.dst,
        src_mac: p.l2.src,
        ethertype: p.l2.ethertype,
        vlan: p.l2.vlan.is_some(),
        l3: p.l3.map(|l3| L3Facts {
            src: l3.src,
            dst: l3.dst,
            proto: l3.proto,
            l3_offset,
            l4_offset: l3.l4_offset,
            is_fragment: l3.frag_offset != 0,
        }),
        key: crate::flow_key(p),
        tcp_flags,
        udp_ports,
        icmp,
    }
}

fn encap_facts(frame: &[u8], e: &wire::EncapPacket) -> Result<EncapFacts, DropReason> {
    let inner_dst_mac = frame
        .get(e.inner_offset..e.inner_offset + 6)
        .and_then(|b| MacAddr::from_bytes(b).ok())
        .ok_or(DropReason::Malformed)?;
    Ok(EncapFacts {
        outer_dst: e.outer_dst,
        vni: e.geneve.vni,
        external_option: e.geneve.external,
        oam: e.oam,
        inner_offset: e.inner_offset,
        inner_len: e.inner_len,
        inner_dst_mac,
    })
}
