//! A `/metrics` scrape parses as Prometheus text and its values match the
//! counters `vswitchctl` reports.

use std::time::Duration;
use vswitch_e2e::{pcap, prom, Vswitch, TEST_EAL};

#[test]
fn scrape_parses_and_matches_the_counters() {
    let dir = tempfile::tempdir().unwrap();
    let frames = pcap::sample_frames(1200);
    let dropped = pcap::sample_frames(13);
    let a_in = dir.path().join("a.pcap");
    let c_in = dir.path().join("c.pcap");
    pcap::write(&a_in, &frames);
    pcap::write(&c_in, &dropped);
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "a"
devargs = "net_pcap0,rx_pcap={},tx_iface=lo"
role = "guest"
[[ports]]
name = "b"
devargs = "net_null0,no-rx=1"
role = "uplink"
[[ports]]
name = "c"
devargs = "net_pcap1,rx_pcap={},tx_iface=lo"
role = "external"
[[patch]]
from = "a"
to = "b"
"#,
        a_in.display(),
        c_in.display()
    );
    let sw = Vswitch::start(dir.path(), &toml);
    sw.wait_quiescent(Duration::from_millis(400), Duration::from_secs(30));
    sw.request(vswitch_api::Command::PatchSet {
        from: "c".into(),
        to: "b".into(),
    });
    let ports = sw.ports();
    let stats = sw.stats();
    let text = sw.scrape();
    let m = prom::parse(&text);

    // Counters follow the naming conventions.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (name, kind) = (parts[2], parts[3]);
        assert!(name.starts_with("vswitch_"), "{line}");
        assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
    }
    for p in &ports {
        let l = [("port", p.name.as_str())];
        assert_eq!(
            prom::get(&m, "vswitch_port_rx_packets_total", &l),
            p.counters.rx_packets as f64
        );
        assert_eq!(
            prom::get(&m, "vswitch_port_rx_bytes_total", &l),
            p.counters.rx_bytes as f64
        );
        assert_eq!(
            prom::get(&m, "vswitch_port_tx_packets_total", &l),
            p.counters.tx_packets as f64
        );
        assert_eq!(
            prom::get(&m, "vswitch_port_tx_bytes_total", &l),
            p.counters.tx_bytes as f64
        );
        for (reason, n) in &p.counters.drops {
            let v = prom::get(
                &m,
                "vswitch_port_drops_total",
                &[
                    ("port", p.name.as_str()),
                    ("layer", layer_of(reason)),
                    ("reason", reason),
                ],
            );
            assert_eq!(v, *n as f64, "{} {reason}", p.name);
        }
        assert_eq!(
            prom::get(
                &m,
                "vswitch_port_link_up",
                &[("port", p.name.as_str()), ("role", p.role.as_str())]
            ),
            1.0
        );
    }
    assert_eq!(
        prom::get(&m, "vswitch_port_rx_packets_total", &[("port", "a")]),
        1200.0
    );
    assert_eq!(
        prom::get(&m, "vswitch_port_tx_packets_total", &[("port", "b")]),
        1200.0
    );
    assert_eq!(
        prom::get(
            &m,
            "vswitch_port_drops_total",
            &[("port", "c"), ("layer", "port"), ("reason", "no_patch")]
        ),
        13.0
    );
    assert_eq!(prom::get(&m, "vswitch_snapshot_swaps_total", &[]), 1.0);
    assert_eq!(prom::get(&m, "vswitch_snapshot_generation", &[]), 1.0);
    let w = &stats.workers[0];
    let wl = [("worker", "0"), ("lcore", "1")];
    assert!(prom::get(&m, "vswitch_worker_busy_loops_total", &wl) >= w.busy_loops as f64);
    assert!(prom::get(&m, "vswitch_worker_busy_loops_total", &wl) > 0.0);
    assert!(prom::get(&m, "vswitch_worker_idle_loops_total", &wl) >= w.idle_loops as f64);
    assert!(
        prom::get(&m, "vswitch_worker_sleeps_total", &wl) > 0.0,
        "an idle worker backs off"
    );
    assert_eq!(
        prom::get(&m, "vswitch_mempool_mbufs", &[("state", "in_use")]),
        stats.mempool_in_use as f64
    );

    let (status, _) = sw.shutdown();
    assert!(status.success());
}

/// The layer label of a drop reason (MODEL.md's layers).
fn layer_of(reason: &str) -> &'static str {
    match reason {
        "no_patch" | "tx_full" | "no_headroom" => "port",
        "malformed" | "unsupported" => "parse",
        "anti_spoof" | "not_for_guest" | "gateway_unanswered" | "icmp_error_mismatch" => "gateway",
        "firewall_deny" => "firewall",
        "no_route" | "route_drop" | "route_unsupported" => "router",
        "no_external_ip" | "snat_exhausted" | "nat_no_state" => "nat",
        "flow_table_full" | "flow_quota" => "flow",
        "unknown_external" | "not_boundary_traffic" | "no_external_port" => "boundary",
        _ => "overlay",
    }
}
