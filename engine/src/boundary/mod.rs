//! The boundary role (docs/VPC-MODEL.md, *Roles and ports*): the switch at the rack
//! edge, between the underlay and the internet. It keeps no flow state: every
//! packet is handled on its own, by table lookups in the snapshot.
//!
//! - From the underlay (outbound, [`from_underlay`]): Geneve for this switch's
//!   underlay address with VNI 99 (boundary traffic, whose inner source is
//!   already an external IP, NAT having run on the sled) is decapsulated; the
//!   inner frame leaves on the external port, from the port's MAC to the
//!   external next hop.
//! - From the external port (inbound, [`from_external`]): the destination
//!   external IP is looked up in the boundary map (external IP -> sled
//!   underlay address; for a SNAT address shared by sleds, (IP, port range)
//!   -> sled, the port chosen by [`demux_port`]), and the frame is encapsulated toward that sled with
//!   VNI 99 and the Geneve External option, inner destination MAC
//!   A8:40:25:77:77:77. The boundary also answers ARP (and IPv6 neighbour
//!   solicitations) for the external IPs it serves and for its own address
//!   (proxy ARP: an on-link router or host resolves them to the external
//!   port), and pings to its own address.

pub mod bridge;
pub mod map;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::frame::offsets::{BOUNDARY_MAC, BOUNDARY_VNI, ETH_LEN};
use crate::frame::quick::quick_info;
use crate::frame::{encap_error, frame_info, FrameInfo, L3Facts};
use crate::overlay::{flow_hash, BoundaryEncapTemplate, BOUNDARY_ENCAP_LEN};
use crate::pktbuf::PacketBuf;
use crate::reply::{self, ReplyError, ReplyL2, ALL_NODES, NDP_HOP_LIMIT};
use crate::tables::Snapshot;
use crate::vpc::{ExternalPort, Underlay};
use crate::{proto, DropReason};
use crate::{Outcome, Path};
use wire::arp::{ArpOperation, ArpRepr};
use wire::ethernet::{ethertype, EthernetFrame};
use wire::icmpv4;
use wire::icmpv6::{self, Icmpv6Packet, Icmpv6Repr};
use wire::ipv4::Ipv4Packet;
use wire::ipv6::{self, Ipv6Packet};
use wire::ndp::NdpRepr;
use wire::{self, MacAddr, WireError};

/// Outbound: a frame from the underlay uplink of a boundary switch (whose
/// underlay is `u`). Geneve for this switch with VNI 99 is decapsulated and
/// sent out of the external port; anything else is a counted drop.
pub fn from_underlay<P: PacketBuf>(snap: &Snapshot, u: &Underlay, pkt: &mut P) -> Outcome {
    let e = match wire::parse_geneve_packet(pkt.bytes()) {
        Ok(e) => e,
        Err(err) => return Outcome::drop(encap_error(err), Path::Early),
    };
    if e.outer_dst != u.addr {
        return Outcome::drop(DropReason::NotGeneve, Path::Early);
    }
    // OAM packets are control traffic between tunnel ends, not data.
    if e.geneve.vni != BOUNDARY_VNI || e.oam {
        return Outcome::drop(DropReason::NotBoundaryTraffic, Path::Early);
    }
    if snap.vpc.external_port.is_none() && snap.vpc.bridges.is_empty() {
        return Outcome::drop(DropReason::NoExternalPort, Path::Early);
    }
    if !pkt.strip_front(e.inner_offset) {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    }
    // Whatever followed the UDP datagram (the outer frame's padding) goes.
    if pkt.bytes().len() > e.inner_len && !pkt.resize(e.inner_len) {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    }
    // No tag crosses to the external link.
    if tagged(pkt.bytes()) {
        return Outcome::drop(DropReason::VlanTagged, Path::Early);
    }
    // From a bridge address, toward the other pod; else to the internet.
    let Some(x) = bridge::exit_for(snap, pkt.bytes()) else {
        return Outcome::drop(DropReason::NoExternalPort, Path::Early);
    };
    let b = pkt.bytes_mut();
    let mut eth = EthernetFrame::new_unchecked(&mut *b);
    eth.set_dst(x.nexthop_mac);
    eth.set_src(x.mac);
    Outcome::forward(x.port, Path::Fast)
}

/// Inbound: a frame received on the boundary's external port `x`.
pub fn from_external<P: PacketBuf>(snap: &Snapshot, x: &ExternalPort, pkt: &mut P) -> Outcome {
    let ethertype = match EthernetFrame::new_checked(pkt.bytes()) {
        Ok(eth) => eth.ethertype(),
        Err(_) => return Outcome::drop(DropReason::Malformed, Path::Early),
    };
    if ethertype == ethertype::ARP {
        return answer_arp(x, pkt, |ip| serves_v4(snap, x, ip));
    }
    // No tag crosses to the underlay (ARP above answers tagged requests in kind).
    if tagged(pkt.bytes()) {
        return Outcome::drop(DropReason::VlanTagged, Path::Early);
    }
    if ethertype != ethertype::IPV4 && ethertype != ethertype::IPV6 {
        return Outcome::drop(DropReason::Unsupported, Path::Early);
    }
    let (info, l3, key) = match ip_facts(pkt.bytes()) {
        Ok(f) => f,
        Err(o) => return o,
    };
    if x.addr.is_some_and(|a| l3.dst == IpAddr::V4(a)) {
        return answer_echo(x, &l3, info.icmp, pkt);
    }
    if let (IpAddr::V6(src), IpAddr::V6(dst)) = (l3.src, l3.dst) {
        if l3.proto == proto::ICMPV6
            && info.icmp.map(|(t, _)| t) == Some(icmpv6::msg_type::NEIGHBOR_SOLICIT)
        {
            return answer_ns(snap, x, &l3, src, dst, pkt);
        }
    }
    if let Some(to) = snap.vpc.static_nat.bridge_of(l3.dst) {
        return bridge::to_bridge(snap, to, pkt);
    }
    to_sled(snap, x, &l3, &key, pkt)
}

/// The parse of an IP frame from a link, its IP facts and its flow key, or
/// the drop that says why there are none.
#[inline(always)]
fn ip_facts(f: &[u8]) -> Result<(FrameInfo, L3Facts, crate::FlowKey), Outcome> {
    // The fixed-offset reading gives the full parse's answer where it applies.
    let info = quick_info(f)
        .map_or_else(|| frame_info(f), Ok)
        .map_err(|r| Outcome::drop(r, Path::Early))?;
    match (info.l3, info.key) {
        (Some(l3), Some(key)) => Ok((info, l3, key)),
        _ => Err(Outcome::drop(DropReason::Unsupported, Path::Early)),
    }
}

/// A frame from the link `x` (the external port, or a bridge link on pod
/// A's side) for external IP `l3.dst`: encapsulated toward the sled the map
/// gives, from `x`'s MAC.
fn to_sled<P: PacketBuf>(
    snap: &Snapshot,
    x: &ExternalPort,
    l3: &L3Facts,
    key: &crate::FlowKey,
    pkt: &mut P,
) -> Outcome {
    let port = || demux_port(pkt.bytes(), l3, key);
    let Some(sled) = snap.vpc.boundary_map.lookup(&l3.dst, port) else {
        return Outcome::drop(DropReason::UnknownExternal, Path::Early);
    };
    let Some(u) = snap.vpc.underlay else {
        return Outcome::drop(DropReason::NoUnderlay, Path::Early);
    };
    let inner_len = pkt.bytes().len();
    // Encapsulated, it must fit the uplink (the boundary does not fragment).
    if inner_len > usize::from(u.mtu).saturating_sub(BOUNDARY_ENCAP_LEN - ETH_LEN) {
        return Outcome::drop(DropReason::TooBig, Path::Early);
    }
    {
        let mut eth = EthernetFrame::new_unchecked(pkt.bytes_mut());
        eth.set_dst(MacAddr(BOUNDARY_MAC));
        eth.set_src(x.mac);
    }
    if !pkt.prepend(BOUNDARY_ENCAP_LEN) {
        return Outcome::drop(DropReason::NoHeadroom, Path::Early);
    }
    let t = BoundaryEncapTemplate::new(u.uplink_mac, u.nexthop_mac, u.addr, sled, BOUNDARY_VNI);
    if !t.write(pkt.bytes_mut(), inner_len, flow_hash(key)) {
        return Outcome::drop(DropReason::NoHeadroom, Path::Early);
    }
    Outcome::forward(u.uplink, Path::Fast)
}

/// The port that picks the share of a shared SNAT address for an inbound
/// packet: the destination port (TCP, UDP), the echo identifier (an echo
/// reply: the sled's NAT chose it from its range), or, for an ICMP error,
/// the source port (or echo identifier) of the packet it quotes, which the
/// sled sent from this address. None: nothing to choose by (a later
/// fragment, another protocol, an error quoting another address).
pub fn demux_port(f: &[u8], l3: &L3Facts, key: &crate::FlowKey) -> Option<u16> {
    match l3.proto {
        proto::TCP | proto::UDP if !l3.is_fragment => Some(key.dst_port),
        proto::ICMP | proto::ICMPV6 => {
            let echo_reply = match l3.proto {
                proto::ICMP => icmpv4::msg_type::ECHO_REPLY,
                _ => icmpv6::msg_type::ECHO_REPLY,
            };
            match key.icmp {
                Some((t, _)) if t == echo_reply => Some(key.dst_port),
                _ => crate::nat::rewrite::icmp_error(f)
                    .filter(|e| e.quoted.src == l3.dst)
                    .map(|e| e.quoted.src_port),
            }
        }
        _ => None,
    }
}

/// Whether a frame carries an 802.1Q (or 802.1ad) tag.
fn tagged(f: &[u8]) -> bool {
    matches!(f.get(12..14), Some([0x81, 0x00] | [0x88, 0xa8]))
}

/// Whether the boundary answers ARP for `ip` on its external link: its own
/// address, every IPv4 external IP it has a sled for, and the external
/// addresses of its static NAT.
fn serves_v4(snap: &Snapshot, x: &ExternalPort, ip: Ipv4Addr) -> bool {
    x.addr == Some(ip)
        || snap.vpc.boundary_map.serves(&IpAddr::V4(ip))
        || snap.vpc.static_nat.bridge_of(IpAddr::V4(ip)).is_some()
}

/// Proxy ARP: a request on link `x` for an address the boundary `serves`
/// there gets a reply with the link's MAC, sent back out of that port.
fn answer_arp<P: PacketBuf>(
    x: &ExternalPort,
    pkt: &mut P,
    serves: impl Fn(Ipv4Addr) -> bool,
) -> Outcome {
    let req = match reply::arp::parse(pkt.bytes()) {
        Ok(r) => r,
        Err(WireError::Unsupported(_)) => {
            return Outcome::drop(DropReason::Unsupported, Path::Early)
        }
        Err(_) => return Outcome::drop(DropReason::Malformed, Path::Early),
    };
    if req.operation != ArpOperation::Request {
        // The boundary asks nothing (its next hop's MAC is configured).
        return Outcome::drop(DropReason::Unsupported, Path::Early);
    }
    let target = req.target_protocol_addr;
    // An announcement (sender = target) is someone claiming the address,
    // not a question.
    if req.source_protocol_addr == target || !serves(target) {
        return Outcome::drop(DropReason::UnknownExternal, Path::Early);
    }
    let l2 = ReplyL2::answering(x.mac, req.source_hardware_addr, pkt.bytes());
    let answer = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: x.mac,
        source_protocol_addr: target,
        target_hardware_addr: req.source_hardware_addr,
        target_protocol_addr: req.source_protocol_addr,
    };
    sent(x, reply::arp::emit(pkt, &l2, &answer))
}

/// Proxy NDP: a neighbour solicitation for an IPv6 external IP the boundary
/// has a sled for gets a neighbour advertisement with the external port's MAC.
fn answer_ns<P: PacketBuf>(
    snap: &Snapshot,
    x: &ExternalPort,
    l3: &L3Facts,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    pkt: &mut P,
) -> Outcome {
    let (ns, vlan, peer_mac) = {
        let frame = pkt.bytes();
        let eth = EthernetFrame::new_unchecked(frame);
        let Some(ip) = frame.get(l3.l3_offset..) else {
            return Outcome::drop(DropReason::Malformed, Path::Early);
        };
        let ip = Ipv6Packet::new_unchecked(ip);
        if ip.hop_limit() != NDP_HOP_LIMIT {
            return Outcome::drop(DropReason::UnknownExternal, Path::Early);
        }
        let end = l3.l3_offset + ipv6::HEADER_LEN + usize::from(ip.payload_len());
        let Some(msg) = frame.get(l3.l4_offset..end) else {
            return Outcome::drop(DropReason::Malformed, Path::Early);
        };
        let parsed =
            Icmpv6Packet::new_checked(msg).and_then(|p| match Icmpv6Repr::parse(&src, &dst, &p)? {
                Icmpv6Repr::Ndp(NdpRepr::NeighborSolicit {
                    target_addr,
                    lladdr,
                }) => Ok((target_addr, lladdr)),
                _ => Err(WireError::Unsupported("not a neighbour solicitation")),
            });
        match parsed {
            Ok(n) => (n, eth.vlan(), eth.src()),
            Err(_) => return Outcome::drop(DropReason::Malformed, Path::Early),
        }
    };
    let (target, lladdr) = ns;
    if !snap.vpc.boundary_map.serves(&IpAddr::V6(target)) {
        return Outcome::drop(DropReason::UnknownExternal, Path::Early);
    }
    // From :: this is duplicate address detection: defend the address to
    // all nodes, unsolicited (RFC 4861 7.2.4).
    let dad = src.is_unspecified();
    let to = if dad { ALL_NODES } else { src };
    let to_mac = if dad {
        MacAddr([0x33, 0x33, 0, 0, 0, 1])
    } else {
        lladdr.unwrap_or(peer_mac)
    };
    let na = NdpRepr::NeighborAdvert {
        router: false,
        solicited: !dad,
        override_flag: true,
        target_addr: target,
        lladdr: Some(x.mac),
    };
    let l2 = ReplyL2 {
        src: x.mac,
        dst: to_mac,
        vlan,
    };
    sent(x, reply::ndp::emit(pkt, &l2, target, to, na))
}

/// Traffic for the boundary's own IPv4 address: an echo request is
/// answered in place (addresses swapped, type 0, checksums recomputed);
/// anything else is not for a sled and is dropped.
fn answer_echo<P: PacketBuf>(
    x: &ExternalPort,
    l3: &L3Facts,
    icmp: Option<(u8, u8)>,
    pkt: &mut P,
) -> Outcome {
    if l3.proto != proto::ICMP
        || icmp != Some((icmpv4::msg_type::ECHO_REQUEST, 0))
        || l3.is_fragment
    {
        return Outcome::drop(DropReason::UnknownExternal, Path::Early);
    }
    let frame = pkt.bytes();
    let Some(ip) = frame
        .get(l3.l3_offset..)
        .and_then(|b| Ipv4Packet::new_checked(b).ok())
    else {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    };
    if !ip.verify_checksum() || ip.more_frags() {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    }
    let end = l3.l3_offset + usize::from(ip.total_len());
    let req = frame
        .get(l3.l4_offset..end)
        .and_then(|m| reply::echo::parse(m, l3.src, l3.dst).ok());
    let Some(req) = req else {
        return Outcome::drop(DropReason::Malformed, Path::Early);
    };
    // Back to whoever sent it (tagged frames never get here).
    let peer = EthernetFrame::new_unchecked(frame).src();
    let l2 = ReplyL2 {
        src: x.mac,
        dst: peer,
        vlan: None,
    };
    sent(x, reply::echo::answer(pkt, &l2, l3, req))
}

/// The outcome of writing a reply: sent back out of the external port, or why not.
fn sent(x: &ExternalPort, r: Result<(), ReplyError>) -> Outcome {
    match r {
        Ok(()) => Outcome::forward(x.port, Path::Hairpin),
        Err(ReplyError::NoHeadroom) => Outcome::drop(DropReason::NoHeadroom, Path::Early),
        Err(_) => Outcome::drop(DropReason::Malformed, Path::Early),
    }
}

#[cfg(test)]
mod tests;
