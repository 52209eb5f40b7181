//! The rack fabric's state in a real etcd (started by the test on
//! loopback), through `vswitch-fabric`: the rack plan of the model (zone
//! 1701:d, rack 01), sleds given the next /64 and ::1 of it, endpoint
//! addresses from ::100 with a released one reused, names, the key layout,
//! what is refused, 16 controllers allocating at once never handing out one
//! address twice, and a clear failure while etcd is down.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::Duration;
use vswitch_e2e::bin;
use vswitch_e2e::dns::{dig, dig_until, Dns};
use vswitch_e2e::etcd::Etcd;

fn fabric(etcd: &Etcd, args: &[&str]) -> Output {
    Command::new(bin("vswitch-fabric"))
        .args(["--etcd", &etcd.url])
        .args(args)
        .output()
        .expect("run vswitch-fabric")
}

fn ok(etcd: &Etcd, args: &[&str]) -> String {
    let o = fabric(etcd, args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn json(etcd: &Etcd, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(etcd, &a)).expect("--json prints JSON")
}

fn alloc(etcd: &Etcd, sled: &str, holder: &str) -> String {
    ok(etcd, &["endpoint-alloc", sled, "--holder", holder])
}

fn refused(etcd: &Etcd, args: &[&str], want: &str) {
    let before = etcd.keys("/vswitch/");
    let o = fabric(etcd, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} was accepted");
    assert!(err.contains(want), "{args:?}: {want:?} not in {err}");
    assert_eq!(etcd.keys("/vswitch/"), before, "a refusal changes nothing");
}

#[test]
fn the_rack_plan_sleds_and_endpoints_live_in_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start(dir.path());

    refused(&etcd, &["sled-add", "sled-1"], "rack-set first");
    let plan = json(&etcd, &["rack-set", "--zone", "1701:d", "--rack", "1"]);
    assert_eq!(plan, serde_json::json!({"zone": "1701:d", "rack": 1}));
    let s1 = json(&etcd, &["sled-add", "sled-1"]);
    let s2 = json(&etcd, &["sled-add", "sled-2"]);
    assert_eq!(s1["prefix"], "fd00:1701:d:101::/64");
    assert_eq!(s1["underlay"], "fd00:1701:d:101::1");
    assert_eq!(s2["prefix"], "fd00:1701:d:102::/64");
    assert_eq!(s2["underlay"], "fd00:1701:d:102::1");
    refused(&etcd, &["sled-add", "sled-1"], "exists");
    refused(&etcd, &["sled-add", "a/b"], "ASCII letters");
    refused(
        &etcd,
        &["rack-set", "--zone", "1701:e", "--rack", "1"],
        "cannot change",
    );

    // Endpoints from ::100; a released address is the next one handed out.
    assert_eq!(alloc(&etcd, "sled-2", "vm-a"), "fd00:1701:d:102::100");
    assert_eq!(alloc(&etcd, "sled-2", "vm-b"), "fd00:1701:d:102::101");
    assert_eq!(alloc(&etcd, "sled-2", "vm-c"), "fd00:1701:d:102::102");
    ok(
        &etcd,
        &["endpoint-release", "sled-2", "fd00:1701:d:102::101"],
    );
    assert_eq!(alloc(&etcd, "sled-2", "vm-d"), "fd00:1701:d:102::101");
    refused(
        &etcd,
        &["endpoint-release", "sled-2", "fd00:1701:d:102::1"],
        "not an endpoint address",
    );
    refused(
        &etcd,
        &["endpoint-release", "sled-2", "fd00:1701:d:102::1ff"],
        "not allocated",
    );
    refused(
        &etcd,
        &["endpoint-alloc", "sled-9", "--holder", "x"],
        "unknown sled",
    );
    let held: Vec<(String, String)> = json(&etcd, &["endpoint-list", "sled-2"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["addr"].as_str().unwrap().to_string(),
                e["holder"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        held,
        [
            ("fd00:1701:d:102::100".to_string(), "vm-a".to_string()),
            ("fd00:1701:d:102::101".into(), "vm-d".into()),
            ("fd00:1701:d:102::102".into(), "vm-c".into()),
        ]
    );

    // Names bind to addresses and move.
    ok(&etcd, &["name-set", "vm-a", "fd00:1701:d:102::100"]);
    ok(&etcd, &["name-set", "vm-a", "fd00:1701:d:101::100"]);
    let names = json(&etcd, &["name-list"]);
    assert_eq!(
        names,
        serde_json::json!([{"name": "vm-a", "addr": "fd00:1701:d:101::100"}])
    );
    refused(&etcd, &["name-del", "nope"], "no name");

    // The key layout.
    assert_eq!(
        etcd.keys("/vswitch/v1/sled"),
        [
            "/vswitch/v1/sled-numbers/1",
            "/vswitch/v1/sled-numbers/2",
            "/vswitch/v1/sleds/sled-1",
            "/vswitch/v1/sleds/sled-2",
        ]
    );
    assert_eq!(etcd.keys("/vswitch/v1/endpoints/sled-2/").len(), 3);
    assert_eq!(etcd.keys("/vswitch/v1/rack"), ["/vswitch/v1/rack"]);

    // 16 controllers at once: 16 different addresses, ::100 to ::10f.
    let url = etcd.url.clone();
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let o = Command::new(bin("vswitch-fabric"))
                    .args(["--etcd", &url, "endpoint-alloc", "sled-1", "--holder"])
                    .arg(format!("racer-{i}"))
                    .output()
                    .expect("run vswitch-fabric");
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            })
        })
        .collect();
    let got: BTreeSet<String> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let want: BTreeSet<String> = (0x100..0x110)
        .map(|i| format!("fd00:1701:d:101::{i:x}"))
        .collect();
    assert_eq!(got, want, "every controller got its own address");

    // etcd down: a clear failure, nothing half-done; back: as before.
    etcd.stop();
    let o = fabric(&etcd, &["sled-add", "sled-3"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("etcd"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    etcd.resume();
    assert_eq!(
        json(&etcd, &["sled-add", "sled-3"])["prefix"],
        "fd00:1701:d:103::/64"
    );
    assert_eq!(alloc(&etcd, "sled-2", "vm-e"), "fd00:1701:d:102::103");
}

#[test]
fn the_underlay_dns_answers_every_name_and_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start(dir.path());
    ok(&etcd, &["name-set", "vm-a", "fd00:1701:d:101::100"]);
    let port = vswitch_e2e::free_tcp_port();
    let _dns = Dns::start(&etcd.url, "underlay.test", port);
    // A name set before the server started, and one after; a move; TCP too.
    dig_until(
        port,
        "vm-a.underlay.test",
        ("NOERROR", &["fd00:1701:d:101::100"]),
    );
    ok(&etcd, &["name-set", "vm-b", "fd00:1701:d:102::100"]);
    dig_until(
        port,
        "vm-b.underlay.test",
        ("NOERROR", &["fd00:1701:d:102::100"]),
    );
    ok(&etcd, &["name-set", "vm-a", "fd00:1701:d:102::101"]);
    dig_until(
        port,
        "VM-A.underlay.test",
        ("NOERROR", &["fd00:1701:d:102::101"]),
    );
    let tcp = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+tcp", "+short"])
        .args(["vm-a.underlay.test", "AAAA"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tcp.stdout).trim(),
        "fd00:1701:d:102::101"
    );
    // No such name; a name without an A record; outside the zone.
    assert_eq!(dig(port, "nope.underlay.test", "AAAA").0, "NXDOMAIN");
    assert_eq!(
        dig(port, "vm-a.underlay.test", "A"),
        ("NOERROR".to_string(), vec![])
    );
    assert_eq!(dig(port, "example.com", "AAAA").0, "REFUSED");
    ok(&etcd, &["name-del", "vm-b"]);
    dig_until(port, "vm-b.underlay.test", ("NXDOMAIN", &[]));

    // etcd away: the zone answers from what it had; back: it catches up.
    etcd.stop();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        dig(port, "vm-a.underlay.test", "AAAA").1,
        ["fd00:1701:d:102::101"]
    );
    etcd.resume();
    ok(&etcd, &["name-set", "vm-a", "fd00:1701:d:103::100"]);
    dig_until(
        port,
        "vm-a.underlay.test",
        ("NOERROR", &["fd00:1701:d:103::100"]),
    );
}
