//! Cross-pod floating IPs through two boundaries (README's example): VM
//! 10.0.1.4 in pod A holds bridge address 100.0.1.4 as its floating IP;
//! pod B's boundary maps 162.3.124.5 <-> 100.0.1.4 between its external port
//! and its bridge link; pod A's boundary maps 100.0.1.4 -> the VM's sled and
//! sends what its sleds send from a bridge address out of its bridge link.

use super::*;
use crate::control::commit;
use vswitch_api::state::{BridgeLinkState, StaticNatEntry};

const BRIDGE: PortIdx = 2;
const BRIDGE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb0];
/// The other boundary's port on the bridge link.
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb1];
const FIP: [u8; 4] = [162, 3, 124, 5];
const BRIDGE_IP: [u8; 4] = [100, 0, 1, 4];

fn bridge_world() -> World {
    let w = World(Switch::new(
        SwitchRole::Boundary,
        &[
            port("up", PortRole::Uplink, UPLINK_MAC),
            port("ext", PortRole::External, EXT_MAC),
            port("br", PortRole::Bridge, BRIDGE_MAC),
        ],
    ));
    w.underlay();
    w.external_port();
    links(&w, vec![link("100.0.1.0/24")]).unwrap();
    w
}

fn link(cidr: &str) -> BridgeLinkState {
    BridgeLinkState {
        port: "br".into(),
        cidr: cidr.parse().unwrap(),
        nexthop_mac: mac_s(PEER_MAC),
        addr: Some("100.0.1.2".parse().unwrap()),
    }
}

fn links(w: &World, l: Vec<BridgeLinkState>) -> Result<commit::Change, String> {
    commit::change(&w.dir, &w.tables, "test", |s| {
        s.bridge_links = l;
        Ok(())
    })
}

fn static_nat(w: &World, pairs: &[([u8; 4], [u8; 4])]) -> Result<commit::Change, String> {
    let v = pairs
        .iter()
        .map(|(x, b)| StaticNatEntry {
            external: (*x).into(),
            bridge: (*b).into(),
        })
        .collect();
    commit::change(&w.dir, &w.tables, "test", |s| {
        s.static_nat = v;
        Ok(())
    })
}

/// Pod B: the boundary with the static NAT.
fn pod_b() -> World {
    let w = bridge_world();
    static_nat(&w, &[(FIP, BRIDGE_IP)]).unwrap();
    w
}

/// Addresses of an IPv4 frame, and whether every checksum holds.
fn addrs(frame: &[u8]) -> ([u8; 4], [u8; 4], bool) {
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    let h = ip.header();
    let ok = h.to_header().calc_header_checksum() == h.header_checksum()
        && match &p.transport {
            Some(TransportSlice::Tcp(t)) => {
                t.to_header()
                    .calc_checksum_ipv4(&h.to_header(), t.payload())
                    .unwrap()
                    == t.checksum()
            }
            Some(TransportSlice::Icmpv4(i)) => {
                wire::checksum::checksum(&frame[14 + h.slice().len()..]) == 0 || i.checksum() == 0
            }
            _ => true,
        };
    (h.source(), h.destination(), ok)
}

#[test]
fn pod_b_translates_the_external_address_to_the_bridge_address_and_back() {
    let mut w = pod_b();
    // Inbound: internet -> 162.3.124.5 becomes -> 100.0.1.4 on the bridge link.
    let syn = tcp_from_inet(FIP, 45000, 80);
    let (o, out) = w.run(EXT, &syn);
    assert_eq!(forwarded(o), BRIDGE, "out of the bridge link");
    assert_eq!(&out[0..6], &PEER_MAC, "to the other pod's boundary");
    assert_eq!(&out[6..12], &BRIDGE_MAC);
    assert_eq!(addrs(&out), (INET_IP, BRIDGE_IP, true));
    // Outbound: 100.0.1.4 -> internet, from the bridge link, leaves the
    // external port from 162.3.124.5.
    let reply = {
        let b = PacketBuilder::ethernet2(PEER_MAC, BRIDGE_MAC)
            .ipv4(BRIDGE_IP, INET_IP, 63)
            .tcp(80, 45000, 7000, 64240)
            .syn()
            .ack(1001);
        let mut v = Vec::new();
        b.write(&mut v, &[]).unwrap();
        v
    };
    let (o, out) = w.run(BRIDGE, &reply);
    assert_eq!(forwarded(o), EXT);
    assert_eq!(&out[0..6], &EXT_NEXTHOP);
    assert_eq!(&out[6..12], &EXT_MAC);
    assert_eq!(addrs(&out), (FIP, INET_IP, true));
    // The external address is answered to ARP on the external link.
    let (o, _) = w.run(EXT, &arp_request(INET_IP, FIP, ArpOperation::Request));
    assert_eq!(forwarded(o), EXT);
    // Anything else from the bridge link is for a sled of this pod; pod B
    // has none.
    let stray = {
        let b = PacketBuilder::ethernet2(PEER_MAC, BRIDGE_MAC)
            .ipv4([100, 0, 1, 9], INET_IP, 63)
            .udp(1, 2);
        let mut v = Vec::new();
        b.write(&mut v, &[]).unwrap();
        v
    };
    assert_eq!(
        dropped(w.run(BRIDGE, &stray).0),
        DropReason::UnknownExternal
    );
}

#[test]
fn pod_b_translates_icmp_errors_inside_too() {
    let mut w = pod_b();
    // The internet reports that a datagram the VM sent (seen from
    // 162.3.124.5) found no port.
    let quoted = {
        let b = PacketBuilder::ipv4(FIP, INET_IP, 60).udp(5000, 53);
        let mut v = Vec::new();
        b.write(&mut v, &[0u8; 8]).unwrap();
        v
    };
    let mut msg = vec![3, 3, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&quoted);
    let c = wire::checksum::checksum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    let err = {
        let b = PacketBuilder::ethernet2(INET_MAC, EXT_MAC).ipv4(INET_IP, FIP, 60);
        let mut v = Vec::new();
        b.write(&mut v, etherparse::IpNumber::ICMP, &msg).unwrap();
        v
    };
    let (o, out) = w.run(EXT, &err);
    assert_eq!(forwarded(o), BRIDGE);
    assert_eq!(addrs(&out).1, BRIDGE_IP, "outer destination");
    let e = crate::nat::rewrite::icmp_error(&out).unwrap();
    assert_eq!(
        e.quoted.src,
        IpAddr::from(BRIDGE_IP),
        "the quoted source too"
    );
    assert_eq!(
        wire::checksum::checksum(&out[34..]),
        0,
        "ICMP checksum holds"
    );
}

#[test]
fn pod_a_sends_the_bridge_address_to_its_sled_and_its_traffic_out_of_the_bridge_link() {
    let mut w = bridge_world();
    badmin::boundary_map_set(
        &w.dir,
        SwitchRole::Boundary,
        &w.tables,
        BRIDGE_IP.into(),
        sled(1),
    )
    .unwrap();
    // From the bridge link, for 100.0.1.4: encapsulated toward the sled.
    let syn = {
        let b = PacketBuilder::ethernet2(PEER_MAC, BRIDGE_MAC)
            .ipv4(INET_IP, BRIDGE_IP, 63)
            .tcp(45000, 80, 1000, 64240)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, &[]).unwrap();
        v
    };
    let (o, out) = w.run(BRIDGE, &syn);
    assert_eq!(forwarded(o), UPLINK);
    let (_, _, inner) = check_external_encap(&out, sled(1));
    assert_eq!(&inner[6..12], &BRIDGE_MAC, "from the bridge link's MAC");
    assert_eq!(&inner[12..], &syn[12..]);
    // The sled's reply from 100.0.1.4 leaves by the bridge link; one from
    // another external IP by the external port.
    for (src, port, mac) in [(BRIDGE_IP, BRIDGE, PEER_MAC), (FIP, EXT, EXT_NEXTHOP)] {
        let frame = geneve(&inner_to_inet(src), boundary_addr(), 99, &[], 0);
        let (o, out) = w.run(UPLINK, &frame);
        assert_eq!(forwarded(o), port, "from {src:?}");
        assert_eq!(&out[0..6], &mac);
    }
    // Proxy ARP on the bridge link: the bridge address its map holds, and
    // its own address there; not the internet's addresses.
    let ask = |target: [u8; 4]| {
        let mut f = arp_request([100, 0, 1, 1], target, ArpOperation::Request);
        f[6..12].copy_from_slice(&PEER_MAC);
        f
    };
    for target in [BRIDGE_IP, [100, 0, 1, 2]] {
        let (o, out) = w.run(BRIDGE, &ask(target));
        assert_eq!(forwarded(o), BRIDGE, "{target:?}");
        assert_eq!(&out[6..12], &BRIDGE_MAC);
    }
    assert_eq!(
        dropped(w.run(BRIDGE, &ask(INET_IP)).0),
        DropReason::UnknownExternal
    );
}

#[test]
fn bad_bridge_links_and_static_nat_are_refused_whole() {
    let w = bridge_world();
    let g = w.tables.current().generation;
    let mut ext_link = link("100.0.2.0/24");
    ext_link.port = "ext".into();
    for (l, want) in [
        (
            vec![link("100.0.1.0/24"), ext_link],
            "is an external port, not a bridge port",
        ),
        (vec![link("100.0.1.5/24")], "without host bits"),
        (vec![link("2001:db8::/64")], "not IPv4"),
    ] {
        let e = links(&w, l).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
    for (pairs, want) in [
        (vec![(FIP, [100, 0, 9, 4])], "on no bridge link's network"),
        (vec![(FIP, [100, 0, 1, 2])], "own address on the link"),
        (
            vec![(FIP, BRIDGE_IP), ([162, 3, 124, 6], BRIDGE_IP)],
            "already the bridge address",
        ),
        (
            vec![(BOUNDARY_IP, BRIDGE_IP)],
            "own address on its external port",
        ),
    ] {
        let e = static_nat(&w, &pairs).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
    assert_eq!(w.tables.current().generation, g, "nothing published");
}

#[test]
fn commands_set_and_clear_links_and_static_nat() {
    let w = bridge_world();
    let r = SwitchRole::Boundary;
    let entry = StaticNatEntry {
        external: FIP.into(),
        bridge: BRIDGE_IP.into(),
    };
    let sled_w = World::bare_as(SwitchRole::Sled);
    let e = badmin::static_nat_set(&sled_w.dir, SwitchRole::Sled, &sled_w.tables, entry.clone())
        .unwrap_err();
    assert!(e.contains("this switch is a sled switch"), "{e}");
    badmin::static_nat_set(&w.dir, r, &w.tables, entry.clone()).unwrap();
    let list = badmin::boundary_map_list(&w.dir, &w.tables.current());
    assert_eq!(list.static_nat, vec![entry]);
    assert_eq!(list.bridge_links.len(), 1);
    // The link carries a static NAT entry's bridge address: it stays.
    let e = badmin::bridge_link_clear(&w.dir, &w.tables, "br").unwrap_err();
    assert!(e.contains("on no bridge link's network"), "{e}");
    badmin::static_nat_clear(&w.dir, &w.tables, FIP.into()).unwrap();
    badmin::bridge_link_clear(&w.dir, &w.tables, "br").unwrap();
    assert!(w.tables.current().vpc.bridges.is_empty());
    let e = badmin::bridge_link_clear(&w.dir, &w.tables, "br").unwrap_err();
    assert!(e.contains("has no bridge link"), "{e}");
    let e = badmin::static_nat_clear(&w.dir, &w.tables, FIP.into()).unwrap_err();
    assert!(e.contains("has no static NAT entry"), "{e}");
    // Set again through the command: the port's link is replaced.
    badmin::bridge_link_set(&w.dir, r, &w.tables, link("100.0.7.0/24")).unwrap_err();
    let mut l = link("100.0.7.0/24");
    l.addr = Some("100.0.7.2".parse().unwrap());
    badmin::bridge_link_set(&w.dir, r, &w.tables, l).unwrap();
    assert_eq!(
        w.tables.current().vpc.bridges[0].net.to_string(),
        "100.0.7.0"
    );
}
