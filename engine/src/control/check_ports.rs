//! The rules for guest ports created at run time (README, *Guest ports at
//! run time*): the document lists them so that a restart creates them
//! again, and a NIC may be bound to one only while the document lists it.

use super::check::{port_named, Errors};
use crate::control::vpc::PortDirectory;
use crate::PortRole;
use std::collections::BTreeSet;
use vswitch_api::state::SwitchState;

/// Checks `state.ports` against the switch's ports, and the NICs bound to
/// run-time ports.
pub(crate) fn check_ports(dir: &PortDirectory, state: &SwitchState, e: &mut Errors) {
    let runtime = |i: usize| dir.runtime.get(i).copied().unwrap_or(false);
    let mut listed = BTreeSet::new();
    for (n, p) in state.ports.iter().enumerate() {
        let obj = format!("ports[{n}] {:?}", p.name);
        if !listed.insert(p.name.as_str()) {
            e.add(&obj, "listed twice");
            continue;
        }
        if p.role != "guest" {
            e.add(
                &obj,
                format!("role {:?}: a run-time port is a guest port", p.role),
            );
        }
        match port_named(dir, &p.name) {
            Ok(i) if runtime(i as usize) => {
                if dir.roles.get(i as usize) != Some(&PortRole::Guest) {
                    e.add(&obj, "the port is not a guest port");
                }
            }
            Ok(_) => e.add(
                &obj,
                "this port comes from the configuration, not from port-add",
            ),
            Err(_) => e.add(
                &obj,
                "this switch has no such run-time port (port-add creates one; a document cannot)",
            ),
        }
    }
    for nic in &state.nics {
        let Some(port) = nic.port() else { continue };
        let Ok(i) = port_named(dir, port) else {
            continue;
        };
        if runtime(i as usize) && !listed.contains(port) {
            e.add(
                format!("nic {}", nic.nic.id),
                format!("attachment.port: {port:?} is a run-time port that `ports` does not list"),
            );
        }
    }
}
