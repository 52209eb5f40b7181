//! Guest ports created and removed at run time while traffic flows on the
//! others lose nothing there: 20 `port-add`/`port-del` cycles (DPDK
//! hot-plug of `net_tap` devices) during 600,000 frames patched `in` ->
//! `out`; a run-time port carries traffic as soon as it is added (with two
//! workers, each polls its queue); it is listed in the state document and a
//! restart creates it again; `port-del` removes it, and refuses a configured
//! port and a port a NIC is attached to.
//!
//! pktgen (memif server, core 0) -> vswitch `in` -> patch -> vswitch `out`
//! -> pktgen, which checks every frame it gets back byte for byte.

use std::process::Command;
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::ctl::{ok, refused};
use vswitch_e2e::memif_loop::memif_loop;
use vswitch_e2e::netns::sh;
use vswitch_e2e::{Vswitch, TEST_EAL};

fn link_exists(iface: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", iface])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn ports_come_and_go_under_traffic_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tag = std::process::id() % 10_000;
    // 6 s of traffic at 100 kpps: the cycles must end while it still flows.
    let count: u64 = 600_000;
    let count_text = count.to_string();
    let looped = memif_loop(
        dir.path(),
        &[
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
            "--verify",
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
name = "in"
devargs = "{}"
role = "guest"
[[ports]]
name = "out"
devargs = "{}"
role = "uplink"
[[ports]]
name = "spare"
devargs = "net_null0,no-rx=1"
role = "guest"
[[patch]]
from = "in"
to = "out"
"#,
        looped.tx_devargs, looped.rx_devargs
    );
    let sw = Vswitch::start(dir.path(), &toml);
    let deadline = Instant::now() + Duration::from_secs(20);
    while sw.port("in").counters.rx_packets == 0 {
        assert!(Instant::now() < deadline, "no traffic reached the switch");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = sw.connect();
    let mut request = |cmd: Cmd| {
        let r = c.request(&cmd);
        assert!(r.ok, "{cmd:?}: {:?}", r.error);
        r.result
    };
    for i in 0..20 {
        let iface = format!("vsrt{tag}c");
        request(Cmd::PortAdd {
            name: format!("rt{i}"),
            devargs: format!("net_tap{},iface={iface}", 10 + i % 3),
            role: "guest".into(),
        });
        assert!(link_exists(&iface), "cycle {i}: the tap device exists");
        request(Cmd::PortDel {
            name: format!("rt{i}"),
        });
        assert!(!link_exists(&iface), "cycle {i}: the tap device is gone");
    }
    // One stays, and carries traffic at once: ARP from the kernel side,
    // patched to `spare`.
    let keep_if = format!("vsrt{tag}k");
    request(Cmd::PortAdd {
        name: "keep".into(),
        devargs: format!("net_tap20,iface={keep_if}"),
        role: "guest".into(),
    });
    request(Cmd::PatchSet {
        from: "keep".into(),
        to: "spare".into(),
    });
    let rx_during = sw.port("in").counters.rx_packets;
    sh(&["ip", "link", "set", &keep_if, "up"]);
    sh(&["ip", "addr", "add", "10.99.0.1/24", "dev", &keep_if]);
    let _ = Command::new("ping")
        .args([
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "1",
            "-I",
            &keep_if,
            "10.99.0.2",
        ])
        .output();
    let keep = sw.port("keep");
    assert!(keep.counters.rx_packets >= 3, "{:?}", keep.counters);
    assert!(sw.port("spare").counters.tx_packets >= 3);
    let Some(Reply::Status(st)) = request(Cmd::Status) else {
        panic!("status answers with a status");
    };
    let polled = st
        .workers
        .iter()
        .filter(|w| w.rx_queues.iter().any(|(p, _)| p == "keep"))
        .count();
    assert_eq!(
        polled,
        st.workers.len(),
        "every worker polls a queue of the new port: {:?}",
        st.workers
    );

    let out = looped.gen.join().expect("pktgen thread");
    let totals = vswitch_e2e::pktgen_totals(&out);
    let st = sw.wait_quiescent(Duration::from_millis(300), Duration::from_secs(30));
    assert!(
        rx_during < count,
        "the cycles happened while traffic was still flowing"
    );
    assert_eq!(sw.port("in").counters.rx_packets, count);
    assert_eq!(sw.port("out").counters.tx_packets, count);
    assert_eq!(totals["received"].as_u64(), Some(count), "{out}");
    assert_eq!(totals["mismatched"].as_u64(), Some(0), "{out}");
    assert_eq!(st.total.drops["handoff_full"], 0);
    let drops: u64 = st.total.drops.values().sum();
    assert_eq!(
        st.total.rx_packets,
        st.total.tx_packets + drops,
        "{:?}",
        st.total
    );

    // What port-del refuses, with the state untouched.
    refused(&sw, &["port-del", "out"], "comes from the configuration");
    refused(&sw, &["port-del", "nope"], "unknown port");
    refused(
        &sw,
        &["port-add", "keep", "--devargs", "net_tap21,iface=x"],
        "already a port",
    );
    refused(
        &sw,
        &["port-add", "k2", "--devargs", "net_tap20,iface=x"],
        "already",
    );
    refused(
        &sw,
        &[
            "port-add",
            "k3",
            "--devargs",
            "net_tap22",
            "--role",
            "uplink",
        ],
        "only guest ports",
    );
    ok(&sw, &["patch-clear", "keep"]);
    ok(
        &sw,
        &[
            "vnic-create",
            "keep",
            "--id",
            "9",
            "--vni",
            "100",
            "--mac",
            "a8:40:25:00:00:09",
            "--gateway-mac",
            "a8:40:25:00:00:01",
            "--ipv4",
            "172.30.0.9",
            "--gateway-ipv4",
            "172.30.0.1",
        ],
    );
    refused(&sw, &["port-del", "keep"], "nic 9 is attached");
    ok(&sw, &["vnic-delete", "keep"]);

    // Listed in the state document, and created again by a restart.
    let export = ok(&sw, &["--json", "export"]);
    assert!(
        export.contains(&format!("net_tap20,iface={keep_if}")),
        "{export}"
    );
    let (status, _) = sw.shutdown();
    assert!(status.success());
    assert!(!link_exists(&keep_if), "the device goes with the switch");
    // (The generator is gone: its memif ports become null devices.)
    let again = toml
        .replace(&looped.tx_devargs, "net_null1,no-rx=1")
        .replace(&looped.rx_devargs, "net_null2,no-rx=1");
    let sw = Vswitch::start(dir.path(), &again);
    assert!(link_exists(&keep_if), "the restart created the port again");
    assert_eq!(sw.port("keep").role, "guest");
    ok(&sw, &["port-del", "keep"]);
    assert!(!link_exists(&keep_if));
    assert!(!ok(&sw, &["--json", "export"]).contains("net_tap20"));
    let (status, _) = sw.shutdown();
    assert!(status.success());
}
