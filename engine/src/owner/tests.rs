//! Ownership: the hash against the Toeplitz definition, SNAT slices, and
//! the owner of both directions of every kind of flow, read from real
//! frames (the engine's own output for the outbound side).

use super::slice::{slice_of_range, worker_of_port};
use super::toeplitz::{flow_hash, toeplitz_reference, words_hash, SYMMETRIC_RSS_KEY};
use super::{owner_of, worker_of_hash};
use crate::nat::igw::ExternalIps;
use crate::nat::tests::{
    boundary, check_to_boundary, from_boundary, igw_world, ip, set_external, snat_only, source_of,
    tcp_from_a, FIP2, SNAT_IP,
};
use crate::sequencer::Engine;
use crate::testing::Rng;
use crate::tests::*;
use crate::{proto, DropReason, FlowKey, PortIdx};
use etherparse::PacketBuilder;
use std::net::IpAddr;

/// Worker counts every check runs with.
const COUNTS: [usize; 5] = [2, 3, 4, 8, 16];

/// A random address of either family.
fn random_ip(r: &mut Rng, v6: bool) -> IpAddr {
    let x = r.next();
    if v6 {
        IpAddr::from((u128::from(x) << 64 | u128::from(r.next())).to_be_bytes())
    } else {
        IpAddr::from((x as u32).to_be_bytes())
    }
}

fn bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

#[test]
fn the_hash_is_toeplitz_with_the_symmetric_key_and_symmetric() {
    let mut r = Rng(0x1234_5678_9abc_def1);
    for i in 0..2000 {
        let v6 = i % 2 == 1;
        let p = [proto::TCP, proto::UDP, proto::ICMP, 47][i % 4];
        let k = FlowKey {
            proto: p,
            src: random_ip(&mut r, v6),
            dst: random_ip(&mut r, v6),
            src_port: r.next() as u16,
            dst_port: r.next() as u16,
            icmp: None,
        };
        // What a NIC hashes: addresses, then ports for TCP and UDP.
        let mut input = bytes(&k.src);
        input.extend(bytes(&k.dst));
        if matches!(p, proto::TCP | proto::UDP) {
            input.extend(k.src_port.to_be_bytes());
            input.extend(k.dst_port.to_be_bytes());
        }
        assert_eq!(
            flow_hash(&k),
            toeplitz_reference(&SYMMETRIC_RSS_KEY, &input),
            "{k:?}"
        );
        assert_eq!(flow_hash(&k), flow_hash(&k.reverse()), "{k:?}");
        assert_eq!(words_hash(&k.words()), flow_hash(&k), "packed form: {k:?}");
    }
}

#[test]
fn owners_spread_evenly() {
    let mut r = Rng(7);
    for n in COUNTS {
        let mut per = vec![0u32; n];
        for _ in 0..64_000 {
            let k = FlowKey {
                proto: proto::TCP,
                src: random_ip(&mut r, false),
                dst: random_ip(&mut r, false),
                src_port: r.next() as u16,
                dst_port: 443,
                icmp: None,
            };
            per[worker_of_hash(flow_hash(&k), n)] += 1;
        }
        let mean = 64_000 / n as u32;
        for c in per {
            assert!(
                c > mean * 8 / 10 && c < mean * 12 / 10,
                "{n} workers: {c} vs {mean}"
            );
        }
    }
}

#[test]
fn snat_slices_partition_the_range_and_name_their_worker() {
    for (first, last) in [
        (1024, 65535),
        (2000, 2003),
        (5000, 5000),
        (0, 65535),
        (3000, 3999),
    ] {
        for n in [1, 2, 3, 4, 7, 8, 16] {
            let mut next = first as u32;
            for w in 0..n {
                let Some((a, b)) = slice_of_range((first, last), w, n) else {
                    continue;
                };
                assert_eq!(a as u32, next, "slices are contiguous");
                assert!(a <= b);
                for p in [a, b, a + (b - a) / 2] {
                    assert_eq!(worker_of_port((first, last), p, n), Some(w));
                }
                next = b as u32 + 1;
            }
            assert_eq!(next, last as u32 + 1, "{first}-{last} over {n}: all ports");
        }
    }
    assert_eq!(worker_of_port((2000, 2003), 1999, 2), None);
    assert_eq!(
        slice_of_range((2000, 2000), 0, 2),
        None,
        "fewer ports than workers"
    );
}

/// An ICMPv4 port-unreachable from `src` to `dst`, quoting `quoted` (an IP
/// packet from its header on), inside Ethernet from `mac_src` to `mac_dst`.
fn unreachable(
    (mac_src, mac_dst): ([u8; 6], [u8; 6]),
    src: [u8; 4],
    dst: [u8; 4],
    quoted: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(mac_src, mac_dst)
        .ipv4(src, dst, 60)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ));
    let mut v = Vec::new();
    b.write(&mut v, quoted).unwrap();
    v
}

fn tcp(macs: ([u8; 6], [u8; 6]), src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, dst, 64)
        .tcp(sp, dp, 1, 4096)
        .ack(1);
    let mut v = Vec::new();
    b.write(&mut v, b"data").unwrap();
    v
}

fn owner(w: &World, port: PortIdx, f: &[u8], n: usize) -> usize {
    let snap = w.tables.current();
    owner_of(&snap, port, f, n).unwrap_or_else(|| panic!("no owner for a flow frame"))
}

#[test]
fn vpc_flows_have_one_owner_both_ways_and_for_their_icmp_errors() {
    let w = World::new();
    for n in COUNTS {
        for sport in (1000..60000u16).step_by(611) {
            // Guest a -> a guest on sled 2, and its reply in Geneve.
            let out = tcp((MAC_A, GW_MAC), IP_A, IP_REMOTE, sport, 80);
            let back = geneve(
                &tcp((MAC_REMOTE, MAC_A), IP_REMOTE, IP_A, 80, sport),
                sled(1),
                VNI,
                &[],
            );
            let o = owner(&w, GUEST_A, &out, n);
            assert_eq!(owner(&w, UPLINK, &back, n), o, "reply from sled 2");
            // An error from the remote guest about a's packet, and one from
            // a about the remote's.
            let err_in = geneve(
                &unreachable((MAC_REMOTE, MAC_A), IP_REMOTE, IP_A, &out[14..]),
                sled(1),
                VNI,
                &[],
            );
            assert_eq!(owner(&w, UPLINK, &err_in, n), o, "error quoting a's packet");
            let in_frame = tcp((MAC_REMOTE, MAC_A), IP_REMOTE, IP_A, 80, sport);
            let err_out = unreachable((MAC_A, GW_MAC), IP_A, IP_REMOTE, &in_frame[14..]);
            assert_eq!(owner(&w, GUEST_A, &err_out, n), o, "a's error");
            // Between two guests of this sled.
            let ab = tcp((MAC_A, GW_MAC), IP_A, IP_B, sport, 22);
            let ba = tcp((MAC_B, GW_MAC), IP_B, IP_A, 22, sport);
            assert_eq!(owner(&w, GUEST_A, &ab, n), owner(&w, GUEST_B, &ba, n));
        }
    }
    // The boundary's frames and ARP hold no state: no owner.
    let snap = w.tables.current();
    let arp = {
        let mut f = vec![0xff; 6];
        f.extend(MAC_A);
        f.extend([0x08, 0x06]);
        f.extend([0u8; 28]);
        f
    };
    assert_eq!(owner_of(&snap, GUEST_A, &arp, 4), None);
    assert_eq!(
        owner_of(&snap, GUEST_A, &tcp_from_a([1, 2, 3, 4], 1, 2), 1),
        None,
        "one worker"
    );
}

/// Guest a's TCP flow to `dst` through engine `e` (worker `w` of `n`):
/// the external source and port it leaves with.
fn leave(world: &mut World, e: Engine, sport: u16, dst: [u8; 4]) -> (Engine, [u8; 4], u16) {
    let mut e = e;
    std::mem::swap(&mut world.engine, &mut e);
    let (o, out) = world.run(GUEST_A, &tcp_from_a(dst, sport, 443), 0);
    std::mem::swap(&mut world.engine, &mut e);
    assert_eq!(forwarded(o), UPLINK);
    let (src, port) = source_of(&check_to_boundary(&out));
    (e, src, port)
}

#[test]
fn a_snat_reply_lands_on_the_worker_that_allocated_its_port() {
    const FIRST: u16 = 1024;
    const LAST: u16 = 1024 + 255;
    let mut world = igw_world();
    set_external(&world, GUEST_A, snat_only(FIRST, LAST));
    for n in COUNTS {
        let mut engines: Vec<Engine> = (0..n).map(|w| Engine::for_worker(1 << 12, w, n)).collect();
        for sport in 40000..40064u16 {
            let first = tcp_from_a([77, 77, 77, 77], sport, 443);
            let o = owner(&world, GUEST_A, &first, n);
            let e = std::mem::replace(&mut engines[o], Engine::new(1));
            let (e, src, port) = leave(&mut world, e, sport, [77, 77, 77, 77]);
            engines[o] = e;
            assert_eq!(src, SNAT_IP);
            let slice = slice_of_range((FIRST, LAST), o, n).unwrap();
            assert!(
                (slice.0..=slice.1).contains(&port),
                "{port} outside {slice:?}"
            );
            // The reply and an ICMP error about the flow, from the internet.
            let reply = tcp(
                ([2, 0, 0, 0, 0, 0x99], crate::frame::offsets::BOUNDARY_MAC),
                [77, 77, 77, 77],
                SNAT_IP,
                443,
                port,
            );
            let r = from_boundary(&reply);
            assert_eq!(owner(&world, UPLINK, &r, n), o, "reply to port {port}");
            let sent = tcp((MAC_A, GW_MAC), SNAT_IP, [77, 77, 77, 77], port, 443);
            let err = from_boundary(&unreachable(
                ([2, 0, 0, 0, 0, 0x99], crate::frame::offsets::BOUNDARY_MAC),
                [9, 9, 9, 9],
                SNAT_IP,
                &sent[14..],
            ));
            assert_eq!(
                owner(&world, UPLINK, &err, n),
                o,
                "error quoting port {port}"
            );
            // The owner translates the reply back; any other worker knows
            // nothing of the port.
            for (w, e) in engines.iter_mut().enumerate() {
                std::mem::swap(&mut world.engine, e);
                let (out, _) = world.run(UPLINK, &r, 1);
                std::mem::swap(&mut world.engine, e);
                if w == o {
                    assert_eq!(forwarded(out), GUEST_A);
                } else {
                    assert_eq!(dropped(out), DropReason::NatNoState);
                }
            }
        }
    }
}

#[test]
fn a_workers_exhausted_slice_takes_no_port_of_another() {
    let mut world = igw_world();
    // Four ports over two workers: two each.
    set_external(&world, GUEST_A, snat_only(2000, 2003));
    let mut e = Engine::for_worker(64, 1, 2);
    let mut got = Vec::new();
    for sport in 0..3u16 {
        std::mem::swap(&mut world.engine, &mut e);
        let (o, out) = world.run(
            GUEST_A,
            &tcp_from_a([77, 77, 77, 77], 40000 + sport, 443),
            0,
        );
        std::mem::swap(&mut world.engine, &mut e);
        match forwarded_or_drop(o) {
            Ok(_) => got.push(source_of(&check_to_boundary(&out)).1),
            Err(r) => assert_eq!(r, DropReason::SnatExhausted),
        }
    }
    assert_eq!(got, vec![2002, 2003], "worker 1's slice only");
    let (c, held, _) = e.nat_state();
    assert_eq!((c.allocated, c.exhausted, held), (2, 1, 2));
}

fn forwarded_or_drop(o: crate::Outcome) -> Result<PortIdx, DropReason> {
    match o.verdict {
        crate::Verdict::Forward(p) => Ok(p),
        crate::Verdict::Drop(r) => Err(r),
        crate::Verdict::Metadata => panic!("punted to the metadata service"),
    }
}

#[test]
fn floating_ip_flows_have_one_owner_both_ways() {
    let mut world = igw_world();
    set_external(
        &world,
        GUEST_A,
        ExternalIps {
            floating: vec![ip(FIP2)],
            ..Default::default()
        },
    );
    let _ = &mut world;
    let bmac = crate::frame::offsets::BOUNDARY_MAC;
    let net = [2, 0, 0, 0, 0, 0x99];
    for n in COUNTS {
        for sport in (1024..65000u16).step_by(997) {
            // In: a connection from the internet to the floating IP, and
            // the guest's answer from its private address.
            let syn = from_boundary(&tcp((net, bmac), [203, 0, 113, 7], FIP2, sport, 80));
            let answer = tcp((MAC_A, GW_MAC), IP_A, [203, 0, 113, 7], 80, sport);
            let o = owner(&world, UPLINK, &syn, n);
            assert_eq!(owner(&world, GUEST_A, &answer, n), o, "FIP in");
            // Out: the guest's connection, the reply to the floating IP, an
            // error quoting what left (from the floating IP), and the guest's
            // error about the reply.
            let out = tcp_from_a([198, 51, 100, 1], sport, 443);
            let back = tcp((net, bmac), [198, 51, 100, 1], FIP2, 443, sport);
            let o = owner(&world, GUEST_A, &out, n);
            assert_eq!(
                owner(&world, UPLINK, &from_boundary(&back), n),
                o,
                "FIP out"
            );
            let sent = tcp((MAC_A, GW_MAC), FIP2, [198, 51, 100, 1], sport, 443);
            let err = unreachable((net, bmac), [9, 9, 9, 9], FIP2, &sent[14..]);
            assert_eq!(
                owner(&world, UPLINK, &from_boundary(&err), n),
                o,
                "error in"
            );
            let delivered = tcp((GW_MAC, MAC_A), [198, 51, 100, 1], IP_A, 443, sport);
            let err = unreachable((MAC_A, GW_MAC), IP_A, [198, 51, 100, 1], &delivered[14..]);
            assert_eq!(owner(&world, GUEST_A, &err, n), o, "the guest's error");
        }
    }
    let _ = boundary();
}
