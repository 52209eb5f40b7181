//! Reading a state document: version 2 as it is, and version 1, whose
//! VNICs were bound to guest ports, as what `vnic-create` makes today (a
//! NIC attached at device index 0 to a running one-NIC instance
//! `vnic:PORT`), so that a state file written before instances existed
//! comes back after an upgrade.

use super::{
    AttachmentState, ExternalPortState, ExternalState, FleetStamp, IgwState, InstanceState,
    InstanceTypeState, NicState, PoolState, RouteState, RuntimePortState, SwitchState,
    UnderlayState, V2pMap, STATE_VERSION,
};
use crate::nic::{AttachmentRun, InstanceRun, VNIC_INSTANCE_PREFIX};
use crate::{BoundaryMapEntry, FwRuleSpec, PatchEntry, V2bEntry, VnicCreate};
use serde::Deserialize;
use std::sync::Arc;

/// A VNIC of a version-1 document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VnicV1 {
    nic: VnicCreate,
    #[serde(default)]
    routes: Vec<RouteState>,
    #[serde(default)]
    firewall: Vec<FwRuleSpec>,
    #[serde(default)]
    external: Option<ExternalState>,
}

/// A state document of either version, as read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateDoc {
    version: u32,
    #[serde(default)]
    generation: Option<u64>,
    role: String,
    #[serde(default)]
    ports: Vec<RuntimePortState>,
    #[serde(default)]
    underlay: Option<UnderlayState>,
    #[serde(default)]
    instance_types: Vec<InstanceTypeState>,
    #[serde(default)]
    instances: Vec<InstanceState>,
    #[serde(default)]
    nics: Vec<Arc<NicState>>,
    #[serde(default)]
    attachments_made: u64,
    #[serde(default)]
    vnics: Vec<VnicV1>,
    #[serde(default)]
    v2p: V2pMap,
    #[serde(default)]
    pools: Vec<PoolState>,
    #[serde(default)]
    igws: Vec<IgwState>,
    #[serde(default)]
    v2b: Vec<V2bEntry>,
    #[serde(default)]
    external_port: Option<ExternalPortState>,
    #[serde(default)]
    boundary_map: Vec<BoundaryMapEntry>,
    #[serde(default)]
    bridge_links: Vec<super::BridgeLinkState>,
    #[serde(default)]
    static_nat: Vec<super::StaticNatEntry>,
    #[serde(default)]
    patches: Vec<PatchEntry>,
    #[serde(default)]
    fleet: Option<FleetStamp>,
}

/// The id of the `n`th attachment a switch made.
pub fn attachment_id(n: u64) -> String {
    format!("eni-attach-{n:08x}")
}

/// What `vnic-create` makes of `v`: the NIC, attached to `vnic:PORT` as the
/// `n`th attachment, and that instance.
pub fn vnic_as_instance(v: &VnicCreate, n: u64) -> (NicState, InstanceState) {
    let (spec, port) = v.split();
    let instance = format!("{VNIC_INSTANCE_PREFIX}{port}");
    let mut nic = NicState::new(spec);
    nic.attachment = Some(AttachmentState {
        id: attachment_id(n),
        instance: instance.clone(),
        device_index: 0,
        delete_on_terminate: true,
        state: AttachmentRun::Attached,
        port: Some(port),
        created_port: false,
    });
    let inst = InstanceState {
        id: instance,
        instance_type: None,
        state: InstanceRun::Running,
    };
    (nic, inst)
}

impl TryFrom<StateDoc> for SwitchState {
    type Error = String;

    fn try_from(d: StateDoc) -> Result<Self, String> {
        let mut s = SwitchState {
            version: d.version,
            generation: d.generation,
            role: d.role,
            ports: d.ports,
            underlay: d.underlay,
            instance_types: d.instance_types,
            instances: d.instances,
            nics: d.nics,
            attachments_made: d.attachments_made,
            v2p: d.v2p,
            pools: d.pools,
            igws: d.igws,
            v2b: d.v2b,
            external_port: d.external_port,
            boundary_map: d.boundary_map,
            bridge_links: d.bridge_links,
            static_nat: d.static_nat,
            patches: d.patches,
            fleet: d.fleet,
        };
        if d.vnics.is_empty() {
            if s.version == 1 {
                s.version = STATE_VERSION;
            }
            return Ok(s);
        }
        if s.version != 1 {
            return Err(format!(
                "vnics: a version-{} document has nics, instances and attachments; vnics (NICs bound to ports) are version 1's",
                s.version
            ));
        }
        s.version = STATE_VERSION;
        for v in d.vnics {
            s.attachments_made += 1;
            let (mut nic, inst) = vnic_as_instance(&v.nic, s.attachments_made);
            nic.routes = v.routes;
            nic.firewall = v.firewall;
            nic.external = v.external;
            s.nics.push(Arc::new(nic));
            s.instances.push(inst);
        }
        Ok(s)
    }
}
