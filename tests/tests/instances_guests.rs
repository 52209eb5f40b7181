//! Instances with several NICs, with real guests: Linux network namespaces
//! behind net_tap ports, on two sleds joined by a memif underlay.
//!
//! - web-1 (sled 1) has two NICs on two subnets in one namespace; both take
//!   DHCP leases and each reaches the peer on sled 2 (source routing in the
//!   guest picks the interface, as on EC2);
//! - the instance metadata service lists both MACs and each one's device
//!   number;
//! - a third NIC is hot-attached with `--devargs net_tap...`: the interface
//!   appears, takes a lease and carries traffic; the type's limit refuses a
//!   fourth and a pending instance refuses an attach, creating no port;
//! - an appliance (sled 2, `ip_forward=1`) carries the peer's traffic to
//!   web-1's second subnet through a `nic:ID` route: with the
//!   source/destination check on, nothing passes (the appliance's NIC may
//!   neither receive for nor send from addresses not its own); off, the
//!   traffic flows through it; detached, the route is blackhole (counted,
//!   shown); re-attached, it flows again;
//! - terminating web-1 deletes the NIC attached with `--delete-on-terminate`
//!   (its address free again), detaches the others (the port created for one
//!   goes, its interface with it), and the survivor works attached to a new
//!   instance.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vswitch_e2e::ctl::{json, ok, refused, route_states};
use vswitch_e2e::netns::{dhcp, in_ns, sh, Guest, Namespaces};
use vswitch_e2e::{prom, Vswitch, TEST_EAL};

const GW_MAC: &str = "a8:40:25:00:00:01";
const SLED1: &str = "fd00:1701:d:101::1";
const SLED2: &str = "fd00:1701:d:102::1";

/// A NIC of the test: id, MAC, address, gateway, subnet id.
struct Nic {
    id: &'static str,
    mac: &'static str,
    ip: &'static str,
    gw: &'static str,
    subnet: &'static str,
}

const WEB_A: Nic = Nic {
    id: "1",
    mac: "a8:40:25:00:01:01",
    ip: "172.30.0.5",
    gw: "172.30.0.1",
    subnet: "subnet-a",
};
const WEB_B: Nic = Nic {
    id: "2",
    mac: "a8:40:25:00:01:02",
    ip: "172.30.1.5",
    gw: "172.30.1.1",
    subnet: "subnet-b",
};
const WEB_C: Nic = Nic {
    id: "3",
    mac: "a8:40:25:00:01:03",
    ip: "172.30.2.5",
    gw: "172.30.2.1",
    subnet: "subnet-c",
};
const WEB_D: Nic = Nic {
    id: "4",
    mac: "a8:40:25:00:01:04",
    ip: "172.30.2.9",
    gw: "172.30.2.1",
    subnet: "subnet-c",
};
const PEER: Nic = Nic {
    id: "10",
    mac: "a8:40:25:00:02:06",
    ip: "172.30.0.6",
    gw: "172.30.0.1",
    subnet: "subnet-a",
};
const APP_CHECKED: Nic = Nic {
    id: "20",
    mac: "a8:40:25:00:03:20",
    ip: "172.30.3.5",
    gw: "172.30.3.1",
    subnet: "subnet-d",
};
const APP_OPEN: Nic = Nic {
    id: "21",
    mac: "a8:40:25:00:03:21",
    ip: "172.30.3.6",
    gw: "172.30.3.1",
    subnet: "subnet-d",
};

fn sled_config(uplink: &str, guests: &[(&str, &str, &str)]) -> String {
    let mut t = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "up"
devargs = "{uplink}"
role = "uplink"
"#
    );
    for (name, dev, iface) in guests {
        t.push_str(&format!(
            "[[ports]]\nname = \"{name}\"\ndevargs = \"{dev},iface={iface}\"\nrole = \"guest\"\n"
        ));
    }
    t
}

/// Creates NIC `n` on `sw` (unattached): the VPC-wide route, inbound ICMP
/// and TCP from the VPC.
fn create_nic(sw: &Vswitch, n: &Nic, extra: &[&str]) {
    let mut a = vec![
        "nic-create",
        n.id,
        "--vni",
        "100",
        "--mac",
        n.mac,
        "--gateway-mac",
        GW_MAC,
        "--ipv4",
        n.ip,
        "--gateway-ipv4",
        n.gw,
        "--subnet",
        n.subnet,
        "--vpc",
        "vpc-1",
        "--security-group",
        "web",
    ];
    a.extend_from_slice(extra);
    ok(sw, &a);
    configure_nic(sw, &format!("nic:{}", n.id));
}

/// The VPC-wide route and the firewall of the VNIC `name` (a port or `nic:ID`).
fn configure_nic(sw: &Vswitch, name: &str) {
    ok(
        sw,
        &[
            "route-add",
            name,
            "172.30.0.0/22",
            "subnet:172.30.0.0/22",
            "--class",
            "system",
        ],
    );
    ok(
        sw,
        &[
            "firewall-set",
            name,
            "--rule",
            "in 100 allow hosts=vni:100 protocols=icmp,tcp",
        ],
    );
}

/// The underlay and every guest address's V2P entry (both sleds hold all).
fn underlay_and_v2p(sw: &Vswitch, me: &str) {
    ok(
        sw,
        &[
            "underlay-set",
            me,
            "--uplink",
            "up",
            "--nexthop-mac",
            "02:00:00:00:00:fe",
        ],
    );
    for (n, sled) in [
        (&WEB_A, SLED1),
        (&WEB_B, SLED1),
        (&WEB_C, SLED1),
        (&WEB_D, SLED1),
        (&PEER, SLED2),
        (&APP_CHECKED, SLED2),
        (&APP_OPEN, SLED2),
    ] {
        ok(sw, &["v2p-set", "100", n.ip, n.mac, sled]);
    }
}

/// Moves TAP interface `iface` into namespace `ns`, with MAC `mac`, up.
fn plug(ns: &str, iface: &str, mac: &str) {
    sh(&["ip", "link", "set", iface, "netns", ns]);
    in_ns(ns, &["ip", "link", "set", iface, "address", mac]);
    in_ns(ns, &["ip", "link", "set", iface, "up"]);
}

/// A guest interface of the test: namespace, interface, the NIC behind it.
fn guest(ns: &str, iface: &str, n: &Nic) -> Guest {
    Guest {
        ns: ns.to_string(),
        iface: iface.to_string(),
        mac: n.mac,
        ip: n.ip,
    }
}

/// Takes a DHCP lease on `g` and checks it gave the NIC's address.
fn lease(dir: &Path, g: &Guest) {
    let l = dhcp(dir, g);
    assert!(l.contains(&format!("ip={} ", g.ip)), "{}: {l}", g.iface);
}

/// Source routing in the guest (what EC2 documents for a second NIC):
/// traffic from `ip` leaves through `iface`, via its own gateway.
fn source_route(ns: &str, iface: &str, ip: &str, gw: &str, table: &str) {
    in_ns(
        ns,
        &[
            "ip", "route", "add", gw, "dev", iface, "scope", "link", "table", table,
        ],
    );
    in_ns(
        ns,
        &[
            "ip", "route", "add", "default", "via", gw, "dev", iface, "table", table,
        ],
    );
    in_ns(ns, &["ip", "rule", "add", "from", ip, "table", table]);
}

/// Pings `dst` from `ns` with source `src` (3 echoes); whether all came back.
fn ping(ns: &str, src: &str, dst: &str) -> bool {
    let o = Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2",
        ])
        .args(["-I", src, dst])
        .output()
        .expect("run ping");
    String::from_utf8_lossy(&o.stdout).contains("3 received")
}

/// Pings once, expecting no answer.
fn ping_fails(ns: &str, src: &str, dst: &str) -> bool {
    let o = Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2", "-W", "1",
        ])
        .args(["-I", src, dst])
        .output()
        .expect("run ping");
    !o.status.success()
}

/// GETs a metadata path from `ns`.
fn metadata(ns: &str, path: &str) -> String {
    in_ns(
        ns,
        &[
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "5",
            "--retry",
            "3",
            &format!("http://169.254.169.254{path}"),
        ],
    )
}

fn port_counter(sw: &Vswitch, port: &str, key: &str) -> u64 {
    let c = sw.port(port).counters;
    match key {
        "tx_packets" => c.tx_packets,
        "rx_packets" => c.rx_packets,
        "punted" => c.punted,
        "injected" => c.injected,
        _ => panic!("no counter {key}"),
    }
}

fn port_drop(sw: &Vswitch, port: &str, reason: &str) -> u64 {
    sw.port(port)
        .counters
        .drops
        .get(reason)
        .copied()
        .unwrap_or(0)
}

/// Waits until interface `iface` exists (in the root namespace) or not.
fn wait_link(iface: &str, present: bool, ns: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Command::new("ip");
        if let Some(ns) = ns {
            c.args(["netns", "exec", ns, "ip"]);
        }
        let there = c
            .args(["link", "show", iface])
            .output()
            .is_ok_and(|o| o.status.success());
        if there == present {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "interface {iface} present={there}, want {present}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn instances_with_several_nics_carry_real_guests_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let tag = std::process::id() % 10_000;
    let (ns_web, ns_peer, ns_app) = (
        format!("vsiw{tag}"),
        format!("vsip{tag}"),
        format!("vsia{tag}"),
    );
    let (a0, a1, a2, p, q) = (
        format!("vi{tag}a0"),
        format!("vi{tag}a1"),
        format!("vi{tag}a2"),
        format!("vi{tag}p"),
        format!("vi{tag}q"),
    );
    let underlay = dir.path().join("underlay.memif");
    let memif = |role: &str| {
        format!(
            "net_memif0,role={role},socket={},socket-abstract=no,id=0",
            underlay.display()
        )
    };
    let (d1, d2) = (dir.path().join("sled1"), dir.path().join("sled2"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let sw1 = Vswitch::start(
        &d1,
        &sled_config(
            &memif("server"),
            &[("g0", "net_tap0", &a0), ("g1", "net_tap1", &a1)],
        ),
    );
    let sw2 = Vswitch::start(
        &d2,
        &sled_config(
            &memif("client"),
            &[("g", "net_tap0", &p), ("ap", "net_tap1", &q)],
        ),
    );
    let _ns = Namespaces(vec![ns_web.clone(), ns_peer.clone(), ns_app.clone()]);
    for ns in [&ns_web, &ns_peer, &ns_app] {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
        sh(&["ip", "netns", "add", ns]);
        in_ns(ns, &["ip", "link", "set", "lo", "up"]);
    }

    // Sled 1: web-1 with two NICs on two subnets, hot (running).
    underlay_and_v2p(&sw1, SLED1);
    ok(&sw1, &["instance-type-set", "web", "--max-nics", "3"]);
    ok(&sw1, &["instance-create", "web-1", "--type", "web"]);
    refused(
        &sw1,
        &[
            "nic-attach",
            "1",
            "web-1",
            "--device-index",
            "0",
            "--devargs",
            &format!("net_tap7,iface=vi{tag}x"),
        ],
        "pending",
    );
    ok(&sw1, &["instance-state", "web-1", "running"]);
    for n in [&WEB_A, &WEB_B, &WEB_C, &WEB_D] {
        create_nic(&sw1, n, &[]);
    }
    ok(
        &sw1,
        &[
            "nic-attach",
            "1",
            "web-1",
            "--device-index",
            "0",
            "--port",
            "g0",
        ],
    );
    ok(
        &sw1,
        &[
            "nic-attach",
            "2",
            "web-1",
            "--device-index",
            "1",
            "--delete-on-terminate",
            "--port",
            "g1",
        ],
    );
    // Sled 2: the peer (vnic-create's one-NIC instance) and the appliance.
    underlay_and_v2p(&sw2, SLED2);
    ok(
        &sw2,
        &[
            "vnic-create",
            "g",
            "--id",
            PEER.id,
            "--vni",
            "100",
            "--mac",
            PEER.mac,
            "--gateway-mac",
            GW_MAC,
            "--ipv4",
            PEER.ip,
            "--gateway-ipv4",
            PEER.gw,
        ],
    );
    configure_nic(&sw2, "g");
    ok(&sw2, &["instance-create", "app"]);
    ok(&sw2, &["instance-state", "app", "running"]);
    create_nic(&sw2, &APP_CHECKED, &[]);
    create_nic(&sw2, &APP_OPEN, &["--source-dest-check", "false"]);
    ok(
        &sw2,
        &[
            "nic-attach",
            "20",
            "app",
            "--device-index",
            "0",
            "--port",
            "ap",
        ],
    );

    // The guests: web-1's two interfaces in one namespace, each with a lease.
    plug(&ns_web, &a0, WEB_A.mac);
    plug(&ns_web, &a1, WEB_B.mac);
    plug(&ns_peer, &p, PEER.mac);
    plug(&ns_app, &q, APP_CHECKED.mac);
    let dirp = dir.path();
    lease(dirp, &guest(&ns_web, &a0, &WEB_A));
    lease(dirp, &guest(&ns_web, &a1, &WEB_B));
    lease(dirp, &guest(&ns_peer, &p, &PEER));
    lease(dirp, &guest(&ns_app, &q, &APP_CHECKED));
    source_route(&ns_web, &a1, WEB_B.ip, WEB_B.gw, "101");

    // Each NIC reaches the peer on the other sled.
    let g1_tx = port_counter(&sw1, "g1", "tx_packets");
    assert!(ping(&ns_web, WEB_A.ip, PEER.ip), "nic 1 reaches the peer");
    assert!(ping(&ns_web, WEB_B.ip, PEER.ip), "nic 2 reaches the peer");
    assert!(
        port_counter(&sw1, "g1", "tx_packets") >= g1_tx + 3,
        "the replies to nic 2 came through its own port"
    );

    // Instance metadata: both MACs, each with its device number.
    let macs = metadata(&ns_web, "/latest/meta-data/network/interfaces/macs/");
    assert_eq!(macs, format!("{}/\n{}/", WEB_A.mac, WEB_B.mac));
    assert_eq!(metadata(&ns_web, "/latest/meta-data/mac"), WEB_A.mac);
    for (n, dev) in [(&WEB_A, "0"), (&WEB_B, "1")] {
        let base = format!("/latest/meta-data/network/interfaces/macs/{}", n.mac);
        assert_eq!(metadata(&ns_web, &format!("{base}/device-number")), dev);
        assert_eq!(metadata(&ns_web, &format!("{base}/local-ipv4s")), n.ip);
        assert_eq!(metadata(&ns_web, &format!("{base}/subnet-id")), n.subnet);
        assert_eq!(metadata(&ns_web, &format!("{base}/vpc-id")), "vpc-1");
        assert_eq!(
            metadata(&ns_web, &format!("{base}/security-group-ids")),
            "web"
        );
    }
    assert_eq!(metadata(&ns_web, "/latest/meta-data/instance-id"), "web-1");
    assert!(port_counter(&sw1, "g0", "punted") > 0);
    assert!(port_counter(&sw1, "g0", "injected") > 0);
    let m = prom::parse(&sw1.scrape());
    assert!(
        prom::get(&m, "vswitch_metadata_responses_total", &[("status", "200")]) >= 12.0,
        "every answer above counted"
    );
    assert_eq!(
        prom::get(&m, "vswitch_metadata_stacks", &[]),
        1.0,
        "one stack, nic 1's"
    );

    // A third NIC, hot-attached on a port created for it.
    ok(
        &sw1,
        &[
            "nic-attach",
            "3",
            "web-1",
            "--device-index",
            "2",
            "--devargs",
            &format!("net_tap2,iface={a2}"),
        ],
    );
    wait_link(&a2, true, None);
    let nics = json(&sw1, &["nic-list"]);
    let nic3 = nics["nics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == 3)
        .cloned()
        .unwrap();
    assert_eq!(nic3["attachment"]["port"], "nic3", "{nic3}");
    plug(&ns_web, &a2, WEB_C.mac);
    lease(dirp, &guest(&ns_web, &a2, &WEB_C));
    source_route(&ns_web, &a2, WEB_C.ip, WEB_C.gw, "102");
    assert!(ping(&ns_web, WEB_C.ip, PEER.ip), "nic 3 reaches the peer");
    assert!(port_counter(&sw1, "nic3", "tx_packets") >= 3);
    let macs = metadata(&ns_web, "/latest/meta-data/network/interfaces/macs/");
    assert_eq!(
        macs,
        format!("{}/\n{}/\n{}/", WEB_A.mac, WEB_B.mac, WEB_C.mac)
    );
    // The type's limit refuses a fourth, before any port is made.
    refused(
        &sw1,
        &[
            "nic-attach",
            "4",
            "web-1",
            "--device-index",
            "3",
            "--devargs",
            &format!("net_tap3,iface=vi{tag}a3"),
        ],
        "its type's limit",
    );
    wait_link(&format!("vi{tag}a3"), false, None);

    // The appliance, checked: the peer's traffic to subnet-b goes to it by
    // a nic: route and goes no further.
    ok(&sw2, &["route-add", "g", "172.30.1.0/24", "nic:20"]);
    assert_eq!(route_states(&sw2, "g"), ["active"]);
    for (k, v) in [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.all.rp_filter", "0"),
    ] {
        in_ns(&ns_app, &["sysctl", "-qw", &format!("{k}={v}")]);
    }
    in_ns(
        &ns_app,
        &[
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{q}.send_redirects=0"),
        ],
    );
    // (A drop is charged to the port the packet came in on: the peer's.)
    let not_for = port_drop(&sw2, "g", "not_for_guest");
    assert!(ping_fails(&ns_peer, PEER.ip, WEB_B.ip));
    assert!(
        port_drop(&sw2, "g", "not_for_guest") > not_for,
        "the checked NIC may not receive for another address"
    );
    in_ns(&ns_app, &["ip", "addr", "add", "172.30.3.99/32", "dev", &q]);
    let spoof = port_drop(&sw2, "ap", "anti_spoof");
    assert!(ping_fails(&ns_app, "172.30.3.99", PEER.ip));
    assert!(
        port_drop(&sw2, "ap", "anti_spoof") > spoof,
        "the checked NIC may not send from another address"
    );

    // The same appliance with the check off (its NIC swapped, cold).
    ok(&sw2, &["instance-state", "app", "stopped"]);
    ok(&sw2, &["nic-detach", "20"]);
    ok(
        &sw2,
        &[
            "nic-attach",
            "21",
            "app",
            "--device-index",
            "0",
            "--port",
            "ap",
        ],
    );
    ok(&sw2, &["instance-state", "app", "running"]);
    ok(&sw2, &["route-del", "g", "172.30.1.0/24"]);
    ok(&sw2, &["route-add", "g", "172.30.1.0/24", "nic:21"]);
    in_ns(&ns_app, &["ip", "link", "set", &q, "address", APP_OPEN.mac]);
    lease(dirp, &guest(&ns_app, &q, &APP_OPEN));
    let ap_rx = port_counter(&sw2, "ap", "tx_packets");
    assert!(
        ping(&ns_peer, PEER.ip, WEB_B.ip),
        "the appliance forwards the peer's traffic to subnet-b"
    );
    assert!(
        port_counter(&sw2, "ap", "tx_packets") >= ap_rx + 3,
        "through the appliance"
    );

    // Detached: the route is blackhole, its drops counted; re-attached, it
    // is active again with no change to the route table.
    ok(&sw2, &["instance-state", "app", "stopped"]);
    ok(&sw2, &["nic-detach", "21"]);
    assert_eq!(route_states(&sw2, "g"), ["blackhole"]);
    let bh = port_drop(&sw2, "g", "route_blackhole");
    assert!(ping_fails(&ns_peer, PEER.ip, WEB_B.ip));
    assert!(port_drop(&sw2, "g", "route_blackhole") > bh);
    ok(
        &sw2,
        &[
            "nic-attach",
            "21",
            "app",
            "--device-index",
            "0",
            "--port",
            "ap",
        ],
    );
    ok(&sw2, &["instance-state", "app", "running"]);
    assert_eq!(route_states(&sw2, "g"), ["active"]);
    assert!(ping(&ns_peer, PEER.ip, WEB_B.ip), "restored on re-attach");

    // Terminate web-1: nic 2 (delete-on-terminate) goes and its address is
    // free; nic 1 and nic 3 are detached, nic 3's port and interface go.
    ok(&sw1, &["instance-state", "web-1", "terminated"]);
    let nics = json(&sw1, &["nic-list"]);
    let ids: Vec<u64> = nics["nics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["id"].as_u64())
        .collect();
    assert_eq!(ids, [1, 3, 4], "nic 2 was deleted with its instance");
    wait_link(&a2, false, Some(&ns_web));
    assert!(
        !ok(&sw1, &["ports"]).contains("nic3"),
        "the port created for nic 3 is gone"
    );
    ok(&sw1, &["nic-delete", "4"]);
    create_nic(&sw1, &Nic { id: "5", ..WEB_B }, &[]);
    // nic 1 survives with its address and works for a new instance.
    ok(&sw1, &["instance-create", "web-2"]);
    ok(&sw1, &["instance-state", "web-2", "running"]);
    ok(
        &sw1,
        &[
            "nic-attach",
            "1",
            "web-2",
            "--device-index",
            "0",
            "--port",
            "g0",
        ],
    );
    assert!(ping(&ns_web, WEB_A.ip, PEER.ip), "nic 1 works for web-2");
    assert_eq!(metadata(&ns_web, "/latest/meta-data/instance-id"), "web-2");

    // Every packet accounted for on both sleds.
    for sw in [&sw1, &sw2] {
        let st = sw.stats();
        let t = &st.total;
        let drops: u64 = t.drops.values().sum();
        assert_eq!(
            t.rx_packets + t.injected,
            t.tx_packets + t.punted + drops,
            "{t:?}"
        );
    }
}
