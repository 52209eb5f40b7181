//! Live migration with both kinds of traffic a guest has: guest `a`
//! (instance `web`) downloads 48 MB from guest `b` (instance `db`, sled 2)
//! and 48 MB from a host on the internet through SNAT and a boundary switch,
//! both paced by their servers, while `vswitch-fabric migrate` moves it from
//! sled 1 to sled 2.
//!
//! Three fleet-mode switches (sled 1, sled 2, the boundary) share an
//! underlay: their uplinks are `net_tap` devices joined by a Linux bridge,
//! every switch sending to a next hop MAC nobody owns, which the bridge
//! floods; each takes the Geneve for its own addresses. `net_tap` takes no
//! MTU above 1500, so the underlay's is 1500: the switches clamp the
//! guests' TCP MSS to fit the encapsulation. The boundary's external port
//! leads to an "internet" namespace.
//!
//! Checked: both downloads complete intact, each on its one connection; the
//! internet host sees the same SNAT address and port before and after the
//! move; the boundary's map sends the SNAT address to the new endpoint.

use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use vswitch_e2e::ctl::{json as ctl_json, ok as ctl_ok};
use vswitch_e2e::download::{blob, Download, PacedServer};
use vswitch_e2e::etcd::Etcd;
use vswitch_e2e::fleet::{fleet_toml, guest, move_guest, nic, plumb, wait_revision};
use vswitch_e2e::netns::{in_ns, sh, Namespaces};
use vswitch_e2e::sleds::{sled_config, GW_MAC};
use vswitch_e2e::{Vswitch, TEST_EAL};

const SNAT_IP: &str = "198.51.100.13";
const INET_HOST: &str = "203.0.113.10";
const BOUNDARY_EXT: &str = "203.0.113.1";
const INET_MAC: &str = "02:00:00:00:99:01";
const BOUNDARY: &str = "fd00:1701:d:103::1";

/// Web's NIC: inbound ICMP only, the internet through the system gateway
/// with a SNAT address.
fn web_nic(g: &vswitch_e2e::netns::Guest) -> Value {
    json!({
        "nic": {"id": 1, "vni": 100, "mac": g.mac, "ipv4": g.ip,
                "gateway_mac": GW_MAC, "gateway_ipv4": "172.30.0.1"},
        "routes": [
            {"dest": "172.30.0.0/22", "target": "subnet:172.30.0.0/22", "class": "system"},
            {"dest": "0.0.0.0/0", "target": "igw", "class": "system"}],
        "firewall": [{"direction": "in", "priority": 100, "action": "allow",
                      "hosts": ["vni:100"], "protocols": ["icmp"]}],
        "external": {"snat": {"ip": SNAT_IP, "first_port": 1024, "last_port": 2047}},
        "attachment": {"id": "eni-attach-1", "instance": "web",
                       "device_index": 0, "state": "attached", "port": "g"}
    })
}

/// A Linux bridge, removed when dropped.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// The internet host's TCP peers on port 8080 (`ADDR:PORT`).
fn inet_peers(ns: &str) -> Vec<String> {
    in_ns(
        ns,
        &[
            "ss",
            "-tnH",
            "state",
            "established",
            "(",
            "sport",
            "=",
            ":8080",
            ")",
        ],
    )
    .lines()
    .filter_map(|l| l.split_whitespace().last().map(str::to_string))
    .collect()
}

#[test]
fn a_guest_migrates_with_a_vpc_and_a_snat_download_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    etcd.fabric_ok(&["rack-set", "--zone", "1701:d", "--rack", "1"]);
    for s in ["sled-1", "sled-2", "bnd"] {
        etcd.fabric_ok(&["sled-add", s]);
    }
    let tables = json!({
        "pools": [{"name": "public", "ranges": ["198.51.100.0/24"]}],
        "v2b": [{"prefix": "0.0.0.0/0", "endpoints": [BOUNDARY]}]
    });
    etcd.fabric_put("tables-set", &tables);
    etcd.fabric_ok(&["instance-create", "web", "--sled", "sled-1"]);
    etcd.fabric_ok(&["instance-create", "db", "--sled", "sled-2"]);

    let tag = std::process::id() % 100_000;
    let a = guest(tag, "a", "a8:40:25:00:00:05", "172.30.0.5");
    let b = guest(tag, "b", "a8:40:25:00:00:06", "172.30.0.6");
    let inet_ns = format!("vfi{tag}");
    let inet_if = format!("vf{tag}x");
    let _ns = Namespaces(vec![a.ns.clone(), b.ns.clone(), inet_ns.clone()]);
    let up = |x: &str| format!("vf{tag}u{x}");
    let start = |name: &str, toml: String| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        Vswitch::start(&d, &toml)
    };
    let sled = |x: &str, g: &vswitch_e2e::netns::Guest, name: &str| {
        fleet_toml(
            &sled_config(
                &format!("net_tap1,iface={}", up(x)),
                "net_tap0",
                &g.iface,
                1500,
            ),
            &etcd.url,
            name,
        )
    };
    let sw1 = start("sled1", sled("1", &a, "sled-1"));
    let sw2 = start("sled2", sled("2", &b, "sled-2"));
    let bnd_toml = fleet_toml(
        &format!(
            "role = \"boundary\"\n[eal]\n{TEST_EAL}\n[workers]\nlcores = [1]\n\
             [[ports]]\nname = \"up\"\ndevargs = \"net_tap0,iface={}\"\nrole = \"uplink\"\n\
             [[ports]]\nname = \"ext\"\ndevargs = \"net_tap1,iface={inet_if}\"\nrole = \"external\"\n",
            up("b")
        ),
        &etcd.url,
        "bnd",
    );
    let bnd = start("bnd", bnd_toml);

    // The underlay: the three uplinks' kernel sides in one bridge.
    let br = Bridge(format!("vf{tag}br"));
    sh(&["ip", "link", "add", &br.0, "type", "bridge"]);
    for x in ["1", "2", "b"] {
        sh(&["ip", "link", "set", &up(x), "master", &br.0]);
        sh(&["ip", "link", "set", &up(x), "up"]);
    }
    sh(&["ip", "link", "set", &br.0, "up"]);
    // The internet host, behind the boundary's external port.
    sh(&["ip", "netns", "add", &inet_ns]);
    sh(&["ip", "link", "set", &inet_if, "netns", &inet_ns]);
    in_ns(
        &inet_ns,
        &["ip", "link", "set", &inet_if, "address", INET_MAC],
    );
    in_ns(&inet_ns, &["ip", "link", "set", &inet_if, "up"]);
    in_ns(&inet_ns, &["ip", "link", "set", "lo", "up"]);
    in_ns(
        &inet_ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("{INET_HOST}/24"),
            "dev",
            &inet_if,
        ],
    );
    in_ns(
        &inet_ns,
        &["ip", "route", "add", "198.51.100.0/24", "via", BOUNDARY_EXT],
    );
    ctl_ok(
        &bnd,
        &[
            "external-port-set",
            "ext",
            "--nexthop-mac",
            INET_MAC,
            "--addr",
            BOUNDARY_EXT,
        ],
    );
    plumb(&a);
    plumb(&b);
    etcd.fabric_put("nic-put", &web_nic(&a));
    etcd.fabric_put("nic-put", &nic(2, "db", &b, true));
    let rev = etcd.revision();
    for sw in [&sw1, &sw2, &bnd] {
        wait_revision(sw, rev);
    }

    // Two paced downloads of 48 MB each (8 s): from b, and from the internet.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let (blob_b, blob_i) = (blob(48 << 20, 1), blob(48 << 20, 2));
    std::fs::write(www.join("b"), &blob_b).unwrap();
    std::fs::write(www.join("i"), &blob_i).unwrap();
    let _srv_b = PacedServer::start(&b.ns, b.ip, &www.join("b"));
    let _srv_i = PacedServer::start(&inet_ns, INET_HOST, &www.join("i"));
    let from_b = Download::start(
        &a.ns,
        &format!("http://{}:8080/", b.ip),
        dir.path().join("got-b"),
    );
    let from_i = Download::start(
        &a.ns,
        &format!("http://{INET_HOST}:8080/"),
        dir.path().join("got-i"),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let before = inet_peers(&inet_ns);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].starts_with(&format!("{SNAT_IP}:")), "{before:?}");

    // The move: a port on sled 2, prepare, pause, carry and flip, resume.
    let new_iface = format!("vf{tag}m");
    ctl_ok(
        &sw2,
        &[
            "port-add",
            "g2",
            "--devargs",
            &format!("net_tap2,iface={new_iface}"),
        ],
    );
    etcd.fabric_ok(&[
        "migrate",
        "web",
        "--to",
        "sled-2",
        "--port",
        "1=g2",
        "--stop-after",
        "prepared",
    ]);
    wait_revision(&sw2, etcd.revision());
    let m = move_guest(&etcd, &a, "web", "sled-2", &new_iface);
    let carried = &m["imported"]["nics"]["1"];
    assert!(
        carried["imported"].as_u64() >= Some(2),
        "both downloads' flows: {m:#}"
    );
    assert_eq!(carried["refused"], json!({}), "{m:#}");
    wait_revision(&bnd, etcd.revision());
    let map = ctl_json(&bnd, &["boundary-map-list"]);
    assert!(
        map.to_string().contains("fd00:1701:d:102::101"),
        "the boundary sends the SNAT address to the new endpoint: {map:#}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let after = inet_peers(&inet_ns);
    assert_eq!(
        after, before,
        "the internet host sees the same address and port"
    );

    let (out_b, out_i) = (from_b.out.clone(), from_i.out.clone());
    let (done_b, done_i) = (from_b.finish(), from_i.finish());
    let ports = |sw| ctl_ok(sw, &["ports"]);
    assert_eq!(
        (done_b, done_i),
        (Ok((1, blob_b.len() as u64)), Ok((1, blob_i.len() as u64))),
        "one connection each, every byte\nsled 1: {}\nsled 2: {}\nboundary: {}",
        ports(&sw1),
        ports(&sw2),
        ports(&bnd)
    );
    assert!(std::fs::read(&out_b).unwrap() == blob_b, "intact");
    assert!(std::fs::read(&out_i).unwrap() == blob_i, "intact");
    etcd.fabric_ok(&["migrate", "web", "--to", "sled-2", "--grace", "0"]);
    assert_eq!(etcd.fabric_ok(&["migrate-list"]).trim(), "");
}
