//! A `/metrics` scrape parses as Prometheus text and its values match the
//! counters `vswitchctl` reports; the server is bounded in header size and
//! connections.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use vswitch_e2e::{pcap, proc_status, prom, Vswitch, TEST_EAL};

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
    assert_eq!(
        prom::get(&m, "vswitch_worker_handoff_out_total", &wl),
        w.handoff_out as f64
    );
    assert_eq!(
        prom::get(&m, "vswitch_worker_handoff_in_total", &wl),
        w.handoff_in as f64
    );
    assert!(prom::get(&m, "vswitch_worker_idle_loops_total", &wl) >= w.idle_loops as f64);
    assert!(
        prom::get(&m, "vswitch_worker_sleeps_total", &wl) > 0.0,
        "an idle worker backs off"
    );
    assert_eq!(
        prom::get(&m, "vswitch_mempool_mbufs", &[("state", "in_use")]),
        stats.mempool_in_use as f64
    );
    // The metadata service: its port counters and its own, all idle here.
    for dir in ["punted", "injected"] {
        assert_eq!(
            prom::get(
                &m,
                "vswitch_port_metadata_packets_total",
                &[("port", "a"), ("direction", dir)]
            ),
            0.0
        );
    }
    assert_eq!(prom::get(&m, "vswitch_metadata_stacks", &[]), 0.0);
    assert_eq!(
        prom::get(&m, "vswitch_metadata_responses_total", &[("status", "200")]),
        0.0
    );

    let (status, _) = sw.shutdown();
    assert!(status.success());
}

/// The layer label of a drop reason (docs/VPC-MODEL.md's layers).
fn layer_of(reason: &str) -> &'static str {
    match reason {
        "no_patch" | "tx_full" | "no_headroom" => "port",
        "handoff_full" => "worker",
        "malformed" | "unsupported" => "parse",
        "anti_spoof"
        | "not_for_guest"
        | "gateway_unanswered"
        | "metadata_busy"
        | "icmp_error_mismatch"
        | "vlan_tagged" => "gateway",
        "firewall_deny" => "firewall",
        "no_route" | "route_drop" | "route_blackhole" => "router",
        "no_external_ip" | "snat_exhausted" | "nat_no_state" => "nat",
        "flow_table_full" | "flow_quota" => "flow",
        "unknown_external" | "not_boundary_traffic" | "no_external_port" => "boundary",
        _ => "overlay",
    }
}

/// An idle switch with metrics on (the harness picks the address).
fn idle_switch(dir: &std::path::Path) -> Vswitch {
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "a"
devargs = "net_null0,no-rx=1"
role = "guest"
"#
    );
    Vswitch::start(dir, &toml)
}

/// A scrape that must succeed, and its samples.
fn scrape_ok(sw: &Vswitch) -> std::collections::BTreeMap<prom::Key, f64> {
    let m = prom::parse(&sw.scrape());
    assert_eq!(
        prom::get(
            &m,
            "vswitch_port_link_up",
            &[("port", "a"), ("role", "guest")]
        ),
        1.0
    );
    m
}

/// Whether the server has closed `s` (EOF or reset) rather than kept it open
/// for `wait`. Whatever it sent before closing is discarded.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn an_endless_header_is_cut_off_and_memory_stays_flat() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let addr = sw.metrics.clone().unwrap();
    scrape_ok(&sw);
    let rss_before = proc_status(sw.pid(), "VmRSS");

    let mut flood = TcpStream::connect(&addr).unwrap();
    flood
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    flood
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: ")
        .unwrap();
    let chunk = vec![b'a'; 4096];
    flood.write_all(&chunk).unwrap();
    // A scrape while the flood's header is half sent.
    scrape_ok(&sw);

    const FLOOD: usize = 64 << 20;
    let mut sent = 4096;
    let chunk = vec![b'a'; 64 << 10];
    while sent < FLOOD {
        // The server closing makes writes fail; that is the point.
        if flood.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        sent < FLOOD,
        "the server took all {sent} bytes of one header line"
    );
    assert!(
        closed_by_server(&mut flood, Duration::from_secs(10)),
        "the flood connection is still open"
    );
    let rss_after = proc_status(sw.pid(), "VmRSS");
    assert!(
        rss_after <= rss_before + 8 * 1024,
        "VmRSS grew from {rss_before} kB to {rss_after} kB"
    );
    scrape_ok(&sw);
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn connections_past_the_cap_are_closed_at_once_and_the_cap_frees() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let addr = sw.metrics.clone().unwrap();
    // Twelve idle connections against a cap of eight.
    let mut idle: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let closed: Vec<bool> = idle
        .iter_mut()
        .map(|s| closed_by_server(s, Duration::from_millis(200)))
        .collect();
    assert_eq!(
        closed,
        [[false; 8].as_slice(), [true; 4].as_slice()].concat(),
        "the first eight are served, the rest closed"
    );

    // A scrape now is refused at once rather than left hanging.
    let t0 = Instant::now();
    let mut s = TcpStream::connect(&addr).unwrap();
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    let mut reply = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_end(&mut reply);
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(reply.is_empty(), "served past the cap: {reply:?}");

    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = TcpStream::connect(&addr).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let mut reply = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.read_to_end(&mut reply);
        if !reply.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the cap was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    scrape_ok(&sw);
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn other_paths_are_404_and_the_content_type_is_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let addr = sw.metrics.clone().unwrap();
    let get = |path: &str| {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    let ok = get("/metrics?x=1");
    let head = ok.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.contains(" 200 "), "{head}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4\r\n"),
        "{head}"
    );
    let nf = get("/other");
    assert!(
        nf.contains(" 404 ") && nf.ends_with("\r\n\r\nsee /metrics\n"),
        "{nf}"
    );
    let (status, _) = sw.shutdown();
    assert!(status.success());
}
