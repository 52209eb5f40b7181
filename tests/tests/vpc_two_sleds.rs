//! Two sled switches joined by a `net_memif` underlay; a guest on each, a Linux
//! network namespace behind a `net_tap` port. The guests take their addresses
//! by DHCP from the virtual gateway (a /32 with RFC 3442 routes), ping each
//! other, and carry an HTTP download across the Geneve underlay.
//!
//! Needs root (network namespaces), `dhclient` and `curl` (scripts/setup installs them).

use std::time::Duration;
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::netns::{dhcp, in_ns};
use vswitch_e2e::sleds::{http_download, TwoSleds};
use vswitch_e2e::{prom, Vswitch};

fn port_tx(sw: &Vswitch, name: &str) -> u64 {
    sw.port(name).counters.tx_packets
}

#[test]
fn guests_on_two_sleds_dhcp_ping_and_download_over_geneve() {
    let dir = tempfile::tempdir().unwrap();
    let TwoSleds {
        sw1,
        sw2,
        a,
        b,
        sleds: (_, sled2),
        namespaces: _ns,
    } = TwoSleds::start(dir.path(), 9000, Some(1400));

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
    let blob: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let got = http_download(dir.path(), &a, &b, &blob);
    assert!(got == blob, "the file arrived intact");

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
    // Each worker holds the flows it owns; together they hold them all,
    // and every packet one handed to another was taken (counted once each).
    let st = sw1.stats();
    let flows: f64 = st
        .workers
        .iter()
        .map(|w| {
            let (id, lc) = (w.id.to_string(), w.lcore.to_string());
            let l = [("worker", id.as_str()), ("lcore", lc.as_str())];
            // Scraped before these stats were read.
            assert!(prom::get(&m, "vswitch_worker_handoff_in_total", &l) <= w.handoff_in as f64);
            prom::get(&m, "vswitch_worker_flows", &l)
        })
        .sum();
    assert!(flows >= 1.0);
    for sw in [&sw1, &sw2] {
        let st = sw.wait_quiescent(Duration::from_millis(300), Duration::from_secs(10));
        let out: u64 = st.workers.iter().map(|w| w.handoff_out).sum();
        let inn: u64 = st.workers.iter().map(|w| w.handoff_in).sum();
        assert_eq!(out, inn, "handed off = taken");
        assert_eq!(st.total.drops.get("handoff_full"), Some(&0));
    }
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
