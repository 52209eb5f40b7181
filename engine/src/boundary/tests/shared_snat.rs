//! A SNAT address shared by NICs on two sleds, each with its own port range:
//! the boundary sends each inbound packet to the sled whose range holds its
//! destination port, echo identifier, or the source port its ICMP error
//! quotes; the check refuses overlapping ranges.

use super::*;
use vswitch_api::{BoundaryMapEntry, PortRangeSpec};

const SNAT: [u8; 4] = [203, 0, 113, 13];

fn share(w: &World, first: u16, last: u16, to: Ipv6Addr) -> Result<u64, String> {
    badmin::boundary_map_put(
        &w.dir,
        SwitchRole::Boundary,
        &w.tables,
        BoundaryMapEntry {
            ip: SNAT.into(),
            sled: to,
            ports: Some(PortRangeSpec::new(first, last).unwrap()),
        },
    )
}

/// The boundary of `World::new` with SNAT shared: 1024-2047 on sled 1,
/// 2048-3071 on sled 2.
fn shared() -> World {
    let w = World::new();
    share(&w, 1024, 2047, sled(1)).unwrap();
    share(&w, 2048, 3071, sled(2)).unwrap();
    w
}

fn outer_dst(frame: &[u8]) -> Ipv6Addr {
    wire::parse_geneve_packet(frame).unwrap().outer_dst
}

/// An ICMPv4 message from the internet host to the SNAT address: `head` is
/// type, code, checksum and the 4-byte rest; `body` follows.
fn icmp_from_inet(head: [u8; 8], body: &[u8]) -> Vec<u8> {
    let mut msg = head.to_vec();
    msg.extend_from_slice(body);
    let sum = wire::checksum::checksum(&msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let b = PacketBuilder::ethernet2(INET_MAC, EXT_MAC).ipv4(INET_IP, SNAT, 60);
    let mut v = Vec::new();
    // Protocol 1 with the message as the payload.
    b.write(&mut v, etherparse::IpNumber::ICMP, &msg).unwrap();
    v
}

/// The first 28 bytes of a UDP datagram the sled sent from SNAT:`sport`.
fn quoted_udp(sport: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv4(SNAT, INET_IP, 64).udp(sport, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[0u8; 8]).unwrap();
    v.truncate(28);
    v
}

#[test]
fn tcp_goes_to_the_sled_whose_range_holds_the_destination_port() {
    let mut w = shared();
    for (port, to) in [
        (1024, sled(1)),
        (2047, sled(1)),
        (2048, sled(2)),
        (3071, sled(2)),
    ] {
        let (o, out) = w.run(EXT, &tcp_from_inet(SNAT, 443, port));
        assert_eq!(forwarded(o), UPLINK, "port {port}");
        let (_, _, inner) = check_external_encap(&out, to);
        assert_eq!(&inner[12..], &tcp_from_inet(SNAT, 443, port)[12..]);
    }
    // No NIC holds these ports: nothing to send them to.
    for port in [80, 1023, 3072] {
        let (o, _) = w.run(EXT, &tcp_from_inet(SNAT, 443, port));
        assert_eq!(dropped(o), DropReason::UnknownExternal, "port {port}");
    }
    // The shared address is still answered to ARP.
    let (o, _) = w.run(EXT, &arp_request(INET_IP, SNAT, ArpOperation::Request));
    assert_eq!(forwarded(o), EXT);
}

#[test]
fn echo_replies_go_by_identifier_and_errors_by_the_quoted_source_port() {
    let mut w = shared();
    // Echo reply, identifier 2500 (sled 2's range), sequence 1.
    let reply = icmp_from_inet([0, 0, 0, 0, 0x09, 0xc4, 0, 1], b"ping");
    let (o, out) = w.run(EXT, &reply);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(outer_dst(&out), sled(2));
    // Identifier 1500: sled 1.
    let reply = icmp_from_inet([0, 0, 0, 0, 0x05, 0xdc, 0, 1], b"ping");
    let (o, out) = w.run(EXT, &reply);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(outer_dst(&out), sled(1));
    // Port unreachable about a datagram sent from SNAT:1100 (sled 1), then
    // from SNAT:3000 (sled 2).
    for (sport, to) in [(1100, sled(1)), (3000, sled(2))] {
        let err = icmp_from_inet([3, 3, 0, 0, 0, 0, 0, 0], &quoted_udp(sport));
        let (o, out) = w.run(EXT, &err);
        assert_eq!(forwarded(o), UPLINK, "error quoting port {sport}");
        assert_eq!(outer_dst(&out), to, "error quoting port {sport}");
    }
    // An error quoting a port no NIC holds, and an echo request (the
    // internet pinging the SNAT address: no NIC's NAT chose its identifier).
    let err = icmp_from_inet([3, 3, 0, 0, 0, 0, 0, 0], &quoted_udp(80));
    assert_eq!(dropped(w.run(EXT, &err).0), DropReason::UnknownExternal);
    let request = icmp_from_inet([8, 0, 0, 0, 0x05, 0xdc, 0, 1], b"ping");
    assert_eq!(dropped(w.run(EXT, &request).0), DropReason::UnknownExternal);
}

#[test]
fn overlapping_shares_and_an_address_both_whole_and_shared_are_refused() {
    let w = shared();
    let before = w.tables.current().generation;
    let e = share(&w, 2000, 2100, sled(3)).unwrap_err();
    assert!(e.contains("overlaps the share 1024-2047"), "{e}");
    let e = badmin::boundary_map_set(
        &w.dir,
        SwitchRole::Boundary,
        &w.tables,
        SNAT.into(),
        sled(3),
    )
    .unwrap_err();
    assert!(e.contains("shares by port range"), "{e}");
    assert_eq!(w.tables.current().generation, before, "nothing published");
    // Setting a share again moves it; clearing it frees its ports.
    share(&w, 2048, 3071, sled(3)).unwrap();
    let mut w = w;
    let (_, out) = w.run(EXT, &tcp_from_inet(SNAT, 443, 2500));
    assert_eq!(outer_dst(&out), sled(3));
    badmin::boundary_map_clear(
        &w.dir,
        &w.tables,
        SNAT.into(),
        Some(PortRangeSpec::new(2048, 3071).unwrap()),
    )
    .unwrap();
    let (o, _) = w.run(EXT, &tcp_from_inet(SNAT, 443, 2500));
    assert_eq!(dropped(o), DropReason::UnknownExternal);
    let list = badmin::boundary_map_list(&w.dir, &w.tables.current());
    let shares: Vec<_> = list
        .entries
        .iter()
        .filter(|e| e.ip == IpAddr::from(SNAT))
        .collect();
    assert_eq!(shares.len(), 1);
    assert_eq!(
        shares[0].ports.map(|p| (p.first(), p.last())),
        Some((1024, 2047))
    );
}
