//! Whatever arrives, nothing panics and everything is counted.

use std::net::Ipv4Addr;

use smoltcp::wire::{IpProtocol, Ipv4Packet};
use vswitch_metadata::{Limits, METADATA_ADDR};

use crate::harness::{
    fix_checksums, tcp_packet, two_nic_instance, World, ACK, GUEST_ADDR, RST, SYN,
};

fn syn() -> Vec<u8> {
    tcp_packet(GUEST_ADDR, METADATA_ADDR, 40000, 80, SYN, b"")
}

#[test]
fn malformed_packets_are_counted_and_dropped() {
    let mut w = World::new(Limits::default());
    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated header", syn()[..10].to_vec()),
        ("truncated segment", syn()[..30].to_vec()),
        (
            "wrong port",
            tcp_packet(GUEST_ADDR, METADATA_ADDR, 40000, 8080, SYN, b""),
        ),
        (
            "wrong address",
            tcp_packet(
                GUEST_ADDR,
                Ipv4Addr::new(169, 254, 169, 253),
                40000,
                80,
                SYN,
                b"",
            ),
        ),
        (
            "broadcast source",
            tcp_packet(Ipv4Addr::BROADCAST, METADATA_ADDR, 40000, 80, SYN, b""),
        ),
        (
            "source port 0",
            tcp_packet(GUEST_ADDR, METADATA_ADDR, 0, 80, SYN, b""),
        ),
    ];
    let mut udp = syn();
    Ipv4Packet::new_unchecked(&mut udp[..]).set_next_header(IpProtocol::Udp);
    fix_checksums(&mut udp);
    bad.push(("not TCP", udp));
    let mut ipv6 = syn();
    ipv6[0] = 0x65;
    bad.push(("version 6", ipv6));
    let mut ihl = syn();
    ihl[0] = 0x44;
    bad.push(("header length 16", ihl));
    let mut frag = syn();
    Ipv4Packet::new_unchecked(&mut frag[..]).set_more_frags(true);
    fix_checksums(&mut frag);
    bad.push(("fragment", frag));
    let mut ip_sum = syn();
    ip_sum[10] ^= 0xff;
    bad.push(("bad IPv4 checksum", ip_sum));
    let mut tcp_sum = tcp_packet(GUEST_ADDR, METADATA_ADDR, 40000, 80, SYN, b"x");
    tcp_sum[40] = b'y';
    bad.push(("bad TCP checksum", tcp_sum));
    let mut long_total = syn();
    Ipv4Packet::new_unchecked(&mut long_total[..]).set_total_len(60);
    fix_checksums(&mut long_total);
    bad.push(("total length past the end", long_total));

    for (i, (what, p)) in bad.iter().enumerate() {
        w.server.receive(7, p, w.now);
        assert_eq!(w.server.counters().malformed, i as u64 + 1, "{what}");
    }
    let mut out = Vec::new();
    w.server.poll(w.now, &|_: u32| None, &mut out);
    assert!(out.is_empty());
    let c = w.server.counters();
    assert_eq!(
        (c.packets_in, c.stacks, c.refused_no_stack),
        (bad.len() as u64, 0, 0)
    );

    // Well-formed but not a SYN, from a tenant without a stack: refused, not
    // given a stack.
    for flags in [ACK, RST, SYN | ACK] {
        w.server.receive(
            7,
            &tcp_packet(GUEST_ADDR, METADATA_ADDR, 40000, 80, flags, b""),
            w.now,
        );
    }
    let c = w.server.counters();
    assert_eq!((c.refused_no_stack, c.stacks), (3, 0));

    // Link padding after the IPv4 packet is fine.
    let mut padded = syn();
    padded.extend_from_slice(&[0; 6]);
    w.server.receive(7, &padded, w.now);
    w.server.poll(w.now, &|_: u32| None, &mut out);
    assert_eq!(out.len(), 1, "a SYN-ACK");
    assert_eq!(w.server.counters().malformed, bad.len() as u64);
}

/// xorshift64*, for reproducible garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_and_mutated_segments_never_panic_and_service_goes_on() {
    let mut w = World::new(Limits {
        max_stacks: 4,
        conns_per_stack: 2,
        ..Limits::default()
    });
    w.views.insert(3, two_nic_instance("i-3"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let templates = [
        syn(),
        tcp_packet(
            GUEST_ADDR,
            METADATA_ADDR,
            40000,
            80,
            ACK,
            b"GET /latest HTTP/1.1\r\n\r\n",
        ),
        tcp_packet(GUEST_ADDR, METADATA_ADDR, 40001, 80, RST | ACK, b""),
    ];
    let mut out = Vec::new();
    for round in 0..20_000u32 {
        let key = rng.below(6) as u32;
        let p = if round % 4 == 0 {
            let len = rng.below(80);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let mut p = templates[rng.below(templates.len())].clone();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(p.len());
                p[i] ^= 1 << rng.below(8);
            }
            if rng.below(4) != 0 {
                fix_checksums(&mut p);
            }
            p
        };
        w.server.receive(key, &p, w.now);
        if round % 16 == 0 {
            w.advance(std::time::Duration::from_millis(3));
            w.server.poll(w.now, &|_: u32| None, &mut out);
        }
    }
    let c = w.server.counters();
    assert_eq!(c.packets_in, 20_000);
    assert!(c.malformed > 5_000, "{c:?}");
    assert!(c.stacks <= 4, "{c:?}");

    // Whatever the garbage left half-open is reset after `idle`, and then
    // the service works for a real guest.
    for _ in 0..3 {
        w.advance(Limits::default().idle);
        w.server.poll(w.now, &|_: u32| None, &mut out);
    }
    let g = w.guest(3);
    let r = w.get(g, "/latest/meta-data/instance-id");
    assert_eq!((r.status, r.body.as_str()), (200, "i-3"));
}
