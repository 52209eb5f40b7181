//! The virtual gateway layer, outbound (docs/VPC-MODEL.md, *Virtual gateway*).
//!
//! The guest sees one router on its link: the gateway, with its own MAC,
//! IPv4 and IPv6 addresses and an IPv6 link-local address derived from its
//! MAC. Nothing answers on the gateway's behalf on the wire, so this layer
//! answers the guest's ARP, DHCPv4, NDP, DHCPv6 and pings to the gateway in
//! place: the request buffer is rewritten into the reply, which goes back
//! out of the port it came in on (hairpin).
//!
//! It is also the outbound anti-spoof check (the layer's default is deny):
//! only frames from the guest's own MAC and, for IP, from the guest's own
//! address leave, except the exchanges the gateway answers before the guest
//! has an address (DHCPv4 from 0.0.0.0; NDP, DHCPv6 and other link-scoped
//! IPv6 from a link-local or unspecified source).
//!
//! Every reply is built by the `wire` emitters, with its checksums filled;
//! every request is parsed by the `wire` parsers, so a malformed request is
//! a counted drop, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::frame::{FrameInfo, L3Facts};
use crate::pktbuf::PacketBuf;
use crate::vnic::Vnic;
use crate::{proto, DropReason, Verdict};
use crate::{Outcome, Path};
use wire::arp::{ArpOperation, ArpRepr};
use wire::dhcpv4::{self, DhcpMessageRepr, DhcpMessageType, DhcpPacket, DhcpReplyRepr};
use wire::dhcpv6::{
    self, Dhcpv6IaAddr, Dhcpv6IaNa, Dhcpv6MessageRepr, Dhcpv6MessageType, Dhcpv6Packet,
    Dhcpv6ReplyRepr,
};
use wire::ethernet::ethertype;
use wire::icmpv4;
use wire::icmpv6::{self, Icmpv6Packet, Icmpv6Repr};
use wire::ipv4::Ipv4Packet;
use wire::ipv6::{self, Ipv6Packet};
use wire::ndp::NdpRepr;
use wire::udp::{self, UdpPacket, UdpRepr};
use wire::{self, MacAddr, WireError};

#[cfg(test)]
pub(crate) use crate::reply::MIN_FRAME_LEN;
use crate::reply::{self, ReplyError};
pub(crate) use crate::reply::{emit_ip_header, ethertype_of, ip_header_len, ReplyL2};
pub(crate) use crate::reply::{ALL_NODES, NDP_HOP_LIMIT, REPLY_HOP_LIMIT};

/// Hop limit the RA tells the guest to use.
const RA_CUR_HOP_LIMIT: u8 = 64;
/// Router lifetime of the RA, in seconds: the gateway is the default router.
const RA_ROUTER_LIFETIME: u16 = 9000;
/// DHCPv4 lease time, in seconds.
const DHCP_LEASE_TIME: u32 = 86_400;
/// DHCPv6 IA_NA renew time (T1), in seconds.
const DHCPV6_T1: u32 = 3600;
/// DHCPv6 IA_NA rebind time (T2), in seconds.
const DHCPV6_T2: u32 = 5400;
/// DHCPv6 preferred lifetime of the leased address, in seconds.
const DHCPV6_PREFERRED: u32 = 7200;
/// DHCPv6 valid lifetime of the leased address, in seconds.
const DHCPV6_VALID: u32 = 86_400;
/// ff02::1:2, all DHCP relay agents and servers.
const ALL_DHCP_AGENTS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// DNS servers handed out per family; resolvers use the first three, the
/// rest is headroom. Bounded so that the lists live on the stack.
const MAX_DNS: usize = 16;
/// RFC 8415 section 11.1: a DUID is at most 130 bytes.
const MAX_DUID_LEN: usize = 130;
/// Longest DHCPv4 option value (hostname, domain name).
const MAX_DHCP_OPTION_LEN: usize = 255;

/// The gateway's IPv6 link-local address: fe80::/64 with the modified EUI-64
/// interface identifier of its MAC (RFC 4291 appendix A), the source of its
/// RAs and DHCPv6 replies and the next hop the guest learns from the RA.
pub fn gateway_link_local(mac: MacAddr) -> Ipv6Addr {
    let [a, b, c, d, e, f] = mac.0;
    // Inverting the universal/local bit makes the identifier "modified";
    // ff:fe goes between the OUI and the rest.
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([a ^ 0x02, b]),
        u16::from_be_bytes([c, 0xff]),
        u16::from_be_bytes([0xfe, d]),
        u16::from_be_bytes([e, f]),
    )
}

/// The gateway's inbound check: the guest receives only traffic for its
/// own MAC (or a multicast one) and one of its own IPs (any IP with its
/// source/destination check off: an appliance a route sends traffic to).
pub fn inbound_for_guest(vnic: &Vnic, info: &FrameInfo) -> bool {
    (info.dst_mac == vnic.spec.mac || info.dst_mac.is_multicast())
        && info.l3.is_some_and(|l3| vnic.spec.may_use(l3.dst))
}

/// The virtual gateway, outbound: answers the guest's ARP, DHCP, NDP, DHCPv6
/// and pings to the gateway in place (hairpin), and enforces anti-spoof.
///
/// Returns `None` for ordinary guest traffic (unicast IP from the guest's
/// own address to anything but the gateway), which continues to the
/// firewall; otherwise the packet's outcome: a hairpinned reply (with `pkt`
/// rewritten into it) or a drop.
pub fn outbound<P: PacketBuf>(vnic: &Vnic, info: &FrameInfo, pkt: &mut P) -> Option<Outcome> {
    if info.src_mac != vnic.spec.mac {
        return Some(dropped(DropReason::AntiSpoof));
    }
    match info.ethertype {
        ethertype::ARP => Some(answer_arp(vnic, pkt)),
        ethertype::IPV4 | ethertype::IPV6 => {
            let Some(l3) = info.l3 else {
                return Some(dropped(DropReason::Malformed));
            };
            match (l3.src, l3.dst) {
                (IpAddr::V4(src), IpAddr::V4(dst)) => outbound_v4(vnic, info, &l3, src, dst, pkt),
                (IpAddr::V6(src), IpAddr::V6(dst)) => outbound_v6(vnic, info, &l3, src, dst, pkt),
                _ => Some(dropped(DropReason::Malformed)),
            }
        }
        _ => Some(dropped(DropReason::Unsupported)),
    }
}

/// IPv4 from the guest: DHCP and pings to the gateway are answered, the
/// rest passes only from the guest's own address and to a unicast address.
fn outbound_v4<P: PacketBuf>(
    vnic: &Vnic,
    info: &FrameInfo,
    l3: &L3Facts,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    pkt: &mut P,
) -> Option<Outcome> {
    let spec = &vnic.spec;
    let owned = spec.may_use(src.into());
    let to_gateway = spec.gateway_ipv4 == Some(dst);
    let dhcp = l3.proto == proto::UDP
        && info.udp_ports == Some((dhcpv4::CLIENT_PORT, dhcpv4::SERVER_PORT))
        && (dst.is_broadcast() || to_gateway);
    if dhcp {
        // A client without a lease sends from 0.0.0.0 (RFC 2131 4.1).
        if !owned && !src.is_unspecified() {
            return Some(dropped(DropReason::AntiSpoof));
        }
        return Some(answer_dhcpv4(vnic, l3, pkt));
    }
    if !owned {
        return Some(dropped(DropReason::AntiSpoof));
    }
    if dst == METADATA_ADDR {
        // The instance metadata service: its TCP exchange runs off the fast
        // path (vswitch/src/metadata.rs); nothing else is answered there.
        let http = info
            .key
            .is_some_and(|k| k.proto == proto::TCP && k.dst_port == METADATA_PORT);
        return Some(if http {
            Outcome {
                verdict: Verdict::Metadata,
                path: Path::Hairpin,
            }
        } else {
            dropped(DropReason::GatewayUnanswered)
        });
    }
    if to_gateway {
        if l3.proto == proto::ICMP && icmp_type(info) == Some(icmpv4::msg_type::ECHO_REQUEST) {
            return Some(answer_echo(vnic, l3, pkt));
        }
        return Some(dropped(DropReason::GatewayUnanswered));
    }
    // The guest's link holds no one but the gateway: broadcast and
    // multicast (mDNS, SSDP, IGMP) have no receiver and are not routed.
    if dst.is_broadcast() || dst.is_multicast() {
        return Some(dropped(DropReason::GatewayUnanswered));
    }
    None
}

/// IPv6 from the guest: NDP, DHCPv6 and pings to the gateway are answered;
/// link-scoped traffic (from a link-local source, or to a link-local or
/// multicast destination) never leaves the link; the rest passes only from
/// the guest's own address.
fn outbound_v6<P: PacketBuf>(
    vnic: &Vnic,
    info: &FrameInfo,
    l3: &L3Facts,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    pkt: &mut P,
) -> Option<Outcome> {
    let spec = &vnic.spec;
    let owned = spec.may_use(src.into());
    let src_link_scoped = is_link_local(&src) || src.is_unspecified();
    let to_gateway = dst == gateway_link_local(spec.gateway_mac) || spec.gateway_ipv6 == Some(dst);
    let icmp = if l3.proto == proto::ICMPV6 {
        icmp_type(info)
    } else {
        None
    };

    if let Some(t @ icmpv6::msg_type::ROUTER_SOLICIT..=icmpv6::msg_type::REDIRECT) = icmp {
        // NDP runs before the guest has an address (DAD and RS from ::).
        if !owned && !src_link_scoped {
            return Some(dropped(DropReason::AntiSpoof));
        }
        return Some(answer_ndp(vnic, l3, t, pkt));
    }
    let dhcp = l3.proto == proto::UDP
        && info.udp_ports == Some((dhcpv6::CLIENT_PORT, dhcpv6::SERVER_PORT))
        && (dst == ALL_DHCP_AGENTS || to_gateway);
    if dhcp {
        // RFC 8415 section 13.1: clients send from their link-local address.
        if !owned && !is_link_local(&src) {
            return Some(dropped(DropReason::AntiSpoof));
        }
        return Some(answer_dhcpv6(vnic, l3, pkt));
    }

    let dst_link_scoped = is_link_local(&dst) || dst.is_multicast();
    // A link-local source is the guest's own on its link, but only for
    // traffic that stays on the link.
    let stays_on_link = src_link_scoped && dst_link_scoped;
    if !(owned || stays_on_link) {
        return Some(dropped(DropReason::AntiSpoof));
    }
    if to_gateway {
        if icmp == Some(icmpv6::msg_type::ECHO_REQUEST) && !src.is_unspecified() {
            return Some(answer_echo(vnic, l3, pkt));
        }
        return Some(dropped(DropReason::GatewayUnanswered));
    }
    // Multicast (MLD, mDNS) and link-local unicast have no one to reach
    // but the gateway, and are never routed (this is also where the
    // link-scoped traffic from a source the guest does not own ends).
    if dst_link_scoped {
        return Some(dropped(DropReason::GatewayUnanswered));
    }
    None
}

/// ARP: the guest resolves only the gateway (its address is a /32, so
/// everything is reached through the gateway); its own announcements and
/// requests for any other address go unanswered.
fn answer_arp<P: PacketBuf>(vnic: &Vnic, pkt: &mut P) -> Outcome {
    let spec = &vnic.spec;
    let l2 = to_guest(vnic, pkt.bytes());
    let req = match reply::arp::parse(pkt.bytes()) {
        Ok(r) => r,
        Err(e) => return wire_drop(e),
    };
    // Anti-spoof inside ARP too: a forged sender would poison the cache of
    // whoever took it (here only the gateway, but the count tells).
    if req.source_hardware_addr != spec.mac {
        return dropped(DropReason::AntiSpoof);
    }
    let sender = req.source_protocol_addr;
    // RFC 5227 probes come from 0.0.0.0.
    if !sender.is_unspecified() && !spec.may_use(sender.into()) {
        return dropped(DropReason::AntiSpoof);
    }
    let Some(gateway) = spec.gateway_ipv4 else {
        return dropped(DropReason::GatewayUnanswered);
    };
    if req.operation != ArpOperation::Request || req.target_protocol_addr != gateway {
        return dropped(DropReason::GatewayUnanswered);
    }
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: spec.gateway_mac,
        source_protocol_addr: gateway,
        target_hardware_addr: req.source_hardware_addr,
        target_protocol_addr: sender,
    };
    sent(vnic, reply::arp::emit(pkt, &l2, &reply))
}

/// DHCPv4 server (RFC 2131): leases the guest its private IPv4 as a /32
/// with the gateway as router, and the routes to reach it (RFC 3442).
fn answer_dhcpv4<P: PacketBuf>(vnic: &Vnic, l3: &L3Facts, pkt: &mut P) -> Outcome {
    let spec = &vnic.spec;
    let (Some(guest), Some(gateway)) = (spec.ipv4, spec.gateway_ipv4) else {
        return dropped(DropReason::GatewayUnanswered);
    };
    let mut dns = [Ipv4Addr::UNSPECIFIED; MAX_DNS];
    let dns_len = fill_from(
        &mut dns,
        spec.dhcp.dns.iter().filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        }),
    );
    // A client that takes option 121 ignores option 3 (RFC 3442), so the
    // default route must be in it, after the on-link route to the gateway
    // without which the gateway would not be reachable from a /32.
    let routes = [
        (gateway, 32, Ipv4Addr::UNSPECIFIED),
        (Ipv4Addr::UNSPECIFIED, 0, gateway),
    ];
    let reply = {
        let payload = match udp_payload(pkt.bytes(), l3) {
            Ok(p) => p,
            Err(o) => return o,
        };
        let packet = match DhcpPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return wire_drop(e),
        };
        let req = match DhcpMessageRepr::parse(&packet) {
            Ok(r) => r,
            Err(e) => return wire_drop(e),
        };
        // The lease belongs to the NIC's MAC; a client asking for another
        // hardware address is not one the gateway serves.
        if req.op != dhcpv4::OP_REQUEST || req.client_hw_addr != spec.mac {
            return dropped(DropReason::GatewayUnanswered);
        }
        let message_type = match req.message_type {
            DhcpMessageType::Discover => DhcpMessageType::Offer,
            DhcpMessageType::Request => {
                // RFC 2131 4.3.2: a REQUEST naming another server is the
                // client declining this one's offer.
                if req.server_id.is_some_and(|s| s != gateway) {
                    return dropped(DropReason::GatewayUnanswered);
                }
                // SELECTING and INIT-REBOOT name the address in option 50,
                // RENEWING and REBINDING in ciaddr.
                let wanted = req
                    .requested_ip
                    .or((!req.ciaddr.is_unspecified()).then_some(req.ciaddr));
                if wanted == Some(guest) {
                    DhcpMessageType::Ack
                } else {
                    DhcpMessageType::Nak
                }
            }
            DhcpMessageType::Inform => DhcpMessageType::Ack,
            // DECLINE and RELEASE need no answer; the rest are not a client's.
            _ => return dropped(DropReason::GatewayUnanswered),
        };
        // Echoes xid, flags, chaddr and giaddr; carries only the message
        // type and server id, which is all a NAK may (RFC 2131 table 3).
        let base = DhcpReplyRepr::for_request(&req, message_type, gateway);
        if message_type == DhcpMessageType::Nak {
            base
        } else {
            let inform = req.message_type == DhcpMessageType::Inform;
            DhcpReplyRepr {
                // RFC 2131 table 3: an ACK to an INFORM carries no lease.
                yiaddr: if inform { Ipv4Addr::UNSPECIFIED } else { guest },
                ciaddr: if inform {
                    req.ciaddr
                } else {
                    Ipv4Addr::UNSPECIFIED
                },
                lease_time: (!inform).then_some(DHCP_LEASE_TIME),
                // The private IP as a /32: the guest has no on-link
                // neighbours, every packet goes to the gateway.
                subnet_mask: Some(Ipv4Addr::BROADCAST),
                router: Some(gateway),
                dns_servers: dns.get(..dns_len).unwrap_or(&[]),
                hostname: option_text(spec.dhcp.hostname.as_deref()),
                domain_name: option_text(spec.dhcp.domain.as_deref()),
                mtu: Some(vnic.mtu),
                classless_routes: &routes,
                ..base
            }
        }
    };

    // A client that set the broadcast flag cannot receive unicast before it
    // has configured its address (RFC 2131 4.1).
    let l2 = ReplyL2 {
        dst: if reply.broadcast {
            MacAddr::BROADCAST
        } else {
            reply.client_hw_addr
        },
        ..to_guest(vnic, pkt.bytes())
    };
    let dst = if reply.broadcast || reply.message_type == DhcpMessageType::Nak {
        Ipv4Addr::BROADCAST
    } else {
        guest
    };
    let ports = (dhcpv4::SERVER_PORT, dhcpv4::CLIENT_PORT);
    let addrs = (gateway.into(), dst.into());
    udp_reply(vnic, pkt, &l2, addrs, ports, reply.buffer_len(), |b| {
        reply.emit(b)
    })
}

/// NDP (RFC 4861): RS -> RA, and NS for one of the gateway's addresses ->
/// NA. Every other NDP message (DAD for the guest's own address, NA, RA,
/// redirects) is taken and not answered.
fn answer_ndp<P: PacketBuf>(vnic: &Vnic, l3: &L3Facts, msg_type: u8, pkt: &mut P) -> Outcome {
    let spec = &vnic.spec;
    if !matches!(
        msg_type,
        icmpv6::msg_type::ROUTER_SOLICIT | icmpv6::msg_type::NEIGHBOR_SOLICIT
    ) {
        return dropped(DropReason::GatewayUnanswered);
    }
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (l3.src, l3.dst) else {
        return dropped(DropReason::Malformed);
    };
    let gateway_ll = gateway_link_local(spec.gateway_mac);
    let l2 = to_guest(vnic, pkt.bytes());
    let ndp = {
        let frame = pkt.bytes();
        // RFC 4861 6.1.1, 7.1.1: anything but 255 may have been forwarded.
        let hop_limit = frame
            .get(l3.l3_offset..)
            .map_or(0, |ip| Ipv6Packet::new_unchecked(ip).hop_limit());
        if hop_limit != NDP_HOP_LIMIT {
            return dropped(DropReason::GatewayUnanswered);
        }
        let bytes = match l4_payload(frame, l3) {
            Ok(b) => b,
            Err(o) => return o,
        };
        let parsed = Icmpv6Packet::new_checked(bytes).and_then(|p| {
            match Icmpv6Repr::parse(&src, &dst, &p)? {
                Icmpv6Repr::Ndp(n) => Ok(n),
                _ => Err(WireError::Unsupported("not NDP")),
            }
        });
        match parsed {
            Ok(n) => n,
            Err(e) => return wire_drop(e),
        }
    };
    match ndp {
        NdpRepr::RouterSolicit { .. } => {
            // M and O: the address and DNS come from DHCPv6. No prefix
            // information: the guest's address is a /128, nothing is on-link.
            let ra = NdpRepr::RouterAdvert {
                hop_limit: RA_CUR_HOP_LIMIT,
                managed: true,
                other: true,
                router_lifetime: RA_ROUTER_LIFETIME,
                reachable_time: 0,
                retrans_time: 0,
                lladdr: Some(spec.gateway_mac),
                mtu: Some(u32::from(vnic.mtu)),
                prefix_info: None,
            };
            let to = if src.is_unspecified() { ALL_NODES } else { src };
            ndp_reply(vnic, pkt, &l2, gateway_ll, to, ra)
        }
        NdpRepr::NeighborSolicit { target_addr, .. }
            if target_addr == gateway_ll || spec.gateway_ipv6 == Some(target_addr) =>
        {
            // From ::, this is DAD for a gateway address: defend it to all
            // nodes, unsolicited (RFC 4861 7.2.4).
            let dad = src.is_unspecified();
            let na = NdpRepr::NeighborAdvert {
                router: true,
                solicited: !dad,
                override_flag: true,
                target_addr,
                lladdr: Some(spec.gateway_mac),
            };
            let to = if dad { ALL_NODES } else { src };
            ndp_reply(vnic, pkt, &l2, target_addr, to, na)
        }
        _ => dropped(DropReason::GatewayUnanswered),
    }
}

/// DHCPv6 server (RFC 8415): leases the guest its private IPv6 in an IA_NA
/// and tells it the DNS servers; the server is the gateway, identified by
/// the DUID-LL of its MAC.
fn answer_dhcpv6<P: PacketBuf>(vnic: &Vnic, l3: &L3Facts, pkt: &mut P) -> Outcome {
    let spec = &vnic.spec;
    let IpAddr::V6(src) = l3.src else {
        return dropped(DropReason::Malformed);
    };
    let mut dns = [Ipv6Addr::UNSPECIFIED; MAX_DNS];
    let dns_len = fill_from(
        &mut dns,
        spec.dhcp.dns.iter().filter_map(|a| match a {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        }),
    );
    let l2 = to_guest(vnic, pkt.bytes());
    let server_duid = dhcpv6::duid_ll(spec.gateway_mac);
    // The client id is echoed; copied out, as the request buffer becomes
    // the reply.
    let mut client_id = [0u8; MAX_DUID_LEN];

    let (msg_type, transaction_id, client_id_len, ia_na, rapid_commit) = {
        let payload = match udp_payload(pkt.bytes(), l3) {
            Ok(p) => p,
            Err(o) => return o,
        };
        let packet = match Dhcpv6Packet::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return wire_drop(e),
        };
        let req = match Dhcpv6MessageRepr::parse(&packet) {
            Ok(r) => r,
            Err(e) => return wire_drop(e),
        };
        // RFC 8415 section 16: a message for another server is not ours.
        if req.server_id.is_some_and(|s| s != server_duid) {
            return dropped(DropReason::GatewayUnanswered);
        }
        let id = req.client_id.unwrap_or(&[]);
        let Some(slot) = client_id.get_mut(..id.len()) else {
            return dropped(DropReason::Malformed);
        };
        slot.copy_from_slice(id);
        (
            req.msg_type,
            req.transaction_id,
            id.len(),
            req.ia_na,
            req.rapid_commit,
        )
    };

    use Dhcpv6MessageType as M;
    let (reply_type, leases) = match msg_type {
        M::Solicit if rapid_commit => (M::Reply, true),
        M::Solicit => (M::Advertise, true),
        M::Request | M::Renew | M::Rebind => (M::Reply, true),
        // A REPLY without a status code means Success: the address is
        // still right for the link (RFC 8415 18.3.3). No IA in it.
        M::Confirm => (M::Reply, false),
        M::InformationRequest => (M::Reply, false),
        // RELEASE and DECLINE need no lease change; the rest are not a
        // client's.
        _ => return dropped(DropReason::GatewayUnanswered),
    };
    // RFC 8415 section 16: every message but INFORMATION-REQUEST must
    // identify its client.
    if msg_type != M::InformationRequest && client_id_len == 0 {
        return dropped(DropReason::GatewayUnanswered);
    }
    let ia_na = if msg_type == M::InformationRequest {
        None
    } else {
        // Address exchanges need an address to give.
        let Some(addr) = spec.ipv6 else {
            return dropped(DropReason::GatewayUnanswered);
        };
        // The gateway cannot say NotOnLink (no status code): it stays
        // silent on a CONFIRM for an address that is not the guest's.
        if msg_type == M::Confirm && ia_na.and_then(|ia| ia.addr).is_some_and(|a| a.addr != addr) {
            return dropped(DropReason::GatewayUnanswered);
        }
        ia_na.filter(|_| leases).map(|ia| Dhcpv6IaNa {
            iaid: ia.iaid,
            t1: DHCPV6_T1,
            t2: DHCPV6_T2,
            addr: Some(Dhcpv6IaAddr {
                addr,
                preferred_lifetime: DHCPV6_PREFERRED,
                valid_lifetime: DHCPV6_VALID,
            }),
        })
    };
    let reply = Dhcpv6ReplyRepr {
        msg_type: reply_type,
        transaction_id,
        server_mac: spec.gateway_mac,
        client_id: client_id.get(..client_id_len).unwrap_or(&[]),
        ia_na,
        dns_servers: dns.get(..dns_len).unwrap_or(&[]),
        rapid_commit: msg_type == M::Solicit && rapid_commit,
    };
    let from = gateway_link_local(spec.gateway_mac);
    let ports = (dhcpv6::SERVER_PORT, dhcpv6::CLIENT_PORT);
    let addrs = (from.into(), src.into());
    udp_reply(vnic, pkt, &l2, addrs, ports, reply.buffer_len(), |b| {
        reply.emit(b)
    })
}

/// Echo request to one of the gateway's addresses -> echo reply, ICMPv4 or
/// ICMPv6. The echo data stays in the buffer: it only moves up when the
/// request had IP options or extension headers that the reply has not.
fn answer_echo<P: PacketBuf>(vnic: &Vnic, l3: &L3Facts, pkt: &mut P) -> Outcome {
    let l2 = to_guest(vnic, pkt.bytes());
    let req = match l4_payload(pkt.bytes(), l3) {
        Ok(message) => reply::echo::parse(message, l3.src, l3.dst),
        Err(o) => return o,
    };
    match req {
        Ok(req) => sent(vnic, reply::echo::answer(pkt, &l2, l3, req)),
        Err(e) => wire_drop(e),
    }
}

/// Builds an Ethernet / IP / UDP reply whose payload `write_payload` writes
/// (returning its length, which must be `payload_len`).
fn udp_reply<P: PacketBuf>(
    vnic: &Vnic,
    pkt: &mut P,
    l2: &ReplyL2,
    (src, dst): (IpAddr, IpAddr),
    (src_port, dst_port): (u16, u16),
    payload_len: usize,
    write_payload: impl FnOnce(&mut [u8]) -> wire::Result<usize>,
) -> Outcome {
    let udp_at = l2.header_len() + ip_header_len(src);
    let udp_len = udp::HEADER_LEN + payload_len;
    write_reply(vnic, pkt, udp_at + udp_len, |b| {
        let eth_len = l2.emit(b, ethertype_of(src))?;
        let ip = b.get_mut(eth_len..).ok_or(WireError::Truncated)?;
        emit_ip_header(ip, src, dst, proto::UDP, udp_len, REPLY_HOP_LIMIT)?;
        let datagram = b.get_mut(udp_at..).ok_or(WireError::Truncated)?;
        let header = UdpRepr {
            src_port,
            dst_port,
            payload_len,
        };
        header.emit(&mut UdpPacket::new_unchecked(&mut *datagram))?;
        let payload = datagram
            .get_mut(udp::HEADER_LEN..)
            .ok_or(WireError::Truncated)?;
        if write_payload(payload)? != payload_len {
            return Err(WireError::Malformed("reply length"));
        }
        UdpPacket::new_unchecked(datagram).fill_checksum(src, dst)
    })
}

/// Builds an Ethernet / IPv6 / ICMPv6 NDP reply, hop limit 255.
fn ndp_reply<P: PacketBuf>(
    vnic: &Vnic,
    pkt: &mut P,
    l2: &ReplyL2,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ndp: NdpRepr,
) -> Outcome {
    sent(vnic, reply::ndp::emit(pkt, l2, src, dst, ndp))
}

/// Turns `pkt` into a zeroed frame of `len` bytes (padded to the Ethernet
/// minimum), lets `write` fill it, and hairpins it.
pub(super) fn write_reply<P: PacketBuf>(
    vnic: &Vnic,
    pkt: &mut P,
    len: usize,
    write: impl FnOnce(&mut [u8]) -> wire::Result<()>,
) -> Outcome {
    sent(vnic, reply::write_frame(pkt, len, write))
}

/// The gateway's reply to the guest: from the gateway's MAC to the guest's,
/// tagged like the request `frame`.
pub(super) fn to_guest(vnic: &Vnic, frame: &[u8]) -> ReplyL2 {
    ReplyL2::answering(vnic.spec.gateway_mac, vnic.spec.mac, frame)
}

/// The outcome of writing a reply: hairpinned, or why not.
fn sent(vnic: &Vnic, r: Result<(), ReplyError>) -> Outcome {
    match r {
        Ok(()) => hairpin(vnic),
        Err(ReplyError::NoHeadroom) => dropped(DropReason::NoHeadroom),
        Err(ReplyError::Malformed) => dropped(DropReason::Malformed),
        // An emitter refused the reply (a bug, or a configuration that does
        // not fit the protocol): the request goes unanswered.
        Err(ReplyError::Refused) => dropped(DropReason::GatewayUnanswered),
    }
}

/// The upper-layer bytes of an unfragmented IP packet, without Ethernet
/// padding (the ICMP checksum covers exactly the message). The IPv4 header
/// checksum is verified here, as `frame_info` does not.
fn l4_payload<'a>(frame: &'a [u8], l3: &L3Facts) -> Result<&'a [u8], Outcome> {
    let ip = frame
        .get(l3.l3_offset..)
        .ok_or(dropped(DropReason::Malformed))?;
    let ip_len = match l3.src {
        IpAddr::V4(_) => {
            let p = Ipv4Packet::new_checked(ip).map_err(wire_drop)?;
            if !p.verify_checksum() {
                return Err(dropped(DropReason::Malformed));
            }
            // The gateway does not reassemble.
            if p.is_fragment() {
                return Err(dropped(DropReason::GatewayUnanswered));
            }
            usize::from(p.total_len())
        }
        IpAddr::V6(_) => {
            let p = Ipv6Packet::new_checked(ip).map_err(wire_drop)?;
            if p.walk_ext().map_err(wire_drop)?.fragment.is_some() {
                return Err(dropped(DropReason::GatewayUnanswered));
            }
            ipv6::HEADER_LEN + usize::from(p.payload_len())
        }
    };
    let end = l3
        .l3_offset
        .checked_add(ip_len)
        .ok_or(dropped(DropReason::Malformed))?;
    frame
        .get(l3.l4_offset..end)
        .ok_or(dropped(DropReason::Malformed))
}

/// The payload of a UDP datagram addressed to the gateway, its checksum
/// verified.
fn udp_payload<'a>(frame: &'a [u8], l3: &L3Facts) -> Result<&'a [u8], Outcome> {
    let udp = UdpPacket::new_checked(l4_payload(frame, l3)?).map_err(wire_drop)?;
    if !udp.verify_checksum(l3.src, l3.dst) {
        return Err(dropped(DropReason::Malformed));
    }
    let len = udp.payload().len();
    let datagram = udp.into_inner();
    datagram
        .get(udp::HEADER_LEN..udp::HEADER_LEN + len)
        .ok_or(dropped(DropReason::Malformed))
}

/// The ICMP or ICMPv6 type of the frame, if it has one.
fn icmp_type(info: &FrameInfo) -> Option<u8> {
    info.icmp.map(|(t, _)| t)
}

/// fe80::/10 (`Ipv6Addr::is_unicast_link_local`, spelled out).
fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// A DHCPv4 text option, if it fits one (1 to 255 bytes); one that does
/// not is left out rather than failing the whole lease.
fn option_text(s: Option<&str>) -> Option<&str> {
    s.filter(|s| (1..=MAX_DHCP_OPTION_LEN).contains(&s.len()))
}

/// Copies as many items as fit into `out`; returns how many.
fn fill_from<T>(out: &mut [T], items: impl Iterator<Item = T>) -> usize {
    let mut n = 0;
    for (slot, item) in out.iter_mut().zip(items) {
        *slot = item;
        n += 1;
    }
    n
}

/// A drop by the gateway layer, before any flow lookup.
/// The instance metadata service's address (EC2's, link-local).
pub const METADATA_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Its TCP port.
pub const METADATA_PORT: u16 = 80;

fn dropped(reason: DropReason) -> Outcome {
    Outcome {
        verdict: Verdict::Drop(reason),
        path: Path::Early,
    }
}

/// A request that does not parse is malformed; one that parses as
/// something the gateway does not serve goes unanswered.
fn wire_drop(e: WireError) -> Outcome {
    match e {
        WireError::Unsupported(_) => dropped(DropReason::GatewayUnanswered),
        _ => dropped(DropReason::Malformed),
    }
}

/// The reply in `pkt` goes back out of the guest's port.
fn hairpin(vnic: &Vnic) -> Outcome {
    Outcome {
        verdict: Verdict::Forward(vnic.port),
        path: Path::Hairpin,
    }
}

pub mod mss;
pub mod too_big;

#[cfg(test)]
mod tests;
