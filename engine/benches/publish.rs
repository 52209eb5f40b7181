//! The cost of publishing one table change on a loaded switch: 1,000 VNICs
//! (in 10 VPCs) and 100,000 V2P entries, one route added or removed on one
//! VNIC per publication. A snapshot holds each table behind its own `Arc`
//! (V2P one per VNI), so a publication copies only what it changes; the run
//! also times, as the baseline in the same run, a deep copy of what the
//! snapshot held before that (the V2P map alone, 100,000 entries), which a
//! publication used to pay on top.
//!
//! `cargo bench -p vswitch-engine --bench publish` (results in perf/RESULTS.md).

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};
use vswitch_api::state::V2pTarget;
use vswitch_api::{RouteTarget, VnicCreate};
use vswitch_engine::control::commit;
use vswitch_engine::control::vpc::{self as admin, PortDirectory};
use vswitch_engine::tables::{Snapshot, TableStore};
use vswitch_engine::PortRole;
use wire::MacAddr;

const VNICS: usize = 1000;
const VPCS: u32 = 10;
const V2P: u32 = 100_000;
const ROUNDS: usize = 400;

fn mac(n: u32) -> vswitch_api::MacAddr {
    vswitch_api::MacAddr([0xa8, 0x40, 0x25, (n >> 16) as u8, (n >> 8) as u8, n as u8])
}

fn vni(n: u32) -> vswitch_api::Vni {
    vswitch_api::Vni::try_from(n).unwrap()
}

fn ip(vpc: u32, n: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, vpc as u8, (n >> 8) as u8, n as u8)
}

fn sled(n: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x1122, 0, (n % 64) as u16, 0, 0, 0, 1)
}

fn main() {
    let mut names: Vec<String> = vec!["up".into()];
    let mut roles = vec![PortRole::Uplink];
    let mut macs = vec![MacAddr([2, 0, 0, 0, 0, 1])];
    for i in 0..VNICS {
        names.push(format!("g{i}"));
        roles.push(PortRole::Guest);
        macs.push(MacAddr([2, 0, 0, 1, (i >> 8) as u8, i as u8]));
    }
    let dir = PortDirectory {
        names,
        roles,
        macs,
        workers: 1,
        flow_quota: 1 << 20,
        mtus: vec![],
        runtime: vec![],
    };
    let tables = TableStore::new(Snapshot::empty(VNICS + 1));
    admin::underlay_set(
        &dir,
        &tables,
        sled(0),
        "up",
        vswitch_api::MacAddr([2, 0, 0, 0, 0, 0xfe]),
    )
    .unwrap();
    let t0 = Instant::now();
    for i in 0..VNICS as u32 {
        let vpc = i % VPCS;
        admin::vnic_create(
            &dir,
            &tables,
            &VnicCreate {
                port: format!("g{i}"),
                id: i,
                vni: vni(100 + vpc),
                mac: mac(i),
                ipv4: Some(ip(vpc, 10 + i / VPCS)),
                ipv6: None,
                gateway_mac: mac(0xff_0001),
                gateway_ipv4: Some(Ipv4Addr::new(10, vpc as u8, 0, 1)),
                gateway_ipv6: None,
                dns: vec![],
                hostname: None,
                domain: None,
                mtu: None,
                flow_quota: None,
            },
        )
        .unwrap();
    }
    // 100,000 V2P entries, 10,000 per VPC, in one publication.
    commit::change(&dir, &tables, "bench", |s| {
        for n in 0..V2P {
            let vpc = n % VPCS;
            let target = V2pTarget {
                mac: mac(n),
                underlay: sled(n),
            };
            s.v2p
                .set(vni(100 + vpc), IpAddr::V4(ip(vpc, 1000 + n / VPCS)), target);
        }
        Ok(())
    })
    .unwrap();
    eprintln!(
        "set-up: {VNICS} VNICs, {} V2P entries in {:?}",
        tables.current().vpc.v2p.len(),
        t0.elapsed()
    );

    // One route change per publication, alternately added and removed.
    let dest: vswitch_api::Prefix = "192.0.2.0/24".parse().unwrap();
    let mut times = Vec::with_capacity(ROUNDS);
    for r in 0..ROUNDS {
        let port = format!("g{}", (r / 2) % VNICS);
        let t = Instant::now();
        if r % 2 == 0 {
            admin::route_add(&dir, &tables, &port, dest, RouteTarget::Drop, None).unwrap();
        } else {
            admin::route_del(&dir, &tables, &port, dest, None).unwrap();
        }
        times.push(t.elapsed());
    }
    // The baseline: a deep copy of the V2P map as one table held it.
    let flat: HashMap<(u32, IpAddr), vswitch_engine::overlay::v2p::PhysTarget> = tables
        .current()
        .vpc
        .v2p
        .entries()
        .into_iter()
        .map(|(vni, ip, t)| ((vni, ip), t))
        .collect();
    let mut copies = Vec::with_capacity(ROUNDS / 8);
    for _ in 0..ROUNDS / 8 {
        let t = Instant::now();
        black_box(flat.clone());
        copies.push(t.elapsed());
    }
    let (p, c) = (stats(&mut times), stats(&mut copies));
    println!(
        "publish one route change ({VNICS} VNICs, {V2P} V2P): median {:?} p99 {:?} max {:?}",
        p.0, p.1, p.2
    );
    println!(
        "baseline: deep copy of the V2P map: median {:?} p99 {:?} max {:?}",
        c.0, c.1, c.2
    );
    println!(
        "RESULT publish_median_us={:.1} publish_p99_us={:.1} v2p_deep_copy_median_us={:.1} ratio={:.1}",
        us(p.0),
        us(p.1),
        us(c.0),
        us(c.0) / us(p.0).max(0.001)
    );
}

fn stats(v: &mut [Duration]) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), at(1.0))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
