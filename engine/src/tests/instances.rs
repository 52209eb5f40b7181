//! Instances and NICs (README, *Instances and NICs*): the rules of attach,
//! detach and terminate, each refused with its message; routes to a NIC,
//! active and blackhole; the source/destination check and secondary IPs.

use super::*;
use crate::control::instances as inst;
use crate::control::vpc::layers;
use etherparse::PacketBuilder;
use vswitch_api::nic::{AttachmentRun, InstanceRun, NicAttach, NicSpec};

const MAC_APP: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x20];
const IP_APP: [u8; 4] = [172, 30, 1, 20];
const MAC_FAR: [u8; 6] = [0xa8, 0x40, 0x25, 0xff, 0x00, 0x21];
const IP_FAR: [u8; 4] = [172, 30, 1, 21];

fn spec(id: u32, mac: [u8; 6], ip: [u8; 4], check: bool) -> NicSpec {
    NicSpec {
        id,
        vni: vni(VNI),
        mac: mac_s(mac),
        ipv4: Some(ip.into()),
        ipv6: None,
        secondary_ipv4: Vec::new(),
        secondary_ipv6: Vec::new(),
        source_dest_check: check,
        gateway_mac: mac_s(GW_MAC),
        gateway_ipv4: Some([172, 30, 0, 1].into()),
        gateway_ipv6: None,
        subnet: Some("subnet-b".into()),
        vpc: Some("vpc-1".into()),
        security_groups: Vec::new(),
        dns: Vec::new(),
        hostname: None,
        domain: None,
        mtu: None,
        flow_quota: None,
    }
}

fn attach(nic: u32, instance: &str, index: u8, port: Option<&str>) -> NicAttach {
    NicAttach {
        nic,
        instance: instance.into(),
        device_index: index,
        delete_on_terminate: false,
        port: port.map(str::to_string),
        devargs: None,
        remote: port.is_none(),
    }
}

/// The world with port b freed, an instance type of two NICs, and the
/// appliance NIC 20 (check off, on this sled once attached) and NIC 21 (on
/// sled 2) created, not attached.
fn world() -> World {
    let w = World::new();
    admin::vnic_delete(&w.dir, &w.tables, "b").unwrap();
    inst::instance_type_set(&w.dir, &w.tables, "small", 2).unwrap();
    inst::nic_create(&w.dir, &w.tables, &spec(20, MAC_APP, IP_APP, false)).unwrap();
    inst::nic_create(&w.dir, &w.tables, &spec(21, MAC_FAR, IP_FAR, true)).unwrap();
    for (ip, mac, s) in [(IP_APP, MAC_APP, 1), (IP_FAR, MAC_FAR, 2)] {
        admin::v2p_set(&w.dir, &w.tables, vni(VNI), ip.into(), mac_s(mac), sled(s)).unwrap();
    }
    w
}

fn err<T: std::fmt::Debug>(r: Result<T, String>) -> String {
    r.expect_err("refused")
}

#[test]
fn the_attach_rules_are_enforced_with_a_message_each() {
    let w = world();
    let (d, t) = (&w.dir, &w.tables);
    inst::instance_create(d, t, "i-1", Some("small")).unwrap();
    let gen = t.current().generation;
    let e = err(inst::nic_attach(
        d,
        t,
        &attach(20, "i-1", 0, Some("b")),
        Some("b"),
        false,
    ));
    assert!(e.contains("instance \"i-1\" is pending"), "{e}");
    assert_eq!(
        t.current().generation,
        gen,
        "a refused command publishes nothing"
    );
    let e = err(inst::instance_create(d, t, "i-2", Some("huge")));
    assert!(e.contains("unknown instance type \"huge\""), "{e}");
    inst::instance_state(d, t, "i-1", InstanceRun::Running).unwrap();
    // Hot attach: the NIC's VNIC is on port b at once.
    inst::nic_attach(d, t, &attach(20, "i-1", 0, Some("b")), Some("b"), false).unwrap();
    assert_eq!(t.current().vpc.vnic(GUEST_B).map(|v| v.spec.id), Some(20));
    let e = err(inst::nic_attach(
        d,
        t,
        &attach(21, "i-1", 0, None),
        None,
        false,
    ));
    assert!(
        e.contains("device index 0 of instance \"i-1\" is taken by nic 20"),
        "{e}"
    );
    inst::nic_attach(d, t, &attach(21, "i-1", 1, None), None, false).unwrap();
    inst::nic_create(
        d,
        t,
        &spec(
            22,
            [0xa8, 0x40, 0x25, 0xff, 0, 0x22],
            [172, 30, 1, 22],
            true,
        ),
    )
    .unwrap();
    let e = err(inst::nic_attach(
        d,
        t,
        &attach(22, "i-1", 2, None),
        None,
        false,
    ));
    assert!(e.contains("has 2 NICs attached, its type's limit"), "{e}");
    inst::instance_create(d, t, "i-2", None).unwrap();
    inst::instance_state(d, t, "i-2", InstanceRun::Running).unwrap();
    let e = err(inst::nic_attach(
        d,
        t,
        &attach(20, "i-2", 0, None),
        None,
        false,
    ));
    assert!(
        e.contains("a NIC is attached to one instance at a time"),
        "{e}"
    );
    let e = err(inst::nic_attach(
        d,
        t,
        &attach(22, "i-2", 0, Some("a")),
        Some("a"),
        false,
    ));
    assert!(e.contains("port \"a\" already carries nic 5"), "{e}");
    // The primary stays on a running instance; a secondary detaches hot.
    let e = err(inst::nic_detach(d, t, 20));
    assert!(
        e.contains("primary NIC (device index 0) of running instance"),
        "{e}"
    );
    let e = err(inst::nic_delete(d, t, 21));
    assert!(e.contains("nic-detach first"), "{e}");
    inst::nic_detach(d, t, 21).unwrap();
    // Cold: stopped, the primary detaches too, and its port has no VNIC.
    inst::instance_state(d, t, "i-1", InstanceRun::Stopped).unwrap();
    inst::nic_detach(d, t, 20).unwrap();
    assert!(t.current().vpc.vnic(GUEST_B).is_none());
    let nic = t.current().state.nic(20).cloned().unwrap();
    let a = nic.attachment.unwrap();
    assert_eq!(
        (a.state, a.instance.as_str()),
        (AttachmentRun::Detached, "i-1")
    );
    assert!(a.id.starts_with("eni-attach-"), "{}", a.id);
    // Lists: every instance with its NICs by device index.
    inst::nic_attach(d, t, &attach(20, "i-1", 0, Some("b")), Some("b"), false).unwrap();
    let (types, list) = inst::instance_list(&t.current());
    assert_eq!(types[0].max_nics, 2);
    let i1 = list.iter().find(|i| i.id == "i-1").unwrap();
    assert_eq!(i1.nics.len(), 1);
    assert_eq!(
        i1.nics[0].attachment.as_ref().map(|a| a.device_index),
        Some(0)
    );
    assert_eq!(i1.nics[0].subnet.as_deref(), Some("subnet-b"));
    assert!(!i1.nics[0].source_dest_check);
    let vnic_a = list.iter().find(|i| i.id == "vnic:a").unwrap();
    assert_eq!(
        vnic_a.nics[0].id, 5,
        "vnic-create's NIC is an instance's too"
    );
}

#[test]
fn terminating_deletes_or_detaches_each_nic_as_its_attachment_says() {
    let w = world();
    let (d, t) = (&w.dir, &w.tables);
    inst::instance_create(d, t, "i-1", None).unwrap();
    inst::instance_state(d, t, "i-1", InstanceRun::Running).unwrap();
    let mut gone = attach(20, "i-1", 0, Some("b"));
    gone.delete_on_terminate = true;
    inst::nic_attach(d, t, &gone, Some("b"), false).unwrap();
    inst::nic_attach(d, t, &attach(21, "i-1", 1, None), None, false).unwrap();
    inst::instance_state(d, t, "i-1", InstanceRun::Terminated).unwrap();
    let s = t.current().state.clone();
    assert!(s.nic(20).is_none(), "deleted on termination");
    assert!(t.current().vpc.vnic(GUEST_B).is_none());
    let kept = s.nic(21).unwrap();
    assert!(kept.attached().is_none());
    assert_eq!(kept.nic.ipv4, Some(IP_FAR.into()), "its address stays");
    let e = err(inst::instance_state(d, t, "i-1", InstanceRun::Running));
    assert!(e.contains("terminated; that is final"), "{e}");
    // The survivor works on another instance; the freed address is free.
    inst::instance_create(d, t, "i-3", None).unwrap();
    inst::instance_state(d, t, "i-3", InstanceRun::Running).unwrap();
    inst::nic_attach(d, t, &attach(21, "i-3", 0, Some("b")), Some("b"), false).unwrap();
    assert_eq!(t.current().vpc.vnic(GUEST_B).map(|v| v.spec.id), Some(21));
    inst::nic_create(
        d,
        t,
        &spec(30, [0xa8, 0x40, 0x25, 0xff, 0, 0x30], IP_APP, true),
    )
    .unwrap();
}

fn udp(src_mac: [u8; 6], src: [u8; 4], dst_mac: [u8; 6], dst: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src, dst, 64)
        .udp(4000, 53)
        .write(&mut v, b"via the appliance")
        .unwrap();
    v
}

#[test]
fn a_route_to_a_nic_is_active_while_attached_to_a_running_instance() {
    let mut w = world();
    inst::instance_create(&w.dir, &w.tables, "nat-1", None).unwrap();
    inst::instance_state(&w.dir, &w.tables, "nat-1", InstanceRun::Running).unwrap();
    let app = attach(20, "nat-1", 0, Some("b"));
    inst::nic_attach(&w.dir, &w.tables, &app, Some("b"), false).unwrap();
    inst::nic_attach(
        &w.dir,
        &w.tables,
        &attach(21, "nat-1", 1, None),
        None,
        false,
    )
    .unwrap();
    w.firewall("b", &[("in", 100, "allow", &[], &[], &[])]);
    admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("10.99.0.0/16"),
        typed("nic:20"),
        None,
    )
    .unwrap();
    admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("10.98.0.0/16"),
        typed("nic:21"),
        None,
    )
    .unwrap();
    // Same sled: delivered to the appliance's port, to its MAC, through its
    // inbound layers (its check is off, so a destination not its own passes).
    let (o, out) = w.run(GUEST_A, &udp_from_a([10, 99, 0, 1], 4000, 53), S);
    assert_eq!(forwarded(o), GUEST_B);
    assert_eq!(&out[0..6], &MAC_APP, "to the appliance's MAC");
    assert_eq!(
        &out[30..34],
        &[10, 99, 0, 1],
        "the destination is unchanged"
    );
    // Another sled: encapsulated to the NIC's sled, inner MAC the NIC's.
    let (o, out) = w.run(GUEST_A, &udp_from_a([10, 98, 0, 1], 4000, 53), S);
    assert_eq!(forwarded(o), UPLINK);
    let (_, inner) = check_encap(&out, sled(2));
    assert_eq!(&inner[0..6], &MAC_FAR);
    let state = |w: &World| {
        let l = layers(&w.dir, &w.tables.current(), "a").unwrap();
        let r = l
            .layers
            .iter()
            .find(|l| l.name == "router")
            .unwrap()
            .clone();
        r.rules
            .iter()
            .filter_map(|r| r.state.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(state(&w), vec!["active", "active"]);
    // Stopped: blackhole, counted, shown; the route table unchanged.
    inst::instance_state(&w.dir, &w.tables, "nat-1", InstanceRun::Stopped).unwrap();
    let routes = w.tables.current().state.vnic("a").unwrap().routes.clone();
    let (o, _) = w.run(GUEST_A, &udp_from_a([10, 99, 0, 1], 4000, 53), 2 * S);
    assert_eq!(dropped(o), DropReason::RouteBlackhole);
    assert_eq!(state(&w), vec!["blackhole", "blackhole"]);
    // Detached while running: still a blackhole; re-attached: active again.
    inst::instance_state(&w.dir, &w.tables, "nat-1", InstanceRun::Running).unwrap();
    inst::nic_detach(&w.dir, &w.tables, 21).unwrap();
    let (o, _) = w.run(GUEST_A, &udp_from_a([10, 98, 0, 1], 4000, 53), 3 * S);
    assert_eq!(dropped(o), DropReason::RouteBlackhole);
    inst::nic_attach(
        &w.dir,
        &w.tables,
        &attach(21, "nat-1", 1, None),
        None,
        false,
    )
    .unwrap();
    let (o, _) = w.run(GUEST_A, &udp_from_a([10, 98, 0, 1], 4000, 53), 4 * S);
    assert_eq!(forwarded(o), UPLINK);
    assert_eq!(w.tables.current().state.vnic("a").unwrap().routes, routes);
    // A route to a NIC of another VPC is refused.
    let mut other = spec(40, [0xa8, 0x40, 0x25, 0xff, 0, 0x40], [10, 0, 0, 4], true);
    other.vni = vni(VNI + 1);
    inst::nic_create(&w.dir, &w.tables, &other).unwrap();
    let e = err(admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("10.97.0.0/16"),
        typed("nic:40"),
        None,
    ));
    assert!(e.contains("nic:40 is in VNI 7778"), "{e}");
}

#[test]
fn the_source_dest_check_and_secondary_ips() {
    let mut w = world();
    inst::instance_create(&w.dir, &w.tables, "nat-1", None).unwrap();
    inst::instance_state(&w.dir, &w.tables, "nat-1", InstanceRun::Running).unwrap();
    inst::nic_attach(
        &w.dir,
        &w.tables,
        &attach(20, "nat-1", 0, Some("b")),
        Some("b"),
        false,
    )
    .unwrap();
    admin::route_add(
        &w.dir,
        &w.tables,
        "b",
        typed("172.30.0.0/22"),
        typed("subnet:172.30.0.0/22"),
        None,
    )
    .unwrap();
    // The appliance forwards a packet of guest 10.99.0.1's: a source not
    // its own passes with the check off...
    let fwd = udp(MAC_APP, [10, 99, 0, 1], GW_MAC, IP_REMOTE);
    let (o, _) = w.run(GUEST_B, &fwd, S);
    assert_eq!(forwarded(o), UPLINK);
    // ...and is anti-spoof with it on (the NIC changed in place).
    admin::firewall_set(&w.dir, &w.tables, "nic:20", &[]).unwrap();
    let mut s = (*w.tables.current().state).clone();
    let n = s.nic_named_mut("nic:20").unwrap();
    n.nic.source_dest_check = true;
    n.nic.secondary_ipv4 = vec![[172, 30, 1, 50].into()];
    crate::control::commit::commit(&w.dir, &w.tables, s).unwrap();
    let (o, _) = w.run(GUEST_B, &fwd, 2 * S);
    assert_eq!(dropped(o), DropReason::AntiSpoof);
    // A secondary address is the NIC's own: it sends from it.
    let (o, _) = w.run(
        GUEST_B,
        &udp(MAC_APP, [172, 30, 1, 50], GW_MAC, IP_REMOTE),
        3 * S,
    );
    assert_eq!(forwarded(o), UPLINK);
    // A secondary that is another NIC's primary is refused, whole.
    let mut s = (*w.tables.current().state).clone();
    s.nic_named_mut("nic:20").unwrap().nic.secondary_ipv4 = vec![IP_A.into()];
    let e = crate::control::commit::commit(&w.dir, &w.tables, s).unwrap_err();
    assert!(
        e.iter()
            .any(|m| m.contains("private IP 172.30.0.5 is already used in VNI 7777")),
        "{e:?}"
    );
}

/// What a controller can make the switch keep is bounded: a document with
/// more NICs or instances than a switch holds is refused whole, and
/// `instance-create` at the bound makes room by forgetting the oldest
/// terminated instance, or refuses when none is.
#[test]
fn the_document_holds_a_bounded_number_of_nics_and_instances() {
    use vswitch_api::nic::{MAX_INSTANCES, MAX_SWITCH_NICS};
    use vswitch_api::state::{InstanceState, NicState};
    let w = world();
    let (d, t) = (&w.dir, &w.tables);
    let mut s = t.current().state.without_generation();
    s.nics.clear();
    for i in 0..=MAX_SWITCH_NICS as u32 {
        let mac = [0xa8, 0x40, 0x26, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let ip = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        s.nics.push(std::sync::Arc::new(NicState::new(spec(
            1000 + i,
            mac,
            ip,
            true,
        ))));
    }
    let errors = crate::control::commit::commit(d, t, s).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e == "nics: 4097 of them: a switch holds at most 4096"),
        "{errors:?}"
    );
    // At the bound, with every instance running, instance-create refuses.
    let mut s = t.current().state.without_generation();
    let before = s.instances.len();
    for i in before..MAX_INSTANCES {
        s.instances.push(InstanceState {
            id: format!("i-{i}"),
            instance_type: None,
            state: InstanceRun::Running,
        });
    }
    crate::control::commit::commit(d, t, s).unwrap();
    let e = err(inst::instance_create(d, t, "one-more", None));
    assert!(e.contains("none terminated"), "{e}");
    let oldest = format!("i-{before}");
    inst::instance_state(d, t, &oldest, InstanceRun::Terminated).unwrap();
    inst::instance_state(d, t, "i-4000", InstanceRun::Terminated).unwrap();
    inst::instance_create(d, t, "one-more", None).unwrap();
    let s = t.current().state.clone();
    assert_eq!(s.instances.len(), MAX_INSTANCES);
    assert!(s.instance(&oldest).is_none(), "the oldest terminated went");
    assert!(s.instance("i-4000").is_some(), "the other terminated stays");
}
