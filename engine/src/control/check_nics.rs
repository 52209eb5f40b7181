//! Checks of the instance and NIC objects of a state (README, *Instances
//! and NICs*): what any document must satisfy, whichever command or `apply`
//! wrote it. The rules about *changes* (no attach while `pending`, the
//! primary NIC stays on a running instance) are the commands' own
//! (`control/instances.rs`), since a document has no history.

use super::check::Errors;
use crate::router::nic_target::{NicTarget, NicTargets};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use vswitch_api::nic::{
    InstanceRun, NicSpec, MAX_INSTANCES, MAX_INSTANCE_TYPES, MAX_NICS, MAX_SWITCH_NICS,
};
use vswitch_api::state::SwitchState;

/// Checks instance types, instances and attachments.
pub(crate) fn check_instances(state: &SwitchState, e: &mut Errors) {
    for (what, n, max) in [
        (
            "instance_types",
            state.instance_types.len(),
            MAX_INSTANCE_TYPES,
        ),
        ("instances", state.instances.len(), MAX_INSTANCES),
        ("nics", state.nics.len(), MAX_SWITCH_NICS),
    ] {
        if n > max {
            e.add(what, format!("{n} of them: a switch holds at most {max}"));
        }
    }
    let mut types: BTreeMap<&str, u8> = BTreeMap::new();
    for t in &state.instance_types {
        let obj = format!("instance-type {:?}", t.name);
        if t.name.is_empty() || t.name.chars().any(char::is_whitespace) {
            e.add(&obj, "name must be non-empty, without spaces");
        }
        if !(1..=MAX_NICS).contains(&t.max_nics) {
            e.add(
                &obj,
                format!("max_nics: {} is not within 1..={MAX_NICS}", t.max_nics),
            );
        }
        if types.insert(&t.name, t.max_nics).is_some() {
            e.add(&obj, "the instance type is given twice");
        }
    }
    let mut instances: BTreeMap<&str, (InstanceRun, u8)> = BTreeMap::new();
    for i in &state.instances {
        let obj = format!("instance {:?}", i.id);
        if i.id.is_empty() || i.id.chars().any(char::is_whitespace) {
            e.add(&obj, "id must be non-empty, without spaces");
        }
        let limit = match &i.instance_type {
            None => MAX_NICS,
            Some(t) => {
                match types.get(t.as_str()) {
                    Some(n) => *n,
                    None => {
                        e.add(
                        &obj,
                        format!("instance_type: unknown instance type {t:?} (instance-type-set first)"),
                    );
                        MAX_NICS
                    }
                }
            }
        };
        if instances.insert(&i.id, (i.state, limit)).is_some() {
            e.add(&obj, "the instance is given twice");
        }
    }
    let mut ids = BTreeSet::new();
    let mut attachment_ids = BTreeSet::new();
    let mut per_instance: BTreeMap<&str, BTreeMap<u8, u32>> = BTreeMap::new();
    for v in &state.nics {
        let obj = format!("nic {}", v.nic.id);
        if !ids.insert(v.nic.id) {
            e.add(&obj, "the NIC id is given twice");
        }
        let Some(a) = &v.attachment else { continue };
        if !attachment_ids.insert(a.id.as_str()) {
            e.add(&obj, format!("attachment: id {} is given twice", a.id));
        }
        if a.created_port && a.port.is_none() {
            e.add(&obj, "attachment: created_port without a port");
        }
        let Some(a) = v.attached() else { continue };
        let Some((run, limit)) = instances.get(a.instance.as_str()).copied() else {
            e.add(
                &obj,
                format!("attachment: unknown instance {:?}", a.instance),
            );
            continue;
        };
        if run == InstanceRun::Terminated {
            e.add(
                &obj,
                format!(
                    "attachment: instance {:?} is terminated and can have no NIC attached",
                    a.instance
                ),
            );
        }
        let slots = per_instance.entry(&a.instance).or_default();
        if let Some(other) = slots.insert(a.device_index, v.nic.id) {
            e.add(
                &obj,
                format!(
                    "attachment: device index {} of instance {:?} is already nic {other}'s",
                    a.device_index, a.instance
                ),
            );
        }
        if slots.len() > usize::from(limit) {
            e.add(
                &obj,
                format!(
                    "attachment: instance {:?} may have at most {limit} NICs (its type's limit)",
                    a.instance
                ),
            );
        }
    }
}

/// Checks a NIC's secondary addresses: unicast, each once, not a primary
/// or the gateway's, and of a family the NIC has.
pub(crate) fn check_addresses(n: &NicSpec, obj: &dyn std::fmt::Display, e: &mut Errors) {
    let mut seen: BTreeSet<IpAddr> = n
        .ipv4
        .map(IpAddr::V4)
        .into_iter()
        .chain(n.ipv6.map(IpAddr::V6))
        .collect();
    let gateways: Vec<IpAddr> = n
        .gateway_ipv4
        .map(IpAddr::V4)
        .into_iter()
        .chain(n.gateway_ipv6.map(IpAddr::V6))
        .collect();
    let secondaries = n
        .secondary_ipv4
        .iter()
        .map(|a| ("secondary_ipv4", IpAddr::V4(*a), n.ipv4.is_some()))
        .chain(
            n.secondary_ipv6
                .iter()
                .map(|a| ("secondary_ipv6", IpAddr::V6(*a), n.ipv6.is_some())),
        );
    for (field, ip, family) in secondaries {
        if !family {
            e.add(
                obj,
                format!("{field}: {ip} needs a primary address of its family"),
            );
        } else if !super::check::unicast(ip) {
            e.add(obj, format!("{field}: {ip} is not a unicast address"));
        } else if gateways.contains(&ip) {
            e.add(obj, format!("{field}: {ip} is the gateway's address"));
        } else if !seen.insert(ip) {
            e.add(obj, format!("{field}: {ip} is given twice"));
        }
    }
}

/// The NICs a `nic:ID` route reaches now: attached to a running instance
/// (here or on another sled). A route may name a NIC that does not exist
/// (yet, or any more): it is a blackhole; one that names a NIC of another
/// VPC is refused.
pub(crate) fn nic_targets(state: &SwitchState, e: &mut Errors) -> NicTargets {
    let running: BTreeSet<&str> = state
        .instances
        .iter()
        .filter(|i| i.state == InstanceRun::Running)
        .map(|i| i.id.as_str())
        .collect();
    let mut t = NicTargets::new();
    for v in &state.nics {
        if v.attached()
            .is_some_and(|a| running.contains(a.instance.as_str()))
        {
            t.insert(
                v.nic.id,
                NicTarget {
                    vni: v.nic.vni.get(),
                    ipv4: v.nic.ipv4,
                    ipv6: v.nic.ipv6,
                },
            );
        }
    }
    for v in &state.nics {
        for (i, r) in v.routes.iter().enumerate() {
            let vswitch_api::RouteTarget::Nic(id) = r.target else {
                continue;
            };
            if let Some(other) = state.nic(id).filter(|o| o.nic.vni != v.nic.vni) {
                e.add(
                    format!("nic {}", v.nic.id),
                    format!(
                        "routes[{i}]: nic:{id} is in VNI {}, not in this NIC's VNI {} (a route reaches a NIC of its own VPC)",
                        other.nic.vni, v.nic.vni
                    ),
                );
            }
        }
    }
    t
}
