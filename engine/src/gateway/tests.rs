//! Tests of the virtual gateway, in OPTE's style: build a request frame,
//! run the layer on it, and read the reply back, with `etherparse` for an
//! independent check of headers and checksums and by hand (RFC layouts) for
//! the DHCP and NDP contents.

use super::*;
use crate::firewall::FirewallRules;
use crate::frame::frame_info;
use crate::pktbuf::VecPacket;
use crate::router::RouterTable;
use crate::vnic::{DhcpOptions, VnicSpec};
use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6Header, NetHeaders, PacketBuilder, PacketHeaders,
    TransportHeader, UdpHeader,
};

const PORT: u16 = 3;
const GUEST_MAC: MacAddr = MacAddr([0xa8, 0x40, 0x25, 0xff, 0x00, 0x05]);
const GW_MAC: MacAddr = MacAddr([0xa8, 0x40, 0x25, 0xff, 0x00, 0x01]);
const OTHER_MAC: MacAddr = MacAddr([0xa8, 0x40, 0x25, 0xff, 0x00, 0x66]);
const GUEST4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 5);
const GW4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 1);
const GUEST6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 5);
const GW6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// The guest's own link-local address (EUI-64 of its MAC).
const GUEST_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0xaa40, 0x25ff, 0xfeff, 0x0005);
const GW_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0xaa40, 0x25ff, 0xfeff, 0x0001);
const DNS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x53);
const MTU: u16 = 1450;

fn spec() -> VnicSpec {
    VnicSpec {
        id: 1,
        vni: 7,
        mac: GUEST_MAC,
        ipv4: Some(GUEST4),
        ipv6: Some(GUEST6),
        secondary: Vec::new(),
        source_dest_check: true,
        gateway_mac: GW_MAC,
        gateway_ipv4: Some(GW4),
        gateway_ipv6: Some(GW6),
        dhcp: DhcpOptions {
            dns: vec![
                IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
                IpAddr::V6(DNS6),
                IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
            ],
            hostname: Some("vm-1".into()),
            domain: Some("vpc.internal".into()),
            mtu: Some(MTU),
        },
    }
}

fn vnic_with(spec: VnicSpec) -> Vnic {
    Vnic {
        port: PORT,
        mtu: spec.dhcp.mtu.unwrap_or(1500),
        clamp_mtu: 1430,
        spec,
        epoch: 1,
        birth: 1,
        flow_quota: 1024,
        router: RouterTable::new(),
        firewall: FirewallRules::new(vec![]).unwrap(),
        hits: Default::default(),
        external_ips: Default::default(),
    }
}

fn vnic() -> Vnic {
    vnic_with(spec())
}

// ---- running the layer ----

fn run(v: &Vnic, frame: &[u8]) -> (Option<Outcome>, Vec<u8>) {
    let info = frame_info(frame).expect("test request must parse");
    let mut pkt = VecPacket::new(frame);
    let o = outbound(v, &info, &mut pkt);
    (o, pkt.to_vec())
}

/// Runs `frame` and asserts that the gateway answered it; returns the reply.
fn answered(v: &Vnic, frame: &[u8]) -> Vec<u8> {
    let (o, reply) = run(v, frame);
    assert_eq!(
        o,
        Some(Outcome {
            verdict: Verdict::Forward(PORT),
            path: Path::Hairpin
        })
    );
    assert!(reply.len() >= MIN_FRAME_LEN);
    reply
}

/// Runs `frame` and asserts that the gateway dropped it for `reason`.
fn assert_drop(v: &Vnic, frame: &[u8], reason: DropReason) {
    let (o, _) = run(v, frame);
    assert_eq!(
        o,
        Some(Outcome {
            verdict: Verdict::Drop(reason),
            path: Path::Early
        })
    );
}

// ---- building requests ----

fn eth(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// RFC 826 Ethernet/IPv4 ARP packet.
fn arp_packet(op: u16, sha: MacAddr, spa: Ipv4Addr, tha: MacAddr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 0x08, 0x00, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha.0);
    a.extend_from_slice(&spa.octets());
    a.extend_from_slice(&tha.0);
    a.extend_from_slice(&tpa.octets());
    a
}

fn arp_request(sha: MacAddr, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    eth(
        MacAddr::BROADCAST,
        GUEST_MAC,
        0x0806,
        &arp_packet(1, sha, spa, MacAddr::ZERO, tpa),
    )
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(sport, dport)
        .write(&mut f, payload)
        .unwrap();
    f
}

fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv6(src.octets(), dst.octets(), 64)
        .udp(sport, dport)
        .write(&mut f, payload)
        .unwrap();
    f
}

fn tcp4(src: Ipv4Addr, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv4(src.octets(), dst.octets(), 64)
        .tcp(40000, dport, 1, 64000)
        .syn()
        .write(&mut f, &[])
        .unwrap();
    f
}

fn tcp6(src: Ipv6Addr, dst: Ipv6Addr, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv6(src.octets(), dst.octets(), 64)
        .tcp(40000, dport, 1, 64000)
        .syn()
        .write(&mut f, &[])
        .unwrap();
    f
}

fn ping4(dst: Ipv4Addr, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv4(GUEST4.octets(), dst.octets(), 64)
        .icmpv4_echo_request(0x1234, 7)
        .write(&mut f, data)
        .unwrap();
    f
}

fn ping6(src: Ipv6Addr, dst: Ipv6Addr, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv6(src.octets(), dst.octets(), 64)
        .icmpv6_echo_request(0x4321, 9)
        .write(&mut f, data)
        .unwrap();
    f
}

/// An ICMPv6 message with the given type, bytes 4..8 and body.
fn icmp6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    msg_type: u8,
    word: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, MacAddr([0x33, 0x33, 0, 0, 0, 1]).0)
        .ipv6(src.octets(), dst.octets(), hop_limit)
        .icmpv6_raw(msg_type, 0, word)
        .write(&mut f, body)
        .unwrap();
    f
}

fn slla(mac: MacAddr) -> Vec<u8> {
    let mut o = vec![1, 1];
    o.extend_from_slice(&mac.0);
    o
}

fn router_solicit(src: Ipv6Addr) -> Vec<u8> {
    let body = if src.is_unspecified() {
        vec![]
    } else {
        slla(GUEST_MAC)
    };
    icmp6(src, "ff02::2".parse().unwrap(), 255, 133, [0; 4], &body)
}

fn neighbor_solicit(src: Ipv6Addr, target: Ipv6Addr, hop_limit: u8) -> Vec<u8> {
    // To the target's solicited-node multicast address.
    let t = target.octets();
    let dst = Ipv6Addr::from([
        0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15],
    ]);
    let mut body = target.octets().to_vec();
    if !src.is_unspecified() {
        body.extend_from_slice(&slla(GUEST_MAC));
    }
    icmp6(src, dst, hop_limit, 135, [0; 4], &body)
}

const XID: u32 = 0xdead_beef;

/// A DHCPv4 client message (RFC 2131 section 2 layout).
fn dhcp_message(
    msg_type: u8,
    broadcast: bool,
    ciaddr: Ipv4Addr,
    options: &[(u8, &[u8])],
) -> Vec<u8> {
    let mut b = vec![0u8; 240];
    b[0] = 1; // BOOTREQUEST
    b[1] = 1; // Ethernet
    b[2] = 6;
    b[4..8].copy_from_slice(&XID.to_be_bytes());
    if broadcast {
        b[10] = 0x80;
    }
    b[12..16].copy_from_slice(&ciaddr.octets());
    b[28..34].copy_from_slice(&GUEST_MAC.0);
    b[236..240].copy_from_slice(&[99, 130, 83, 99]);
    b.extend_from_slice(&[53, 1, msg_type]);
    b.extend_from_slice(&[61, 7, 1]);
    b.extend_from_slice(&GUEST_MAC.0);
    b.extend_from_slice(&[55, 6, 1, 3, 6, 15, 26, 121]);
    for (code, data) in options {
        b.push(*code);
        b.push(data.len() as u8);
        b.extend_from_slice(data);
    }
    b.push(255);
    b
}

const DISCOVER: u8 = 1;
const REQUEST: u8 = 3;
const DECLINE: u8 = 4;
const INFORM: u8 = 8;

fn dhcp_from_unconfigured(msg: &[u8]) -> Vec<u8> {
    udp4(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, 68, 67, msg)
}

const XID6: [u8; 3] = [0x12, 0x34, 0x56];
const IAID: [u8; 4] = [0, 0, 0, 9];

fn client_duid() -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(&GUEST_MAC.0);
    d
}

/// A DHCPv6 client message (RFC 8415 sections 8 and 21 layouts).
fn dhcpv6_message(
    msg_type: u8,
    ia_na: bool,
    rapid_commit: bool,
    extra: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut b = vec![msg_type];
    b.extend_from_slice(&XID6);
    let mut opt = |code: u16, data: &[u8]| {
        b.extend_from_slice(&code.to_be_bytes());
        b.extend_from_slice(&(data.len() as u16).to_be_bytes());
        b.extend_from_slice(data);
    };
    opt(1, &client_duid());
    opt(8, &[0, 0]);
    opt(6, &[0, 23]);
    if ia_na {
        let mut ia = IAID.to_vec();
        ia.extend_from_slice(&[0; 8]);
        opt(3, &ia);
    }
    if rapid_commit {
        opt(14, &[]);
    }
    for (code, data) in extra {
        opt(*code, data);
    }
    b
}

fn dhcpv6_frame(msg: &[u8]) -> Vec<u8> {
    udp6(GUEST_LL, ALL_DHCP_AGENTS, 546, 547, msg)
}

// ---- reading replies (independently of `wire`) ----

fn headers(frame: &[u8]) -> PacketHeaders<'_> {
    PacketHeaders::from_ethernet_slice(frame).expect("reply parses")
}

fn eth_addrs(h: &PacketHeaders<'_>) -> (MacAddr, MacAddr, u16) {
    let e = h
        .link
        .clone()
        .and_then(|l| l.ethernet2())
        .expect("Ethernet II");
    (MacAddr(e.destination), MacAddr(e.source), e.ether_type.0)
}

fn ipv4_of(h: &PacketHeaders<'_>) -> Ipv4Header {
    match &h.net {
        Some(NetHeaders::Ipv4(ip, _)) => {
            assert_eq!(
                ip.header_checksum,
                ip.calc_header_checksum(),
                "IPv4 header checksum"
            );
            ip.clone()
        }
        other => panic!("not IPv4: {other:?}"),
    }
}

fn ipv6_of(h: &PacketHeaders<'_>) -> Ipv6Header {
    match &h.net {
        Some(NetHeaders::Ipv6(ip, _)) => ip.clone(),
        other => panic!("not IPv6: {other:?}"),
    }
}

/// The UDP header and payload of an IPv4 or IPv6 reply, checksum verified.
fn udp_of<'a>(h: &PacketHeaders<'a>) -> (UdpHeader, &'a [u8]) {
    let Some(TransportHeader::Udp(u)) = &h.transport else {
        panic!("not UDP: {:?}", h.transport);
    };
    let payload = h.payload.slice();
    let expected = match &h.net {
        Some(NetHeaders::Ipv4(ip, _)) => u.calc_checksum_ipv4(ip, payload).unwrap(),
        Some(NetHeaders::Ipv6(ip, _)) => u.calc_checksum_ipv6(ip, payload).unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(u.checksum, expected, "UDP checksum");
    assert_eq!(usize::from(u.length), 8 + payload.len());
    (u.clone(), payload)
}

/// The whole ICMPv6 message of a reply (header included), checksum verified.
fn icmp6_of(frame: &[u8]) -> (Ipv6Header, Vec<u8>) {
    let h = headers(frame);
    let ip = ipv6_of(&h);
    assert_eq!(ip.next_header, IpNumber::IPV6_ICMP);
    let Some(TransportHeader::Icmpv6(icmp)) = &h.transport else {
        panic!("not ICMPv6: {:?}", h.transport);
    };
    let payload = h.payload.slice();
    let expected = icmp
        .icmp_type
        .calc_checksum(ip.source, ip.destination, payload)
        .unwrap();
    assert_eq!(icmp.checksum, expected, "ICMPv6 checksum");
    // Re-read the message raw: the NDP fields are checked byte by byte.
    let start = 14 + 40;
    let msg = frame[start..start + usize::from(ip.payload_length)].to_vec();
    (ip, msg)
}

/// DHCPv4 options of a reply as (code, value), in order, up to End.
fn dhcp_options(msg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&msg[236..240], &[99, 130, 83, 99], "magic cookie");
    let mut out = Vec::new();
    let mut i = 240;
    loop {
        match msg[i] {
            0 => i += 1,
            255 => return out,
            code => {
                let len = usize::from(msg[i + 1]);
                out.push((code, msg[i + 2..i + 2 + len].to_vec()));
                i += 2 + len;
            }
        }
    }
}

fn dhcp_option(opts: &[(u8, Vec<u8>)], code: u8) -> Option<Vec<u8>> {
    opts.iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v.clone())
}

/// DHCPv6 options as (code, value), in order.
fn dhcpv6_options(data: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let code = u16::from_be_bytes([data[i], data[i + 1]]);
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        out.push((code, data[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    assert_eq!(i, data.len(), "options fill the message exactly");
    out
}

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

// ---- link-local address ----

#[test]
fn gateway_link_local_is_modified_eui64() {
    assert_eq!(
        gateway_link_local(GW_MAC),
        "fe80::aa40:25ff:feff:1".parse::<Ipv6Addr>().unwrap()
    );
    // RFC 4291 appendix A's construction on a universal address.
    assert_eq!(
        gateway_link_local(MacAddr([0x00, 0x11, 0x22, 0x33, 0x44, 0x55])),
        "fe80::211:22ff:fe33:4455".parse::<Ipv6Addr>().unwrap()
    );
}

// ---- ARP ----

#[test]
fn arp_request_for_gateway_gets_reply() {
    let reply = answered(&vnic(), &arp_request(GUEST_MAC, GUEST4, GW4));
    assert_eq!(reply.len(), 60, "padded to the Ethernet minimum");
    assert!(reply[42..].iter().all(|&b| b == 0));
    let h = headers(&reply);
    assert_eq!(eth_addrs(&h), (GUEST_MAC, GW_MAC, 0x0806));
    let Some(NetHeaders::Arp(arp)) = &h.net else {
        panic!("not ARP: {:?}", h.net);
    };
    let arp = arp.try_eth_ipv4().unwrap();
    assert_eq!(arp.operation.0, 2);
    assert_eq!(arp.sender_mac, GW_MAC.0);
    assert_eq!(arp.sender_ipv4, GW4.octets());
    assert_eq!(arp.target_mac, GUEST_MAC.0);
    assert_eq!(arp.target_ipv4, GUEST4.octets());
}

#[test]
fn arp_probe_for_gateway_gets_reply_to_unspecified() {
    // RFC 5227 probe: sender 0.0.0.0. Answering tells the guest the address
    // is taken (it is the gateway's).
    let reply = answered(&vnic(), &arp_request(GUEST_MAC, Ipv4Addr::UNSPECIFIED, GW4));
    assert_eq!(&reply[0..6], &GUEST_MAC.0);
    assert_eq!(&reply[14 + 6..14 + 8], &[0, 2]);
    assert_eq!(&reply[14 + 24..14 + 28], &[0, 0, 0, 0]);
}

#[test]
fn arp_keeps_the_request_vlan() {
    let mut tagged = eth(
        MacAddr::BROADCAST,
        GUEST_MAC,
        0x8100,
        &[0x00, 0x64, 0x08, 0x06],
    );
    tagged.extend_from_slice(&arp_packet(1, GUEST_MAC, GUEST4, MacAddr::ZERO, GW4));
    let reply = answered(&vnic(), &tagged);
    assert_eq!(&reply[12..18], &[0x81, 0x00, 0x00, 0x64, 0x08, 0x06]);
    assert_eq!(&reply[18 + 8..18 + 14], &GW_MAC.0);
    assert_eq!(&reply[18 + 14..18 + 18], &GW4.octets());
}

#[test]
fn arp_for_anything_else_goes_unanswered() {
    let v = vnic();
    // Another address: the guest is a /32 and must go through the gateway.
    assert_drop(
        &v,
        &arp_request(GUEST_MAC, GUEST4, Ipv4Addr::new(172, 30, 0, 9)),
        DropReason::GatewayUnanswered,
    );
    // Gratuitous ARP for its own address.
    assert_drop(
        &v,
        &arp_request(GUEST_MAC, GUEST4, GUEST4),
        DropReason::GatewayUnanswered,
    );
    // An ARP reply.
    let reply = eth(
        GW_MAC,
        GUEST_MAC,
        0x0806,
        &arp_packet(2, GUEST_MAC, GUEST4, GW_MAC, GW4),
    );
    assert_drop(&v, &reply, DropReason::GatewayUnanswered);
    // No gateway IPv4.
    let v = vnic_with(VnicSpec {
        gateway_ipv4: None,
        ..spec()
    });
    assert_drop(
        &v,
        &arp_request(GUEST_MAC, GUEST4, GW4),
        DropReason::GatewayUnanswered,
    );
}

#[test]
fn arp_with_spoofed_sender_is_anti_spoof() {
    let v = vnic();
    assert_drop(
        &v,
        &arp_request(GUEST_MAC, Ipv4Addr::new(172, 30, 0, 6), GW4),
        DropReason::AntiSpoof,
    );
    // The Ethernet source is right, the ARP sender hardware address is not.
    assert_drop(
        &v,
        &arp_request(OTHER_MAC, GUEST4, GW4),
        DropReason::AntiSpoof,
    );
}

// ---- echo ----

#[test]
fn echo_v4_to_gateway_gets_reply() {
    let data = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let reply = answered(&vnic(), &ping4(GW4, data));
    let h = headers(&reply);
    assert_eq!(eth_addrs(&h), (GUEST_MAC, GW_MAC, 0x0800));
    let ip = ipv4_of(&h);
    assert_eq!(ip.source, GW4.octets());
    assert_eq!(ip.destination, GUEST4.octets());
    assert_eq!(ip.time_to_live, 64);
    assert_eq!(ip.protocol, IpNumber::ICMP);
    let Some(TransportHeader::Icmpv4(icmp)) = &h.transport else {
        panic!("not ICMP: {:?}", h.transport);
    };
    let payload = h.payload.slice();
    assert_eq!(payload, data);
    assert_eq!(
        icmp.checksum,
        icmp.icmp_type.calc_checksum(payload),
        "ICMP checksum"
    );
    match &icmp.icmp_type {
        etherparse::Icmpv4Type::EchoReply(e) => assert_eq!((e.id, e.seq), (0x1234, 7)),
        other => panic!("not an echo reply: {other:?}"),
    }
}

#[test]
fn echo_v4_with_ip_options_and_padding() {
    // IP options in the request: the reply has none, so the data moves up.
    let data = b"moved";
    let mut ip = Ipv4Header::new(0, 64, IpNumber::ICMP, GUEST4.octets(), GW4.octets()).unwrap();
    ip.options = (&[1u8, 1, 1, 0][..]).try_into().unwrap();
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ip(IpHeaders::Ipv4(ip, Default::default()))
        .icmpv4_echo_request(1, 2)
        .write(&mut f, data)
        .unwrap();
    let reply = answered(&vnic(), &f);
    let h = headers(&reply);
    assert_eq!(ipv4_of(&h).header_len(), 20);
    assert_eq!(h.payload.slice(), data);
    let Some(TransportHeader::Icmpv4(icmp)) = &h.transport else {
        panic!("not ICMP");
    };
    assert_eq!(icmp.checksum, icmp.icmp_type.calc_checksum(data));

    // A short request padded to 60 bytes: the padding is not echo data.
    let mut f = ping4(GW4, b"");
    f.resize(60, 0xee);
    let reply = answered(&vnic(), &f);
    let h = headers(&reply);
    assert!(h.payload.slice().is_empty());
    let Some(TransportHeader::Icmpv4(icmp)) = &h.transport else {
        panic!("not ICMP");
    };
    assert_eq!(icmp.checksum, icmp.icmp_type.calc_checksum(&[]));
    assert!(reply[42..].iter().all(|&b| b == 0), "padding is zeroed");
}

fn assert_echo6_reply(reply: &[u8], from: Ipv6Addr, to: Ipv6Addr, data: &[u8]) {
    let h = headers(reply);
    assert_eq!(eth_addrs(&h), (GUEST_MAC, GW_MAC, 0x86dd));
    let ip = ipv6_of(&h);
    assert_eq!(Ipv6Addr::from(ip.source), from);
    assert_eq!(Ipv6Addr::from(ip.destination), to);
    assert_eq!(ip.hop_limit, 64);
    let Some(TransportHeader::Icmpv6(icmp)) = &h.transport else {
        panic!("not ICMPv6: {:?}", h.transport);
    };
    let payload = h.payload.slice();
    assert_eq!(payload, data);
    assert_eq!(
        icmp.checksum,
        icmp.icmp_type
            .calc_checksum(ip.source, ip.destination, payload)
            .unwrap(),
        "ICMPv6 checksum"
    );
    match &icmp.icmp_type {
        etherparse::Icmpv6Type::EchoReply(e) => assert_eq!((e.id, e.seq), (0x4321, 9)),
        other => panic!("not an echo reply: {other:?}"),
    }
}

#[test]
fn echo_v6_to_gateway_gets_reply() {
    let data = b"ping six";
    let reply = answered(&vnic(), &ping6(GUEST6, GW6, data));
    assert_echo6_reply(&reply, GW6, GUEST6, data);
    // To the gateway's link-local address, from the guest's.
    let reply = answered(&vnic(), &ping6(GUEST_LL, GW_LL, data));
    assert_echo6_reply(&reply, GW_LL, GUEST_LL, data);
}

#[test]
fn malformed_echo_is_dropped_not_answered() {
    let mut f = ping4(GW4, b"abcd");
    let last = f.len() - 1;
    f[last] ^= 0xff; // breaks the ICMP checksum
    assert_drop(&vnic(), &f, DropReason::Malformed);
    let mut f = ping6(GUEST6, GW6, b"abcd");
    let last = f.len() - 1;
    f[last] ^= 0xff;
    assert_drop(&vnic(), &f, DropReason::Malformed);
}

// ---- DHCPv4 ----

/// The options every lease carries, in the order the server writes them.
fn lease_options(msg_type: u8) -> Vec<(u8, Vec<u8>)> {
    vec![
        (53, vec![msg_type]),
        (54, vec![172, 30, 0, 1]),
        (51, be32(86_400).to_vec()),
        (1, vec![255, 255, 255, 255]),
        (3, vec![172, 30, 0, 1]),
        (6, vec![1, 1, 1, 1, 8, 8, 8, 8]),
        (12, b"vm-1".to_vec()),
        (15, b"vpc.internal".to_vec()),
        (26, MTU.to_be_bytes().to_vec()),
        // RFC 3442: gateway/32 on-link, then 0.0.0.0/0 via the gateway.
        (121, vec![32, 172, 30, 0, 1, 0, 0, 0, 0, 0, 172, 30, 0, 1]),
    ]
}

/// Checks the Ethernet/IP/UDP envelope and BOOTP header of a DHCP reply;
/// returns the DHCP message.
fn dhcp_reply(reply: &[u8], l2_dst: MacAddr, l3_dst: Ipv4Addr) -> Vec<u8> {
    let h = headers(reply);
    assert_eq!(eth_addrs(&h), (l2_dst, GW_MAC, 0x0800));
    let ip = ipv4_of(&h);
    assert_eq!(ip.source, GW4.octets());
    assert_eq!(ip.destination, l3_dst.octets());
    assert_eq!(ip.time_to_live, 64);
    let (udp, msg) = udp_of(&h);
    assert_eq!((udp.source_port, udp.destination_port), (67, 68));
    assert!(msg.len() >= 300, "BOOTP minimum");
    assert_eq!(msg[0], 2, "BOOTREPLY");
    assert_eq!(&msg[1..3], &[1, 6]);
    assert_eq!(&msg[4..8], &XID.to_be_bytes());
    assert_eq!(&msg[28..34], &GUEST_MAC.0, "chaddr");
    msg.to_vec()
}

#[test]
fn dhcp_discover_gets_offer() {
    let req = dhcp_from_unconfigured(&dhcp_message(DISCOVER, true, Ipv4Addr::UNSPECIFIED, &[]));
    let reply = answered(&vnic(), &req);
    let msg = dhcp_reply(&reply, MacAddr::BROADCAST, Ipv4Addr::BROADCAST);
    assert_eq!(&msg[10..12], &[0x80, 0], "broadcast flag echoed");
    assert_eq!(&msg[12..16], &[0; 4], "ciaddr");
    assert_eq!(&msg[16..20], &GUEST4.octets(), "yiaddr");
    assert_eq!(dhcp_options(&msg), lease_options(2));
}

#[test]
fn dhcp_discover_without_broadcast_flag_is_unicast() {
    let req = dhcp_from_unconfigured(&dhcp_message(DISCOVER, false, Ipv4Addr::UNSPECIFIED, &[]));
    let reply = answered(&vnic(), &req);
    let msg = dhcp_reply(&reply, GUEST_MAC, GUEST4);
    assert_eq!(&msg[10..12], &[0, 0]);
    assert_eq!(&msg[16..20], &GUEST4.octets());
}

#[test]
fn dhcp_request_gets_ack() {
    // SELECTING: requested IP and the server id of the offer.
    let req = dhcp_message(
        REQUEST,
        false,
        Ipv4Addr::UNSPECIFIED,
        &[(50, &GUEST4.octets()), (54, &GW4.octets())],
    );
    let reply = answered(&vnic(), &dhcp_from_unconfigured(&req));
    let msg = dhcp_reply(&reply, GUEST_MAC, GUEST4);
    assert_eq!(&msg[16..20], &GUEST4.octets(), "yiaddr");
    assert_eq!(dhcp_options(&msg), lease_options(5));
}

#[test]
fn dhcp_renew_from_lease_gets_ack() {
    // RENEWING: ciaddr set, unicast from the leased address to the server.
    let req = dhcp_message(REQUEST, false, GUEST4, &[]);
    let reply = answered(&vnic(), &udp4(GUEST4, GW4, 68, 67, &req));
    let msg = dhcp_reply(&reply, GUEST_MAC, GUEST4);
    assert_eq!(dhcp_options(&msg), lease_options(5));
}

#[test]
fn dhcp_request_for_wrong_ip_gets_nak() {
    let req = dhcp_message(
        REQUEST,
        false,
        Ipv4Addr::UNSPECIFIED,
        &[(50, &[172, 30, 0, 77])],
    );
    let reply = answered(&vnic(), &dhcp_from_unconfigured(&req));
    // A NAK is broadcast at L3 (RFC 2131 4.1) and carries no lease.
    let msg = dhcp_reply(&reply, GUEST_MAC, Ipv4Addr::BROADCAST);
    assert_eq!(&msg[16..20], &[0; 4], "no yiaddr");
    assert_eq!(
        dhcp_options(&msg),
        vec![(53, vec![6]), (54, vec![172, 30, 0, 1])]
    );

    // RENEWING a lease that is not the guest's.
    let req = dhcp_message(REQUEST, false, Ipv4Addr::new(172, 30, 0, 77), &[]);
    let reply = answered(&vnic(), &dhcp_from_unconfigured(&req));
    let msg = dhcp_reply(&reply, GUEST_MAC, Ipv4Addr::BROADCAST);
    assert_eq!(dhcp_option(&dhcp_options(&msg), 53), Some(vec![6]));
}

#[test]
fn dhcp_inform_gets_ack_without_lease() {
    let req = dhcp_message(INFORM, false, GUEST4, &[]);
    let reply = answered(&vnic(), &udp4(GUEST4, Ipv4Addr::BROADCAST, 68, 67, &req));
    let msg = dhcp_reply(&reply, GUEST_MAC, GUEST4);
    assert_eq!(&msg[12..16], &GUEST4.octets(), "ciaddr echoed");
    assert_eq!(&msg[16..20], &[0; 4], "no yiaddr");
    let opts = dhcp_options(&msg);
    assert_eq!(dhcp_option(&opts, 53), Some(vec![5]));
    assert_eq!(dhcp_option(&opts, 51), None, "no lease time");
    assert_eq!(dhcp_option(&opts, 6), Some(vec![1, 1, 1, 1, 8, 8, 8, 8]));
    assert_eq!(
        dhcp_option(&opts, 121),
        lease_options(5)[9].1.clone().into()
    );
}

#[test]
fn dhcp_always_advertises_the_vnic_mtu() {
    let mut s = spec();
    s.dhcp.mtu = None;
    s.dhcp.hostname = None;
    let mut v = vnic_with(s);
    // What vnic-create computes without --mtu (a 1500 uplink: 1430).
    v.mtu = 1430;
    let req = dhcp_from_unconfigured(&dhcp_message(DISCOVER, true, Ipv4Addr::UNSPECIFIED, &[]));
    let reply = answered(&v, &req);
    let opts = dhcp_options(&dhcp_reply(&reply, MacAddr::BROADCAST, Ipv4Addr::BROADCAST));
    assert_eq!(dhcp_option(&opts, 26), Some(1430u16.to_be_bytes().to_vec()));
    assert_eq!(dhcp_option(&opts, 12), None);
    assert_eq!(dhcp_option(&opts, 15), Some(b"vpc.internal".to_vec()));
}

#[test]
fn dhcp_the_gateway_does_not_answer() {
    let v = vnic();
    // A REQUEST for another server's offer.
    let req = dhcp_message(
        REQUEST,
        false,
        Ipv4Addr::UNSPECIFIED,
        &[(50, &GUEST4.octets()), (54, &[10, 0, 0, 1])],
    );
    assert_drop(
        &v,
        &dhcp_from_unconfigured(&req),
        DropReason::GatewayUnanswered,
    );
    // DECLINE needs no answer.
    let req = dhcp_message(
        DECLINE,
        false,
        Ipv4Addr::UNSPECIFIED,
        &[(50, &GUEST4.octets())],
    );
    assert_drop(
        &v,
        &dhcp_from_unconfigured(&req),
        DropReason::GatewayUnanswered,
    );
    // A client asking for another hardware address.
    let mut req = dhcp_message(DISCOVER, true, Ipv4Addr::UNSPECIFIED, &[]);
    req[28..34].copy_from_slice(&OTHER_MAC.0);
    assert_drop(
        &v,
        &dhcp_from_unconfigured(&req),
        DropReason::GatewayUnanswered,
    );
    // No IPv4 configured.
    let v4less = vnic_with(VnicSpec {
        ipv4: None,
        ..spec()
    });
    let req = dhcp_from_unconfigured(&dhcp_message(DISCOVER, true, Ipv4Addr::UNSPECIFIED, &[]));
    assert_drop(&v4less, &req, DropReason::GatewayUnanswered);
    // Truncated BOOTP.
    assert_drop(
        &v,
        &dhcp_from_unconfigured(&[1, 1, 6, 0]),
        DropReason::Malformed,
    );
}

#[test]
fn dhcp_from_spoofed_source_is_anti_spoof() {
    let req = dhcp_message(DISCOVER, true, Ipv4Addr::UNSPECIFIED, &[]);
    let f = udp4(
        Ipv4Addr::new(172, 30, 0, 6),
        Ipv4Addr::BROADCAST,
        68,
        67,
        &req,
    );
    assert_drop(&vnic(), &f, DropReason::AntiSpoof);
}

// ---- NDP ----

#[test]
fn router_solicit_gets_router_advert() {
    let reply = answered(&vnic(), &router_solicit(GUEST_LL));
    let h = headers(&reply);
    assert_eq!(eth_addrs(&h), (GUEST_MAC, GW_MAC, 0x86dd));
    let (ip, m) = icmp6_of(&reply);
    assert_eq!(Ipv6Addr::from(ip.source), GW_LL);
    assert_eq!(Ipv6Addr::from(ip.destination), GUEST_LL);
    assert_eq!(ip.hop_limit, 255);
    // RFC 4861 4.2: type 134, code 0, cur hop limit 64, M|O, lifetime
    // 9000 (0x2328), reachable time 0, retrans timer 0.
    assert_eq!(&m[..2], &[134, 0]);
    assert_eq!(&m[4..8], &[64, 0xc0, 0x23, 0x28]);
    assert_eq!(&m[8..16], &[0; 8]);
    // Options: source link-layer address, MTU; no prefix information.
    let mut opts = slla(GW_MAC);
    opts.extend_from_slice(&[5, 1, 0, 0]);
    opts.extend_from_slice(&be32(u32::from(MTU)));
    assert_eq!(&m[16..], &opts[..]);
}

#[test]
fn router_solicit_from_unspecified_goes_to_all_nodes() {
    let reply = answered(&vnic(), &router_solicit(Ipv6Addr::UNSPECIFIED));
    let (ip, m) = icmp6_of(&reply);
    assert_eq!(Ipv6Addr::from(ip.destination), ALL_NODES);
    assert_eq!(&reply[..6], &GUEST_MAC.0, "L2 to the guest");
    assert_eq!(m[0], 134);
    // The MTU is always advertised: without --mtu, the one that fits.
    let mut v = vnic_with(spec());
    v.mtu = 1430;
    let reply = answered(&v, &router_solicit(GUEST_LL));
    let (_, m) = icmp6_of(&reply);
    assert_eq!(&m[16..24], &slla(GW_MAC)[..]);
    assert_eq!(
        &m[24..32],
        &[5, 1, 0, 0, 0, 0, 0x05, 0x96],
        "MTU option: 1430"
    );
}

fn assert_neighbor_advert(reply: &[u8], target: Ipv6Addr, to: Ipv6Addr, flags: u8) {
    let h = headers(reply);
    assert_eq!(eth_addrs(&h), (GUEST_MAC, GW_MAC, 0x86dd));
    let (ip, m) = icmp6_of(reply);
    assert_eq!(Ipv6Addr::from(ip.source), target);
    assert_eq!(Ipv6Addr::from(ip.destination), to);
    assert_eq!(ip.hop_limit, 255);
    // RFC 4861 4.4: type 136, flags R|S|O, target, target link-layer option.
    assert_eq!(&m[..2], &[136, 0]);
    assert_eq!(&m[4..8], &[flags, 0, 0, 0]);
    assert_eq!(&m[8..24], &target.octets());
    let mut tlla = vec![2, 1];
    tlla.extend_from_slice(&GW_MAC.0);
    assert_eq!(&m[24..], &tlla[..]);
}

#[test]
fn neighbor_solicit_for_gateway_gets_advert() {
    let v = vnic();
    let reply = answered(&v, &neighbor_solicit(GUEST_LL, GW_LL, 255));
    assert_neighbor_advert(&reply, GW_LL, GUEST_LL, 0xe0);
    let reply = answered(&v, &neighbor_solicit(GUEST6, GW6, 255));
    assert_neighbor_advert(&reply, GW6, GUEST6, 0xe0);
    // DAD for a gateway address: defended to all nodes, not "solicited".
    let reply = answered(&v, &neighbor_solicit(Ipv6Addr::UNSPECIFIED, GW_LL, 255));
    assert_neighbor_advert(&reply, GW_LL, ALL_NODES, 0xa0);
}

#[test]
fn other_ndp_goes_unanswered() {
    let v = vnic();
    // DAD for the guest's own addresses must see no answer.
    assert_drop(
        &v,
        &neighbor_solicit(Ipv6Addr::UNSPECIFIED, GUEST_LL, 255),
        DropReason::GatewayUnanswered,
    );
    assert_drop(
        &v,
        &neighbor_solicit(Ipv6Addr::UNSPECIFIED, GUEST6, 255),
        DropReason::GatewayUnanswered,
    );
    // Resolving some other address.
    assert_drop(
        &v,
        &neighbor_solicit(GUEST6, "fd00::9".parse().unwrap(), 255),
        DropReason::GatewayUnanswered,
    );
    // Hop limit below 255: may have been forwarded (RFC 4861 7.1.1).
    assert_drop(
        &v,
        &neighbor_solicit(GUEST_LL, GW_LL, 64),
        DropReason::GatewayUnanswered,
    );
    // An unsolicited NA and an RA from the guest.
    let mut na = GUEST_LL.octets().to_vec();
    na.extend_from_slice(&[2, 1]);
    na.extend_from_slice(&GUEST_MAC.0);
    let f = icmp6(GUEST_LL, ALL_NODES, 255, 136, [0x20, 0, 0, 0], &na);
    assert_drop(&v, &f, DropReason::GatewayUnanswered);
    let f = icmp6(GUEST_LL, ALL_NODES, 255, 134, [64, 0, 0, 0], &[0; 8]);
    assert_drop(&v, &f, DropReason::GatewayUnanswered);
}

#[test]
fn ndp_from_a_foreign_address_is_anti_spoof() {
    let f = neighbor_solicit("fd00::6".parse().unwrap(), GW6, 255);
    assert_drop(&vnic(), &f, DropReason::AntiSpoof);
}

// ---- DHCPv6 ----

/// Checks the envelope of a DHCPv6 reply; returns (msg-type, options).
fn dhcpv6_reply(reply: &[u8]) -> (u8, Vec<(u16, Vec<u8>)>) {
    let h = headers(reply);
    assert_eq!(eth_addrs(&h), (GUEST_MAC, GW_MAC, 0x86dd));
    let ip = ipv6_of(&h);
    assert_eq!(Ipv6Addr::from(ip.source), GW_LL);
    assert_eq!(Ipv6Addr::from(ip.destination), GUEST_LL);
    let (udp, msg) = udp_of(&h);
    assert_eq!((udp.source_port, udp.destination_port), (547, 546));
    assert_eq!(&msg[1..4], &XID6, "transaction id echoed");
    (msg[0], dhcpv6_options(&msg[4..]))
}

fn server_duid() -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(&GW_MAC.0);
    d
}

fn leased_ia_na() -> Vec<u8> {
    let mut ia = IAID.to_vec();
    ia.extend_from_slice(&be32(3600));
    ia.extend_from_slice(&be32(5400));
    ia.extend_from_slice(&[0, 5, 0, 24]);
    ia.extend_from_slice(&GUEST6.octets());
    ia.extend_from_slice(&be32(7200));
    ia.extend_from_slice(&be32(86_400));
    ia
}

#[test]
fn dhcpv6_solicit_gets_advertise() {
    let reply = answered(&vnic(), &dhcpv6_frame(&dhcpv6_message(1, true, false, &[])));
    let (msg_type, opts) = dhcpv6_reply(&reply);
    assert_eq!(msg_type, 2, "ADVERTISE");
    assert_eq!(
        opts,
        vec![
            (2, server_duid()),
            (1, client_duid()),
            (3, leased_ia_na()),
            (23, DNS6.octets().to_vec()),
        ]
    );
}

#[test]
fn dhcpv6_rapid_commit_solicit_gets_reply() {
    let reply = answered(&vnic(), &dhcpv6_frame(&dhcpv6_message(1, true, true, &[])));
    let (msg_type, opts) = dhcpv6_reply(&reply);
    assert_eq!(msg_type, 7, "REPLY");
    assert_eq!(
        opts,
        vec![
            (2, server_duid()),
            (1, client_duid()),
            (3, leased_ia_na()),
            (23, DNS6.octets().to_vec()),
            (14, vec![]),
        ]
    );
}

#[test]
fn dhcpv6_request_renew_and_information_request() {
    let v = vnic();
    for msg_type in [3u8, 5, 6] {
        let msg = dhcpv6_message(msg_type, true, false, &[(2, server_duid())]);
        let reply = answered(&v, &dhcpv6_frame(&msg));
        let (t, opts) = dhcpv6_reply(&reply);
        assert_eq!(t, 7);
        assert!(
            opts.contains(&(3, leased_ia_na())),
            "message type {msg_type}"
        );
    }
    // INFORMATION-REQUEST: DNS only, even without an address to lease.
    let v6less = vnic_with(VnicSpec {
        ipv6: None,
        ..spec()
    });
    let reply = answered(
        &v6less,
        &dhcpv6_frame(&dhcpv6_message(11, false, false, &[])),
    );
    let (t, opts) = dhcpv6_reply(&reply);
    assert_eq!(t, 7);
    assert_eq!(
        opts,
        vec![
            (2, server_duid()),
            (1, client_duid()),
            (23, DNS6.octets().to_vec())
        ]
    );
}

#[test]
fn dhcpv6_the_gateway_does_not_answer() {
    let v = vnic();
    // A REQUEST for another server.
    let other = vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 1];
    let msg = dhcpv6_message(3, true, false, &[(2, other)]);
    assert_drop(&v, &dhcpv6_frame(&msg), DropReason::GatewayUnanswered);
    // No address to lease.
    let v6less = vnic_with(VnicSpec {
        ipv6: None,
        ..spec()
    });
    let msg = dhcpv6_message(1, true, false, &[]);
    assert_drop(&v6less, &dhcpv6_frame(&msg), DropReason::GatewayUnanswered);
    // RELEASE.
    let msg = dhcpv6_message(8, true, false, &[(2, server_duid())]);
    assert_drop(&v, &dhcpv6_frame(&msg), DropReason::GatewayUnanswered);
    // Truncated option.
    let mut msg = dhcpv6_message(1, true, false, &[]);
    msg.pop();
    assert_drop(&v, &dhcpv6_frame(&msg), DropReason::Malformed);
}

#[test]
fn dhcpv6_from_a_foreign_address_is_anti_spoof() {
    let f = udp6(
        "fd00::6".parse().unwrap(),
        ALL_DHCP_AGENTS,
        546,
        547,
        &dhcpv6_message(1, true, false, &[]),
    );
    assert_drop(&vnic(), &f, DropReason::AntiSpoof);
}

// ---- anti-spoof, unanswered, ordinary traffic ----

#[test]
fn wrong_source_mac_is_anti_spoof() {
    let v = vnic();
    let mut f = tcp4(GUEST4, Ipv4Addr::new(10, 0, 0, 9), 80);
    f[6..12].copy_from_slice(&OTHER_MAC.0);
    assert_drop(&v, &f, DropReason::AntiSpoof);
    // Even for what the gateway would answer.
    let mut f = arp_request(GUEST_MAC, GUEST4, GW4);
    f[6..12].copy_from_slice(&OTHER_MAC.0);
    assert_drop(&v, &f, DropReason::AntiSpoof);
}

#[test]
fn wrong_source_ip_is_anti_spoof() {
    let v = vnic();
    assert_drop(
        &v,
        &tcp4(Ipv4Addr::new(172, 30, 0, 6), Ipv4Addr::new(10, 0, 0, 9), 80),
        DropReason::AntiSpoof,
    );
    assert_drop(
        &v,
        &tcp4(Ipv4Addr::UNSPECIFIED, Ipv4Addr::new(10, 0, 0, 9), 80),
        DropReason::AntiSpoof,
    );
    assert_drop(
        &v,
        &tcp6("fd00::6".parse().unwrap(), "fd00::9".parse().unwrap(), 80),
        DropReason::AntiSpoof,
    );
    // A link-local source may not leave the link.
    assert_drop(
        &v,
        &tcp6(GUEST_LL, "fd00::9".parse().unwrap(), 80),
        DropReason::AntiSpoof,
    );
    // A guest without IPv6 owns no IPv6 address.
    let v6less = vnic_with(VnicSpec {
        ipv6: None,
        ..spec()
    });
    assert_drop(
        &v6less,
        &tcp6(GUEST6, "fd00::9".parse().unwrap(), 80),
        DropReason::AntiSpoof,
    );
}

#[test]
fn traffic_for_the_gateway_or_the_link_goes_unanswered() {
    let v = vnic();
    let unanswered = DropReason::GatewayUnanswered;
    assert_drop(&v, &tcp4(GUEST4, GW4, 22), unanswered);
    assert_drop(&v, &tcp6(GUEST6, GW6, 22), unanswered);
    assert_drop(&v, &udp6(GUEST_LL, GW_LL, 5000, 53, b"x"), unanswered);
    // mDNS, v4 and v6, and a broadcast.
    assert_drop(
        &v,
        &udp4(GUEST4, Ipv4Addr::new(224, 0, 0, 251), 5353, 5353, b"q"),
        unanswered,
    );
    assert_drop(
        &v,
        &udp6(GUEST_LL, "ff02::fb".parse().unwrap(), 5353, 5353, b"q"),
        unanswered,
    );
    assert_drop(
        &v,
        &udp6(GUEST6, "ff02::fb".parse().unwrap(), 5353, 5353, b"q"),
        unanswered,
    );
    assert_drop(
        &v,
        &udp4(GUEST4, Ipv4Addr::BROADCAST, 5000, 5000, b"b"),
        unanswered,
    );
    // An echo reply (not a request) to the gateway.
    let mut f = Vec::new();
    PacketBuilder::ethernet2(GUEST_MAC.0, GW_MAC.0)
        .ipv4(GUEST4.octets(), GW4.octets(), 64)
        .icmpv4_echo_reply(1, 1)
        .write(&mut f, b"r")
        .unwrap();
    assert_drop(&v, &f, unanswered);
}

#[test]
fn non_ip_ethertypes_are_unsupported() {
    // LLDP.
    let f = eth(
        MacAddr([0x01, 0x80, 0xc2, 0, 0, 0x0e]),
        GUEST_MAC,
        0x88cc,
        &[0; 46],
    );
    assert_drop(&vnic(), &f, DropReason::Unsupported);
}

#[test]
fn ordinary_traffic_continues_untouched() {
    let v = vnic();
    for f in [
        tcp4(GUEST4, Ipv4Addr::new(10, 0, 0, 9), 443),
        udp4(GUEST4, Ipv4Addr::new(8, 8, 8, 8), 5353, 53, b"query"),
        ping4(Ipv4Addr::new(172, 30, 0, 9), b"peer"),
        tcp6(GUEST6, "fd00::9".parse().unwrap(), 443),
        ping6(GUEST6, "2001:db8::1".parse().unwrap(), b"far"),
        // A DHCP exchange with some other server is not the gateway's.
        udp4(GUEST4, Ipv4Addr::new(10, 0, 0, 67), 68, 67, b"not ours"),
    ] {
        let (o, after) = run(&v, &f);
        assert_eq!(o, None);
        assert_eq!(after, f, "the layer does not touch what it passes");
    }
}

// ---- robustness ----

/// Every request the gateway answers, corrupted at every byte and cut at
/// every length: the layer must never panic, and whatever it still answers
/// must be a well-formed frame.
#[test]
fn corrupted_requests_never_panic() {
    let v = vnic();
    let requests = [
        arp_request(GUEST_MAC, GUEST4, GW4),
        ping4(GW4, b"abcdefgh"),
        ping6(GUEST_LL, GW_LL, b"abcdefgh"),
        dhcp_from_unconfigured(&dhcp_message(DISCOVER, true, Ipv4Addr::UNSPECIFIED, &[])),
        router_solicit(GUEST_LL),
        neighbor_solicit(GUEST_LL, GW_LL, 255),
        dhcpv6_frame(&dhcpv6_message(1, true, true, &[])),
    ];
    for req in &requests {
        for i in 0..req.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut f = req.clone();
                f[i] ^= mask;
                check_no_panic(&v, &f);
            }
        }
        for len in 0..req.len() {
            check_no_panic(&v, &req[..len]);
        }
    }
}

fn check_no_panic(v: &Vnic, frame: &[u8]) {
    let Ok(info) = frame_info(frame) else {
        return;
    };
    let mut pkt = VecPacket::new(frame);
    if let Some(Outcome {
        verdict: Verdict::Forward(_),
        ..
    }) = outbound(v, &info, &mut pkt)
    {
        let reply = pkt.to_vec();
        assert!(frame_info(&reply).is_ok(), "a reply must parse");
    }
}

// ---- the instance metadata service ----

/// TCP to 169.254.169.254:80 from the guest's own address goes to the
/// metadata service, tagged with the NIC; any other port there, UDP, or a
/// spoofed source is dropped, and nothing becomes a flow.
#[test]
fn metadata_http_is_punted_with_the_nic_and_nothing_else_is() {
    let v = vnic();
    let (o, frame) = run(&v, &tcp4(GUEST4, METADATA_ADDR, 80));
    assert_eq!(
        o,
        Some(Outcome {
            verdict: Verdict::Metadata,
            path: Path::Hairpin
        })
    );
    assert_eq!(frame, tcp4(GUEST4, METADATA_ADDR, 80), "left as it came");
    assert_drop(
        &v,
        &tcp4(GUEST4, METADATA_ADDR, 81),
        DropReason::GatewayUnanswered,
    );
    assert_drop(
        &v,
        &udp4(GUEST4, METADATA_ADDR, 40000, 80, b"x"),
        DropReason::GatewayUnanswered,
    );
    assert_drop(
        &v,
        &tcp4(Ipv4Addr::new(10, 9, 9, 9), METADATA_ADDR, 80),
        DropReason::AntiSpoof,
    );
    // A secondary address may ask too.
    let mut s = spec();
    s.secondary = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 77))];
    let v2 = vnic_with(s);
    let (o, _) = run(&v2, &tcp4(Ipv4Addr::new(10, 0, 0, 77), METADATA_ADDR, 80));
    assert_eq!(o.map(|o| o.verdict), Some(Verdict::Metadata));
}
