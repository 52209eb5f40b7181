//! The internet-gateway commands: pools, gateways, external IPs and V2B
//! (engine/src/control/igw.rs carries them out).

use super::area::Handled;
use crate::switch::Switch;
use engine::control::igw as igw_admin;
use vswitch_api::{Command, Reply};

/// Carries out a igw command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    Handled::Done(match command {
        Command::PoolCreate { name, ranges } => {
            igw_admin::pool_create(&sw.directory(), &sw.tables, &name, &ranges)
        }
        Command::PoolDelete { name } => igw_admin::pool_delete(&sw.directory(), &sw.tables, &name),
        Command::PoolList => Ok(Reply::Pools {
            pools: igw_admin::pool_list(&sw.directory(), &sw.tables.current()),
        }),
        Command::IgwCreate { id, name } => {
            igw_admin::igw_create(&sw.directory(), &sw.tables, id, name.as_deref())
        }
        Command::IgwDelete { id } => igw_admin::igw_delete(&sw.directory(), &sw.tables, id),
        Command::IgwAssign { id, pool, range } => {
            igw_admin::igw_assign(&sw.directory(), &sw.tables, id, pool.as_deref(), range)
        }
        Command::IgwUnassign { id, pool, range } => {
            igw_admin::igw_unassign(&sw.directory(), &sw.tables, id, pool.as_deref(), range)
        }
        Command::IgwList => Ok(Reply::Igws {
            igws: igw_admin::igw_list(&sw.directory(), &sw.tables.current()),
        }),
        Command::ExternalSet(req) => igw_admin::external_set(&sw.directory(), &sw.tables, &req),
        Command::ExternalClear { port } => {
            igw_admin::external_clear(&sw.directory(), &sw.tables, &port)
        }
        Command::ExternalList => Ok(Reply::Externals {
            externals: igw_admin::external_list(&sw.directory(), &sw.tables.current()),
        }),
        Command::V2bSet { prefix, endpoints } => {
            igw_admin::v2b_set(&sw.directory(), &sw.tables, prefix, &endpoints)
        }
        Command::V2bClear { prefix } => igw_admin::v2b_clear(&sw.directory(), &sw.tables, prefix),
        Command::V2bList => Ok(Reply::V2b {
            entries: igw_admin::v2b_list(&sw.tables.current()),
        }),
        other => return Handled::Not(other),
    })
}
