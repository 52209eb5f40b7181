//! Fleet mode end to end: two sled switches built from a real etcd (started
//! by the test on loopback) through `vswitch-fabric`, with a guest each
//! (network namespaces behind `net_tap` ports), joined by a `net_memif`
//! underlay. Checked: each switch takes its sled's instances and NICs and
//! the V2P derived from them (targets: the instances' endpoint addresses,
//! for which the switches take Geneve); the local socket refuses
//! fleet-owned changes; with etcd stopped traffic keeps flowing, changes
//! are refused with a clear message, and a switch restarted meanwhile
//! comes back on its state file; everything catches up when etcd is back;
//! a switch cut off while the revision it watched from is compacted reads
//! everything again, in pages (2,500 V2P entries are more than one).

use serde_json::{json, Value};
use vswitch_e2e::ctl::{ctl, json as ctl_json, ok as ctl_ok};
use vswitch_e2e::etcd::Etcd;
use vswitch_e2e::fleet::{guest, nic, pings, plumb, wait_revision, wait_status, FleetPair};
use vswitch_e2e::netns::Namespaces;
use vswitch_e2e::proxy::Proxy;
use vswitch_e2e::Vswitch;

#[test]
fn two_sleds_run_on_the_fleet_state_through_an_etcd_outage() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start(dir.path());
    etcd.fabric_ok(&["rack-set", "--zone", "1701:d", "--rack", "1"]);
    etcd.fabric_ok(&["sled-add", "sled-1"]);
    etcd.fabric_ok(&["sled-add", "sled-2"]);
    let web = etcd.fabric_ok(&["instance-create", "web", "--sled", "sled-1"]);
    assert!(web.ends_with("endpoint fd00:1701:d:101::100"), "{web}");
    let db = etcd.fabric_ok(&["instance-create", "db", "--sled", "sled-2"]);
    assert!(db.ends_with("endpoint fd00:1701:d:102::100"), "{db}");

    let tag = std::process::id() % 100_000;
    let a = guest(tag, "a", "a8:40:25:00:00:05", "172.30.0.5");
    let b = guest(tag, "b", "a8:40:25:00:00:06", "172.30.0.6");
    let _ns = Namespaces(vec![a.ns.clone(), b.ns.clone()]);
    // Sled 2 reaches etcd through a proxy the test can cut.
    let etcd_port = etcd.url.rsplit(':').next().unwrap().to_string();
    let proxy = Proxy::start(&format!("127.0.0.1:{etcd_port}"));
    let pair = FleetPair::start(dir.path(), (&a, &etcd.url), (&b, &proxy.url));
    let (sw1, mut sw2) = (pair.sw1, pair.sw2);
    let (d2, toml2) = pair.sled2;
    plumb(&a);
    plumb(&b);

    etcd.fabric_put("nic-put", &nic(1, "web", &a, true));
    etcd.fabric_put("nic-put", &nic(2, "db", &b, true));
    let rev = etcd.revision();
    for sw in [&sw1, &sw2] {
        let s = wait_revision(sw, rev);
        assert_eq!(s["fleet"]["connected"], true, "{s:#}");
    }
    // Each switch has its own NIC, and V2P toward the endpoints.
    let x1 = ctl_json(&sw1, &["export"]);
    let st = &x1["state"];
    assert_eq!(st["nics"].as_array().map(Vec::len), Some(1), "{st:#}");
    assert_eq!(st["nics"][0]["nic"]["id"], 1);
    assert_eq!(st["underlay"]["addr"], "fd00:1701:d:101::1");
    assert_eq!(st["underlay"]["endpoints"], json!(["fd00:1701:d:101::100"]));
    let v2p = st["v2p"].as_array().cloned().unwrap_or_default();
    assert!(
        v2p.iter()
            .any(|e| e["ip"] == "172.30.0.6" && e["underlay"] == "fd00:1701:d:102::100"),
        "{v2p:?}"
    );
    assert_eq!(
        st["fleet"],
        json!({"sled": "sled-1", "revision": st["fleet"]["revision"]})
    );
    let ok = pings(&a, b.ip, 3);
    assert!(
        ok,
        "a reaches b across the underlay, to b's endpoint: {}\n{}",
        ctl_ok(&sw1, &["stats"]),
        ctl_ok(&sw2, &["stats"])
    );
    let x2 = ctl_json(&sw2, &["export"]);
    assert_eq!(x2["state"]["nics"][0]["nic"]["id"], 2);

    // The local socket refuses what the fleet owns, and still takes what is its own.
    let (good, _, err) = ctl(&sw1, &["route-del", "g", "172.30.0.0/22"]);
    assert!(
        !good && err.contains("fleet mode (sled \"sled-1\")"),
        "{err}"
    );
    assert!(err.contains("vswitch-fabric"), "{err}");
    ctl_ok(&sw1, &["flows-clear"]);

    // etcd away: traffic flows, changes are refused with a clear message.
    etcd.stop();
    wait_status(&sw1, "etcd lost", |s| s["fleet"]["connected"] == false);
    assert!(pings(&a, b.ip, 3), "forwarding goes on without etcd");
    let o = etcd.fabric(&["nic-put", "-"]);
    assert!(!o.status.success());
    let o = etcd.fabric(&["instance-create", "x", "--sled", "sled-1"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("etcd"), "{e}");
    let (good, _, err) = ctl(&sw1, &["route-del", "g", "172.30.0.0/22"]);
    assert!(!good && err.contains("etcd is unreachable"), "{err}");

    // A switch restarted without etcd comes back on its state file.
    let (st2, _) = sw2.shutdown();
    assert!(st2.success());
    sw2 = Vswitch::start(&d2, &toml2);
    plumb(&b); // the new process made a new tap
    let s = ctl_json(&sw2, &["status"]);
    assert_eq!(s["fleet"]["connected"], false, "{s:#}");
    assert!(
        s["fleet"]["revision_applied"].as_i64() >= Some(rev),
        "{s:#}"
    );
    assert_eq!(
        ctl_json(&sw2, &["export"])["state"]["nics"][0]["nic"]["id"],
        2
    );
    assert!(
        pings(&a, b.ip, 3),
        "the restarted sled forwards on its state file"
    );

    // etcd back: both catch up; a change reaches them (b stops taking ICMP).
    etcd.resume();
    etcd.fabric_put("nic-put", &nic(2, "db", &b, false));
    let rev = etcd.revision();
    for sw in [&sw1, &sw2] {
        let s = wait_revision(sw, rev);
        assert_eq!(s["fleet"]["connected"], true, "{s:#}");
    }
    assert!(
        !pings(&a, b.ip, 2),
        "b's new firewall is in force on sled 2"
    );

    // Sled 2 cut off from etcd while the fleet changes and etcd compacts
    // past the revision it would watch from: it reads everything again.
    let resyncs = ctl_json(&sw2, &["status"])["fleet"]["resyncs"]
        .as_i64()
        .unwrap();
    proxy.cut();
    wait_status(&sw2, "cut off", |s| s["fleet"]["connected"] == false);
    etcd.fabric_put("nic-put", &nic(2, "db", &b, false));
    etcd.fabric_put("nic-put", &nic(2, "db", &b, true));
    // More V2P than one page of the full read (vswitch_fleet::paged::PAGE):
    // addresses on another subnet, so that the guests' traffic is unchanged.
    let many: Vec<Value> = (0..2500u32)
        .map(|i| {
            json!({"vni": 100, "ip": format!("10.9.{}.{}", i >> 8, i & 0xff),
                   "mac": format!("a8:40:25:09:{:02x}:{:02x}", i >> 8, i & 0xff),
                   "underlay": "fd00:1701:d:101::100"})
        })
        .collect();
    etcd.fabric_put("v2p-import", &Value::Array(many));
    let rev = etcd.revision();
    etcd.etcdctl(&["compact", &rev.to_string()]);
    assert!(!pings(&a, b.ip, 1), "sled 2 still runs the old firewall");
    proxy.restore();
    let s = wait_revision(&sw2, rev);
    assert_eq!(s["fleet"]["resyncs"].as_i64(), Some(resyncs + 1), "{s:#}");
    assert!(pings(&a, b.ip, 3), "caught up: b takes ICMP again");
    let held = ctl_json(&sw2, &["v2p-list"])["entries"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(held, 2500 + 2, "the full read took every page");

    // Metrics say the same.
    let m = vswitch_e2e::prom::parse(&sw2.scrape());
    let labels = [("sled", "sled-2")];
    assert_eq!(
        vswitch_e2e::prom::get(&m, "vswitch_fleet_connected", &labels),
        1.0
    );
    assert_eq!(
        vswitch_e2e::prom::get(&m, "vswitch_fleet_revision_applied", &labels),
        rev as f64
    );
    drop(proxy);
}
