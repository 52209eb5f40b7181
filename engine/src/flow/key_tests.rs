//! The flow key of parsed frames, cross-checked against `etherparse`: the
//! frames are built by etherparse and by the wire crate's test builders.

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{
    ArpHardwareId, ArpOperation as EpArpOp, ArpPacket as EpArp, EtherType, IpFragOffset, IpHeaders,
    IpNumber, Ipv4Header, NetHeaders, PacketBuilder, PacketHeaders,
};
use wire::testing::*;
use wire::*;

use crate::{flow_key, proto, FlowKey};

#[test]
fn ours_parse_etherparse_ipv4_udp() {
    let payload = b"some udp payload";
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(V4_A, V4_B, 61)
        .udp(40000, 53);
    let mut frame = Vec::new();
    b.write(&mut frame, payload).unwrap();
    // Ethernet padding must not be taken for IP payload.
    frame.extend_from_slice(&[0; 6]);

    let p = parse_packet(&frame).unwrap();
    assert_eq!(p.l2.src, MacAddr(MAC_A));
    assert_eq!(p.l2.dst, MacAddr(MAC_B));
    assert_eq!(
        (p.l2.vlan, p.l2.ethertype, p.l2.l3_offset),
        (None, 0x0800, 14)
    );
    let l3 = p.l3.unwrap();
    assert_eq!(
        (l3.src, l3.dst, l3.proto, l3.ttl),
        (ip4(V4_A), ip4(V4_B), 17, 61)
    );
    assert_eq!((l3.l4_offset, l3.end), (34, 14 + 20 + 8 + payload.len()));
    assert!(!l3.is_fragment);
    assert_eq!(
        p.l4,
        Some(L4Info::Udp {
            src_port: 40000,
            dst_port: 53
        })
    );

    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert!(ip.verify_checksum());
    let r = Ipv4Repr::parse(&ip).unwrap();
    assert_eq!(r.payload_len, 8 + payload.len());
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(udp.verify_checksum(ip4(V4_A), ip4(V4_B)));
    assert_eq!(udp.payload(), payload);
    assert_eq!(UdpRepr::parse(&udp).unwrap().payload_len, payload.len());

    let k = flow_key(&p).unwrap();
    assert_eq!(
        k,
        FlowKey {
            proto: proto::UDP,
            src: ip4(V4_A),
            dst: ip4(V4_B),
            src_port: 40000,
            dst_port: 53,
            icmp: None
        }
    );
}

#[test]
fn ours_parse_etherparse_icmpv4_echo() {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(V4_A, V4_B, 64)
        .icmpv4_echo_request(0x4242, 9);
    let mut frame = Vec::new();
    b.write(&mut frame, b"ping data").unwrap();
    let p = parse_packet(&frame).unwrap();
    let l3 = p.l3.unwrap();
    assert_eq!(
        p.l4,
        Some(L4Info::Icmp {
            icmp_type: 8,
            code: 0,
            echo_id: Some(0x4242)
        })
    );
    let icmp = Icmpv4Packet::new_checked(&frame[l3.l4_offset..l3.end]).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&icmp).unwrap(),
        Icmpv4Repr::EchoRequest {
            ident: 0x4242,
            seq_no: 9,
            data: b"ping data"
        }
    );
    let k = flow_key(&p).unwrap();
    assert_eq!(
        (k.src_port, k.dst_port, k.icmp),
        (0x4242, 0x4242, Some((8, 0)))
    );

    // The reply's key is the request key reversed.
    let b = PacketBuilder::ethernet2(MAC_B, MAC_A)
        .ipv4(V4_B, V4_A, 64)
        .icmpv4_echo_reply(0x4242, 9);
    let mut reply = Vec::new();
    b.write(&mut reply, b"ping data").unwrap();
    let rk = flow_key(&parse_packet(&reply).unwrap()).unwrap();
    assert_eq!(rk, k.reverse());
}

#[test]
fn ours_parse_etherparse_ipv6_extension_headers() {
    let src = ip6(v6("fd00:1::5"));
    let dst = ip6(v6("2001:db8::1"));
    // UDP, TCP and ICMPv6 each behind the same chain of extension headers.
    for l4 in 0..3 {
        let (h, e) = ipv6_with_exts(Some((0, false)));
        let step = PacketBuilder::ethernet2(MAC_A, MAC_B).ip(IpHeaders::Ipv6(h, e));
        let mut frame = Vec::new();
        match l4 {
            0 => step.udp(1000, 2000).write(&mut frame, b"x").unwrap(),
            1 => step
                .tcp(1000, 2000, 1, 100)
                .ack(5)
                .write(&mut frame, b"y")
                .unwrap(),
            _ => step
                .icmpv6_echo_reply(7, 8)
                .write(&mut frame, b"z")
                .unwrap(),
        }
        let eh = PacketHeaders::from_ethernet_slice(&frame).unwrap();
        let Some(NetHeaders::Ipv6(_, ep_exts)) = &eh.net else {
            panic!("not ipv6")
        };
        let ext_len = ep_exts.header_len();

        let ip = Ipv6Packet::new_checked(&frame[14..]).unwrap();
        let (proto, off) = ip.upper_layer().unwrap();
        assert_eq!(off, 40 + ext_len);
        let seg = &frame[14 + off..];
        let p = parse_packet(&frame).unwrap();
        let l3 = p.l3.unwrap();
        assert_eq!((l3.src, l3.dst, l3.ttl), (src, dst, 17));
        // An atomic fragment header does not make a fragment.
        assert!(!l3.is_fragment && l3.frag_offset == 0);
        assert_eq!(l3.l4_offset, 14 + off);
        match l4 {
            0 => {
                assert_eq!(proto, 17);
                let u = UdpPacket::new_checked(seg).unwrap();
                assert!(u.verify_checksum(src, dst));
                assert_eq!(
                    p.l4,
                    Some(L4Info::Udp {
                        src_port: 1000,
                        dst_port: 2000
                    })
                );
            }
            1 => {
                assert_eq!(proto, 6);
                let t = TcpPacket::new_checked(seg).unwrap();
                assert!(t.verify_checksum(src, dst));
                assert!(t.ack() && t.ack_number() == 5);
                assert_eq!(t.payload(), b"y");
            }
            _ => {
                assert_eq!(proto, 58);
                let i = Icmpv6Packet::new_checked(seg).unwrap();
                let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
                    unreachable!()
                };
                assert_eq!(
                    Icmpv6Repr::parse(&s, &d, &i).unwrap(),
                    Icmpv6Repr::EchoReply {
                        ident: 7,
                        seq_no: 8,
                        data: b"z"
                    }
                );
                assert_eq!(flow_key(&p).unwrap().icmp, Some((129, 0)));
            }
        }
    }
}

#[test]
fn later_fragments_have_no_ports() {
    let (h, mut e) = ipv6_with_exts(Some((0x10, true)));
    // Without AH, which would otherwise be the fragment header's next header.
    e.auth = None;
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ip(IpHeaders::Ipv6(h, e))
        .udp(1, 2)
        .write(&mut frame, &[0; 16])
        .unwrap();
    let p = parse_packet(&frame).unwrap();
    let l3 = p.l3.unwrap();
    assert!(p.is_later_fragment());
    assert_eq!((l3.proto, l3.frag_offset, p.l4), (17, 0x80, None));
    let k = flow_key(&p).unwrap();
    assert_eq!((k.src_port, k.dst_port, k.icmp), (0, 0, None));

    // IPv4: a later fragment, and a first fragment whose UDP length covers
    // the whole datagram (more than this fragment carries).
    let mut ip = Ipv4Header::new(16, 64, IpNumber::UDP, V4_A, V4_B).unwrap();
    ip.more_fragments = true;
    ip.fragment_offset = IpFragOffset::try_new(185).unwrap();
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ip(IpHeaders::Ipv4(ip.clone(), Default::default()))
        .write(&mut frame, IpNumber::UDP, &[0xaa; 16])
        .unwrap();
    let p = parse_packet(&frame).unwrap();
    assert!(p.is_later_fragment() && p.l4.is_none());
    assert_eq!(p.l3.unwrap().frag_offset, 1480);

    ip.fragment_offset = IpFragOffset::try_new(0).unwrap();
    let mut first = vec![0x9c, 0x40, 0x00, 0x35, 0x05, 0xdc, 0, 0];
    first.extend_from_slice(&[0; 8]);
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ip(IpHeaders::Ipv4(ip, Default::default()))
        .write(&mut frame, IpNumber::UDP, &first)
        .unwrap();
    let p = parse_packet(&frame).unwrap();
    assert!(p.l3.unwrap().is_fragment && !p.is_later_fragment());
    assert_eq!(
        p.l4,
        Some(L4Info::Udp {
            src_port: 40000,
            dst_port: 53
        })
    );
}

#[test]
fn ours_parse_etherparse_arp() {
    let a = EpArp::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        EpArpOp::REQUEST,
        &MAC_A,
        &V4_A,
        &[0; 6],
        &[172, 30, 0, 1],
    )
    .unwrap();
    let bytes = a.to_bytes();
    let r = ArpRepr::parse(&ArpPacket::new_checked(&bytes[..]).unwrap()).unwrap();
    assert_eq!(r.operation, ArpOperation::Request);
    assert_eq!(r.source_hardware_addr, MacAddr(MAC_A));
    assert_eq!(r.target_protocol_addr, Ipv4Addr::new(172, 30, 0, 1));
    // And the reply we would send, read by etherparse.
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: MacAddr(MAC_B),
        source_protocol_addr: r.target_protocol_addr,
        target_hardware_addr: r.source_hardware_addr,
        target_protocol_addr: r.source_protocol_addr,
    };
    let mut out = [0u8; 28];
    reply
        .emit(&mut ArpPacket::new_unchecked(&mut out[..]))
        .unwrap();
    let e = EpArp::from_slice(&out).unwrap();
    assert_eq!(e.operation, EpArpOp::REPLY);
    assert_eq!(e.sender_hw_addr(), &MAC_B);
    assert_eq!(e.target_protocol_addr(), &V4_A);
    // A frame carrying ARP has no L3 facts in ParsedPacket.
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MacAddr::BROADCAST.0)
        .arp(a)
        .write(&mut frame)
        .unwrap();
    let p = parse_packet(&frame).unwrap();
    assert_eq!((p.l2.ethertype, p.l3, p.l4), (ethertype::ARP, None, None));
    assert_eq!(flow_key(&p), None);
}

#[test]
fn icmp_error_flow_key_has_no_ports() {
    let quoted = our_ipv4_udp(b"q", None);
    let r = Icmpv4Repr::DstUnreachable {
        code: 3,
        next_hop_mtu: 0,
        data: &quoted[14..14 + 28],
    };
    let mut icmp = vec![0u8; r.buffer_len()];
    r.emit(&mut Icmpv4Packet::new_unchecked(&mut icmp[..]))
        .unwrap();
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_B, MAC_A)
        .ipv4(V4_B, V4_A, 64)
        .write(&mut frame, IpNumber::ICMP, &icmp)
        .unwrap();
    let k = flow_key(&parse_packet(&frame).unwrap()).unwrap();
    assert_eq!(
        (k.proto, k.src_port, k.dst_port, k.icmp),
        (1, 0, 0, Some((3, 3)))
    );
}
