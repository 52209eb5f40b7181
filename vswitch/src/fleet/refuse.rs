//! What the control socket of a fleet-mode switch refuses: every change to
//! a fleet-owned object. What stays the switch's own (ports, patches, the
//! external port, clearing flows, shutting down) it still takes, and
//! `apply` only when it leaves the fleet-owned parts as they are.

use super::FleetLink;
use crate::control::{changes_state, command_name};
use vswitch_api::state::SwitchState;
use vswitch_api::Command;
use vswitch_fabric::view::same_fleet_parts;

/// Why the control socket refuses `cmd` on a fleet-mode switch whose state
/// in force is `current`, if it does.
pub fn refusal(link: &FleetLink, cmd: &Command, current: &SwitchState) -> Option<String> {
    let name = command_name(cmd);
    let local = match cmd {
        Command::Apply { state, .. } => {
            if same_fleet_parts(state, current) {
                return None;
            }
            false
        }
        Command::PatchSet { .. }
        | Command::PatchClear { .. }
        | Command::PortAdd { .. }
        | Command::PortDel { .. }
        | Command::ExternalPortSet { .. }
        | Command::FlowsClear { .. }
        | Command::FlowsImport(_)
        | Command::Shutdown => true,
        other => !changes_state(other),
    };
    if local {
        return None;
    }
    let etcd = if link.connected() {
        String::new()
    } else {
        let s = link.status();
        format!(
            "; etcd is unreachable{}, so the fleet cannot take it now either",
            s.disconnected_secs
                .map(|t| format!(" (for {t:.0} s)"))
                .unwrap_or_default()
        )
    };
    let what = if matches!(cmd, Command::Apply { .. }) {
        "the document changes fleet-owned parts: "
    } else {
        ""
    };
    Some(format!(
        "{name}: {what}this switch is in fleet mode (sled {:?}): its instances, NICs, V2P, V2B, gateways, pools, boundary map and underlay address are the fleet's; change them with vswitch-fabric (etcd {}){etcd}",
        link.cfg.sled,
        link.cfg.etcd.join(","),
    ))
}
