//! 1,000 changes to the VPC tables while 1,000,000 frames flow guest ->
//! uplink through the whole VPC path (gateway, firewall, router, NAT,
//! Geneve encapsulation) lose nothing: routes, firewall rules, V2P entries,
//! external IPs and whole `apply`s, each published as a new generation
//! (and written to the state file first), every frame accounted for.
//!
//! pktgen (memif server, core 0) -> vswitch guest port `g` -> VNIC ->
//! Geneve -> uplink `up` -> pktgen, which counts what comes back.

use std::time::{Duration, Instant};
use vswitch_api::state::{PoolState, RouteState, SwitchState, UnderlayState, V2pTarget};
use vswitch_api::{Command as Cmd, ExternalIpsSpec, FwHostSpec, FwRuleSpec, Reply};
use vswitch_e2e::memif_loop::memif_loop;
use vswitch_e2e::{guest_vnic, typed, typed_all, vni, Vswitch, TEST_EAL};

const VNI: u32 = 100;
const GUEST_MAC: &str = "a8:40:25:00:00:05";
const GW_MAC: &str = "a8:40:25:ff:ff:01";

#[test]
fn a_thousand_vpc_changes_under_traffic_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // 10 s of traffic at 100 kpps: the changes must end while it still
    // flows, also with two workers polling both cores (where a CI run saw
    // the 1,000 durable changes outlast 6 s).
    let count: u64 = 1_000_000;
    let count_text = count.to_string();
    let looped = memif_loop(
        dir.path(),
        &[
            "--src-mac",
            GUEST_MAC,
            "--dst-mac",
            GW_MAC,
            "--src-ip",
            "172.30.0.5",
            "--dst-ip",
            "172.30.0.9",
            "--vary",
            "ports",
            "--flows",
            "64",
            "--rate",
            "100000",
            "--count",
            &count_text,
            "--duration",
            "60",
            "--drain",
            "1",
            "--json",
        ],
    );
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "g"
devargs = "{}"
role = "guest"
[[ports]]
name = "up"
devargs = "{}"
role = "uplink"
[[ports]]
name = "h"
devargs = "net_null0,no-rx=1"
role = "guest"
"#,
        looped.tx_devargs, looped.rx_devargs
    );
    // The VPC (guest 172.30.0.5 on this sled, 172.30.0.9 on another) is in
    // the state file the switch loads before its workers take traffic: not a
    // frame meets a half-configured switch.
    let mut vnic = guest_vnic("g", VNI, GUEST_MAC, "172.30.0.5");
    vnic.gateway_mac = typed(GW_MAC);
    let mut state = SwitchState::empty("sled");
    state.add_vnic(&vnic).routes.push(RouteState {
        dest: typed("172.30.0.0/22"),
        target: typed("subnet:172.30.0.0/22"),
        class: Some(typed("system")),
    });
    state.add_vnic(&guest_vnic("h", VNI, "a8:40:25:00:00:06", "172.30.0.6"));
    state.underlay = Some(UnderlayState {
        addr: "fd00:1701:d:101::1".parse().unwrap(),
        uplink: "up".into(),
        nexthop_mac: typed("02:aa:00:00:00:01"),
        endpoints: Vec::new(),
        forward: Vec::new(),
    });
    state.v2p.set(
        vni(VNI),
        "172.30.0.9".parse().unwrap(),
        V2pTarget {
            mac: typed("a8:40:25:00:00:09"),
            underlay: "fd00:1701:d:102::1".parse().unwrap(),
        },
    );
    state.pools.push(PoolState {
        name: "public".into(),
        ranges: typed_all(&["203.0.113.0/28"]),
    });
    std::fs::write(
        dir.path().join("state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let sw = Vswitch::start(dir.path(), &toml);
    let mut c = sw.connect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sw.port("up").counters.tx_packets == 0 {
        assert!(
            Instant::now() < deadline,
            "no traffic through the VPC path: {:?}",
            sw.stats().total.drops
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let swaps0 = sw.stats().snapshot_swaps;
    let base = match sw.request(Cmd::Export) {
        Reply::State { state, .. } => *state,
        other => panic!("{other:?}"),
    };
    let mut with_extra: SwitchState = base.clone();
    with_extra.v2p.set(
        vni(VNI),
        "172.30.0.78".parse().unwrap(),
        V2pTarget {
            mac: typed("a8:40:25:00:00:78"),
            underlay: "fd00:1701:d:103::1".parse().unwrap(),
        },
    );
    let rule = FwRuleSpec {
        direction: typed("in"),
        priority: 100,
        action: typed("allow"),
        hosts: vec![FwHostSpec::Vni(VNI)],
        protocols: typed_all(&["tcp"]),
        ports: vec![],
    };
    for i in 0..1000 {
        // Ten kinds of change, each moving g's epoch (or h's), each a new generation.
        let cmd = match i % 10 {
            0 => Cmd::RouteAdd {
                port: "g".into(),
                dest: typed("192.0.2.0/24"),
                target: typed("drop"),
                class: None,
            },
            1 => Cmd::RouteDel {
                port: "g".into(),
                dest: typed("192.0.2.0/24"),
                class: None,
            },
            2 => Cmd::FirewallSet {
                port: "g".into(),
                rules: vec![rule.clone()],
            },
            3 => Cmd::FirewallSet {
                port: "g".into(),
                rules: vec![],
            },
            4 => Cmd::V2pSet {
                vni: vni(VNI),
                ip: "172.30.0.77".parse().unwrap(),
                mac: typed("a8:40:25:00:00:77"),
                underlay: "fd00:1701:d:103::1".parse().unwrap(),
            },
            5 => Cmd::V2pClear {
                vni: vni(VNI),
                ip: "172.30.0.77".parse().unwrap(),
            },
            6 => Cmd::ExternalSet(ExternalIpsSpec {
                port: if i % 20 == 6 { "g" } else { "h" }.into(),
                floating: vec!["203.0.113.5".parse().unwrap()],
                ephemeral: None,
                snat: None,
                igw_map: None,
            }),
            7 => Cmd::ExternalClear {
                port: if i % 20 == 7 { "g" } else { "h" }.into(),
            },
            8 => Cmd::Apply {
                state: Box::new(with_extra.clone()),
                dry_run: false,
                if_generation: None,
            },
            _ => Cmd::Apply {
                state: Box::new(base.clone()),
                dry_run: false,
                if_generation: None,
            },
        };
        let r = c.request(&cmd);
        assert!(r.ok, "change {i}: {:?}", r.error);
    }
    let rx_during = sw.port("g").counters.rx_packets;
    let out = looped.gen.join().expect("pktgen thread");
    let totals = vswitch_e2e::pktgen_totals(&out);
    let st = sw.wait_quiescent(Duration::from_millis(300), Duration::from_secs(30));
    let (g, up) = (sw.port("g"), sw.port("up"));

    assert_eq!(
        st.snapshot_swaps - swaps0,
        1000,
        "each change was one generation"
    );
    assert!(
        rx_during < count,
        "the changes happened while traffic was still flowing"
    );
    assert_eq!(totals["sent"].as_u64(), Some(count), "{out}");
    assert_eq!(
        g.counters.rx_packets, count,
        "the switch received every frame sent"
    );
    let drops: u64 = st.total.drops.values().sum();
    assert_eq!(drops, 0, "drops: {:?}", st.total.drops);
    assert_eq!(
        up.counters.tx_packets, count,
        "every frame left encapsulated"
    );
    assert_eq!(st.total.rx_packets, st.total.tx_packets + drops);
    assert_eq!(
        totals["received"].as_u64(),
        Some(count),
        "pktgen got every frame: {out}"
    );
    assert!(
        g.counters.slow_path > 64,
        "epoch moves sent flows back through the layers"
    );
    let (status, _) = sw.shutdown();
    assert!(status.success());
}
