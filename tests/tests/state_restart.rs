//! A crash loses flows, never configuration: the two-sled VPC of
//! `vpc_two_sleds` is configured, sled 2's switch is killed with SIGKILL and
//! started again on the same configuration; its `export` is what it was
//! (generation included), and the guests' new connections work with no
//! command sent to it.
//!
//! Needs root (network namespaces), `dhclient` and `curl` (scripts/setup installs them).

use std::process::Command;
use std::time::Duration;
use vswitch_api::state::SwitchState;
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::netns::{dhcp, in_ns, sh};
use vswitch_e2e::sleds::{http_download, sled_config, TwoSleds};
use vswitch_e2e::Vswitch;

fn export(sw: &Vswitch) -> (u64, SwitchState) {
    match sw.request(Cmd::Export) {
        Reply::State { generation, state } => (generation, *state),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_switch_killed_and_restarted_comes_back_with_its_vpc() {
    let dir = tempfile::tempdir().unwrap();
    let TwoSleds {
        sw1,
        mut sw2,
        a,
        b,
        namespaces: _ns,
        ..
    } = TwoSleds::start(dir.path(), 9000, None);
    dhcp(dir.path(), &a);
    dhcp(dir.path(), &b);
    let ping = in_ns(&a.ns, &["ping", "-c", "2", "-i", "0.2", "-W", "2", b.ip]);
    assert!(ping.contains("2 received"), "{ping}");
    let before = export(&sw2);
    assert_eq!(before.1.nics.len(), 1);
    assert_eq!(before.1.v2p.len(), 2);

    // SIGKILL: no shutdown, no chance to write anything more.
    sh(&["kill", "-9", &sw2.pid().to_string()]);
    let (status, _) = sw2.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    drop(sw2);

    // The same configuration, in the same directory (the same state file).
    let underlay = dir.path().join("underlay.memif");
    let memif = format!(
        "net_memif0,role=client,socket={},socket-abstract=no,id=0",
        underlay.display()
    );
    let sw2 = Vswitch::start(
        &dir.path().join("sled2"),
        &sled_config(&memif, "net_tap0", &b.iface, 9000),
    );
    assert_eq!(
        export(&sw2),
        before,
        "the state and its generation came back"
    );
    assert_eq!(sw2.stats().snapshot_swaps, 0, "no command was sent");

    // Guest b's NIC is a new TAP device (the old one went with the process):
    // plug it back into b's namespace; b takes its lease from the restored VNIC.
    let _ = Command::new("ip")
        .args(["netns", "exec", &b.ns, "ip", "link", "del", &b.iface])
        .status();
    sh(&["ip", "link", "set", &b.iface, "netns", &b.ns]);
    in_ns(&b.ns, &["ip", "link", "set", &b.iface, "address", b.mac]);
    in_ns(&b.ns, &["ip", "link", "set", &b.iface, "up"]);
    let lease = dhcp(dir.path(), &b);
    assert!(lease.contains("ip=172.30.0.6"), "{lease}");

    // New connections both ways, across the restored underlay, firewall and routes.
    let ping = in_ns(&a.ns, &["ping", "-c", "3", "-i", "0.2", "-W", "2", b.ip]);
    assert!(ping.contains("3 received"), "{ping}");
    let blob: Vec<u8> = (0..500_000u32)
        .map(|i| (i.wrapping_mul(40503) >> 7) as u8)
        .collect();
    assert!(
        http_download(dir.path(), &a, &b, &blob) == blob,
        "a's download from b"
    );
    assert!(
        http_download(dir.path(), &b, &a, &blob) == blob,
        "b's download from a"
    );
    assert_eq!(export(&sw2).0, before.0, "still no new generation");

    let (s2, _) = sw2.shutdown();
    let (s1, _) = sw1.shutdown();
    assert!(s1.success() && s2.success());
}
