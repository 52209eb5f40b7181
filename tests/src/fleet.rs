//! Fleet-mode helpers shared by the tests that run switches on a real etcd:
//! the NIC record of a guest, a sled's `[fleet]` configuration, waits on
//! `status`, and guests (network namespaces) with their addressing.

use crate::ctl::json as ctl_json;
use crate::netns::{in_ns, sh, Guest};
use crate::sleds::{sled_config, GW_MAC};
use crate::Vswitch;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The NIC of `instance` on its switch's guest port `g`: VNI 100, the
/// subnet route, inbound TCP (and ICMP when `icmp`) from the VNI.
pub fn nic(id: u32, instance: &str, g: &Guest, icmp: bool) -> Value {
    let protocols: Vec<&str> = if icmp {
        vec!["tcp", "icmp"]
    } else {
        vec!["tcp"]
    };
    json!({
        "nic": {"id": id, "vni": 100, "mac": g.mac, "ipv4": g.ip,
                "gateway_mac": GW_MAC, "gateway_ipv4": "172.30.0.1"},
        "routes": [{"dest": "172.30.0.0/22", "target": "subnet:172.30.0.0/22", "class": "system"}],
        "firewall": [{"direction": "in", "priority": 100, "action": "allow",
                      "hosts": ["vni:100"], "protocols": protocols}],
        "attachment": {"id": format!("eni-attach-{id}"), "instance": instance,
                       "device_index": 0, "state": "attached", "port": "g"}
    })
}

/// The NIC of `instance` on its switch's guest port `g` whose internet
/// traffic leaves through the system gateway with `external` (its external
/// IPs, as the state document has them); inbound only ICMP from its VNI.
pub fn internet_nic(id: u32, instance: &str, g: &Guest, external: Value) -> Value {
    json!({
        "nic": {"id": id, "vni": 100, "mac": g.mac, "ipv4": g.ip,
                "gateway_mac": GW_MAC, "gateway_ipv4": "172.30.0.1"},
        "routes": [
            {"dest": "172.30.0.0/22", "target": "subnet:172.30.0.0/22", "class": "system"},
            {"dest": "0.0.0.0/0", "target": "igw", "class": "system"}],
        "firewall": [{"direction": "in", "priority": 100, "action": "allow",
                      "hosts": ["vni:100"], "protocols": ["icmp"]}],
        "external": external,
        "attachment": {"id": format!("eni-attach-{id}"), "instance": instance,
                       "device_index": 0, "state": "attached", "port": "g"}
    })
}

/// A sled's configuration `base` in fleet mode, following `etcd` as `sled`.
pub fn fleet_toml(base: &str, etcd: &str, sled: &str) -> String {
    format!(
        "{base}\n[fleet]\netcd = [\"{etcd}\"]\nsled = \"{sled}\"\nuplink = \"up\"\nnexthop_mac = \"02:00:00:00:00:fe\"\n"
    )
}

/// Waits until `sw`'s `status` satisfies `pred`; panics with it otherwise.
pub fn wait_status(sw: &Vswitch, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = ctl_json(sw, &["status"]);
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `sw` runs the state of etcd revision `rev` or later.
pub fn wait_revision(sw: &Vswitch, rev: i64) -> Value {
    wait_status(sw, &format!("revision {rev} in force"), |s| {
        s["fleet"]["revision_applied"].as_i64() >= Some(rev)
    })
}

/// Whether `n` pings from `from` to `ip` all come back.
pub fn pings(from: &Guest, ip: &str, n: u32) -> bool {
    let o = Command::new("ip")
        .args(["netns", "exec", &from.ns, "ping", "-c", &n.to_string()])
        .args(["-i", "0.2", "-W", "2", ip])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).contains(&format!("{n} received"))
}

/// Guest `x` of a test run `tag` (namespace and interface names).
pub fn guest(tag: u32, x: &str, mac: &'static str, ip: &'static str) -> Guest {
    Guest {
        ns: format!("vf{x}{tag}"),
        iface: format!("vf{tag}{x}"),
        mac,
        ip,
    }
}

/// Makes `g`'s namespace (anew) and moves its tap into it ([`attach`]).
pub fn plumb(g: &Guest) {
    let _ = Command::new("ip")
        .args(["netns", "del", &g.ns])
        .stderr(std::process::Stdio::null())
        .status();
    sh(&["ip", "netns", "add", &g.ns]);
    attach(g, &g.iface);
}

/// Moves interface `iface` into `g`'s namespace with `g`'s MAC and address,
/// everything routed through the virtual gateway (which answers ARP for
/// itself only).
pub fn attach(g: &Guest, iface: &str) {
    sh(&["ip", "link", "set", iface, "netns", &g.ns]);
    in_ns(&g.ns, &["ip", "link", "set", iface, "address", g.mac]);
    in_ns(&g.ns, &["ip", "link", "set", iface, "up"]);
    in_ns(&g.ns, &["ip", "link", "set", "lo", "up"]);
    in_ns(
        &g.ns,
        &["ip", "addr", "add", &format!("{}/32", g.ip), "dev", iface],
    );
    in_ns(&g.ns, &["ip", "route", "add", "172.30.0.1", "dev", iface]);
    in_ns(
        &g.ns,
        &["ip", "route", "add", "default", "via", "172.30.0.1"],
    );
}

/// Two fleet-mode sled switches whose guest port `g` is the tap of guest
/// `a` (sled-1, following the etcd at `etcd1`) and `b` (sled-2, `etcd2`),
/// joined by a `net_memif` underlay; in directories under `dir`.
pub struct FleetPair {
    /// Sled 1's switch.
    pub sw1: Vswitch,
    /// Sled 2's switch.
    pub sw2: Vswitch,
    /// Sled 2's directory and configuration (to start it again).
    pub sled2: (PathBuf, String),
}

impl FleetPair {
    /// Starts both switches.
    pub fn start(dir: &Path, (a, etcd1): (&Guest, &str), (b, etcd2): (&Guest, &str)) -> FleetPair {
        let underlay = dir.join("underlay.memif");
        let memif = |role: &str| {
            format!(
                "net_memif0,role={role},socket={},socket-abstract=no,id=0",
                underlay.display()
            )
        };
        let (d1, d2) = (dir.join("sled1"), dir.join("sled2"));
        std::fs::create_dir_all(&d1).expect("sled 1's directory");
        std::fs::create_dir_all(&d2).expect("sled 2's directory");
        let toml1 = fleet_toml(
            &sled_config(&memif("server"), "net_tap0", &a.iface, 9000),
            etcd1,
            "sled-1",
        );
        let toml2 = fleet_toml(
            &sled_config(&memif("client"), "net_tap0", &b.iface, 9000),
            etcd2,
            "sled-2",
        );
        let sw1 = Vswitch::start(&d1, &toml1);
        let sw2 = Vswitch::start(&d2, &toml2);
        FleetPair {
            sw1,
            sw2,
            sled2: (d2, toml2),
        }
    }
}

/// Moves guest `g` as a hypervisor moves a VM in a live migration of its
/// instance `instance` to `to`: paused (its interface leaves the
/// namespace), the flows carried and the traffic flipped (`vswitch-fabric
/// migrate --stop-after flipped`), resumed on `new_iface` (a port of the
/// target's switch) with the same MAC and address. Returns `migrate`'s
/// answer.
pub fn move_guest(
    etcd: &crate::etcd::Etcd,
    g: &Guest,
    instance: &str,
    to: &str,
    new_iface: &str,
) -> Value {
    sh(&["ip", "-n", &g.ns, "link", "set", &g.iface, "netns", "1"]);
    let m = etcd.fabric_ok(&[
        "--json",
        "migrate",
        instance,
        "--to",
        to,
        "--stop-after",
        "flipped",
    ]);
    attach(g, new_iface);
    serde_json::from_str(&m).expect("migrate --json answers JSON")
}
