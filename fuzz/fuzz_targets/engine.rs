//! The whole engine on arbitrary frames: a configured sled (two guests, one
//! with SNAT, a floating IP and an inbound rule; an uplink; routes to the
//! VPC and the internet) and a configured boundary switch, the first byte of
//! the input choosing the way in (guest port, sled uplink, boundary uplink,
//! boundary external port) and the second how far the clock moves. Nothing
//! may panic; every frame lands in exactly one bucket (forwarded to a port
//! that exists, a reply on the port it came in on, or one drop reason); the
//! output is never longer than the input plus what encapsulation adds; and
//! the NAT state never holds more than the flows that own it.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run engine fuzz/corpus/engine -- -max_total_time=600`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;
use engine::control::{boundary as boundary_admin, igw as igw_admin, vpc as vpc_admin};
use engine::control::PortDirectory;
use engine::sequencer::Engine;
use engine::pktbuf::VecPacket;
use engine::tables::{Snapshot, TableStore};
use engine::{DropReason, Outcome, Path, PortRole, SwitchRole, Verdict};
use wire::MacAddr;
use vswitch_api::{ExternalIpsSpec, FwRuleSpec, SnatRange, VnicCreate};

/// Ports of the sled: guests 0 and 2, uplink 1.
const SLED_PORTS: u16 = 3;
/// Ports of the boundary: uplink 0, external 1.
const BOUNDARY_PORTS: u16 = 2;

struct Switches {
    sled: TableStore,
    sled_engine: Engine,
    boundary: TableStore,
    boundary_engine: Engine,
    now: u64,
}

fn dir(names: &[&str], roles: Vec<PortRole>) -> PortDirectory {
    PortDirectory {
        names: names.iter().map(|s| s.to_string()).collect(),
        macs: (0..names.len() as u8).map(|i| MacAddr([2, 0, 0, 0, 0, i])).collect(),
        roles,
        workers: 1,
        flow_quota: 64,
        mtus: vec![1500, 1500, 1500],
        runtime: vec![],
    }
}

/// A typed API value from a literal of the set-up.
fn typed<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("a literal of the set-up")
}

/// The VNI `n`.
fn vni(n: u32) -> vswitch_api::Vni {
    vswitch_api::Vni::try_from(n).expect("a 24-bit VNI")
}

fn vnic(port: &str, n: u8) -> VnicCreate {
    VnicCreate {
        port: port.into(),
        id: u32::from(n),
        vni: vni(100),
        mac: typed(&format!("a8:40:25:00:00:0{n}")),
        ipv4: Some([172, 30, 0, n].into()),
        ipv6: Some(format!("fd00::{n}").parse().expect("v6")),
        gateway_mac: typed("a8:40:25:00:00:01"),
        gateway_ipv4: Some([172, 30, 0, 1].into()),
        gateway_ipv6: Some("fd00::1".parse().expect("v6")),
        dns: vec![[172, 30, 0, 1].into()],
        hostname: Some("g".into()),
        domain: None,
        mtu: None,
        flow_quota: None,
    }
}

fn sled() -> TableStore {
    let d = dir(
        &["a", "up", "b"],
        vec![PortRole::Guest, PortRole::Uplink, PortRole::Guest],
    );
    let t = TableStore::new(Snapshot::empty(SLED_PORTS as usize));
    let must = |r: Result<u64, String>| r.expect("sled set-up");
    must(vpc_admin::vnic_create(&d, &t, &vnic("a", 5)));
    must(vpc_admin::vnic_create(&d, &t, &vnic("b", 6)));
    must(vpc_admin::underlay_set(
        &d,
        &t,
        "fd00:1701:d:101::1".parse().expect("v6"),
        "up",
        typed("02:00:00:00:00:fe"),
    ));
    for (ip, mac, sled) in [
        ("172.30.0.5", "a8:40:25:00:00:05", "fd00:1701:d:101::1"),
        ("172.30.0.6", "a8:40:25:00:00:06", "fd00:1701:d:101::1"),
        ("172.30.0.9", "a8:40:25:00:00:09", "fd00:1701:d:102::1"),
        ("fd00::9", "a8:40:25:00:00:09", "fd00:1701:d:102::1"),
    ] {
        must(vpc_admin::v2p_set(
            &d,
            &t,
            vni(100),
            ip.parse().expect("ip"),
            typed(mac),
            sled.parse().expect("v6"),
        ));
    }
    for port in ["a", "b"] {
        for (dest, target) in [
            ("172.30.0.0/22", "subnet:172.30.0.0/22"),
            ("fd00::/64", "subnet:fd00::/64"),
            ("0.0.0.0/0", "igw"),
            ("10.9.0.0/16", "drop"),
        ] {
            must(vpc_admin::route_add(
                &d,
                &t,
                port,
                typed(dest),
                typed(target),
                Some(typed("system")),
            ));
        }
        let rule = |dir: &str, protocols: &[&str]| FwRuleSpec {
            direction: typed(dir),
            priority: 100,
            action: typed("allow"),
            hosts: vec![typed("any")],
            protocols: protocols.iter().map(|s| typed(s)).collect(),
            ports: vec![],
        };
        must(vpc_admin::firewall_set(
            &d,
            &t,
            port,
            &[rule("in", &["tcp", "udp", "icmp"])],
        ));
    }
    igw_admin::pool_create(&d, &t, "public", &[typed("198.51.100.0/24")]).expect("pool");
    igw_admin::external_set(
        &d,
        &t,
        &ExternalIpsSpec {
            port: "a".into(),
            floating: vec!["198.51.100.20".parse().expect("ip")],
            ephemeral: None,
            snat: Some(SnatRange {
                ip: "198.51.100.13".parse().expect("ip"),
                first_port: 1024,
                last_port: 1100,
            }),
            igw_map: None,
        },
    )
    .expect("external");
    igw_admin::external_set(
        &d,
        &t,
        &ExternalIpsSpec {
            port: "b".into(),
            floating: vec![],
            ephemeral: None,
            snat: Some(SnatRange {
                ip: "198.51.100.13".parse().expect("ip"),
                first_port: 2000,
                last_port: 2003,
            }),
            igw_map: None,
        },
    )
    .expect("external");
    igw_admin::v2b_set(&d, &t, typed("0.0.0.0/0"), &["fd00:1701:d:1::1".parse().expect("v6")])
        .expect("v2b");
    t
}

fn boundary() -> TableStore {
    let d = dir(&["up", "ext"], vec![PortRole::Uplink, PortRole::External]);
    let t = TableStore::new(Snapshot::with_role(
        SwitchRole::Boundary,
        BOUNDARY_PORTS as usize,
    ));
    vpc_admin::underlay_set(
        &d,
        &t,
        "fd00:1701:d:1::1".parse().expect("v6"),
        "up",
        typed("02:00:00:00:00:fe"),
    )
    .expect("underlay");
    boundary_admin::external_port_set(
        &d,
        SwitchRole::Boundary,
        &t,
        "ext",
        typed("02:00:00:00:00:e1"),
        Some([192, 0, 2, 1].into()),
    )
    .expect("external port");
    for (ip, sled) in [
        ("198.51.100.20", "fd00:1701:d:101::1"),
        ("198.51.100.13", "fd00:1701:d:101::1"),
        ("2001:db8::5", "fd00:1701:d:102::1"),
    ] {
        boundary_admin::boundary_map_set(
            &d,
            SwitchRole::Boundary,
            &t,
            ip.parse().expect("ip"),
            sled.parse().expect("v6"),
        )
        .expect("map");
    }
    t
}

static SWITCHES: Mutex<Option<Switches>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let [way, tick, frame @ ..] = data else {
        return;
    };
    let Ok(mut guard) = SWITCHES.lock() else {
        return;
    };
    let s = guard.get_or_insert_with(|| Switches {
        sled: sled(),
        sled_engine: Engine::new(256),
        boundary: boundary(),
        boundary_engine: Engine::new(256),
        now: 0,
    });
    // Mostly small steps, sometimes past every timeout.
    s.now += if *tick == 0xff {
        10_000 * 1_000_000_000
    } else {
        u64::from(*tick) * 50_000_000
    };
    let (tables, engine, port, ports) = match way % 4 {
        0 => (&s.sled, &mut s.sled_engine, 0, SLED_PORTS),
        1 => (&s.sled, &mut s.sled_engine, 1, SLED_PORTS),
        2 => (&s.boundary, &mut s.boundary_engine, 0, BOUNDARY_PORTS),
        _ => (&s.boundary, &mut s.boundary_engine, 1, BOUNDARY_PORTS),
    };
    let snap = tables.current();
    // As the worker does: a burst, its first pass, then processing.
    let mut burst = [VecPacket::new(frame)];
    let mut out = [Outcome::drop(DropReason::Unsupported, Path::Early)];
    engine.process_burst(&snap, port, &mut burst[..], s.now, &mut out);
    let (o, pkt) = (out[0], &burst[0]);
    match o.verdict {
        Verdict::Forward(to) => {
            assert!(to < ports, "forwarded to port {to} of {ports}");
            if o.path == Path::Hairpin {
                assert_eq!(to, port, "a reply leaves where the request came in");
            }
            // Replies are rebuilt (at most an ICMPv6 error of 1280 bytes);
            // anything else grows by an encapsulation at most.
            let out = pkt.to_vec().len();
            assert!(out <= frame.len().max(14 + 1280) + 74, "{out} from {}", frame.len());
        }
        Verdict::Drop(reason) => assert!(!reason.as_str().is_empty()),
    }
    // Everything the NAT state holds belongs to a flow still in the table.
    engine.expire_flows(s.now, 0);
    let (_, held, replies) = engine.nat_state();
    let flows = engine.flows().len();
    assert!(held <= flows && replies <= flows, "{held} ports, {replies} reply keys, {flows} flows");
});
