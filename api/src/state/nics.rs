//! The instance and NIC objects of the state document.

use super::{ExternalState, RouteState};
use crate::nic::{AttachmentRun, InstanceRun, NicSpec};
use crate::FwRuleSpec;
use serde::{Deserialize, Serialize};

/// The NIC id in a command's `nic:ID` (else the name is a guest port's).
pub fn nic_id_of(name: &str) -> Option<u32> {
    name.strip_prefix("nic:")?.parse().ok()
}

/// An instance type: a name and the NICs an instance of it may have.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstanceTypeState {
    /// Type name.
    pub name: String,
    /// The most NICs an instance of this type may have attached.
    pub max_nics: u8,
}

/// An instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstanceState {
    /// Instance id.
    pub id: String,
    /// Its type (none: the default limit, [`crate::nic::MAX_NICS`] NICs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Its life-cycle state.
    pub state: InstanceRun,
}

/// A NIC's attachment to an instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttachmentState {
    /// Attachment id (`eni-attach-...`).
    pub id: String,
    /// Instance id.
    pub instance: String,
    /// Device index (0: the primary NIC), unique within the instance.
    pub device_index: u8,
    /// Delete the NIC when the instance terminates (else it is detached).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_on_terminate: bool,
    /// `attached`, or `detached` (kept for the record).
    pub state: AttachmentRun,
    /// The guest port it is bound to on this sled (none: the instance runs
    /// on another sled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The switch created that port for this attachment (`--devargs`) and
    /// removes it on detach.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created_port: bool,
}

/// A NIC: its identity and addresses, routes, firewall rules, external IPs
/// and attachment. Addresses and external IPs belong to the NIC and stay
/// with it across detach and re-attach.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NicState {
    /// Identity, addresses and DHCP options, as `nic-create` takes them.
    pub nic: NicSpec,
    /// Router entries, in the order they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteState>,
    /// Firewall rules (`firewall-set`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewall: Vec<FwRuleSpec>,
    /// External IPs (`external-set`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalState>,
    /// Its attachment, in force or (detached) for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentState>,
}

impl NicState {
    /// A NIC with no route, rule, external IP or attachment.
    pub fn new(nic: NicSpec) -> Self {
        NicState {
            nic,
            routes: Vec::new(),
            firewall: Vec::new(),
            external: None,
            attachment: None,
        }
    }

    /// Its attachment, if in force.
    pub fn attached(&self) -> Option<&AttachmentState> {
        self.attachment
            .as_ref()
            .filter(|a| a.state == AttachmentRun::Attached)
    }

    /// The guest port it is bound to on this sled, if attached here.
    pub fn port(&self) -> Option<&str> {
        self.attached()?.port.as_deref()
    }
}
