//! The VPC commands: VNICs, underlay, V2P, routes, firewall rules and the
//! layers dump (engine/src/control/vpc.rs carries them out).

use super::area::{applied, Handled};
use crate::switch::Switch;
use engine::control::vpc as vpc_admin;
use vswitch_api::{Command, Reply};

/// Carries out a vpc command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    Handled::Done(match command {
        Command::VnicCreate(req) => {
            applied(vpc_admin::vnic_create(&sw.directory(), &sw.tables, &req))
        }
        Command::VnicDelete { port } => {
            applied(vpc_admin::vnic_delete(&sw.directory(), &sw.tables, &port))
        }
        Command::VnicList => Ok(Reply::Vnics {
            vnics: vpc_admin::vnic_list(&sw.directory(), &sw.tables.current()),
        }),
        Command::UnderlaySet {
            addr,
            uplink,
            nexthop_mac,
        } => applied(vpc_admin::underlay_set(
            &sw.directory(),
            &sw.tables,
            addr,
            &uplink,
            nexthop_mac,
        )),
        Command::V2pSet {
            vni,
            ip,
            mac,
            underlay,
        } => applied(vpc_admin::v2p_set(
            &sw.directory(),
            &sw.tables,
            vni,
            ip,
            mac,
            underlay,
        )),
        Command::V2pClear { vni, ip } => {
            applied(vpc_admin::v2p_clear(&sw.directory(), &sw.tables, vni, ip))
        }
        Command::V2pList => Ok(Reply::V2p {
            entries: vpc_admin::v2p_list(&sw.tables.current()),
        }),
        Command::RouteAdd {
            port,
            dest,
            target,
            class,
        } => applied(vpc_admin::route_add(
            &sw.directory(),
            &sw.tables,
            &port,
            dest,
            target,
            class,
        )),
        Command::RouteDel { port, dest, class } => applied(vpc_admin::route_del(
            &sw.directory(),
            &sw.tables,
            &port,
            dest,
            class,
        )),
        Command::FirewallSet { port, rules } => applied(vpc_admin::firewall_set(
            &sw.directory(),
            &sw.tables,
            &port,
            &rules,
        )),
        Command::Layers { port } => {
            vpc_admin::layers(&sw.directory(), &sw.tables.current(), &port).map(Reply::Layers)
        }
        other => return Handled::Not(other),
    })
}
