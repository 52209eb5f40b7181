//! A floating IP across pods (README, *Pods and bridge networks*): VM `a`
//! runs in pod A (sled `sled-1`, boundary `bnd-a`); its floating IP
//! 162.3.124.5 comes from the external network of pod B (boundary `bnd-b`,
//! whose external port leads to an "internet" namespace on 162.3.124.0/24).
//! Pod B is rack 2 of the zone (its boundary is addressed from
//! fd00:1701:d:200::/56). The two boundaries are joined by a bridge link (a Linux bridge between
//! their `bridge` ports); `vswitch-fabric fip-bind` allocates the bridge
//! network 100.0.1.0/24 and the address 100.0.1.4 for the VM.
//!
//! Checked: the VM's HTTP server answers the internet host at 162.3.124.5
//! and logs the host as its client (two-step DNAT); the VM's download from
//! the host is seen from 162.3.124.5 (two-step SNAT); after `fip-unbind`
//! both stop and the bridge network is released; bound again in its own pod
//! (198.51.100.7, pod A's external network), the VM is reached in one step
//! with no bridge address.

use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vswitch_e2e::ctl::{json as ctl_json, ok as ctl_ok};
use vswitch_e2e::etcd::Etcd;
use vswitch_e2e::fleet::{fleet_toml, guest, plumb, wait_revision};
use vswitch_e2e::netns::{in_ns, sh, Namespaces};
use vswitch_e2e::rack::Bridge;
use vswitch_e2e::sleds::{sled_config, GW_MAC};
use vswitch_e2e::{Vswitch, TEST_EAL};

const FIP: &str = "162.3.124.5";
const INET_B: &str = "162.3.124.10";
const INET_B_MAC: &str = "02:00:00:00:99:0b";
const BND_B_EXT: &str = "162.3.124.1";
const FIP_A: &str = "198.51.100.7";
const INET_A: &str = "198.51.100.10";
const INET_A_MAC: &str = "02:00:00:00:99:0a";
const BND_A_EXT: &str = "198.51.100.1";
/// The boundaries' bridge ports (fixed with net_tap's `mac=`).
const BR_A_MAC: &str = "02:00:00:00:b0:0a";
const BR_B_MAC: &str = "02:00:00:00:b0:0b";
/// bnd-a is the rack's sled number 2.
const BOUNDARY_A: &str = "fd00:1701:d:102::1";

/// A boundary's configuration: uplink, external port, bridge port.
fn boundary_toml(up: &str, ext: &str, br: &str, br_mac: &str) -> String {
    format!(
        "role = \"boundary\"\n[eal]\n{TEST_EAL}\n[workers]\nlcores = [1]\n\
         [[ports]]\nname = \"up\"\ndevargs = \"net_tap0,iface={up}\"\nrole = \"uplink\"\nmtu = 1500\n\
         [[ports]]\nname = \"ext\"\ndevargs = \"net_tap1,iface={ext}\"\nrole = \"external\"\n\
         [[ports]]\nname = \"br\"\ndevargs = \"net_tap2,iface={br},mac={br_mac}\"\nrole = \"bridge\"\n"
    )
}

/// An "internet" namespace behind a boundary's external port `iface`.
fn internet(ns: &str, iface: &str, mac: &str, addr: &str) {
    sh(&["ip", "netns", "add", ns]);
    sh(&["ip", "link", "set", iface, "netns", ns]);
    in_ns(ns, &["ip", "link", "set", iface, "address", mac]);
    in_ns(ns, &["ip", "link", "set", iface, "up"]);
    in_ns(ns, &["ip", "link", "set", "lo", "up"]);
    in_ns(
        ns,
        &["ip", "addr", "add", &format!("{addr}/24"), "dev", iface],
    );
}

/// An HTTP server (python3 http.server on port 8080) in `ns`, serving
/// `dir` and logging its requests to `log`; killed when dropped.
struct Http(std::process::Child);

impl Http {
    fn start(ns: &str, dir: &std::path::Path, log: &std::path::Path) -> Http {
        let log = std::fs::File::create(log).unwrap();
        Http(
            Command::new("ip")
                .args(["netns", "exec", ns, "python3", "-m", "http.server", "8080"])
                .arg("--directory")
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl` from `ns`: the body, or None when it failed within `secs`.
fn fetch(ns: &str, url: &str, secs: u32) -> Option<Vec<u8>> {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sf", "--max-time"])
        .arg(secs.to_string())
        .arg(url)
        .output()
        .unwrap();
    o.status.success().then_some(o.stdout)
}

/// Retries `fetch` for up to 20 s (the switches take each change in a
/// generation of their own).
fn fetch_soon(ns: &str, url: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(b) = fetch(ns, url, 2) {
            return b;
        }
        assert!(Instant::now() < deadline, "{url} from {ns}: no answer");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_floating_ip_of_another_pod_reaches_the_vm_over_the_bridge_network() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    etcd.fabric_ok(&["rack-set", "--zone", "1701:d", "--rack", "1"]);
    for s in ["sled-1", "bnd-a"] {
        etcd.fabric_ok(&["sled-add", s]);
    }
    // Pod B is rack 2 of the zone: an underlay of its own.
    let b = etcd.fabric_ok(&["sled-add", "bnd-b", "--rack", "2"]);
    assert!(b.contains("underlay fd00:1701:d:201::1"), "{b}");
    let tables = json!({
        "pools": [{"name": "public", "ranges": ["198.51.100.0/24"]},
                  {"name": "bridges", "ranges": ["100.0.1.0/24"]}],
        "v2b": [{"prefix": "0.0.0.0/0", "endpoints": [BOUNDARY_A]}]
    });
    etcd.fabric_put("tables-set", &tables);
    etcd.fabric_ok(&["instance-create", "vm", "--sled", "sled-1"]);
    etcd.fabric_ok(&[
        "pod-set",
        "A",
        "--boundary",
        "bnd-a",
        "--sled",
        "sled-1",
        "--external",
        "198.51.100.0/24",
    ]);
    etcd.fabric_ok(&[
        "pod-set",
        "B",
        "--boundary",
        "bnd-b",
        "--external",
        "162.3.124.0/24",
    ]);
    etcd.fabric_ok(&["bridge-pool-set", "100.0.1.0/24", "--len", "24"]);
    etcd.fabric_ok(&["bridge-link-set", "A", "br", BR_B_MAC, "B", "br", BR_A_MAC]);

    let tag = std::process::id() % 100_000;
    let a = guest(tag, "a", "a8:40:25:00:00:05", "172.30.0.5");
    let (inet_a, inet_b) = (format!("vpa{tag}"), format!("vpb{tag}"));
    let _ns = Namespaces(vec![a.ns.clone(), inet_a.clone(), inet_b.clone()]);
    let t = |x: &str| format!("vp{tag}{x}");
    let start = |name: &str, toml: String| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        Vswitch::start(&d, &toml)
    };
    let sw1 = start(
        "sled1",
        fleet_toml(
            &sled_config(
                &format!("net_tap1,iface={}", t("u1")),
                "net_tap0",
                &a.iface,
                1500,
            ),
            &etcd.url,
            "sled-1",
        ),
    );
    let bnd_a = start(
        "bnd-a",
        fleet_toml(
            &boundary_toml(&t("ua"), &t("xa"), &t("ba"), BR_A_MAC),
            &etcd.url,
            "bnd-a",
        ),
    );
    let bnd_b = start(
        "bnd-b",
        fleet_toml(
            &boundary_toml(&t("ub"), &t("xb"), &t("bb"), BR_B_MAC),
            &etcd.url,
            "bnd-b",
        ),
    );
    // The underlay, and the bridge link, each a Linux bridge. net_tap gives
    // the kernel side of a tap the port's MAC, and a Linux bridge hands
    // frames for a member's own MAC to the host: the kernel sides of the
    // bridge ports take MACs of their own.
    sh(&[
        "ip",
        "link",
        "set",
        &t("ba"),
        "address",
        "02:00:00:00:c0:0a",
    ]);
    sh(&[
        "ip",
        "link",
        "set",
        &t("bb"),
        "address",
        "02:00:00:00:c0:0b",
    ]);
    let underlay = Bridge(t("ul"));
    let link = Bridge(t("bl"));
    for (br, members) in [
        (&underlay, ["u1", "ua", "ub"].as_slice()),
        (&link, &["ba", "bb"]),
    ] {
        sh(&["ip", "link", "add", &br.0, "type", "bridge"]);
        for m in members {
            sh(&["ip", "link", "set", &t(m), "master", &br.0]);
            sh(&["ip", "link", "set", &t(m), "up"]);
        }
        sh(&["ip", "link", "set", &br.0, "up"]);
    }
    internet(&inet_a, &t("xa"), INET_A_MAC, INET_A);
    internet(&inet_b, &t("xb"), INET_B_MAC, INET_B);
    for (sw, mac, addr) in [
        (&bnd_a, INET_A_MAC, BND_A_EXT),
        (&bnd_b, INET_B_MAC, BND_B_EXT),
    ] {
        ctl_ok(
            sw,
            &[
                "external-port-set",
                "ext",
                "--nexthop-mac",
                mac,
                "--addr",
                addr,
            ],
        );
    }
    plumb(&a);
    let vm_nic = json!({
        "nic": {"id": 1, "vni": 100, "mac": a.mac, "ipv4": a.ip,
                "gateway_mac": GW_MAC, "gateway_ipv4": "172.30.0.1"},
        "routes": [
            {"dest": "172.30.0.0/22", "target": "subnet:172.30.0.0/22", "class": "system"},
            {"dest": "0.0.0.0/0", "target": "igw", "class": "system"}],
        "firewall": [{"direction": "in", "priority": 100, "action": "allow",
                      "hosts": ["any"], "protocols": ["tcp"]}],
        "attachment": {"id": "eni-attach-1", "instance": "vm",
                       "device_index": 0, "state": "attached", "port": "g"}
    });
    etcd.fabric_put("nic-put", &vm_nic);

    // Bind across pods: the bridge network and the VM's bridge address.
    let bound = etcd.fabric_ok(&["fip-bind", "1", FIP]);
    assert!(
        bound.contains("bridge address 100.0.1.4 of 100.0.1.0/24"),
        "{bound}"
    );
    let rev = etcd.revision();
    for sw in [&sw1, &bnd_a, &bnd_b] {
        wait_revision(sw, rev);
    }
    let listed = etcd.fabric_ok(&["bridge-list"]);
    assert!(
        listed.contains("A,B") && listed.contains("100.0.1.4 (NIC 1, 162.3.124.5)"),
        "{listed}"
    );
    let map_b = ctl_json(&bnd_b, &["boundary-map-list"]);
    assert_eq!(
        map_b["static_nat"],
        json!([{"external": FIP, "bridge": "100.0.1.4"}]),
        "{map_b:#}"
    );
    assert_eq!(map_b["bridge_links"][0]["addr"], "100.0.1.2", "{map_b:#}");
    let map_a = ctl_json(&bnd_a, &["boundary-map-list"]);
    assert_eq!(map_a["entries"][0]["ip"], "100.0.1.4", "{map_a:#}");
    assert_eq!(map_a["bridge_links"][0]["addr"], "100.0.1.1", "{map_a:#}");

    // Inbound: the internet host reaches the VM's server at 162.3.124.5.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let page: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(www.join("page"), &page).unwrap();
    let vm_log = dir.path().join("vm.log");
    let _vm_http = Http::start(&a.ns, &www, &vm_log);
    let got = fetch_soon(&inet_b, &format!("http://{FIP}:8080/page"));
    assert!(got == page, "the page, intact");
    let log = std::fs::read_to_string(&vm_log).unwrap();
    assert!(
        log.contains(&format!("{INET_B} - - ")),
        "the VM sees the internet host as its client: {log}"
    );
    // Outbound: the VM downloads from the host, which sees 162.3.124.5.
    let inet_log = dir.path().join("inet.log");
    let _inet_http = Http::start(&inet_b, &www, &inet_log);
    let got = fetch_soon(&a.ns, &format!("http://{INET_B}:8080/page"));
    assert!(got == page, "the download, intact");
    let log = std::fs::read_to_string(&inet_log).unwrap();
    assert!(
        log.contains(&format!("{FIP} - - ")),
        "the internet host sees the floating IP: {log}"
    );

    // A bound NIC is not deleted behind its bindings' back.
    let o = etcd.fabric(&["nic-delete", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fip-unbind first"));

    // Unbind: both ways stop, the bridge network goes back to the pool.
    let unbound = etcd.fabric_ok(&["fip-unbind", "1", FIP]);
    assert!(unbound.contains("100.0.1.4 of A,B released"), "{unbound}");
    let rev = etcd.revision();
    for sw in [&sw1, &bnd_a, &bnd_b] {
        wait_revision(sw, rev);
    }
    assert_eq!(etcd.fabric_ok(&["bridge-list"]), "", "no bridge left");
    assert!(etcd.keys("/vswitch/v1/bridge-cidrs/").is_empty());
    assert!(fetch(&inet_b, &format!("http://{FIP}:8080/page"), 3).is_none());
    assert!(fetch(&a.ns, &format!("http://{INET_B}:8080/page"), 3).is_none());
    let map_b = ctl_json(&bnd_b, &["boundary-map-list"]);
    assert!(map_b.get("static_nat").is_none(), "{map_b:#}");

    // Bound in its own pod: one step, no bridge address.
    let bound = etcd.fabric_ok(&["fip-bind", "1", FIP_A]);
    assert_eq!(bound, format!("{FIP_A} -> NIC 1 in pod A"));
    let rev = etcd.revision();
    for sw in [&sw1, &bnd_a, &bnd_b] {
        wait_revision(sw, rev);
    }
    assert_eq!(etcd.fabric_ok(&["bridge-list"]), "");
    let got = fetch_soon(&inet_a, &format!("http://{FIP_A}:8080/page"));
    assert!(got == page);
    let map_a = ctl_json(&bnd_a, &["boundary-map-list"]);
    assert_eq!(map_a["entries"][0]["ip"], FIP_A, "{map_a:#}");
    assert!(map_a.get("bridge_links").is_none(), "{map_a:#}");
}
