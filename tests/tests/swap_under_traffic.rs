//! Replacing the patch table 1,000 times while traffic flows loses no packet:
//! received = sent + counted drops, and the drops are zero.
//!
//! pktgen (memif server, core 0) -> vswitch `in` -> patch -> vswitch `out` -> pktgen,
//! which checks every frame it gets back byte for byte.

use std::time::{Duration, Instant};
use vswitch_api::Command as Cmd;
use vswitch_e2e::{Vswitch, TEST_EAL};

#[test]
fn one_thousand_swaps_under_traffic_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sock_in = dir.path().join("in.memif");
    let sock_out = dir.path().join("out.memif");
    let count: u64 = 400_000;
    let gen_args: Vec<String> = [
        "--lcore",
        "0",
        "--no-huge",
        "--vdev",
        &format!(
            "net_memif0,role=server,socket={},id=0,socket-abstract=no,rsize=13",
            sock_in.display()
        ),
        "--vdev",
        &format!(
            "net_memif1,role=server,socket={},id=0,socket-abstract=no,rsize=13",
            sock_out.display()
        ),
        "--tx",
        "net_memif0",
        "--rx",
        "net_memif1",
        "--flows",
        "64",
        "--rate",
        "200000",
        "--count",
        &count.to_string(),
        "--duration",
        "60",
        "--drain",
        "1",
        "--verify",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let gen = std::thread::spawn(move || {
        let args: Vec<&str> = gen_args.iter().map(String::as_str).collect();
        vswitch_e2e::pktgen(&args)
    });
    // pktgen creates the memif sockets; the switch connects as client.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(sock_in.exists() && sock_out.exists()) {
        assert!(
            Instant::now() < deadline,
            "pktgen did not create its memif sockets"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "in"
devargs = "net_memif0,role=client,socket={},id=0,socket-abstract=no,rsize=13"
role = "guest"
[[ports]]
name = "out"
devargs = "net_memif1,role=client,socket={},id=0,socket-abstract=no,rsize=13"
role = "uplink"
[[ports]]
name = "spare"
devargs = "net_null0,no-rx=1"
role = "guest"
[[patch]]
from = "in"
to = "out"
"#,
        sock_in.display(),
        sock_out.display()
    );
    let sw = Vswitch::start(dir.path(), &toml);
    // Wait until traffic flows, then swap while it does.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sw.port("in").counters.rx_packets == 0 {
        assert!(Instant::now() < deadline, "no traffic reached the switch");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = sw.connect();
    for i in 0..1000 {
        // Each request changes the table, so each publishes a new snapshot
        // (setting what is already in force publishes nothing); `in -> out`
        // stays in every one.
        let cmd = match i % 4 {
            0 => Cmd::PatchSet {
                from: "spare".into(),
                to: "out".into(),
            },
            1 => Cmd::PatchSet {
                from: "out".into(),
                to: "spare".into(),
            },
            2 => Cmd::PatchClear {
                from: Some("spare".into()),
            },
            _ => Cmd::PatchClear {
                from: Some("out".into()),
            },
        };
        let r = c.request(&cmd);
        assert!(r.ok, "swap {i}: {:?}", r.error);
    }
    let rx_during = sw.port("in").counters.rx_packets;
    let out = gen.join().expect("pktgen thread");
    let totals = vswitch_e2e::pktgen_totals(&out);
    let st = sw.wait_quiescent(Duration::from_millis(300), Duration::from_secs(30));
    let ins = sw.port("in");
    let outs = sw.port("out");

    assert!(st.snapshot_swaps >= 1000, "swaps {}", st.snapshot_swaps);
    assert!(
        rx_during < count,
        "the swaps happened while traffic was still flowing"
    );
    assert_eq!(totals["sent"].as_u64(), Some(count), "{out}");
    assert_eq!(
        ins.counters.rx_packets, count,
        "the switch received every packet sent: device {:?}, stats {:?}",
        ins.device, st
    );
    assert_eq!(
        outs.counters.tx_packets,
        count,
        "drops {:?}",
        st.total
            .drops
            .iter()
            .filter(|(_, v)| **v > 0)
            .collect::<Vec<_>>()
    );
    let drops: u64 = st.total.drops.values().sum();
    assert_eq!(drops, 0, "drops: {:?}", st.total.drops);
    assert_eq!(st.total.rx_packets, st.total.tx_packets + drops);
    assert_eq!(
        totals["received"].as_u64(),
        Some(count),
        "pktgen got every packet back: {out}"
    );
    assert_eq!(
        totals["mismatched"].as_u64(),
        Some(0),
        "every frame came back byte-identical"
    );
    let (status, _) = sw.shutdown();
    assert!(status.success());
}
