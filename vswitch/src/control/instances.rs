//! The instance and NIC commands (engine/src/control/instances.rs carries
//! them out).

use super::area::{applied, Handled};
use crate::switch::Switch;
use engine::control::instances as admin;
use vswitch_api::{Command, Reply};

/// Carries out an instance or NIC command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    let (dir, tables) = (&sw.directory, &sw.tables);
    let done = |r: Result<admin::Done, String>| applied(r.map(|d| d.generation));
    Handled::Done(match command {
        Command::InstanceTypeSet { name, max_nics } => {
            done(admin::instance_type_set(dir, tables, &name, max_nics))
        }
        Command::InstanceCreate { id, instance_type } => done(admin::instance_create(
            dir,
            tables,
            &id,
            instance_type.as_deref(),
        )),
        Command::InstanceState { id, state } => {
            done(admin::instance_state(dir, tables, &id, state))
        }
        Command::InstanceList => {
            let (instance_types, instances) = admin::instance_list(&tables.current());
            Ok(Reply::Instances {
                instance_types,
                instances,
            })
        }
        Command::NicCreate(spec) => done(admin::nic_create(dir, tables, &spec)),
        Command::NicDelete { id } => done(admin::nic_delete(dir, tables, id)),
        Command::NicAttach(req) => {
            let given = [req.port.is_some(), req.devargs.is_some(), req.remote];
            match given.iter().filter(|g| **g).count() {
                1 => {}
                _ => {
                    return Handled::Done(Err(
                        "nic-attach: give exactly one of port, devargs (a guest port created for it) and remote (the instance runs on another sled)"
                            .into(),
                    ))
                }
            }
            if req.devargs.is_some() {
                return Handled::Done(Err(
                    "nic-attach: devargs needs run-time guest ports (port-add), which this build does not have yet; create the port in the configuration and give port"
                        .into(),
                ));
            }
            done(admin::nic_attach(
                dir,
                tables,
                &req,
                req.port.as_deref(),
                false,
            ))
        }
        Command::NicDetach { nic } => done(admin::nic_detach(dir, tables, nic)),
        Command::NicList => Ok(Reply::Nics {
            nics: admin::nic_list(&tables.current()),
        }),
        other => return Handled::Not(other),
    })
}
