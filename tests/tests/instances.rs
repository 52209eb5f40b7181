//! Instances and NICs through `vswitchctl`, as the README's walk-through
//! runs them: each rule refused with its message and nothing changed, the
//! lists with `--json`, a route to a NIC turning blackhole on detach and
//! active on re-attach, termination deleting or detaching each NIC.

use vswitch_e2e::ctl::{json, ok, refused, route_states};
use vswitch_e2e::{Vswitch, TEST_EAL};

#[test]
fn the_walk_through_runs_and_every_rule_refuses_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "g0"
devargs = "net_null0,no-rx=1"
role = "guest"
[[ports]]
name = "g1"
devargs = "net_null1,no-rx=1"
role = "guest"
[[ports]]
name = "up"
devargs = "net_null2,no-rx=1"
role = "uplink"
"#
    );
    let sw = Vswitch::start(dir.path(), &toml);
    ok(
        &sw,
        &[
            "underlay-set",
            "fd00:1701:d:101::1",
            "--uplink",
            "up",
            "--nexthop-mac",
            "02:00:00:00:00:fe",
        ],
    );
    ok(&sw, &["instance-type-set", "general", "--max-nics", "2"]);
    ok(&sw, &["instance-create", "web-1", "--type", "general"]);
    let nic = |id: &str, mac: &str, ip: &str, gw: &str, extra: &[&str]| {
        let mut a = vec![
            "nic-create",
            id,
            "--vni",
            "100",
            "--mac",
            mac,
            "--gateway-mac",
            "a8:40:25:00:00:01",
            "--ipv4",
            ip,
            "--gateway-ipv4",
            gw,
            "--vpc",
            "vpc-1",
        ];
        a.extend_from_slice(extra);
        ok(&sw, &a);
    };
    nic(
        "1",
        "a8:40:25:00:00:05",
        "172.30.0.5",
        "172.30.0.1",
        &["--subnet", "subnet-web"],
    );
    nic(
        "2",
        "a8:40:25:00:00:06",
        "172.30.4.6",
        "172.30.4.1",
        &[
            "--secondary-ipv4",
            "172.30.4.7",
            "--source-dest-check",
            "false",
        ],
    );
    nic("3", "a8:40:25:00:00:07", "172.30.4.8", "172.30.4.1", &[]);
    refused(
        &sw,
        &[
            "nic-attach",
            "1",
            "web-1",
            "--device-index",
            "0",
            "--port",
            "g0",
        ],
        "instance \"web-1\" is pending",
    );
    ok(&sw, &["instance-state", "web-1", "running"]);
    ok(
        &sw,
        &[
            "nic-attach",
            "1",
            "web-1",
            "--device-index",
            "0",
            "--port",
            "g0",
            "--delete-on-terminate",
        ],
    );
    refused(
        &sw,
        &[
            "nic-attach",
            "2",
            "web-1",
            "--device-index",
            "0",
            "--port",
            "g1",
        ],
        "device index 0 of instance \"web-1\" is taken by nic 1",
    );
    ok(
        &sw,
        &[
            "nic-attach",
            "2",
            "web-1",
            "--device-index",
            "1",
            "--port",
            "g1",
        ],
    );
    refused(
        &sw,
        &[
            "nic-attach",
            "3",
            "web-1",
            "--device-index",
            "2",
            "--remote",
        ],
        "has 2 NICs attached, its type's limit",
    );
    refused(&sw, &["nic-detach", "1"], "primary NIC (device index 0)");
    refused(&sw, &["nic-delete", "2"], "nic-detach first");
    refused(
        &sw,
        &[
            "nic-create",
            "9",
            "--vni",
            "100",
            "--mac",
            "a8:40:25:00:00:09",
            "--gateway-mac",
            "a8:40:25:00:00:01",
            "--ipv4",
            "172.30.4.7",
            "--gateway-ipv4",
            "172.30.4.1",
        ],
        "private IP 172.30.4.7 is already used in VNI 100 by port \"g1\"",
    );

    // The lists: every NIC of the instance, by device index.
    let l = json(&sw, &["instance-list"]);
    let web = &l["instances"][0];
    assert_eq!(web["id"], "web-1");
    assert_eq!(web["state"], "running");
    let nics = web["nics"].as_array().unwrap();
    assert_eq!(nics.len(), 2);
    assert_eq!(nics[0]["attachment"]["device_index"], 0);
    assert_eq!(nics[0]["attachment"]["port"], "g0");
    assert_eq!(nics[0]["subnet"], "subnet-web");
    assert_eq!(nics[1]["mac"], "a8:40:25:00:00:06");
    assert_eq!(
        nics[1]["private_ips"],
        serde_json::json!(["172.30.4.6", "172.30.4.7"])
    );
    assert_eq!(nics[1]["source_dest_check"], false);
    assert!(nics[1]["attachment"]["id"]
        .as_str()
        .unwrap()
        .starts_with("eni-attach-"));
    let text = ok(&sw, &["instance-list"]);
    assert!(
        text.contains("instance web-1 (running, general, at most 2 NICs)"),
        "{text}"
    );

    // A route to NIC 2: active while attached to the running instance.
    ok(&sw, &["route-add", "nic:1", "10.50.0.0/16", "nic:2"]);
    assert_eq!(route_states(&sw, "g0"), vec!["active"]);
    ok(&sw, &["instance-state", "web-1", "stopped"]);
    assert_eq!(route_states(&sw, "g0"), vec!["blackhole"]);
    ok(&sw, &["instance-state", "web-1", "running"]);
    ok(&sw, &["nic-detach", "2"]);
    assert_eq!(route_states(&sw, "g0"), vec!["blackhole"]);
    assert!(ok(&sw, &["layers", "g0"]).contains("[blackhole]"));
    let n = json(&sw, &["nic-list"]);
    assert_eq!(n["nics"][1]["status"], "available");
    assert_eq!(n["nics"][1]["attachment"]["state"], "detached");
    ok(
        &sw,
        &[
            "nic-attach",
            "2",
            "web-1",
            "--device-index",
            "1",
            "--port",
            "g1",
        ],
    );
    assert_eq!(route_states(&sw, "g0"), vec!["active"]);

    // Terminate: NIC 1 (delete_on_terminate) is gone, NIC 2 survives with
    // its addresses, and is attached to another instance.
    ok(&sw, &["instance-state", "web-1", "terminated"]);
    let n = json(&sw, &["nic-list"]);
    let ids: Vec<u64> = n["nics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(
        n["nics"][0]["private_ips"],
        serde_json::json!(["172.30.4.6", "172.30.4.7"])
    );
    refused(
        &sw,
        &["instance-state", "web-1", "running"],
        "terminated; that is final",
    );
    ok(&sw, &["instance-create", "web-2"]);
    ok(&sw, &["instance-state", "web-2", "running"]);
    ok(
        &sw,
        &[
            "nic-attach",
            "2",
            "web-2",
            "--device-index",
            "0",
            "--port",
            "g0",
        ],
    );
    let v = json(&sw, &["vnic-list"]);
    assert_eq!(v["vnics"][0]["id"], 2);
    // The freed address is free.
    nic("4", "a8:40:25:00:00:08", "172.30.0.5", "172.30.0.1", &[]);
    // vnic-create is the one-NIC shorthand, an instance like the others.
    ok(
        &sw,
        &[
            "vnic-create",
            "g1",
            "--id",
            "5",
            "--vni",
            "100",
            "--mac",
            "a8:40:25:00:00:0a",
            "--gateway-mac",
            "a8:40:25:00:00:01",
            "--ipv4",
            "172.30.0.10",
            "--gateway-ipv4",
            "172.30.0.1",
        ],
    );
    let l = json(&sw, &["instance-list"]);
    assert!(l["instances"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == "vnic:g1" && i["nics"][0]["id"] == 5));
    refused(
        &sw,
        &["vnic-delete", "g0"],
        "carries nic 2 of instance \"web-2\"",
    );
    let (st, _) = sw.shutdown();
    assert!(st.success());
}
