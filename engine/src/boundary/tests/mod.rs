//! Engine tests of the boundary role, in OPTE's manner: build a frame, run
//! it through the boundary's engine, assert every byte that matters and the
//! verdict. The state is set up through the functions the control socket
//! uses; frames are built and read back with `etherparse` and the `wire`
//! parsers.

use crate::boundary;
use crate::control::boundary as badmin;
use crate::control::vpc as admin;
use crate::frame::offsets::{BOUNDARY_MAC, BOUNDARY_VNI};
use crate::pktbuf::{PacketBuf, VecPacket};
use crate::testing::{dropped, forwarded, mac_s, port, sled, Switch};
use crate::{DropReason, FlowKey, PortIdx};
use crate::{Outcome, Path};
use crate::{PortRole, SwitchRole};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use std::net::{IpAddr, Ipv6Addr};
use std::ops::{Deref, DerefMut};
use wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
use wire::ndp::NdpRepr;
use wire::{self, MacAddr};

const UPLINK: PortIdx = 0;
const EXT: PortIdx = 1;
const UPLINK_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const UNDERLAY_NEXTHOP: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const EXT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xe0];
const EXT_NEXTHOP: [u8; 6] = [0x02, 0, 0, 0, 0, 0xe1];
/// A host on the external link (the "internet").
const INET_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
const INET_IP: [u8; 4] = [198, 51, 100, 10];
const INET_IP6: &str = "2001:db8:1::10";
/// The boundary's own address on the external link.
const BOUNDARY_IP: [u8; 4] = [192, 0, 2, 1];
/// External IPs of guests: one on sled 1, one (IPv6) on sled 2.
const FIP: [u8; 4] = [203, 0, 113, 5];
const FIP6: &str = "2001:db8:77::5";
/// The sleds' inner source MAC of boundary traffic (a guest's gateway MAC).
const SLED_INNER_SRC: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x01];

fn boundary_addr() -> Ipv6Addr {
    "fd00:1701:d:1::1".parse().unwrap()
}

fn fip6() -> Ipv6Addr {
    FIP6.parse().unwrap()
}

/// A boundary switch: port 0 the underlay uplink, port 1 the external port.
struct World(Switch);

impl Deref for World {
    type Target = Switch;
    fn deref(&self) -> &Switch {
        &self.0
    }
}

impl DerefMut for World {
    fn deref_mut(&mut self) -> &mut Switch {
        &mut self.0
    }
}

impl World {
    /// A boundary without any boundary state.
    fn bare() -> Self {
        Self::bare_as(SwitchRole::Boundary)
    }

    /// A switch of `role` without any boundary state.
    fn bare_as(role: SwitchRole) -> Self {
        World(Switch::new(
            role,
            &[
                port("up", PortRole::Uplink, UPLINK_MAC),
                port("ext", PortRole::External, EXT_MAC),
            ],
        ))
    }

    fn underlay(&self) {
        admin::underlay_set(
            &self.dir,
            &self.tables,
            boundary_addr(),
            "up",
            mac_s(UNDERLAY_NEXTHOP),
        )
        .unwrap();
    }

    fn external_port(&self) {
        badmin::external_port_set(
            &self.dir,
            SwitchRole::Boundary,
            &self.tables,
            "ext",
            mac_s(EXT_NEXTHOP),
            Some(BOUNDARY_IP.into()),
        )
        .unwrap();
    }

    /// Underlay, external port, and the map: FIP -> sled 1, FIP6 -> sled 2.
    fn new() -> Self {
        let w = World::bare();
        w.underlay();
        w.external_port();
        badmin::boundary_map_set(&w.dir, SwitchRole::Boundary, &w.tables, FIP.into(), sled(1))
            .unwrap();
        badmin::boundary_map_set(
            &w.dir,
            SwitchRole::Boundary,
            &w.tables,
            fip6().into(),
            sled(2),
        )
        .unwrap();
        w
    }

    /// A frame through the boundary (it keeps no state, so no clock).
    fn run(&mut self, port: PortIdx, frame: &[u8]) -> (Outcome, Vec<u8>) {
        self.0.run(port, frame, 0)
    }
}

/// A TCP SYN from the internet host to `dst`, addressed to the external port.
fn tcp_from_inet(dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(INET_MAC, EXT_MAC)
        .ipv4(INET_IP, dst, 60)
        .tcp(sport, dport, 1000, 64240)
        .syn();
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

/// A UDP datagram from the internet host's IPv6 address to `dst`.
fn udp6_from_inet(dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let src: Ipv6Addr = INET_IP6.parse().unwrap();
    let b = PacketBuilder::ethernet2(INET_MAC, EXT_MAC)
        .ipv6(src.octets(), dst.octets(), 60)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, b"from the internet").unwrap();
    v
}

/// A guest's packet as a sled sends it to the boundary: already NATed to
/// `src` (an external IP), inner destination MAC A8:40:25:77:77:77.
fn inner_to_inet(src: [u8; 4]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SLED_INNER_SRC, BOUNDARY_MAC)
        .ipv4(src, INET_IP, 63)
        .udp(40000, 53);
    let mut v = Vec::new();
    b.write(&mut v, b"a query").unwrap();
    v
}

/// Wraps `inner` in Geneve from sled 1 to `dst` with `vni`, `options` and
/// Geneve flags byte `flags` (0x80: OAM).
fn geneve(inner: &[u8], dst: Ipv6Addr, vni: u32, options: &[u8], flags: u8) -> Vec<u8> {
    let mut g = vec![(options.len() / 4) as u8, flags, 0x65, 0x58];
    g.extend_from_slice(&(vni << 8).to_be_bytes());
    g.extend_from_slice(options);
    g.extend_from_slice(inner);
    let b = PacketBuilder::ethernet2(UNDERLAY_NEXTHOP, UPLINK_MAC)
        .ipv6(sled(1).octets(), dst.octets(), 255)
        .udp(0xc321, 6081);
    let mut v = Vec::new();
    b.write(&mut v, &g).unwrap();
    v
}

/// Checks the outer headers of a frame the boundary encapsulated toward
/// `to_sled` (outer Ethernet, IPv6, UDP, Geneve with VNI 99 and the External
/// option, byte by byte) and returns (UDP source port, flow label, inner frame).
fn check_external_encap(frame: &[u8], to_sled: Ipv6Addr) -> (u16, u32, Vec<u8>) {
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let eth = p.link.as_ref().unwrap().to_header().unwrap();
    let eth = eth.ethernet2().unwrap();
    assert_eq!(
        eth.destination, UNDERLAY_NEXTHOP,
        "outer dst MAC = underlay next hop"
    );
    assert_eq!(eth.source, UPLINK_MAC, "outer src MAC = uplink");
    let Some(NetSlice::Ipv6(ip)) = &p.net else {
        panic!("outer is not IPv6")
    };
    assert_eq!(
        ip.header().source_addr(),
        boundary_addr(),
        "outer src = the boundary's underlay address"
    );
    assert_eq!(
        ip.header().destination_addr(),
        to_sled,
        "outer dst = the sled"
    );
    assert_eq!(ip.header().hop_limit(), 255);
    let label = ip.header().flow_label().value();
    let Some(TransportSlice::Udp(udp)) = &p.transport else {
        panic!("outer is not UDP")
    };
    assert_eq!(udp.destination_port(), 6081);
    assert!(udp.source_port() >= 0xc000, "entropy in the dynamic range");
    assert_eq!(udp.length() as usize, frame.len() - 54);
    assert_eq!(udp.checksum(), 0, "outer UDP checksum 0 (RFC 6935)");
    assert_eq!(
        &frame[62..74],
        &[
            0x01, 0x00, 0x65, 0x58, // version 0, Opt Len 1 word, no flags, Ethernet
            0x00, 0x00, 0x63, 0x00, // VNI 99, reserved
            0x01, 0x29, 0x00, 0x00, // Oxide class 0x0129, type External, no body
        ],
        "Geneve header with the External option"
    );
    // The wire module's parser and the sled's decapsulation read it as such.
    let e = wire::parse_geneve_packet(frame).unwrap();
    assert!(e.geneve.external, "the External option is recognised");
    assert_eq!(e.geneve.vni, BOUNDARY_VNI);
    assert_eq!(e.inner_offset, 74);
    let facts = crate::frame::parse_encap(frame).unwrap();
    assert!(facts.external_option);
    assert_eq!(facts.inner_dst_mac, MacAddr(BOUNDARY_MAC));
    (udp.source_port(), label, frame[74..].to_vec())
}

#[test]
fn inbound_is_encapsulated_toward_the_sled_with_the_external_option() {
    let mut w = World::new();
    let syn = tcp_from_inet(FIP, 45000, 80);
    let (o, out) = w.run(EXT, &syn);
    assert_eq!(forwarded(o), UPLINK, "toward the sled, out of the uplink");
    assert_eq!(o.path, Path::Fast);
    assert_eq!(out.len(), syn.len() + 74, "74 bytes of outer headers");
    let (sport, label, inner) = check_external_encap(&out, sled(1));
    // The entropy is the inner flow's hash, as the sleds compute it.
    let key = FlowKey {
        proto: 6,
        src: IpAddr::from(INET_IP),
        dst: IpAddr::from(FIP),
        src_port: 45000,
        dst_port: 80,
        icmp: None,
    };
    let entropy = crate::overlay::flow_hash(&key);
    assert_eq!(sport, 0xc000 | (entropy as u16 & 0x3fff));
    assert_eq!(label, entropy & 0xfffff);
    assert_eq!(
        &inner[0..6],
        &BOUNDARY_MAC,
        "inner dst MAC A8:40:25:77:77:77"
    );
    assert_eq!(
        &inner[6..12],
        &EXT_MAC,
        "inner src MAC = the external port's"
    );
    assert_eq!(&inner[12..], &syn[12..], "the IP packet is untouched");
}

#[test]
fn inbound_ipv6_external_ip_goes_to_its_sled() {
    let mut w = World::new();
    let pkt = udp6_from_inet(fip6(), 5353, 8080);
    let (o, out) = w.run(EXT, &pkt);
    assert_eq!(forwarded(o), UPLINK);
    let (_, _, inner) = check_external_encap(&out, sled(2));
    assert_eq!(&inner[0..6], &BOUNDARY_MAC);
    assert_eq!(&inner[6..12], &EXT_MAC);
    assert_eq!(&inner[12..], &pkt[12..]);
}

#[test]
fn inbound_entropy_is_per_flow() {
    let mut w = World::new();
    let mut ports = std::collections::HashSet::new();
    for sport in 0..64u16 {
        let (o, a) = w.run(EXT, &tcp_from_inet(FIP, 30000 + sport, 443));
        forwarded(o);
        let (o, b) = w.run(EXT, &tcp_from_inet(FIP, 30000 + sport, 443));
        forwarded(o);
        assert_eq!(&a[54..56], &b[54..56], "one flow, one source port");
        ports.insert([a[54], a[55]]);
    }
    assert!(ports.len() > 48, "flows spread: {} ports", ports.len());
}

#[test]
fn inbound_drops_are_counted_with_their_reason() {
    let mut w = World::new();
    let (o, _) = w.run(EXT, &tcp_from_inet([203, 0, 113, 99], 1, 80));
    assert_eq!(dropped(o), DropReason::UnknownExternal, "no sled for it");
    // The entry goes: the next packet is a drop.
    badmin::boundary_map_clear(&w.dir, &w.tables, FIP.into(), None).unwrap();
    let (o, _) = w.run(EXT, &tcp_from_inet(FIP, 1, 80));
    assert_eq!(dropped(o), DropReason::UnknownExternal);
    // Moved to another sled: the next packet follows.
    badmin::boundary_map_set(&w.dir, SwitchRole::Boundary, &w.tables, FIP.into(), sled(3)).unwrap();
    let (o, out) = w.run(EXT, &tcp_from_inet(FIP, 1, 80));
    assert_eq!(forwarded(o), UPLINK);
    check_external_encap(&out, sled(3));
    // Not IP, not ARP.
    let mut lldp = vec![0u8; 60];
    lldp[0..6].copy_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0x0e]);
    lldp[6..12].copy_from_slice(&INET_MAC);
    lldp[12..14].copy_from_slice(&[0x88, 0xcc]);
    let (o, _) = w.run(EXT, &lldp);
    assert_eq!(dropped(o), DropReason::Unsupported);
    let (o, _) = w.run(EXT, &[0u8; 10]);
    assert_eq!(dropped(o), DropReason::Malformed);
    // A truncated IPv4 header.
    let mut bad = tcp_from_inet(FIP, 1, 80);
    bad.truncate(30);
    let (o, _) = w.run(EXT, &bad);
    assert_eq!(dropped(o), DropReason::Malformed);
}

#[test]
fn inbound_without_underlay_is_no_underlay() {
    let mut w = World::bare();
    w.external_port();
    badmin::boundary_map_set(&w.dir, SwitchRole::Boundary, &w.tables, FIP.into(), sled(1)).unwrap();
    let (o, _) = w.run(EXT, &tcp_from_inet(FIP, 1, 80));
    assert_eq!(dropped(o), DropReason::NoUnderlay);
}

#[test]
fn inbound_without_headroom_is_a_counted_drop() {
    struct NoRoom(VecPacket);
    impl PacketBuf for NoRoom {
        fn bytes(&self) -> &[u8] {
            self.0.bytes()
        }
        fn bytes_mut(&mut self) -> &mut [u8] {
            self.0.bytes_mut()
        }
        fn prepend(&mut self, _: usize) -> bool {
            false
        }
        fn strip_front(&mut self, n: usize) -> bool {
            self.0.strip_front(n)
        }
        fn resize(&mut self, len: usize) -> bool {
            self.0.resize(len)
        }
    }
    let w = World::new();
    let snap = w.tables.current();
    let x = snap.vpc.external_port.unwrap();
    let mut p = NoRoom(VecPacket::new(&tcp_from_inet(FIP, 1, 80)));
    let o = boundary::from_external(&snap, &x, &mut p);
    assert_eq!(dropped(o), DropReason::NoHeadroom);
}

#[test]
fn outbound_boundary_traffic_is_decapsulated_to_the_next_hop() {
    let mut w = World::new();
    let inner = inner_to_inet(FIP);
    let (o, out) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 99, &[], 0));
    assert_eq!(forwarded(o), EXT, "out of the external port");
    assert_eq!(o.path, Path::Fast);
    assert_eq!(out.len(), inner.len(), "the outer headers are gone");
    assert_eq!(&out[0..6], &EXT_NEXTHOP, "dst MAC = the external next hop");
    assert_eq!(&out[6..12], &EXT_MAC, "src MAC = the external port's");
    assert_eq!(&out[12..], &inner[12..], "the IP packet is untouched");
    // Padding after the outer datagram is not forwarded.
    let mut padded = geneve(&inner, boundary_addr(), 99, &[], 0);
    padded.extend_from_slice(&[0xee; 6]);
    let (o, out2) = w.run(UPLINK, &padded);
    assert_eq!(forwarded(o), EXT);
    assert_eq!(out2, out);
    // Known options (External, non-critical unknown ones) do not matter.
    let ext = [0x01, 0x29, 0x00, 0x00];
    let (o, out3) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 99, &ext, 0));
    assert_eq!(forwarded(o), EXT);
    assert_eq!(out3, out);
    let unknown = [0x01, 0x02, 0x05, 0x00];
    let (o, _) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 99, &unknown, 0));
    assert_eq!(forwarded(o), EXT);
}

#[test]
fn outbound_drops_are_counted_with_their_reason() {
    let mut w = World::new();
    let inner = inner_to_inet(FIP);
    let (o, _) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 100, &[], 0));
    assert_eq!(dropped(o), DropReason::NotBoundaryTraffic, "a VPC's VNI");
    let (o, _) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 99, &[], 0x80));
    assert_eq!(dropped(o), DropReason::NotBoundaryTraffic, "OAM");
    let (o, _) = w.run(UPLINK, &geneve(&inner, sled(7), 99, &[], 0));
    assert_eq!(dropped(o), DropReason::NotGeneve, "for another address");
    let crit = [0x01, 0x29, 0xff, 0x00];
    let (o, _) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 99, &crit, 0));
    assert_eq!(dropped(o), DropReason::GeneveCriticalOption);
    // IPv6 but not Geneve.
    let b = PacketBuilder::ethernet2(UNDERLAY_NEXTHOP, UPLINK_MAC)
        .ipv6(sled(1).octets(), boundary_addr().octets(), 64)
        .udp(5000, 53);
    let mut dns = Vec::new();
    b.write(&mut dns, b"not geneve").unwrap();
    let (o, _) = w.run(UPLINK, &dns);
    assert_eq!(dropped(o), DropReason::NotGeneve);
    let (o, _) = w.run(UPLINK, &inner);
    assert_eq!(dropped(o), DropReason::NotGeneve, "IPv4 on the underlay");
}

#[test]
fn outbound_without_external_port_is_no_external_port() {
    // The hook only calls the boundary once an external port is set; the
    // function itself still refuses to forward without one.
    let w = World::bare();
    w.underlay();
    let snap = w.tables.current();
    let u = snap.vpc.underlay.unwrap();
    let frame = geneve(&inner_to_inet(FIP), boundary_addr(), 99, &[], 0);
    let mut p = VecPacket::new(&frame);
    let o = boundary::from_underlay(&snap, &u, &mut p);
    assert_eq!(dropped(o), DropReason::NoExternalPort);
    assert_eq!(p.bytes(), &frame[..], "a drop leaves the frame alone");
}

/// An ARP request from the internet host (`sender`) for `target`.
fn arp_request(sender: [u8; 4], target: [u8; 4], op: ArpOperation) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&INET_MAC);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    ArpRepr {
        operation: op,
        source_hardware_addr: MacAddr(INET_MAC),
        source_protocol_addr: sender.into(),
        target_hardware_addr: MacAddr::ZERO,
        target_protocol_addr: target.into(),
    }
    .emit(&mut ArpPacket::new_unchecked(&mut f[14..]))
    .unwrap();
    f
}

#[test]
fn proxy_arp_answers_for_external_ips_and_the_boundary() {
    let mut w = World::new();
    for target in [FIP, BOUNDARY_IP] {
        let (o, out) = w.run(EXT, &arp_request(INET_IP, target, ArpOperation::Request));
        assert_eq!(forwarded(o), EXT, "hairpinned out of the external port");
        assert_eq!(o.path, Path::Hairpin);
        let mut want = vec![0u8; 60];
        #[rustfmt::skip]
        let head: Vec<u8> = [
            &INET_MAC[..], &EXT_MAC[..], &[0x08, 0x06][..], // Ethernet, to the asker
            &[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02][..], // Ethernet/IPv4, reply
            &EXT_MAC[..], &target[..],                      // sender: the external port
            &INET_MAC[..], &INET_IP[..],                     // target: the asker
        ]
        .concat();
        want[..42].copy_from_slice(&head);
        assert_eq!(out, want, "ARP reply for {target:?}, padded to 60 bytes");
    }
    // Not served: no reply.
    let (o, _) = w.run(
        EXT,
        &arp_request(INET_IP, [203, 0, 113, 6], ArpOperation::Request),
    );
    assert_eq!(dropped(o), DropReason::UnknownExternal);
    // An announcement of a served address is not a question.
    let (o, _) = w.run(EXT, &arp_request(FIP, FIP, ArpOperation::Request));
    assert_eq!(dropped(o), DropReason::UnknownExternal);
    let (o, _) = w.run(EXT, &arp_request(INET_IP, FIP, ArpOperation::Reply));
    assert_eq!(dropped(o), DropReason::Unsupported);
    let mut short = arp_request(INET_IP, FIP, ArpOperation::Request);
    short.truncate(30);
    let (o, _) = w.run(EXT, &short);
    assert_eq!(dropped(o), DropReason::Malformed);
}

/// A neighbour solicitation from the internet host for `target`.
fn neighbor_solicit(target: Ipv6Addr, src: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let dst = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | t[13] as u16,
        u16::from_be_bytes([t[14], t[15]]),
    );
    let lladdr = (!src.is_unspecified()).then_some(MacAddr(INET_MAC));
    let ns = Icmpv6Repr::Ndp(NdpRepr::NeighborSolicit {
        target_addr: target,
        lladdr,
    });
    let mut msg = vec![0u8; ns.buffer_len()];
    ns.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut msg[..]))
        .unwrap();
    let d = dst.octets();
    let b = PacketBuilder::ethernet2(INET_MAC, [0x33, 0x33, d[12], d[13], d[14], d[15]]).ipv6(
        src.octets(),
        dst.octets(),
        255,
    );
    let mut v = Vec::new();
    b.write(&mut v, etherparse::IpNumber::IPV6_ICMP, &msg)
        .unwrap();
    v
}

#[test]
fn proxy_ndp_answers_for_ipv6_external_ips() {
    let mut w = World::new();
    let asker: Ipv6Addr = INET_IP6.parse().unwrap();
    let (o, out) = w.run(EXT, &neighbor_solicit(fip6(), asker));
    assert_eq!(forwarded(o), EXT);
    assert_eq!(o.path, Path::Hairpin);
    assert_eq!(&out[0..6], &INET_MAC, "to the asker");
    assert_eq!(&out[6..12], &EXT_MAC);
    let p = SlicedPacket::from_ethernet(&out).unwrap();
    let Some(NetSlice::Ipv6(ip)) = &p.net else {
        panic!("not IPv6")
    };
    assert_eq!(ip.header().source_addr(), fip6());
    assert_eq!(ip.header().destination_addr(), asker);
    assert_eq!(ip.header().hop_limit(), 255);
    let msg = ip.payload().payload;
    let icmp = Icmpv6Packet::new_checked(msg).unwrap();
    let na = Icmpv6Repr::parse(&fip6(), &asker, &icmp).expect("checksum and format");
    assert_eq!(
        na,
        Icmpv6Repr::Ndp(NdpRepr::NeighborAdvert {
            router: false,
            solicited: true,
            override_flag: true,
            target_addr: fip6(),
            lladdr: Some(MacAddr(EXT_MAC)),
        })
    );
    // Duplicate address detection from :: is answered to all nodes.
    let (o, out) = w.run(EXT, &neighbor_solicit(fip6(), Ipv6Addr::UNSPECIFIED));
    assert_eq!(forwarded(o), EXT);
    assert_eq!(&out[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    // Not served.
    let (o, _) = w.run(
        EXT,
        &neighbor_solicit("2001:db8:77::6".parse().unwrap(), asker),
    );
    assert_eq!(dropped(o), DropReason::UnknownExternal);
}

#[test]
fn pings_to_the_boundary_address_are_answered() {
    let mut w = World::new();
    let b = PacketBuilder::ethernet2(INET_MAC, EXT_MAC)
        .ipv4(INET_IP, BOUNDARY_IP, 64)
        .icmpv4_echo_request(0x1234, 7);
    let mut req = Vec::new();
    b.write(&mut req, b"ping payload").unwrap();
    let (o, out) = w.run(EXT, &req);
    assert_eq!(forwarded(o), EXT);
    assert_eq!(o.path, Path::Hairpin);
    assert_eq!(&out[0..6], &INET_MAC);
    assert_eq!(&out[6..12], &EXT_MAC);
    let p = SlicedPacket::from_ethernet(&out).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(h.source, BOUNDARY_IP);
    assert_eq!(h.destination, INET_IP);
    assert_eq!(h.header_checksum, h.calc_header_checksum());
    let Some(TransportSlice::Icmpv4(icmp)) = &p.transport else {
        panic!("not ICMP")
    };
    assert_eq!(
        icmp.icmp_type(),
        etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 0x1234, seq: 7 })
    );
    assert_eq!(icmp.payload(), b"ping payload");
    let c = wire::Icmpv4Packet::new_checked(&out[34..]).unwrap();
    assert!(c.verify_checksum());
    // Anything else for the boundary's own address is not for a sled.
    let (o, _) = w.run(EXT, &tcp_from_inet(BOUNDARY_IP, 1, 22));
    assert_eq!(dropped(o), DropReason::UnknownExternal);
}

#[test]
fn underlay_set_and_the_sled_path_are_unchanged_on_a_sled() {
    // On a sled the uplink's traffic takes the sled path: boundary traffic
    // there has no VNIC (a sled's own decapsulation).
    let mut w = World::bare_as(SwitchRole::Sled);
    w.underlay();
    let frame = geneve(&inner_to_inet(FIP), boundary_addr(), 99, &[], 0);
    let (o, _) = w.run(UPLINK, &frame);
    assert_eq!(dropped(o), DropReason::NoVnic);
    // And a port that is nothing yet is an unknown port.
    let (o, _) = w.run(EXT, &tcp_from_inet(FIP, 1, 80));
    assert_eq!(dropped(o), DropReason::NoPatch);
    // The role is the switch's, not guessed from its tables: on a boundary
    // whose external port is not set yet, the same frame takes the boundary
    // path (and has nowhere to go), never the sled's.
    let mut w = World::bare();
    w.underlay();
    let (o, _) = w.run(UPLINK, &frame);
    assert_eq!(dropped(o), DropReason::NoExternalPort);
    let (o, _) = w.run(EXT, &tcp_from_inet(FIP, 1, 80));
    assert_eq!(dropped(o), DropReason::NoPatch);
}

/// No 802.1Q tag crosses the boundary, either way: a tagged inner frame
/// from a sled never leaves on the external link, and a tagged frame from
/// the internet never enters the underlay.
#[test]
fn tagged_frames_never_cross_the_boundary() {
    let mut w = World::new();
    let mut inner = Vec::new();
    PacketBuilder::ethernet2(SLED_INNER_SRC, BOUNDARY_MAC)
        .single_vlan(7.try_into().unwrap())
        .ipv4(FIP, INET_IP, 63)
        .udp(40000, 53)
        .write(&mut inner, b"tagged")
        .unwrap();
    let (o, _) = w.run(UPLINK, &geneve(&inner, boundary_addr(), 99, &[], 0));
    assert_eq!(dropped(o), DropReason::VlanTagged);
    let mut tagged = Vec::new();
    PacketBuilder::ethernet2(INET_MAC, EXT_MAC)
        .single_vlan(7.try_into().unwrap())
        .ipv4(INET_IP, FIP, 60)
        .udp(53, 40000)
        .write(&mut tagged, b"tagged")
        .unwrap();
    let (o, _) = w.run(EXT, &tagged);
    assert_eq!(dropped(o), DropReason::VlanTagged);
    // Untagged, the same traffic passes both ways.
    let (o, _) = w.run(
        UPLINK,
        &geneve(&inner_to_inet(FIP), boundary_addr(), 99, &[], 0),
    );
    assert_eq!(forwarded(o), EXT);
    let (o, _) = w.run(EXT, &tcp_from_inet(FIP, 443, 40000));
    assert_eq!(forwarded(o), UPLINK);
}

/// What would not fit the uplink once encapsulated (74 bytes more) is a
/// counted drop; what fits exactly passes.
#[test]
fn too_big_for_the_uplink_is_a_counted_drop() {
    let mut w = World::bare();
    w.dir.mtus = vec![1500, 1500];
    w.underlay();
    w.external_port();
    badmin::boundary_map_set(&w.dir, SwitchRole::Boundary, &w.tables, FIP.into(), sled(1)).unwrap();
    let frame = |ip_len: usize| {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(INET_MAC, EXT_MAC)
            .ipv4(INET_IP, FIP, 60)
            .udp(53, 40000)
            .write(&mut v, &vec![0; ip_len - 28])
            .unwrap();
        v
    };
    // 1426 + 74 = 1500 of outer IPv6 packet.
    let (o, out) = w.run(EXT, &frame(1426));
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(out.len(), 14 + 1500);
    let (o, _) = w.run(EXT, &frame(1427));
    assert_eq!(dropped(o), DropReason::TooBig);
}

mod bridge;
mod shared_snat;
