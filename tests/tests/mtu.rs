//! MTU end to end: two sleds whose uplinks have an MTU of 1500, guests
//! created without `--mtu`. DHCP offers the largest MTU that fits after
//! Geneve (1430); a guest that ignores it (its interface left at 1500) gets
//! "fragmentation needed" with MTU 1430 from the gateway for `ping -M do -s
//! 1472`, and a 10 MB download between the guests arrives intact (TCP's MSS
//! clamped on the SYNs, both ways).
//!
//! Needs root (network namespaces), `dhclient`, `curl` and `ping`.

use vswitch_e2e::netns::{dhcp, in_ns};
use vswitch_e2e::sleds::{http_download, TwoSleds};

#[test]
fn a_1500_uplink_gives_frag_needed_and_clamped_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let s = TwoSleds::start(dir.path(), 1500, None);
    for g in [&s.a, &s.b] {
        let lease = dhcp(dir.path(), g);
        assert!(
            lease.contains("mtu=1430"),
            "the gateway offers 1430: {lease}"
        );
        // A guest that does not apply DHCP's MTU.
        in_ns(
            &g.ns,
            &["ip", "link", "set", "dev", &g.iface, "mtu", "1500"],
        );
    }
    // 1472 bytes of ICMP data + 28 of headers = 1500: too big for 1430.
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &s.a.ns,
            "ping",
            "-M",
            "do",
            "-s",
            "1472",
            "-c",
            "2",
            "-W",
            "2",
            "172.30.0.6",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("172.30.0.1") && text.contains("mtu = 1430"),
        "ping -M do -s 1472 is answered by the gateway with mtu 1430:\n{text}"
    );
    let hairpin = s.sw1.port("g").counters.hairpin;
    assert!(
        hairpin >= 3,
        "DHCP and the error came from the gateway ({hairpin})"
    );
    // What fits goes through.
    let ok = in_ns(
        &s.a.ns,
        &[
            "ping",
            "-M",
            "do",
            "-s",
            "1402",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            "172.30.0.6",
        ],
    );
    assert!(ok.contains("2 received"), "{ok}");
    // A 10 MB download between two guests whose interfaces say 1500.
    let blob: Vec<u8> = (0..10_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let got = http_download(dir.path(), &s.a, &s.b, &blob);
    assert!(
        got.len() == blob.len() && got == blob,
        "10 MB arrived intact ({} bytes)",
        got.len()
    );
    // No segment was too big for the uplink: MSS clamping did it, not drops.
    for sw in [&s.sw1, &s.sw2] {
        let st = sw.stats();
        assert_eq!(st.total.drops["too_big"], 0);
    }
    let TwoSleds { sw1, sw2, .. } = s;
    let (s1, _) = sw1.shutdown();
    let (s2, _) = sw2.shutdown();
    assert!(s1.success() && s2.success());
}
