//! What naming a packet's owner worker costs (`owner::owner_of`: reading
//! the frame at fixed offsets and the symmetric hash; for traffic from the
//! boundary, the SNAT slice), beside the cost of processing the same frame
//! on the fast path (`Engine::process` on an installed flow), measured in
//! the same run. With several workers every received packet pays the
//! first; one worker pays neither.
//!
//! `cargo bench -p vswitch-engine --bench owner` (results in perf/RESULTS.md).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;
use vswitch_api::{AddrRange, ExternalIpsSpec, SnatRange, VnicCreate};
use vswitch_engine::control::igw as igw_admin;
use vswitch_engine::control::vpc::{self as admin, PortDirectory};
use vswitch_engine::owner::owner_of;
use vswitch_engine::sequencer::Engine;
use vswitch_engine::tables::{Snapshot, TableStore};
use vswitch_engine::PortRole;
use wire::pktbuf::VecPacket;
use wire::MacAddr;

const ROUNDS: u32 = 5_000_000;
const GUEST: u16 = 0;
const UPLINK: u16 = 1;

fn sled(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x1701, 0xd, 0x100 + n, 0, 0, 0, 1)
}

fn udp(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sp: u16,
    dp: u16,
) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, &[0u8; 18])
        .unwrap();
    v
}

/// `inner` in Geneve from sled 2 to sled 1 (`opts`: option words).
fn geneve(inner: &[u8], vni: u32, opts: &[u8]) -> Vec<u8> {
    let mut g = vec![(opts.len() / 4) as u8, 0, 0x65, 0x58];
    g.extend_from_slice(&(vni << 8).to_be_bytes());
    g.extend_from_slice(opts);
    g.extend_from_slice(inner);
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0xfe], [2, 0, 0, 0, 0, 1])
        .ipv6(sled(2).octets(), sled(1).octets(), 64)
        .udp(0xc123, 6081)
        .write(&mut v, &g)
        .unwrap();
    v
}

/// Nanoseconds per call of `f`, the best of three runs.
fn time(mut f: impl FnMut() -> u64) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let mut acc = 0u64;
            for _ in 0..ROUNDS {
                acc = acc.wrapping_add(f());
            }
            black_box(acc);
            t.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let gw = vswitch_api::MacAddr([0xa8, 0x40, 0x25, 0xff, 0, 1]);
    let dir = PortDirectory {
        names: vec!["g".into(), "up".into()],
        roles: vec![PortRole::Guest, PortRole::Uplink],
        macs: vec![MacAddr([2, 0, 0, 0, 0, 9]), MacAddr([2, 0, 0, 0, 0, 1])],
        workers: 4,
        flow_quota: 1 << 20,
        mtus: vec![],
        runtime: vec![],
    };
    let t = TableStore::new(Snapshot::empty(2));
    let mac = [0xa8, 0x40, 0x25, 0, 0, 5];
    admin::underlay_set(
        &dir,
        &t,
        sled(1),
        "up",
        vswitch_api::MacAddr([2, 0, 0, 0, 0, 0xfe]),
    )
    .unwrap();
    admin::vnic_create(
        &dir,
        &t,
        &VnicCreate {
            port: "g".into(),
            id: 1,
            vni: vswitch_api::Vni::try_from(100).unwrap(),
            mac: vswitch_api::MacAddr(mac),
            ipv4: Some(Ipv4Addr::new(172, 30, 0, 5)),
            ipv6: None,
            gateway_mac: gw,
            gateway_ipv4: Some(Ipv4Addr::new(172, 30, 0, 1)),
            gateway_ipv6: None,
            dns: vec![],
            hostname: None,
            domain: None,
            mtu: None,
            flow_quota: None,
        },
    )
    .unwrap();
    let remote = IpAddr::V4(Ipv4Addr::new(172, 30, 0, 9));
    admin::v2p_set(
        &dir,
        &t,
        vswitch_api::Vni::try_from(100).unwrap(),
        remote,
        vswitch_api::MacAddr([2, 0, 0, 0, 0, 9]),
        sled(2),
    )
    .unwrap();
    admin::route_add(
        &dir,
        &t,
        "g",
        "172.30.0.0/22".parse().unwrap(),
        "subnet:172.30.0.0/22".parse().unwrap(),
        None,
    )
    .unwrap();
    let snat: IpAddr = "198.51.100.13".parse().unwrap();
    igw_admin::pool_create(&dir, &t, "snat", &[AddrRange::new(snat, snat).unwrap()]).unwrap();
    igw_admin::external_set(
        &dir,
        &t,
        &ExternalIpsSpec {
            port: "g".into(),
            floating: vec![],
            ephemeral: None,
            snat: Some(SnatRange {
                ip: snat,
                first_port: 1024,
                last_port: 65535,
            }),
            igw_map: None,
        },
    )
    .unwrap();
    let snap = t.current();

    let out = udp(mac, gw.0, [172, 30, 0, 5], [172, 30, 0, 9], 5000, 80);
    let back = geneve(
        &udp(
            [2, 0, 0, 0, 0, 9],
            mac,
            [172, 30, 0, 9],
            [172, 30, 0, 5],
            80,
            5000,
        ),
        100,
        &[],
    );
    let from_boundary = geneve(
        &udp(
            [2, 0, 0, 0, 0, 0x99],
            [0xa8, 0x40, 0x25, 0x77, 0x77, 0x77],
            [203, 0, 113, 10],
            [198, 51, 100, 13],
            443,
            40000,
        ),
        99,
        &[0x01, 0x29, 0x00, 0x00],
    );
    let mut engine = Engine::new(1024);
    // Install the flow, so that processing is the fast path.
    let mut p = VecPacket::new(&out);
    engine.process(&snap, GUEST, &mut p, 0);

    let own_out = time(|| owner_of(&snap, GUEST, black_box(&out), 4).unwrap_or(9) as u64);
    let own_back = time(|| owner_of(&snap, UPLINK, black_box(&back), 4).unwrap_or(9) as u64);
    let own_bnd =
        time(|| owner_of(&snap, UPLINK, black_box(&from_boundary), 4).unwrap_or(9) as u64);
    let fast = time(|| {
        let mut p = VecPacket::new(black_box(&out));
        let o = engine.process(&snap, GUEST, &mut p, 1);
        matches!(o.verdict, vswitch_engine::Verdict::Forward(_)) as u64
    });
    println!("owner_of, guest frame (encap-1's):        {own_out:.1} ns/packet");
    println!("owner_of, Geneve from a sled (decap's):   {own_back:.1} ns/packet");
    println!("owner_of, from the boundary to SNAT:      {own_bnd:.1} ns/packet");
    println!(
        "baseline: Engine::process, encap-1 fast path (with a frame copy): {fast:.1} ns/packet"
    );
    println!("RESULT bench=owner owner_guest_ns={own_out:.1} owner_geneve_ns={own_back:.1} owner_boundary_ns={own_bnd:.1} fast_path_ns={fast:.1} owner_over_fast={:.3}", own_out / fast);
}
