//! Every wire parser on arbitrary bytes: each must return Ok or Err, never
//! panic, and every offset it reports must lie inside the input.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_packet -- -max_total_time=60`.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use engine::flow_key;
use wire::{
    dhcpv4, dhcpv6, ndp, parse_geneve_packet, parse_packet, ArpPacket, ArpRepr,
    DhcpMessageRepr, DhcpPacket, Dhcpv6MessageRepr, Dhcpv6Packet, EthernetFrame, EthernetRepr,
    GenevePacket, GeneveRepr, Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, Ipv4Packet,
    Ipv4Repr, Ipv6Packet, Ipv6Repr, NdpRepr, TcpPacket, UdpPacket, UdpRepr,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse_packet(data) {
        let _ = flow_key(&p);
        if let Some(l3) = p.l3 {
            assert!(l3.l4_offset <= data.len() && l3.end <= data.len());
        }
    }
    if let Ok(e) = parse_geneve_packet(data) {
        let inner = data
            .get(e.inner_offset..e.inner_offset + e.inner_len)
            .expect("inner frame inside the input");
        let _ = parse_packet(inner);
    }

    if let Ok(f) = EthernetFrame::new_checked(data) {
        let _ = EthernetRepr::parse(&f);
        let _ = (f.vlan(), f.ethertype(), f.payload());
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
        if let Ok(info) = ip.walk_ext() {
            assert!(info.offset <= data.len());
        }
    }

    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let v6 = Ipv6Addr::LOCALHOST;
    if let Ok(u) = UdpPacket::new_checked(data) {
        let _ = UdpRepr::parse(&u);
        let _ = (
            u.verify_checksum(v4, v4),
            u.verify_checksum(v6.into(), v6.into()),
        );
    }
    if let Ok(t) = TcpPacket::new_checked(data) {
        let _ = t.options_iter().count();
        let _ = (t.mss(), t.verify_checksum(v4, v4), t.payload());
        let mut copy = data.to_vec();
        if let Ok(mut t) = TcpPacket::new_checked(&mut copy[..]) {
            let _ = t.set_mss(1200);
        }
    }
    if let Ok(i) = Icmpv4Packet::new_checked(data) {
        let _ = Icmpv4Repr::parse(&i);
    }
    if let Ok(i) = Icmpv6Packet::new_checked(data) {
        let _ = Icmpv6Repr::parse(&v6, &v6, &i);
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
});
