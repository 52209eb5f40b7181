//! Engine tests of hostile input: a port reused for another tenant, internet
//! traffic spoofing VPC peers (and the reverse), guest ICMP errors, 802.1Q
//! tags, floods against the flow quota, unsolicited TCP and refused traffic,
//! and the fixed-offset fast path against the full parser on mutated
//! lengths.

use crate::control::vpc as admin;
use crate::flow::table::{FlowClass, Realm};
use crate::frame::offsets::BOUNDARY_MAC;
use crate::nat::igw::ExternalIps;
use crate::nat::tests::*;
use crate::tests::*;
use crate::vnic::Vnic;
use crate::Path;
use crate::{DropReason, PortIdx, Verdict};
use etherparse::{icmpv4::DestUnreachableHeader, Icmpv4Type, PacketBuilder};
use std::sync::Arc;

/// The VNI of an encapsulated frame.
fn vni_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes([0, frame[66], frame[67], frame[68]])
}

/// The outer IPv6 destination of an encapsulated frame.
fn outer_dst(frame: &[u8]) -> std::net::Ipv6Addr {
    <[u8; 16]>::try_from(&frame[38..54]).unwrap().into()
}

/// Sets the flow quota of the VNIC on `port`.
fn set_quota(w: &World, port: PortIdx, quota: usize) {
    w.tables
        .update(|s| {
            let v = s.vpc.vnic(port).cloned().ok_or("no vnic")?;
            let mut nv = Vnic::clone(&v);
            nv.flow_quota = quota;
            s.vpc.vnics[port as usize] = Some(Arc::new(nv));
            Ok::<(), String>(())
        })
        .unwrap();
}

/// A UDP frame from guest b to the remote guest.
fn udp_from_b(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_B, GW_MAC)
        .ipv4(IP_B, IP_REMOTE, 64)
        .udp(sport, dport)
        .write(&mut v, b"b")
        .unwrap();
    v
}

/// A UDP frame `src` -> guest a inside the VPC (inner dst MAC = a).
fn vpc_udp_to_a(src: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_REMOTE, MAC_A)
        .ipv4(src, IP_A, 64)
        .udp(sport, dport)
        .write(&mut v, b"vpc")
        .unwrap();
    geneve(&v, sled(1), VNI, &[])
}

/// A UDP frame from the internet `src` -> `dst` as the boundary delivers it.
fn internet_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x99], BOUNDARY_MAC)
        .ipv4(src, dst, 60)
        .udp(sport, dport)
        .write(&mut v, b"internet")
        .unwrap();
    from_boundary(&v)
}

fn floating_only() -> ExternalIps {
    ExternalIps {
        floating: vec![ip(FIP2)],
        ..Default::default()
    }
}

/// `vnic-create` of port a with `vni`, guest a's addresses.
fn create_a(w: &World, vni: u32) {
    w.vnic_in("a", MAC_A, IP_A, vni, None);
}

/// A port deleted and created again for another tenant (another VNI, the
/// same addresses, as many changes as before) never uses the old tenant's
/// flows: the first packet leaves with the new VNI, and the old entry is
/// gone. Epochs come from one switch-wide counter, so even without the
/// clear that `vnic-delete` does on every worker, no old entry can match.
#[test]
fn a_port_reused_for_another_tenant_inherits_nothing() {
    let mut w = World::new();
    let f = udp_from_a(IP_REMOTE, 40000, 80);
    let (o, out) = w.run(GUEST_A, &f, 0);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(vni_of(&out), VNI);
    let old_epoch = w.tables.current().vpc.vnic(GUEST_A).unwrap().epoch;
    // No clear here (the manager's part): the engine alone must hold.
    admin::vnic_delete(&w.dir, &w.tables, "a").unwrap();
    let (o, _) = w.run(GUEST_A, &f, S);
    assert_eq!(dropped(o), DropReason::NoPatch, "no VNIC: nothing passes");
    let other = VNI + 1;
    create_a(&w, other);
    admin::v2p_set(
        &w.dir,
        &w.tables,
        vni(other),
        IP_REMOTE.into(),
        mac_s(MAC_REMOTE),
        sled(3),
    )
    .unwrap();
    admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("172.30.0.0/22"),
        typed("subnet:172.30.0.0/22"),
        Some(typed("system")),
    )
    .unwrap();
    let v = w.tables.current().vpc.vnic(GUEST_A).cloned().unwrap();
    assert!(v.birth > old_epoch && v.epoch > old_epoch);
    let (o, out) = w.run(GUEST_A, &f, 2 * S);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(o.path, Path::Slow, "computed afresh");
    assert_eq!(vni_of(&out), other, "the new tenant's VNI on the wire");
    assert_eq!(outer_dst(&out), sled(3), "to the new tenant's peer");
    let flows: Vec<_> = w
        .engine
        .flows()
        .iter()
        .map(|(id, e)| (*id, e.epoch))
        .collect();
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(flows[0].1, v.epoch, "only the new tenant's flow is left");
}

/// The same reuse with NAT: the manager's clear releases every port and
/// reply key the old tenant held.
#[test]
fn clearing_a_port_releases_its_nat_state() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(2000, 2999));
    for sport in 0..50 {
        let (o, _) = w.run(GUEST_A, &udp_from_a([8, 8, 8, 8], 5000 + sport, 53), 0);
        assert_eq!(forwarded(o), UPLINK);
    }
    assert_eq!(forwarded(w.run(GUEST_B, &udp_from_b(1, 2), 0).0), UPLINK);
    let (_, held, replies) = w.engine.nat_state();
    assert_eq!((held, replies), (50, 50));
    let end = w.engine.flows().slots();
    let (n, next) = w.engine.clear_flows(Some(GUEST_A), u64::MAX, (0, end), 8);
    assert!(n <= 8 && next == Some(8), "a step looks at 8 slots");
    let rest = w
        .engine
        .clear_flows(Some(GUEST_A), u64::MAX, (8, end), usize::MAX);
    assert_eq!(rest, (50 - n, None));
    let (_, held, replies) = w.engine.nat_state();
    assert_eq!((held, replies), (0, 0), "nothing of the old tenant is left");
    assert_eq!(w.engine.flows().port_len(GUEST_A), 0);
    assert_eq!(
        w.engine.flows().port_len(GUEST_B),
        1,
        "another port's flow stays"
    );
}

/// An internet host spoofing a VPC peer's address toward the guest's
/// floating IP never reaches the guest through the VPC flow, nor changes
/// it: without an inbound rule it is dropped; with one it is a flow of its
/// own, in the internet realm, and the guest's traffic to the peer still
/// goes to the VPC.
#[test]
fn internet_traffic_never_joins_a_vpc_flow() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, floating_only());
    let req = udp_from_a(IP_REMOTE, 40000, 80);
    let (o, out) = w.run(GUEST_A, &req, 0);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(outer_dst(&out), sled(2));
    let reply = vpc_udp_to_a(IP_REMOTE, 80, 40000);
    let (o, _) = w.run(UPLINK, &reply, S);
    assert_eq!(forwarded(o), GUEST_A, "the peer's reply passes (stateful)");
    let vpc_flow = |w: &World| {
        w.engine
            .flows()
            .iter()
            .find(|(id, _)| id.realm == Realm::Vpc && id.port == GUEST_A)
            .map(|(id, e)| (*id, e.hits, e.value.clone(), e.epoch))
            .unwrap()
    };
    let before = vpc_flow(&w);
    // The same 5-tuple after DNAT, from the internet.
    let spoof = internet_udp(IP_REMOTE, 80, FIP2, 40000);
    let (o, _) = w.run(UPLINK, &spoof, 2 * S);
    assert_eq!(dropped(o), DropReason::FirewallDeny, "inbound default deny");
    assert_eq!(vpc_flow(&w), before, "the VPC flow is untouched");
    // With an inbound rule it is a new internet flow, DNAT'd to the guest.
    w.firewall("a", &[("in", 100, "allow", &[], &["udp"], &[])]);
    let (o, got) = w.run(UPLINK, &spoof, 3 * S);
    assert_eq!(forwarded(o), GUEST_A);
    assert_eq!(&got[30..34], &IP_A, "DNAT to the private address");
    let realms: Vec<Realm> = w
        .engine
        .flows()
        .iter()
        .filter(|(id, _)| id.port == GUEST_A && id.key.dst_port == 80)
        .map(|(id, _)| id.realm)
        .collect();
    assert_eq!(realms.len(), 2, "two flows with one 5-tuple: {realms:?}");
    assert!(realms.contains(&Realm::Internet) && realms.contains(&Realm::Vpc));
    // The guest's next packet to the peer still goes to the VPC peer.
    let (o, out) = w.run(GUEST_A, &req, 4 * S);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!((outer_dst(&out), vni_of(&out)), (sled(2), VNI));
    // And the peer's replies still reach the guest.
    let (o, _) = w.run(UPLINK, &reply, 5 * S);
    assert_eq!(forwarded(o), GUEST_A);
}

/// The converse: a packet from inside the VPC claiming an internet
/// address never joins the guest's translated flow to that address.
#[test]
fn a_vpc_packet_never_joins_an_internet_flow() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(3000, 3999));
    let (o, _) = w.run(GUEST_A, &udp_from_a([8, 8, 8, 8], 5353, 53), 0);
    assert_eq!(forwarded(o), UPLINK);
    let forged = vpc_udp_to_a([8, 8, 8, 8], 53, 5353);
    let (o, _) = w.run(UPLINK, &forged, S);
    assert_eq!(dropped(o), DropReason::FirewallDeny);
    let inet = w
        .engine
        .flows()
        .iter()
        .find(|(id, _)| id.realm == Realm::Internet)
        .map(|(_, e)| e.value.inb)
        .unwrap();
    assert_eq!(
        inet, None,
        "the translated flow was not given an inbound path"
    );
}

/// An ICMP error frame from guest a to `dst` quoting `quoted` (IP header
/// and the first 8 bytes of what it received).
fn icmp_error_from_a(dst: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, dst, 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            DestUnreachableHeader::Port,
        ))
        .write(&mut v, quoted)
        .unwrap();
    v
}

/// A guest's ICMP error passes only back to the source of the packet it
/// quotes, only about a flow the firewall allowed, and only where the
/// router still sends that source; about an internet flow it is translated.
#[test]
fn guest_icmp_errors_obey_the_router_and_the_firewall() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, floating_only());
    w.firewall("a", &[("in", 100, "allow", &[], &["udp"], &["53"])]);
    let (o, got) = w.run(UPLINK, &internet_udp([203, 0, 113, 7], 5000, FIP2, 53), 0);
    assert_eq!(forwarded(o), GUEST_A);
    // What the guest received, as its error quotes it (IP header + 8 bytes).
    let quote = got[14..14 + 28].to_vec();
    let (o, out) = w.run(GUEST_A, &icmp_error_from_a([203, 0, 113, 7], &quote), S);
    assert_eq!(forwarded(o), UPLINK, "back to the sender, translated");
    let inner = check_to_boundary(&out);
    assert_eq!(&inner[26..30], &FIP2, "outer source: the floating IP");
    assert_eq!(&inner[30..34], &[203, 0, 113, 7]);
    assert_eq!(
        &inner[14 + 20 + 8 + 16..14 + 20 + 8 + 20],
        &FIP2,
        "quoted destination too"
    );
    // Not back to the quoted packet's source: dropped.
    let (o, _) = w.run(GUEST_A, &icmp_error_from_a([203, 0, 113, 9], &quote), S);
    assert_eq!(dropped(o), DropReason::IcmpErrorMismatch);
    // About a packet of no flow: its quote cannot be translated.
    let mut stray = quote.clone();
    stray[12..16].copy_from_slice(&[203, 0, 113, 50]);
    let (o, _) = w.run(GUEST_A, &icmp_error_from_a([203, 0, 113, 50], &stray), S);
    assert_eq!(dropped(o), DropReason::IcmpErrorMismatch);
    // About a flow the firewall refused (port 54 has no rule).
    let (o, got) = w.run(
        UPLINK,
        &internet_udp([203, 0, 113, 8], 5000, FIP2, 54),
        2 * S,
    );
    assert_eq!(dropped(o), DropReason::FirewallDeny);
    let mut refused = got[14..14 + 28].to_vec();
    refused[16..20].copy_from_slice(&IP_A);
    let (o, _) = w.run(
        GUEST_A,
        &icmp_error_from_a([203, 0, 113, 8], &refused),
        2 * S,
    );
    assert_eq!(dropped(o), DropReason::FirewallDeny);
    // Once the router no longer sends the source to a gateway, the error is
    // VPC traffic of its own, and there is no route for it.
    admin::route_del(&w.dir, &w.tables, "a", typed("0.0.0.0/0"), None).unwrap();
    let (o, _) = w.run(GUEST_A, &icmp_error_from_a([203, 0, 113, 7], &quote), 3 * S);
    assert_eq!(dropped(o), DropReason::NoRoute);
}

/// 802.1Q-tagged frames are dropped and counted on every way in: from a
/// guest (toward the VPC or the internet) and inside Geneve from the
/// underlay; a tag never reaches the wire.
#[test]
fn tagged_frames_are_dropped() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(3000, 3999));
    for dst in [IP_REMOTE, [8, 8, 8, 8]] {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(MAC_A, GW_MAC)
            .single_vlan(5.try_into().unwrap())
            .ipv4(IP_A, dst, 64)
            .udp(1, 2)
            .write(&mut v, b"tagged")
            .unwrap();
        let (o, _) = w.run(GUEST_A, &v, 0);
        assert_eq!(dropped(o), DropReason::VlanTagged);
    }
    w.firewall("a", &[("in", 1, "allow", &[], &[], &[])]);
    let mut inner = Vec::new();
    PacketBuilder::ethernet2(MAC_REMOTE, MAC_A)
        .single_vlan(5.try_into().unwrap())
        .ipv4(IP_REMOTE, IP_A, 64)
        .udp(1, 2)
        .write(&mut inner, b"tagged")
        .unwrap();
    let (o, _) = w.run(UPLINK, &geneve(&inner, sled(1), VNI, &[]), 0);
    assert_eq!(dropped(o), DropReason::VlanTagged);
}

/// One guest flooding new flows (through SNAT) far past its quota: it never
/// holds more than its quota, evicting its own oldest one-way flows; the
/// other guest's flow is untouched and stays on the fast path; and every
/// SNAT port and reply key the flood took comes back, by eviction as it
/// goes and by expiry at the end.
#[test]
fn a_flood_stays_within_its_quota_and_gives_back_what_it_held() {
    let mut w = igw_world();
    set_external(&w, GUEST_A, snat_only(1024, 65535));
    set_quota(&w, GUEST_A, 100);
    // Guest b's conversation with the remote guest.
    w.firewall("b", &[("in", 1, "allow", &[], &["udp"], &[])]);
    let b_req = udp_from_b(7000, 7001);
    assert_eq!(forwarded(w.run(GUEST_B, &b_req, 0).0), UPLINK);
    for i in 0..10_000u32 {
        let now = S + u64::from(i) * 1_000;
        let f = udp_from_a(
            [8, 8, (i >> 8) as u8, i as u8],
            1000 + (i % 50_000) as u16,
            53,
        );
        let (o, _) = w.run(GUEST_A, &f, now);
        assert_eq!(forwarded(o), UPLINK, "flow {i}");
        let a = w.engine.flows().port_len(GUEST_A);
        assert!(a <= 100, "guest a holds {a}");
        if i % 500 == 0 {
            let (_, held, replies) = w.engine.nat_state();
            assert!(
                held <= 100 && replies <= 100,
                "{held} ports, {replies} reply keys"
            );
            let (o, _) = w.run(GUEST_B, &b_req, now);
            assert_eq!((forwarded(o), o.path), (UPLINK, Path::Fast));
        }
    }
    assert_eq!(w.engine.flows().port_len(GUEST_B), 1);
    let c = w.engine.flows().counters();
    assert_eq!(c.evicted[FlowClass::Unreplied as usize], 9_900);
    let (nat, held, replies) = w.engine.nat_state();
    assert_eq!((held, replies), (100, 100));
    assert_eq!(nat.allocated - nat.released, 100);
    // All idle past their TTL: the sweep takes them and what they held.
    w.engine.expire_flows(200 * S, usize::MAX);
    let (nat, held, replies) = w.engine.nat_state();
    assert_eq!((held, replies), (0, 0));
    assert_eq!(nat.allocated, nat.released);
    assert_eq!(w.engine.flows().len(), 0);
}

/// A TCP segment without SYN that matches no flow, and traffic the firewall
/// refuses, hold their entries only briefly.
#[test]
fn unsolicited_tcp_and_refused_traffic_hold_no_lasting_state() {
    let mut w = World::new();
    w.firewall("a", &[("in", 1, "allow", &[], &["tcp"], &[])]);
    let mut ack = Vec::new();
    PacketBuilder::ethernet2(MAC_REMOTE, MAC_A)
        .ipv4(IP_REMOTE, IP_A, 64)
        .tcp(443, 40000, 1, 1000)
        .ack(1)
        .write(&mut ack, b"")
        .unwrap();
    let (o, _) = w.run(UPLINK, &geneve(&ack, sled(1), VNI, &[]), 0);
    assert_eq!(forwarded(o), GUEST_A);
    let refused = vpc_udp_to_a(IP_REMOTE, 5000, 5001);
    let (o, _) = w.run(UPLINK, &refused, 0);
    assert_eq!(dropped(o), DropReason::FirewallDeny);
    let mut states: Vec<_> = w
        .engine
        .flows()
        .iter()
        .map(|(_, e)| (e.tcp.map(|t| t.state().as_str()), e.refused, e.class()))
        .collect();
    states.sort_by_key(|s| s.0);
    assert_eq!(
        states,
        vec![
            (None, true, FlowClass::Embryonic),
            (Some("mid_stream"), false, FlowClass::Embryonic)
        ]
    );
    assert_eq!(
        w.engine.expire_flows(6 * S, usize::MAX),
        2,
        "gone after 5 s"
    );
    // Answered by the guest, the mid-stream flow becomes established.
    w.run(UPLINK, &geneve(&ack, sled(1), VNI, &[]), 7 * S);
    let mut back = Vec::new();
    PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, IP_REMOTE, 64)
        .tcp(40000, 443, 1, 1000)
        .ack(2)
        .write(&mut back, b"")
        .unwrap();
    assert_eq!(forwarded(w.run(GUEST_A, &back, 7 * S).0), UPLINK);
    let e = w
        .engine
        .flows()
        .iter()
        .next()
        .map(|(_, e)| e.clone())
        .unwrap();
    assert_eq!(e.tcp.map(|t| t.state().as_str()), Some("established"));
    assert_eq!(w.engine.expire_flows(100 * S, usize::MAX), 0);
}

/// Runs `f` through both engines; they must agree on the verdict and, when
/// forwarded, on every byte.
fn agree(fast: &mut World, full: &mut World, port: PortIdx, f: &[u8], now: u64, what: &str) {
    let (a, x) = fast.run(port, f, now);
    let (b, y) = full.run(port, f, now);
    assert_eq!(a.verdict, b.verdict, "{what}: {f:02x?}");
    if let Verdict::Forward(_) = a.verdict {
        assert_eq!(x, y, "{what}: bytes differ for {f:02x?}");
    }
}

/// A world with flows on every fast path: guest -> VPC, guest -> internet
/// (SNAT), VPC -> guest, internet -> floating IP.
fn fast_path_world(full: bool) -> World {
    let mut w = igw_world();
    w.engine.full_path_only = full;
    set_external(
        &w,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP2)],
            ..snat_only(1024, 65535)
        },
    );
    w.firewall("a", &[("in", 1, "allow", &[], &[], &[])]);
    w
}

/// A frame to mutate: its ingress port, the frame, the offsets of its 16-bit
/// length fields, of its TCP data-offset byte and of its Geneve
/// option-length byte.
type Case = (PortIdx, Vec<u8>, Vec<usize>, Option<usize>, Option<usize>);

/// The fixed-offset readings and the fast path give the full parser's
/// verdict, and the same bytes, for frames whose length fields (IPv4 total
/// length, IPv6 payload length, UDP length, TCP data offset, Geneve option
/// length) and Geneve OAM bit are mutated, and for every truncation.
#[test]
fn the_fast_path_agrees_with_the_full_parser_on_mutated_lengths() {
    let mut fast = fast_path_world(false);
    let mut full = fast_path_world(true);
    let mut tcp = Vec::new();
    PacketBuilder::ethernet2(MAC_A, GW_MAC)
        .ipv4(IP_A, IP_REMOTE, 64)
        .tcp(41000, 22, 1, 1000)
        .ack(1)
        .write(&mut tcp, b"data")
        .unwrap();
    let out_udp = udp_from_a(IP_REMOTE, 40000, 80);
    let out_snat = udp_from_a([8, 8, 8, 8], 40000, 53);
    let in_vpc = vpc_udp_to_a(IP_REMOTE, 80, 40000);
    let in_inet = internet_udp([203, 0, 113, 7], 5000, FIP2, 53);
    let cases: Vec<Case> = vec![
        (GUEST_A, out_udp, vec![16, 38], None, None),
        (GUEST_A, out_snat, vec![16, 38], None, None),
        (GUEST_A, tcp, vec![16], Some(46), None),
        (GUEST_A, echo_from_a(IP_REMOTE, 9), vec![16], None, None),
        // Outer IPv6 payload and UDP lengths, then the inner frame's.
        (
            UPLINK,
            in_vpc,
            vec![18, 58, 70 + 16, 70 + 38],
            None,
            Some(62),
        ),
        (
            UPLINK,
            in_inet,
            vec![18, 58, 74 + 16, 74 + 38],
            None,
            Some(62),
        ),
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut now = 0;
    let mut mutated = 0;
    for (port, base, lens, doff, optlen) in &cases {
        // Establish the flow in both, then mutate.
        for _ in 0..2 {
            now += 1000;
            agree(&mut fast, &mut full, *port, base, now, "base");
        }
        for &at in lens {
            let true_len = u16::from_be_bytes([base[at], base[at + 1]]);
            let mut values = vec![0, 1, 7, 8, 19, 20, 27, 28, 0xffff];
            for d in [1u16, 2, 4, 8, 20] {
                values.push(true_len.wrapping_sub(d));
                values.push(true_len.wrapping_add(d));
            }
            values.extend((0..20).map(|_| rnd() as u16));
            for v in values {
                let mut f = base.clone();
                f[at..at + 2].copy_from_slice(&v.to_be_bytes());
                now += 1000;
                agree(
                    &mut fast,
                    &mut full,
                    *port,
                    &f,
                    now,
                    &format!("len@{at}={v}"),
                );
                mutated += 1;
            }
        }
        if let Some(at) = doff {
            for v in 0..16u8 {
                let mut f = base.clone();
                f[*at] = v << 4 | (f[*at] & 0x0f);
                now += 1000;
                agree(&mut fast, &mut full, *port, &f, now, &format!("doff={v}"));
                mutated += 1;
            }
        }
        if let Some(at) = optlen {
            for v in [0u8, 1, 2, 3, 0x3f, 0x40, 0x80, 0x81] {
                // Option length (low 6 bits), then O/C flags in the next byte.
                let mut f = base.clone();
                f[*at] = (f[*at] & 0xc0) | (v & 0x3f);
                agree(&mut fast, &mut full, *port, &f, now, &format!("optlen={v}"));
                let mut g = base.clone();
                g[*at + 1] ^= v & 0xc0;
                now += 1000;
                agree(
                    &mut fast,
                    &mut full,
                    *port,
                    &g,
                    now,
                    &format!("flags^={v:#x}"),
                );
                mutated += 2;
            }
        }
        for cut in 0..base.len() {
            now += 1000;
            agree(
                &mut fast,
                &mut full,
                *port,
                &base[..cut],
                now,
                &format!("cut {cut}"),
            );
            mutated += 1;
        }
        // Trailing bytes beyond the datagram (padding) never reach a guest.
        let mut padded = base.clone();
        padded.extend_from_slice(&[0xee; 9]);
        agree(&mut fast, &mut full, *port, &padded, now, "padded");
    }
    assert!(mutated > 1000, "{mutated} mutated frames");
}

/// A Geneve frame cut short is malformed, not "not Geneve"; an OAM packet
/// is control traffic, not a guest's.
#[test]
fn truncated_geneve_is_malformed_and_oam_is_not_delivered() {
    let mut w = World::new();
    w.firewall("a", &[("in", 1, "allow", &[], &[], &[])]);
    let f = vpc_udp_to_a(IP_REMOTE, 1, 2);
    for cut in [60, 66, 70, 80] {
        let mut g = f[..cut].to_vec();
        // The frame is cut, but its headers still claim the whole length.
        g.resize(cut.max(60), 0);
        let (o, _) = w.run(UPLINK, &g[..cut], 0);
        assert_eq!(dropped(o), DropReason::Malformed, "cut at {cut}");
    }
    let mut oam = f.clone();
    oam[63] |= 0x80;
    let (o, _) = w.run(UPLINK, &oam, 0);
    assert_eq!(dropped(o), DropReason::GeneveOam);
}
