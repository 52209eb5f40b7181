//! Replacing the patch table 1,000 times while traffic flows loses no packet:
//! received = sent + counted drops, and the drops are zero.
//!
//! pktgen (memif server, core 0) -> vswitch `in` -> patch -> vswitch `out` -> pktgen,
//! which checks every frame it gets back byte for byte.

use std::time::{Duration, Instant};
use vswitch_api::Command as Cmd;
use vswitch_e2e::memif_loop::memif_loop;
use vswitch_e2e::{Vswitch, TEST_EAL};

#[test]
fn one_thousand_swaps_under_traffic_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // 10 s of traffic at 200 kpps: the swaps must end while it still
    // flows, also with two workers polling both cores (where a CI run saw
    // the 1,000 durable changes take more than 5 s).
    let count: u64 = 2_000_000;
    let count_text = count.to_string();
    let looped = memif_loop(
        dir.path(),
        &[
            "--flows",
            "64",
            "--rate",
            "200000",
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
    let out = looped.gen.join().expect("pktgen thread");
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
