//! The instance and NIC commands (README, *Instances and NICs*): each
//! changes the state document and commits it, or refuses with what is
//! wrong and changes nothing. The rules of a *change* live here (a document
//! has no history); what every document must satisfy is `check_nics.rs`'s.

use crate::control::commit;
use crate::control::vpc::PortDirectory;
use crate::router::nic_target;
use crate::tables::{Snapshot, TableStore};
use std::sync::Arc;
use vswitch_api::nic::{
    AttachmentInfo, AttachmentRun, InstanceInfo, InstanceRun, InstanceTypeInfo, NicAttach, NicInfo,
    NicSpec, MAX_INSTANCES, MAX_NICS, VNIC_INSTANCE_PREFIX,
};
use vswitch_api::state::{
    attachment_id, AttachmentState, InstanceState, InstanceTypeState, NicState, SwitchState,
};

/// What a committed instance or NIC command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The generation now in force.
    pub generation: u64,
}

fn commit_with(
    dir: &PortDirectory,
    tables: &TableStore,
    cmd: &str,
    f: impl FnOnce(&mut SwitchState) -> Result<Vec<String>, String>,
) -> Result<Done, String> {
    let c = commit::change(dir, tables, cmd, |s| {
        // A port created for an attachment ends with it, in this same
        // generation; the switch then removes the device (it removes every
        // run-time port the document no longer lists).
        let ended = f(s)?;
        s.ports.retain(|p| !ended.contains(&p.name));
        Ok(())
    })?;
    Ok(Done {
        generation: c.generation,
    })
}

fn instance_mut<'a>(s: &'a mut SwitchState, id: &str) -> Result<&'a mut InstanceState, String> {
    s.instances
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| format!("there is no instance {id:?} (instance-create first)"))
}

fn nic_mut(s: &mut SwitchState, id: u32) -> Result<&mut NicState, String> {
    s.nics
        .iter_mut()
        .find(|v| v.nic.id == id)
        .map(Arc::make_mut)
        .ok_or_else(|| format!("there is no nic {id} (nic-create first)"))
}

/// `instance-type-set`.
pub fn instance_type_set(
    dir: &PortDirectory,
    tables: &TableStore,
    name: &str,
    max_nics: u8,
) -> Result<Done, String> {
    commit_with(dir, tables, "instance-type-set", |s| {
        if !(1..=MAX_NICS).contains(&max_nics) {
            return Err(format!("max_nics {max_nics} is not within 1..={MAX_NICS}"));
        }
        match s.instance_types.iter_mut().find(|t| t.name == name) {
            Some(t) => t.max_nics = max_nics,
            None => s.instance_types.push(InstanceTypeState {
                name: name.to_string(),
                max_nics,
            }),
        }
        Ok(Vec::new())
    })
}

/// `instance-create`: a new instance, `pending`.
pub fn instance_create(
    dir: &PortDirectory,
    tables: &TableStore,
    id: &str,
    instance_type: Option<&str>,
) -> Result<Done, String> {
    commit_with(dir, tables, "instance-create", |s| {
        if id.starts_with(VNIC_INSTANCE_PREFIX) {
            return Err(format!(
                "instance ids starting with {VNIC_INSTANCE_PREFIX:?} are vnic-create's"
            ));
        }
        if s.instance(id).is_some() {
            return Err(format!("instance {id:?} exists"));
        }
        if let Some(t) = instance_type {
            if !s.instance_types.iter().any(|x| x.name == t) {
                return Err(format!(
                    "unknown instance type {t:?} (instance-type-set first)"
                ));
            }
        }
        if s.instances.len() >= MAX_INSTANCES {
            // Terminated instances are kept for the record, the oldest
            // forgotten first when room is needed.
            let oldest = s
                .instances
                .iter()
                .position(|i| i.state == InstanceRun::Terminated)
                .ok_or_else(|| {
                    format!("the switch holds {MAX_INSTANCES} instances, none terminated: its most")
                })?;
            s.instances.remove(oldest);
        }
        s.instances.push(InstanceState {
            id: id.to_string(),
            instance_type: instance_type.map(str::to_string),
            state: InstanceRun::Pending,
        });
        Ok(Vec::new())
    })
}

/// `instance-state`: moves an instance to `to`. Terminating deletes the
/// NICs attached with `delete_on_terminate` (their addresses released) and
/// detaches the others, which survive with their addresses.
pub fn instance_state(
    dir: &PortDirectory,
    tables: &TableStore,
    id: &str,
    to: InstanceRun,
) -> Result<Done, String> {
    commit_with(dir, tables, "instance-state", |s| {
        let inst = instance_mut(s, id)?;
        if inst.state == InstanceRun::Terminated && to != InstanceRun::Terminated {
            return Err(format!("instance {id:?} is terminated; that is final"));
        }
        inst.state = to;
        if to != InstanceRun::Terminated {
            return Ok(Vec::new());
        }
        let mut ports = Vec::new();
        let mut deleted = Vec::new();
        for v in s.nics.iter_mut() {
            let Some(a) = v.attached().filter(|a| a.instance == id) else {
                continue;
            };
            if a.created_port {
                ports.extend(a.port.clone());
            }
            if a.delete_on_terminate {
                deleted.push(v.nic.id);
            } else if let Some(a) = Arc::make_mut(v).attachment.as_mut() {
                a.state = AttachmentRun::Detached;
            }
        }
        s.nics.retain(|v| !deleted.contains(&v.nic.id));
        Ok(ports)
    })
}

/// `nic-create`: a new NIC, not attached.
pub fn nic_create(
    dir: &PortDirectory,
    tables: &TableStore,
    spec: &NicSpec,
) -> Result<Done, String> {
    commit_with(dir, tables, "nic-create", |s| {
        if s.nic(spec.id).is_some() {
            return Err(format!("nic {} exists", spec.id));
        }
        s.nics.push(Arc::new(NicState::new(spec.clone())));
        Ok(Vec::new())
    })
}

/// `nic-delete`: deletes a NIC that is not attached, releasing its
/// addresses (private and external).
pub fn nic_delete(dir: &PortDirectory, tables: &TableStore, id: u32) -> Result<Done, String> {
    commit_with(dir, tables, "nic-delete", |s| {
        let v = s.nic(id).ok_or_else(|| format!("there is no nic {id}"))?;
        if let Some(a) = v.attached() {
            return Err(format!(
                "nic {id} is attached to instance {:?} ({}): nic-detach first",
                a.instance, a.id
            ));
        }
        s.nics.retain(|v| v.nic.id != id);
        Ok(Vec::new())
    })
}

/// Whether NIC `req.nic` may be attached to `req.instance` at
/// `req.device_index` (the seed's rules), with the message of the first
/// rule broken; `nic-attach --devargs` asks before it creates a port.
pub fn nic_attach_allowed(s: &SwitchState, req: &NicAttach) -> Result<(), String> {
    attach_rules(s, req)
        .map(|_| ())
        .map_err(|e| format!("nic-attach: {e}"))
}

fn attach_rules(s: &SwitchState, req: &NicAttach) -> Result<InstanceState, String> {
    let inst = s
        .instance(&req.instance)
        .ok_or_else(|| {
            format!(
                "there is no instance {:?} (instance-create first)",
                req.instance
            )
        })?
        .clone();
    match inst.state {
        InstanceRun::Pending => {
            return Err(format!(
                "instance {:?} is pending: attach when it is running (hot) or stopped (cold)",
                inst.id
            ))
        }
        InstanceRun::Terminated => return Err(format!("instance {:?} is terminated", inst.id)),
        InstanceRun::Running | InstanceRun::Stopped => {}
    }
    let limit = match &inst.instance_type {
        Some(t) => s
            .instance_types
            .iter()
            .find(|x| &x.name == t)
            .map_or(MAX_NICS, |x| x.max_nics),
        None => MAX_NICS,
    };
    let attached: Vec<&NicState> = s
        .nics
        .iter()
        .filter(|v| v.attached().is_some_and(|a| a.instance == inst.id))
        .map(|v| &**v)
        .collect();
    if attached.len() >= usize::from(limit) {
        return Err(format!(
            "instance {:?} has {} NICs attached, its type's limit",
            inst.id,
            attached.len()
        ));
    }
    if let Some(other) = attached.iter().find(|v| {
        v.attached()
            .is_some_and(|a| a.device_index == req.device_index)
    }) {
        return Err(format!(
            "device index {} of instance {:?} is taken by nic {}",
            req.device_index, inst.id, other.nic.id
        ));
    }
    let v = s
        .nic(req.nic)
        .ok_or_else(|| format!("there is no nic {} (nic-create first)", req.nic))?;
    if let Some(a) = v.attached() {
        return Err(format!(
            "nic {} is attached to instance {:?} ({}): a NIC is attached to one instance at a time",
            req.nic, a.instance, a.id
        ));
    }
    Ok(inst)
}

/// `nic-attach`, once the port is known: `port` is the guest port to bind
/// (an existing one, or one just created for it: `created_port`), or none
/// for an instance on another sled.
pub fn nic_attach(
    dir: &PortDirectory,
    tables: &TableStore,
    req: &NicAttach,
    port: Option<&str>,
    created_port: bool,
) -> Result<Done, String> {
    commit_with(dir, tables, "nic-attach", |s| {
        let inst = attach_rules(s, req)?;
        if let Some(p) = port {
            if let Some(other) = s.vnic(p) {
                return Err(format!("port {p:?} already carries nic {}", other.nic.id));
            }
        }
        s.attachments_made += 1;
        let id = attachment_id(s.attachments_made);
        nic_mut(s, req.nic)?.attachment = Some(AttachmentState {
            id,
            instance: inst.id,
            device_index: req.device_index,
            delete_on_terminate: req.delete_on_terminate,
            state: AttachmentRun::Attached,
            port: port.map(str::to_string),
            created_port,
        });
        Ok(Vec::new())
    })
}

/// `nic-detach`. Refused while the instance is pending, and for the
/// primary NIC (device index 0) of a running instance.
pub fn nic_detach(dir: &PortDirectory, tables: &TableStore, id: u32) -> Result<Done, String> {
    commit_with(dir, tables, "nic-detach", |s| {
        let v = s.nic(id).ok_or_else(|| format!("there is no nic {id}"))?;
        let a = v
            .attached()
            .ok_or_else(|| format!("nic {id} is not attached"))?
            .clone();
        let run = s.instance(&a.instance).map(|i| i.state);
        if run == Some(InstanceRun::Pending) {
            return Err(format!(
                "instance {:?} is pending: detach when it is running (hot) or stopped (cold)",
                a.instance
            ));
        }
        if run == Some(InstanceRun::Running) && a.device_index == 0 {
            return Err(format!(
                "nic {id} is the primary NIC (device index 0) of running instance {:?}: stop the instance first",
                a.instance
            ));
        }
        if let Some(x) = nic_mut(s, id)?.attachment.as_mut() {
            x.state = AttachmentRun::Detached;
        }
        Ok(a.port.filter(|_| a.created_port).into_iter().collect())
    })
}

fn attachment_info(a: &AttachmentState) -> AttachmentInfo {
    AttachmentInfo {
        id: a.id.clone(),
        instance: a.instance.clone(),
        device_index: a.device_index,
        delete_on_terminate: a.delete_on_terminate,
        state: a.state,
        port: a.port.clone(),
        created_port: a.created_port,
    }
}

/// A NIC as the lists show it.
pub fn nic_info(v: &NicState) -> NicInfo {
    let x = v.external.as_ref();
    NicInfo {
        id: v.nic.id,
        mac: v.nic.mac.to_string(),
        vni: v.nic.vni.get(),
        subnet: v.nic.subnet.clone(),
        vpc: v.nic.vpc.clone(),
        private_ips: v.nic.private_ips().collect(),
        source_dest_check: v.nic.source_dest_check,
        security_groups: v.nic.security_groups.clone(),
        firewall_rules: v.firewall.len(),
        external_ips: x
            .map(|x| {
                x.floating
                    .iter()
                    .copied()
                    .chain(x.ephemeral)
                    .chain(x.snat.map(|s| s.ip))
                    .collect()
            })
            .unwrap_or_default(),
        status: if v.attached().is_some() {
            "in-use".into()
        } else {
            "available".into()
        },
        attachment: v.attachment.as_ref().map(attachment_info),
    }
}

/// `nic-list`: every NIC, by id.
pub fn nic_list(snap: &Snapshot) -> Vec<NicInfo> {
    let mut v: Vec<NicInfo> = snap.state.nics.iter().map(|n| nic_info(n)).collect();
    v.sort_by_key(|n| n.id);
    v
}

/// `instance-list`: the types, and every instance with its attached NICs
/// by device index.
pub fn instance_list(snap: &Snapshot) -> (Vec<InstanceTypeInfo>, Vec<InstanceInfo>) {
    let s = &snap.state;
    let mut types: Vec<InstanceTypeInfo> = s
        .instance_types
        .iter()
        .map(|t| InstanceTypeInfo {
            name: t.name.clone(),
            max_nics: t.max_nics,
        })
        .collect();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<InstanceInfo> = s
        .instances
        .iter()
        .map(|i| {
            let mut nics: Vec<(u8, NicInfo)> = s
                .nics
                .iter()
                .filter_map(|v| {
                    let a = v.attached().filter(|a| a.instance == i.id)?;
                    Some((a.device_index, nic_info(v)))
                })
                .collect();
            nics.sort_by_key(|(d, _)| *d);
            InstanceInfo {
                id: i.id.clone(),
                instance_type: i.instance_type.clone(),
                max_nics: i
                    .instance_type
                    .as_ref()
                    .and_then(|t| s.instance_types.iter().find(|x| &x.name == t))
                    .map_or(MAX_NICS, |t| t.max_nics),
                state: i.state,
                nics: nics.into_iter().map(|(_, n)| n).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    (types, out)
}

/// The state of each `nic:ID` route of the NIC `id` names, for people.
pub fn route_state(snap: &Snapshot, nic: u32, vni: u32) -> &'static str {
    nic_target::state_of(&snap.vpc.nic_targets, nic, vni)
}
