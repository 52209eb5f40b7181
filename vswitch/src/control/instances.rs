//! The instance and NIC commands (engine/src/control/instances.rs carries
//! them out).

use super::area::{applied, Handled};
use super::ports;
use crate::switch::Switch;
use engine::control::instances as admin;
use vswitch_api::nic::NicAttach;
use vswitch_api::{Command, Reply};

/// Carries out an instance or NIC command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    let dir_now = sw.directory();
    let (dir, tables) = (&*dir_now, &sw.tables);
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
            match &req.devargs {
                Some(devargs) => attach_on_new_port(sw, &req, devargs),
                None => done(admin::nic_attach(
                    &sw.directory(),
                    tables,
                    &req,
                    req.port.as_deref(),
                    false,
                )),
            }
        }
        Command::NicDetach { nic } => done(admin::nic_detach(dir, tables, nic)),
        Command::NicList => Ok(Reply::Nics {
            nics: admin::nic_list(&tables.current()),
        }),
        other => return Handled::Not(other),
    })
}

/// `nic-attach --devargs`: creates guest port `nicID` from the devargs
/// (one generation), then attaches the NIC to it (the next), the port
/// marked as the attachment's own so that detaching removes it. If the
/// attach is refused, the port goes again.
fn attach_on_new_port(sw: &Switch, req: &NicAttach, devargs: &str) -> Result<Reply, String> {
    let cmd = "nic-attach";
    let name = format!("nic{}", req.nic);
    // The attach's own rules first, so that a refused attach creates no port.
    admin::nic_attach_allowed(&sw.tables.current().state, req)?;
    ports::port_add(sw, cmd, &name, devargs, "guest")?;
    match admin::nic_attach(&sw.directory(), &sw.tables, req, Some(&name), true) {
        Ok(d) => Ok(Reply::Applied {
            generation: d.generation,
        }),
        Err(e) => {
            let undo = engine::control::commit::change(&sw.directory(), &sw.tables, cmd, |s| {
                s.ports.retain(|p| p.name != name);
                Ok(())
            })
            .and_then(|_| ports::reconcile(sw));
            match undo {
                Ok(()) => Err(e),
                Err(u) => Err(format!("{e} (and the port created for it stays: {u})")),
            }
        }
    }
}
