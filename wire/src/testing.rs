//! Frame builders and helpers shared by the wire tests and by the tests of
//! the crates above (the engine's flow-key tests): compiled for this crate's
//! tests and, with the `testing` feature, for theirs.

#![allow(clippy::unwrap_used, clippy::should_implement_trait, missing_docs)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    IpAuthHeader, IpFragOffset, IpNumber, Ipv6Extensions, Ipv6FlowLabel, Ipv6FragmentHeader,
    Ipv6Header, Ipv6RawExtHeader, Ipv6RoutingExtensions,
};

use crate::*;

pub const MAC_A: [u8; 6] = [0x02, 0x08, 0x20, 0x00, 0x00, 0x0a];
pub const MAC_B: [u8; 6] = [0xa8, 0x40, 0x25, 0x77, 0x77, 0x77];
pub const V4_A: [u8; 4] = [172, 30, 0, 5];
pub const V4_B: [u8; 4] = [93, 184, 216, 34];

pub fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

/// xorshift64: deterministic pseudo-random bytes without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

pub fn ip4(b: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(b))
}

pub fn ip6(b: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(b))
}

/// IPv6 with every extension header etherparse can write, before `l4`.
pub fn ipv6_with_exts(frag: Option<(u16, bool)>) -> (Ipv6Header, Ipv6Extensions) {
    let header = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::try_new(0xbeef).unwrap(),
        payload_length: 0,
        next_header: IpNumber(0),
        hop_limit: 17,
        source: v6("fd00:1::5"),
        destination: v6("2001:db8::1"),
    };
    let exts = Ipv6Extensions {
        hop_by_hop_options: Some(
            Ipv6RawExtHeader::new_raw(IpNumber(0), &[1, 4, 0, 0, 0, 0]).unwrap(),
        ),
        destination_options: Some(
            Ipv6RawExtHeader::new_raw(IpNumber(0), &[1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
                .unwrap(),
        ),
        routing: Some(Ipv6RoutingExtensions {
            routing: Ipv6RawExtHeader::new_raw(IpNumber(0), &[0, 0, 0, 0, 0, 0]).unwrap(),
            final_destination_options: None,
        }),
        fragment: frag.map(|(off, more)| {
            Ipv6FragmentHeader::new(IpNumber(0), IpFragOffset::try_new(off).unwrap(), more, 77)
        }),
        auth: Some(IpAuthHeader::new(IpNumber(0), 1, 2, &[0, 0, 0, 0]).unwrap()),
    };
    (header, exts)
}

/// Ethernet / IPv4 / UDP written with our reprs.
pub fn our_ipv4_udp(payload: &[u8], vlan: Option<u16>) -> Vec<u8> {
    let eth = EthernetRepr {
        src: MacAddr(MAC_A),
        dst: MacAddr(MAC_B),
        vlan,
        ethertype: ethertype::IPV4,
    };
    let udp = UdpRepr {
        src_port: 68,
        dst_port: 67,
        payload_len: payload.len(),
    };
    let ip = Ipv4Repr {
        src_addr: V4_A.into(),
        dst_addr: V4_B.into(),
        protocol: 17,
        payload_len: udp.buffer_len() + payload.len(),
        ttl: 64,
        dscp_ecn: 0,
        ident: 0x1234,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let l3 = eth.buffer_len();
    let l4 = l3 + ip.buffer_len();
    let mut f = vec![0u8; l4 + 8 + payload.len()];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut f[..]))
        .unwrap();
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[l3..]))
        .unwrap();
    let mut u = UdpPacket::new_unchecked(&mut f[l4..]);
    udp.emit(&mut u).unwrap();
    u.payload_mut().copy_from_slice(payload);
    u.fill_checksum(ip4(V4_A), ip4(V4_B)).unwrap();
    f
}
