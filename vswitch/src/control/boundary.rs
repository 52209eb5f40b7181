//! The boundary's commands: the external port and the boundary map
//! (engine/src/control/boundary.rs carries them out).

use super::area::{applied, Handled};
use crate::switch::Switch;
use engine::control::boundary as boundary_admin;
use vswitch_api::{Command, Reply};

/// Carries out a boundary command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    Handled::Done(match command {
        Command::ExternalPortSet {
            port,
            nexthop_mac,
            addr,
        } => applied(boundary_admin::external_port_set(
            &sw.directory(),
            sw.role,
            &sw.tables,
            &port,
            nexthop_mac,
            addr,
        )),
        Command::BoundaryMapSet { ip, sled, ports } => applied(boundary_admin::boundary_map_put(
            &sw.directory(),
            sw.role,
            &sw.tables,
            vswitch_api::BoundaryMapEntry { ip, sled, ports },
        )),
        Command::BoundaryMapClear { ip, ports } => applied(boundary_admin::boundary_map_clear(
            &sw.directory(),
            &sw.tables,
            ip,
            ports,
        )),
        Command::BridgeLinkSet(link) => applied(boundary_admin::bridge_link_set(
            &sw.directory(),
            sw.role,
            &sw.tables,
            link,
        )),
        Command::BridgeLinkClear { port } => applied(boundary_admin::bridge_link_clear(
            &sw.directory(),
            &sw.tables,
            &port,
        )),
        Command::StaticNatSet(entry) => applied(boundary_admin::static_nat_set(
            &sw.directory(),
            sw.role,
            &sw.tables,
            entry,
        )),
        Command::StaticNatClear { external } => applied(boundary_admin::static_nat_clear(
            &sw.directory(),
            &sw.tables,
            external,
        )),
        Command::BoundaryMapList => Ok(Reply::BoundaryMap(boundary_admin::boundary_map_list(
            &sw.directory(),
            &sw.tables.current(),
        ))),
        other => return Handled::Not(other),
    })
}
