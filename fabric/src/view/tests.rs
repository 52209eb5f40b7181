use super::*;
use serde_json::json;
use std::sync::Arc;

fn put(m: &mut Mirror, key: String, v: serde_json::Value) {
    m.insert(key, serde_json::to_vec(&v).unwrap());
}

fn nic(id: u32, instance: &str, vni: u32, ip: &str, mac: &str) -> serde_json::Value {
    json!({
        "nic": {"id": id, "vni": vni, "mac": mac, "ipv4": ip, "gateway_mac": "a8:40:25:00:00:01"},
        "attachment": {"id": format!("eni-attach-{id}"), "instance": instance, "device_index": 0,
                       "delete_on_terminate": true, "state": "attached", "port": format!("g{id}")}
    })
}

/// Two sleds, an instance on each, VNI 100 shared and VNI 200 only on sled-2.
fn fleet() -> Mirror {
    let mut m = Mirror::new();
    for (n, s) in [(1, "sled-1"), (2, "sled-2")] {
        put(
            &mut m,
            keys::sled(s),
            json!({"name": s, "number": n, "prefix": format!("fd00:1701:d:10{n}::/64"),
                   "underlay": format!("fd00:1701:d:10{n}::1")}),
        );
    }
    let ep1: Ipv6Addr = "fd00:1701:d:101::100".parse().unwrap();
    let ep2: Ipv6Addr = "fd00:1701:d:102::100".parse().unwrap();
    put(
        &mut m,
        keys::endpoint("sled-1", ep1),
        json!({"sled": "sled-1", "addr": ep1, "holder": "web"}),
    );
    put(
        &mut m,
        keys::endpoint("sled-2", ep2),
        json!({"sled": "sled-2", "addr": ep2, "holder": "db"}),
    );
    for (id, sled, ep) in [("web", "sled-1", ep1), ("db", "sled-2", ep2)] {
        put(
            &mut m,
            keys::instance(id),
            json!({"id": id, "state": "running", "sled": sled, "endpoint": ep}),
        );
    }
    put(
        &mut m,
        keys::nic(1),
        nic(1, "web", 100, "172.30.0.5", "a8:40:25:00:00:05"),
    );
    put(
        &mut m,
        keys::nic(2),
        nic(2, "db", 100, "172.30.0.6", "a8:40:25:00:00:06"),
    );
    put(
        &mut m,
        keys::nic(3),
        nic(3, "db", 200, "10.0.0.6", "a8:40:25:00:00:07"),
    );
    for (vni, ip, mac, ep, n) in [
        (100, "172.30.0.5", "a8:40:25:00:00:05", ep1, 1),
        (100, "172.30.0.6", "a8:40:25:00:00:06", ep2, 2),
        (200, "10.0.0.6", "a8:40:25:00:00:07", ep2, 3),
    ] {
        put(
            &mut m,
            keys::v2p(vni, ip.parse().unwrap()),
            json!({"mac": mac, "underlay": ep, "nic": n}),
        );
    }
    put(
        &mut m,
        keys::boundary_map("192.0.2.10".parse().unwrap()),
        json!({"ip": "192.0.2.10", "sled": ep1, "nic": 1}),
    );
    m
}

#[test]
fn a_sled_reads_its_instances_their_nics_and_the_v2p_of_their_vnis() {
    let m = fleet();
    let p = read(&m, "sled-1", "sled").unwrap();
    assert_eq!(
        p.underlay,
        "fd00:1701:d:101::1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        p.endpoints,
        vec!["fd00:1701:d:101::100".parse::<Ipv6Addr>().unwrap()]
    );
    assert_eq!(p.instances.len(), 1);
    assert_eq!(p.instances[0].id, "web");
    assert_eq!(p.nics.iter().map(|n| n.nic.id).collect::<Vec<_>>(), vec![1]);
    assert_eq!(p.v2p.len(), 2, "VNI 100's two entries, none of VNI 200");
    assert!(p.boundary_map.is_empty(), "a sled has no boundary map");

    let p2 = read(&m, "sled-2", "sled").unwrap();
    assert_eq!(
        p2.nics.iter().map(|n| n.nic.id).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(p2.v2p.len(), 3);

    let b = read(&m, "sled-1", "boundary").unwrap();
    assert_eq!(b.boundary_map.len(), 1);
    assert!(b.nics.is_empty() && b.v2p.is_empty());
}

#[test]
fn a_fault_refuses_the_view_naming_the_key() {
    let mut m = fleet();
    m.insert(keys::nic(9), b"{not json".to_vec());
    let e = read(&m, "sled-1", "sled").unwrap_err();
    assert!(e[0].starts_with("/vswitch/v1/nics/9:"), "{e:?}");
    let e = read(&fleet(), "sled-9", "sled").unwrap_err();
    assert!(e[0].contains("sled-add sled-9"), "{e:?}");
}

#[test]
fn merge_keeps_the_local_parts_and_shares_unchanged_tables() {
    let m = fleet();
    let mut local = SwitchState::empty("sled");
    local.patches = vec![vswitch_api::PatchEntry {
        from: "p0".into(),
        to: "p1".into(),
    }];
    let up = LocalUnderlay {
        uplink: "uplink".into(),
        nexthop_mac: "02:aa:00:00:00:01".parse().unwrap(),
    };
    let stamp = |revision| FleetStamp {
        sled: "sled-1".into(),
        revision,
    };
    let s1 = merge(&local, read(&m, "sled-1", "sled").unwrap(), &up, stamp(5));
    assert_eq!(s1.patches, local.patches);
    let u = s1.underlay.as_ref().unwrap();
    assert_eq!((u.uplink.as_str(), u.endpoints.len()), ("uplink", 1));
    assert_eq!(s1.fleet, Some(stamp(5)));

    // Built again from the same keys: the same tables, shared.
    let s2 = merge(&s1, read(&m, "sled-1", "sled").unwrap(), &up, stamp(6));
    let vni = Vni::try_from(100).unwrap();
    assert!(Arc::ptr_eq(
        s1.v2p.vni(vni).unwrap(),
        s2.v2p.vni(vni).unwrap()
    ));
    assert!(Arc::ptr_eq(&s1.nics[0], &s2.nics[0]));
    assert!(!same_fleet_parts(&s1, &s2), "the revision differs");
    let mut s3 = s2.clone();
    s3.patches.clear();
    assert!(same_fleet_parts(&s2, &s3), "patches are the switch's own");
    s3.nics.clear();
    assert!(!same_fleet_parts(&s2, &s3));
}

/// web migrating from sled-1 to sled-2 (NIC 1 on sled-2's port `m1`), in
/// phase `phase`.
fn migrating(m: &mut Mirror, phase: &str) {
    put(
        m,
        keys::migration("web"),
        json!({"instance": "web", "from": "sled-1", "to": "sled-2",
               "old_endpoint": "fd00:1701:d:101::100", "new_endpoint": "fd00:1701:d:102::101",
               "ports": {"1": "m1"}, "phase": phase, "started_unix": 1.5}),
    );
}

#[test]
fn a_migration_runs_the_nics_on_the_target_and_asks_each_side_its_part() {
    let mut m = fleet();
    migrating(&mut m, "prepared");
    let p2 = read(&m, "sled-2", "sled").unwrap();
    let web = p2
        .nics
        .iter()
        .find(|n| n.nic.id == 1)
        .expect("web's NIC on sled-2");
    assert_eq!(
        web.attachment.as_ref().and_then(|a| a.port.as_deref()),
        Some("m1")
    );
    assert!(p2.instances.iter().any(|i| i.id == "web"));
    assert_eq!(p2.migrations, MigrationWork::default(), "nothing to do yet");
    let p1 = read(&m, "sled-1", "sled").unwrap();
    assert_eq!(
        p1.nics[0].attachment.as_ref().unwrap().port.as_deref(),
        Some("g1")
    );

    // Exporting: the source exports; the target waits for every chunk's index.
    migrating(&mut m, "exporting");
    let p1 = read(&m, "sled-1", "sled").unwrap();
    assert_eq!(
        p1.migrations.export,
        vec![("web@1.5".to_string(), "web".to_string(), vec![1])]
    );
    assert!(read(&m, "sled-2", "sled")
        .unwrap()
        .migrations
        .import
        .is_empty());
    for (k, port) in [(0, 40000), (1, 40001)] {
        put(
            &mut m,
            keys::migration_flows_chunk("web", 1, k),
            json!({"version": 1, "nic": 1, "workers": 1, "flows": [
                {"realm": "vpc", "proto": 6, "src": "172.30.0.5", "dst": "172.30.0.6",
                 "src_port": port, "dst_port": 8080, "origin": "out", "allowed": true,
                 "tcp": {"state": "established", "fin_out": false, "fin_in": false,
                         "first": "out"}}]}),
        );
    }
    assert!(
        read(&m, "sled-2", "sled")
            .unwrap()
            .migrations
            .import
            .is_empty(),
        "chunks without their index are not read"
    );
    put(
        &mut m,
        format!("{}1", keys::migration_flows("web")),
        json!({"chunks": 2}),
    );
    let p1 = read(&m, "sled-1", "sled").unwrap();
    assert!(p1.migrations.export.is_empty(), "exported once");
    let import = read(&m, "sled-2", "sled").unwrap().migrations.import;
    assert_eq!(import.len(), 1);
    assert_eq!(import[0].started_unix, 1.5);
    let ports: Vec<u16> = import[0].exports[0]
        .flows
        .iter()
        .map(|f| f.src_port)
        .collect();
    assert_eq!(ports, vec![40000, 40001], "both chunks, in order");
    put(
        &mut m,
        keys::migration_import("web"),
        json!({"sled": "sled-2", "nics": {}}),
    );
    assert!(read(&m, "sled-2", "sled")
        .unwrap()
        .migrations
        .import
        .is_empty());

    // Flipped: the source forwards; the record no longer places the NICs on
    // the target (the flip's transaction moves the instance itself).
    migrating(&mut m, "flipped");
    let p1 = read(&m, "sled-1", "sled").unwrap();
    assert_eq!(
        p1.migrations.forward,
        vec![(
            "fd00:1701:d:101::100".parse().unwrap(),
            "fd00:1701:d:102::101".parse().unwrap()
        )]
    );
    assert!(read(&m, "sled-2", "sled")
        .unwrap()
        .nics
        .iter()
        .all(|n| n.nic.id != 1));
}

#[test]
fn a_pods_boundary_reads_its_sleds_map_entries_its_bridge_links_and_static_nat() {
    let mut m = fleet();
    let ep2: Ipv6Addr = "fd00:1701:d:102::100".parse().unwrap();
    put(
        &mut m,
        keys::boundary_map("192.0.2.20".parse().unwrap()),
        json!({"ip": "192.0.2.20", "sled": ep2, "nic": 2}),
    );
    put(
        &mut m,
        keys::sled("bnd-a"),
        json!({"name": "bnd-a", "number": 3, "prefix": "fd00:1701:d:103::/64",
               "underlay": "fd00:1701:d:103::1"}),
    );
    // Without pods, a boundary takes the whole map.
    assert_eq!(read(&m, "bnd-a", "boundary").unwrap().boundary_map.len(), 2);
    put(
        &mut m,
        pods::pod("A"),
        json!({"name": "A", "boundary": "bnd-a", "sleds": ["sled-1"], "external": ["192.0.2.0/24"]}),
    );
    put(
        &mut m,
        pods::pod("B"),
        json!({"name": "B", "boundary": "bnd-b", "sleds": ["sled-2"], "external": []}),
    );
    put(
        &mut m,
        pods::bridge_link("A,B"),
        json!({"ends": [{"pod": "A", "port": "br", "nexthop_mac": "02:00:00:00:b0:0b"},
                        {"pod": "B", "port": "br", "nexthop_mac": "02:00:00:00:b0:0a"}]}),
    );
    // The link without a bridge network carries nothing yet.
    let b = read(&m, "bnd-a", "boundary").unwrap();
    let ips: Vec<String> = b.boundary_map.iter().map(|e| e.ip.to_string()).collect();
    assert_eq!(ips, vec!["192.0.2.10"], "only the entries of pod A's sleds");
    assert!(b.bridge_links.is_empty());
    put(
        &mut m,
        pods::bridge("A,B"),
        json!({"pods": ["A", "B"], "cidr": "100.0.1.0/24"}),
    );
    put(
        &mut m,
        pods::static_nat("A", "192.0.2.99".parse().unwrap()),
        json!({"external": "192.0.2.99", "bridge": "100.0.1.4"}),
    );
    let b = read(&m, "bnd-a", "boundary").unwrap();
    assert_eq!(b.bridge_links.len(), 1);
    assert_eq!(b.bridge_links[0].port, "br");
    assert_eq!(b.bridge_links[0].addr, Some("100.0.1.1".parse().unwrap()));
    assert_eq!(
        b.bridge_links[0].nexthop_mac.to_string(),
        "02:00:00:00:b0:0b"
    );
    assert_eq!(b.static_nat.len(), 1);
    assert_eq!(b.static_nat[0].bridge.to_string(), "100.0.1.4");
}
