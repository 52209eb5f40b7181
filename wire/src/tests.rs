//! Cross-checks against `etherparse` (an independent implementation) in both
//! directions, whole-frame tests of `packet`, and robustness: no parser may
//! panic on any input.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Type, Icmpv6Header, Icmpv6Type, IpHeaders, IpNumber,
    LinkExtHeader, LinkHeader, NetHeaders, PacketBuilder, PacketHeaders, TcpOptionElement,
    TransportHeader, VlanId,
};

use super::*;
use crate::testing::*;

// ---------------------------------------------------------------------------
// etherparse builds, we parse.

#[test]
fn ours_parse_etherparse_vlan_tcp_syn() {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(VlanId::try_new(101).unwrap())
        .ipv4(V4_A, V4_B, 64)
        .tcp(50123, 443, 0x01020304, 65535)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap();
    let mut frame = Vec::new();
    b.write(&mut frame, &[]).unwrap();

    let p = parse_packet(&frame).unwrap();
    assert_eq!(p.l2.vlan.map(|t| t & 0xfff), Some(101));
    assert_eq!((p.l2.ethertype, p.l2.l3_offset), (0x0800, 18));
    assert_eq!(
        p.l4,
        Some(L4Info::Tcp {
            src_port: 50123,
            dst_port: 443,
            flags: tcp::flags::SYN
        })
    );
    let l3 = p.l3.unwrap();
    let mut seg = frame[l3.l4_offset..l3.end].to_vec();
    let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
    assert!(t.verify_checksum(ip4(V4_A), ip4(V4_B)));
    assert_eq!(t.seq_number(), 0x01020304);
    assert_eq!(t.mss().unwrap(), Some(1460));
    // Clamp the MSS with an incremental update; etherparse must agree.
    let old = t.checksum();
    assert_eq!(t.set_mss(1400).unwrap(), Some(1460));
    t.set_checksum(checksum::update16(old, 1460, 1400));
    frame[l3.l4_offset..l3.end].copy_from_slice(&seg);
    let h = PacketHeaders::from_ethernet_slice(&frame).unwrap();
    let Some(NetHeaders::Ipv4(iph, _)) = h.net else {
        panic!("not ipv4")
    };
    let Some(TransportHeader::Tcp(th)) = h.transport else {
        panic!("not tcp")
    };
    assert_eq!(th.checksum, th.calc_checksum_ipv4(&iph, &[]).unwrap());
    assert!(th
        .options_iterator()
        .any(|o| o == Ok(TcpOptionElement::MaximumSegmentSize(1400))));
}

// ---------------------------------------------------------------------------
// We emit, etherparse parses.

#[test]
fn etherparse_parses_our_ipv4_udp() {
    for vlan in [None, Some(0x3005)] {
        let f = our_ipv4_udp(b"hello, dhcp", vlan);
        let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
        let Some(LinkHeader::Ethernet2(eth)) = &h.link else {
            panic!("no ethernet")
        };
        assert_eq!((eth.source, eth.destination), (MAC_A, MAC_B));
        match (vlan, h.link_exts.first()) {
            (None, None) => {}
            (Some(tci), Some(LinkExtHeader::Vlan(v))) => {
                assert_eq!(v.vlan_id.value(), tci & 0xfff);
                assert_eq!(v.pcp.value(), (tci >> 13) as u8);
            }
            other => panic!("vlan mismatch {other:?}"),
        }
        let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
            panic!("not ipv4")
        };
        assert_eq!(
            (ip.source, ip.destination, ip.time_to_live),
            (V4_A, V4_B, 64)
        );
        assert_eq!(
            (ip.protocol, ip.identification, ip.dont_fragment),
            (IpNumber::UDP, 0x1234, true)
        );
        assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        let Some(TransportHeader::Udp(u)) = &h.transport else {
            panic!("not udp")
        };
        assert_eq!((u.source_port, u.destination_port, u.length), (68, 67, 19));
        assert_eq!(
            u.checksum,
            u.calc_checksum_ipv4(ip, b"hello, dhcp").unwrap()
        );
        assert_eq!(h.payload.slice(), b"hello, dhcp");
    }
}

#[test]
fn etherparse_parses_our_icmpv4() {
    let data = b"0123456789abcdef";
    let r = Icmpv4Repr::EchoReply {
        ident: 0xbeef,
        seq_no: 3,
        data,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]))
        .unwrap();
    let expect = Icmpv4Header::with_checksum(
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: 0xbeef, seq: 3 }),
        data,
    );
    assert_eq!(&b[..8], &expect.to_bytes()[..]);
}

/// Ethernet / IPv6 / Hop-by-Hop / Fragment (atomic) / `upper` written with
/// our reprs; extension headers by hand (RFC 8200 section 4).
fn our_ipv6(next: u8, upper: &[u8]) -> Vec<u8> {
    let exts = [
        44, 0, 1, 4, 0, 0, 0, 0, // Hop-by-Hop: next Fragment, PadN
        next, 0, 0, 0, 0, 0, 0, 9, // Fragment: offset 0, M=0, id 9
    ];
    let ip = Ipv6Repr {
        src_addr: "fd00:1::5".parse().unwrap(),
        dst_addr: "fd00:2::6".parse().unwrap(),
        next_header: 0,
        payload_len: exts.len() + upper.len(),
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    };
    let eth = EthernetRepr {
        src: MacAddr(MAC_A),
        dst: MacAddr(MAC_B),
        vlan: None,
        ethertype: ethertype::IPV6,
    };
    let mut f = vec![0u8; 14 + 40];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut f[..]))
        .unwrap();
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]))
        .unwrap();
    f.extend_from_slice(&exts);
    f.extend_from_slice(upper);
    f
}

#[test]
fn etherparse_parses_our_ipv6_icmpv6_and_tcp() {
    let s: Ipv6Addr = "fd00:1::5".parse().unwrap();
    let d: Ipv6Addr = "fd00:2::6".parse().unwrap();

    let echo = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 2,
        data: b"abc",
    };
    let mut icmp = vec![0u8; echo.buffer_len()];
    echo.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut icmp[..]))
        .unwrap();
    let f = our_ipv6(58, &icmp);
    let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
    let Some(NetHeaders::Ipv6(ip, exts)) = &h.net else {
        panic!("not ipv6")
    };
    assert_eq!(
        (ip.source, ip.destination, ip.hop_limit),
        (s.octets(), d.octets(), 255)
    );
    assert!(exts.hop_by_hop_options.is_some() && exts.fragment.is_some());
    let Some(TransportHeader::Icmpv6(ih)) = &h.transport else {
        panic!("not icmpv6: {:?}", h.transport)
    };
    let expect = Icmpv6Header::with_checksum(
        Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }),
        s.octets(),
        d.octets(),
        b"abc",
    )
    .unwrap();
    assert_eq!(ih, &expect);

    // TCP written with our setters.
    let mut seg = vec![0u8; 24 + 4];
    let mut t = TcpPacket::new_unchecked(&mut seg[..]);
    t.set_src_port(443);
    t.set_dst_port(50000);
    t.set_seq_number(7);
    t.set_ack_number(8);
    t.set_header_len(24);
    t.set_flags(tcp::flags::SYN | tcp::flags::ACK);
    t.set_window_len(1000);
    t.payload_mut().copy_from_slice(b"data");
    seg[20..24].copy_from_slice(&[2, 4, 0x05, 0x78]); // MSS 1400
    let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
    t.fill_checksum(s.into(), d.into()).unwrap();
    let f = our_ipv6(6, &seg);
    let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
    let Some(NetHeaders::Ipv6(ip, _)) = &h.net else {
        panic!("not ipv6")
    };
    let Some(TransportHeader::Tcp(th)) = &h.transport else {
        panic!("not tcp")
    };
    assert_eq!((th.source_port, th.destination_port), (443, 50000));
    assert!(th.syn && th.ack && !th.fin);
    assert_eq!(th.checksum, th.calc_checksum_ipv6(ip, b"data").unwrap());
    assert!(th
        .options_iterator()
        .any(|o| o == Ok(TcpOptionElement::MaximumSegmentSize(1400))));

    // And our own parser agrees on the same frame.
    let p = parse_packet(&f).unwrap();
    assert_eq!(p.l3.unwrap().l4_offset, 14 + 40 + 16);
    assert_eq!(
        p.l4,
        Some(L4Info::Tcp {
            src_port: 443,
            dst_port: 50000,
            flags: tcp::flags::SYN | tcp::flags::ACK
        })
    );
}

#[test]
fn etherparse_parses_our_ndp_and_udp6() {
    let s: Ipv6Addr = "fe80::a840:25ff:fe77:7777".parse().unwrap();
    let d: Ipv6Addr = "fe80::8:20ff:fe00:a".parse().unwrap();
    let na = Icmpv6Repr::Ndp(NdpRepr::NeighborAdvert {
        router: true,
        solicited: true,
        override_flag: true,
        target_addr: s,
        lladdr: Some(MacAddr(MAC_B)),
    });
    let mut b = vec![0u8; na.buffer_len()];
    na.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]))
        .unwrap();
    let f = our_ipv6(58, &b);
    let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
    let Some(TransportHeader::Icmpv6(ih)) = &h.transport else {
        panic!("not icmpv6")
    };
    let expect = ih
        .icmp_type
        .calc_checksum(s.octets(), d.octets(), h.payload.slice());
    assert_eq!(ih.checksum, expect.unwrap());

    let mut u = vec![0u8; 8 + 3];
    let mut up = UdpPacket::new_unchecked(&mut u[..]);
    UdpRepr {
        src_port: 547,
        dst_port: 546,
        payload_len: 3,
    }
    .emit(&mut up)
    .unwrap();
    up.payload_mut().copy_from_slice(b"v6!");
    up.fill_checksum(s.into(), d.into()).unwrap();
    // Fix the addresses in the frame to the ones used for the checksum.
    let mut f = our_ipv6(17, &u);
    f[22..38].copy_from_slice(&s.octets());
    f[38..54].copy_from_slice(&d.octets());
    let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
    let (Some(NetHeaders::Ipv6(ip, _)), Some(TransportHeader::Udp(uh))) = (&h.net, &h.transport)
    else {
        panic!("not udp6")
    };
    assert_eq!(uh.checksum, uh.calc_checksum_ipv6(ip, b"v6!").unwrap());
}

// ---------------------------------------------------------------------------
// Geneve frames, hand-built from RFC 8926 and our emitters.

/// Outer Ethernet / IPv6 / UDP 6081 / Geneve / `inner`.
fn our_geneve(g: &GeneveRepr, inner: &[u8]) -> Vec<u8> {
    let src: Ipv6Addr = "fd00:1701:d:101::1".parse().unwrap();
    let dst: Ipv6Addr = "fd00:1701:d:102::1".parse().unwrap();
    let glen = g.buffer_len();
    let udp = UdpRepr {
        src_port: 0xc123,
        dst_port: GENEVE_PORT,
        payload_len: glen + inner.len(),
    };
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: 17,
        payload_len: 8 + glen + inner.len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    let eth = EthernetRepr {
        src: MacAddr(MAC_A),
        dst: MacAddr(MAC_B),
        vlan: None,
        ethertype: ethertype::IPV6,
    };
    let mut f = vec![0u8; 14 + 40 + 8 + glen + inner.len()];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut f[..]))
        .unwrap();
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]))
        .unwrap();
    udp.emit(&mut UdpPacket::new_unchecked(&mut f[54..]))
        .unwrap();
    g.emit(&mut GenevePacket::new_unchecked(&mut f[62..]))
        .unwrap();
    f[62 + glen..].copy_from_slice(inner);
    f
}

#[test]
fn geneve_frame_round_trip() {
    let inner = our_ipv4_udp(b"inner", None);
    let g = GeneveRepr {
        external: true,
        mss: Some(1380),
        ..GeneveRepr::new(0x00ab_cdef)
    };
    let f = our_geneve(&g, &inner);
    let e = parse_geneve_packet(&f).unwrap();
    assert_eq!(e.geneve, g);
    assert!(!e.oam);
    assert_eq!(e.udp_offset, 54);
    assert_eq!(e.udp_src_port, 0xc123);
    assert_eq!(e.geneve_offset, 62);
    assert_eq!(e.inner_offset, 62 + 8 + 12);
    assert_eq!(e.inner_len, inner.len());
    assert_eq!(
        e.outer_dst,
        "fd00:1701:d:102::1".parse::<Ipv6Addr>().unwrap()
    );
    let inner_p = parse_packet(&f[e.inner_offset..e.inner_offset + e.inner_len]).unwrap();
    assert_eq!(inner_p.l3.unwrap().dst, ip4(V4_B));
    // etherparse sees a valid IPv6/UDP frame whose payload is our Geneve.
    let h = PacketHeaders::from_ethernet_slice(&f).unwrap();
    let Some(TransportHeader::Udp(u)) = h.transport else {
        panic!("not udp")
    };
    assert_eq!(u.destination_port, 6081);
    assert_eq!(usize::from(u.length), 8 + 20 + inner.len());

    // The outer frame parsed as a plain packet is UDP to 6081.
    let outer = parse_packet(&f).unwrap();
    assert_eq!(
        outer.l4,
        Some(L4Info::Udp {
            src_port: 0xc123,
            dst_port: 6081
        })
    );
}

#[test]
fn geneve_frame_rejects() {
    let inner = our_ipv4_udp(b"inner", None);
    let g = GeneveRepr::new(5);
    // Not port 6081.
    let mut f = our_geneve(&g, &inner);
    f[56..58].copy_from_slice(&4789u16.to_be_bytes());
    assert_eq!(
        parse_geneve_packet(&f).unwrap_err(),
        WireError::Unsupported("not geneve")
    );
    // A critical unknown option (RFC 8926 3.5: drop).
    let mut f = our_geneve(&g, &[]);
    f[62] = 1; // Opt Len 1 word
    f.extend_from_slice(&[0x01, 0x02, 0x80, 0x00]);
    f.extend_from_slice(&inner);
    let total = (f.len() - 54) as u16;
    f[18..20].copy_from_slice(&total.to_be_bytes());
    f[58..60].copy_from_slice(&total.to_be_bytes());
    assert_eq!(
        parse_geneve_packet(&f).unwrap_err(),
        WireError::Unsupported("critical geneve option")
    );
    // The same option, non-critical, is skipped.
    f[72] = 0x00;
    assert_eq!(parse_geneve_packet(&f).unwrap().inner_offset, 74);
    // An IPv4 underlay.
    let f = our_ipv4_udp(b"x", None);
    assert!(matches!(
        parse_geneve_packet(&f),
        Err(WireError::Unsupported(_))
    ));
    // A Geneve header with no room for the inner Ethernet header.
    let f = our_geneve(&g, &inner[..10]);
    assert_eq!(parse_geneve_packet(&f).unwrap_err(), WireError::Truncated);
}

// ---------------------------------------------------------------------------
// Robustness: every parser returns, on anything.

/// Runs every parser and every accessor on `data`, as the fuzz target does.
fn exercise(data: &[u8]) {
    if let Ok(p) = parse_packet(data) {
        if let Some(l3) = p.l3 {
            assert!(l3.l4_offset <= data.len() && l3.end <= data.len());
        }
    }
    if let Ok(e) = parse_geneve_packet(data) {
        assert!(e.inner_offset + e.inner_len <= data.len());
        let _ = parse_packet(&data[e.inner_offset..e.inner_offset + e.inner_len]);
    }
    if let Ok(f) = EthernetFrame::new_checked(data) {
        let _ = EthernetRepr::parse(&f);
        let _ = f.payload();
    }
    if let Ok(a) = ArpPacket::new_checked(data) {
        let _ = ArpRepr::parse(&a);
    }
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        let _ = Ipv4Repr::parse(&ip);
        let _ = (ip.options(), ip.payload(), ip.verify_checksum());
    }
    if let Ok(ip) = Ipv6Packet::new_checked(data) {
        let _ = Ipv6Repr::parse(&ip);
        let _ = ip.walk_ext();
    }
    let a4 = ip4(V4_A);
    let a6 = ip6(v6("fd00::1"));
    if let Ok(u) = UdpPacket::new_checked(data) {
        let _ = UdpRepr::parse(&u);
        let _ = (
            u.verify_checksum(a4, a4),
            u.verify_checksum(a6, a6),
            u.payload(),
        );
    }
    if let Ok(t) = TcpPacket::new_checked(data) {
        let _ = t.options_iter().count();
        let _ = (t.mss(), t.verify_checksum(a6, a6), t.payload());
        let mut copy = data.to_vec();
        if let Ok(mut t) = TcpPacket::new_checked(&mut copy[..]) {
            let _ = t.set_mss(1200);
        }
    }
    if let Ok(i) = Icmpv4Packet::new_checked(data) {
        let _ = Icmpv4Repr::parse(&i);
    }
    let s6 = Ipv6Addr::LOCALHOST;
    if let Ok(i) = Icmpv6Packet::new_checked(data) {
        let _ = Icmpv6Repr::parse(&s6, &s6, &i);
        let _ = NdpRepr::parse(&i);
        let _ = i.ndp_options().count();
    }
    if let Ok(d) = DhcpPacket::new_checked(data) {
        let _ = DhcpMessageRepr::parse(&d);
        let _ = d.options().count();
    }
    if let Ok(d) = Dhcpv6Packet::new_checked(data) {
        let _ = Dhcpv6MessageRepr::parse(&d);
        let _ = d.options().count();
    }
    if let Ok(g) = GenevePacket::new_checked(data) {
        let _ = GeneveRepr::parse(&g);
        let _ = g.options_iter().count();
    }
    let _ = ndp::NdpOptionIter::new(data).count();
    let _ = dhcpv4::DhcpOptionIter::new(data).count();
    let _ = dhcpv6::Dhcpv6OptionIter::new(data).count();
    let _ = dhcpv6::Dhcpv6IaNa::parse(data);
}

/// Valid packets of every kind, to truncate and mutate.
fn corpus() -> Vec<Vec<u8>> {
    let mut v = vec![
        our_ipv4_udp(b"payload", None),
        our_ipv4_udp(b"payload", Some(7)),
        our_geneve(
            &GeneveRepr {
                external: true,
                multicast: Some(1),
                mss: Some(1400),
                ..GeneveRepr::new(99)
            },
            &our_ipv4_udp(b"in", None),
        ),
    ];
    let (h, e) = ipv6_with_exts(Some((0, true)));
    let mut f = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ip(IpHeaders::Ipv6(h, e))
        .tcp(1, 2, 3, 4)
        .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
        .unwrap()
        .write(&mut f, b"tcp")
        .unwrap();
    v.push(f);
    let s: Ipv6Addr = "fe80::1".parse().unwrap();
    let ra = Icmpv6Repr::Ndp(NdpRepr::RouterAdvert {
        hop_limit: 64,
        managed: true,
        other: false,
        router_lifetime: 1800,
        reachable_time: 0,
        retrans_time: 0,
        lladdr: Some(MacAddr(MAC_B)),
        mtu: Some(1500),
        prefix_info: Some(NdpPrefixInfo {
            prefix_len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
            prefix: "fd00::".parse().unwrap(),
        }),
    });
    let mut b = vec![0u8; ra.buffer_len()];
    ra.emit(&s, &s, &mut Icmpv6Packet::new_unchecked(&mut b[..]))
        .unwrap();
    v.push(b.clone());
    v.push(our_ipv6(58, &b));
    let gw = Ipv4Addr::new(172, 30, 0, 1);
    let routes = [(Ipv4Addr::UNSPECIFIED, 0, gw)];
    let dns = [gw];
    let dhcp = DhcpReplyRepr {
        dns_servers: &dns,
        classless_routes: &routes,
        hostname: Some("h"),
        ..DhcpReplyRepr {
            message_type: DhcpMessageType::Offer,
            xid: 1,
            broadcast: false,
            client_hw_addr: MacAddr(MAC_A),
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: V4_A.into(),
            siaddr: gw,
            giaddr: Ipv4Addr::UNSPECIFIED,
            server_id: gw,
            subnet_mask: None,
            router: None,
            dns_servers: &[],
            hostname: None,
            domain_name: None,
            lease_time: Some(3600),
            mtu: Some(1450),
            classless_routes: &[],
        }
    };
    let mut b = vec![0u8; dhcp.buffer_len()];
    dhcp.emit(&mut b).unwrap();
    v.push(b);
    let reply = Dhcpv6ReplyRepr {
        msg_type: Dhcpv6MessageType::Advertise,
        transaction_id: 5,
        server_mac: MacAddr(MAC_B),
        client_id: &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6],
        ia_na: Some(dhcpv6::Dhcpv6IaNa {
            iaid: 1,
            t1: 2,
            t2: 3,
            addr: Some(dhcpv6::Dhcpv6IaAddr {
                addr: "fd00::5".parse().unwrap(),
                preferred_lifetime: 4,
                valid_lifetime: 5,
            }),
        }),
        dns_servers: &[],
        rapid_commit: true,
    };
    let mut b = vec![0u8; reply.buffer_len()];
    reply.emit(&mut b).unwrap();
    v.push(b);
    v
}

#[test]
fn corpus_is_valid() {
    let c = corpus();
    assert!(parse_packet(&c[0]).is_ok());
    assert!(parse_geneve_packet(&c[2]).is_ok());
    assert!(parse_packet(&c[3]).unwrap().l4.is_some());
    assert!(parse_packet(&c[5]).unwrap().l4.is_some());
}

#[test]
fn no_panic_on_truncations() {
    for pkt in corpus() {
        for cut in 0..=pkt.len() {
            exercise(&pkt[..cut]);
            // The same bytes seen from every offset, as a nested parser would.
            exercise(&pkt[cut..]);
        }
    }
}

#[test]
fn no_panic_on_mutations() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let corpus = corpus();
    for round in 0..20_000 {
        let mut pkt = corpus[round % corpus.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(pkt.len());
            pkt[i] = rng.next() as u8;
        }
        exercise(&pkt);
    }
}

#[test]
fn no_panic_on_random_bytes() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for _ in 0..20_000 {
        let n = rng.below(400);
        let mut b = rng.bytes(n);
        // Steer some inputs past the first checks of each layer.
        match rng.below(4) {
            0 if n > 14 => b[12..14].copy_from_slice(&[0x08, 0x00]),
            1 if n > 15 => {
                b[12..14].copy_from_slice(&[0x86, 0xdd]);
                b[14] = 0x60;
            }
            2 if n > 0 => b[0] = 0x45,
            _ => {}
        }
        exercise(&b);
    }
}

/// Writes the corpus as seeds for the fuzz target:
/// `WIRE_SEED_DIR=$PWD/fuzz/corpus/parse_packet cargo test -p vswitch write_fuzz_seeds -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let Ok(dir) = std::env::var("WIRE_SEED_DIR") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for (i, pkt) in corpus().iter().enumerate() {
        std::fs::write(format!("{dir}/seed-{i:02}"), pkt).unwrap();
    }
}
