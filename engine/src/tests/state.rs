//! The state document as the one path of every change: a whole state is
//! refused with every error and nothing changes; the state in force applied
//! again changes nothing; a fresh switch given another's document forwards
//! byte for byte as it does; the update rules hold for whole documents too.

use super::*;
use crate::control::commit::{commit, plan};
use crate::nat::tests::igw_world;
use std::sync::Arc;
use vswitch_api::state::{IgwState, PoolState, RouteState, SwitchState, V2pTarget};

fn doc(w: &World) -> SwitchState {
    SwitchState::clone(&w.tables.current().state)
}

fn epochs(w: &World) -> Vec<Option<u64>> {
    let s = w.tables.current();
    [GUEST_A, GUEST_B]
        .iter()
        .map(|p| s.vpc.vnic(*p).map(|v| v.epoch))
        .collect()
}

#[test]
fn a_bad_state_is_refused_with_every_error_and_nothing_changes() {
    let w = igw_world();
    let before = w.tables.current();
    let mut s = doc(&w);
    Arc::make_mut(&mut s.nics[0]).nic.mac = typed("ff:ff:ff:ff:ff:ff");
    Arc::make_mut(&mut s.nics[1]).routes.push(RouteState {
        dest: typed("10.0.0.1/8"),
        target: typed("drop"),
        class: None,
    });
    s.v2p.set(
        vni(99),
        "10.0.0.1".parse().unwrap(),
        V2pTarget {
            mac: typed("a8:40:25:00:00:01"),
            underlay: sled(2),
        },
    );
    s.pools.push(PoolState {
        name: "bad".into(),
        ranges: typed_all(&["10.9.0.0/24", "10.9.0.9"]),
    });
    s.igws.push(IgwState {
        id: 42,
        name: None,
        pools: vec!["nowhere".into()],
        ranges: vec![],
    });
    let errors = commit(&w.dir, &w.tables, s).unwrap_err();
    for want in [
        "vnic \"a\": mac: mac and gateway_mac must be unicast addresses (ff:ff:ff:ff:ff:ff is not)",
        "vnic \"b\": routes[1]: route 10.0.0.1/8 has host bits set",
        "v2p 99: vni 99 is reserved",
        "pool \"bad\": range 10.9.0.9 overlaps range 10.9.0.0-10.9.0.255 of the same pool",
        "igw 42: pools: unknown pool \"nowhere\"",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{want:?} missing from {errors:#?}"
        );
    }
    let after = w.tables.current();
    assert_eq!(after.generation, before.generation, "nothing is published");
    assert!(Arc::ptr_eq(&after, &before));
}

#[test]
fn the_state_in_force_applied_again_changes_nothing() {
    let w = igw_world();
    let g = w.tables.current().generation;
    let swaps = w.tables.swaps();
    let c = commit(&w.dir, &w.tables, doc(&w)).unwrap();
    assert!(!c.changed && c.moved.is_empty());
    assert_eq!((c.generation, w.tables.swaps()), (g, swaps));
    // Nor does another spelling of the same MAC address: it reads as the
    // same address.
    let s = doc(&w);
    let mac = s.nics[0].nic.mac.to_string();
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains(&mac));
    let upper: SwitchState =
        serde_json::from_str(&text.replace(&mac, &mac.to_uppercase())).unwrap();
    assert_eq!(upper, s);
    assert!(!commit(&w.dir, &w.tables, upper).unwrap().changed);
}

#[test]
fn a_fresh_switch_given_the_document_forwards_byte_for_byte_alike() {
    let mut w = igw_world();
    let state = doc(&w);
    let text = serde_json::to_string(&state).unwrap();
    let mut fresh = World::bare();
    let back: SwitchState = serde_json::from_str(&text).unwrap();
    commit(&fresh.dir, &fresh.tables, back).unwrap();
    let mut a = doc(&fresh);
    let mut b = state.clone();
    a.generation = None;
    b.generation = None;
    assert_eq!(a, b, "the document survives JSON and a fresh switch");
    // Flows of every kind leave both alike: VPC, through the gateways, NAT.
    for (i, dst) in [IP_REMOTE, [1, 1, 1, 1], [4, 4, 4, 4], [77, 77, 77, 77]]
        .into_iter()
        .enumerate()
    {
        let frame = udp_from_a(dst, 40000 + i as u16, 53);
        let (o1, out1) = w.run(GUEST_A, &frame, 0);
        let (o2, out2) = fresh.run(GUEST_A, &frame, 0);
        assert_eq!(o1.verdict, o2.verdict, "to {dst:?}");
        assert_eq!(out1, out2, "to {dst:?}");
    }
}

#[test]
fn whole_documents_keep_the_update_rules() {
    let w = igw_world();
    let e0 = epochs(&w);
    // A new gateway moves no epoch (no route names it).
    let mut s = doc(&w);
    s.igws.push(IgwState {
        id: 9,
        name: Some("new".into()),
        pools: vec![],
        ranges: vec![],
    });
    let (c, diff) = plan(&w.dir, &w.tables, s.clone()).unwrap();
    assert_eq!(diff.added, vec!["igw 9"]);
    assert!(diff.changed.is_empty() && diff.removed.is_empty());
    assert!(c.moved.is_empty());
    assert_eq!(
        w.tables.current().state.igws.len(),
        4,
        "a plan publishes nothing"
    );
    assert!(commit(&w.dir, &w.tables, s).unwrap().moved.is_empty());
    assert_eq!(epochs(&w), e0);
    // A gateway's new range moves exactly the VNICs routing through it (a).
    let mut s = doc(&w);
    let g = s.igws.iter_mut().find(|g| g.id == 2).unwrap();
    g.ranges.push(typed("192.168.0.9"));
    let c = commit(&w.dir, &w.tables, s).unwrap();
    assert_eq!(c.moved, vec![GUEST_A]);
    let e1 = epochs(&w);
    assert!(e1[0] > e0[0] && e1[1] == e0[1], "{e0:?} -> {e1:?}");
    // A V2P change moves the VNICs of its VNI, both here.
    let mut s = doc(&w);
    s.v2p.remove(vni(VNI), IP_REMOTE.into());
    let c = commit(&w.dir, &w.tables, s).unwrap();
    assert_eq!(c.moved, vec![GUEST_A, GUEST_B]);
    assert!(c.reborn.is_empty(), "the VNICs are the same");
}

#[test]
fn a_vnic_replaced_or_removed_in_a_document_is_reborn() {
    let w = igw_world();
    let mut s = doc(&w);
    Arc::make_mut(&mut s.nics[0]).nic.id = 77;
    s.nics.retain(|v| v.port() != Some("b"));
    let (c, diff) = plan(&w.dir, &w.tables, s.clone()).unwrap();
    // A NIC of another id is another NIC.
    assert_eq!(diff.added, vec!["nic 77"]);
    assert_eq!(diff.removed, vec!["nic 5", "nic 6"]);
    assert_eq!(c.reborn, vec![GUEST_A, GUEST_B]);
    let births: Vec<_> = [GUEST_A, GUEST_B]
        .iter()
        .map(|p| w.tables.current().vpc.vnic(*p).map(|v| v.birth))
        .collect();
    commit(&w.dir, &w.tables, s).unwrap();
    let now = w.tables.current();
    assert!(now.vpc.vnic(GUEST_A).map(|v| v.birth) > births[0]);
    assert!(now.vpc.vnic(GUEST_B).is_none());
}

/// A journal that cannot write (a full disk).
struct FullDisk;

impl crate::tables::Journal for FullDisk {
    fn write(&self, _: &SwitchState) -> Result<(), String> {
        Err("state file: cannot write: No space left on device".into())
    }
}

#[test]
fn a_change_the_journal_cannot_write_is_undone_and_refused() {
    let w = igw_world();
    let before = w.tables.current();
    w.tables.set_journal(Box::new(FullDisk)).unwrap();
    let e = admin::route_add(
        &w.dir,
        &w.tables,
        "a",
        typed("192.0.2.0/24"),
        typed("drop"),
        None,
    )
    .unwrap_err();
    assert!(e.contains("No space left") && e.contains("undone"), "{e}");
    let now = w.tables.current();
    let (mut a, mut b) = (SwitchState::clone(&now.state), doc_of(&before));
    a.generation = None;
    b.generation = None;
    assert_eq!(a, b, "the state in force is the one before");
    assert_eq!(
        now.generation,
        before.generation + 2,
        "published, then undone"
    );
    let routes = |s: &crate::tables::Snapshot| s.vpc.vnic(GUEST_A).map(|v| v.router.len());
    assert_eq!(routes(&now), routes(&before));
    assert!(now.vpc.vnic(GUEST_A).map(|v| v.epoch) > before.vpc.vnic(GUEST_A).map(|v| v.epoch));
}

fn doc_of(s: &crate::tables::Snapshot) -> SwitchState {
    SwitchState::clone(&s.state)
}
