//! MTU engine tests on a sled whose uplink MTU is 1500: the MTU a VNIC is
//! given without `--mtu`, "fragmentation needed" and "packet too big" for
//! what would not fit once encapsulated, and TCP MSS clamping both ways
//! (VPC and through SNAT).

use crate::control::vpc as admin;
use crate::nat::tests::{check_to_boundary, igw_world_on, set_external, snat_only, source_of};
use crate::tests::*;
use crate::DropReason;
use crate::Path;
use etherparse::{
    Icmpv4Type, Icmpv6Type, NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice,
};
use std::net::Ipv6Addr;
use vswitch_api::VnicCreate;

/// An IPv4 UDP frame from guest a to the remote guest whose IP packet is
/// `ip_len` bytes, with DF as given.
fn big_udp(ip_len: usize, df: bool) -> Vec<u8> {
    let payload = vec![0x5a; ip_len - 28];
    let mut ip = etherparse::Ipv4Header::new(
        (8 + payload.len()) as u16,
        64,
        etherparse::IpNumber::UDP,
        IP_A,
        IP_REMOTE,
    )
    .unwrap();
    ip.dont_fragment = df;
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
        .udp(40000, 80)
        .write(&mut v, &payload)
        .unwrap();
    assert_eq!(v.len(), 14 + ip_len);
    v
}

/// A TCP SYN (or SYN-ACK) with MSS `mss`.
fn syn(
    src: ([u8; 6], [u8; 4]),
    dst: ([u8; 6], [u8; 4]),
    ports: (u16, u16),
    mss: u16,
    ack: bool,
) -> Vec<u8> {
    let t = PacketBuilder::ethernet2(src.0, dst.0)
        .ipv4(src.1, dst.1, 64)
        .tcp(ports.0, ports.1, 7, 64240)
        .syn();
    let t = if ack { t.ack(1) } else { t };
    let mut v = Vec::new();
    t.options(&[TcpOptionElement::MaximumSegmentSize(mss)])
        .unwrap()
        .write(&mut v, &[])
        .unwrap();
    v
}

/// The MSS option of the TCP segment in `frame`.
fn mss_of(frame: &[u8]) -> u16 {
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not TCP")
    };
    t.options_iterator()
        .find_map(|o| match o {
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
            _ => None,
        })
        .unwrap()
}

fn vnic_without_mtu(w: &World, port: &str, mac: [u8; 6], ip: [u8; 4]) {
    admin::vnic_create(
        &w.dir,
        &w.tables,
        &VnicCreate {
            port: port.into(),
            id: 9,
            vni: vni(VNI),
            mac: mac_s(mac),
            ipv4: Some(ip.into()),
            ipv6: Some("fd00::5".parse().unwrap()),
            gateway_mac: mac_s(GW_MAC),
            gateway_ipv4: Some([172, 30, 0, 1].into()),
            gateway_ipv6: Some("fd00::1".parse().unwrap()),
            dns: vec![],
            hostname: None,
            domain: None,
            mtu: None,
            flow_quota: None,
        },
    )
    .unwrap();
    for (dest, target) in [
        ("172.30.0.0/22", "subnet:172.30.0.0/22"),
        ("fd00::/64", "subnet:fd00::/64"),
    ] {
        admin::route_add(
            &w.dir,
            &w.tables,
            port,
            typed(dest),
            typed(target),
            Some(typed("system")),
        )
        .unwrap();
    }
}

#[test]
fn without_mtu_a_vnic_gets_the_largest_that_fits_the_uplink() {
    let w = World::with_uplink_mtu(1500);
    vnic_without_mtu(&w, "b", MAC_B, IP_B);
    let v = w.tables.current().vpc.vnic(GUEST_B).cloned().unwrap();
    assert_eq!((v.mtu, v.clamp_mtu), (1430, 1430), "1500 - 70 of Geneve");
    // A 9000 uplink: the guest port's own 1500 is the bound.
    let w = World::new();
    vnic_without_mtu(&w, "b", MAC_B, IP_B);
    let v = w.tables.current().vpc.vnic(GUEST_B).cloned().unwrap();
    assert_eq!((v.mtu, v.clamp_mtu), (1500, 1500));
    // Asked for: advertised as asked (guest a has --mtu 1430), clamped to fit.
    let v = w.tables.current().vpc.vnic(GUEST_A).cloned().unwrap();
    assert_eq!(v.mtu, 1430);
}

#[test]
fn too_big_for_the_uplink_gets_fragmentation_needed_or_is_dropped() {
    let mut w = World::with_uplink_mtu(1500);
    // 1430 bytes of IP fit exactly: 1500 on the underlay.
    let (o, out) = w.run(GUEST_A, &big_udp(1430, true), 0);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(out.len(), 14 + 1500);
    // One more byte, with DF: the gateway answers as a router would.
    let f = big_udp(1431, true);
    for now in [S, 2 * S] {
        let (o, reply) = w.run(GUEST_A, &f, now);
        assert_eq!((forwarded(o), o.path), (GUEST_A, Path::Hairpin));
        let p = SlicedPacket::from_ethernet(&reply).unwrap();
        let eth = p.link.as_ref().unwrap().to_header().unwrap();
        let eth = eth.ethernet2().unwrap();
        assert_eq!((eth.source, eth.destination), (GW_MAC, MAC_A));
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not IPv4")
        };
        let h = ip.header().to_header();
        assert_eq!((h.source, h.destination), ([172, 30, 0, 1], IP_A));
        assert_eq!(h.calc_header_checksum(), h.header_checksum);
        let Some(TransportSlice::Icmpv4(icmp)) = &p.transport else {
            panic!("not ICMP")
        };
        assert_eq!(
            icmp.icmp_type(),
            Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                    next_hop_mtu: 1430
                }
            )
        );
        let want = etherparse::Icmpv4Header::with_checksum(icmp.icmp_type(), icmp.payload());
        assert_eq!(want.checksum, icmp.checksum());
        assert_eq!(&icmp.payload()[..28], &f[14..42], "quotes the packet sent");
        assert!(reply.len() <= 14 + 576, "an IPv4 error fits 576 bytes");
    }
    // Without DF: dropped and counted (no fragmenting).
    let (o, _) = w.run(GUEST_A, &big_udp(1431, false), 3 * S);
    assert_eq!(dropped(o), DropReason::TooBig);
}

#[test]
fn too_big_ipv6_gets_packet_too_big() {
    let mut w = World::with_uplink_mtu(1500);
    vnic_without_mtu(&w, "b", MAC_B, IP_B);
    let remote6: Ipv6Addr = "fd00::9".parse().unwrap();
    admin::v2p_set(
        &w.dir,
        &w.tables,
        vni(VNI),
        remote6.into(),
        mac_s(MAC_REMOTE),
        sled(2),
    )
    .unwrap();
    let mut f = Vec::new();
    PacketBuilder::ethernet2(MAC_B, GW_MAC)
        .ipv6(
            "fd00::5".parse::<Ipv6Addr>().unwrap().octets(),
            remote6.octets(),
            64,
        )
        .udp(5000, 6000)
        .write(&mut f, &[7u8; 1452])
        .unwrap();
    assert_eq!(f.len(), 14 + 1500);
    let (o, reply) = w.run(GUEST_B, &f, 0);
    assert_eq!((forwarded(o), o.path), (GUEST_B, Path::Hairpin));
    let p = SlicedPacket::from_ethernet(&reply).unwrap();
    let Some(NetSlice::Ipv6(ip)) = &p.net else {
        panic!("not IPv6")
    };
    assert_eq!(
        ip.header().source_addr(),
        "fd00::1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        ip.header().destination_addr(),
        "fd00::5".parse::<Ipv6Addr>().unwrap()
    );
    let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
        panic!("not ICMPv6")
    };
    assert_eq!(icmp.icmp_type(), Icmpv6Type::PacketTooBig { mtu: 1430 });
    let h = ip.header().to_header();
    let want = etherparse::Icmpv6Header::with_checksum(
        icmp.icmp_type(),
        h.source,
        h.destination,
        icmp.payload(),
    )
    .unwrap();
    assert_eq!(want.checksum, icmp.checksum());
    assert_eq!(
        reply.len(),
        14 + 1280,
        "an ICMPv6 error fills the minimum MTU"
    );
    assert_eq!(&icmp.payload()[..48], &f[14..62]);
}

#[test]
fn tcp_syns_are_clamped_both_ways() {
    let mut w = World::with_uplink_mtu(1500);
    w.firewall("a", &[("in", 1, "allow", &[], &["tcp"], &[])]);
    // Guest a's SYN to the remote guest: encapsulated with MSS 1390.
    let out_syn = syn((MAC_A, IP_A), (GW_MAC, IP_REMOTE), (41000, 80), 1460, false);
    let (o, out) = w.run(GUEST_A, &out_syn, 0);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(mss_of(&out[70..]), 1390);
    // The remote's SYN-ACK with a jumbo MSS: delivered with 1390, the first
    // (which computes the flow's inbound half) and a retransmission.
    let sa = syn(
        (MAC_REMOTE, IP_REMOTE),
        (MAC_A, IP_A),
        (80, 41000),
        8960,
        true,
    );
    let sa = geneve(&sa, sled(1), VNI, &[]);
    for path in [Path::Slow, Path::Fast] {
        let (o, got) = w.run(UPLINK, &sa, S);
        assert_eq!((forwarded(o), o.path), (GUEST_A, path));
        assert_eq!(mss_of(&got), 1390);
    }
    // A new connection from the remote: its SYN is clamped too (slow path).
    let s2 = syn(
        (MAC_REMOTE, IP_REMOTE),
        (MAC_A, IP_A),
        (5555, 22),
        9000,
        false,
    );
    let (o, got) = w.run(UPLINK, &geneve(&s2, sled(1), VNI, &[]), S);
    assert_eq!((forwarded(o), o.path), (GUEST_A, Path::Slow));
    assert_eq!(mss_of(&got), 1390);
}

#[test]
fn snat_syns_are_clamped_with_valid_checksums() {
    let mut w = igw_world_on(World::with_uplink_mtu(1500));
    set_external(&w, GUEST_A, snat_only(3000, 3999));
    let s = syn(
        (MAC_A, IP_A),
        (GW_MAC, [8, 8, 8, 8]),
        (42000, 443),
        1460,
        false,
    );
    for now in [0, S] {
        // The first SYN (slow path), then a retransmission (fast path).
        let (o, out) = w.run(GUEST_A, &s, now);
        assert_eq!(forwarded(o), UPLINK);
        let inner = check_to_boundary(&out);
        assert_eq!(
            mss_of(&inner),
            1386,
            "4 bytes below VPC traffic's 1390: the boundary's External option"
        );
        let (src, _) = source_of(&inner);
        assert_eq!(
            src,
            [10, 77, 77, 13],
            "translated, and the TCP checksum checked"
        );
    }
}
