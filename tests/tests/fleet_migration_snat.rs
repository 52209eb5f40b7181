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
use std::time::Duration;
use vswitch_e2e::ctl::{json as ctl_json, ok as ctl_ok};
use vswitch_e2e::download::{blob, Download, PacedServer};
use vswitch_e2e::fleet::{internet_nic, move_guest, nic, wait_revision};
use vswitch_e2e::rack::{Rack, INET_HOST};

const SNAT_IP: &str = "198.51.100.13";

/// Web's NIC: inbound ICMP only, the internet through the system gateway
/// with a SNAT address.
fn web_nic(g: &vswitch_e2e::netns::Guest) -> Value {
    let snat = json!({"snat": {"ip": SNAT_IP, "first_port": 1024, "last_port": 2047}});
    internet_nic(1, "web", g, snat)
}

#[test]
fn a_guest_migrates_with_a_vpc_and_a_snat_download_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let rack = Rack::start(dir.path());
    let Rack {
        etcd,
        a,
        b,
        sw1,
        sw2,
        bnd,
        inet_ns,
        tag,
        ..
    } = &rack;
    etcd.fabric_put("nic-put", &web_nic(a));
    etcd.fabric_put("nic-put", &nic(2, "db", b, true));
    let rev = etcd.revision();
    for sw in [sw1, sw2, bnd] {
        wait_revision(sw, rev);
    }

    // Two paced downloads of 48 MB each (8 s): from b, and from the internet.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let (blob_b, blob_i) = (blob(48 << 20, 1), blob(48 << 20, 2));
    std::fs::write(www.join("b"), &blob_b).unwrap();
    std::fs::write(www.join("i"), &blob_i).unwrap();
    let _srv_b = PacedServer::start(&b.ns, b.ip, &www.join("b"));
    let _srv_i = PacedServer::start(inet_ns, INET_HOST, &www.join("i"));
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
    let before = rack.inet_peers();
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].starts_with(&format!("{SNAT_IP}:")), "{before:?}");

    // The move: a port on sled 2, prepare, pause, carry and flip, resume.
    let new_iface = format!("vf{tag}m");
    ctl_ok(
        sw2,
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
    wait_revision(sw2, etcd.revision());
    let m = move_guest(etcd, a, "web", "sled-2", &new_iface);
    let carried = &m["imported"]["nics"]["1"];
    assert!(
        carried["imported"].as_u64() >= Some(2),
        "both downloads' flows: {m:#}"
    );
    assert_eq!(carried["refused"], json!({}), "{m:#}");
    wait_revision(bnd, etcd.revision());
    let map = ctl_json(bnd, &["boundary-map-list"]);
    assert!(
        map.to_string().contains("fd00:1701:d:102::101"),
        "the boundary sends the SNAT address to the new endpoint: {map:#}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let after = rack.inet_peers();
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
        ports(sw1),
        ports(sw2),
        ports(bnd)
    );
    assert!(std::fs::read(&out_b).unwrap() == blob_b, "intact");
    assert!(std::fs::read(&out_i).unwrap() == blob_i, "intact");
    etcd.fabric_ok(&["migrate", "web", "--to", "sled-2", "--grace", "0"]);
    assert_eq!(etcd.fabric_ok(&["migrate-list"]).trim(), "");
}
