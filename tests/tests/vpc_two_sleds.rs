//! Two sled switches joined by a `net_memif` underlay; a guest on each, a Linux
//! network namespace behind a `net_tap` port. The guests take their addresses
//! by DHCP from the virtual gateway (a /32 with RFC 3442 routes), ping each
//! other, and carry an HTTP download across the Geneve underlay.
//!
//! Needs root (network namespaces), `dhclient` and `curl` (scripts/setup installs them).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, FwRuleSpec, Reply, VnicCreate};
use vswitch_e2e::netns::{dhcp, in_ns, sh, Guest, Namespaces};
use vswitch_e2e::{prom, Vswitch, TEST_EAL};

const VNI: u32 = 100;
const GW_MAC: &str = "a8:40:25:00:00:01";

fn sled_config(uplink_devargs: &str, tap: &str, iface: &str) -> String {
    format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "up"
devargs = "{uplink_devargs}"
role = "uplink"
[[ports]]
name = "g"
devargs = "{tap},iface={iface}"
role = "guest"
"#
    )
}

fn configure(sw: &Vswitch, me: &Guest, my_sled: &str, peer: &Guest, peer_sled: &str) {
    let ok = |cmd: Cmd| {
        let r = sw.connect().request(&cmd);
        assert!(r.ok, "{cmd:?}: {:?}", r.error);
    };
    ok(Cmd::VnicCreate(VnicCreate {
        port: "g".into(),
        id: 1,
        vni: VNI,
        mac: me.mac.into(),
        ipv4: Some(me.ip.parse().unwrap()),
        ipv6: None,
        gateway_mac: GW_MAC.into(),
        gateway_ipv4: Some("172.30.0.1".parse().unwrap()),
        gateway_ipv6: None,
        dns: vec!["172.30.0.1".parse().unwrap()],
        hostname: Some(format!("guest-{}", me.ip.rsplit('.').next().unwrap_or("x"))),
        domain: Some("vpc.test".into()),
        mtu: Some(1400),
        flow_quota: None,
    }));
    ok(Cmd::UnderlaySet {
        addr: my_sled.parse().unwrap(),
        uplink: "up".into(),
        nexthop_mac: "02:00:00:00:00:fe".into(),
    });
    for (g, sled) in [(me, my_sled), (peer, peer_sled)] {
        ok(Cmd::V2pSet {
            vni: VNI,
            ip: g.ip.parse().unwrap(),
            mac: g.mac.into(),
            underlay: sled.parse().unwrap(),
        });
    }
    ok(Cmd::RouteAdd {
        port: "g".into(),
        dest: "172.30.0.0/22".into(),
        target: "subnet:172.30.0.0/22".into(),
        class: Some("system".into()),
    });
    let rule = |protocols: &[&str]| FwRuleSpec {
        direction: "in".into(),
        priority: 100,
        action: "allow".into(),
        hosts: vec![format!("vni:{VNI}")],
        protocols: protocols.iter().map(|s| s.to_string()).collect(),
        ports: vec![],
    };
    ok(Cmd::FirewallSet {
        port: "g".into(),
        rules: vec![rule(&["icmp"]), rule(&["tcp"])],
    });
}

fn port_tx(sw: &Vswitch, name: &str) -> u64 {
    sw.port(name).counters.tx_packets
}

#[test]
fn guests_on_two_sleds_dhcp_ping_and_download_over_geneve() {
    let dir = tempfile::tempdir().unwrap();
    let tag = std::process::id() % 100_000;
    let a = Guest {
        ns: format!("vsa{tag}"),
        iface: format!("vt{tag}a"),
        mac: "a8:40:25:00:00:05",
        ip: "172.30.0.5",
    };
    let b = Guest {
        ns: format!("vsb{tag}"),
        iface: format!("vt{tag}b"),
        mac: "a8:40:25:00:00:06",
        ip: "172.30.0.6",
    };
    let (sled1, sled2) = ("fd00:1701:d:101::1", "fd00:1701:d:102::1");
    let underlay = dir.path().join("underlay.memif");
    let (d1, d2) = (dir.path().join("sled1"), dir.path().join("sled2"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let memif = |role: &str| {
        format!(
            "net_memif0,role={role},socket={},socket-abstract=no,id=0",
            underlay.display()
        )
    };
    let sw1 = Vswitch::start(&d1, &sled_config(&memif("server"), "net_tap0", &a.iface));
    let sw2 = Vswitch::start(&d2, &sled_config(&memif("client"), "net_tap0", &b.iface));
    configure(&sw1, &a, sled1, &b, sled2);
    configure(&sw2, &b, sled2, &a, sled1);

    let _ns = Namespaces(vec![a.ns.clone(), b.ns.clone()]);
    for g in [&a, &b] {
        let _ = Command::new("ip").args(["netns", "del", &g.ns]).status();
        sh(&["ip", "netns", "add", &g.ns]);
        sh(&["ip", "link", "set", &g.iface, "netns", &g.ns]);
        in_ns(&g.ns, &["ip", "link", "set", &g.iface, "address", g.mac]);
        in_ns(&g.ns, &["ip", "link", "set", &g.iface, "up"]);
        in_ns(&g.ns, &["ip", "link", "set", "lo", "up"]);
    }

    // DHCP: the private IP as a /32, routes by RFC 3442, DNS, host name, MTU.
    let lease_a = dhcp(dir.path(), &a);
    assert!(
        lease_a.contains("ip=172.30.0.5 mask=255.255.255.255"),
        "{lease_a}"
    );
    assert!(
        lease_a.contains("host=guest-5 domain=vpc.test dns=172.30.0.1 mtu=1400"),
        "{lease_a}"
    );
    assert!(
        lease_a.contains("routes=32 172 30 0 1 0 0 0 0 0 172 30 0 1"),
        "{lease_a}"
    );
    let lease_b = dhcp(dir.path(), &b);
    assert!(
        lease_b.contains("ip=172.30.0.6 mask=255.255.255.255"),
        "{lease_b}"
    );
    let routes = in_ns(&a.ns, &["ip", "route"]);
    assert!(routes.contains("default via 172.30.0.1"), "{routes}");
    assert!(
        sw1.port("g").counters.hairpin >= 2,
        "the gateway answered DISCOVER and REQUEST"
    );

    // Ping across the underlay (ARP for the gateway first, answered by the switch).
    let ping = in_ns(
        &a.ns,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "172.30.0.6"],
    );
    assert!(ping.contains("3 received"), "{ping}");
    assert!(
        port_tx(&sw1, "up") >= 3 && port_tx(&sw2, "up") >= 3,
        "both sleds encapsulated"
    );

    // An HTTP download: a TCP stream across the Geneve underlay.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let blob: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(www.join("blob"), &blob).unwrap();
    let mut server: Child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &b.ns,
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            "172.30.0.6",
        ])
        .arg("--directory")
        .arg(&www)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let got = dir.path().join("got");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ok = false;
    while Instant::now() < deadline {
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &a.ns,
                "curl",
                "-sf",
                "--max-time",
                "20",
                "-o",
            ])
            .arg(&got)
            .arg("http://172.30.0.6:8080/blob")
            .status()
            .unwrap();
        if st.success() {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "the download failed");
    assert_eq!(
        std::fs::read(&got).unwrap(),
        blob,
        "the file arrived intact"
    );

    // The flows are in the flow tables, compiled as encapsulation toward the peer sled.
    let flows = match sw1.request(Cmd::Flows {
        port: Some("g".into()),
        limit: None,
        from: None,
    }) {
        Reply::Flows { flows, .. } => flows,
        other => panic!("{other:?}"),
    };
    // (curl may have retried while the server started: the download is the
    // busiest of the flows to port 8080.)
    let tcp = flows
        .iter()
        .filter(|f| f.proto == 6 && f.dst_port == 8080)
        .max_by_key(|f| f.hits)
        .expect("the TCP flow is in sled 1's table");
    assert!(tcp.out.as_deref().unwrap_or("").contains(sled2), "{tcp:?}");
    assert!(tcp.hits > 100, "the stream took the fast path: {tcp:?}");
    let st = sw1.stats();
    assert_eq!(st.total.drops["anti_spoof"], 0);

    // The layers dump shows the firewall rules with the flows they admitted.
    let layers = match sw2.request(Cmd::Layers { port: "g".into() }) {
        Reply::Layers(l) => l,
        other => panic!("{other:?}"),
    };
    let names: Vec<&str> = layers.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["gateway", "firewall", "router", "nat", "overlay"]);
    let fw = &layers.layers[1];
    assert_eq!(fw.rules.len(), 2);
    assert!(
        fw.rules.iter().all(|r| r.hits >= 1),
        "each inbound rule admitted a flow: {fw:?}"
    );
    let router = &layers.layers[2];
    assert!(router.rules[0].hits >= 1, "{router:?}");

    // Metrics: flow-table hits, slow path, gateway replies, table size, drops by layer.
    let m = prom::parse(&sw1.scrape());
    let g = [("port", "g")];
    assert!(prom::get(&m, "vswitch_port_flow_hits_total", &g) > 100.0);
    assert!(prom::get(&m, "vswitch_port_slow_path_total", &g) >= 2.0);
    assert!(prom::get(&m, "vswitch_port_gateway_replies_total", &g) >= 2.0);
    assert!(
        prom::get(
            &m,
            "vswitch_worker_flows",
            &[("worker", "0"), ("lcore", "1")]
        ) >= 1.0
    );
    let spoof = [
        ("port", "g"),
        ("layer", "gateway"),
        ("reason", "anti_spoof"),
    ];
    assert_eq!(prom::get(&m, "vswitch_port_drops_total", &spoof), 0.0);

    // Clearing the flow tables empties them.
    match sw1.request(Cmd::FlowsClear { port: None }) {
        Reply::Flows { cleared, .. } => assert!(cleared >= 2, "cleared {cleared}"),
        other => panic!("{other:?}"),
    }
    match sw1.request(Cmd::Flows {
        port: None,
        limit: None,
        from: None,
    }) {
        Reply::Flows { flows, .. } => assert!(flows.is_empty(), "{flows:?}"),
        other => panic!("{other:?}"),
    }

    let (s1, _) = sw1.shutdown();
    let (s2, _) = sw2.shutdown();
    assert!(s1.success() && s2.success());
}
