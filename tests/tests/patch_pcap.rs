//! Frames into port A leave port B byte-identical, and the counters agree;
//! frames on an unpatched port are dropped and counted as `no_patch`.

use std::time::Duration;
use vswitch_e2e::{pcap, Vswitch, TEST_EAL};

#[test]
fn frames_leave_byte_identical_and_counters_agree() {
    let dir = tempfile::tempdir().unwrap();
    let frames = pcap::sample_frames(2000);
    let lonely = pcap::sample_frames(37);
    let (a_in, b_out, c_in, c_out) = (
        dir.path().join("a-in.pcap"),
        dir.path().join("b-out.pcap"),
        dir.path().join("c-in.pcap"),
        dir.path().join("c-out.pcap"),
    );
    pcap::write(&a_in, &frames);
    pcap::write(&c_in, &lonely);
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "a"
devargs = "net_pcap0,rx_pcap={a_in},tx_iface=lo"
role = "guest"
[[ports]]
name = "b"
devargs = "net_pcap1,tx_pcap={b_out}"
role = "uplink"
[[ports]]
name = "c"
devargs = "net_pcap2,rx_pcap={c_in},tx_pcap={c_out}"
role = "guest"
[[patch]]
from = "a"
to = "b"
"#,
        a_in = a_in.display(),
        b_out = b_out.display(),
        c_in = c_in.display(),
        c_out = c_out.display(),
    );
    let sw = Vswitch::start(dir.path(), &toml);
    let st = sw.wait_quiescent(Duration::from_millis(500), Duration::from_secs(30));
    let a = sw.port("a");
    let b = sw.port("b");
    let c = sw.port("c");
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    assert_eq!(a.counters.rx_packets, frames.len() as u64);
    assert_eq!(a.counters.rx_bytes, bytes);
    assert_eq!(b.counters.tx_packets, frames.len() as u64);
    assert_eq!(b.counters.tx_bytes, bytes);
    assert_eq!(
        b.device.opackets,
        frames.len() as u64,
        "the device sent what the switch counted"
    );
    assert_eq!(c.counters.rx_packets, lonely.len() as u64);
    assert_eq!(c.counters.drops["no_patch"], lonely.len() as u64);
    assert_eq!(c.counters.tx_packets, 0);
    // Every packet is accounted for.
    assert_eq!(
        st.total.rx_packets,
        st.total.tx_packets + st.total.drops.values().sum::<u64>()
    );
    assert_eq!(st.total.drops["tx_full"], 0);

    let (status, out) = sw.shutdown();
    assert!(status.success(), "exit status {status}: {out:?}");
    assert!(
        out.iter()
            .any(|l| l.contains("vswitch: stopped (shutdown command)")),
        "{out:?}"
    );
    // The pcap writer flushes when the port closes.
    let got = pcap::read(&b_out);
    assert_eq!(got.len(), frames.len());
    for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
        assert_eq!(g, f, "frame {i} differs");
    }
    assert!(
        pcap::read(&c_out).is_empty(),
        "nothing leaks to an unpatched port's output"
    );
}

#[test]
fn patch_set_at_runtime_redirects_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let frames = pcap::sample_frames(500);
    let a_in = dir.path().join("a-in.pcap");
    let b_out = dir.path().join("b-out.pcap");
    pcap::write(&a_in, &frames);
    // Port a starts unpatched: its frames are dropped until patch-set, which
    // comes after the pcap is exhausted; so all 500 are no_patch drops.
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "a"
devargs = "net_pcap0,rx_pcap={a_in},tx_iface=lo"
role = "guest"
[[ports]]
name = "b"
devargs = "net_pcap1,tx_pcap={b_out}"
role = "uplink"
"#,
        a_in = a_in.display(),
        b_out = b_out.display(),
    );
    let sw = Vswitch::start(dir.path(), &toml);
    sw.wait_quiescent(Duration::from_millis(300), Duration::from_secs(30));
    assert_eq!(sw.port("a").counters.drops["no_patch"], 500);
    let reply = sw.request(vswitch_api::Command::PatchSet {
        from: "a".into(),
        to: "b".into(),
    });
    match reply {
        vswitch_api::Reply::Patches {
            generation,
            patches,
        } => {
            assert_eq!(generation, 1);
            assert_eq!(
                patches,
                vec![vswitch_api::PatchEntry {
                    from: "a".into(),
                    to: "b".into()
                }]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(sw.stats().snapshot_swaps, 1);
    let (status, _) = sw.shutdown();
    assert!(status.success());
    assert!(pcap::read(&b_out).is_empty());
}
