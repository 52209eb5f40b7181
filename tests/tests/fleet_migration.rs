//! Live migration end to end, on a real etcd (started by the test on
//! loopback): guest `a` (instance `web`, NIC 1) downloads a large file over
//! TCP from guest `b` (instance `db` on sled 2) while `vswitch-fabric
//! migrate web --to sled-2` moves it from sled 1 to sled 2.
//!
//! The guest moves as a VM would: sled 2's switch gets a run-time guest
//! port, whose interface joins `a`'s namespace with `a`'s MAC and address
//! once the flows were carried and the traffic flipped; `a`'s old interface
//! leaves the namespace before (the VM paused on the source). NIC 1's
//! firewall takes no inbound TCP, and `b` paces the download: `b`'s
//! retransmitted segments are the first of the connection on sled 2, and
//! reach `a` only by the connection's standing carried from sled 1.
//!
//! Checked: a migration prepared and rolled back (`migrate-abort`) leaves
//! nothing behind; the download completes intact on its one connection; each
//! switch counts the flows it exported or imported; in the grace period
//! sled 1 relays Geneve for the old endpoint to the new one; the names move
//! (`web-migrating` during, `web` after, seen with `dig`); the instance,
//! NIC, V2P and endpoints are the fleet's new ones; the old endpoint
//! address is free again (a new instance on sled 1 gets it).

use serde_json::{json, Value};
use std::time::Duration;
use vswitch_e2e::ctl::{json as ctl_json, ok as ctl_ok};
use vswitch_e2e::dns::{dig_until, Dns};
use vswitch_e2e::download::{blob, Download, PacedServer};
use vswitch_e2e::etcd::Etcd;
use vswitch_e2e::fleet::{guest, move_guest, nic, plumb, wait_revision, wait_status, FleetPair};
use vswitch_e2e::netns::Namespaces;
use vswitch_e2e::sleds::GW_MAC;

/// NIC 1 of instance `web`: inbound ICMP only, so that TCP from the VNI
/// reaches it only as the reply of a connection it made.
fn web_nic(g: &vswitch_e2e::netns::Guest) -> Value {
    json!({
        "nic": {"id": 1, "vni": 100, "mac": g.mac, "ipv4": g.ip,
                "gateway_mac": GW_MAC, "gateway_ipv4": "172.30.0.1"},
        "routes": [{"dest": "172.30.0.0/22", "target": "subnet:172.30.0.0/22", "class": "system"}],
        "firewall": [{"direction": "in", "priority": 100, "action": "allow",
                      "hosts": ["vni:100"], "protocols": ["icmp"]}],
        "attachment": {"id": "eni-attach-1", "instance": "web",
                       "device_index": 0, "state": "attached", "port": "g"}
    })
}

#[test]
fn a_guest_migrates_while_it_downloads_and_keeps_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    etcd.fabric_ok(&["rack-set", "--zone", "1701:d", "--rack", "1"]);
    etcd.fabric_ok(&["sled-add", "sled-1"]);
    etcd.fabric_ok(&["sled-add", "sled-2"]);
    etcd.fabric_ok(&["instance-create", "web", "--sled", "sled-1"]);
    etcd.fabric_ok(&["instance-create", "db", "--sled", "sled-2"]);
    let dns_port = vswitch_e2e::free_tcp_port();
    let _dns = Dns::start(&etcd.url, "underlay.test", dns_port);

    let tag = std::process::id() % 100_000;
    let a = guest(tag, "a", "a8:40:25:00:00:05", "172.30.0.5");
    let b = guest(tag, "b", "a8:40:25:00:00:06", "172.30.0.6");
    let _ns = Namespaces(vec![a.ns.clone(), b.ns.clone()]);
    let pair = FleetPair::start(dir.path(), (&a, &etcd.url), (&b, &etcd.url));
    let (sw1, sw2) = (pair.sw1, pair.sw2);
    plumb(&a);
    plumb(&b);
    etcd.fabric_put("nic-put", &web_nic(&a));
    etcd.fabric_put("nic-put", &nic(2, "db", &b, true));
    let rev = etcd.revision();
    wait_revision(&sw1, rev);
    wait_revision(&sw2, rev);
    dig_until(
        dns_port,
        "web.underlay.test",
        ("NOERROR", &["fd00:1701:d:101::100"]),
    );

    // Sled 2 gets a guest port for web's NIC. A migration prepared and
    // rolled back leaves nothing behind.
    let new_iface = format!("vf{tag}m");
    ctl_ok(
        &sw2,
        &[
            "port-add",
            "g2",
            "--devargs",
            &format!("net_tap1,iface={new_iface}"),
        ],
    );
    let prepare = [
        "migrate",
        "web",
        "--to",
        "sled-2",
        "--port",
        "1=g2",
        "--stop-after",
        "prepared",
    ];
    etcd.fabric_ok(&prepare);
    let listed = etcd.fabric_ok(&["migrate-list"]);
    assert!(listed.contains("prepared"), "{listed}");
    wait_revision(&sw2, etcd.revision());
    let runs_web = |sw| {
        ctl_json(sw, &["export"])["state"]["nics"]
            .as_array()
            .is_some_and(|v| v.iter().any(|n| n["nic"]["id"] == 1))
    };
    assert!(runs_web(&sw2));
    let aborted = etcd.fabric_ok(&["migrate-abort", "web"]);
    assert!(aborted.contains("rolled back"), "{aborted}");
    wait_revision(&sw2, etcd.revision());
    assert!(!runs_web(&sw2), "sled 2 no longer runs web's NIC");
    assert_eq!(etcd.fabric_ok(&["migrate-list"]).trim(), "");
    let eps = etcd.fabric_ok(&["endpoint-list", "sled-2"]);
    assert!(
        !eps.contains("102::101"),
        "the target's address is free: {eps}"
    );
    dig_until(dns_port, "web-migrating.underlay.test", ("NXDOMAIN", &[]));

    // b serves 48 MB at 6 MB/s (8 s); a downloads it on one connection.
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let blob = blob(48 << 20, 0);
    std::fs::write(www.join("blob"), &blob).unwrap();
    let _srv = PacedServer::start(&b.ns, b.ip, &www.join("blob"));
    let url = format!("http://{}:8080/blob", b.ip);
    let download = Download::start(&a.ns, &url, dir.path().join("got"));
    std::thread::sleep(Duration::from_millis(1500));

    // The fabric prepares again, for good this time.
    let p = etcd.fabric_ok(&prepare);
    assert!(p.contains("is being migrated"), "{p}");
    dig_until(
        dns_port,
        "web-migrating.underlay.test",
        ("NOERROR", &["fd00:1701:d:102::101"]),
    );
    let rev = etcd.revision();
    wait_revision(&sw2, rev);
    let x2 = ctl_json(&sw2, &["export"]);
    let nics: Vec<u64> = x2["state"]["nics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["nic"]["id"].as_u64())
        .collect();
    assert_eq!(nics, vec![1, 2], "sled 2 runs web's NIC beside db's");
    assert_eq!(
        x2["state"]["nics"][0]["attachment"]["port"], "g2",
        "on the port the migration names"
    );

    // The VM pauses on sled 1: its interface leaves the namespace.
    // ... and resumes on sled 2, with the same MAC and address.
    let m = move_guest(&etcd, &a, "web", "sled-2", &new_iface);
    // In the grace period sled 1 relays what still reaches the old endpoint.
    let rev = etcd.revision();
    wait_revision(&sw1, rev);
    assert_eq!(
        ctl_json(&sw1, &["export"])["state"]["underlay"]["forward"],
        json!([{"from": "fd00:1701:d:101::100", "to": "fd00:1701:d:102::101"}])
    );
    assert_eq!(m["migration"]["phase"], "flipped", "{m:#}");
    let carried = &m["imported"]["nics"]["1"];
    assert!(
        carried["imported"].as_u64() >= Some(1),
        "the download's flow was carried: {m:#}"
    );
    assert_eq!(carried["refused"], json!({}), "{m:#}");

    let got = download.out.clone();
    let done = download.finish();
    assert_eq!(
        done,
        Ok((1, blob.len() as u64)),
        "one connection, every byte\nsled 1: {}\nsled 2: {}",
        ctl_ok(&sw1, &["stats"]),
        ctl_ok(&sw2, &["stats"])
    );
    assert!(std::fs::read(&got).unwrap() == blob, "the file is intact");

    // Counted on both sides.
    let s1 = ctl_json(&sw1, &["status"]);
    assert!(
        s1["fleet"]["migration_flows_exported"].as_u64() >= Some(1),
        "{s1:#}"
    );
    let s2 = wait_status(&sw2, "the import counted", |s| {
        s["fleet"]["migrations_in"].as_u64() == Some(1)
    });
    assert!(s2["fleet"]["migration_flows_imported"].as_u64() >= Some(1));
    let m2 = vswitch_e2e::prom::parse(&sw2.scrape());
    let sled2 = [("sled", "sled-2")];
    assert_eq!(
        vswitch_e2e::prom::get(&m2, "vswitch_fleet_migrations_in_total", &sled2),
        1.0
    );
    assert!(
        vswitch_e2e::prom::get(
            &m2,
            "vswitch_fleet_migration_flows_total",
            &[("sled", "sled-2"), ("side", "imported")]
        ) >= 1.0
    );
    assert!(ctl_ok(&sw2, &["status"]).contains("migrations:   1 in"));

    // The grace period over, a second run finishes: the old endpoint goes.
    let f = etcd.fabric_ok(&["migrate", "web", "--to", "sled-2", "--grace", "0"]);
    assert!(f.contains("runs on sled-2"), "{f}");

    // The fleet after: web on sled 2 at its new endpoint, the old one free.
    dig_until(
        dns_port,
        "web.underlay.test",
        ("NOERROR", &["fd00:1701:d:102::101"]),
    );
    dig_until(dns_port, "web-migrating.underlay.test", ("NXDOMAIN", &[]));
    let inst: Value = serde_json::from_str(&etcd.fabric_ok(&["--json", "instance-list"])).unwrap();
    let web = inst
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "web")
        .cloned()
        .unwrap();
    assert_eq!(
        (web["sled"].as_str(), web["endpoint"].as_str()),
        (Some("sled-2"), Some("fd00:1701:d:102::101"))
    );
    assert_eq!(
        etcd.fabric_ok(&["migrate-list"]).trim(),
        "",
        "the migration is done"
    );
    let v2p = ctl_json(&sw2, &["v2p-list"]);
    assert!(
        v2p["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["ip"] == a.ip && e["underlay"] == "fd00:1701:d:102::101"),
        "web's V2P entry is its new endpoint: {v2p:#}"
    );
    let x1 = ctl_json(&sw1, &["export"]);
    assert_eq!(
        x1["state"]["nics"].as_array().map_or(0, Vec::len),
        0,
        "sled 1 no longer runs web's NIC"
    );
    assert_eq!(
        x1["state"]["underlay"]["endpoints"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "nor takes Geneve for its old endpoint: {:#}",
        x1["state"]["underlay"]
    );
    let again = etcd.fabric_ok(&["instance-create", "web-2", "--sled", "sled-1"]);
    assert!(
        again.ends_with("endpoint fd00:1701:d:101::100"),
        "the old address is recycled: {again}"
    );
}
