//! NAT-layer engine tests: the source an internet-gateway flow leaves with
//! (docs/VPC-MODEL.md's reference case from OPTE's `select_eip_conditioned_on_igw`),
//! floating-IP spread, SNAT port allocation, release and exhaustion, replies
//! and ICMP errors translated back, inbound DNAT to a floating IP, and soft
//! revalidation. State is set through the control commands; frames are
//! checked with `etherparse`.

use crate::control::igw as igw_admin;
use crate::control::vpc as admin;
use crate::frame::offsets::BOUNDARY_MAC;
use crate::nat::igw::{ExternalIps, SnatSpec};
use crate::tests::*;
use crate::{DropReason, PortIdx};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use vswitch_api::{AddrRange, ExternalIpsSpec, GatewayRef, SnatRange};

const IGW_A: u32 = 1;
const IGW_B: u32 = 2;
const IGW_C: u32 = 3;
const IGW_D: u32 = 4;
pub(crate) const SNAT_IP: [u8; 4] = [10, 77, 77, 13];
const EPHEMERAL: [u8; 4] = [192, 168, 0, 1];
pub(crate) const FIP2: [u8; 4] = [192, 168, 0, 2];
const FIP3: [u8; 4] = [192, 168, 0, 3];
const FIP4: [u8; 4] = [192, 168, 0, 4];

pub(crate) fn boundary() -> Ipv6Addr {
    "fd00:1701:d:99::1".parse().unwrap()
}

pub(crate) fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

/// The world of `tests.rs` plus pools, gateways A-D, a boundary endpoint
/// for every destination, and guest a's routes of the reference case.
pub(crate) fn igw_world() -> World {
    igw_world_on(World::new())
}

/// The range of the one address `a`.
fn one(a: IpAddr) -> AddrRange {
    AddrRange::new(a, a).unwrap()
}

/// [`igw_world`] built on `w`, through the control commands.
pub(crate) fn igw_world_on(w: World) -> World {
    let (d, t) = (&w.dir, &w.tables);
    igw_admin::pool_create(d, t, "public", &typed_all(&["192.168.0.0/24"])).unwrap();
    igw_admin::pool_create(d, t, "snat", &typed_all(&["10.77.77.0/24"])).unwrap();
    for id in [IGW_A, IGW_B, IGW_C, IGW_D] {
        igw_admin::igw_create(d, t, id, None).unwrap();
    }
    let fips = AddrRange::new(ip(FIP2), ip(FIP3)).unwrap();
    igw_admin::igw_assign(d, t, IGW_A, None, Some(fips)).unwrap();
    igw_admin::igw_assign(d, t, IGW_B, None, Some(one(ip(FIP4)))).unwrap();
    igw_admin::igw_assign(d, t, IGW_D, Some("public"), None).unwrap();
    igw_admin::igw_assign(d, t, IGW_D, Some("snat"), None).unwrap();
    igw_admin::v2b_set(d, t, typed("0.0.0.0/0"), &[boundary()]).unwrap();
    for (dest, target) in [
        ("0.0.0.0/0", "igw"),
        ("1.1.1.0/24", "igw:1"),
        ("2.2.2.0/24", "igw:2"),
        ("3.3.3.0/24", "igw:3"),
        ("4.4.4.0/24", "igw:4"),
    ] {
        admin::route_add(d, t, "a", typed(dest), typed(target), None).unwrap();
    }
    w
}

/// Sets guest port `port`'s external IPs through `external-set` (which
/// moves its epoch); an address outside the pools gets a pool of its own.
pub(crate) fn set_external(w: &World, port: PortIdx, ext: ExternalIps) {
    let name = w.dir.names[port as usize].clone();
    let mut ips: Vec<IpAddr> = ext.all().collect();
    ips.retain(|ip| w.tables.current().vpc.igws.pool_of(*ip).is_none());
    ips.sort();
    ips.dedup();
    for ip in ips {
        igw_admin::pool_create(&w.dir, &w.tables, &format!("p-{ip}"), &[one(ip)]).unwrap();
    }
    let gw = |t: &Option<u32>| match t {
        None => GatewayRef::Named("system".into()),
        Some(id) => GatewayRef::Id(*id),
    };
    let spec = ExternalIpsSpec {
        port: name,
        floating: ext.floating.clone(),
        ephemeral: ext.ephemeral,
        snat: ext.snat.map(|s| SnatRange {
            ip: s.ip,
            first_port: s.first_port,
            last_port: s.last_port,
        }),
        igw_map: ext.igw_map.as_ref().map(|m| {
            m.iter()
                .map(|(ip, set)| (*ip, set.iter().map(gw).collect()))
                .collect()
        }),
    };
    igw_admin::external_set(&w.dir, &w.tables, &spec).unwrap();
}

/// The reference case's external IPs: SNAT 10.77.77.13, ephemeral
/// 192.168.0.1, floating .2 .3 .4; map ephemeral -> {system, D},
/// .2 .3 -> {A, D}, .4 -> {B, D}.
fn reference_ips() -> ExternalIps {
    let set = |tags: &[Option<u32>]| tags.iter().copied().collect::<BTreeSet<_>>();
    let map = [
        (ip(EPHEMERAL), set(&[None, Some(IGW_D)])),
        (ip(FIP2), set(&[Some(IGW_A), Some(IGW_D)])),
        (ip(FIP3), set(&[Some(IGW_A), Some(IGW_D)])),
        (ip(FIP4), set(&[Some(IGW_B), Some(IGW_D)])),
    ]
    .into_iter()
    .collect();
    ExternalIps {
        floating: vec![ip(FIP2), ip(FIP3), ip(FIP4)],
        ephemeral: Some(ip(EPHEMERAL)),
        snat: Some(SnatSpec {
            ip: ip(SNAT_IP),
            first_port: 1025,
            last_port: 4096,
        }),
        igw_map: Some(map),
    }
}

/// Only a SNAT address (10.77.77.13) with ports `first..=last`.
pub(crate) fn snat_only(first: u16, last: u16) -> ExternalIps {
    ExternalIps {
        snat: Some(SnatSpec {
            ip: ip(SNAT_IP),
            first_port: first,
            last_port: last,
        }),
        ..Default::default()
    }
}

pub(crate) fn echo_from_a(dst: [u8; 4], id: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, dst, 64)
        .icmpv4_echo_request(id, 1);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}

pub(crate) fn tcp_from_a(dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, dst, 64)
        .tcp(sport, dport, 100, 4096)
        .syn();
    let mut v = Vec::new();
    b.write(&mut v, b"").unwrap();
    v
}

/// A frame from the internet as the boundary delivers it: Geneve VNI 99 with
/// the External option, inner destination MAC the boundary's.
pub(crate) fn from_boundary(inner: &[u8]) -> Vec<u8> {
    geneve(inner, sled(1), 99, &[0x01, 0x29, 0x00, 0x00])
}

/// Checks the outer headers toward the boundary; returns the inner frame.
pub(crate) fn check_to_boundary(frame: &[u8]) -> Vec<u8> {
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv6(v6)) = &p.net else {
        panic!("outer is not IPv6")
    };
    assert_eq!(v6.header().source_addr(), sled(1));
    assert_eq!(v6.header().destination_addr(), boundary());
    let Some(TransportSlice::Udp(u)) = &p.transport else {
        panic!("outer is not UDP")
    };
    assert_eq!(u.destination_port(), 6081);
    let g = u.payload();
    assert_eq!(u32::from_be_bytes([0, g[4], g[5], g[6]]), 99, "VNI 99");
    let inner = g[8..].to_vec();
    assert_eq!(
        &inner[0..6],
        &BOUNDARY_MAC,
        "inner dst MAC A8:40:25:77:77:77"
    );
    inner
}

/// Source address and port (or echo id) of an inner IPv4 frame, checking
/// its checksums on the way.
pub(crate) fn source_of(inner: &[u8]) -> ([u8; 4], u16) {
    let p = SlicedPacket::from_ethernet(inner).unwrap();
    let Some(NetSlice::Ipv4(v4)) = &p.net else {
        panic!("not IPv4")
    };
    let h = v4.header().to_header();
    assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 checksum");
    let port = match &p.transport {
        Some(TransportSlice::Icmpv4(i)) => {
            let want = etherparse::Icmpv4Header::with_checksum(i.icmp_type(), i.payload());
            assert_eq!(want.checksum, i.checksum(), "ICMP checksum");
            match i.icmp_type() {
                etherparse::Icmpv4Type::EchoRequest(e) => e.id,
                t => panic!("unexpected {t:?}"),
            }
        }
        Some(TransportSlice::Tcp(t)) => {
            let c = t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap();
            assert_eq!(c, t.checksum(), "TCP checksum");
            t.source_port()
        }
        Some(TransportSlice::Udp(u)) => {
            let c = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
            assert_eq!(c, u.checksum(), "UDP checksum");
            u.source_port()
        }
        _ => panic!("no transport"),
    };
    (v4.header().source(), port)
}

#[test]
fn reference_case_select_eip_conditioned_on_igw() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, reference_ips());
    let send = |w: &mut World, dst: [u8; 4]| {
        let (o, out) = w.run(GUEST_A, &echo_from_a(dst, 0x77), 0);
        (o, out)
    };
    // System gateway: the ephemeral IP (floating ones are not mapped to it).
    let (o, out) = send(&mut w, [77, 77, 77, 77]);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(
        source_of(&check_to_boundary(&out)),
        (EPHEMERAL, 0x77),
        "1:1: echo id kept"
    );
    // A: floating .2 or .3.
    let (o, out) = send(&mut w, [1, 1, 1, 1]);
    assert_eq!(forwarded(o), UPLINK);
    let (src, _) = source_of(&check_to_boundary(&out));
    assert!(src == FIP2 || src == FIP3, "1.1.1.1 leaves from {src:?}");
    // B: floating .4.
    let (_, out) = send(&mut w, [2, 2, 2, 1]);
    assert_eq!(source_of(&check_to_boundary(&out)).0, FIP4);
    // C has no IPs: dropped, never sent to the boundary.
    let (o, _) = send(&mut w, [3, 3, 3, 1]);
    assert_eq!(dropped(o), DropReason::NoExternalIp);
    // D has every IP: a floating one (floating beats ephemeral and SNAT).
    let (_, out) = send(&mut w, [4, 4, 4, 1]);
    let (src, _) = source_of(&check_to_boundary(&out));
    assert!(
        [FIP2, FIP3, FIP4].contains(&src),
        "4.4.4.1 leaves from {src:?}"
    );
}

#[test]
fn snat_when_nothing_else_and_deny_without_any_address() {
    let mut w = igw_world();
    // No external IPs at all: internet traffic is denied.
    let (o, _) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], 40000, 443), 0);
    assert_eq!(dropped(o), DropReason::NoExternalIp);
    set_external(&w, GUEST_A, snat_only(2000, 2003));
    let mut ports = BTreeSet::new();
    for sport in 40000..40004u16 {
        let (o, out) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], sport, 443), 0);
        assert_eq!(forwarded(o), UPLINK);
        let (src, port) = source_of(&check_to_boundary(&out));
        assert_eq!(src, SNAT_IP);
        assert!((2000..=2003).contains(&port));
        ports.insert(port);
        // The next packet of the flow keeps its port (fast path).
        let (o2, out2) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], sport, 443), 0);
        assert_eq!(o2.path, crate::Path::Fast);
        assert_eq!(out2, out);
    }
    assert_eq!(ports.len(), 4, "one port per flow");
    // The range is exhausted: a fifth flow is a counted drop.
    let (o, _) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], 40004, 443), 0);
    assert_eq!(dropped(o), DropReason::SnatExhausted);
    let (c, held, _) = w.engine.nat_state();
    assert_eq!((c.allocated, c.exhausted, held), (4, 1, 4));
    // The SYN-phase flows (the refused one cached as a drop too) expire
    // after 5 s: their ports come back.
    assert_eq!(w.engine.expire_flows(6 * S, usize::MAX), 5);
    let (c, held, replies) = w.engine.nat_state();
    assert_eq!((c.released, held, replies), (4, 0, 0));
    let (o, out) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], 40004, 443), 6 * S);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(source_of(&check_to_boundary(&out)).0, SNAT_IP);
}

#[test]
fn snat_reply_and_icmp_error_are_translated_back() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(3000, 3999));
    let req = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, [8, 8, 8, 8], 64)
        .udp(5353, 53);
    let mut f = Vec::new();
    req.write(&mut f, b"query").unwrap();
    let (_, out) = w.run(GUEST_A, &f, 0);
    let inner = check_to_boundary(&out);
    let (_, ext_port) = source_of(&inner);
    // The reply, from the internet through the boundary.
    let rep = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv4([8, 8, 8, 8], SNAT_IP, 60)
        .udp(53, ext_port);
    let mut r = Vec::new();
    rep.write(&mut r, b"answer").unwrap();
    let (o, got) = w.run(UPLINK, &from_boundary(&r), S);
    assert_eq!(forwarded(o), GUEST_A);
    let want = PacketBuilder::ethernet2(GW_MAC, MAC_A)
        .ipv4([8, 8, 8, 8], IP_A, 60)
        .udp(53, 5353);
    let mut wv = Vec::new();
    want.write(&mut wv, b"answer").unwrap();
    assert_eq!(got, wv, "the guest sees the reply addressed to itself");
    // A reply to a port nobody holds is dropped.
    let stray = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv4([8, 8, 8, 8], SNAT_IP, 60)
        .udp(53, 3999);
    let mut sv = Vec::new();
    stray.write(&mut sv, b"x").unwrap();
    let (o, _) = w.run(UPLINK, &from_boundary(&sv), S);
    assert_eq!(dropped(o), DropReason::NatNoState);
    // Port unreachable from 8.8.8.8 quoting the translated query.
    let quoted = &inner[14..];
    let err = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv4([8, 8, 8, 8], SNAT_IP, 60)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ));
    let mut ev = Vec::new();
    err.write(&mut ev, quoted).unwrap();
    let (o, got) = w.run(UPLINK, &from_boundary(&ev), S);
    assert_eq!(forwarded(o), GUEST_A);
    let p = SlicedPacket::from_ethernet(&got).unwrap();
    let Some(NetSlice::Ipv4(v4)) = &p.net else {
        panic!()
    };
    assert_eq!(v4.header().destination(), IP_A);
    assert_eq!(
        &got[14 + 20 + 8..],
        &f[14..],
        "the quote is the guest's own query again"
    );
}

#[test]
fn floating_ips_spread_flows_by_hash() {
    let mut w = igw_world();
    set_external(
        &w,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP2), ip(FIP3)],
            ..Default::default()
        },
    );
    let mut n2 = 0;
    for sport in 0..1000u16 {
        let (_, out) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], 10000 + sport, 80), 0);
        let (src, port) = source_of(&check_to_boundary(&out));
        assert_eq!(port, 10000 + sport, "1:1 keeps the port");
        if src == FIP2 {
            n2 += 1;
        } else {
            assert_eq!(src, FIP3);
        }
    }
    assert!((350..=650).contains(&n2), "{n2} of 1000 flows on .2");
}

#[test]
fn inbound_connection_to_a_floating_ip_reaches_the_guest() {
    let mut w = igw_world();
    set_external(
        &w,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP2)],
            ..Default::default()
        },
    );
    let syn = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv4([203, 0, 113, 7], FIP2, 60)
        .tcp(51000, 80, 1, 4096)
        .syn();
    let mut s = Vec::new();
    syn.write(&mut s, b"").unwrap();
    // Inbound defaults to deny.
    let (o, _) = w.run(UPLINK, &from_boundary(&s), 0);
    assert_eq!(dropped(o), DropReason::FirewallDeny);
    w.firewall("a", &[("in", 100, "allow", &[], &["tcp"], &["80"])]);
    let (o, got) = w.run(UPLINK, &from_boundary(&s), 0);
    assert_eq!(forwarded(o), GUEST_A);
    let want = PacketBuilder::ethernet2(GW_MAC, MAC_A)
        .ipv4([203, 0, 113, 7], IP_A, 60)
        .tcp(51000, 80, 1, 4096)
        .syn();
    let mut wv = Vec::new();
    want.write(&mut wv, b"").unwrap();
    assert_eq!(got, wv, "DNAT: the guest sees its private address");
    // The guest's SYN-ACK leaves from the floating IP, port 80.
    let sa = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, [203, 0, 113, 7], 64)
        .tcp(80, 51000, 500, 4096)
        .syn()
        .ack(2);
    let mut av = Vec::new();
    sa.write(&mut av, b"").unwrap();
    let (o, out) = w.run(GUEST_A, &av, S);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(source_of(&check_to_boundary(&out)), (FIP2, 80));
}

#[test]
fn changing_one_external_ip_keeps_the_other_flows() {
    let mut w = igw_world();
    set_external(
        &w,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP2), ip(FIP3)],
            ..Default::default()
        },
    );
    let mut on = std::collections::BTreeMap::new();
    for sport in 0..40u16 {
        let (_, out) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], 20000 + sport, 80), 0);
        on.insert(sport, source_of(&check_to_boundary(&out)).0);
    }
    assert!(on.values().any(|s| *s == FIP2) && on.values().any(|s| *s == FIP3));
    // .2 goes away (the port's epoch moves); .3 stays, with a new .4.
    set_external(
        &w,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP3), ip(FIP4)],
            ..Default::default()
        },
    );
    // And a gateway of a's routes gets .4 too (a's epoch moves again).
    igw_admin::igw_assign(&w.dir, &w.tables, IGW_C, None, Some(one(ip(FIP4)))).unwrap();
    for (sport, before) in on {
        let (_, out) = w.run(GUEST_A, &tcp_from_a([77, 77, 77, 77], 20000 + sport, 80), S);
        let now = source_of(&check_to_boundary(&out)).0;
        if before == FIP3 {
            assert_eq!(now, FIP3, "flow {sport} kept its address");
        } else {
            assert!(now == FIP3 || now == FIP4, "flow {sport} moved to {now:?}");
        }
    }
}

#[test]
fn no_boundary_endpoint_is_a_counted_drop() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, reference_ips());
    w.tables
        .update(|s| {
            s.vpc.v2b = Default::default();
            Ok::<(), String>(())
        })
        .unwrap();
    let (o, _) = w.run(GUEST_A, &echo_from_a([77, 77, 77, 77], 1), 0);
    assert_eq!(dropped(o), DropReason::NoBoundary);
}

#[test]
fn echo_through_snat_gets_an_identifier_from_the_range_and_its_reply_comes_back() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(5000, 5009));
    let (o, out) = w.run(GUEST_A, &echo_from_a([9, 9, 9, 9], 0x0101), 0);
    assert_eq!(forwarded(o), UPLINK);
    let (src, id) = source_of(&check_to_boundary(&out));
    assert_eq!(src, SNAT_IP);
    assert!(
        (5000..=5009).contains(&id),
        "the echo id is the SNAT port: {id}"
    );
    let rep = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv4([9, 9, 9, 9], SNAT_IP, 60)
        .icmpv4_echo_reply(id, 1);
    let mut r = Vec::new();
    rep.write(&mut r, b"ping").unwrap();
    let (o, got) = w.run(UPLINK, &from_boundary(&r), S);
    assert_eq!(forwarded(o), GUEST_A);
    let want = PacketBuilder::ethernet2(GW_MAC, MAC_A)
        .ipv4([9, 9, 9, 9], IP_A, 60)
        .icmpv4_echo_reply(0x0101, 1);
    let mut wv = Vec::new();
    want.write(&mut wv, b"ping").unwrap();
    assert_eq!(got, wv, "the guest sees its own identifier again");
}

#[test]
fn ipv6_external_addresses_translate_both_ways() {
    let mut w = igw_world();
    let guest6: Ipv6Addr = "fd00:172:30::5".parse().unwrap();
    let fip6: Ipv6Addr = "2001:db8:77::20".parse().unwrap();
    let remote6: Ipv6Addr = "2001:db8:ffff::10".parse().unwrap();
    crate::control::commit::change(&w.dir, &w.tables, "test", |s| {
        let v = s.vnic_mut("a").ok_or("no vnic")?;
        v.nic.ipv6 = Some(guest6);
        v.nic.gateway_ipv6 = Some("fd00:172:30::1".parse().unwrap());
        Ok(())
    })
    .unwrap();
    igw_admin::pool_create(&w.dir, &w.tables, "public6", &[one(fip6.into())]).unwrap();
    igw_admin::v2b_set(&w.dir, &w.tables, typed("::/0"), &[boundary()]).unwrap();
    admin::route_add(&w.dir, &w.tables, "a", typed("::/0"), typed("igw"), None).unwrap();
    set_external(
        &w,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP2), IpAddr::V6(fip6)],
            ..Default::default()
        },
    );
    let b = PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv6(guest6.octets(), remote6.octets(), 64)
        .tcp(33000, 443, 7, 4096)
        .syn();
    let mut f = Vec::new();
    b.write(&mut f, b"").unwrap();
    let (o, out) = w.run(GUEST_A, &f, 0);
    assert_eq!(forwarded(o), UPLINK);
    let inner = check_to_boundary(&out);
    let p = SlicedPacket::from_ethernet(&inner).unwrap();
    let Some(NetSlice::Ipv6(v6)) = &p.net else {
        panic!("not IPv6")
    };
    assert_eq!(
        v6.header().source_addr(),
        fip6,
        "the IPv6 floating IP, not the IPv4 one"
    );
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not TCP")
    };
    let c = t
        .to_header()
        .calc_checksum_ipv6(&v6.header().to_header(), t.payload())
        .unwrap();
    assert_eq!(c, t.checksum(), "TCP checksum over the new pseudo-header");
    // The SYN-ACK from outside comes back to the guest's private address.
    let sa = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv6(remote6.octets(), fip6.octets(), 60)
        .tcp(443, 33000, 900, 4096)
        .syn()
        .ack(8);
    let mut sv = Vec::new();
    sa.write(&mut sv, b"").unwrap();
    let (o, got) = w.run(UPLINK, &from_boundary(&sv), S);
    assert_eq!(forwarded(o), GUEST_A);
    let want = PacketBuilder::ethernet2(GW_MAC, MAC_A)
        .ipv6(remote6.octets(), guest6.octets(), 60)
        .tcp(443, 33000, 900, 4096)
        .syn()
        .ack(8);
    let mut wv = Vec::new();
    want.write(&mut wv, b"").unwrap();
    assert_eq!(got, wv);
}

#[test]
fn a_flow_found_expired_by_its_next_packet_gives_back_what_it_held() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(6000, 6001));
    let f = udp_from_a([8, 8, 4, 4], 1234, 53);
    let (_, out) = w.run(GUEST_A, &f, 0);
    let (_, first) = source_of(&check_to_boundary(&out));
    // 61 s idle, no expiry pass in between: the packet's own lookup finds
    // the entry expired; the flow is made again, and the old port and reply
    // key are released, not leaked.
    let (o, out) = w.run(GUEST_A, &f, 61 * S);
    assert_eq!(forwarded(o), UPLINK);
    let (_, second) = source_of(&check_to_boundary(&out));
    let (c, held, replies) = w.engine.nat_state();
    assert_eq!(
        (held, replies),
        (1, 1),
        "only the new flow holds a port and a reply key"
    );
    assert_eq!(c.released, 1);
    assert!((6000..=6001).contains(&first) && (6000..=6001).contains(&second));
}
